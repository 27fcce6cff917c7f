/**
 * CSRs of any shape, read in full (certs sign judges node CSRs). On
 * @peculiar/x509, with Node's built-in WebCrypto as its provider. What
 * kubepki makes goes through issue.ts and csr.ts, and the certificates it
 * reads back through certificate.ts's small reader; neither loads this. (Node 20 has a
 * native WebCrypto; the @peculiar/webcrypto shim wraps the same node:crypto,
 * costs ~35 ms of start-up and generates keys one at a time.)
 */
import 'reflect-metadata';
import * as x509 from '@peculiar/x509';
import { webcrypto } from 'node:crypto';
import { ekuName, OID } from './oids.js';
import { pem, pemBlocks } from './pem.js';

x509.cryptoProvider.set(webcrypto as never);

function namesOf(san: x509.SubjectAlternativeNameExtension | null): { dns: string[]; ips: string[]; other: { type: string; value: string }[] } {
  const out = { dns: [] as string[], ips: [] as string[], other: [] as { type: string; value: string }[] };
  for (const n of san?.names.items ?? []) {
    if (n.type === 'dns') out.dns.push(n.value);
    else if (n.type === 'ip') out.ips.push(n.value);
    else out.other.push({ type: n.type, value: n.value });
  }
  return out;
}

/** What a PKCS#10 request asks for, read without judging it (nodes/policy.ts judges). */
export interface CsrFacts {
  /** Whether it is signed by the key it carries. */
  selfSigned: boolean;
  cn: string[];
  o: string[];
  /** Subject attributes other than CN and O (their OIDs). */
  otherAttributes: string[];
  dns: string[];
  ips: string[];
  /** SANs that are neither DNS names nor IPs. */
  otherNames: { type: string; value: string }[];
  /** Extended key usages asked for, by the catalog's names (OIDs for others). */
  extKeyUsage: string[];
  /** DER SubjectPublicKeyInfo. */
  spki: Buffer;
}

export class CsrParseError extends Error {}

export async function readCsr(text: string): Promise<CsrFacts> {
  const blocks = pemBlocks(text, 'CERTIFICATE REQUEST');
  if (blocks.length !== 1) throw new CsrParseError(blocks.length ? `holds ${blocks.length} requests; kubepki signs one per file` : 'is not a PEM certificate signing request');
  let csr: x509.Pkcs10CertificateRequest;
  try {
    csr = new x509.Pkcs10CertificateRequest(blocks[0]!);
  } catch {
    throw new CsrParseError('is not a PEM certificate signing request');
  }
  let selfSigned = false;
  try {
    selfSigned = await csr.verify();
  } catch {
    selfSigned = false;
  }
  const names = namesOf(csr.extensions.find((e): e is x509.SubjectAlternativeNameExtension => e instanceof x509.SubjectAlternativeNameExtension) ?? null);
  const eku = csr.extensions.find((e): e is x509.ExtendedKeyUsageExtension => e instanceof x509.ExtendedKeyUsageExtension);
  return {
    selfSigned,
    cn: csr.subjectName.getField(OID.commonName),
    o: csr.subjectName.getField(OID.organization),
    otherAttributes: csr.subjectName.toJSON().flatMap((rdn) => Object.keys(rdn)).filter((k) => k !== OID.commonName && k !== OID.organization && k !== 'CN' && k !== 'O'),
    ...names,
    otherNames: names.other,
    extKeyUsage: Array.from(eku?.usages ?? [], (u) => ekuName(String(u))),
    spki: Buffer.from(csr.publicKey.rawData),
  };
}

/** PEM of a DER SubjectPublicKeyInfo. */
export const publicKeyPem = (spki: Buffer) => pem('PUBLIC KEY', spki);
