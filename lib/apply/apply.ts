/**
 * Carry out a plan: make the keys and certificates it calls for, then write
 * them all at once (transaction.ts). Nothing touches the disk before every
 * certificate has been made.
 */
import type { ClusterSpec } from '../config/spec.js';
import { PROFILES, certPath, keyPath, validityFor, type CertEntry, type KeyPairEntry } from '../pki/catalog.js';
import { privateKeyToPem, publicKeyToPem, type KeyPool } from '../pki/keys.js';
import { BACKDATE_MS, issueCertificate, toPem, type Signer } from '../pki/x509.js';
import type { Plan, PlanItem } from '../plan/plan.js';
import { writeAllOrNothing, type NewFile } from './transaction.js';

export const KEY_MODE = 0o600;
export const CERT_MODE = 0o644;

export interface Applied {
  /** Messages for people, in kubeadm's style. */
  log: string[];
  written: string[];
}

async function makeCertificate(item: PlanItem, spec: ClusterSpec, plan: Plan, pool: KeyPool, now: Date): Promise<NewFile[]> {
  const entry = item.entry as CertEntry;
  const profile = PROFILES[entry.profile];
  const pair = await pool.take(spec.encryptionAlgorithm);
  const issuer = entry.ca ? plan.signers.get(entry.ca) : undefined;
  let notAfter = new Date(now.getTime() + validityFor(profile, spec));
  // A certificate cannot outlive the CA that signed it.
  if (issuer && notAfter > issuer.certificate.notAfter) notAfter = issuer.certificate.notAfter;
  const certificate = await issueCertificate({
    subject: item.subject!,
    sans: item.sans!,
    profile,
    publicKey: pair.publicKey,
    publicKeyAlgorithm: pair.algorithm,
    notBefore: new Date(now.getTime() - BACKDATE_MS),
    notAfter,
    ...(issuer ? { issuer } : { selfKey: pair.privateKey }),
  });
  if (profile.isCA) plan.signers.set(entry.name, { certificate, key: pair.privateKey, algorithm: pair.algorithm } satisfies Signer);
  return [
    { rel: certPath(entry), data: toPem(certificate), mode: CERT_MODE },
    { rel: keyPath(entry), data: privateKeyToPem(pair.privateKey), mode: KEY_MODE },
  ];
}

async function makeKeyPair(item: PlanItem, spec: ClusterSpec, plan: Plan, pool: KeyPool): Promise<NewFile[]> {
  const entry = item.entry as KeyPairEntry;
  const existing = plan.existingKeys.get(entry.name);
  if (existing) return [{ rel: entry.pub, data: publicKeyToPem(existing), mode: KEY_MODE }];
  const pair = await pool.take(spec.encryptionAlgorithm);
  return [
    { rel: entry.key, data: privateKeyToPem(pair.privateKey), mode: KEY_MODE },
    // kubeadm writes sa.pub through its key writer, 0600; kept so.
    { rel: entry.pub, data: publicKeyToPem(pair.publicKey), mode: KEY_MODE },
  ];
}

const isServing = (entry: CertEntry) => (PROFILES[entry.profile].extKeyUsage as readonly string[]).includes('serverAuth');

export async function applyPlan(plan: Plan, spec: ClusterSpec, pool: KeyPool, now: Date): Promise<Applied> {
  const toWrite = plan.items.filter((i) => i.writes.length);
  const cas = toWrite.filter((i) => i.kind === 'ca');
  const rest = toWrite.filter((i) => i.kind !== 'ca');
  const caFiles = await Promise.all(cas.map((i) => makeCertificate(i, spec, plan, pool, now)));
  const restFiles = await Promise.all(
    rest.map((i) => (i.kind === 'key-pair' ? makeKeyPair(i, spec, plan, pool) : makeCertificate(i, spec, plan, pool, now))),
  );
  const files = [...caFiles, ...restFiles].flat();
  await writeAllOrNothing(plan.certDir, files);
  return { log: describeApplied(plan), written: files.map((f) => f.rel) };
}

/** kubeadm's "[certs] ..." lines for what was done. */
export function describeApplied(plan: Plan): string[] {
  const log = [`[certs] Using certificateDir folder "${plan.certDir}"`];
  for (const item of plan.items) {
    const what = item.kind === 'key-pair' ? 'key and public key' : 'certificate and key';
    if (item.action === 'create') log.push(`[certs] Generating "${item.name}" ${what}`);
    else if (item.action === 'external') log.push(`[certs] External CA mode: using the existing "${item.name}" certificate (its key is kept elsewhere)`);
    else log.push(`[certs] Using the existing "${item.name}" ${item.kind === 'key-pair' ? 'key' : 'certificate and key'}`);
    for (const w of item.writes) if (item.action !== 'create') log.push(`[certs] Writing ${w}`);
    if (item.action === 'create' && item.sans && item.kind === 'certificate' && isServing(item.entry as CertEntry)) {
      log.push(`[certs] ${item.name} serving cert is signed for DNS names [${item.sans.dns.join(' ')}] and IPs [${item.sans.ips.join(' ')}]`);
    }
    for (const note of item.notes) log.push(`[certs] WARNING: ${item.name}: ${note}`);
  }
  return log;
}
