/**
 * The one signer interface: everything kubepki signs (CA certificates, leaves,
 * kubeconfig client certificates, node CSRs, its own CSRs) is signed through
 * a KeySigner, so that a key held in a file, a PKCS#11 token or elsewhere
 * plugs in here and nowhere else. A Signer is a KeySigner with the
 * certificate that names it as an issuer.
 */
import { sign as signAsync, type KeyObject } from 'node:crypto';
import { UserError } from '../errors.js';
import { digestOf, type Algorithm } from './algorithms.js';
import type { Certificate } from './certificate.js';
import { KeyParseError, type ReadPrivateKey } from './keys.js';

/** Where a signing key is: shown by plans and check-expiration, never the key itself. */
export type KeyLocation = { kind: 'file'; path: string } | { kind: 'pkcs11'; uri: string } | { kind: 'memory' };

export interface KeySigner {
  /** The key's algorithm; it decides the signature algorithm. */
  readonly algorithm: Algorithm;
  readonly location: KeyLocation;
  /** A signature over `data` as X.509 and PKCS#10 carry it (PKCS#1 v1.5, or a DER ECDSA-Sig-Value). */
  sign(data: Buffer): Promise<Buffer>;
}

export interface Signer extends KeySigner {
  readonly certificate: Certificate;
}

/** A signer for a key held in this process (read from a file, or just generated). */
export function keySigner(key: KeyObject, algorithm: Algorithm, location: KeyLocation = { kind: 'memory' }): KeySigner {
  const digest = digestOf(algorithm);
  return {
    algorithm,
    location,
    // node:crypto signs on libuv's thread pool: a fleet's signatures use every core.
    sign: (data) => new Promise((resolve, reject) => signAsync(digest, data, key, (e, sig) => (e ? reject(e) : resolve(sig)))),
  };
}

/** A key read from disk that cannot sign: its file is damaged (TokenError is a token's). */
export class KeyUseError extends UserError {}

/**
 * A signer for a key read from disk (a CA's key, a key kept for a CSR). Its
 * KeyObject is made when it first signs. OpenSSL loads some damaged keys and
 * fails only when it signs with them; key-der.ts refuses the ones it can see
 * (an RSA prime of zero, an EC value past the curve's order) before that.
 * This is the backstop for the rest (a format the reader leaves to OpenSSL):
 * a failure to sign, or to parse the key when it is first used, is reported
 * against the file, as something a person can act on.
 */
export function readKeySigner(read: ReadPrivateKey): KeySigner {
  const digest = digestOf(read.algorithm);
  const where = read.from ?? 'a key read from disk';
  const unusable = (detail: string, cause: unknown) =>
    new KeyUseError(`${where}: ${detail}; the key is damaged: restore the file from your backup of it`, { cause });
  return {
    algorithm: read.algorithm,
    location: read.from === undefined ? { kind: 'memory' } : { kind: 'file', path: read.from },
    sign: async (data) => {
      let key: KeyObject;
      try {
        key = read.key;
      } catch (e) {
        if (e instanceof KeyParseError) throw unusable(`it ${e.message}`, e);
        throw e;
      }
      try {
        return await new Promise<Buffer>((resolve, reject) => signAsync(digest, data, key, (e, sig) => (e ? reject(e) : resolve(sig))));
      } catch (e) {
        // node:crypto's asynchronous signatures fail without an error code; with a parsed key and a known digest, only the key can be at fault.
        throw unusable(`OpenSSL cannot sign with this key (${(e as Error).message})`, e);
      }
    },
  };
}

/** The key signer together with the certificate it issues under. */
export const withCertificate = (signer: KeySigner, certificate: Certificate): Signer => ({
  algorithm: signer.algorithm, location: signer.location, sign: (data) => signer.sign(data), certificate,
});

export const describeLocation = (l: KeyLocation): string => (l.kind === 'file' ? l.path : l.kind === 'pkcs11' ? l.uri : 'in memory');
