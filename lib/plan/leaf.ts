/** Whether an existing certificate is still the one a description asks for. */
import type { AltNames, Subject } from '../pki/catalog.js';
import { parseKubeconfig } from '../kubeconfig/kubeconfig.js';
import { Certificate, isSignedBy } from '../pki/certificate.js';
import type { X509Certificate } from '../pki/x509.js';

// The full X.509 parser, loaded only when there is an existing certificate to judge.
const x509 = () => import('../pki/x509.js');

export const sameSubject = (a: Subject, b: Subject) => a.cn === b.cn && (a.o ?? []).join('\n') === (b.o ?? []).join('\n');
export const fmtSubject = (s: Subject) => [...(s.o ?? []).map((o) => `O=${o}`), `CN=${s.cn}`].join(', ');

export function sanDifference(want: AltNames, have: AltNames): string | undefined {
  const w = [...want.dns.map((d) => `DNS:${d}`), ...want.ips.map((i) => `IP:${i}`)];
  const h = [...have.dns.map((d) => `DNS:${d}`), ...have.ips.map((i) => `IP:${i}`)];
  const missing = w.filter((x) => !h.includes(x));
  const extra = h.filter((x) => !w.includes(x));
  if (!missing.length && !extra.length) return undefined;
  return [missing.length ? `lacks ${missing.join(', ')}` : '', extra.length ? `has ${extra.join(', ')} not in the description` : '']
    .filter(Boolean).join('; ');
}

/**
 * The problem with keeping `cert` (at `crt`, with its key at `key`) as the
 * certificate for `subject` and `sans` signed by `ca`, or undefined when it can be kept.
 */
export async function leafProblem(o: { crt: string; key: string; cert: X509Certificate; subject: Subject; sans: AltNames; ca: Certificate; caName: string; caFile: string }): Promise<string | undefined> {
  if (!isSignedBy(o.cert.rawData, o.ca)) {
    return `${o.crt} is not signed by ${o.caName} (${o.caFile}); move ${o.crt} and ${o.key} away to have them re-created, or restore the matching CA`;
  }
  const facts = (await x509()).certificateFacts(o.cert);
  const diffs: string[] = [];
  if (!sameSubject(facts.subject, o.subject)) diffs.push(`subject is ${fmtSubject(facts.subject)}, the description wants ${fmtSubject(o.subject)}`);
  const sanDiff = sanDifference(o.sans, facts.sans);
  if (sanDiff) diffs.push(`SANs: ${sanDiff}`);
  if (diffs.length) return `${o.crt} does not match the cluster description: ${diffs.join('; ')}. To change it on purpose, move ${o.crt} and ${o.key} away and run again to have them re-created`;
  return undefined;
}

export type KubeconfigVerdict =
  | { problem: string }
  | { problem?: undefined; server?: string; client?: X509Certificate; notes: string[] };

/**
 * Whether an existing kubeconfig (its current context) belongs to this cluster
 * and identity: the embedded CA is `ca`, and the client certificate is signed
 * by it for `subject`. A client certificate given as a file (a kubelet that
 * rotates its own) is noted, not checked.
 */
export async function judgeKubeconfig(text: string, o: { where: string; ca: Certificate; subject: Subject }): Promise<KubeconfigVerdict> {
  const { where } = o;
  let kc;
  try {
    kc = parseKubeconfig(text);
  } catch (e) {
    return { problem: `${where} ${(e as Error).message}; restore it from a backup or move it away` };
  }
  let embeddedCA;
  try {
    embeddedCA = kc.caPem ? Certificate.fromPem(kc.caPem) : undefined;
  } catch {
    embeddedCA = undefined;
  }
  if (!embeddedCA || !embeddedCA.der.equals(o.ca.der)) {
    return { problem: `${where} exists but has got the wrong CA cert (not this cluster's ca.crt); move it away to have it written anew` };
  }
  const server = kc.server;
  if (!kc.certPem) {
    if (kc.certFile) return { server, notes: [`its client certificate is the file ${kc.certFile} (rotated by the kubelet); not checked`] };
    return { problem: `${where} has no client certificate for its current user; move it away to have it written anew` };
  }
  const { certificateFacts, parseCertificatePem } = await x509();
  let client;
  try {
    client = parseCertificatePem(kc.certPem);
  } catch (e) {
    return { problem: `${where}: the embedded client certificate ${(e as Error).message}; move the file away to have it written anew` };
  }
  if (!isSignedBy(client.rawData, o.ca)) return { problem: `${where}: its client certificate is not signed by ca; move it away to have it written anew` };
  const have = certificateFacts(client).subject;
  if (!sameSubject(have, o.subject)) {
    return { problem: `${where}: its client certificate is for ${fmtSubject(have)}, the description wants ${fmtSubject(o.subject)}; move it away to have it written anew` };
  }
  return { server, client, notes: [] };
}
