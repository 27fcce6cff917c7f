/**
 * key-der.ts reads a private key's public half from its DER. The reference is
 * OpenSSL: keys made by the openssl command in every format it writes, and
 * the public key OpenSSL itself derives from each (createPublicKey, exported as
 * SPKI). What the reader does not recognise must be undefined (then OpenSSL
 * parses), never a wrong public key, never an exception.
 */
import test from 'ava';
import fc from 'fast-check';
import { execFileSync } from 'node:child_process';
import { createPrivateKey, createPublicKey, sign, verify } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { privateKeyDamage, publicHalfOf } from '../lib/pki/key-der.js';
import { KeyParseError, generateKey, readPrivateKeyPem } from '../lib/pki/keys.js';

const dir = mkdtempSync(path.join(os.tmpdir(), 'kubepki-key-der-'));
test.after.always(() => rmSync(dir, { recursive: true, force: true }));

const openssl = (...args: string[]) => execFileSync('openssl', args, { stdio: ['ignore', 'pipe', 'pipe'] }).toString();
let n = 0;
/** A key from openssl, converted by `convert` (an openssl pkey/rsa/ec command line reading it on stdin), as text. */
function key(gen: string[], convert?: string[]): string {
  const file = path.join(dir, `k${n++}.pem`);
  openssl(...gen, '-out', file);
  return convert ? execFileSync('openssl', [...convert, '-in', file], { stdio: ['ignore', 'pipe', 'pipe'] }).toString() : readFileSync(file, 'utf8');
}
const opensslSpki = (pem: string) => createPublicKey(pem).export({ type: 'spki', format: 'der' });

const RSA2048 = ['genpkey', '-algorithm', 'RSA', '-pkeyopt', 'rsa_keygen_bits:2048'];
const RSA3072 = ['genpkey', '-algorithm', 'RSA', '-pkeyopt', 'rsa_keygen_bits:3072'];
const P256 = ['genpkey', '-algorithm', 'EC', '-pkeyopt', 'ec_paramgen_curve:P-256'];
const P384 = ['genpkey', '-algorithm', 'EC', '-pkeyopt', 'ec_paramgen_curve:P-384'];

const recognised: [string, () => string, 'rsa' | 'ec', number | 'prime256v1' | 'secp384r1'][] = [
  ['RSA-2048, PKCS#8 (openssl genpkey)', () => key(RSA2048), 'rsa', 2048],
  ['RSA-2048, PKCS#1 (openssl rsa -traditional)', () => key(RSA2048, ['rsa', '-traditional']), 'rsa', 2048],
  ['RSA-3072, PKCS#1', () => key(RSA3072, ['rsa', '-traditional']), 'rsa', 3072],
  ['ECDSA P-256, PKCS#8', () => key(P256), 'ec', 'prime256v1'],
  ['ECDSA P-256, SEC1 (openssl ec)', () => key(P256, ['ec']), 'ec', 'prime256v1'],
  ['ECDSA P-384, SEC1', () => key(P384, ['ec']), 'ec', 'secp384r1'],
  ['ECDSA P-256, SEC1 after an EC PARAMETERS block (openssl ecparam -genkey)', () => openssl('ecparam', '-name', 'prime256v1', '-genkey'), 'ec', 'prime256v1'],
];

for (const [title, make, family, size] of recognised) {
  test(`the public half of ${title} is the one OpenSSL derives`, (t) => {
    const pem = make();
    const half = publicHalfOf(pem);
    if (!half) return t.fail('not recognised');
    t.true(half.spki.equals(opensslSpki(pem)));
    t.is(half.family, family);
    t.is(family === 'rsa' ? half.modulusLength : half.curve, size);
    // Through the reader the observer uses: the same public key, and the KeyObject still there on demand.
    const read = readPrivateKeyPem(pem, 'match');
    t.true(read.spki.equals(opensslSpki(pem)));
    t.is(read.key.asymmetricKeyType, family);
    t.is(privateKeyDamage(pem), undefined);
  });
}

const unrecognised: [string, () => string][] = [
  ['an EC key without its public point (openssl ec -no_public)', () => key(P256, ['ec', '-no_public'])],
  ['an EC key with a compressed point (openssl ec -conv_form compressed)', () => key(P256, ['ec', '-conv_form', 'compressed'])],
  ['an Ed25519 key', () => key(['genpkey', '-algorithm', 'ED25519'])],
  ['an encrypted key (PKCS#8)', () => key(RSA2048, ['pkey', '-aes256', '-passout', 'pass:x'])],
  ['an encrypted key (traditional, with PEM headers)', () => key(P256, ['ec', '-aes256', '-passout', 'pass:x'])],
  ['an RSA-PSS key', () => key(['genpkey', '-algorithm', 'RSA-PSS', '-pkeyopt', 'rsa_keygen_bits:2048'])],
  ['a certificate', () => openssl('req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-keyout', '/dev/null', '-subj', '/CN=x')],
  ['two keys in one file', () => key(P256, ['ec']) + key(P256, ['ec'])],
];

