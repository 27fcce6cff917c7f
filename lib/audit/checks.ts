/**
 * The checks of `kubepki audit`, on what inspect.ts read: CIS Kubernetes
 * Benchmark 1.12's file and flag checks for what kubepki writes (judged as
 * kube-bench's cfg/cis-1.12 judges them: a mode "600 or more restrictive" is
 * one whose bits are a subset of 600; an unscored check that fails is a
 * warning), and what CIS cannot see: the files flags name exist, parse, are
 * not expired and pair with their keys; trust files name the CA that signed
 * the peers' certificates; key algorithms agree; kubeconfigs carry the
 * cluster's CA; no secret and no folder of secrets is open to others.
 */
import { readFileSync } from 'node:fs';
import { readFileBounded } from '../read-file.js';
import path from 'node:path';
import { parse } from 'yaml';
import { RULES, judgeSetting, settingText, type Rule } from '../components/hardening.js';
import { parseKubeconfig, type ParsedKubeconfig } from '../kubeconfig/kubeconfig.js';
import {
  AUDIT_POLICY, BOOTSTRAP_KUBECONFIG, BOOTSTRAP_TOKEN_SECRETS, CERTIFICATES, KEY_PAIRS, KUBECONFIGS, certPath, certificatesFor,
  type CertEntry, type Consumer, type ServiceComponent,
} from '../pki/catalog.js';
import { algorithmOf } from '../pki/algorithms.js';
import { Certificate } from '../pki/certificate.js';
import { spkiShape } from '../pki/key-der.js';
import { parsePublicKeyPem, readPrivateKeyPem } from '../pki/keys.js';
import { spkiDer } from '../pki/keys.js';
import { exists, flagValue, info, readText, walk, type FileInfo, type Installed } from './inspect.js';

/**
 * The checks of files and of what flags name (the flag and setting checks are
 * the rules of hardening.ts): what each says, whether kube-bench scores it
 * (an unscored check that fails is a warning), and what it reads. docs/cis.md
 * is generated from this table and RULES.
 */
