/**
 * kubepki certs sign --csr FILE|DIR: sign node CSRs with kubernetes-ca when
 * they fit the policy (nodes/policy.ts); write <name>.crt beside each (or to
 * --out-dir). Refused CSRs are listed with the reason; exit 1 if any.
 */
import { readdirSync } from 'node:fs';
import path from 'node:path';
import { loadSpec, type OverrideFlag } from '../config/load.js';
import { describeSystemError, UserError } from '../errors.js';
import { authorityTargets } from '../engine/desired.js';
import { DISK, readRegular, troubleText } from '../engine/observe.js';
import type { RunRoot } from '../engine/plan.js';
import { rootDir } from '../engine/roots.js';
import { Run } from '../engine/run.js';
import type { SignedTarget } from '../engine/targets.js';
import { judgeCsr } from '../nodes/policy.js';
import { algorithmOfSpki } from '../pki/algorithms.js';
import { NODE_CSR_SIGNER, PROFILES, signedCertificateFile } from '../pki/catalog.js';

export interface SignOptions extends Partial<Record<OverrideFlag, unknown>> {
  config?: string;
  csr: string[];
  outDir?: string;
}

/** The CSR files named: files as given, folders searched for *.csr. */
function csrFiles(paths: readonly string[]): string[] {
  const files: string[] = [];
  for (const p of paths.map((x) => path.resolve(String(x)))) {
    let kind;
    try {
      kind = DISK.stat(p);
    } catch (e) {
      throw new UserError(`${p}: ${describeSystemError(e)}`);
    }
    if (!kind) throw new UserError(`${p}: no such file or directory`);
    if (kind.type === 'dir') files.push(...readdirSync(p).filter((n) => n.endsWith('.csr')).sort().map((n) => path.join(p, n)));
    else files.push(p);
  }
  return files;
}

export async function runSign(o: SignOptions): Promise<number> {
  const spec = loadSpec(o.config, o);
  const files = csrFiles([o.csr].flat());
  if (!files.length) throw new UserError('no CSR to sign (a folder is searched for *.csr)');
  const outDirs = [...new Set(files.map((f) => (o.outDir ? path.resolve(o.outDir) : path.dirname(f))))];
  const rootOf = (dir: string): RunRoot => `dir:${dir}`;
  const run = new Run({ dirs: { certs: rootDir(spec, 'certs'), ...Object.fromEntries(outDirs.map((d) => [rootOf(d), d])) } });
  await run.decide(authorityTargets(spec, [NODE_CSR_SIGNER]));
  run.requireSigner(NODE_CSR_SIGNER);

  const refused: string[] = [];
  const targets: SignedTarget[] = [];
  for (const file of files) {
    const st = readRegular(file);
    if (st.state !== 'file') {
      refused.push(st.state === 'missing' ? `${file}: no such file or directory` : troubleText(file, st.trouble));
      continue;
    }
    const verdict = await judgeCsr(st.data.toString(), spec.nodes);
    if (!verdict.ok) {
      refused.push(`${file}: refused: ${verdict.reason}`);
      continue;
    }
    if (!algorithmOfSpki(verdict.spki)) {
      refused.push(`${file}: refused: its key is not RSA (2048 bits or more) or ECDSA P-256/P-384`);
      continue;
    }
    const dir = o.outDir ? path.resolve(o.outDir) : path.dirname(file);
    const rel = signedCertificateFile(path.basename(file));
    const id = path.join(dir, rel);
    if (targets.some((t) => t.id === id)) throw new UserError(`two CSRs would both be written to ${id}; sign them separately or rename one. Nothing was written`);
    targets.push({
      kind: 'signed', id, name: path.basename(file), root: rootOf(dir), policy: 'new', file: rel, ca: NODE_CSR_SIGNER,
      subject: verdict.subject, sans: verdict.sans, profile: verdict.kind === 'serving' ? PROFILES.server : PROFILES.client,
      spki: verdict.spki, validity: spec.certificateValidity, consumers: [],
      exists: (where) => `${where} already exists; kubepki will not overwrite it: move it away or choose --out-dir`,
    });
  }
  const items = await run.decide(targets);
  const error = run.problemsError({ period: false });
  if (error) throw error;
  await run.recover(outDirs.map(rootOf));
  await run.make(items);
  await run.commit();
  for (const t of targets) {
    const made = run.issued.get(t.id)!;
    const sans = [...t.sans.dns, ...t.sans.ips];
    process.stdout.write(`[sign] ${t.name}: ${t.profile === PROFILES.server ? 'serving' : 'client'} certificate for ${t.subject.cn}${sans.length ? ` (${sans.join(', ')})` : ''}, until ${made.notAfter.toISOString()}\n`);
  }
  if (refused.length) {
    throw new UserError(`${refused.length} of ${files.length} CSRs refused${targets.length ? ` (${targets.length} signed)` : ''}:`, { details: refused });
  }
  return 0;
}
