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
import { createPublicKey } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { publicHalfOf } from '../lib/pki/key-der.js';
import { generateKey, readPrivateKeyPem } from '../lib/pki/keys.js';

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
