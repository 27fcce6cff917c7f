/**
 * kubepki certs reconcile: compare the description with what is on disk,
 * certificate by certificate (subject, SANs, usages, key algorithm and size,
 * validity, signer), kubeconfig by kubeconfig (server, CA, identity) and flag
 * file by flag file, and re-issue or rewrite exactly what differs: the same
 * engine, backups, transaction and restart list as renew. What matches is
 * never touched. The CAs are kept (they change by rotation) unless
 * --include-cas; the service-account key is kept.
 */
import path from 'node:path';
import { existsSync } from 'node:fs';
import { loadSpec, type OverrideFlag } from '../config/load.js';
import { bundleTargets, reconcileTargets } from '../engine/desired.js';
import { planData } from '../engine/render.js';
import { rootDir } from '../engine/roots.js';
import { Run } from '../engine/run.js';
import type { PlanItem } from '../engine/plan.js';
import type { Target } from '../engine/targets.js';
import { CA_NAMES, restartOrder, type CAName, type Component } from '../pki/catalog.js';
import type { OutputFormat } from '../output.js';
import { restartComponents } from './renew.js';

export interface ReconcileOptions extends Partial<Record<OverrideFlag, unknown>> {
  config?: string;
  includeCas?: boolean;
  dryRun?: boolean;
  restart?: boolean;
  restartCommand?: string;
  output: OutputFormat;
}

const log = (line: string) => process.stdout.write(line + '\n');

/** "apiserver: SANs +DNS:lb.example.com -IP:10.0.0.9", or "kube-apiserver.flags: differs from the description". */
function describe(item: PlanItem): string {
  // A node bundle's items are named by node ("w-7/kubelet-server").
  const what = item.kind === 'flags' || item.kind === 'generated' ? item.writes.join(', ') : item.root === 'nodes' ? item.id : item.name;
  if (item.action === 'create') return `${what}: missing, created`;
  return `${what}: ${item.changes?.length ? item.changes.join('; ') : 'differs from the description'}`;
}

export async function runReconcile(options: ReconcileOptions): Promise<number> {
  const now = Date.now();
  const spec = loadSpec(options.config, options);
  const certs = rootDir(spec, 'certs');
  const kubeconfigs = rootDir(spec, 'kubeconfigs');
  const flags = rootDir(spec, 'flags');
  const nodes = rootDir(spec, 'nodes');
  const backupRoot = rootDir(spec, 'backups', now);
  const withNodes = spec.nodes.length > 0;
  const backups = {
    certs: certs !== kubeconfigs ? path.join(backupRoot, path.basename(certs)) : backupRoot,
    kubeconfigs: backupRoot,
    flags: path.join(backupRoot, 'flags'),
    nodes: path.join(backupRoot, path.basename(nodes)),
  };
  const run = new Run({ dirs: { certs, kubeconfigs, flags, ...(withNodes ? { nodes } : {}) }, now, backups });
  if (!options.dryRun) await run.recover();

  const externalCAs = () => new Set(CA_NAMES.filter((n) => run.ca(n)?.action === 'external'));
  // Flag files are reconciled where kubepki wrote them (init --skip-phases flags writes none: none are added here).
  const targets: Target[] = reconcileTargets(spec, { now, includeCAs: options.includeCas ?? false, flags: existsSync(flags), externalCAs });
  const items = await run.decide(targets);
  if (withNodes) {
    // Bundles of nodes the inventory no longer lists: reconcile never deletes them, and never leaves them unsaid.
    const listed = new Set(spec.nodes.map((n) => n.name));
    for (const stray of run.subdirs('nodes').filter((name) => !listed.has(name))) {
      run.plan.problems.push(`${path.join(nodes, stray)} is the bundle of a node the inventory no longer lists; reconcile does not delete bundles: move it away (the node's certificates stay valid until they expire), or put the node back in the inventory`);
    }
    const caPem = (name: CAName) => run.caBundle(name);
    for (const node of spec.nodes) items.push(...(await run.decide(bundleTargets(spec, node, caPem, 'reconcile'), { release: true })));
  }
  const changed = items.filter((i) => i.writes.length);

  if (options.dryRun) {
    if (options.output === 'text') {
      for (const i of changed) log(describe(i));
      for (const i of items) for (const note of i.notes) log(`note: ${i.name}: ${note}`);
      log(changed.length ? `${changed.length} to change, ${items.length - changed.length} match the description. Dry run: nothing was written.` : 'Everything matches the description. Dry run: nothing was written.');
      for (const p of run.plan.problems) log(`problem: ${p}`);
    } else {
      const { printData } = await import('../output.js');
      printData(options.output, planData(run.plan, { certDir: certs, encryptionAlgorithm: spec.encryptionAlgorithm, certificateValidity: spec.certificateValidity, caCertificateValidity: spec.caCertificateValidity }));
    }
    const error = run.problemsError({ what: 'nothing would be changed' });
    if (error) throw error;
    return 0;
  }
  const error = run.problemsError({ what: 'nothing was changed' });
  if (error) throw error;
  for (const i of items) for (const note of i.notes) log(`[reconcile] note: ${i.name}: ${note}`);
  if (!changed.length) {
    log('[reconcile] Everything matches the description; nothing was changed.');
    return 0;
  }
  await run.make(changed);
  await run.commit();
  for (const i of changed) log(`[reconcile] ${describe(i)}`);
  const replaced = changed.some((i) => i.action === 'renew');
  if (replaced) log(`[reconcile] The replaced files are in ${backupRoot}`);

  const byId = new Map(targets.map((t) => [t.id, t]));
  const components = restartOrder(changed.flatMap((i): Component[] => {
    const t = byId.get(i.id);
    if (!t) return [];
    if (t.kind === 'generated' && t.shownAs === 'flags') return [t.name as Component];
    return t.consumers.map((c) => c.component);
  }));
  const bundles = changed.filter((i) => i.root === 'nodes');
  const nodesChanged = new Set(bundles.map((i) => i.id.split('/')[0])).size;
  if (bundles.length) log(`[reconcile] ${nodesChanged} node bundle${nodesChanged === 1 ? '' : 's'} changed in ${nodes}: copy ${nodesChanged === 1 ? 'it' : 'each'} to its node`);
  if (!components.length) {
    log('[reconcile] Done. No component on this node reads what changed.');
    return 0;
  }
  if (!options.restart) {
    log(`[reconcile] Done. You must restart ${components.join(', ')} so that they use what changed (or run again with --restart).`);
    return 0;
  }
  return restartComponents(components, options.restartCommand);
}
