/**
 * The public half of an unencrypted PEM private key, read from its DER alone:
 * PKCS#1 RSA keys (the modulus and exponent are in them), SEC1 and PKCS#8 EC
 * keys that carry their public point (OpenSSL and Go write it), PKCS#8 RSA.
 *
 * Why by hand: renewing or rotating re-issues leaves with new keys, and the
 * old key of each is read only to check that it belongs to its certificate.
 * Parsing it with OpenSSL (createPrivateKey, then exporting the public key)
 * cost ~1 ms a key, ~30 ms of `ca rotate issue`'s ~300 ms (node --cpu-prof),
 * for a key that is then thrown away. This reads ~100 bytes instead.
 *
 * Anything it does not recognise exactly (another algorithm, a key without its
 * public point, a compressed point, a non-minimal integer, headers in the
 * armour, trailing bytes) is undefined, and the caller parses with OpenSSL as
 * before, which also says what is wrong. Keys that sign are always parsed by
 * OpenSSL: this never decides what a signature is made with.
 */
import { bitString, children, contents, nullValue, oid, readNode, readOid, sequence, whole, DerError, type Node } from './der.js';
import { OID } from './oids.js';

export interface PublicHalf {
  /** DER SubjectPublicKeyInfo, as OpenSSL exports it for this key. */
  spki: Buffer;
  family: 'rsa' | 'ec';
  modulusLength?: number;
  /** The curve's OpenSSL name. */
  curve?: 'prime256v1' | 'secp384r1';
}

const LABELS = ['RSA PRIVATE KEY', 'EC PRIVATE KEY', 'PRIVATE KEY'] as const;
type Label = (typeof LABELS)[number];
/** The curves kubepki knows: their uncompressed point's length, and their order n (a private value is 1 to n-1, SEC 1 3.2.1). */
const CURVES: Record<string, { name: 'prime256v1' | 'secp384r1'; point: number; order: Buffer }> = {
  [OID.prime256v1]: { name: 'prime256v1', point: 65, order: Buffer.from('ffffffff00000000ffffffffffffffffbce6faada7179e84f3b9cac2fc632551', 'hex') },
  [OID.secp384r1]: {
    name: 'secp384r1', point: 97, order: Buffer.from('ffffffffffffffffffffffffffffffffffffffffffffffffc7634d81f4372ddf581a0db248b0a77aecec196accc52973', 'hex'),
  },
};

/** Whether big-endian `d` is a private value of the curve: 0 < d < n. */
function inRange(d: Buffer, order: Buffer): boolean {
  let i = 0;
  while (i < d.length && d[i] === 0) i++;
  const v = d.subarray(i);
  return v.length > 0 && (v.length < order.length || (v.length === order.length && Buffer.compare(v, order) < 0));
}

/** A key this reader recognises and that is damaged: OpenSSL would load it, then fail (or abort node) when it is used. */
class DamagedKey extends Error {}

/** The one private key block of a PEM text, or undefined when there is not exactly one (or it has headers). */
function block(text: string): { label: Label; der: Buffer } | undefined {
  let found: { label: Label; der: Buffer } | undefined;
  for (const label of LABELS) {
    const begin = `-----BEGIN ${label}-----`;
    const at = text.indexOf(begin);
    if (at < 0) continue;
    const from = at + begin.length;
    const to = text.indexOf(`-----END ${label}-----`, from);
    const body = to < 0 ? '' : text.slice(from, to);
    if (found || to < 0 || text.indexOf(begin, to) >= 0 || !/^[A-Za-z0-9+/=\s]*$/.test(body)) return undefined;
    found = { label, der: Buffer.from(body, 'base64') };
  }
  return found;
}

/** A minimally encoded, positive DER INTEGER. */
function positiveInteger(buf: Buffer, n: Node | undefined): n is Node {
  if (!n || n.tag !== 0x02 || n.end - n.contentStart < 1) return false;
  const first = buf[n.contentStart]!;
  if (first & 0x80) return false;
  return !(first === 0 && (n.end - n.contentStart === 1 || !(buf[n.contentStart + 1]! & 0x80)));
}

/** A constructed node's children, which must fill it exactly. */
function kids(der: Buffer, node: Node): Node[] {
  const out = children(der, node);
  if ((out.at(-1)?.end ?? node.contentStart) !== node.end) throw new DerError('a child runs past its parent');
  return out;
}

/** The number of bits of a positive INTEGER (an RSA modulus: 2048). */
function bitLength(buf: Buffer, n: Node): number {
  const value = contents(buf, n);
  const bytes = value[0] === 0 ? value.subarray(1) : value;
  return bytes.length * 8 - Math.clz32(bytes[0]!) + 24;
}

function top(der: Buffer): Node[] {
  const root = readNode(der, 0);
  if (root.tag !== 0x30 || root.end !== der.length) throw new DerError('not one DER sequence');
  return kids(der, root);
}