export const CHECKS = {
  '1.1.1': { title: "kube-apiserver's flag files and unit are 600 or more restrictive", scored: true, reads: 'kube-apiserver.flags, .env, kube-apiserver.service', kubeBench: 'stat -c %a $apiserverconf, bitmask 600' },
  '1.1.2': { title: "kube-apiserver's flag files and unit are owned by root:root", scored: true, reads: 'the same', kubeBench: 'stat -c %U:%G $apiserverconf, root:root' },
  '1.1.3': { title: "kube-controller-manager's flag files and unit are 600 or more restrictive", scored: true, reads: 'kube-controller-manager.flags, .env, .service', kubeBench: 'bitmask 600' },
  '1.1.4': { title: "kube-controller-manager's flag files and unit are owned by root:root", scored: true, reads: 'the same', kubeBench: 'root:root' },
  '1.1.5': { title: "kube-scheduler's flag files and unit are 600 or more restrictive", scored: true, reads: 'kube-scheduler.flags, .env, .service', kubeBench: 'bitmask 600' },
  '1.1.6': { title: "kube-scheduler's flag files and unit are owned by root:root", scored: true, reads: 'the same', kubeBench: 'root:root' },
  '1.1.7': { title: "etcd's flag files and unit are 600 or more restrictive", scored: true, reads: 'etcd.flags, .env, etcd.service', kubeBench: 'bitmask 600' },
  '1.1.8': { title: "etcd's flag files and unit are owned by root:root", scored: true, reads: 'the same', kubeBench: 'root:root' },
  '1.1.11': { title: 'the etcd data dir is 700 or more restrictive', scored: true, reads: "etcd's --data-dir", kubeBench: 'stat -c %a of --data-dir, bitmask 700' },
  '1.1.12': { title: 'the etcd data dir is owned by etcd:etcd', scored: true, reads: "etcd's --data-dir", kubeBench: 'stat -c %U:%G, etcd:etcd (kubepki: accepted, README "CIS")' },
  '1.1.13': { title: 'admin.conf and super-admin.conf: 600 or more restrictive', scored: true, reads: '<kubeconfig dir>/admin.conf, super-admin.conf', kubeBench: 'bitmask 600 on each that exists' },
  '1.1.14': { title: 'admin.conf and super-admin.conf: owned by root:root', scored: true, reads: 'the same', kubeBench: 'root:root' },
  '1.1.15': { title: 'scheduler.conf: 600 or more restrictive', scored: true, reads: "the scheduler's --kubeconfig", kubeBench: 'bitmask 600' },
  '1.1.16': { title: 'scheduler.conf: owned by root:root', scored: true, reads: 'the same', kubeBench: 'root:root' },
  '1.1.17': { title: 'controller-manager.conf: 600 or more restrictive', scored: true, reads: "the controller-manager's --kubeconfig", kubeBench: 'bitmask 600' },
  '1.1.18': { title: 'controller-manager.conf: owned by root:root', scored: true, reads: 'the same', kubeBench: 'root:root' },
  '1.1.19': { title: 'the PKI folder and its files are owned by root:root', scored: true, reads: 'everything under the cert dir', kubeBench: 'find /etc/kubernetes/pki | stat -c %U:%G, root:root' },
  '1.1.20': { title: 'certificate files (*.crt) are 644 or more restrictive', scored: false, reads: '*.crt under the cert dir', kubeBench: 'bitmask 644' },
  '1.1.21': { title: 'key files (*.key) are 600 or more restrictive', scored: false, reads: '*.key under the cert dir', kubeBench: 'bitmask 600' },
  '4.1.1': { title: "kubelet's flag files and unit are 600 or more restrictive", scored: true, reads: 'kubelet.flags, .env, kubelet.service', kubeBench: 'stat -c %a $kubeletsvc, bitmask 600' },
  '4.1.2': { title: "kubelet's flag files and unit are owned by root:root", scored: true, reads: 'the same', kubeBench: 'root:root' },
  '4.1.5': { title: "the kubelet's kubeconfig: 600 or more restrictive", scored: true, reads: "the kubelet's --kubeconfig", kubeBench: 'bitmask 600' },
  '4.1.6': { title: "the kubelet's kubeconfig: owned by root:root", scored: true, reads: 'the same', kubeBench: 'root:root' },
  '4.1.9': { title: "the kubelet's configuration file is 600 or more restrictive", scored: true, reads: "the kubelet's --config", kubeBench: 'stat -c %a $kubeletconf, bitmask 600' },
  '4.1.10': { title: "the kubelet's configuration file is owned by root:root", scored: true, reads: 'the same', kubeBench: 'root:root' },
  'kubepki.audit-policy': { title: 'the audit policy logs no Secret (no Request or RequestResponse level for secrets)', scored: true, reads: "the API server's --audit-policy-file" },
  'kubepki.named-files': { title: 'every file a flag names exists and holds what the flag needs', scored: true, reads: 'every file a flag or kubelet setting names (a certificate, a CA bundle, a key, a public key, a kubeconfig)' },
  'kubepki.expiry': { title: 'no certificate a flag names has expired', scored: true, reads: "the same, and kubeconfigs' client certificates (the kubelet's rotated one through its link)" },
  'kubepki.pairs': { title: 'each certificate a component is given pairs with the key it is given', scored: true, reads: "certificate and key flags of one catalog entry; kubeconfigs' embedded pairs" },
  'kubepki.trust': { title: "each trust flag names the CA that signed its peers' certificates", scored: true, reads: 'each CA flag, against the certificates and kubeconfigs that CA signs (by the catalog)' },
  'kubepki.keys': { title: 'key algorithms and sizes agree (RSA of 2048 bits or more)', scored: true, reads: "every certificate's key under the cert dir (mixed algorithms: a warning)" },
  'kubepki.kubeconfig-ca': { title: "kubeconfigs point at the cluster's CA, over https", scored: true, reads: "every kubeconfig kubepki writes, against the cert dir's ca.crt" },
  'kubepki.secrets': { title: 'nothing secret is readable by others than its owner', scored: true, reads: 'keys, kubeconfigs, bootstrap token Secrets, the token file' },
  'kubepki.key-folders': { title: 'no private key is in a folder others may list or write', scored: true, reads: 'the folders of those files (others may list: a warning; write: a failure)' },
  'kubepki.installed': { title: "kubepki's flag files are installed here", scored: true, reads: "the flags dir; without it, kubeadm's static pod manifests and the kubelet's kubeadm-flags.env" },
} as const satisfies Record<string, { title: string; scored: boolean; reads: string; kubeBench?: string }>;
export type CheckId = keyof typeof CHECKS;
const T = (id: CheckId) => CHECKS[id].title;

export type Status = 'pass' | 'fail' | 'warn' | 'accepted' | 'skip';

