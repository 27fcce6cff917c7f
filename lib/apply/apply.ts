/**
 * Carry out a plan: make the keys, certificates and kubeconfigs it calls for,
 * then write them, with the flag files, all at once (transaction.ts). Nothing
 * touches the disk before everything has been made.
 */
import type { ClusterSpec } from '../config/spec.js';
import { buildKubeconfig, serverURL } from '../kubeconfig/kubeconfig.js';
import { PROFILES, certPath, keyPath, validityFor, type CertEntry, type KeyPairEntry, type KubeconfigEntry } from '../pki/catalog.js';
import { publicKeyToPem, type KeyPool } from '../pki/keys.js';
import { issueCertificate, validityFrom, type Signer } from '../pki/issue.js';
import { ROOTS, type Root } from '../plan/paths.js';
import type { Plan, PlanItem } from '../plan/plan.js';
import { writeAllOrNothing, type NewFile } from './transaction.js';

export const KEY_MODE = 0o600;
export const CERT_MODE = 0o644;
export const PUBLIC_MODE = 0o644;

export interface Applied {
  /** Messages for people, in kubeadm's style. */
  log: string[];
  /** Absolute paths written. */
  written: string[];
}

/** A new key and a certificate for it, signed by `issuer` (or self-signed when there is none). */
async function issue(spec: ClusterSpec, pool: KeyPool, now: Date, item: PlanItem, profile: (typeof PROFILES)[keyof typeof PROFILES], issuer: Signer | undefined) {
  const pair = await pool.take(spec.encryptionAlgorithm);
  const certificate = await issueCertificate({
    subject: item.subject!,
    sans: item.sans ?? { dns: [], ips: [] },
    profile,
    publicKey: pair.spki,
    publicKeyAlgorithm: pair.algorithm,
    ...validityFrom(now.getTime(), validityFor(profile, spec)),
    ...(issuer ? { issuer } : { selfKey: pair.privateKey }),
  });
  return { pair, certificate };
}

async function makeCertificate(item: PlanItem, spec: ClusterSpec, plan: Plan, pool: KeyPool, now: Date): Promise<NewFile[]> {
  const entry = item.entry as CertEntry;
  const profile = PROFILES[entry.profile];
  const { pair, certificate } = await issue(spec, pool, now, item, profile, entry.ca ? plan.signers.get(entry.ca) : undefined);
  if (profile.isCA) plan.signers.set(entry.name, { certificate, key: pair.privateKey, algorithm: pair.algorithm });
  return [
    { rel: certPath(entry), data: certificate.pem, mode: CERT_MODE },
    { rel: keyPath(entry), data: pair.privateKeyPem, mode: KEY_MODE },
  ];
}

async function makeKeyPair(item: PlanItem, spec: ClusterSpec, plan: Plan, pool: KeyPool): Promise<NewFile[]> {
  const entry = item.entry as KeyPairEntry;
  const existing = plan.existingKeys.get(entry.name);
  if (existing) return [{ rel: entry.pub, data: publicKeyToPem(existing), mode: KEY_MODE }];
  const pair = await pool.take(spec.encryptionAlgorithm);
  return [
    { rel: entry.key, data: pair.privateKeyPem, mode: KEY_MODE },
    // kubeadm writes sa.pub through its key writer, 0600; kept so.
    { rel: entry.pub, data: pair.publicKeyPem, mode: KEY_MODE },
  ];
}

async function makeKubeconfig(item: PlanItem, spec: ClusterSpec, plan: Plan, pool: KeyPool, now: Date): Promise<NewFile[]> {
  const entry = item.entry as KubeconfigEntry;
  const ca = plan.signers.get('ca')!;
  const { pair, certificate } = await issue(spec, pool, now, item, PROFILES.client, ca);
  const data = buildKubeconfig({
    clusterName: spec.clusterName,
    server: serverURL(spec, entry.server),
    caPem: ca.certificate.pem,
    user: item.subject!.cn,
    credentials: { certPem: certificate.pem, keyPem: pair.privateKeyPem },
  });
  return [{ rel: entry.file, data, mode: KEY_MODE }];
}

const isServing = (entry: CertEntry) => (PROFILES[entry.profile].extKeyUsage as readonly string[]).includes('serverAuth');

export async function applyPlan(plan: Plan, spec: ClusterSpec, pool: KeyPool, now: Date): Promise<Applied> {
  const toWrite = plan.items.filter((i) => i.writes.length);
  const make = (i: PlanItem): Promise<NewFile[]> => {
    switch (i.kind) {
      case 'key-pair': return makeKeyPair(i, spec, plan, pool);
      case 'kubeconfig': return makeKubeconfig(i, spec, plan, pool, now);
      case 'flags': return Promise.resolve(i.generated!.map((g) => ({ rel: g.rel, data: g.data, mode: PUBLIC_MODE })));
      default: return makeCertificate(i, spec, plan, pool, now);
    }
  };
  // CAs first: the rest are signed by them.
  const cas = toWrite.filter((i) => i.kind === 'ca');
  const made = new Map<PlanItem, NewFile[]>();
  await Promise.all(cas.map(async (i) => made.set(i, await make(i))));
  await Promise.all(toWrite.filter((i) => i.kind !== 'ca').map(async (i) => made.set(i, await make(i))));
  const groups = ROOTS.map((root: Root) => ({ dir: plan.dirs[root], files: toWrite.filter((i) => i.root === root).flatMap((i) => made.get(i)!) }));
  await writeAllOrNothing(groups);
  return { log: describeApplied(plan), written: groups.flatMap((g) => g.files.map((f) => `${g.dir}/${f.rel}`)) };
}

/** kubeadm's "[certs] ..." / "[kubeconfig] ..." lines for what was done. */
export function describeApplied(plan: Plan): string[] {
  const log = [`[certs] Using certificateDir folder "${plan.certDir}"`];
  for (const item of plan.items) {
    if (item.kind === 'kubeconfig') {
      const file = `${plan.dirs.kubeconfigs}/${item.writes[0] ?? item.uses[0]}`;
      log.push(item.action === 'create' ? `[kubeconfig] Writing "${item.name}" kubeconfig file` : `[kubeconfig] Using existing kubeconfig file: "${file}"`);
    } else if (item.kind === 'flags') {
      for (const w of item.writes) log.push(`[flags] Writing ${plan.dirs.flags}/${w}`);
      for (const u of item.uses) log.push(`[flags] Using existing ${plan.dirs.flags}/${u}`);
    } else {
      const what = item.kind === 'key-pair' ? 'key and public key' : 'certificate and key';
      if (item.action === 'create') log.push(`[certs] Generating "${item.name}" ${what}`);
      else if (item.action === 'external') log.push(`[certs] External CA mode: using the existing "${item.name}" certificate (its key is kept elsewhere)`);
      else log.push(`[certs] Using the existing "${item.name}" ${item.kind === 'key-pair' ? 'key' : 'certificate and key'}`);
      if (item.action !== 'create') for (const w of item.writes) log.push(`[certs] Writing ${w}`);
      if (item.action === 'create' && item.sans && item.kind === 'certificate' && isServing(item.entry as CertEntry)) {
        log.push(`[certs] ${item.name} serving cert is signed for DNS names [${item.sans.dns.join(' ')}] and IPs [${item.sans.ips.join(' ')}]`);
      }
    }
    for (const note of item.notes) log.push(`[${item.kind === 'kubeconfig' ? 'kubeconfig' : 'certs'}] WARNING: ${item.name}: ${note}`);
  }
  return log;
}
