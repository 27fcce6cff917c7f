/**
 * kubepki kubeconfig user: a kubeconfig for a person or a tool, with a client
 * certificate signed by the cluster CA (kubeadm kubeconfig user).
 */
import { lstatSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { writeAllOrNothing, recoverInterrupted } from '../apply/transaction.js';
import { loadSpec, type OverrideFlag } from '../config/load.js';
import { parseDuration } from '../durations.js';
import { UserError } from '../errors.js';
import { buildKubeconfig, serverURL } from '../kubeconfig/kubeconfig.js';
import { judgeKubeconfig } from '../plan/leaf.js';
import { PROFILES } from '../pki/catalog.js';
import { generateKey } from '../pki/keys.js';
import { loadSigner } from '../pki/signer.js';
import { issueCertificate, validityFrom } from '../pki/issue.js';

export interface UserOptions extends Partial<Record<OverrideFlag, unknown>> {
  config?: string;
  name: string;
  org?: string[];
  validityPeriod?: string;
  out?: string;
}

// eslint-disable-next-line no-control-regex
const CONTROL = /[\u0000-\u001f\u007f]/;

export async function runKubeconfigUser(options: UserOptions): Promise<number> {
  const name = options.name;
  const orgs = (options.org ?? []).flatMap((o) => String(o).split(',')).map((o) => o.trim()).filter(Boolean);
  for (const [what, v] of [['--name', name], ...orgs.map((o) => ['--org', o] as const)] as const) {
    if (!v || CONTROL.test(v) || v.length > 64 * 4) throw new UserError(`${what}: ${JSON.stringify(v)} is not a usable name (1-256 printable characters)`, { exitCode: 2 });
  }
  if (name.includes('/') && options.out === undefined) throw new UserError(`--name ${JSON.stringify(name)} contains "/"; give the file with --out`, { exitCode: 2 });
  const spec = loadSpec(options.config, options);
  let validity = spec.certificateValidity;
  if (options.validityPeriod !== undefined) {
    const ms = parseDuration(options.validityPeriod);
    if (ms === undefined || ms <= 0) throw new UserError(`--validity-period: ${JSON.stringify(options.validityPeriod)} is not a valid duration (for example 24h)`, { exitCode: 2 });
    validity = ms;
  }
  const ca = loadSigner(path.resolve(spec.certificatesDir), 'ca');
  const toStdout = options.out === '-';
  const out = toStdout ? undefined : path.resolve(options.out ?? path.join(spec.kubeconfigDir, `${name}.conf`));
  const subject = { cn: name, ...(orgs.length ? { o: orgs } : {}) };

  if (out) {
    let existing: string | undefined;
    try {
      const st = lstatSync(out);
      if (!st.isFile()) throw new UserError(`${out} exists and is not a regular file; move it away`);
      existing = readFileSync(out, 'utf8');
    } catch (e) {
      if (e instanceof UserError) throw e;
      if ((e as NodeJS.ErrnoException).code !== 'ENOENT') throw new UserError(`cannot read ${out}: ${(e as Error).message}`);
    }
    if (existing !== undefined) {
      const verdict = await judgeKubeconfig(existing, { where: out, ca: ca.certificate, subject });
      const same = verdict.problem === undefined && verdict.client !== undefined;
      if (!same) throw new UserError(`${out} exists and is not a kubeconfig of this cluster for ${name}; kubepki will not overwrite it: move it away or choose --out`);
      process.stderr.write(`[kubeconfig] Using existing kubeconfig file: "${out}"\n`);
      return 0;
    }
  }
  const now = Date.now();
  const pair = await generateKey(spec.encryptionAlgorithm);
  const certificate = await issueCertificate({
    subject, sans: { dns: [], ips: [] }, profile: PROFILES.client, publicKey: pair.spki, publicKeyAlgorithm: pair.algorithm,
    ...validityFrom(now, validity), issuer: ca,
  });
  const data = buildKubeconfig({
    clusterName: spec.clusterName, server: serverURL(spec, 'endpoint'), caPem: ca.certificate.pem,
    user: name, credentials: { certPem: certificate.pem, keyPem: pair.privateKeyPem },
  });
  if (!out) {
    process.stdout.write(data);
    return 0;
  }
  for (const m of await recoverInterrupted([path.dirname(out)])) process.stderr.write(`[kubepki] ${m}\n`);
  await writeAllOrNothing([{ dir: path.dirname(out), files: [{ rel: path.basename(out), data, mode: 0o600 }] }]);
  process.stderr.write(`[kubeconfig] Writing "${out}" for ${subject.o ? `O=${subject.o.join('+')}, ` : ''}CN=${name}, valid until ${certificate.notAfter.toISOString()}\n`);
  return 0;
}