export interface Finding {
  /** The CIS number, or kubepki's own check ("kubepki.trust"). */
  id: string;
  title: string;
  status: Status;
  /** The file (or component flag) it is about. */
  where?: string;
  /** What is wrong, and what to do. */
  detail?: string;
}

const octal = (mode: number) => mode.toString(8).padStart(3, '0');
/** kube-bench's bitmask: the mode's bits are a subset of the maximum's. */
const within = (mode: number, max: number) => (mode & ~max) === 0;
const bad = (scored: boolean): Status => (scored ? 'fail' : 'warn');

/** One check over files: a finding per file that fails it, or one that passes (or is skipped, when there is no file). */
function perFile(id: CheckId, files: readonly FileInfo[], judge: (f: FileInfo) => string | undefined): Finding[] {
  const { title, scored } = CHECKS[id];
  const present = files.filter(exists);
  if (!present.length) return [{ id, title, status: 'skip', detail: 'no such file here' }];
  const out: Finding[] = [];
  for (const f of present) {
    const complaint = judge(f);
    if (complaint) out.push({ id, title, status: bad(scored), where: f.path, detail: complaint });
  }
  return out.length ? out : [{ id, title, status: 'pass', where: present.length === 1 ? present[0]!.path : `${present.length} files` }];
}

const modeAtMost = (max: number) => (f: FileInfo) =>
  within(f.mode!, max) ? undefined : `is ${octal(f.mode!)}, more open than ${octal(max)}; run "chmod ${octal(max)} ${f.path}"`;

/** Names of users and groups (/etc/passwd, /etc/group). */
function idsOf(file: string): Map<number, string> {
  const out = new Map<number, string>();
  try {
    for (const line of readFileSync(file, 'utf8').split('\n')) {
      const [name, , id] = line.split(':');
      if (name && id !== undefined && /^\d+$/.test(id)) out.set(Number(id), name);
    }
  } catch {
    // no such file: ids are shown as numbers
  }
  return out;
}
/** The users and groups of /etc/passwd and /etc/group, read once per audit (auditChecks forgets them). */
let names: { users: Map<number, string>; groups: Map<number, string> } | undefined;
function ownerOf(f: FileInfo): string {
  names ??= { users: idsOf('/etc/passwd'), groups: idsOf('/etc/group') };
  return `${names.users.get(f.uid!) ?? f.uid}:${names.groups.get(f.gid!) ?? f.gid}`;
}
const ownedBy = (want: string) => (f: FileInfo) => {
  const owner = ownerOf(f);
  return owner === want ? undefined : `is owned by ${owner}, not ${want}; run "chown ${want} ${f.path}"`;
};

// ------------------------------------------------------------------ CIS 1.1 and 4.1: files

/** CIS numbers of a component's "pod specification" (for kubepki: its flag files and unit): mode, owner. */
const SPEC_FILE_CHECKS: Record<ServiceComponent, readonly [CheckId, CheckId]> = {
  'kube-apiserver': ['1.1.1', '1.1.2'],
  'kube-controller-manager': ['1.1.3', '1.1.4'],
  'kube-scheduler': ['1.1.5', '1.1.6'],
  etcd: ['1.1.7', '1.1.8'],
  kubelet: ['4.1.1', '4.1.2'],
};

