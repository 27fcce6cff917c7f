/**
 * The key algorithms kubepki offers, as kubeadm names them in
 * ClusterConfiguration.encryptionAlgorithm. One table: key generation, the
 * WebCrypto parameters for signing, and how to recognise an existing key.
 */
import { spkiShape } from './key-der.js';

export const ALGORITHM_NAMES = ['RSA-2048', 'RSA-3072', 'RSA-4096', 'ECDSA-P256', 'ECDSA-P384'] as const;
export type AlgorithmName = (typeof ALGORITHM_NAMES)[number];
export const DEFAULT_ALGORITHM: AlgorithmName = 'RSA-2048';

export interface Algorithm {
  name: AlgorithmName;
  family: 'rsa' | 'ec';
  /** RSA modulus length in bits. */
  modulusLength?: number;
  /** OpenSSL curve name for node:crypto, and the WebCrypto one. */
  curve?: { openssl: string; webcrypto: 'P-256' | 'P-384' };
  /** WebCrypto algorithm used when this key signs a certificate. */
  signature: { name: 'RSASSA-PKCS1-v1_5' | 'ECDSA'; hash: 'SHA-256' | 'SHA-384' };
}

const rsa = (name: AlgorithmName, modulusLength: number): Algorithm => ({
  name,
  family: 'rsa',
  modulusLength,
  signature: { name: 'RSASSA-PKCS1-v1_5', hash: 'SHA-256' },
});

export const ALGORITHMS: Record<AlgorithmName, Algorithm> = {
  'RSA-2048': rsa('RSA-2048', 2048),
  'RSA-3072': rsa('RSA-3072', 3072),
  'RSA-4096': rsa('RSA-4096', 4096),
  'ECDSA-P256': {
    name: 'ECDSA-P256',
    family: 'ec',
    curve: { openssl: 'prime256v1', webcrypto: 'P-256' },
    signature: { name: 'ECDSA', hash: 'SHA-256' },
  },
  'ECDSA-P384': {
    name: 'ECDSA-P384',
    family: 'ec',
    curve: { openssl: 'secp384r1', webcrypto: 'P-384' },
    signature: { name: 'ECDSA', hash: 'SHA-384' },
  },
};

export function isAlgorithmName(text: string): text is AlgorithmName {
  return (ALGORITHM_NAMES as readonly string[]).includes(text);
}

/** The algorithm of a key of this family and size or curve, or undefined for one kubepki does not support. */
export function algorithmOf(k: { family: string; modulusLength?: number | undefined; curve?: string | undefined }): Algorithm | undefined {
  if (k.family === 'rsa') {
    const bits = k.modulusLength;
    return Object.values(ALGORITHMS).find((a) => a.family === 'rsa' && a.modulusLength === bits)
      ?? (bits !== undefined && bits >= 2048 ? { ...rsa('RSA-2048', bits), name: `RSA-${bits}` as AlgorithmName } : undefined);
  }
  if (k.family === 'ec') return Object.values(ALGORITHMS).find((a) => a.curve?.openssl === k.curve);
  return undefined;
}

/** The algorithm of the key in a DER SubjectPublicKeyInfo, or undefined for one kubepki does not support. */
export function algorithmOfSpki(spki: Buffer): Algorithm | undefined {
  const shape = spkiShape(spki);
  return shape ? algorithmOf(shape) : undefined;
}

/** The digest a key of this algorithm signs with (Go's choice, so kubeadm's): SHA-384 for P-384, SHA-256 otherwise. */
export const digestOf = (algorithm: Algorithm): 'sha256' | 'sha384' => (algorithm.signature.hash === 'SHA-384' ? 'sha384' : 'sha256');
