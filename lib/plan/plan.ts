/**
 * Plan, before anything is written: for each catalog entry, whether its files
 * will be created, reused (a CA), kept (a leaf that matches), or are managed
 * outside kubepki (a CA without its key). Pure: it reads a DiskState snapshot
 * and returns data; what it finds wrong it lists as problems, all at once.
 */
import type { KeyObject } from 'node:crypto';
import { stringify } from 'yaml';
import {
  COMPONENTS, ETCDCTL_ENV_FILE, KUBELET_CONFIG_FILE, componentFlags, etcdctlEnv, flagFile, formatEnv, formatFlags, kubeletConfiguration,
  type FlagContext,
} from '../components/flags.js';
import type { ClusterSpec } from '../config/spec.js';
import { formatDays } from '../durations.js';
import { serverURL } from '../kubeconfig/kubeconfig.js';
import { ALGORITHMS, type Algorithm } from '../pki/algorithms.js';
import {
  KEY_PAIRS, KUBECONFIGS, PROFILES, caEntry, certPath, certificatesFor, consumerName, keyPath,
  type AltNames, type CAName, type CertEntry, type Consumer, type KeyPairEntry, type KubeconfigEntry, type Subject,
} from '../pki/catalog.js';
import { parsePrivateKeyPem, parsePublicKeyPem, spkiDer } from '../pki/keys.js';
import { Certificate } from '../pki/certificate.js';
import type { Signer } from '../pki/issue.js';
import type { CertificateFacts, X509Certificate } from '../pki/x509.js';
import { compareGenerated, type GeneratedFile } from './generated.js';
import { fmtSubject, judgeKubeconfig, leafProblem } from './leaf.js';
import type { DiskState, FileState } from './inspect.js';
import { rootDir, rootDirs, type Phase, type Root } from './paths.js';

export type Action = 'create' | 'reuse' | 'keep' | 'external';

export interface PlanItem {
  name: string;
  kind: 'ca' | 'certificate' | 'key-pair' | 'kubeconfig' | 'flags';
  /** The directory its files live in. */
  root: Root;
  action: Action;
  /** Paths (relative to the root) this item will write. */
  writes: string[];
  /** Paths it uses as they are. */
  uses: string[];
  ca?: string;
  subject?: Subject;
  sans?: AltNames;
  /** Existing certificates: when they expire. */
  notAfter?: string;
  notes: string[];
  consumers: readonly Consumer[];
  entry?: CertEntry | KeyPairEntry | KubeconfigEntry;
  /** Flag files: their content. */
  generated?: GeneratedFile[];
}

export interface Plan {
  certDir: string;
  dirs: Record<Root, string>;
  algorithm: Algorithm;
  items: PlanItem[];
  problems: string[];
  /** CAs that can sign (existing with their key); new ones are added when created. */
  signers: Map<string, Signer>;
  /** Existing keys reused as they are (sa.key whose sa.pub is recreated). */
  existingKeys: Map<string, KeyObject>;
}

function describeState(rel: string, st: FileState): string | undefined {
  if (st.state === 'not-a-file') return `${rel} is ${st.what}; kubepki reads and writes regular files only: move it away`;
  if (st.state === 'unreadable') return `${rel} cannot be read: ${st.reason}`;
  return undefined;
}

interface Loaded {
  cert?: X509Certificate;
  facts?: CertificateFacts;
  key?: { key: KeyObject; algorithm: Algorithm };
}

