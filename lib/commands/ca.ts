/**
 * kubepki ca renew NAME: a CA's certificate renewed with the same key (the
 * same subject and subject key identifier, a new validity), so that every
 * certificate it signed still verifies; the files that embed it as trust
 * (kubeconfigs, node bundles) take the new certificate in the same
 * transaction. Nothing else is re-signed.
 */
import path from 'node:path';
import { loadSpec, type OverrideFlag } from '../config/load.js';
import { formatDays } from '../durations.js';
import { UserError } from '../errors.js';
import { certTarget, nodeTrustTargets, trustTargets } from '../engine/desired.js';
import { rootDir } from '../engine/roots.js';
import { Run } from '../engine/run.js';
import {
  CA_NAMES, KUBECONFIGS, caEntry, certPath, certificatesFor, restartOrder, type CAName, type Component,
} from '../pki/catalog.js';

export interface CaRenewOptions extends Partial<Record<OverrideFlag, unknown>> {
  config?: string;
  name: string;
  dryRun?: boolean;
}

const log = (line: string) => process.stdout.write(line + '\n');

export async function runCaRenew(o: CaRenewOptions): Promise<number> {
  const now = Date.now();
  const name = o.name as CAName;
  if (!CA_NAMES.includes(name)) throw new UserError(`unknown CA "${o.name}"; choose one of ${CA_NAMES.join(', ')}`, { exitCode: 2 });
  const spec = loadSpec(o.config, o);
  if (!certificatesFor(spec).some((e) => e.name === name)) throw new UserError(`${name} is not part of this cluster (etcd is external)`, { exitCode: 2 });
  const certs = rootDir(spec, 'certs');
  const kubeconfigs = rootDir(spec, 'kubeconfigs');
  const nodes = rootDir(spec, 'nodes');
  const backupRoot = rootDir(spec, 'backups', now);
  const run = new Run({
    dirs: { certs, kubeconfigs, nodes }, now,
    backups: { certs: certs !== kubeconfigs ? path.join(backupRoot, path.basename(certs)) : backupRoot, kubeconfigs: backupRoot, nodes: path.join(backupRoot, path.basename(nodes)) },
  });
  if (!o.dryRun) await run.recover();
  const ca = certTarget(caEntry(name), spec, { policy: 'renew' });
  const [item] = await run.decide([ca]);
  const error = run.problemsError({ what: 'nothing was renewed' });
  if (error || !item) throw error ?? new UserError(`${name}: nothing to renew`);
  const pem = () => run.caBundle(name);
  const trust = await run.decide([
    ...trustTargets(spec, name, pem),
    ...spec.nodes.filter((n) => run.exists('nodes', n.name)).flatMap((n) => nodeTrustTargets(spec, n, name, pem)),
  ]);
  const error2 = run.problemsError({ what: 'nothing was renewed' });
  if (error2) throw error2;
  const until = new Date(now + item.validity!);
  if (o.dryRun) {
    log(`would renew ${name}: ${path.join(certs, certPath(caEntry(name)))} with the same key, until ${until.toISOString()} (now until ${item.notAfter})`);
    for (const i of trust) log(`would write its new certificate into ${path.join(run.dir(i.root), i.writes[0]!)}`);
    return 0;
  }
  await run.make([item, ...trust]);
  await run.commit();
  const made = run.issued.get(item.id)!;
  log(`[ca] ${name} renewed with the same key: ${path.join(certs, certPath(caEntry(name)))}, serial ${made.serial}, until ${made.notAfter.toISOString()} (${formatDays(Math.round((made.notAfter.getTime() - now) / 86_400_000) * 86_400_000)}; was until ${item.notAfter})`);
  log(`[ca] every certificate ${name} signed stays valid: the subject and key identifier are the same`);
  for (const i of trust) log(`[ca] ${path.join(run.dir(i.root), i.writes[0]!)}: now embeds the renewed ${name}`);
  log(`[ca] The replaced files are in ${backupRoot}`);
  const components = restartOrder([
    ...caEntry(name).consumers.filter((c) => c.file === 'cert').map((c): Component => c.component),
    ...KUBECONFIGS.filter((k) => k.signer === name).flatMap((k) => k.consumers.map((c): Component => c.component)),
  ]);
  log(`Restart ${components.join(', ')} so that they trust the renewed certificate; copy ${certPath(caEntry(name))} to the other control-plane nodes${spec.nodes.length ? ' and the node bundles\' nodes' : ''}.`);
  return 0;
}