function fileChecks(installed: Installed): Finding[] {
  const { spec, components } = installed;
  const out: Finding[] = [];
  for (const [component, [modeId, ownerId]] of Object.entries(SPEC_FILE_CHECKS) as [ServiceComponent, readonly [CheckId, CheckId]][]) {
    const c = components.get(component);
    if (!c) continue;
    const files = [...c.files, ...(c.unit ? [c.unit] : [])];
    out.push(...perFile(modeId, files, modeAtMost(0o600)));
    out.push(...perFile(ownerId, files, ownedBy('root:root')));
  }
  if (installed.kubeletConfig) {
    out.push(...perFile('4.1.9', [installed.kubeletConfig.file], modeAtMost(0o600)));
    out.push(...perFile('4.1.10', [installed.kubeletConfig.file], ownedBy('root:root')));
  }
  const dataDir = flagValue(components.get('etcd'), '--data-dir');
  if (dataDir) {
    const d = info(dataDir);
    out.push(...perFile('1.1.11', [d], modeAtMost(0o700)));
    // kubepki runs etcd as root so that every key stays root's (1.1.19, 1.1.21): 1.1.12 cannot pass as well (README).
    for (const f of perFile('1.1.12', [d], ownedBy('etcd:etcd'))) {
      out.push(f.status === 'fail' ? { ...f, status: 'accepted', detail: `${f.detail!.replace(/; run .*$/, '')}: kubepki runs etcd as root so that its keys stay root:root 0600 (1.1.19, 1.1.21); see the README, "CIS"` } : f);
    }
  }
  const kubeconfig = (name: string) => info(path.join(spec.kubeconfigDir, name));
  const flagged = (component: ServiceComponent, fallback: string) => info(flagValue(components.get(component), '--kubeconfig') ?? path.join(spec.kubeconfigDir, fallback));
  const kubeconfigChecks: [CheckId, CheckId, FileInfo[]][] = [
    ['1.1.13', '1.1.14', [kubeconfig('admin.conf'), kubeconfig('super-admin.conf')]],
    ['1.1.15', '1.1.16', [flagged('kube-scheduler', 'scheduler.conf')]],
    ['1.1.17', '1.1.18', [flagged('kube-controller-manager', 'controller-manager.conf')]],
    ['4.1.5', '4.1.6', [flagged('kubelet', 'kubelet.conf')]],
  ];
  for (const [modeId, ownerId, files] of kubeconfigChecks) {
    out.push(...perFile(modeId, files, modeAtMost(0o600)));
    out.push(...perFile(ownerId, files, ownedBy('root:root')));
  }
  const pki = installed.pki;
  out.push(...perFile('1.1.19', pki, ownedBy('root:root')));
  out.push(...perFile('1.1.20', pki.filter((f) => f.type === 'file' && f.path.endsWith('.crt')), modeAtMost(0o644)));
  out.push(...perFile('1.1.21', pki.filter((f) => f.type === 'file' && f.path.endsWith('.key')), modeAtMost(0o600)));
  return out;
}

// ------------------------------------------------------------------ CIS 1.2-1.4, 2, 4.2: flags and settings

function flagChecks(installed: Installed): Finding[] {
  const out: Finding[] = [];
  for (const r of RULES) {
    const c = installed.components.get(r.component);
    if (!c) continue;
    const title = `${r.component} ${r.setting ? `--${r.flag} / ${r.setting}` : `--${r.flag}`}: ${r.title}`;
    // Where it was read: the flag file, or the kubelet's configuration when the flag is not given.
    const fromConfig = r.setting && flagValue(c, `--${r.flag}`) === undefined && installed.kubeletConfig;
    const where = fromConfig ? installed.kubeletConfig!.file.path : c.source.path;
    if (c.error) {
      out.push({ id: r.id, title, status: 'fail', where: c.source.path, detail: `cannot read the flags: ${c.error}` });
      continue;
    }
    const complaint = judgeInstalled(r, installed);
    out.push(complaint ? { id: r.id, title, status: bad(r.scored), where, detail: complaint } : { id: r.id, title, status: 'pass' });
  }
  return dedupe(out);
}

/** A flag, or for the kubelet its configuration when the flag is not given (kube-bench's order). */
function judgeInstalled(r: Rule, installed: Installed): string | undefined {
  const flag = flagValue(installed.components.get(r.component), `--${r.flag}`);
  if (flag !== undefined || !r.setting) return r.judge(flag);
  const config = installed.kubeletConfig;
  if (config?.error) return `cannot read the kubelet's configuration ${config.file.path}: ${config.error}`;
  return judgeSetting(r, config?.config ?? {});
}

/** One finding per check, component and flag (two rules may judge one flag: 1.2.6-1.2.8). */
function dedupe(findings: Finding[]): Finding[] {
  const seen = new Set<string>();
  return findings.filter((f) => {
    const key = `${f.id} ${f.title} ${f.where} ${f.status} ${f.detail ?? ''}`;
    if (seen.has(key)) return false;
    seen.add(key);
    return true;
  });
}

// ------------------------------------------------------------------ kubepki's own: what flags name

interface Named {
  component: ServiceComponent;
  /** "--tls-cert-file", or a kubelet setting. */
  name: string;
  file: string;
  consumer: Consumer;
  entry: string;
  isCA: boolean;
}

