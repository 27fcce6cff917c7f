/**
 * Certificates of any shape: reading them (re-runs, renew, nodes), and CSRs,
 * on @peculiar/x509 with Node's built-in WebCrypto as the provider. Issuing is
 * issue.ts, which does not load this. (Node 20 has a native WebCrypto; the
 * @peculiar/webcrypto shim wraps the same node:crypto, costs ~35 ms of start-up
 * and generates keys one at a time, so kubepki does not load it.)
 */
import 'reflect-metadata';
import * as x509 from '@peculiar/x509';
import { webcrypto, type KeyObject } from 'node:crypto';
import type { Algorithm } from './algorithms.js';
import { altNames, type AltNames, type Subject } from './catalog.js';

type CryptoKey = webcrypto.CryptoKey;
x509.cryptoProvider.set(webcrypto as never);

const EKU_NAME: Record<string, string> = { '1.3.6.1.5.5.7.3.1': 'serverAuth', '1.3.6.1.5.5.7.3.2': 'clientAuth' };
const OID_CN = '2.5.4.3';
const OID_O = '2.5.4.10';

function nameOf(subject: Subject): x509.JsonName {
  // Go (and so kubeadm) encodes each O as its own RDN, before CN.
  const rdns: x509.JsonName = (subject.o ?? []).map((o) => ({ [OID_O]: [o] }));
  rdns.push({ [OID_CN]: [subject.cn] });
  return rdns;
}

async function importPrivate(key: KeyObject, algorithm: Algorithm): Promise<CryptoKey> {
  const params = algorithm.family === 'rsa'
    ? { name: algorithm.signature.name, hash: algorithm.signature.hash }
    : { name: 'ECDSA', namedCurve: algorithm.curve!.webcrypto };
  return webcrypto.subtle.importKey('pkcs8', key.export({ type: 'pkcs8', format: 'der' }), params, false, ['sign']) as Promise<CryptoKey>;
}

async function importPublic(key: KeyObject, algorithm: Algorithm): Promise<CryptoKey> {
  const params = algorithm.family === 'rsa'
    ? { name: 'RSASSA-PKCS1-v1_5', hash: 'SHA-256' }
    : { name: 'ECDSA', namedCurve: algorithm.curve!.webcrypto };
  return webcrypto.subtle.importKey('spki', key.export({ type: 'spki', format: 'der' }), params, true, ['verify']) as Promise<CryptoKey>;
}

/** A PKCS#10 request for a key pair: subject and SANs (no usages: the CA applies its profile, as kubeadm's CSRs). */
export async function createCsr(req: { subject: Subject; sans: AltNames; privateKey: KeyObject; publicKey: KeyObject; algorithm: Algorithm }): Promise<string> {
  const [privateKey, publicKey] = await Promise.all([importPrivate(req.privateKey, req.algorithm), importPublic(req.publicKey, req.algorithm)]);
  const sans = [...req.sans.dns.map((value) => ({ type: 'dns' as const, value })), ...req.sans.ips.map((value) => ({ type: 'ip' as const, value }))];
  const csr = await x509.Pkcs10CertificateRequestGenerator.create({
    name: new x509.Name(nameOf(req.subject)),
    keys: { privateKey, publicKey },
    signingAlgorithm: req.algorithm.signature,
    extensions: sans.length ? [new x509.SubjectAlternativeNameExtension(sans)] : [],
  });
  return csr.toString('pem') + '\n';
}

export class CertParseError extends Error {}

/** Parse a PEM file holding one certificate (kubeadm: "wanted exactly one certificate"). */
export function parseCertificatePem(pem: string | Buffer): x509.X509Certificate {
  const text = pem.toString();
  const blocks = text.match(/-----BEGIN CERTIFICATE-----[\s\S]*?-----END CERTIFICATE-----/g) ?? [];
  if (blocks.length === 0) throw new CertParseError('holds no PEM certificate');
  if (blocks.length > 1) throw new CertParseError(`holds ${blocks.length} certificates; kubepki wants exactly one`);
  try {
    return new x509.X509Certificate(blocks[0]!);
  } catch {
    throw new CertParseError('holds a PEM certificate that does not parse');
  }
}

/** What a certificate says, in the catalog's terms, for comparing against a plan. */
export interface CertificateFacts {
  subject: Subject;
  sans: AltNames;
  isCA: boolean;
  extKeyUsage: string[];
  notBefore: Date;
  notAfter: Date;
  serial: string;
  /** DER SubjectPublicKeyInfo. */
  spki: Buffer;
}

export function certificateFacts(cert: x509.X509Certificate): CertificateFacts {
  const cn = cert.subjectName.getField(OID_CN);
  const o = cert.subjectName.getField(OID_O);
  const san = cert.getExtension(x509.SubjectAlternativeNameExtension);
  const dns: string[] = [];
  const ips: string[] = [];
  for (const n of san?.names.items ?? []) {
    if (n.type === 'dns') dns.push(n.value);
    else if (n.type === 'ip') ips.push(n.value);
  }
  const eku = cert.getExtension(x509.ExtendedKeyUsageExtension);
  const bc = cert.getExtension(x509.BasicConstraintsExtension);
  return {
    subject: { cn: cn[0] ?? '', ...(o.length ? { o } : {}) },
    sans: altNames(dns, ips),
    isCA: bc?.ca ?? false,
    extKeyUsage: (eku?.usages ?? []).map((u) => EKU_NAME[String(u)] ?? String(u)),
    notBefore: cert.notBefore,
    notAfter: cert.notAfter,
    serial: cert.serialNumber,
    spki: Buffer.from(cert.publicKey.rawData),
  };
}

export type { X509Certificate } from '@peculiar/x509';
