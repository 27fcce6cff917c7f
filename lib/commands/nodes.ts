/**
 * kubepki nodes issue: a bundle per node of the inventory (nodes/NAME/),
 * decided and made node by node, concurrently (key generation and signatures
 * run on libuv's thread pool, so on every core), with progress on a
 * terminal; staged as made and committed all at once.
 */
import path from 'node:path';
import { loadSpec, type OverrideFlag } from '../config/load.js';
import { UserError } from '../errors.js';
import { authorityTargets, bundleTargets } from '../engine/desired.js';
import { rootDir } from '../engine/roots.js';
import { Run, eachLimit } from '../engine/run.js';
import { bundleEntries, type CAName } from '../pki/catalog.js';

export interface NodesOptions extends Partial<Record<OverrideFlag, unknown>> {
  config?: string;
  outDir?: string;
  only?: string[];
  concurrency?: number;
}

export async function runNodesIssue(o: NodesOptions): Promise<number> {
  const spec = loadSpec(o.config, o);
  if (!spec.nodes.length) throw new UserError('the description lists no nodes: add them under "nodes:" (name, addresses, role)');
  const only = [o.only ?? []].flat().flatMap((s) => String(s).split(',')).map((s) => s.trim()).filter(Boolean);
  const unknown = only.filter((n) => !spec.nodes.some((x) => x.name === n));
  if (unknown.length) throw new UserError(`--only: no node named ${unknown.join(', ')} in the inventory`, { exitCode: 2 });
  const nodes = only.length ? spec.nodes.filter((n) => only.includes(n.name)) : spec.nodes;
  const out = path.resolve(o.outDir ?? rootDir(spec, 'nodes'));
  const run = new Run({ dirs: { certs: rootDir(spec, 'certs'), nodes: out }, show: { nodes: 'relative' }, lean: true });

  // The CAs the bundles need, from the catalog: they must be here, with their keys.
  const cas = [...new Set(nodes.flatMap((n) => bundleEntries(spec, n.role).cas))];
  await run.decide(authorityTargets(spec, cas));
  for (const name of cas) run.requireSigner(name);
  await run.recover(['nodes']);
  const caPem = (name: CAName) => run.caBundle(name);

  const created = new Map<string, string[]>();
  const progress = process.stderr.isTTY;
  let done = 0;
  // Node by node, a bounded number at a time: each bundle is decided, made and staged, then dropped from
  // memory, so memory stays flat however large the fleet; the commit puts all of them in place at once, or none.
  await eachLimit(nodes, Math.max(1, o.concurrency ?? 32), async (node) => {
    const items = await run.decide(bundleTargets(spec, node, caPem), { release: true });
    const writes = items.flatMap((i) => i.writes.map((w) => path.relative(node.name, w)));
    if (writes.length) created.set(node.name, writes);
    if (!run.plan.problems.length) await run.make(items);
    done++;
    if (progress && (done % 25 === 0 || done === nodes.length)) process.stderr.write(`\r[nodes] ${done}/${nodes.length} nodes`);
  });
  if (progress) process.stderr.write('\n');
  const error = run.problemsError();
  if (error) {
    await run.abort();
    throw error;
  }
  await run.commit();
  for (const node of nodes) {
    const files = created.get(node.name);
    if (files && nodes.length <= 50) process.stdout.write(`[nodes] ${node.name}: wrote ${files.join(', ')}\n`);
  }
  process.stdout.write(`[nodes] ${created.size} of ${nodes.length} node bundles written in ${out}; ${nodes.length - created.size} unchanged\n`);
  return 0;
}
