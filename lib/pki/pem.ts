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

/**
 * The DER of every block with this label, in file order. A plain scan for the
 * armour lines (not a regular expression): check-expiration reads tens of
 * thousands of files, and this is most of what it does with each.
 */
export function pemBlocks(text: string, label: string): Buffer[] {
  const begin = `-----BEGIN ${label}-----`;
  const end = `-----END ${label}-----`;
  const out: Buffer[] = [];
  for (let at = text.indexOf(begin); at >= 0; at = text.indexOf(begin, at)) {
    const from = at + begin.length;
    const to = text.indexOf(end, from);
    if (to < 0) break;
    // Buffer.from(..., 'base64') skips line breaks and spaces itself.
    out.push(Buffer.from(text.slice(from, to), 'base64'));
    at = to + end.length;
  }
  return out;
}

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
