/**
 * Private and public keys: generation on libuv's thread pool (so keys are made
 * on every core at once), and PEM encoding exactly as kubeadm writes it:
 * PKCS#1 "RSA PRIVATE KEY", SEC1 "EC PRIVATE KEY", PKIX "PUBLIC KEY".
 */
import { createPrivateKey, createPublicKey, generateKeyPair, type KeyObject } from 'node:crypto';
import { ALGORITHMS, algorithmOf, algorithmOfKey, type Algorithm, type AlgorithmName } from './algorithms.js';
import { publicHalfOf } from './key-der.js';
import { pem } from './pem.js';

/**
 * A key pair, held in whichever form it came: generated keys arrive already
 * encoded (private key PEM, public key DER), done on the thread pool with the
 * generation itself, so that the main thread, which assembles certificates,
 * never spends time in OpenSSL's encoders for them; KeyObjects are made only
 * when something signs with the key. Parsed keys arrive as KeyObjects.
 */
export class KeyPair {
  #privateKey?: KeyObject;
  #publicKey?: KeyObject;
  #privateKeyPem?: string;
  #spki?: Buffer;

  constructor(
    readonly algorithm: Algorithm,
    from: { privateKey: KeyObject; publicKey?: KeyObject } | { privateKeyPem: string; spki: Buffer },
  ) {
    if ('privateKey' in from) {
      this.#privateKey = from.privateKey;
      this.#publicKey = from.publicKey;
    } else {
      this.#privateKeyPem = from.privateKeyPem;
      this.#spki = from.spki;
    }
  }

  get privateKey(): KeyObject {
    return (this.#privateKey ??= createPrivateKey(this.#privateKeyPem!));
  }

  get publicKey(): KeyObject {
    return (this.#publicKey ??= this.#spki ? createPublicKey({ key: this.#spki, format: 'der', type: 'spki' }) : createPublicKey(this.privateKey));
  }

  /** The private key as kubeadm writes it: PKCS#1 for RSA, SEC1 for ECDSA. */
  get privateKeyPem(): string {
    return (this.#privateKeyPem ??= privateKeyToPem(this.privateKey));
  }

  /** DER SubjectPublicKeyInfo: what a certificate carries. */
  get spki(): Buffer {
    return (this.#spki ??= spkiDer(this.publicKey));
  }

  /** PKIX "PUBLIC KEY" PEM. */
  get publicKeyPem(): string {
    return pem('PUBLIC KEY', this.spki);
  }
}

export function generateKey(name: AlgorithmName): Promise<KeyPair> {
  const algorithm = ALGORITHMS[name];
  return new Promise((resolve, reject) => {
    const done = (error: Error | null, spki: Buffer, privateKeyPem: string) =>
      error ? reject(error) : resolve(new KeyPair(algorithm, { privateKeyPem, spki }));
    const publicKeyEncoding = { type: 'spki', format: 'der' } as const;
    if (algorithm.family === 'rsa') {
      generateKeyPair('rsa', {
        modulusLength: algorithm.modulusLength!, publicExponent: 65537, publicKeyEncoding, privateKeyEncoding: { type: 'pkcs1', format: 'pem' },
      }, done);
    } else {
      generateKeyPair('ec', { namedCurve: algorithm.curve!.openssl, publicKeyEncoding, privateKeyEncoding: { type: 'sec1', format: 'pem' } }, done);
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
  return pem('PUBLIC KEY', spkiDer(key));
}

const spkis = new WeakMap<KeyObject, Buffer>();
/** DER SubjectPublicKeyInfo of a private or public key: what a certificate carries (exported once per key). */
export function spkiDer(key: KeyObject): Buffer {
  let der = spkis.get(key);
  if (!der) spkis.set(key, (der = publicOf(key).export({ type: 'spki', format: 'der' })));
  return der;
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

/** A private key read from a file: its PEM, its algorithm and public key; the KeyObject made when something signs with it. */
export interface ReadPrivateKey {
  pem: string;
  algorithm: Algorithm;
  /** DER SubjectPublicKeyInfo. */
  spki: Buffer;
  readonly key: KeyObject;
}

/**
 * Read a PEM private key for a use: 'sign' parses it with OpenSSL now (a CA's
 * key, a key kept for a new certificate); 'match' (a key only checked against
 * its certificate, then replaced) reads its public half from the DER when it
 * can (key-der.ts) and parses with OpenSSL only if something asks for `key`.
 */
export function readPrivateKeyPem(pem: string | Buffer, use: 'sign' | 'match'): ReadPrivateKey {
  const text = pem.toString();
  const half = use === 'match' ? publicHalfOf(text) : undefined;
  const algorithm = half ? algorithmOf(half) : undefined;
  if (half && algorithm) {
    let key: KeyObject | undefined;
    return {
      pem: text, algorithm, spki: half.spki,
      get key() {
        return (key ??= parsePrivateKeyPem(text).key);
      },
    };
  }
  const parsed = parsePrivateKeyPem(text);
  return { pem: text, algorithm: parsed.algorithm, spki: spkiDer(parsed.key), key: parsed.key };
}

export function parsePublicKeyPem(pem: string | Buffer): KeyObject {
  try {
    return createPublicKey({ key: pem.toString(), format: 'pem' });
  } catch {
    throw new KeyParseError('holds no PEM public key');
  }
}