/** Every file an installed flag (or kubelet setting) names that the catalog says what it is. */
function namedFiles(installed: Installed): Named[] {
  const out: Named[] = [];
  const entries: { name: string; consumers: readonly Consumer[]; isCA: boolean }[] = [
    ...CERTIFICATES.map((e) => ({ name: e.name, consumers: e.consumers, isCA: !e.ca })),
    ...KEY_PAIRS.map((k) => ({ name: k.name, consumers: k.consumers, isCA: false })),
    ...KUBECONFIGS.map((k) => ({ name: k.name, consumers: k.consumers, isCA: false })),
    { name: BOOTSTRAP_KUBECONFIG.name, consumers: BOOTSTRAP_KUBECONFIG.consumers, isCA: false },
  ];
  for (const e of entries) {
    for (const consumer of e.consumers) {
      if (consumer.component === 'etcdctl') continue;
      const c = installed.components.get(consumer.component);
      if (!c) continue;
      const value = consumer.flag
        ? flagValue(c, consumer.flag)
        : settingText(installed.kubeletConfig?.config ?? {}, consumer.setting!);
      // An empty signing flag: the CA is managed elsewhere (kubeadm's external CA mode).
      if (!value) continue;
      out.push({ component: consumer.component, name: consumer.flag ?? consumer.setting!, file: value, consumer, entry: e.name, isCA: e.isCA });
    }
  }
  return out;
}

interface Opened {
  certs?: Certificate[];
  spki?: Buffer;
  kubeconfig?: ParsedKubeconfig;
  error?: string;
}

function open(n: Named): Opened {
  const read = readText(info(n.file));
  if (read.error !== undefined) return { error: read.error };
  try {
    switch (n.consumer.file) {
      case 'cert': return { certs: Certificate.allFromPem(read.text!, n.isCA ? 'bundle' : 'single') };
      case 'key': return { spki: readPrivateKeyPem(read.text!, 'match').spki };
      case 'pub': return { spki: spkiDer(parsePublicKeyPem(read.text!)) };
      case 'kubeconfig': return { kubeconfig: parseKubeconfig(read.text!) };
    }
  } catch (e) {
    return { error: `does not hold what ${n.name} needs: ${(e as Error).message.split('\n')[0]}` };
  }
  return {};
}

/** A kubeconfig's client certificate: embedded, or the file it names (the kubelet's rotated one, read through its link). */
function clientCertificate(kc: ParsedKubeconfig): { cert?: Certificate; error?: string } {
  try {
    if (kc.certPem) return { cert: Certificate.fromPem(kc.certPem) };
    if (kc.certFile) return { cert: Certificate.fromPem(readFileBounded(kc.certFile).toString('utf8')) };
  } catch (e) {
    return { error: (e as Error).message.split('\n')[0] };
  }
  return {};
}

const expiry = (c: Certificate, now: number) => (c.notAfter.getTime() < now ? `expired on ${c.notAfter.toISOString()}` : undefined);

function namedFileChecks(installed: Installed, now: number): Finding[] {
  const { spec } = installed;
  const named = namedFiles(installed);
  const opened = new Map<string, Opened>();
  const get = (n: Named) => {
    let o = opened.get(`${n.consumer.file}:${n.file}`);
    if (!o) opened.set(`${n.consumer.file}:${n.file}`, (o = open(n)));
    return o;
  };
  const out: Finding[] = [];
  const kubeletConf = info(path.join(spec.kubeconfigDir, 'kubelet.conf'));
  // Exists and parses; a certificate (a kubeconfig's client certificate) not expired.
  const problems: Finding[] = [];
  const expired: Finding[] = [];
  for (const n of named) {
    // The bootstrap kubeconfig is needed only until the kubelet has its own.
    if (n.entry === BOOTSTRAP_KUBECONFIG.name && exists(kubeletConf) && !exists(info(n.file))) continue;
    const o = get(n);
    const where = `${n.component} ${n.name}=${n.file}`;
    if (o.error) {
      problems.push({ id: 'kubepki.named-files', title: T('kubepki.named-files'), status: 'fail', where, detail: o.error });
      continue;
    }
    const certs = o.certs ?? [];
    if (o.kubeconfig) {
      const client = clientCertificate(o.kubeconfig);
      if (client.error) problems.push({ id: 'kubepki.named-files', title: T('kubepki.named-files'), status: 'fail', where, detail: `its client certificate cannot be read: ${client.error}` });
      if (client.cert) certs.push(client.cert);
    }
    for (const c of certs) {
      const gone = expiry(c, now);
      if (gone) expired.push({ id: 'kubepki.expiry', title: T('kubepki.expiry'), status: 'fail', where, detail: `${gone}; renew it with "kubepki certs renew"` });
    }
  }
  out.push(...(problems.length ? problems : [{ id: 'kubepki.named-files', title: T('kubepki.named-files'), status: 'pass' as const, where: `${named.length} flags` }]));
  out.push(...dedupe(expired.length ? expired : [{ id: 'kubepki.expiry', title: T('kubepki.expiry'), status: 'pass' as const }]));

  // Pairs: a component given a certificate and its key (by one catalog entry) gets a matching pair.
  const pairs: Finding[] = [];
  for (const cert of named.filter((n) => n.consumer.file === 'cert' && !n.isCA)) {
    const key = named.find((n) => n.component === cert.component && n.entry === cert.entry && n.consumer.file === 'key');
    if (!key) continue;
    const c = get(cert).certs?.[0];
    const k = get(key).spki;
    if (c && k && !c.spki.equals(k)) {
      pairs.push({ id: 'kubepki.pairs', title: T('kubepki.pairs'), status: 'fail', where: `${cert.component} ${cert.name}`, detail: `${cert.file} and ${key.name}=${key.file} do not pair: the key is not the certificate's` });
    }
  }
  for (const n of named.filter((x) => x.consumer.file === 'kubeconfig')) {
    const kc = get(n).kubeconfig;
    if (!kc?.certPem || !kc.keyPem) continue;
    try {
      if (!Certificate.fromPem(kc.certPem).spki.equals(readPrivateKeyPem(kc.keyPem, 'match').spki)) {
        pairs.push({ id: 'kubepki.pairs', title: T('kubepki.pairs'), status: 'fail', where: n.file, detail: 'its client certificate and key do not pair' });
      }
    } catch {
      // reported by named-files
    }
  }
  out.push(...(pairs.length ? pairs : [{ id: 'kubepki.pairs', title: T('kubepki.pairs'), status: 'pass' as const }]));
  out.push(...trustChecks(installed, named, get));
  return out;
}

