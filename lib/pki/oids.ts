/**
 * Every object identifier kubepki reads or writes, once: names, extensions,
 * signature algorithms and extended key usages (RFC 5280, RFC 5758, RFC 2985).
 */
import type { ExtKeyUsage } from './catalog.js';

export const OID = {
  commonName: '2.5.4.3',
  organization: '2.5.4.10',
  keyUsage: '2.5.29.15',
  extKeyUsage: '2.5.29.37',
  basicConstraints: '2.5.29.19',
  subjectKeyIdentifier: '2.5.29.14',
  authorityKeyIdentifier: '2.5.29.35',
  subjectAltName: '2.5.29.17',
  /** PKCS#9 extensionRequest: the extensions a CSR asks for. */
  extensionRequest: '1.2.840.113549.1.9.14',
  rsaEncryption: '1.2.840.113549.1.1.1',
  ecPublicKey: '1.2.840.10045.2.1',
  prime256v1: '1.2.840.10045.3.1.7',
  secp384r1: '1.3.132.0.34',
  sha256WithRSA: '1.2.840.113549.1.1.11',
  ecdsaWithSHA256: '1.2.840.10045.4.3.2',
  ecdsaWithSHA384: '1.2.840.10045.4.3.3',
} as const;

/** Extended key usages kubepki issues, by the catalog's names. */
export const EKU_OID: Readonly<Record<ExtKeyUsage, string>> = { serverAuth: '1.3.6.1.5.5.7.3.1', clientAuth: '1.3.6.1.5.5.7.3.2' };

/** The catalog's name of an extended key usage, or its dotted OID when kubepki has none. */
export function ekuName(oid: string): string {
  for (const [name, value] of Object.entries(EKU_OID)) if (value === oid) return name;
  return oid;
}