for (const [title, make] of unrecognised) {
  test(`${title} is left to OpenSSL (undefined)`, (t) => {
    t.is(publicHalfOf(make()), undefined);
  });
}

test('the P-256 key with no public point is still read for matching, by OpenSSL (the fallback)', (t) => {
  const pem = key(P256, ['ec', '-no_public']);
  t.true(readPrivateKeyPem(pem, 'match').spki.equals(opensslSpki(pem)));
});

test('changed bytes: never an exception; a public half read from them is the one OpenSSL derives, whenever OpenSSL reads them too', (t) => {
  const samples = [key(RSA2048, ['rsa', '-traditional']), key(P256, ['ec']), key(P256), key(P384, ['ec'])];
  const ders = samples.map((pem) => Buffer.from(pem.replace(/-----[^-]+-----/g, ''), 'base64'));
  const labels = ['RSA PRIVATE KEY', 'EC PRIVATE KEY', 'PRIVATE KEY', 'EC PRIVATE KEY'];
  let agreed = 0;
  fc.assert(fc.property(
    fc.integer({ min: 0, max: 3 }), fc.array(fc.tuple(fc.nat(), fc.integer({ min: 0, max: 255 })), { minLength: 1, maxLength: 3 }), fc.integer({ min: -3, max: 3 }),
    (which, edits, cut) => {
      const der = Buffer.from(ders[which]!);
      for (const [at, byte] of edits) der[at % der.length] = byte;
      const bytes = cut < 0 ? der.subarray(0, der.length + cut) : Buffer.concat([der, Buffer.alloc(cut)]);
      const pem = `-----BEGIN ${labels[which]}-----\n${bytes.toString('base64')}\n-----END ${labels[which]}-----\n`;
      const half = publicHalfOf(pem);
      if (!half) return;
      let theirs: Buffer | undefined;
      try {
        theirs = opensslSpki(pem);
      } catch {
        return; // OpenSSL refuses what the reader took apart: a file "match" accepts only as far as its public half goes
      }
      agreed++;
      t.true(half.spki.equals(theirs), `public halves differ for ${pem}`);
    },
  ), { numRuns: 400 });
  t.log(`${agreed} of 400 changed keys read by both`);
});

// ---------------------------------------------------------------- damaged keys OpenSSL loads anyway

/** DER: a TLV (lengths up to 65535). */
const tlv = (tag: number, body: Buffer) => Buffer.concat([Buffer.of(tag), body.length < 128 ? Buffer.of(body.length) : body.length < 256 ? Buffer.of(0x81, body.length) : Buffer.of(0x82, body.length >> 8, body.length & 0xff), body]);
const armour = (label: string, der: Buffer) => `-----BEGIN ${label}-----\n${der.toString('base64').match(/.{1,64}/g)!.join('\n')}\n-----END ${label}-----\n`;
/** The TLVs of a DER SEQUENCE's contents (short or two-byte lengths: what these keys use). */
function members(der: Buffer): Buffer[] {
  const out: Buffer[] = [];
  let p = der[1]! & 0x80 ? 2 + (der[1]! & 0x7f) : 2;
  while (p < der.length) {
    let len = der[p + 1]!;
    let head = 2;
    if (len & 0x80) { head = 2 + (len & 0x7f); len = [...der.subarray(p + 2, p + head)].reduce((a, b) => a * 256 + b, 0); }
    out.push(der.subarray(p, p + head + len));
    p += head + len;
  }
  return out;
}
/** P-256 and P-384: their OIDs, and their orders n from SEC 2 (2.4.2, 2.5.2), spelled here apart from key-der.ts. */
const CURVE = {
  prime256v1: { oid: Buffer.from('06082a8648ce3d030107', 'hex'), n: Buffer.from('FFFFFFFF00000000FFFFFFFFFFFFFFFFBCE6FAADA7179E84F3B9CAC2FC632551', 'hex'), point: 65, gen: P256 },
  secp384r1: {
    oid: Buffer.from('06052b81040022', 'hex'), point: 97, gen: P384,
    n: Buffer.from('FFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFC7634D81F4372DDF581A0DB248B0A77AECEC196ACCC52973', 'hex'),
  },
} as const;
/** A SEC1 key on `curve` with private value d and a public point: that of `from` (an openssl SEC1 PEM), or the one OpenSSL derives from d. */
function ecKey(curve: keyof typeof CURVE, d: Buffer, from?: string): string {
  const sec1 = (point: Buffer) => armour('EC PRIVATE KEY', tlv(0x30, Buffer.concat([Buffer.of(2, 1, 1), tlv(0x04, d), tlv(0xa0, CURVE[curve].oid), point])));
  if (from) return sec1(members(Buffer.from(from.replace(/-----[^-]+-----/g, ''), 'base64')).find((m) => m[0] === 0xa1)!);
  const spki = createPublicKey(createPrivateKey(sec1(Buffer.alloc(0)))).export({ type: 'spki', format: 'der' });
  return sec1(tlv(0xa1, tlv(0x03, Buffer.concat([Buffer.of(0), spki.subarray(-CURVE[curve].point)]))));
}
/** An openssl PKCS#1 RSA key with its INTEGER number `i` (0 version, 1 n, 2 e, 3 d, 4 p, 5 q, ...) replaced. */
function rsaWith(i: number, value: Buffer): string {
  const m = members(Buffer.from(key(RSA2048, ['rsa', '-traditional']).replace(/-----[^-]+-----/g, ''), 'base64'));
  m[i] = tlv(0x02, value);
  return armour('RSA PRIVATE KEY', tlv(0x30, Buffer.concat(m)));
}
const minus1 = (v: Buffer) => { const x = Buffer.from(v); for (let i = x.length - 1; i >= 0; i--) { if (x[i]! > 0) { x[i]!--; break; } x[i] = 0xff; } return x; };