/** Each trust flag names the CA that signed the certificates its component's peers present (the catalog says which CA signs what). */
function trustChecks(installed: Installed, named: Named[], get: (n: Named) => Opened): Finding[] {
  const { spec } = installed;
  const title = T('kubepki.trust');
  const out: Finding[] = [];
  const leaves = new Map<string, { what: string; cert: Certificate }[]>();
  const signedBy = (ca: string) => {
    let list = leaves.get(ca);
    if (list) return list;
    list = [];
    for (const e of certificatesFor(spec).filter((x) => x.ca === ca)) {
      const r = readText(info(path.join(spec.certificatesDir, certPath(e))));
      if (r.text) try { list.push({ what: `${e.name} (${certPath(e)})`, cert: Certificate.fromPem(r.text) }); } catch { /* named-files */ }
    }
    for (const k of KUBECONFIGS.filter((x) => x.signer === ca)) {
      const r = readText(info(path.join(spec.kubeconfigDir, k.file)));
      if (!r.text) continue;
      try {
        const c = clientCertificate(parseKubeconfig(r.text)).cert;
        if (c) list.push({ what: `${k.file}'s client certificate`, cert: c });
      } catch { /* kubeconfig-ca */ }
    }
    leaves.set(ca, list);
    return list;
  };
  for (const n of named.filter((x) => x.isCA && x.consumer.file === 'cert' && !x.consumer.signs)) {
    const trusted = get(n).certs;
    if (!trusted?.length) continue;
    for (const leaf of signedBy(n.entry)) {
      if (!trusted.some((ca) => leaf.cert.isSignedBy(ca))) {
        out.push({ id: 'kubepki.trust', title, status: 'fail', where: `${n.component} ${n.name}=${n.file}`, detail: `it did not sign ${leaf.what}, issued by "${leaf.cert.issuerCommonName ?? '?'}": ${n.component} would refuse it` });
      }
    }
  }
  return out.length ? out : [{ id: 'kubepki.trust', title, status: 'pass' }];
}

// ------------------------------------------------------------------ kubepki's own: keys, kubeconfigs, secrets

