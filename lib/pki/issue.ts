/**
 * Issuing certificates: an RFC 5280 TBSCertificate built from the catalog's
 * subject, SANs and profile, signed with node:crypto on libuv's thread pool
 * (so a fleet's signatures run on every core), in the shape kubeadm's Go code
 * produces: version 3, O RDNs before CN, PrintableString where possible,
 * critical key usage and basic constraints, SKI on CAs, AKI on leaves.
 */
import { createHash, randomBytes, type KeyObject } from 'node:crypto';
import type { Algorithm } from './algorithms.js';
import { keyUsagesFor, type AltNames, type ExtKeyUsage, type Profile, type Subject } from './catalog.js';
import { Certificate } from './certificate.js';
import * as der from './der.js';
import { altNamesExtension, encodeName, extension, hasAltNames, keyUsageExtension, signatureAlgorithmId } from './encode.js';
import { spkiDer } from './keys.js';
import { EKU_OID, OID } from './oids.js';
import type { KeySigner, Signer } from './signer.js';

/** kubeadm backdates NotBefore by five minutes to tolerate clock skew between nodes. */
export const BACKDATE_MS = 5 * 60_000;

/** The validity window of a certificate made at `now` (ms) to last `validity` (ms), NotBefore backdated as kubeadm does. */
export function validityFrom(now: number, validity: number): { notBefore: Date; notAfter: Date } {
  return { notBefore: new Date(now - BACKDATE_MS), notAfter: new Date(now + validity) };
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
  /** The CA that signs; absent for a self-signed CA, which signs with `selfSigner` (the signer of its own new key). */
  issuer?: Signer;
  selfSigner?: KeySigner;
}

/** A positive serial number with 127 random bits (RFC 5280 allows up to 20 octets). */
export function randomSerial(): Buffer {
  const bytes = randomBytes(16);
  bytes[0] = (bytes[0]! & 0x7f) | 0x01; // positive, and no leading zero octet to strip
  return bytes;
}

/** RFC 5280 4.2.1.2 method 1: SHA-1 of the subjectPublicKey BIT STRING's bits (what Go and OpenSSL use). */
export function keyIdentifier(spki: Buffer): Buffer {
  const [, bits] = der.children(spki, der.readNode(spki, 0));
  return createHash('sha1').update(der.contents(spki, bits!).subarray(1)).digest();
}

/** A signed structure (certificate, CSR): the data, the signature algorithm, the signature. */
export async function signStructure(data: der.Der, signer: KeySigner): Promise<der.Der> {
  const id = signatureAlgorithmId(signer.algorithm);
  return der.sequence(data, id, der.bitString(await signer.sign(data)));
}

/** Create and sign one certificate. */
export async function issueCertificate(req: IssueRequest): Promise<Certificate> {
  const signer = req.issuer ?? req.selfSigner;
  if (!signer) throw new Error('issueCertificate: neither an issuer nor a self-signer');
  const spki = Buffer.isBuffer(req.publicKey) ? req.publicKey : spkiDer(req.publicKey);
  const subject = encodeName(req.subject);
  // Whole seconds: what the certificate can carry is what callers compare against.
  const notBefore = new Date(Math.floor(req.notBefore.getTime() / 1000) * 1000);
  const until = req.issuer && req.notAfter > req.issuer.certificate.notAfter ? req.issuer.certificate.notAfter : req.notAfter;
  const notAfter = new Date(Math.floor(until.getTime() / 1000) * 1000);

  const extensions = [keyUsageExtension(keyUsagesFor(req.profile, req.publicKeyAlgorithm.family))];
  if (req.profile.extKeyUsage.length) {
    extensions.push(extension(OID.extKeyUsage, false, der.sequence(...req.profile.extKeyUsage.map((u: ExtKeyUsage) => der.oid(EKU_OID[u])))));
  }
  extensions.push(extension(OID.basicConstraints, true, req.profile.isCA ? der.sequence(der.boolean(true)) : der.sequence()));
  if (req.profile.isCA) extensions.push(extension(OID.subjectKeyIdentifier, false, der.octetString(keyIdentifier(spki))));
  const authorityKeyId = req.issuer?.certificate.keyId;
  if (authorityKeyId) extensions.push(extension(OID.authorityKeyIdentifier, false, der.sequence(der.implicitPrimitive(0, authorityKeyId))));
  if (hasAltNames(req.sans)) extensions.push(altNamesExtension(req.sans));

  const tbs = der.sequence(
    der.explicit(0, der.smallInteger(2)),
    der.unsignedInteger(randomSerial()),
    signatureAlgorithmId(signer.algorithm),
    req.issuer ? req.issuer.certificate.subjectDer : subject,
    der.sequence(der.time(notBefore), der.time(notAfter)),
    subject,
    spki,
    der.explicit(3, der.sequence(...extensions)),
  );
  return Certificate.fromDer(await signStructure(tbs, signer));
}
