/**
 * Private and public keys: generation on libuv's thread pool (so keys are made
 * on every core at once), and PEM encoding exactly as kubeadm writes it:
 * PKCS#1 "RSA PRIVATE KEY", SEC1 "EC PRIVATE KEY", PKIX "PUBLIC KEY".
 */
import { createPrivateKey, createPublicKey, generateKeyPair, type KeyObject } from 'node:crypto';
import { ALGORITHMS, algorithmOf, algorithmOfSpki, type Algorithm, type AlgorithmName } from './algorithms.js';
import { privateKeyDamage, publicHalfOf } from './key-der.js';
import { pem } from './pem.js';

/**
 * A key pair, held in whichever forms it came in (generateKey: RSA keys
 * encoded, EC keys as KeyObjects with their encodings; parsed keys as
 * KeyObjects; kept keys as PEM and SPKI); each other form is made the first
 * time something asks for it.
 */
export class KeyPair {
  #privateKey?: KeyObject;
  #publicKey?: KeyObject;
  #privateKeyPem?: string;
  #spki?: Buffer;

  constructor(
    readonly algorithm: Algorithm,
    from: { privateKey?: KeyObject; publicKey?: KeyObject; privateKeyPem?: string; spki?: Buffer },
  ) {
    if (!from.privateKey && from.privateKeyPem === undefined) throw new Error('a key pair needs its private key');
    this.#privateKey = from.privateKey;
    this.#publicKey = from.publicKey;
    this.#privateKeyPem = from.privateKeyPem;
    this.#spki = from.spki;
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

/** An EC key pair from its KeyObjects: the SEC1 PEM exported, the SPKI read from the public point that PEM carries (key-der.ts). */
function ecKeyPair(algorithm: Algorithm, privateKey: KeyObject, publicKey: KeyObject): KeyPair {
  const privateKeyPem = privateKeyToPem(privateKey);
  return new KeyPair(algorithm, { privateKey, publicKey, privateKeyPem, spki: publicHalfOf(privateKeyPem)?.spki ?? spkiDer(publicKey) });
}

/**
 * A new key pair, made on the thread pool. RSA keys arrive encoded (the
 * encoding is nothing beside the key's generation). EC keys arrive as
 * KeyObjects and are encoded on this thread (ecKeyPair), because OpenSSL 3's
 * encoders and decoders cost more than making the key (P-256, node 20 on this
 * project's machine: 105 µs to make one, 441 µs with PEM and SPKI encodings,
 * 17 µs for the SEC1 PEM alone, 574 µs to parse that PEM back into a KeyObject
 * for a CA to sign with). A CA signs with the KeyObject.
 */
export function generateKey(name: AlgorithmName): Promise<KeyPair> {
  const algorithm = ALGORITHMS[name];
  return new Promise((resolve, reject) => {
    if (algorithm.family === 'rsa') {
      generateKeyPair('rsa', {
        modulusLength: algorithm.modulusLength!, publicExponent: 65537, publicKeyEncoding: { type: 'spki', format: 'der' }, privateKeyEncoding: { type: 'pkcs1', format: 'pem' },
      }, (error, spki, privateKeyPem) => (error ? reject(error) : resolve(new KeyPair(algorithm, { privateKeyPem, spki }))));
    } else {
      generateKeyPair('ec', { namedCurve: algorithm.curve!.openssl }, (error, publicKey, privateKey) => (error ? reject(error) : resolve(ecKeyPair(algorithm, privateKey, publicKey))));
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
 * The algorithm of an existing key, or undefined for one kubepki does not
 * support: read from its public key's DER, never from asymmetricKeyDetails,
 * which aborts node 20 on an EC key OpenSSL cannot convert (a damaged one).
 */
function algorithmOfKey(key: KeyObject): Algorithm | undefined {
  return algorithmOfSpki(spkiDer(key));
}

/**
 * Parse a PEM private key the way kubeadm accepts them: RSA or ECDSA, in
 * PKCS#1, SEC1 or PKCS#8; unencrypted.
 */
export function parsePrivateKeyPem(pem: string | Buffer): { key: KeyObject; algorithm: Algorithm } {
  const text = pem.toString();
  if (!/-----BEGIN (RSA |EC )?PRIVATE KEY-----/.test(text)) {
    throw new KeyParseError(/ENCRYPTED/.test(text) ? 'is an encrypted private key (kubepki needs it unencrypted)' : 'holds no PEM private key');
  }
  const damage = privateKeyDamage(text);
  if (damage) throw new KeyParseError(damage);
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
  /** Where it was read from (its file, or the kubeconfig that embeds it), for what a person is told. */
  from?: string;
}

/**
 * Read a PEM private key for a use: 'sign' parses it with OpenSSL now (a CA's
 * key, a key kept for a new certificate); 'match' (a key only checked against
 * its certificate, then replaced) reads its public half from the DER when it
 * can (key-der.ts) and parses with OpenSSL only if something asks for `key`.
 */
export function readPrivateKeyPem(pem: string | Buffer, use: 'sign' | 'match', from?: string): ReadPrivateKey {
  const text = pem.toString();
  const where = from === undefined ? {} : { from };
  const half = use === 'match' ? publicHalfOf(text) : undefined;
  const algorithm = half ? algorithmOf(half) : undefined;
  if (half && algorithm) {
    let key: KeyObject | undefined;
    return {
      pem: text, algorithm, spki: half.spki, ...where,
      get key() {
        return (key ??= parsePrivateKeyPem(text).key);
      },
    };
  }
  const parsed = parsePrivateKeyPem(text);
  return { pem: text, algorithm: parsed.algorithm, spki: spkiDer(parsed.key), key: parsed.key, ...where };
}

export function parsePublicKeyPem(pem: string | Buffer): KeyObject {
  try {
    return createPublicKey({ key: pem.toString(), format: 'pem' });
  } catch {
    throw new KeyParseError('holds no PEM public key');
  }
}