function keyChecks(installed: Installed): Finding[] {
  const { spec } = installed;
  const title = T('kubepki.keys');
  const found = new Map<string, string[]>();
  const out: Finding[] = [];
  for (const e of certificatesFor(spec) as readonly CertEntry[]) {
    const r = readText(info(path.join(spec.certificatesDir, certPath(e))));
    if (!r.text) continue;
    let shape;
    try {
      shape = spkiShape(Certificate.fromPem(r.text).spki);
    } catch {
      continue;
    }
    if (!shape) continue;
    const name = algorithmOf(shape)?.name ?? (shape.family === 'rsa' ? `RSA-${shape.modulusLength}` : `ECDSA ${shape.curve}`);
    if (shape.family === 'rsa' && (shape.modulusLength ?? 0) < 2048) out.push({ id: 'kubepki.keys', title, status: 'fail', where: path.join(spec.certificatesDir, certPath(e)), detail: `its key is ${name}, under 2048 bits` });
    if (e.ca) found.set(name, [...(found.get(name) ?? []), e.name]);
  }
  if (found.size > 1) {
    out.push({ id: 'kubepki.keys', title, status: 'warn', detail: `the leaves mix ${[...found].map(([alg, list]) => `${alg} (${list.join(', ')})`).join(' and ')}; "kubepki certs reconcile" re-keys them to the description's ${spec.encryptionAlgorithm}` });
  }
  return out.length ? out : [{ id: 'kubepki.keys', title, status: found.size ? 'pass' : 'skip', ...(found.size ? { detail: [...found.keys()].join(', ') } : {}) }];
}

function kubeconfigChecks(installed: Installed): Finding[] {
  const { spec } = installed;

  const caText = readText(info(path.join(spec.certificatesDir, 'ca.crt'))).text;
  let ca: Certificate | undefined;
  try {
    ca = caText ? Certificate.fromPem(caText) : undefined;
  } catch {
    ca = undefined;
  }
  const files = [...KUBECONFIGS.map((k) => k.file), BOOTSTRAP_KUBECONFIG.file].map((f) => info(path.join(spec.kubeconfigDir, f)));
  return perFile('kubepki.kubeconfig-ca', files, (f) => {
    const r = readText(f);
    if (r.error !== undefined) return `cannot be read: ${r.error}`;
    let kc: ParsedKubeconfig;
    try {
      kc = parseKubeconfig(r.text!);
    } catch (e) {
      return `is not a kubeconfig: ${(e as Error).message}`;
    }
    if (!kc.server?.startsWith('https://')) return `its server is ${kc.server ?? '(none)'}, not https://`;
    if (!ca) return undefined;
    let embedded: Certificate[] = [];
    try {
      embedded = kc.caPem ? Certificate.allFromPem(kc.caPem, 'bundle') : kc.caFile ? Certificate.allFromPem(readFileBounded(kc.caFile).toString('utf8'), 'bundle') : [];
    } catch (e) {
      return `its CA cannot be read: ${(e as Error).message}`;
    }
    if (!embedded.length) return 'it names no CA: the client would not verify the API server';
    return embedded.some((c) => c.der.equals(ca!.der)) ? undefined : `its CA is not the cluster's ${path.join(spec.certificatesDir, 'ca.crt')} ("${embedded[0]!.facts.subject.cn}"): kubepki certs reconcile writes it anew`;
  });
}

/** Files that hold a secret: keys, kubeconfigs, token Secrets and files. */
function secretFiles(installed: Installed): FileInfo[] {
  const { spec } = installed;
  const out: FileInfo[] = [];
  for (const f of installed.pki) {
    if (f.type !== 'file') continue;
    if (f.path.endsWith('.key') || f.path.endsWith('.csv')) out.push(f);
    else if (!/\.(crt|pub|csr)$/.test(f.path) && (readText(f).text ?? '').includes('PRIVATE KEY')) out.push(f);
  }
  for (const k of [...KUBECONFIGS, BOOTSTRAP_KUBECONFIG]) out.push(info(path.join(spec.kubeconfigDir, k.file)));
  out.push(...walk(path.join(spec.kubeconfigDir, BOOTSTRAP_TOKEN_SECRETS.dir)).filter((f) => f.type === 'file'));
  if (spec.bootstrap.method === 'token-file') out.push(info(spec.bootstrap.tokenAuthFile));
  for (const k of KEY_PAIRS) out.push(info(path.join(spec.certificatesDir, k.key)));
  return [...new Map(out.filter(exists).map((f) => [f.path, f])).values()];
}

