/**
 * The parts certificates and CSRs share, encoded once: names (the one Name
 * encoder), subject alternative names, extensions and signature algorithm
 * identifiers, in the shape Go's crypto/x509 (so kubeadm) gives them.
 */
import ipaddr from 'ipaddr.js';
import type { Algorithm } from './algorithms.js';
import type { AltNames, KeyUsage, Subject } from './catalog.js';
import * as der from './der.js';
import { OID } from './oids.js';

/** Go (and so kubeadm) encodes each O as its own RDN, before CN. */
export function encodeName(subject: Subject): der.Der {
  const rdn = (type: string, value: string) => der.set(der.sequence(der.oid(type), der.directoryString(value)));
  return der.sequence(...(subject.o ?? []).map((o) => rdn(OID.organization, o)), rdn(OID.commonName, subject.cn));
}

export function extension(id: string, critical: boolean, value: der.Der): der.Der {
  return critical ? der.sequence(der.oid(id), der.boolean(true), der.octetString(value)) : der.sequence(der.oid(id), der.octetString(value));
}

/** Bit positions in the KeyUsage BIT STRING (RFC 5280 4.2.1.3). */
const KEY_USAGE_BIT: Record<KeyUsage, number> = { digitalSignature: 0, keyEncipherment: 2, keyCertSign: 5 };

/** The (critical) keyUsage extension. */
export const keyUsageExtension = (usages: readonly KeyUsage[]): der.Der => extension(OID.keyUsage, true, der.namedBits(usages.map((u) => KEY_USAGE_BIT[u])));

export const hasAltNames = (sans: AltNames) => sans.dns.length > 0 || sans.ips.length > 0;

/** The subjectAltName extension: DNS names, then IP addresses. */
export function altNamesExtension(sans: AltNames): der.Der {
  return extension(OID.subjectAltName, false, der.sequence(
    ...sans.dns.map((name) => der.implicitPrimitive(2, Buffer.from(name, 'latin1'))),
    ...sans.ips.map((ip) => der.implicitPrimitive(7, Buffer.from(ipaddr.parse(ip).toByteArray()))),
  ));
}

/** The AlgorithmIdentifier of the signatures a key of this algorithm makes. */
export function signatureAlgorithmId(algorithm: Algorithm): der.Der {
  if (algorithm.family === 'rsa') return der.sequence(der.oid(OID.sha256WithRSA), der.nullValue());
  return der.sequence(der.oid(algorithm.signature.hash === 'SHA-384' ? OID.ecdsaWithSHA384 : OID.ecdsaWithSHA256));
}
