/**
 * Private and public keys: generation on libuv's thread pool (so keys are made
 * on every core at once), and PEM encoding exactly as kubeadm writes it:
 * PKCS#1 "RSA PRIVATE KEY", SEC1 "EC PRIVATE KEY", PKIX "PUBLIC KEY".
 */
import { createPrivateKey, createPublicKey, generateKeyPair, type KeyObject } from 'node:crypto';
import { ALGORITHMS, algorithmOfKey, type Algorithm, type AlgorithmName } from './algorithms.js';

export interface KeyPair {
  privateKey: KeyObject;
  publicKey: KeyObject;
  algorithm: Algorithm;
}

export function generateKey(name: AlgorithmName): Promise<KeyPair> {
  const algorithm = ALGORITHMS[name];
  return new Promise((resolve, reject) => {
    const done = (error: Error | null, publicKey: KeyObject, privateKey: KeyObject) =>
      error ? reject(error) : resolve({ privateKey, publicKey, algorithm });
    if (algorithm.family === 'rsa') {
      generateKeyPair('rsa', { modulusLength: algorithm.modulusLength!, publicExponent: 65537 }, done);
    } else {
      generateKeyPair('ec', { namedCurve: algorithm.curve!.openssl }, done);
    }
  });
}

/**
 * Keys asked for before they are needed. A command that knows it will create
 * N keys starts them here first, so that the thread pool generates them while
 * the main thread loads the certificate code and reads the existing files.
 * Keys never taken are simply dropped: nothing is written until a key is taken.
 */
export class KeyPool {
  private readonly pending = new Map<AlgorithmName, Promise<KeyPair>[]>();

  prefetch(name: AlgorithmName, count: number): void {
    const list = this.pending.get(name) ?? [];
    for (let i = 0; i < count; i++) {
      const key = generateKey(name);
      key.catch(() => undefined); // surfaced when taken
      list.push(key);
    }
    this.pending.set(name, list);
  }

  take(name: AlgorithmName): Promise<KeyPair> {
    return this.pending.get(name)?.shift() ?? generateKey(name);
  }
}

export function privateKeyToPem(key: KeyObject): string {
  const type = key.asymmetricKeyType === 'rsa' ? 'pkcs1' : 'sec1';
  return key.export({ type, format: 'pem' }) as string;
}

const publicOf = (key: KeyObject): KeyObject => (key.type === 'public' ? key : createPublicKey(key));

export function publicKeyToPem(key: KeyObject): string {
  return publicOf(key).export({ type: 'spki', format: 'pem' }) as string;
}

/** DER SubjectPublicKeyInfo of a private or public key: what a certificate carries. */
export function spkiDer(key: KeyObject): Buffer {
  return publicOf(key).export({ type: 'spki', format: 'der' });
}

export class KeyParseError extends Error {}

/**
 * Parse a PEM private key the way kubeadm accepts them: RSA or ECDSA, in
 * PKCS#1, SEC1 or PKCS#8; unencrypted.
 */
export function parsePrivateKeyPem(pem: string | Buffer): { key: KeyObject; algorithm: Algorithm } {
  const text = pem.toString();
  if (!/-----BEGIN (RSA |EC )?PRIVATE KEY-----/.test(text)) {
    throw new KeyParseError(/ENCRYPTED/.test(text) ? 'is an encrypted private key (kubepki needs it unencrypted)' : 'holds no PEM private key');
  }
  let key: KeyObject;
  try {
    key = createPrivateKey({ key: text, format: 'pem' });
  } catch {
    throw new KeyParseError('holds a PEM private key that does not parse');
  }
  const algorithm = algorithmOfKey(key);
  if (!algorithm) throw new KeyParseError(`holds a ${key.asymmetricKeyType} key; kubepki supports RSA (2048 bits or more) and ECDSA P-256/P-384 keys`);
  return { key, algorithm };
}

export function parsePublicKeyPem(pem: string | Buffer): KeyObject {
  try {
    return createPublicKey({ key: pem.toString(), format: 'pem' });
  } catch {
    throw new KeyParseError('holds no PEM public key');
  }
}
