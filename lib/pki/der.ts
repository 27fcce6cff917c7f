/**
 * The little DER that issuing a certificate needs: writing the handful of
 * ASN.1 types an X.509 certificate is made of, and reading a certificate just
 * far enough to sign with it (its subject, key identifier and validity).
 *
 * Why not @peculiar/asn1-schema (on asn1js) here: loading it costs ~45 ms of
 * start-up, more than the whole rest of `kubepki init` with ECDSA keys, and
 * the few types below are fixed by RFC 5280. Parsing certificates of unknown
 * shape (re-runs, renew, CSRs) still goes through @peculiar/x509.
 */
import { OID } from './oids.js';

export type Der = Buffer;

function lengthOctets(n: number): Buffer {
  if (n < 0x80) return Buffer.of(n);
  const bytes: number[] = [];
  for (let v = n; v > 0; v = Math.floor(v / 256)) bytes.unshift(v & 0xff);
  return Buffer.from([0x80 | bytes.length, ...bytes]);
}

/** One TLV: tag octet, DER length, contents. */
export function tlv(tag: number, ...contents: Der[]): Der {
  const body = contents.length === 1 ? contents[0]! : Buffer.concat(contents);
  return Buffer.concat([Buffer.of(tag), lengthOctets(body.length), body]);
}

export const sequence = (...items: Der[]): Der => tlv(0x30, ...items);
export const set = (...items: Der[]): Der => tlv(0x31, ...items);
export const octetString = (data: Buffer): Der => tlv(0x04, data);
export const boolean = (value: boolean): Der => tlv(0x01, Buffer.of(value ? 0xff : 0x00));
export const nullValue = (): Der => Buffer.of(0x05, 0x00);
/** [n] EXPLICIT: a constructed context tag around a whole TLV. */
export const explicit = (n: number, inner: Der): Der => tlv(0xa0 | n, inner);
/** [n] IMPLICIT on a primitive type: the contents with a context tag. */
export const implicitPrimitive = (n: number, contents: Buffer): Der => tlv(0x80 | n, contents);

/** A non-negative INTEGER from big-endian bytes (a leading zero is added when the top bit is set). */
export function unsignedInteger(bytes: Buffer): Der {
  let i = 0;
  while (i < bytes.length - 1 && bytes[i] === 0 && bytes[i + 1]! < 0x80) i++;
  const trimmed = bytes.subarray(i);
  return tlv(0x02, trimmed[0]! & 0x80 ? Buffer.concat([Buffer.of(0), trimmed]) : trimmed);
}

export const smallInteger = (n: number): Der => unsignedInteger(Buffer.of(n));

const oids = new Map<string, Der>();

/** An OBJECT IDENTIFIER (encoded once per process: certificates repeat the same few). */
export function oid(dotted: string): Der {
  let der = oids.get(dotted);
  if (!der) oids.set(dotted, (der = encodeOid(dotted)));
  return der;
}

function encodeOid(dotted: string): Der {
  const arcs = dotted.split('.').map(Number);
  const out: number[] = [arcs[0]! * 40 + arcs[1]!];
  for (const arc of arcs.slice(2)) {
    const base128: number[] = [];
    for (let v = arc; ; v = Math.floor(v / 128)) {
      base128.unshift((v & 0x7f) | (base128.length ? 0x80 : 0));
      if (v < 128) break;
    }
    out.push(...base128);
  }
  return tlv(0x06, Buffer.from(out));
}

/** A BIT STRING holding whole octets (signatures, public keys). */
export const bitString = (data: Buffer): Der => tlv(0x03, Buffer.of(0), data);

/** A BIT STRING of named bits (bit 0 is the most significant), trailing zero bits dropped as DER requires. */
export function namedBits(bits: number[]): Der {
  if (!bits.length) return tlv(0x03, Buffer.of(0));
  const last = Math.max(...bits);
  const bytes = Buffer.alloc(Math.floor(last / 8) + 1);
  for (const b of bits) bytes[b >> 3] = bytes[b >> 3]! | (0x80 >> (b & 7));
  return tlv(0x03, Buffer.of(7 - (last & 7)), bytes);
}

