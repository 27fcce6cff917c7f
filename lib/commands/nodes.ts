/**
 * kubepki nodes issue: a bundle per node of the inventory (nodes/NAME/),
 * made concurrently (key generation and signatures run on libuv's thread
 * pool, so on every core), with progress on a terminal; staged as they are
 * made and committed all at once.
 */
import path from 'node:path';
import { Transaction, recoverInterrupted } from '../apply/transaction.js';
import { loadSpec, type OverrideFlag } from '../config/load.js';
import { UserError } from '../errors.js';
import { issueNode, reader, type NodeResult } from '../nodes/issue.js';
import type { CAName } from '../pki/catalog.js';
import { loadSigner } from '../pki/signer.js';
import type { Signer } from '../pki/issue.js';

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
  const out = path.resolve(o.outDir ?? path.join(spec.kubeconfigDir, 'nodes'));
  const certDir = path.resolve(spec.certificatesDir);
  const signers = new Map<CAName, Signer>();
  const needEtcd = !spec.etcd.external && nodes.some((n) => n.role === 'control-plane');
  for (const name of (needEtcd ? ['ca', 'etcd-ca'] : ['ca']) as CAName[]) signers.set(name, loadSigner(certDir, name));
  for (const m of await recoverInterrupted([out])) process.stderr.write(`[kubepki] ${m}\n`);

  const now = Date.now();
  const read = reader(out);
  // Each bundle is staged on disk as soon as it is made, and dropped from memory: memory stays flat
  // however large the fleet; the commit at the end still puts all of them in place at once, or none.
  const txn = await Transaction.begin([{ dir: out }]);
  const results: NodeResult[] = new Array(nodes.length);
  const progress = process.stderr.isTTY;
  let done = 0;
  let next = 0;
  // A bounded number of nodes in flight keeps memory flat however large the fleet.
  const workers = Array.from({ length: Math.max(1, Math.min(o.concurrency ?? 32, nodes.length)) }, async () => {
    while (next < nodes.length) {
      const i = next++;
      const r = await issueNode({ spec, node: nodes[i]!, signers, read, now });
      if (!r.problems.length && r.files.length) await txn.stage(out, r.files);
      results[i] = { ...r, files: [] };
      done++;
      if (progress && (done % 25 === 0 || done === nodes.length)) process.stderr.write(`\r[nodes] ${done}/${nodes.length} nodes`);
    }
  });
  try {
    await Promise.all(workers);
  } catch (e) {
    await txn.abort();
    throw e;
  }
  if (progress) process.stderr.write('\n');

  const problems = results.flatMap((r) => r.problems);
  if (problems.length) {
    await txn.abort();
    throw new UserError(problems.length === 1 ? `${problems[0]!}. Nothing was written.` : `${problems.length} problems; nothing was written:`, { details: problems.length === 1 ? [] : problems });
  }
  await txn.commit();
  const created = results.filter((r) => r.created.length).length;
  for (const r of results) {
    if (!r.created.length) continue;
    if (results.length <= 50) process.stdout.write(`[nodes] ${r.node}: wrote ${r.created.join(', ')}\n`);
  }
  process.stdout.write(`[nodes] ${created} of ${results.length} node bundles written in ${out}; ${results.length - created} unchanged\n`);
  return 0;
}
