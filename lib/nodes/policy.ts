/**
 * Offline CSR signing policy for node certificates, as the cluster's own
 * approvers would judge them: a kubelet client CSR (CN system:node:NAME,
 * O system:nodes, client usage only, no SANs) or a kubelet serving CSR (the
 * same identity, server usage only, SANs that all belong to NAME in the
 * inventory). NAME must be a node of the inventory. Anything else is refused,
 * with the reason.
 */
import 'reflect-metadata';
import * as x509 from '@peculiar/x509';
import { createPublicKey, webcrypto } from 'node:crypto';
import type { NodeSpec } from '../config/spec.js';
import { altNames, type AltNames, type Subject } from '../pki/catalog.js';

x509.cryptoProvider.set(webcrypto as never);

export type Verdict =
  | { ok: true; kind: 'client' | 'serving'; node: string; subject: Subject; sans: AltNames; publicKeyPem: string }
  | { ok: false; reason: string };

const NODE_PREFIX = 'system:node:';
const NODES_GROUP = 'system:nodes';
const OID_CN = '2.5.4.3';
const OID_O = '2.5.4.10';

export async function judgeCsr(pem: string, inventory: readonly NodeSpec[]): Promise<Verdict> {
  let csr: x509.Pkcs10CertificateRequest;
  try {
    csr = new x509.Pkcs10CertificateRequest(pem);
  } catch {
    return { ok: false, reason: 'is not a PEM certificate signing request' };
  }
  let signed = false;
  try {
    signed = await csr.verify();
  } catch {
    signed = false;
  }
  if (!signed) return { ok: false, reason: 'its signature does not verify with its own public key (the CSR was not signed by the key it carries)' };

  const cn = csr.subjectName.getField(OID_CN);
  const o = csr.subjectName.getField(OID_O);
  const other = csr.subjectName.toJSON().flatMap((rdn) => Object.keys(rdn)).filter((k) => k !== OID_CN && k !== OID_O && k !== 'CN' && k !== 'O');
  if (cn.length !== 1 || !cn[0]!.startsWith(NODE_PREFIX)) return { ok: false, reason: `its subject CN is ${JSON.stringify(cn.join(','))}, not system:node:<name>` };
  if (o.length !== 1 || o[0] !== NODES_GROUP) return { ok: false, reason: `its subject O is ${JSON.stringify(o.join(','))}, not exactly system:nodes` };
  if (other.length) return { ok: false, reason: `its subject has other attributes (${other.join(', ')})` };
  const name = cn[0]!.slice(NODE_PREFIX.length);
  const node = inventory.find((n) => n.name === name);
  if (!node) return { ok: false, reason: `${name} is not a node of the inventory` };

  const san = csr.extensions.find((e): e is x509.SubjectAlternativeNameExtension => e instanceof x509.SubjectAlternativeNameExtension);
  const dns: string[] = [];
  const ips: string[] = [];
  for (const n of san?.names.items ?? []) {
    if (n.type === 'dns') dns.push(n.value);
    else if (n.type === 'ip') ips.push(n.value);
    else return { ok: false, reason: `it asks for ${n.type === 'email' ? 'an email' : n.type === 'url' ? 'a URI' : `a ${n.type}`} SAN (${n.value}); node certificates carry DNS names and IPs only` };
  }
  const ekuExt = csr.extensions.find((e): e is x509.ExtendedKeyUsageExtension => e instanceof x509.ExtendedKeyUsageExtension);
  const eku = (ekuExt?.usages ?? []).map((u) => String(u));
  const wantsServer = eku.includes(x509.ExtendedKeyUsage.serverAuth) || dns.length + ips.length > 0;
  const kind = wantsServer ? 'serving' : 'client';
  const allowed = kind === 'serving' ? x509.ExtendedKeyUsage.serverAuth : x509.ExtendedKeyUsage.clientAuth;
  const extra = eku.filter((u) => u !== allowed);
  const usageName = (oid: string) => (oid === x509.ExtendedKeyUsage.serverAuth ? 'serverAuth' : oid === x509.ExtendedKeyUsage.clientAuth ? 'clientAuth' : oid);
  if (extra.length) return { ok: false, reason: `a node CSR asks for one usage, client (no SANs) or server (with SANs); it asks for ${eku.map(usageName).join(' and ')}` };
  const sans = altNames(dns, ips);
  if (kind === 'serving') {
    if (!sans.dns.length && !sans.ips.length) return { ok: false, reason: 'a serving CSR must name the node in its SANs' };
    const mine = new Set([node.name, ...node.addresses]);
    const foreign = [...sans.dns, ...sans.ips].filter((s) => !mine.has(s));
    if (foreign.length) return { ok: false, reason: `it asks for SANs that do not belong to ${name} in the inventory: ${foreign.join(', ')}` };
  }
  const publicKeyPem = createPublicKey({ key: Buffer.from(csr.publicKey.rawData), format: 'der', type: 'spki' }).export({ type: 'spki', format: 'pem' }) as string;
  return { ok: true, kind, node: name, subject: { cn: cn[0]!, o: [NODES_GROUP] }, sans, publicKeyPem };
}