export async function makePlan(spec: ClusterSpec, disk: DiskState, now: Date, skip: ReadonlySet<Phase> = new Set()): Promise<Plan> {
  const plan: Plan = {
    certDir: rootDir(spec, 'certs'),
    dirs: rootDirs(spec),
    algorithm: ALGORITHMS[spec.encryptionAlgorithm],
    items: [],
    problems: [],
    signers: new Map(),
    existingKeys: new Map(),
  };
  const fail = (message: string) => plan.problems.push(message);
  const file = (rel: string, root: Root = 'certs'): FileState => disk.files.get(`${root}:${rel}`) ?? { state: 'missing' };
  const loaded = new Map<string, Loaded>();
  const caCerts = new Map<string, Certificate>();
  // Reading existing certificates needs the full X.509 parser; an empty folder does not load it.
  let x509: typeof import('../pki/x509.js') | undefined;
  const anyFile = [...disk.files.values()].some((st) => st.state === 'file');
  if (anyFile) x509 = await import('../pki/x509.js');
  const caActions = new Map<string, Action>();

  /** Parse an entry's existing files; undefined (and a problem) when they are not usable. */
  function load(entry: CertEntry): Loaded | undefined {
    const out: Loaded = {};
    for (const [rel, kind] of [[certPath(entry), 'cert'], [keyPath(entry), 'key']] as const) {
      const st = file(rel);
      const bad = describeState(rel, st);
      if (bad) {
        fail(bad);
        return undefined;
      }
      if (st.state !== 'file') continue;
      try {
        if (kind === 'cert') {
          out.cert = x509!.parseCertificatePem(st.data);
          out.facts = x509!.certificateFacts(out.cert);
        } else {
          out.key = parsePrivateKeyPem(st.data);
          if (st.mode & 0o077) {
            fail(`${rel} is readable by others than its owner (mode ${st.mode.toString(8).padStart(4, '0')}); run "chmod 600 ${plan.certDir}/${rel}" and try again`);
            return undefined;
          }
        }
      } catch (e) {
        fail(`${rel} ${(e as Error).message}; restore it from a backup or move it away`);
        return undefined;
      }
    }
    if (out.cert && out.key && !spkiDer(out.key.key).equals(out.facts!.spki)) {
      fail(`${keyPath(entry)} does not match ${certPath(entry)} (different public keys); restore the right pair from a backup`);
      return undefined;
    }
    return out;
  }

  for (const entry of certificatesFor(spec)) {
    const crt = certPath(entry);
    const key = keyPath(entry);
    const profile = PROFILES[entry.profile];
    const subject = entry.subject(spec);
    const sans = entry.sans(spec);
    const item: PlanItem = {
      name: entry.name,
      kind: profile.isCA ? 'ca' : 'certificate',
      root: 'certs',
      action: 'create',
      writes: [],
      uses: [],
      ...(entry.ca ? { ca: entry.ca } : {}),
      subject,
      sans,
      notes: [],
      consumers: entry.consumers,
      entry,
    };
    const have = load(entry);
    if (!have) continue;
    loaded.set(entry.name, have);
    if (have.facts) item.notAfter = have.facts.notAfter.toISOString();
    if (have.facts && have.facts.notAfter < now) item.notes.push(`expired on ${have.facts.notAfter.toISOString()}`);

    if (profile.isCA) {
      if (have.cert && have.key) {
        if (!have.facts!.isCA) {
          fail(`${crt} is not a CA certificate (no CA basic constraint); restore the right one or move it away`);
          continue;
        }
        item.action = 'reuse';
        item.uses = [crt, key];
        item.subject = have.facts!.subject;
        const certificate = Certificate.fromDer(Buffer.from(have.cert.rawData));
        plan.signers.set(entry.name, { certificate, key: have.key.key, algorithm: have.key.algorithm });
        caCerts.set(entry.name, certificate);
      } else if (have.cert) {
        if (!have.facts!.isCA) {
          fail(`${crt} is not a CA certificate (no CA basic constraint); restore the right one or move it away`);
          continue;
        }
        item.action = 'external';
        item.uses = [crt];
        item.subject = have.facts!.subject;
        item.notes.push(`${key} is absent: this CA is managed outside kubepki; its certificates must exist already`);
        caCerts.set(entry.name, Certificate.fromDer(Buffer.from(have.cert.rawData)));
      } else if (have.key) {
        fail(`${key} exists but ${crt} does not; kubepki will not overwrite a key: restore ${crt} or move ${key} away`);
        continue;
      } else {
        item.writes = [crt, key];
      }
      caActions.set(entry.name, item.action);
      plan.items.push(item);
      continue;
    }

    // A leaf.
    const caName = entry.ca!;
    const caAction = caActions.get(caName);
    if (caAction === undefined) continue; // its CA has a problem, reported already
    if (have.cert && have.key) {
      const caCert = caCerts.get(caName);
      if (!caCert) {
        fail(`${crt} exists but its CA (${caName}) is to be created, so it cannot have signed it; move ${crt} and ${key} away, or restore the CA`);
        continue;
      }
      const problem = await leafProblem({ crt, key, cert: have.cert, subject, sans, ca: caCert, caName, caFile: certPath(caEntry(caName)) });
      if (problem) {
        fail(problem);
        continue;
      }
      item.action = 'keep';
      item.uses = [crt, key];
    } else if (have.cert || have.key) {
      const [present, absent] = have.cert ? [crt, key] : [key, crt];
      fail(`${present} exists but ${absent} does not; kubepki will not overwrite half a pair: restore ${absent} or move ${present} away`);
      continue;
    } else if (caAction === 'external') {
      fail(`${crt} is missing, and ${caName} is managed outside kubepki (${certPath(caEntry(caName))} without its key): have that CA issue ${crt} and ${key}, or provide the CA key`);
      continue;
    } else {
      item.writes = [crt, key];
    }
    plan.items.push(item);
  }

  for (const pair of KEY_PAIRS) {
    const item: PlanItem = { name: pair.name, kind: 'key-pair', root: 'certs', action: 'create', writes: [], uses: [], notes: [], consumers: pair.consumers, entry: pair };
    const keySt = file(pair.key);
    const pubSt = file(pair.pub);
    const bad = describeState(pair.key, keySt) ?? describeState(pair.pub, pubSt);
    if (bad) {
      fail(bad);
      continue;
    }
    if (keySt.state === 'file') {
      let key: KeyObject;
      try {
        key = parsePrivateKeyPem(keySt.data).key;
      } catch (e) {
        fail(`${pair.key} ${(e as Error).message}; restore it from a backup or move it away`);
        continue;
      }
      if (keySt.mode & 0o077) {
        fail(`${pair.key} is readable by others than its owner (mode ${keySt.mode.toString(8).padStart(4, '0')}); run "chmod 600 ${plan.certDir}/${pair.key}" and try again`);
        continue;
      }
      item.action = 'reuse';
      item.uses = [pair.key];
      if (pubSt.state === 'file') {
        let pub: KeyObject;
        try {
          pub = parsePublicKeyPem(pubSt.data);
        } catch (e) {
          fail(`${pair.pub} ${(e as Error).message}; move it away to have it re-created from ${pair.key}`);
          continue;
        }
        if (!spkiDer(pub).equals(spkiDer(key))) {
          fail(`${pair.pub} does not match ${pair.key}; tokens signed with the key would not verify: move ${pair.pub} away to have it re-created from ${pair.key}`);
          continue;
        }
        item.uses.push(pair.pub);
      } else {
        item.writes = [pair.pub];
        item.notes.push(`${pair.pub} is re-created from the existing ${pair.key}`);
        plan.existingKeys.set(pair.name, key);
      }
    } else if (pubSt.state === 'file') {
      fail(`${pair.pub} exists but ${pair.key} does not; restore ${pair.key}, or move ${pair.pub} away to have a new pair created`);
      continue;
    } else {
      item.writes = [pair.key, pair.pub];
    }
    plan.items.push(item);
  }

  if (!skip.has('kubeconfig')) for (const entry of KUBECONFIGS) await planKubeconfig(entry);

  const externalCAs = new Set([...caActions].filter(([, a]) => a === 'external').map(([name]) => name as CAName));
  for (const item of skip.has('flags') ? [] : flagItems({ spec, externalCAs })) {
    const cmp = compareGenerated(item.generated!, (rel) => file(rel, 'flags'), plan.dirs.flags);
    cmp.problems.forEach(fail);
    item.generated = cmp.writes;
    item.writes = cmp.writes.map((g) => g.rel);
    item.uses = cmp.keeps;
    item.action = item.writes.length ? 'create' : 'keep';
    plan.items.push(item);
  }
  return plan;

  async function planKubeconfig(entry: KubeconfigEntry): Promise<void> {
    const subject = entry.subject(spec);
    const server = serverURL(spec, entry.server);
    const item: PlanItem = {
      name: entry.name, kind: 'kubeconfig', root: 'kubeconfigs', action: 'create', writes: [], uses: [], ca: 'ca',
      subject, notes: [], consumers: entry.consumers, entry,
    };
    const st = file(entry.file, 'kubeconfigs');
    const bad = describeState(entry.file, st);
    if (bad) return void fail(bad);
    const caAction = caActions.get('ca');
    if (caAction === undefined) return; // the CA has a problem, reported already
    if (st.state === 'missing') {
      if (caAction === 'external') {
        return void fail(`${entry.file} is missing, and ca is managed outside kubepki (ca.crt without its key): have that CA issue it, or provide ca.key`);
      }
      item.writes = [entry.file];
      plan.items.push(item);
      return;
    }
    if (st.state !== 'file') return;
    const where = `${entry.file} in ${plan.dirs.kubeconfigs}`;
    if (st.mode & 0o077) {
      return void fail(`${where} is readable by others than its owner (mode ${st.mode.toString(8).padStart(4, '0')}); run "chmod 600" on it and try again`);
    }
    const caCert = caCerts.get('ca');
    if (!caCert) return void fail(`${where} exists but the cluster CA is to be created, so it belongs to another cluster; move it away`);
    const verdict = await judgeKubeconfig(st.data.toString(), { where, ca: caCert, subject });
    if (verdict.problem !== undefined) return void fail(verdict.problem);
    item.notes.push(...verdict.notes);
    if (verdict.client) {
      item.notAfter = verdict.client.notAfter.toISOString();
      if (verdict.client.notAfter < now) item.notes.push(`its client certificate expired on ${verdict.client.notAfter.toISOString()}`);
    }
    if (verdict.server !== server) item.notes.push(`its server is ${verdict.server ?? '(none)'}, the description gives ${server}`);
    item.action = 'keep';
    item.uses = [entry.file];
    plan.items.push(item);
  }
}