function secretChecks(installed: Installed): Finding[] {
  // A link in the cert dir may lead anywhere (a key others can read, elsewhere): its target is never judged.
  const links = installed.pki.filter((f) => f.type === 'symlink' || f.type === 'other');
  const secrets = [...secretFiles(installed), ...links];
  const out = perFile('kubepki.secrets', secrets, (f) => {
    if (f.type === 'symlink') return `is a symbolic link: what it leads to is outside these checks; put the file itself there`;
    if (f.type === 'other') return 'is not a regular file or folder';
    return f.mode! & 0o077 ? `is ${octal(f.mode!)}: a secret others may read; run "chmod 600 ${f.path}"` : undefined;
  });
  const folders = [...new Set(secrets.map((f) => path.dirname(f.path)))].map(info);
  out.push(...perFile('kubepki.key-folders', folders, (d) => {
    if (d.mode! & 0o022) return `is ${octal(d.mode!)}: others may replace the keys in it; run "chmod 700 ${d.path}"`;
    if (d.mode! & 0o005) return `is ${octal(d.mode!)}: others may list the keys in it; run "chmod 700 ${d.path}"`;
    return undefined;
  }));
  // A folder that only others may list is a warning; one others may write in, a failure.
  return out.map((f) => (f.id === 'kubepki.key-folders' && f.status === 'fail' && f.detail?.includes('may list') ? { ...f, status: 'warn' as const } : f));
}

/** The audit policy the API server is given logs no request or response bodies of Secrets (CIS 3.2.1 wants a policy). */
function auditPolicyChecks(installed: Installed): Finding[] {
  const api = installed.components.get('kube-apiserver');
  if (!api) return [];
  const title = T('kubepki.audit-policy');
  const file = flagValue(api, AUDIT_POLICY.flag!);
  if (!file) return [{ id: 'kubepki.audit-policy', title, status: 'fail', where: `kube-apiserver ${AUDIT_POLICY.flag}`, detail: 'is not set: the API server logs nothing (CIS 1.2.16, 3.2.1)' }];
  const r = readText(info(file));
  if (r.error !== undefined) return [{ id: 'kubepki.audit-policy', title, status: 'fail', where: file, detail: `cannot be read: ${r.error}` }];
  let policy: { kind?: unknown; rules?: unknown };
  try {
    policy = parse(r.text!) as { kind?: unknown; rules?: unknown };
  } catch (e) {
    return [{ id: 'kubepki.audit-policy', title, status: 'fail', where: file, detail: `is not YAML: ${(e as Error).message.split('\n')[0]}` }];
  }
  if (policy?.kind !== 'Policy' || !Array.isArray(policy.rules)) return [{ id: 'kubepki.audit-policy', title, status: 'fail', where: file, detail: 'is not an audit.k8s.io Policy with rules' }];
  // The first rule that matches a Secret decides its level.
  for (const rule of policy.rules as { level?: string; resources?: { resources?: string[] }[] }[]) {
    const covers = !rule.resources || rule.resources.some((g) => !g.resources?.length || g.resources.includes('secrets') || g.resources.includes('*'));
    if (!covers) continue;
    if (rule.level === 'Request' || rule.level === 'RequestResponse') {
      return [{ id: 'kubepki.audit-policy', title, status: 'fail', where: file, detail: `a rule at level ${rule.level} matches Secrets: their contents would be in the audit log; log them at Metadata` }];
    }
    break;
  }
  return [{ id: 'kubepki.audit-policy', title, status: 'pass', where: file }];
}

/** Every check, in the order they are reported. */
export function auditChecks(installed: Installed, now = Date.now()): Finding[] {
  names = undefined;
  if (!installed.components.size) {
    return [{ id: 'kubepki.installed', title: T('kubepki.installed'), status: 'fail', where: installed.spec.flagsDir, detail: 'no component flag file is there, nor kubeadm\'s static pod manifests: nothing to audit (give --flags-dir, or --config with the description init used)' }];
  }
  return [
    ...fileChecks(installed),
    ...flagChecks(installed),
    ...auditPolicyChecks(installed),
    ...namedFileChecks(installed, now),
    ...keyChecks(installed),
    ...kubeconfigChecks(installed),
    ...secretChecks(installed),
  ];
}

export function summarize(findings: readonly Finding[]): Record<Status, number> & { checks: number } {
  const count = (s: Status) => findings.filter((f) => f.status === s).length;
  return { checks: findings.length, pass: count('pass'), fail: count('fail'), warn: count('warn'), accepted: count('accepted'), skip: count('skip') };
}

/** 0 clean, 3 warnings, 4 failures. */
export const AUDIT_EXIT = { clean: 0, warnings: 3, failures: 4 } as const;
export function auditExitCode(findings: readonly Finding[]): number {
  if (findings.some((f) => f.status === 'fail')) return AUDIT_EXIT.failures;
  if (findings.some((f) => f.status === 'warn')) return AUDIT_EXIT.warnings;
  return AUDIT_EXIT.clean;
}

