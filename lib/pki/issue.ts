/**
 * Issuing certificates: an RFC 5280 TBSCertificate built from the catalog's
 * subject, SANs and profile, signed with node:crypto on libuv's thread pool
 * (so a fleet's signatures run on every core), in the shape kubeadm's Go code
 * produces: version 3, O RDNs before CN, PrintableString where possible,
 * critical key usage and basic constraints, SKI on CAs, AKI on leaves.
 */
import { createHash, randomBytes, sign as signAsync, type KeyObject } from 'node:crypto';
import ipaddr from 'ipaddr.js';
import type { Algorithm } from './algorithms.js';
import { keyUsagesFor, type AltNames, type ExtKeyUsage, type KeyUsage, type Profile, type Subject } from './catalog.js';
import { Certificate } from './certificate.js';
import * as der from './der.js';
import { spkiDer } from './keys.js';

/** kubeadm backdates NotBefore by five minutes to tolerate clock skew between nodes. */
export const BACKDATE_MS = 5 * 60_000;

/** The validity window of a certificate made at `now` (ms) to last `validity` (ms), NotBefore backdated as kubeadm does. */
export function validityFrom(now: number, validity: number): { notBefore: Date; notAfter: Date } {
  return { notBefore: new Date(now - BACKDATE_MS), notAfter: new Date(now + validity) };
}

export interface Signer {
  certificate: Certificate;
  key: KeyObject;
  algorithm: Algorithm;
}

export interface IssueRequest {
  subject: Subject;
  sans: AltNames;
  profile: Profile;
  /** The subject's public key: a KeyObject, or its DER SubjectPublicKeyInfo. */
  publicKey: KeyObject | Buffer;
  publicKeyAlgorithm: Algorithm;
  notBefore: Date;
  /** Asked-for end of validity; a certificate never outlives its issuer, so it is cut to the issuer's. */
  notAfter: Date;
  /** The CA that signs; absent for a self-signed CA, which then signs with `selfKey`. */
  issuer?: Signer;
  selfKey?: KeyObject;
}

const OID = {
  cn: '2.5.4.3',
  o: '2.5.4.10',
  keyUsage: '2.5.29.15',
  extKeyUsage: '2.5.29.37',
  basicConstraints: '2.5.29.19',
  subjectKeyIdentifier: '2.5.29.14',
  authorityKeyIdentifier: '2.5.29.35',
  subjectAltName: '2.5.29.17',
  sha256WithRSA: '1.2.840.113549.1.1.11',
  ecdsaWithSHA256: '1.2.840.10045.4.3.2',
  ecdsaWithSHA384: '1.2.840.10045.4.3.3',
} as const;

/** Bit positions in the KeyUsage BIT STRING (RFC 5280 4.2.1.3). */
const KEY_USAGE_BIT: Record<KeyUsage, number> = { digitalSignature: 0, keyEncipherment: 2, keyCertSign: 5 };
const EKU_OID: Record<ExtKeyUsage, string> = { serverAuth: '1.3.6.1.5.5.7.3.1', clientAuth: '1.3.6.1.5.5.7.3.2' };

/** A positive serial number with 127 random bits (RFC 5280 allows up to 20 octets). */
export function randomSerial(): Buffer {
  const bytes = randomBytes(16);
  bytes[0] = (bytes[0]! & 0x7f) | 0x01; // positive, and no leading zero octet to strip
  return bytes;
}

/** The signature algorithm a key signs with: its AlgorithmIdentifier and node:crypto's digest. */
function signatureOf(algorithm: Algorithm): { id: der.Der; digest: 'sha256' | 'sha384' } {
  if (algorithm.family === 'rsa') return { id: der.sequence(der.oid(OID.sha256WithRSA), der.nullValue()), digest: 'sha256' };
  return algorithm.signature.hash === 'SHA-384'
    ? { id: der.sequence(der.oid(OID.ecdsaWithSHA384)), digest: 'sha384' }
    : { id: der.sequence(der.oid(OID.ecdsaWithSHA256)), digest: 'sha256' };
}