const PRINTABLE = /^[A-Za-z0-9 '()+,\-./:=?]*$/;

/** A directory string as Go encodes it: PrintableString when it can be, else UTF8String. */
export const directoryString = (text: string): Der =>
  PRINTABLE.test(text) ? tlv(0x13, Buffer.from(text, 'latin1')) : tlv(0x0c, Buffer.from(text, 'utf8'));

export const ia5String = (text: string): Der => tlv(0x16, Buffer.from(text, 'latin1'));

/** RFC 5280 4.1.2.5: UTCTime through 2049, GeneralizedTime from 2050; whole seconds, in UTC. */
export function time(date: Date): Der {
  const iso = date.toISOString(); // YYYY-MM-DDTHH:MM:SS.sssZ
  const digits = iso.slice(0, 19).replace(/[-T:]/g, '');
  const year = date.getUTCFullYear();
  if (year < 1950 || year > 9999) throw new RangeError(`a certificate cannot carry the date ${iso}`);
  return year < 2050 ? tlv(0x17, Buffer.from(`${digits.slice(2)}Z`, 'latin1')) : tlv(0x18, Buffer.from(`${digits}Z`, 'latin1'));
}

// ---- reading ----

export interface Node {
  tag: number;
  /** Offset of the tag octet; `end` is one past the last contents octet. */
  start: number;
  contentStart: number;
  end: number;
}

export class DerError extends Error {}

/** The TLV at `offset` in `buf` (definite lengths only, as DER has). */
export function readNode(buf: Buffer, offset: number): Node {
  if (offset + 2 > buf.length) throw new DerError('truncated DER');
  const tag = buf[offset]!;
  let len = buf[offset + 1]!;
  let p = offset + 2;
  if (len & 0x80) {
    const n = len & 0x7f;
    if (n === 0 || n > 4 || p + n > buf.length) throw new DerError('bad DER length');
    len = 0;
    for (let i = 0; i < n; i++) len = len * 256 + buf[p + i]!;
    p += n;
  }
  if (p + len > buf.length) throw new DerError('truncated DER');
  return { tag, start: offset, contentStart: p, end: p + len };
}

/** The children of a constructed node. */
export function children(buf: Buffer, node: Node): Node[] {
  const out: Node[] = [];
  for (let p = node.contentStart; p < node.end; ) {
    const child = readNode(buf, p);
    out.push(child);
    p = child.end;
  }
  return out;
}

export const contents = (buf: Buffer, node: Node): Buffer => buf.subarray(node.contentStart, node.end);
export const whole = (buf: Buffer, node: Node): Buffer => buf.subarray(node.start, node.end);

export function readTime(buf: Buffer, node: Node): Date {
  const text = contents(buf, node).toString('latin1');
  const m = node.tag === 0x17 ? /^(\d{2})(\d{2})(\d{2})(\d{2})(\d{2})(\d{2})Z$/.exec(text) : /^(\d{4})(\d{2})(\d{2})(\d{2})(\d{2})(\d{2})Z$/.exec(text);
  if (!m || (node.tag !== 0x17 && node.tag !== 0x18)) throw new DerError(`bad time ${JSON.stringify(text)}`);
  let year = Number(m[1]);
  if (node.tag === 0x17) year += year < 50 ? 2000 : 1900;
  return new Date(Date.UTC(year, Number(m[2]) - 1, Number(m[3]), Number(m[4]), Number(m[5]), Number(m[6])));
}

/** A directory string's text: UTF8String, PrintableString, IA5String, T61String (as Latin-1) or BMPString. */
export function readDirectoryString(buf: Buffer, node: Node): string | undefined {
  const bytes = contents(buf, node);
  switch (node.tag) {
    case 0x0c: return bytes.toString('utf8');
    case 0x13: case 0x16: case 0x14: return bytes.toString('latin1');
    case 0x1e: return Buffer.from(bytes).swap16().toString('utf16le');
    default: return undefined;
  }
}

/** The (first) common name in a DER Name, or undefined. */
export function commonName(name: Buffer): string | undefined {
  for (const rdn of children(name, readNode(name, 0))) {
    for (const atv of children(name, rdn)) {
      const [type, value] = children(name, atv);
      if (type && value && readOid(name, type) === OID.commonName) return readDirectoryString(name, value);
    }
  }
  return undefined;
}

export function readOid(buf: Buffer, node: Node): string {
  const bytes = contents(buf, node);
  const arcs: number[] = [];
  let v = 0;
  for (const b of bytes) {
    v = v * 128 + (b & 0x7f);
    if (!(b & 0x80)) {
      arcs.push(v);
      v = 0;
    }
  }
  const first = arcs.shift() ?? 0;
  return [first < 80 ? Math.floor(first / 40) : 2, first < 80 ? first % 40 : first - 80, ...arcs].join('.');
}
