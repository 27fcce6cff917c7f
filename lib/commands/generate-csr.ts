/**
 * kubepki certs generate-csr: a key and a CSR for every certificate a CA
 * managed elsewhere must sign (kubeadm's command of that name; the offline
 * root of kubernetes/kubeadm#794): each leaf, with the subject, SANs and
 * usages of the catalog, as <cert dir>/<base>.key and .csr; each kubeconfig's
 * client certificate as <kubeconfig dir>/<file>.key and .csr. Once that CA has
 * signed them (<base>.crt, <file>.crt beside them), `kubepki init` checks each
 * returned certificate and writes the kubeconfigs around them. Certificates
 * whose CA has its key here are left to init.
 */
import path from 'node:path';
import { loadSpec, type OverrideFlag } from '../config/load.js';
import { UserError } from '../errors.js';
import { authorityTargets } from '../engine/desired.js';
import { rootDir } from '../engine/roots.js';
import { Run } from '../engine/run.js';
import type { CsrTarget } from '../engine/targets.js';
import { CA_NAMES, KUBECONFIGS, PROFILES, caEntry, certPath, certificatesFor, csrFiles, type CAName } from '../pki/catalog.js';

export interface GenerateCsrOptions extends Partial<Record<OverrideFlag, unknown>> {
  config?: string;
}

export async function runGenerateCsr(o: GenerateCsrOptions): Promise<number> {
  const spec = loadSpec(o.config, o);
  const run = new Run({ dirs: { certs: rootDir(spec, 'certs'), kubeconfigs: rootDir(spec, 'kubeconfigs') } });
  const cas = CA_NAMES.filter((n) => certificatesFor(spec).some((e) => e.name === n));
  await run.decide(authorityTargets(spec, cas));
  // A CA file that is there but wrong is said as such (init would say the same).
  for (const n of cas) {
    const ca = run.ca(n);
    if (ca?.action === 'unusable' && !ca.missing) throw new UserError(ca.problem!);
  }
  // Managed elsewhere: its certificate is here, its key is not (kubeadm's external CA mode). A CA with its key here,
  // or none yet (init creates it), signs at init: nothing to ask of anyone.
  const elsewhere = (name: CAName) => run.ca(name)?.action === 'external';
  const exists = (where: string) => `file already exists: key or CSR ${where}; a request is waiting for its certificate: have it signed and put the certificate beside it, then run kubepki init (or move the key and CSR away to request anew)`;
  // What is in place already (a signed certificate, a written kubeconfig) is init's to judge: no new request for it.
  const inPlace: string[] = [];
  const wanted = <T extends { name: string }>(item: T, root: 'certs' | 'kubeconfigs', rel: string): boolean => {
    if (!run.exists(root, rel)) return true;
    inPlace.push(item.name);
    return false;
  };
  const targets: CsrTarget[] = [
    ...certificatesFor(spec).filter((e) => e.ca && elsewhere(e.ca) && wanted(e, 'certs', certPath(e))).map((e): CsrTarget => ({
      kind: 'csr', id: `csr/${e.name}`, name: e.name, root: 'certs', policy: 'new', ...csrFiles(e.base),
      subject: e.subject(spec), sans: e.sans(spec), profile: PROFILES[e.profile], keyAlgorithm: spec.encryptionAlgorithm,
      consumers: [], longName: e.longName, exists,
    })),
    ...KUBECONFIGS.filter((k) => elsewhere(k.signer) && wanted(k, 'kubeconfigs', k.file)).map((k): CsrTarget => ({
      kind: 'csr', id: `csr/${k.name}`, name: k.name, root: 'kubeconfigs', policy: 'new', ...csrFiles(k.file),
      subject: k.subject(spec), sans: { dns: [], ips: [] }, profile: PROFILES.client, keyAlgorithm: spec.encryptionAlgorithm,
      consumers: [], longName: k.longName, exists,
    })),
  ];
  const kept = cas.filter((n) => !elsewhere(n));
  if (!targets.length && inPlace.length) {
    process.stdout.write(`Nothing to request: ${inPlace.join(', ')} ${inPlace.length === 1 ? 'is' : 'are'} in place already (kubepki init checks them); move one away to request it anew.\n`);
    return 0;
  }
  if (!targets.length) {
    throw new UserError(`no CA is managed elsewhere here: put that CA's certificate at ${path.join(run.dir('certs'), certPath(caEntry('ca')))} (or ${cas.filter((n) => n !== 'ca').map((n) => certPath(caEntry(n))).join(', ')}) without its key, then run certs generate-csr again`);
  }
  await run.recover();
  await run.apply(targets);
  process.stdout.write(`[certs] generating keys and CSRs in ${run.dir('certs')} and ${run.dir('kubeconfigs')}\n`);
  for (const t of targets) process.stdout.write(`[certs] ${path.join(run.dir(t.root), t.csr)}: ${t.name} (${t.longName})\n`);
  if (inPlace.length) process.stdout.write(`[certs] in place already (kubepki init checks them): ${inPlace.join(', ')}\n`);
  if (kept.length) process.stdout.write(`[certs] ${kept.join(', ')}: not managed elsewhere (its key is here, or init creates it): init issues ${kept.length === 1 ? 'its' : 'their'} certificates\n`);
  process.stdout.write('Have the CA sign each CSR (with the usages it asks for), put each certificate beside its CSR (<name>.crt), then run kubepki init.\n');
  return 0;
}
