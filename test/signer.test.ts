/**
 * The signer of a key read from disk (lib/pki/signer.ts readKeySigner): a key
 * OpenSSL loads but cannot sign with, or cannot parse when it is first used,
 * is a KeyUseError naming its file, something a person can act on, never an
 * internal error; a good key signs what OpenSSL verifies.
 */
import test from 'ava';
import { createPrivateKey, createPublicKey, generateKeyPairSync, verify } from 'node:crypto';
import { UserError } from '../lib/errors.js';
import { ALGORITHMS } from '../lib/pki/algorithms.js';
import { KeyParseError, type ReadPrivateKey } from '../lib/pki/keys.js';
import { KeyUseError, readKeySigner } from '../lib/pki/signer.js';

const FILE = '/etc/kubernetes/pki/ca.key';
const read = (pem: string, key: () => ReturnType<typeof createPrivateKey>): ReadPrivateKey => ({
  pem, algorithm: ALGORITHMS['RSA-2048'], spki: Buffer.alloc(0), from: FILE, get key() { return key(); },
});

/** An RSA-2048 PKCS#1 key with q = 0: OpenSSL loads it and fails when it signs (error:...:RSA lib). */
function rsaWithZeroQ(): string {
  const der = generateKeyPairSync('rsa', { modulusLength: 2048 }).privateKey.export({ type: 'pkcs1', format: 'der' });
  const parts: Buffer[] = [];
  for (let p = 4; p < der.length;) {
    let len = der[p + 1]!;
    let head = 2;
    if (len & 0x80) { head = 2 + (len & 0x7f); len = [...der.subarray(p + 2, p + head)].reduce((a, b) => a * 256 + b, 0); }
    parts.push(der.subarray(p, p + head + len));
    p += head + len;
  }
  parts[5] = Buffer.of(2, 1, 0);
  const body = Buffer.concat(parts);
  const out = Buffer.concat([Buffer.of(0x30, 0x82, body.length >> 8, body.length & 0xff), body]);
  return `-----BEGIN RSA PRIVATE KEY-----\n${out.toString('base64')}\n-----END RSA PRIVATE KEY-----\n`;
}

test('a key OpenSSL loads but cannot sign with: a KeyUseError naming the file and what to do, the OpenSSL reason kept', async (t) => {
  const pem = rsaWithZeroQ();
  const key = createPrivateKey(pem);
  const signer = readKeySigner(read(pem, () => key));
  t.deepEqual(signer.location, { kind: 'file', path: FILE });
  const e = await t.throwsAsync(signer.sign(Buffer.from('tbs')), { instanceOf: KeyUseError });
  t.true(e instanceof UserError);
  t.is(e?.exitCode, 1);
  t.regex(e!.message, /^\/etc\/kubernetes\/pki\/ca\.key: OpenSSL cannot sign with this key \(error:[0-9A-F]+:[^)]+\); the key is damaged: restore the file from your backup of it$/);
  t.notRegex(e!.message, /BEGIN|PRIVATE KEY/, 'the key is never in the message');
});

test('a key that fails to parse when it first signs: a KeyUseError with the parser\'s words; any other failure is passed on as it is', async (t) => {
  const parse = readKeySigner(read('x', () => { throw new KeyParseError('holds a PEM private key that does not parse'); }));
  const e = await t.throwsAsync(parse.sign(Buffer.from('tbs')), { instanceOf: KeyUseError });
  t.is(e?.message, '/etc/kubernetes/pki/ca.key: it holds a PEM private key that does not parse; the key is damaged: restore the file from your backup of it');
  const bug = readKeySigner(read('x', () => { throw new TypeError('a bug'); }));
  await t.throwsAsync(bug.sign(Buffer.from('tbs')), { instanceOf: TypeError, message: 'a bug' });
});

test('a good key read from disk signs what OpenSSL verifies, with the digest of its algorithm', async (t) => {
  const { privateKey } = generateKeyPairSync('ec', { namedCurve: 'P-384' });
  const signer = readKeySigner({ pem: '', algorithm: ALGORITHMS['ECDSA-P384'], spki: Buffer.alloc(0), key: privateKey, from: FILE });
  const sig = await signer.sign(Buffer.from('tbs'));
  t.true(verify('sha384', Buffer.from('tbs'), createPublicKey(privateKey), sig));
});
