/**
 * PEM: one reader and one armour for every file kubepki reads or writes.
 *
 * The rule for how many blocks a file may hold is the file's role, never the
 * caller's taste: a file that a component reads as its own certificate holds
 * exactly one (kubeadm: "wanted exactly one certificate"); a file read as
 * trust (CA certificates, a kubeconfig's certificate-authority-data, files
 * given to check-expiration) holds one or more.
 */

import { DerError } from './der.js';

/** A text that does not hold the PEM a file's role asks for (a DerError: bad certificate bytes, one kind of failure). */
export class PemError extends DerError {}

export type CertificateRole = 'single' | 'bundle';

const BLOCK = /-----BEGIN ([A-Z0-9 ]+)-----([\s\S]*?)-----END \1-----/g;

/** The DER of every block with this label, in file order. */
export function pemBlocks(text: string, label: string): Buffer[] {
  const out: Buffer[] = [];
  for (const m of text.matchAll(BLOCK)) if (m[1] === label) out.push(Buffer.from(m[2]!.replace(/\s+/g, ''), 'base64'));
  return out;
}

/** The labels of the blocks in a text, in order (to tell a key from a certificate, an encrypted key from a plain one). */
export const pemLabels = (text: string): string[] => [...text.matchAll(BLOCK)].map((m) => m[1]!);

/** The certificates of a file, by its role: exactly one for 'single', at least one for 'bundle'. */
export function certificateBlocks(text: string | Buffer, role: CertificateRole): Buffer[] {
  const blocks = pemBlocks(text.toString(), 'CERTIFICATE');
  if (blocks.length === 0) throw new PemError('holds no PEM certificate');
  if (role === 'single' && blocks.length > 1) throw new PemError(`holds ${blocks.length} certificates; kubepki wants exactly one`);
  return blocks;
}

/** PEM armour, 64 columns, with a final newline: as OpenSSL (and kubeadm) write it. */
export function pem(label: string, der: Buffer): string {
  const b64 = der.toString('base64');
  const lines: string[] = [];
  for (let i = 0; i < b64.length; i += 64) lines.push(b64.slice(i, i + 64));
  return `-----BEGIN ${label}-----\n${lines.join('\n')}\n-----END ${label}-----\n`;
}