function rsa(der: Buffer): PublicHalf | undefined {
  const f = top(der);
  if (f.length !== 9 || f[0]!.tag !== 0x02 || !contents(der, f[0]!).equals(Buffer.of(0))) return undefined;
  const [n, e] = [f[1], f[2]];
  if (!positiveInteger(der, n) || !positiveInteger(der, e)) return undefined;
  // d, p, q, the CRT exponents and coefficient: zero or negative (or an even modulus) is no key; OpenSSL loads it and fails to sign.
  const zeroOrNegative = (x: Node) => x.tag === 0x02 && (der[x.contentStart]! & 0x80 || contents(der, x).every((b) => b === 0));
  if (f.slice(3).some(zeroOrNegative) || !(der[n.end - 1]! & 1)) throw new DamagedKey('holds an RSA private key whose numbers cannot be a key (a zero or negative prime or exponent, or an even modulus)');
  const modulusLength = bitLength(der, n);
  const spki = sequence(sequence(oid(OID.rsaEncryption), nullValue()), bitString(sequence(whole(der, n), whole(der, e))));
  return { spki, family: 'rsa', modulusLength };
}

function ec(der: Buffer, curveOid?: string): PublicHalf | undefined {
  const f = top(der);
  if (f[0]?.tag !== 0x02 || !contents(der, f[0]).equals(Buffer.of(1)) || f[1]?.tag !== 0x04) return undefined;
  let point: Buffer | undefined;
  for (const x of f.slice(2)) {
    if (x.tag === 0xa0) {
      const inner = kids(der, x);
      if (inner.length !== 1 || inner[0]!.tag !== 0x06) return undefined;
      const named = readOid(der, inner[0]!);
      if (curveOid !== undefined && named !== curveOid) return undefined;
      curveOid = named;
    } else if (x.tag === 0xa1) {
      const inner = kids(der, x);
      if (inner.length !== 1 || inner[0]!.tag !== 0x03) return undefined;
      const bits = contents(der, inner[0]!);
      if (bits[0] !== 0) return undefined;
      point = bits.subarray(1);
    } else {
      return undefined;
    }
  }
  const curve = curveOid !== undefined ? CURVES[curveOid] : undefined;
  if (!curve || !point || point.length !== curve.point || point[0] !== 0x04) return undefined;
  if (!inRange(contents(der, f[1]), curve.order)) throw new DamagedKey(`holds an EC private key whose private value is out of range for ${curve.name}`);
  const spki = sequence(sequence(oid(OID.ecPublicKey), oid(curveOid!)), bitString(point));
  return { spki, family: 'ec', curve: curve.name };
}

function pkcs8(der: Buffer): PublicHalf | undefined {
  const f = top(der);
  // version 0 (v1), the algorithm, the key; attributes and the v2 public key are left to OpenSSL.
  if (f.length !== 3 || f[0]!.tag !== 0x02 || !contents(der, f[0]!).equals(Buffer.of(0)) || f[1]!.tag !== 0x30 || f[2]!.tag !== 0x04) return undefined;
  const [algorithm, params, extra] = kids(der, f[1]!);
  if (extra) return undefined;
  if (algorithm?.tag !== 0x06) return undefined;
  const inner = Buffer.from(contents(der, f[2]!));
  const which = readOid(der, algorithm);
  if (which === OID.rsaEncryption && params?.tag === 0x05 && params.end === params.contentStart) return rsa(inner);
  if (which === OID.ecPublicKey && params?.tag === 0x06) return ec(inner, readOid(der, params));
  return undefined;
}

function read(text: string): PublicHalf | undefined {
  const found = block(text);
  if (!found) return undefined;
  try {
    if (found.label === 'RSA PRIVATE KEY') return rsa(found.der);
    if (found.label === 'EC PRIVATE KEY') return ec(found.der);
    return pkcs8(found.der);
  } catch (e) {
    if (e instanceof DerError) return undefined;
    throw e;
  }
}

/** The public half of the PEM private key `text`, or undefined: then parse it with OpenSSL (which also says what is wrong). */
export function publicHalfOf(text: string): PublicHalf | undefined {
  try {
    return read(text);
  } catch (e) {
    if (e instanceof DamagedKey) return undefined;
    throw e;
  }
}

/**
 * What is wrong with a PEM private key that OpenSSL would load anyway, in
 * words that follow the file's name; undefined when nothing is (as far as
 * this reader sees). An EC private value of 0, or of the curve's order or
 * more, loads, fails to sign, and aborts node when its details are asked
 * for (node 20: a CHECK in GetEcKeyDetail), so it is refused before OpenSSL sees it.
 */
export function privateKeyDamage(text: string): string | undefined {
  try {
    read(text);
    return undefined;
  } catch (e) {
    if (e instanceof DamagedKey) return e.message;
    throw e;
  }
}

/** The family and size (or curve) of the key in a DER SubjectPublicKeyInfo, or undefined for one kubepki does not know. */
export function spkiShape(spki: Buffer): Omit<PublicHalf, 'spki'> | undefined {
  try {
    const [algorithm, key] = top(spki);
    if (algorithm?.tag !== 0x30 || key?.tag !== 0x03) return undefined;
    const [id, params] = kids(spki, algorithm);
    if (id?.tag !== 0x06) return undefined;
    const which = readOid(spki, id);
    if (which === OID.ecPublicKey && params?.tag === 0x06) {
      const curve = CURVES[readOid(spki, params)];
      return curve ? { family: 'ec', curve: curve.name } : undefined;
    }
    if (which !== OID.rsaEncryption) return undefined;
    const bits = contents(spki, key).subarray(1);
    const [n] = top(bits);
    if (!positiveInteger(bits, n)) return undefined;
    return { family: 'rsa', modulusLength: bitLength(bits, n) };
  } catch (e) {
    if (e instanceof DerError) return undefined;
    throw e;
  }
}