/** Go (and so kubeadm) encodes each O as its own RDN, before CN. */
export function encodeName(subject: Subject): der.Der {
  const rdn = (type: string, value: string) => der.set(der.sequence(der.oid(type), der.directoryString(value)));
  return der.sequence(...(subject.o ?? []).map((o) => rdn(OID.o, o)), rdn(OID.cn, subject.cn));
}

function extension(id: string, critical: boolean, value: der.Der): der.Der {
  return critical ? der.sequence(der.oid(id), der.boolean(true), der.octetString(value)) : der.sequence(der.oid(id), der.octetString(value));
}

function subjectAltNames(sans: AltNames): der.Der {
  return der.sequence(
    ...sans.dns.map((name) => der.implicitPrimitive(2, Buffer.from(name, 'latin1'))),
    ...sans.ips.map((ip) => der.implicitPrimitive(7, Buffer.from(ipaddr.parse(ip).toByteArray()))),
  );
}

/** RFC 5280 4.2.1.2 method 1: SHA-1 of the subjectPublicKey BIT STRING's bits (what Go and OpenSSL use). */
export function keyIdentifier(spki: Buffer): Buffer {
  const [, bits] = der.children(spki, der.readNode(spki, 0));
  return createHash('sha1').update(der.contents(spki, bits!).subarray(1)).digest();
}

/** Create and sign one certificate. */
export async function issueCertificate(req: IssueRequest): Promise<Certificate> {
  const signerKey = req.issuer?.key ?? req.selfKey!;
  const signature = signatureOf(req.issuer?.algorithm ?? req.publicKeyAlgorithm);
  const spki = Buffer.isBuffer(req.publicKey) ? req.publicKey : spkiDer(req.publicKey);
  const subject = encodeName(req.subject);
  // Whole seconds: what the certificate can carry is what callers compare against.
  const notBefore = new Date(Math.floor(req.notBefore.getTime() / 1000) * 1000);
  const until = req.issuer && req.notAfter > req.issuer.certificate.notAfter ? req.issuer.certificate.notAfter : req.notAfter;
  const notAfter = new Date(Math.floor(until.getTime() / 1000) * 1000);

  const extensions = [
    extension(OID.keyUsage, true, der.namedBits(keyUsagesFor(req.profile, req.publicKeyAlgorithm.family).map((u) => KEY_USAGE_BIT[u]))),
  ];
  if (req.profile.extKeyUsage.length) {
    extensions.push(extension(OID.extKeyUsage, false, der.sequence(...req.profile.extKeyUsage.map((u) => der.oid(EKU_OID[u])))));
  }
  extensions.push(extension(OID.basicConstraints, true, req.profile.isCA ? der.sequence(der.boolean(true)) : der.sequence()));
  if (req.profile.isCA) extensions.push(extension(OID.subjectKeyIdentifier, false, der.octetString(keyIdentifier(spki))));
  const authorityKeyId = req.issuer?.certificate.keyId;
  if (authorityKeyId) extensions.push(extension(OID.authorityKeyIdentifier, false, der.sequence(der.implicitPrimitive(0, authorityKeyId))));
  if (req.sans.dns.length || req.sans.ips.length) extensions.push(extension(OID.subjectAltName, false, subjectAltNames(req.sans)));

  const tbs = der.sequence(
    der.explicit(0, der.smallInteger(2)),
    der.unsignedInteger(randomSerial()),
    signature.id,
    req.issuer ? req.issuer.certificate.subjectDer : subject,
    der.sequence(der.time(notBefore), der.time(notAfter)),
    subject,
    spki,
    der.explicit(3, der.sequence(...extensions)),
  );
  const value = await new Promise<Buffer>((resolve, reject) =>
    signAsync(signature.digest, tbs, signerKey, (error, sig) => (error ? reject(error) : resolve(sig))),
  );
  return Certificate.fromDer(der.sequence(tbs, signature.id, der.bitString(value)));
}
