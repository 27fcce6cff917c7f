/**
 * Offline CSR signing policy for node certificates, as the cluster's own
 * approvers would judge them: a kubelet client CSR (CN system:node:NAME,
 * O system:nodes, client usage only, no SANs) or a kubelet serving CSR (the
 * same identity, server usage only, SANs that all belong to NAME in the
 * inventory). NAME must be a node of the inventory. Anything else is refused,
 * with the reason.
 */
import type { NodeSpec } from '../config/spec.js';
import { NODE_IDENTITY, altNames, nodeSubject, type AltNames, type Subject } from '../pki/catalog.js';
import { readCsr, type CsrFacts } from '../pki/x509.js';

export type Verdict =
  | { ok: true; kind: 'client' | 'serving'; node: string; subject: Subject; sans: AltNames; spki: Buffer }
  | { ok: false; reason: string };

const sanKind = (type: string) => (type === 'email' ? 'an email' : type === 'url' ? 'a URI' : `a ${type}`);

export async function judgeCsr(pem: string, inventory: readonly NodeSpec[]): Promise<Verdict> {
  let csr: CsrFacts;
  try {
    csr = await readCsr(pem);
  } catch {
    return { ok: false, reason: 'is not a PEM certificate signing request' };
  }
  if (!csr.selfSigned) return { ok: false, reason: 'its signature does not verify with its own public key (the CSR was not signed by the key it carries)' };
  const { cn, o } = csr;
  if (cn.length !== 1 || !cn[0]!.startsWith(NODE_IDENTITY.userPrefix)) return { ok: false, reason: `its subject CN is ${JSON.stringify(cn.join(','))}, not ${NODE_IDENTITY.userPrefix}<name>` };
  if (o.length !== 1 || o[0] !== NODE_IDENTITY.group) return { ok: false, reason: `its subject O is ${JSON.stringify(o.join(','))}, not exactly ${NODE_IDENTITY.group}` };
  if (csr.otherAttributes.length) return { ok: false, reason: `its subject has other attributes (${csr.otherAttributes.join(', ')})` };
  const name = cn[0]!.slice(NODE_IDENTITY.userPrefix.length);
  const node = inventory.find((n) => n.name === name);
  if (!node) return { ok: false, reason: `${name} is not a node of the inventory` };

  const other = csr.otherNames[0];
  if (other) return { ok: false, reason: `it asks for ${sanKind(other.type)} SAN (${other.value}); node certificates carry DNS names and IPs only` };
  const eku = csr.extKeyUsage;
  const kind = eku.includes('serverAuth') || csr.dns.length + csr.ips.length > 0 ? 'serving' : 'client';
  const allowed = kind === 'serving' ? 'serverAuth' : 'clientAuth';
  if (eku.some((u) => u !== allowed)) return { ok: false, reason: `a node CSR asks for one usage, client (no SANs) or server (with SANs); it asks for ${eku.join(' and ')}` };
  const sans = altNames(csr.dns, csr.ips);
  if (kind === 'serving') {
    if (!sans.dns.length && !sans.ips.length) return { ok: false, reason: 'a serving CSR must name the node in its SANs' };
    const mine = new Set([node.name, ...node.addresses]);
    const foreign = [...sans.dns, ...sans.ips].filter((s) => !mine.has(s));
    if (foreign.length) return { ok: false, reason: `it asks for SANs that do not belong to ${name} in the inventory: ${foreign.join(', ')}` };
  }
  return { ok: true, kind, node: name, subject: nodeSubject(name), sans, spki: csr.spki };
}
