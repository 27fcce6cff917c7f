/**
 * kubepki certs sign --csr FILE|DIR: sign node CSRs with kubernetes-ca when
 * they fit the policy (nodes/policy.ts); write <name>.crt beside each (or to
 * --out-dir). Refused CSRs are listed with the reason; exit 1 if any.
 */
import { existsSync, lstatSync, readdirSync, readFileSync } from 'node:fs';
import { createPublicKey } from 'node:crypto';
import path from 'node:path';
import { recoverInterrupted, writeAllOrNothing, type NewFile } from '../apply/transaction.js';
import { loadSpec, type OverrideFlag } from '../config/load.js';
import { describeSystemError, UserError } from '../errors.js';
import { judgeCsr } from '../nodes/policy.js';
import { algorithmOfKey } from '../pki/algorithms.js';
import { PROFILES } from '../pki/catalog.js';
import { loadSigner } from '../pki/signer.js';
import { issueCertificate, validityFrom } from '../pki/issue.js';

export interface SignOptions extends Partial<Record<OverrideFlag, unknown>> {
  config?: string;
  csr: string[];
  outDir?: string;
}

export async function runSign(o: SignOptions): Promise<number> {
  const spec = loadSpec(o.config, o);
  const files: string[] = [];
  for (const p of [o.csr].flat().map((x) => path.resolve(String(x)))) {
    let st;
    try {
      st = lstatSync(p);
    } catch (e) {
      throw new UserError(`${p}: ${describeSystemError(e)}`);
    }
    if (st.isDirectory()) files.push(...readdirSync(p).filter((n) => n.endsWith('.csr')).sort().map((n) => path.join(p, n)));
    else files.push(p);
  }
  if (!files.length) throw new UserError('no CSR to sign (a folder is searched for *.csr)');
  const ca = loadSigner(spec.certificatesDir, 'ca');
  const now = Date.now();
  const refused: string[] = [];
  const out: { dir: string; file: NewFile }[] = [];
  for (const file of files) {
    let pem: string;
    try {
      pem = readFileSync(file, 'utf8');
    } catch (e) {
      refused.push(`${file}: ${describeSystemError(e)}`);
      continue;
    }
    const verdict = await judgeCsr(pem, spec.nodes);
    if (!verdict.ok) {
      refused.push(`${file}: refused: ${verdict.reason}`);
      continue;
    }
    const publicKey = createPublicKey(verdict.publicKeyPem);
    const algorithm = algorithmOfKey(publicKey);
    if (!algorithm) {
      refused.push(`${file}: refused: its key is not RSA (2048 bits or more) or ECDSA P-256/P-384`);
      continue;
    }
    const certificate = await issueCertificate({
      subject: verdict.subject, sans: verdict.sans, profile: verdict.kind === 'serving' ? PROFILES.server : PROFILES.client,
      publicKey, publicKeyAlgorithm: algorithm, ...validityFrom(now, spec.certificateValidity), issuer: ca,
    });
    const dir = o.outDir ? path.resolve(o.outDir) : path.dirname(file);
    out.push({ dir, file: { rel: path.basename(file).replace(/\.csr$/, '') + '.crt', data: certificate.pem, mode: 0o644 } });
    process.stdout.write(`[sign] ${path.basename(file)}: ${verdict.kind} certificate for ${verdict.subject.cn}${verdict.sans.dns.length + verdict.sans.ips.length ? ` (${[...verdict.sans.dns, ...verdict.sans.ips].join(', ')})` : ''}, until ${certificate.notAfter.toISOString()}\n`);
  }
  const seen = new Set<string>();
  for (const x of out) {
    const target = path.join(x.dir, x.file.rel);
    if (seen.has(target)) throw new UserError(`two CSRs would both be written to ${target}; sign them separately or rename one. Nothing was written`);
    seen.add(target);
  }
  const groups = [...new Set(out.map((x) => x.dir))].map((dir) => ({ dir, files: out.filter((x) => x.dir === dir).map((x) => x.file) }));
  for (const m of await recoverInterrupted(groups.map((g) => g.dir))) process.stderr.write(`[kubepki] ${m}\n`);
  await writeAllOrNothing(groups).catch((e: unknown) => {
    if (e instanceof UserError && /appeared|already exists/.test(e.message)) {
      const existing = out.filter((x) => existsSync(path.join(x.dir, x.file.rel))).map((x) => path.join(x.dir, x.file.rel));
      throw new UserError(`${existing.join(', ') || 'a certificate file'} already exists; kubepki will not overwrite it: move it away or choose --out-dir. Nothing was written`);
    }
    throw e;
  });
  if (refused.length) {
    throw new UserError(`${refused.length} of ${files.length} CSRs refused${out.length ? ` (${out.length} signed)` : ''}:`, { details: refused });
  }
  return 0;
}