for (const curve of ['prime256v1', 'secp384r1'] as const) {
  test(`the order of ${curve} the damage check uses is the curve's: n-1 is a key OpenSSL signs with, n and 0 are refused`, (t) => {
    const { n, gen } = CURVE[curve];
    // n-1, its public point derived by OpenSSL: a real key, read whole, and it signs and verifies.
    const edge = ecKey(curve, minus1(n));
    t.is(privateKeyDamage(edge), undefined);
    t.true(publicHalfOf(edge)!.spki.equals(opensslSpki(edge)));
    t.true(verify('sha256', Buffer.from('x'), createPublicKey(edge), sign('sha256', Buffer.from('x'), createPrivateKey(edge))));
    const real = key(gen, ['ec']);
    for (const d of [n, Buffer.alloc(n.length), Buffer.alloc(n.length + 1, 0xff)]) {
      const pem = ecKey(curve, d, real);
      t.notThrows(() => createPrivateKey(pem), 'OpenSSL loads it (what the check is for)');
      const damage = `holds an EC private key whose private value is out of range for ${curve}`;
      t.is(privateKeyDamage(pem), damage);
      t.is(publicHalfOf(pem), undefined);
      for (const use of ['sign', 'match'] as const) t.throws(() => readPrivateKeyPem(pem, use), { instanceOf: KeyParseError, message: damage });
    }
  });
}

test('an RSA key with a zero or negative number, or an even modulus, is refused; OpenSSL loads each and cannot sign with them', (t) => {
  const m = members(Buffer.from(key(RSA2048, ['rsa', '-traditional']).replace(/-----[^-]+-----/g, ''), 'base64'));
  const n = m[1]!.subarray(2 + (m[1]![1]! & 0x7f));
  const even = Buffer.from(n);
  even[even.length - 1]! &= 0xfe;
  for (const [what, pem] of [['q = 0', rsaWith(5, Buffer.of(0))], ['p = 0', rsaWith(4, Buffer.of(0))], ['an even modulus', rsaWith(1, even)]] as const) {
    const loaded = createPrivateKey(pem);
    t.throws(() => sign('sha256', Buffer.from('x'), loaded), undefined, `${what}: OpenSSL loads it but must fail to sign`);
    t.is(privateKeyDamage(pem), 'holds an RSA private key whose numbers cannot be a key (a zero or negative prime or exponent, or an even modulus)', what);
    t.throws(() => readPrivateKeyPem(pem, 'sign'), { instanceOf: KeyParseError }, what);
  }
  t.is(privateKeyDamage(rsaWith(3, Buffer.of(0xff))), 'holds an RSA private key whose numbers cannot be a key (a zero or negative prime or exponent, or an even modulus)', 'd negative');
});

// generateKey makes EC keys as KeyObjects and encodes them itself (the SEC1 PEM exported, the SPKI read from it by key-der.ts):
// what it hands out must be what openssl reads from the PEM it writes, in kubeadm's formats.
for (const [name, armour] of [['ECDSA-P256', 'EC PRIVATE KEY'], ['ECDSA-P384', 'EC PRIVATE KEY'], ['RSA-2048', 'RSA PRIVATE KEY']] as const) {
  test(`generateKey(${name}): the public key is the one openssl derives from the private key file, in kubeadm's PEM`, async (t) => {
    const key = await generateKey(name);
    t.regex(key.privateKeyPem, new RegExp(`^-----BEGIN ${armour}-----\n[A-Za-z0-9+/=\n]+-----END ${armour}-----\n$`));
    const file = path.join(dir, `generated-${name}.pem`);
    writeFileSync(file, key.privateKeyPem, { mode: 0o600 });
    const fromOpenssl = execFileSync('openssl', ['pkey', '-in', file, '-pubout', '-outform', 'DER']);
    t.deepEqual(key.spki, fromOpenssl);
    t.deepEqual(key.publicKey.export({ type: 'spki', format: 'der' }), fromOpenssl);
    t.is(key.privateKey.asymmetricKeyType, name.startsWith('RSA') ? 'rsa' : 'ec');
  });
}