/** The flag files of every component, and the kubelet's configuration and etcdctl's environment. */
export function flagItems(ctx: FlagContext): PlanItem[] {
  const item = (name: string, generated: GeneratedFile[]): PlanItem => ({
    name, kind: 'flags', root: 'flags', action: 'create', writes: [], uses: [], notes: [], consumers: [], generated,
  });
  const items = COMPONENTS.filter((c) => !(c === 'etcd' && ctx.spec.etcd.external)).map((c) => {
    const flags = componentFlags(c, ctx);
    return item(c, [
      { rel: flagFile(c, 'args'), data: formatFlags(c, flags, 'args') },
      { rel: flagFile(c, 'env'), data: formatFlags(c, flags, 'env') },
      ...(c === 'kubelet' ? [{ rel: KUBELET_CONFIG_FILE, data: stringify(kubeletConfiguration(ctx)) }] : []),
    ]);
  });
  if (!ctx.spec.etcd.external) items.push(item('etcdctl', [{ rel: ETCDCTL_ENV_FILE, data: formatEnv(etcdctlEnv(ctx)) }]));
  return items;
}

/** The plan as data for people and machines (`--dry-run`, `-o json|yaml`). */
export function planData(plan: Plan, spec: ClusterSpec) {
  const count = (a: Action) => plan.items.filter((i) => i.action === a).length;
  return {
    certDir: plan.certDir,
    encryptionAlgorithm: spec.encryptionAlgorithm,
    certificateValidity: formatDays(spec.certificateValidity),
    caCertificateValidity: formatDays(spec.caCertificateValidity),
    dirs: plan.dirs,
    summary: { create: count('create'), reuse: count('reuse'), keep: count('keep'), external: count('external') },
    items: plan.items.map((i) => ({
      name: i.name,
      kind: i.kind,
      dir: plan.dirs[i.root],
      action: i.action,
      ...(i.ca ? { ca: i.ca } : {}),
      ...(i.subject ? { subject: fmtSubject(i.subject) } : {}),
      ...(i.sans && (i.sans.dns.length || i.sans.ips.length) ? { sans: { dns: i.sans.dns, ips: i.sans.ips } } : {}),
      writes: i.writes,
      uses: i.uses,
      ...(i.notAfter ? { notAfter: i.notAfter } : {}),
      consumers: i.consumers.map(consumerName),
      ...(i.notes.length ? { notes: i.notes } : {}),
    })),
    problems: plan.problems,
  };
}
export type PlanData = ReturnType<typeof planData>;
