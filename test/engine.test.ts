/**
 * The planner, as a specification: what init and renew decide (create, reuse,
 * keep, external, renew, skip, or a problem a person can act on) from what the
 * description asks for and what is there. Observations come from a file
 * source in memory: no child process, no file on disk; the certificates in it
 * are real ones, issued here with kubepki's own issuer.
 */
import test from 'ava';
import path from 'node:path';
import { stringify } from 'yaml';
import { resolveSpec, type ClusterInput } from '../lib/config/load.js';
import type { ClusterSpec } from '../lib/config/spec.js';
import { UserError } from '../lib/errors.js';
import { decide, type DecideContext } from '../lib/engine/decide.js';
import { authorityTargets, clusterTargets, flagTargets, renewableTargets } from '../lib/engine/desired.js';
import { Observer, type FileSource, type PathKind } from '../lib/engine/observe.js';
import type { Plan, PlanItem, RunRoot } from '../lib/engine/plan.js';
import { planData, renderPlanText } from '../lib/engine/render.js';
import { initDirs } from '../lib/engine/roots.js';
import { Run } from '../lib/engine/run.js';
import type { GeneratedTarget, Target } from '../lib/engine/targets.js';
import { buildKubeconfig, serverURL } from '../lib/kubeconfig/kubeconfig.js';
import { CA_NAMES, KUBECONFIGS, PROFILES, certificatesFor, findEntry, type AltNames, type CAName, type Profile, type Subject } from '../lib/pki/catalog.js';
import type { Certificate } from '../lib/pki/certificate.js';
import { issueCertificate } from '../lib/pki/issue.js';
import { generateKey, type KeyPair } from '../lib/pki/keys.js';
import { keySigner, withCertificate, type Signer } from '../lib/pki/signer.js';

const DAY = 86_400_000;
const NOW = Date.now();

// ---------------------------------------------------------------- a file system in memory

/** A regular file (mode 0644 unless given), or something that is not one. */
type Node = { data: string | Buffer; mode?: number } | { type: Exclude<PathKind['type'], 'file'>; mode?: number };
type Files = Record<string, Node>;

interface MemorySource extends FileSource {
  /** Every path stat'ed, in order. */
  readonly looked: string[];
}

const systemError = (code: string, file: string) => Object.assign(new Error(`${code}: lstat '${file}'`), { code });

/**
 * A FileSource over absolute paths. Folders are implied by the files under
 * them (or given as { type: 'dir' }); a path below a regular file fails as
 * lstat does (ENOTDIR); a path below a symbolic link fails loudly, since the
 * observer must never look through one.
 */
function memory(files: Files): MemorySource {
  const map = new Map(Object.entries(files));
  const looked: string[] = [];
  return {
    looked,
    stat(file) {
      looked.push(file);
      for (let up = path.dirname(file); up !== path.dirname(up); up = path.dirname(up)) {
        const n = map.get(up);
        if (!n || ('type' in n && n.type === 'dir')) continue;
        if ('data' in n) throw systemError('ENOTDIR', file);
        throw new Error(`the observer looked through the symbolic link ${up} (at ${file})`);
      }
      const n = map.get(file);
      if (n) return 'data' in n ? { type: 'file', mode: n.mode ?? 0o644 } : { type: n.type, mode: n.mode ?? 0o777 };
      if (file === '/' || [...map.keys()].some((k) => k.startsWith(`${file}/`))) return { type: 'dir', mode: 0o755 };
      return undefined;
    },
    read(file) {
      const n = map.get(file);
      if (!n || !('data' in n)) throw systemError('ENOENT', file);
      return Buffer.from(n.data);
    },
    subdirs(dir) {
      const n = map.get(dir);
      if (n && !('type' in n && n.type === 'dir')) throw systemError('ENOTDIR', dir);
      const inside = [...map.entries()].filter(([k]) => k.startsWith(`${dir}/`));
      if (!n && !inside.length) throw systemError('ENOENT', dir);
      const names = new Set<string>();
      for (const [k, v] of inside) {
        const [name, ...deeper] = k.slice(dir.length + 1).split('/');
        if (deeper.length || ('type' in v && v.type === 'dir')) names.add(name!);
      }
      return [...names];
    },
  };
}

const pub = (data: string): Node => ({ data, mode: 0o644 });
const secret = (data: string): Node => ({ data, mode: 0o600 });

/** `files` without these paths. */
function without(files: Files, ...paths: string[]): Files {
  const out = { ...files };
  for (const p of paths) {
    if (!(p in out)) throw new Error(`without: ${p} is not in the fixture`);
    delete out[p];
  }
  return out;
}

// ---------------------------------------------------------------- the cluster and its PKI

const INPUT: ClusterInput = { nodeName: 'cp-1', advertiseAddress: '192.168.10.11', certificatesDir: '/k/pki', encryptionAlgorithm: 'ECDSA-P256' };
const SPEC = resolveSpec(INPUT);
const DIRS = initDirs(SPEC);
/** How init shows paths: relative in the cert dir, "X in DIR" elsewhere. */
const INIT_SHOW = { certs: 'relative', kubeconfigs: 'in-dir', flags: 'in-dir' } as const;
const C = (rel: string) => path.join(DIRS.certs, rel);
const K = (rel: string) => path.join(DIRS.kubeconfigs, rel);
const F = (rel: string) => path.join(DIRS.flags, rel);

// A handful of keys, made once and shared: what is judged is which key goes with which certificate.
const [CA_KEY, OTHER_KEY, LEAF_KEY, SA_KEY, SPARE_KEY] = await Promise.all([0, 1, 2, 3, 4].map(() => generateKey('ECDSA-P256'))) as [KeyPair, KeyPair, KeyPair, KeyPair, KeyPair];

async function selfSignedCA(cn: string, key: KeyPair): Promise<Signer> {
  const certificate = await issueCertificate({
    subject: { cn }, sans: { dns: [cn], ips: [] }, profile: PROFILES.ca, publicKey: key.spki, publicKeyAlgorithm: key.algorithm,
    notBefore: new Date(NOW - DAY), notAfter: new Date(NOW + 3650 * DAY), selfSigner: keySigner(key.privateKey, key.algorithm),
  });
  return withCertificate(keySigner(key.privateKey, key.algorithm), certificate);
}

const CAS: Record<CAName, Signer> = {
  ca: await selfSignedCA('kubernetes', CA_KEY),
  'front-proxy-ca': await selfSignedCA('front-proxy-ca', CA_KEY),
  'etcd-ca': await selfSignedCA('etcd-ca', CA_KEY),
};
/** Another cluster's CA: the same name, another key. */
const OTHER_CA = await selfSignedCA('kubernetes', OTHER_KEY);

function leaf(o: { issuer: Signer; subject: Subject; sans?: AltNames; profile?: Profile; key?: KeyPair; notAfter?: number }): Promise<Certificate> {
  const key = o.key ?? LEAF_KEY;
  return issueCertificate({
    subject: o.subject, sans: o.sans ?? { dns: [], ips: [] }, profile: o.profile ?? PROFILES.client, publicKey: key.spki, publicKeyAlgorithm: key.algorithm,
    notBefore: new Date(NOW - DAY), notAfter: new Date(o.notAfter ?? NOW + 365 * DAY), issuer: o.issuer,
  });
}

/** The catalog leaf `name` as the description asks for it. */
function leafOf(name: string, spec: ClusterSpec = SPEC, o: { issuer?: Signer; key?: KeyPair; notAfter?: number; sans?: AltNames; subject?: Subject } = {}) {
  const e = findEntry(name)!;
  return leaf({ issuer: o.issuer ?? CAS[e.ca!], subject: o.subject ?? e.subject(spec), sans: o.sans ?? e.sans(spec), profile: PROFILES[e.profile], ...(o.key ? { key: o.key } : {}), ...(o.notAfter ? { notAfter: o.notAfter } : {}) });
}

function kubeconfigText(o: { ca: Certificate; client: Certificate; user: string; key?: KeyPair; server?: string }): string {
  return buildKubeconfig({
    clusterName: SPEC.clusterName, server: o.server ?? serverURL(SPEC, 'endpoint'), caPem: o.ca.pem, user: o.user,
    credentials: { certPem: o.client.pem, keyPem: (o.key ?? LEAF_KEY).privateKeyPem },
  });
}

/** A kubeconfig whose client certificate is the identity `name` of the catalog asks for. */
async function kubeconfigOf(name: string, o: { issuer?: Signer; embed?: Certificate; subject?: Subject; server?: string } = {}): Promise<string> {
  const k = KUBECONFIGS.find((x) => x.name === name)!;
  const subject = o.subject ?? k.subject(SPEC);
  const client = await leaf({ issuer: o.issuer ?? CAS.ca, subject });
  return kubeconfigText({ ca: o.embed ?? CAS.ca.certificate, client, user: subject.cn, server: o.server ?? serverURL(SPEC, k.server) });
}

/** Everything init writes, as init would have written it for SPEC. */
async function completePKI(): Promise<Files> {
  const files: Files = {};
  for (const e of certificatesFor(SPEC)) {
    const certificate = e.ca ? await leafOf(e.name) : CAS[e.name as CAName].certificate;
    files[C(`${e.base}.crt`)] = pub(certificate.pem);
    files[C(`${e.base}.key`)] = secret((e.ca ? LEAF_KEY : CA_KEY).privateKeyPem);
  }
  files[C('sa.key')] = secret(SA_KEY.privateKeyPem);
  files[C('sa.pub')] = secret(SA_KEY.publicKeyPem);
  for (const k of KUBECONFIGS) files[K(k.file)] = secret(await kubeconfigOf(k.name));
  for (const g of flagTargets(SPEC, () => new Set())) for (const f of g.files) files[F(f.rel)] = secret(f.data()); // 0600, as init writes them
  return files;
}
const FULL = await completePKI();
/** The content of a file of the complete PKI. */
function textOf(file: string): string {
  const n = FULL[file];
  if (!n || !('data' in n)) throw new Error(`${file} is not a file of the fixture`);
  return String(n.data);
}
/** Only the three CAs, with their keys. */
const CAS_ONLY: Files = Object.fromEntries(Object.entries(FULL).filter(([p]) => /\/(etcd\/)?(ca|front-proxy-ca)\.(crt|key)$/.test(p)));

// ---------------------------------------------------------------- running the planner

/** init's plan over these files: clusterTargets decided by a Run reading memory. */
async function initPlan(files: Files, spec: ClusterSpec = SPEC) {
  const source = memory(files);
  const run = new Run({ dirs: initDirs(spec), now: NOW, source, show: INIT_SHOW });
  const externalCAs = () => new Set(CA_NAMES.filter((n) => run.ca(n)?.action === 'external'));
  const targets = clusterTargets(spec, { now: NOW, kubeconfigs: true, flags: true, externalCAs });
  const items = await run.decide(targets);
  const item = (id: string): PlanItem => {
    const found = items.find((i) => i.id === id);
    if (!found) throw new Error(`no plan item ${id}; problems: ${run.plan.problems.join(' | ')}`);
    return found;
  };
  const target = (id: string): Target => targets.find((x) => x.id === id)!;
  return { run, items, item, target, targets, source };
}

/** certs renew NAME... (or all, without names) over these files, as runRenew decides it. */
async function renewPlan(files: Files, o: { names?: string[]; spec?: ClusterSpec; keepKey?: boolean } = {}) {
  const spec = o.spec ?? SPEC;
  const run = new Run({ dirs: { certs: spec.certificatesDir, kubeconfigs: spec.kubeconfigDir }, now: NOW, explicit: o.names !== undefined, source: memory(files) });
  const all = renewableTargets(spec, o.keepKey ?? false);
  const targets = o.names ? all.filter((x) => o.names!.includes(x.name)) : all;
  await run.decide(authorityTargets(spec, [...new Set(targets.map((x) => (x.kind === 'certificate' ? x.ca! : x.signer)))]));
  const items = await run.decide(targets);
  return { run, items, targets, item: (id: string) => items.find((i) => i.id === id) };
}

/** A decide context as init's run makes it (for decide() called directly). */
function context(dirs: Partial<Record<RunRoot, string>> = DIRS): DecideContext {
  const dir = (root: RunRoot) => dirs[root]!;
  return {
    now: new Date(NOW),
    where: (root, rel) => (root === 'certs' ? rel : `${rel} in ${dir(root)}`),
    full: (root, rel) => path.join(dir(root), rel),
    cas: new Map(),
    explicit: false,
  };
}

const ids = (items: readonly PlanItem[]) => items.map((i) => i.id);

const LEAVES = ['apiserver', 'apiserver-kubelet-client', 'kubelet-server', 'front-proxy-client', 'etcd-server', 'etcd-peer', 'etcd-healthcheck-client', 'apiserver-etcd-client'];
const KUBECONFIG_NAMES = ['admin.conf', 'super-admin.conf', 'kubelet.conf', 'controller-manager.conf', 'scheduler.conf'];
const FLAG_GROUPS = ['flags/kube-apiserver', 'flags/kube-controller-manager', 'flags/kube-scheduler', 'flags/kubelet', 'flags/etcd', 'flags/etcdctl'];
const BASE = (name: string) => findEntry(name)!.base;

// ================================================================ 1. an empty cert dir

test('on an empty cert dir init creates every target, CAs first, each writing all of its files, with no problem', async (t) => {
  const { run, items, item, source } = await initPlan({});
  t.deepEqual(run.plan.problems, []);
  t.deepEqual(run.skipped, []);
  t.deepEqual(ids(items), ['ca', 'front-proxy-ca', 'etcd-ca', ...LEAVES, 'sa', ...KUBECONFIG_NAMES, ...FLAG_GROUPS]);
  t.deepEqual(run.plan.items, items, 'the items decided are the plan');
  t.true(items.every((i) => i.action === 'create'), items.filter((i) => i.action !== 'create').map((i) => `${i.id}: ${i.action}`).join(', '));
  t.true(items.every((i) => i.uses.length === 0 && i.notes.length === 0));

  // CAs are decided before anything they sign, and their state is recorded for what follows.
  const lastCA = Math.max(...items.filter((i) => i.kind === 'ca').map((i) => items.indexOf(i)));
  const firstLeaf = Math.min(...items.filter((i) => i.kind === 'certificate').map((i) => items.indexOf(i)));
  t.true(lastCA < firstLeaf);
  for (const ca of CA_NAMES) t.is(run.ca(ca)?.action, 'create', ca);

  t.like(item('ca'), { kind: 'ca', writes: ['ca.crt', 'ca.key'], key: '/k/pki/ca.key', subject: { cn: 'kubernetes' }, validity: SPEC.caCertificateValidity });
  t.like(item('etcd-ca'), { kind: 'ca', writes: ['etcd/ca.crt', 'etcd/ca.key'], key: '/k/pki/etcd/ca.key' });
  for (const name of LEAVES) {
    const i = item(name);
    t.deepEqual(i.writes, [`${BASE(name)}.crt`, `${BASE(name)}.key`], name);
    t.is(i.kind, 'certificate');
    t.is(i.validity, SPEC.certificateValidity);
    t.is(i.keyAlgorithm, 'ECDSA-P256');
  }
  t.like(item('apiserver'), { ca: 'ca', subject: { cn: 'kube-apiserver' }, profile: PROFILES.server });
  t.deepEqual(item('apiserver').sans, {
    dns: ['cp-1', 'kubernetes', 'kubernetes.default', 'kubernetes.default.svc', 'kubernetes.default.svc.cluster.local'], ips: ['10.96.0.1', '192.168.10.11'],
  });
  t.like(item('front-proxy-client'), { ca: 'front-proxy-ca' });
  t.like(item('etcd-server'), { ca: 'etcd-ca', subject: { cn: 'cp-1' }, sans: { dns: ['cp-1', 'localhost'], ips: ['192.168.10.11', '127.0.0.1', '::1'] } });
  t.like(item('sa'), { kind: 'key-pair', writes: ['sa.key', 'sa.pub'] });
  for (const name of KUBECONFIG_NAMES) t.like(item(name), { kind: 'kubeconfig', root: 'kubeconfigs', writes: [name], ca: 'ca' }, name);
  t.deepEqual(item('kubelet.conf').subject, { cn: 'system:node:cp-1', o: ['system:nodes'] });
  t.deepEqual(item('flags/kube-apiserver').writes, ['kube-apiserver.flags', 'kube-apiserver.env', 'audit-policy.yaml']);
  t.deepEqual(item('flags/kubelet').writes, ['kubelet.flags', 'kubelet.env', 'kubelet-config.yaml']);
  t.deepEqual(item('flags/etcdctl').writes, ['etcdctl.env']);
  t.true(items.filter((i) => i.id.startsWith('flags/')).every((i) => i.kind === 'flags' && i.root === 'flags'));

  // Nothing was read, and nothing below the missing etcd/ folder was looked at.
  t.false(source.looked.some((p) => p.startsWith('/k/pki/etcd/')), source.looked.filter((p) => p.startsWith('/k/pki/etcd/')).join(', '));
  t.is(source.looked.filter((p) => p === '/k/pki/etcd').length, 1);
});

test('with external etcd there is no etcd-ca, no etcd leaf and no etcd flag file, and kube-apiserver is pointed at the external etcd', async (t) => {
  const spec = resolveSpec({
    ...INPUT, etcdExternal: true, etcdEndpoints: ['https://10.0.0.5:2379', 'https://10.0.0.6:2379'],
    etcdCAFile: '/etc/etcd/ca.crt', etcdCertFile: '/etc/etcd/apiserver-etcd-client.crt', etcdKeyFile: '/etc/etcd/apiserver-etcd-client.key',
  });
  const { run, items, target } = await initPlan({}, spec);
  t.deepEqual(run.plan.problems, []);
  t.deepEqual(ids(items), [
    'ca', 'front-proxy-ca', 'apiserver', 'apiserver-kubelet-client', 'kubelet-server', 'front-proxy-client', 'sa', ...KUBECONFIG_NAMES,
    'flags/kube-apiserver', 'flags/kube-controller-manager', 'flags/kube-scheduler', 'flags/kubelet',
  ]);
  t.true(items.every((i) => i.action === 'create'));
  t.is(run.ca('etcd-ca'), undefined);

  const apiserver = target('flags/kube-apiserver') as GeneratedTarget;
  const flags = apiserver.files.find((f) => f.rel === 'kube-apiserver.flags')!.data().split('\n');
  t.true(flags.includes('--etcd-servers=https://10.0.0.5:2379,https://10.0.0.6:2379'), flags.join('\n'));
  t.true(flags.includes('--etcd-cafile=/etc/etcd/ca.crt'));
  t.true(flags.includes('--etcd-certfile=/etc/etcd/apiserver-etcd-client.crt'));
  t.true(flags.includes('--etcd-keyfile=/etc/etcd/apiserver-etcd-client.key'));
  t.false(flags.some((f) => f.includes('/k/pki/etcd/') || f.includes('/k/pki/apiserver-etcd-client')), 'no etcd file of the cert dir');
  t.regex(apiserver.files.find((f) => f.rel === 'kube-apiserver.env')!.data(), /--etcd-servers=https:\/\/10\.0\.0\.5:2379,https:\/\/10\.0\.0\.6:2379/);
});

// ================================================================ 2. CAs

test('a CA whose certificate and key are there is reused, and its certificate is what later targets are judged against', async (t) => {
  const { run, item } = await initPlan(CAS_ONLY);
  t.deepEqual(run.plan.problems, []);
  const ca = item('ca');
  t.like(ca, { action: 'reuse', uses: ['ca.crt', 'ca.key'], writes: [], subject: { cn: 'kubernetes' }, key: '/k/pki/ca.key', notes: [] });
  t.is(ca.notAfter, CAS.ca.certificate.notAfter.toISOString());
  t.like(item('etcd-ca'), { action: 'reuse', uses: ['etcd/ca.crt', 'etcd/ca.key'] });
  t.is(run.ca('ca')?.action, 'reuse');
  t.true(run.ca('ca')!.certificate!.der.equals(CAS.ca.certificate.der));
  t.is(run.ca('ca')!.key?.from, '/k/pki/ca.key');
  t.like(item('apiserver'), { action: 'create', writes: ['apiserver.crt', 'apiserver.key'] });
});

test('a CA certificate without its key is external (with a note), and a missing leaf it should sign is a problem naming the CA', async (t) => {
  const { run, items, item } = await initPlan(without(CAS_ONLY, C('front-proxy-ca.key')));
  t.like(item('front-proxy-ca'), { action: 'external', uses: ['front-proxy-ca.crt'], writes: [], subject: { cn: 'front-proxy-ca' } });
  t.deepEqual(item('front-proxy-ca').notes, ['front-proxy-ca.key is absent: this CA is managed outside kubepki; its certificates must exist already']);
  t.is(run.ca('front-proxy-ca')?.action, 'external');
  t.false(items.some((i) => i.id === 'front-proxy-client'));
  t.deepEqual(run.plan.problems, [
    'front-proxy-client.crt is missing, and front-proxy-ca is managed outside kubepki (front-proxy-ca.crt without its key): have that CA issue front-proxy-client.crt and front-proxy-client.key, or provide the CA key',
  ]);
});

test('with the cluster CA external, its existing leaves and kubeconfigs are kept and the controller-manager gets no signing files', async (t) => {
  const { run, item, target } = await initPlan(without(FULL, C('ca.key'), F('kube-controller-manager.flags'), F('kube-controller-manager.env')));
  t.deepEqual(run.plan.problems, []);
  t.is(item('ca').action, 'external');
  for (const id of ['apiserver', 'apiserver-kubelet-client', 'kubelet-server', ...KUBECONFIG_NAMES]) t.is(item(id).action, 'keep', id);
  t.deepEqual(item('flags/kube-controller-manager').writes, ['kube-controller-manager.flags', 'kube-controller-manager.env']);
  const flags = (target('flags/kube-controller-manager') as GeneratedTarget).files[0]!.data().split('\n');
  t.true(flags.includes('--cluster-signing-cert-file='), flags.join('\n'));
  t.true(flags.includes('--cluster-signing-key-file='));
  t.true(flags.includes('--root-ca-file=/k/pki/ca.crt'));
});

test('a kubeconfig missing while the cluster CA is external is a problem naming the CA', async (t) => {
  const { run } = await initPlan(without(FULL, C('ca.key'), K('scheduler.conf'), F('kube-controller-manager.flags'), F('kube-controller-manager.env')));
  t.deepEqual(run.plan.problems, ['scheduler.conf in /k is missing, and ca is managed outside kubepki (ca.crt without its key): have that CA sign scheduler.conf.csr (kubepki certs generate-csr writes it) and put the certificate at scheduler.conf.crt, or provide ca.key']);
});

test('a CA key without its certificate is a problem (kubepki will not overwrite a key), and what the CA would sign is left out silently', async (t) => {
  const { run, items } = await initPlan(without(CAS_ONLY, C('etcd/ca.crt')));
  t.deepEqual(run.plan.problems, ['etcd/ca.key exists but etcd/ca.crt does not; kubepki will not overwrite a key: restore etcd/ca.crt or move etcd/ca.key away']);
  t.is(run.ca('etcd-ca'), undefined);
  for (const id of ['etcd-ca', 'etcd-server', 'etcd-peer', 'etcd-healthcheck-client', 'apiserver-etcd-client']) t.false(items.some((i) => i.id === id), id);
  t.deepEqual(run.skipped, []);
});

test('a CA certificate that is not a CA certificate is a problem', async (t) => {
  const notCA = await leafOf('front-proxy-client', SPEC, { key: CA_KEY });
  const { run } = await initPlan({ ...CAS_ONLY, [C('front-proxy-ca.crt')]: pub(notCA.pem) });
  t.deepEqual(run.plan.problems, ['front-proxy-ca.crt is not a CA certificate (no CA basic constraint); restore the right one or move it away']);
});

// ================================================================ 3. leaves

test('a complete PKI as init wrote it is reused and kept throughout: nothing to write, nothing to note', async (t) => {
  const { run, items } = await initPlan(FULL);
  t.deepEqual(run.plan.problems, []);
  t.is(items.length, 23);
  t.deepEqual(items.filter((i) => i.action !== 'keep').map((i) => `${i.id}:${i.action}`), ['ca:reuse', 'front-proxy-ca:reuse', 'etcd-ca:reuse', 'sa:reuse']);
  t.true(items.every((i) => i.writes.length === 0), items.filter((i) => i.writes.length).map((i) => i.id).join(', '));
  t.deepEqual(items.flatMap((i) => i.notes), []);
});

test('an existing leaf that matches the description is kept, with its expiry', async (t) => {
  const cert = await leafOf('apiserver');
  const { run, item } = await initPlan({ ...CAS_ONLY, [C('apiserver.crt')]: pub(cert.pem), [C('apiserver.key')]: secret(LEAF_KEY.privateKeyPem) });
  t.deepEqual(run.plan.problems, []);
  t.like(item('apiserver'), { action: 'keep', uses: ['apiserver.crt', 'apiserver.key'], writes: [], notes: [], notAfter: cert.notAfter.toISOString() });
  t.is(item('apiserver-kubelet-client').action, 'create');
});

test('an expired leaf that matches is kept, with a note saying when it expired', async (t) => {
  const cert = await leafOf('front-proxy-client', SPEC, { notAfter: NOW - 2 * DAY });
  const { run, item } = await initPlan({ ...FULL, [C('front-proxy-client.crt')]: pub(cert.pem) });
  t.deepEqual(run.plan.problems, []);
  t.is(item('front-proxy-client').action, 'keep');
  t.deepEqual(item('front-proxy-client').notes, [`expired on ${cert.notAfter.toISOString()}`]);
});

test('an existing leaf with other SANs is a problem listing what it lacks and what it has', async (t) => {
  const want = findEntry('apiserver')!.sans(SPEC);
  const sans = { dns: [...want.dns.filter((d) => d !== 'kubernetes.default'), 'old.example'].sort(), ips: [...want.ips, '10.0.0.9'] };
  const cert = await leafOf('apiserver', SPEC, { sans });
  const { run, items } = await initPlan({ ...FULL, [C('apiserver.crt')]: pub(cert.pem) });
  t.false(items.some((i) => i.id === 'apiserver'));
  t.deepEqual(run.plan.problems, [
    'apiserver.crt does not match the cluster description: SANs: lacks DNS:kubernetes.default; has DNS:old.example, IP:10.0.0.9 not in the description. To change it on purpose, run "kubepki certs reconcile" (it re-issues what differs, the old files kept in a backup), or move apiserver.crt and apiserver.key away and run again to have them re-created',
  ]);
});

test('an existing leaf with another subject is a problem giving both', async (t) => {
  const cert = await leafOf('apiserver-kubelet-client', SPEC, { subject: { cn: 'kube-apiserver-kubelet-client', o: ['system:masters'] } });
  const { run } = await initPlan({ ...FULL, [C('apiserver-kubelet-client.crt')]: pub(cert.pem) });
  t.deepEqual(run.plan.problems, [
    'apiserver-kubelet-client.crt does not match the cluster description: subject is O=system:masters, CN=kube-apiserver-kubelet-client, the description wants O=kubeadm:cluster-admins, CN=kube-apiserver-kubelet-client. To change it on purpose, run "kubepki certs reconcile" (it re-issues what differs, the old files kept in a backup), or move apiserver-kubelet-client.crt and apiserver-kubelet-client.key away and run again to have them re-created',
  ]);
});

test('an existing leaf signed by another CA of the same name is a problem: "is not signed by"', async (t) => {
  const cert = await leafOf('apiserver', SPEC, { issuer: OTHER_CA });
  const { run, items } = await initPlan({ ...FULL, [C('apiserver.crt')]: pub(cert.pem) });
  t.false(items.some((i) => i.id === 'apiserver'));
  t.deepEqual(run.plan.problems, ['apiserver.crt is not signed by ca (ca.crt); move apiserver.crt and apiserver.key away to have them re-created, or restore the matching CA']);
});

test('a key that does not match its certificate is a problem', async (t) => {
  const { run } = await initPlan({ ...FULL, [C('etcd/peer.key')]: secret(SPARE_KEY.privateKeyPem) });
  t.deepEqual(run.plan.problems, ['etcd/peer.key does not match etcd/peer.crt (different public keys); restore the right pair from a backup']);
});

test('half a pair is a problem, whichever half is there', async (t) => {
  const { run } = await initPlan(without(FULL, C('apiserver.key'), C('etcd/server.crt')));
  t.deepEqual(run.plan.problems, [
    'apiserver.crt exists but apiserver.key does not; kubepki will not overwrite half a pair: restore apiserver.key or move apiserver.crt away',
    'etcd/server.key exists but etcd/server.crt does not; kubepki will not overwrite half a pair: restore etcd/server.crt or move etcd/server.key away',
  ]);
});

test('a leaf that exists while its CA is to be created is a problem', async (t) => {
  const { run, item } = await initPlan(without(FULL, C('front-proxy-ca.crt'), C('front-proxy-ca.key')));
  t.is(item('front-proxy-ca').action, 'create');
  t.deepEqual(run.plan.problems, [
    'front-proxy-client.crt exists but its CA (front-proxy-ca) is to be created, so it cannot have signed it; move front-proxy-client.crt and front-proxy-client.key away, or restore the CA',
  ]);
});

test('a key others may read (mode 0644) is refused, with the chmod to run', async (t) => {
  const { run } = await initPlan({ ...FULL, [C('apiserver.key')]: { data: LEAF_KEY.privateKeyPem, mode: 0o644 } });
  t.deepEqual(run.plan.problems, ['apiserver.key is readable by others than its owner (mode 0644); run "chmod 600 /k/pki/apiserver.key" and try again']);
});

test('a CA key others may read is refused too, and a group-only bit is enough', async (t) => {
  const { run } = await initPlan({ ...FULL, [C('etcd/ca.key')]: { data: CA_KEY.privateKeyPem, mode: 0o640 } });
  t.deepEqual(run.plan.problems, ['etcd/ca.key is readable by others than its owner (mode 0640); run "chmod 600 /k/pki/etcd/ca.key" and try again']);
});

test('a symbolic link where a key should be is refused: "is a symbolic link"', async (t) => {
  const { run } = await initPlan({ ...FULL, [C('apiserver.key')]: { type: 'symlink' } });
  t.deepEqual(run.plan.problems, ['apiserver.key is a symbolic link; kubepki reads and writes regular files only: move it away']);
});

test('a directory where a certificate should be is refused', async (t) => {
  const { run } = await initPlan({ ...without(FULL, C('apiserver.crt')), [C('apiserver.crt')]: { type: 'dir' } });
  t.deepEqual(run.plan.problems, ['apiserver.crt is a directory; kubepki reads and writes regular files only: move it away']);
});

test('files inside a folder that is a symbolic link are refused, and nothing is looked at through the link', async (t) => {
  const files = { ...without(FULL, ...Object.keys(FULL).filter((p) => p.startsWith('/k/pki/etcd/'))), [C('etcd')]: { type: 'symlink' } } as Files;
  const { run, items, source } = await initPlan(files);
  // Each file below the link is refused (the CA and the leaves that live there); apiserver-etcd-client,
  // which lives outside etcd/, is left out silently: its CA's problem is reported already.
  t.deepEqual(run.plan.problems, ['ca', 'server', 'peer', 'healthcheck-client'].map((b) => `etcd/${b}.crt is inside etcd, which is a symbolic link; kubepki reads and writes regular files only: move it away`));
  t.false(items.some((i) => i.id.startsWith('etcd-') || i.id === 'apiserver-etcd-client'));
  t.is(run.ca('etcd-ca'), undefined);
  t.false(source.looked.some((p) => p.startsWith('/k/pki/etcd/')));

  // The observer itself: every file below the link is refused, the folder looked at once.
  const src = memory(files);
  const o = new Observer(DIRS, src);
  for (const rel of ['etcd/ca.crt', 'etcd/server.key', 'etcd/peer.crt']) {
    t.deepEqual(o.file('certs', rel), { state: 'refused', trouble: { code: 'not-a-file', what: 'inside etcd, which is a symbolic link' } }, rel);
  }
  t.deepEqual(src.looked, ['/k/pki/etcd']);
});

test('a certificate file holding garbage is refused: "holds no PEM certificate"', async (t) => {
  const { run } = await initPlan({ ...FULL, [C('apiserver.crt')]: pub('this is not a certificate\n') });
  t.deepEqual(run.plan.problems, ['apiserver.crt holds no PEM certificate; restore it from a backup or move it away']);
});

test('a certificate file holding two certificates is refused, and a key file holding no key too', async (t) => {
  const two = (await leafOf('apiserver')).pem + (await leafOf('apiserver')).pem;
  const { run } = await initPlan({ ...FULL, [C('apiserver.crt')]: pub(two), [C('front-proxy-client.key')]: secret('garbage') });
  t.deepEqual(run.plan.problems, [
    'apiserver.crt holds 2 certificates; kubepki wants exactly one; restore it from a backup or move it away',
    'front-proxy-client.key holds no PEM private key; restore it from a backup or move it away',
  ]);
});

// ================================================================ 4. the service-account key pair

test('sa: a key without its public key is reused, and the public key is re-created from it', async (t) => {
  const { run, item } = await initPlan(without(FULL, C('sa.pub')));
  t.deepEqual(run.plan.problems, []);
  t.like(item('sa'), { action: 'reuse', uses: ['sa.key'], writes: ['sa.pub'] });
  t.deepEqual(item('sa').notes, ['sa.pub is re-created from the existing sa.key']);
  t.is(run.material('sa')?.key?.pem, SA_KEY.privateKeyPem);
  // Made in memory: the public key of the existing private key.
  t.deepEqual(await run.render([item('sa')]), [SA_KEY.publicKeyPem]);
});

test('sa: a key with its matching public key is reused as it is', async (t) => {
  const { item } = await initPlan(FULL);
  t.like(item('sa'), { action: 'reuse', uses: ['sa.key', 'sa.pub'], writes: [], notes: [] });
});

test('sa: a public key without its private key is a problem', async (t) => {
  const { run, items } = await initPlan(without(FULL, C('sa.key')));
  t.false(items.some((i) => i.id === 'sa'));
  t.deepEqual(run.plan.problems, ['sa.pub exists but sa.key does not; restore sa.key, or move sa.pub away to have a new pair created']);
});

test('sa: a public key that does not match the private key is a problem', async (t) => {
  const { run } = await initPlan({ ...FULL, [C('sa.pub')]: secret(SPARE_KEY.publicKeyPem) });
  t.deepEqual(run.plan.problems, ['sa.pub does not match sa.key; tokens signed with the key would not verify: move sa.pub away to have it re-created from sa.key']);
});

// ================================================================ 5. kubeconfigs

test('a kubeconfig that is missing is created; one that matches is kept, with its client certificate\'s expiry', async (t) => {
  const { run, item } = await initPlan(without(FULL, K('super-admin.conf')));
  t.deepEqual(run.plan.problems, []);
  t.like(item('super-admin.conf'), { action: 'create', writes: ['super-admin.conf'], uses: [], subject: { cn: 'kubernetes-super-admin', o: ['system:masters'] } });
  const admin = item('admin.conf');
  t.like(admin, { action: 'keep', uses: ['admin.conf'], writes: [], notes: [] });
  t.regex(admin.notAfter ?? '', /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.000Z$/);
  t.true(new Date(admin.notAfter!).getTime() > NOW + 364 * DAY);
});

test('a kubeconfig that embeds another CA is a problem: "wrong CA cert"', async (t) => {
  const text = await kubeconfigOf('admin.conf', { issuer: OTHER_CA, embed: OTHER_CA.certificate });
  const { run, items } = await initPlan({ ...FULL, [K('admin.conf')]: secret(text) });
  t.false(items.some((i) => i.id === 'admin.conf'));
  t.deepEqual(run.plan.problems, ['admin.conf in /k exists but has got the wrong CA cert (not this cluster\'s ca.crt); move it away to have it written anew']);
});

test('a kubeconfig embedding the cluster CA with a client certificate from another CA is a problem', async (t) => {
  const text = await kubeconfigOf('controller-manager.conf', { issuer: OTHER_CA });
  const { run } = await initPlan({ ...FULL, [K('controller-manager.conf')]: secret(text) });
  t.deepEqual(run.plan.problems, ['controller-manager.conf in /k: its client certificate is not signed by ca; move it away to have it written anew']);
});

test('a kubeconfig for another identity is a problem naming both', async (t) => {
  const text = await kubeconfigOf('admin.conf', { subject: { cn: 'someone-else' } });
  const { run } = await initPlan({ ...FULL, [K('admin.conf')]: secret(text) });
  t.deepEqual(run.plan.problems, [
    'admin.conf in /k: its client certificate is for CN=someone-else, the description wants O=kubeadm:cluster-admins, CN=kubernetes-admin; move it away to have it written anew',
  ]);
});

test('a kubeconfig with another server is kept, with a note', async (t) => {
  const text = await kubeconfigOf('scheduler.conf', { server: 'https://10.0.0.1:6443' });
  const { run, item } = await initPlan({ ...FULL, [K('scheduler.conf')]: secret(text) });
  t.deepEqual(run.plan.problems, []);
  t.is(item('scheduler.conf').action, 'keep');
  t.deepEqual(item('scheduler.conf').notes, ['its server is https://10.0.0.1:6443, the description gives https://192.168.10.11:6443']);
});

/** A kubeconfig whose user's client certificate and key are files (as a kubelet that rotates its certificate has). */
function certificateFileKubeconfig(user: string): string {
  const context = `${user}@kubernetes`;
  return stringify({
    apiVersion: 'v1', kind: 'Config',
    clusters: [{ name: 'kubernetes', cluster: { 'certificate-authority-data': Buffer.from(CAS.ca.certificate.pem).toString('base64'), server: 'https://192.168.10.11:6443' } }],
    contexts: [{ name: context, context: { cluster: 'kubernetes', user } }],
    'current-context': context,
    users: [{ name: user, user: { 'client-certificate': '/var/lib/kubelet/pki/kubelet-client-current.pem', 'client-key': '/var/lib/kubelet/pki/kubelet-client-current.pem' } }],
  });
}

test('kubelet.conf pointing at a client-certificate file is kept unjudged, with a note; another kubeconfig like it is a problem', async (t) => {
  const { run, item } = await initPlan({
    ...FULL, [K('kubelet.conf')]: secret(certificateFileKubeconfig('system:node:cp-1')), [K('admin.conf')]: secret(certificateFileKubeconfig('kubernetes-admin')),
  });
  const kubelet = item('kubelet.conf');
  t.like(kubelet, { action: 'keep', uses: ['kubelet.conf'], writes: [] });
  t.deepEqual(kubelet.notes, ['its client certificate is the file /var/lib/kubelet/pki/kubelet-client-current.pem (rotated by the kubelet); not checked']);
  t.is(kubelet.notAfter, undefined);
  t.deepEqual(run.plan.problems, ['admin.conf in /k has no client certificate for its current user; move it away to have it written anew']);
});

test('a kubeconfig others may read is refused with the chmod to run; one that is not YAML is refused', async (t) => {
  const { run } = await initPlan({ ...FULL, [K('admin.conf')]: { data: textOf(K('admin.conf')), mode: 0o644 }, [K('scheduler.conf')]: secret('{ not: yaml: at all') });
  t.is(run.plan.problems.length, 2);
  t.is(run.plan.problems[0], 'admin.conf in /k is readable by others than its owner (mode 0644); run "chmod 600 /k/admin.conf" and try again');
  t.regex(run.plan.problems[1]!, /^scheduler\.conf in \/k is not valid YAML \(.+\); restore it from a backup or move it away$/);
});

test('a kubeconfig that exists while the cluster CA is to be created belongs to another cluster', async (t) => {
  const { run } = await initPlan({ [K('admin.conf')]: FULL[K('admin.conf')]! });
  t.deepEqual(run.plan.problems, ['admin.conf in /k exists but the cluster CA is to be created, so it belongs to another cluster; move it away']);
});

// ================================================================ 6. renew

test('renew: a present leaf is renewed with the subject and SANs of the existing certificate, not the description\'s', async (t) => {
  const subject = { cn: 'kube-apiserver', o: ['legacy-group'] };
  const sans = { dns: ['kubernetes', 'old-name.example'], ips: ['10.96.0.1', '10.0.0.9'] };
  const cert = await leafOf('apiserver', SPEC, { subject, sans });
  // The description now asks for other SANs (and another node address).
  const spec = resolveSpec({ ...INPUT, advertiseAddress: '192.168.10.99', apiServerCertSANs: ['new-name.example'] });
  t.notDeepEqual(findEntry('apiserver')!.sans(spec), sans);

  const { run, item, targets } = await renewPlan({ ...FULL, [C('apiserver.crt')]: pub(cert.pem) }, { spec, names: ['apiserver'] });
  t.deepEqual(run.plan.problems, []);
  t.is((targets[0] as { sans?: AltNames }).sans, undefined, 'a renew target carries no SANs of its own');
  const i = item('apiserver')!;
  t.like(i, { action: 'renew', ca: 'ca', writes: ['apiserver.crt', 'apiserver.key'], uses: [], validity: spec.certificateValidity, notAfter: cert.notAfter.toISOString() });
  t.deepEqual(i.subject, subject);
  t.deepEqual(i.sans, sans);
  // The usages of the existing certificate (their plain-data shape is a test of its own, below).
  t.like(i.profile, { isCA: false, keyUsage: PROFILES.server.keyUsage, validity: 'leaf' });
  t.deepEqual([...i.profile!.extKeyUsage], ['serverAuth']);
  t.is(run.material('apiserver'), undefined, 'without --keep-key no key is kept aside');
  // The CA it is signed with is required and reused.
  t.like(run.plan.items[0], { id: 'ca', action: 'reuse' });
});

test('renew --keep-key keeps the existing key aside for making the new certificate', async (t) => {
  const { run, item } = await renewPlan(FULL, { names: ['front-proxy-client'], keepKey: true });
  t.is(item('front-proxy-client')?.action, 'renew');
  t.is(run.material('front-proxy-client')?.key?.pem, LEAF_KEY.privateKeyPem);
});

test('renew: a kubeconfig is renewed from its embedded client certificate, keeping the rest of its text', async (t) => {
  const { run, item } = await renewPlan(FULL, { names: ['admin.conf'] });
  t.deepEqual(run.plan.problems, []);
  t.like(item('admin.conf'), { action: 'renew', writes: ['admin.conf'], subject: { cn: 'kubernetes-admin', o: ['kubeadm:cluster-admins'] }, sans: { dns: [], ips: [] } });
  t.is(run.material('admin.conf')?.kubeconfigText, textOf(K('admin.conf')));
});

test('renew all: what is missing is skipped with "MISSING!", not a problem', async (t) => {
  const { run, items } = await renewPlan({ ...CAS_ONLY, [C('apiserver.crt')]: FULL[C('apiserver.crt')]!, [C('apiserver.key')]: FULL[C('apiserver.key')]! });
  t.deepEqual(run.plan.problems, []);
  t.deepEqual(ids(items), ['apiserver']);
  t.deepEqual(run.skipped, [
    'MISSING! certificate for the API server to connect to kubelet (apiserver-kubelet-client)',
    'MISSING! certificate for serving the kubelet\'s API, verified by the API server (kubelet-server)',
    'MISSING! certificate for the front proxy client (front-proxy-client)',
    'MISSING! certificate for serving etcd (etcd-server)',
    'MISSING! certificate for etcd nodes to communicate with each other (etcd-peer)',
    'MISSING! certificate for liveness probes to healthcheck etcd (etcd-healthcheck-client)',
    'MISSING! certificate the apiserver uses to access etcd (apiserver-etcd-client)',
    'MISSING! certificate embedded in the kubeconfig file for the admin to use and for kubeadm itself (admin.conf)',
    'MISSING! certificate embedded in the kubeconfig file for the super-admin (super-admin.conf)',
    'MISSING! certificate embedded in the kubeconfig file for the kubelet of this node (kubelet.conf)',
    'MISSING! certificate embedded in the kubeconfig file for the controller manager to use (controller-manager.conf)',
    'MISSING! certificate embedded in the kubeconfig file for the scheduler manager to use (scheduler.conf)',
  ]);
});

test('renew NAME: a named certificate or kubeconfig that is missing is a problem, not a skip', async (t) => {
  const { run, items } = await renewPlan(CAS_ONLY, { names: ['etcd-server', 'admin.conf'] });
  t.deepEqual(items, []);
  t.deepEqual(run.skipped, []);
  t.deepEqual(run.plan.problems, ['/k/pki/etcd/server.crt is missing', '/k/admin.conf is missing']);
});

test('renew: half a pair is a problem, even for renew all', async (t) => {
  const { run } = await renewPlan(without(FULL, C('kubelet-server.key')));
  t.deepEqual(run.plan.problems, ['/k/pki/kubelet-server.key is missing']);
});

test('renew all: certificates of a CA whose key is absent are skipped as "Detected external"', async (t) => {
  const { run, items } = await renewPlan(without(FULL, C('ca.key')));
  t.deepEqual(run.plan.problems, []);
  t.like(run.plan.items.find((i) => i.id === 'ca'), { action: 'external', uses: ['ca.crt'] });
  t.deepEqual(ids(items), ['front-proxy-client', 'etcd-server', 'etcd-peer', 'etcd-healthcheck-client', 'apiserver-etcd-client']);
  t.true(items.every((i) => i.action === 'renew'));
  t.deepEqual(run.skipped, [
    ...['apiserver', 'apiserver-kubelet-client', 'kubelet-server', ...KUBECONFIG_NAMES]
      .map((n) => `Detected external ca: ${n} can't be renewed here (its CA key is kept elsewhere); use --csr-only`),
  ]);
});

test('renew NAME: a certificate whose CA key is absent is a problem pointing at --csr-only', async (t) => {
  const { run, items } = await renewPlan(without(FULL, C('ca.key')), { names: ['apiserver', 'kubelet.conf'] });
  t.deepEqual(items, []);
  t.deepEqual(run.skipped, []);
  t.deepEqual(run.plan.problems, [
    'apiserver is signed by ca, whose key is not here (the CA is managed outside kubepki): have that CA renew it, or write a CSR with --csr-only --csr-dir DIR',
    'kubelet.conf is signed by ca, whose key is not here (the CA is managed outside kubepki): have that CA renew it, or write a CSR with --csr-only --csr-dir DIR',
  ]);
});

test('renew: a CA that is not there is reported through what it would sign', async (t) => {
  const { run } = await renewPlan(without(FULL, C('front-proxy-ca.crt'), C('front-proxy-ca.key')), { names: ['front-proxy-client'] });
  t.deepEqual(run.plan.problems, ['front-proxy-client: /k/pki/front-proxy-ca.crt: cannot read the front-proxy-ca certificate: no such file or directory']);
});

test('renew: a certificate signed by another CA is not re-signed', async (t) => {
  const cert = await leafOf('apiserver', SPEC, { issuer: OTHER_CA });
  const { run } = await renewPlan({ ...FULL, [C('apiserver.crt')]: pub(cert.pem) }, { names: ['apiserver'] });
  t.deepEqual(run.plan.problems, ['apiserver: its certificate is not signed by ca (/k/pki/ca.crt); kubepki will not re-sign it with another CA: restore the right CA, or re-create it with init']);
});

// ================================================================ 7. generated files

test('generated files: missing are written, identical are kept, different are a problem (decide() on an observer in memory)', async (t) => {
  const group = () => flagTargets(SPEC, () => new Set()).find((g) => g.id === 'flags/kube-scheduler')!;
  const scheduler = group();
  const [flags, env] = scheduler.files.map((f) => f.data()) as [string, string];
  t.regex(flags, /^--kubeconfig=\/k\/scheduler\.conf$/m);

  const judge = (files: Files) => decide(group(), new Observer(DIRS, memory(files)), context());

  const missing = judge({});
  t.like(missing, { kind: 'item', item: { action: 'create', kind: 'flags', writes: ['kube-scheduler.flags', 'kube-scheduler.env'], uses: [] } });

  const same = judge({ [F('kube-scheduler.flags')]: pub(flags), [F('kube-scheduler.env')]: pub(env) });
  t.like(same, { kind: 'item', item: { action: 'keep', writes: [], uses: ['kube-scheduler.flags', 'kube-scheduler.env'] } });

  const half = judge({ [F('kube-scheduler.env')]: pub(env) });
  t.like(half, { kind: 'item', item: { action: 'create', writes: ['kube-scheduler.flags'], uses: ['kube-scheduler.env'] } });

  const edited = judge({ [F('kube-scheduler.flags')]: pub(`${flags}--v=4\n`), [F('kube-scheduler.env')]: pub(env) });
  t.deepEqual(edited, { kind: 'problem', message: 'kube-scheduler.flags in /k/flags differs from what the description gives; kubepki will not overwrite it: move it away to have it written anew' });

  const both = judge({ [F('kube-scheduler.flags')]: pub('x'), [F('kube-scheduler.env')]: { type: 'symlink' } });
  t.deepEqual(both, {
    kind: 'problem',
    message: 'kube-scheduler.flags in /k/flags differs from what the description gives; kubepki will not overwrite it: move it away to have it written anew\n'
      + 'kube-scheduler.env in /k/flags is a symbolic link; move it away',
  });
});

test('generated files through a run: several problems of one group are each a problem of the plan', async (t) => {
  const { run } = await initPlan({ ...FULL, [F('kubelet.flags')]: pub('edited\n'), [F('kubelet-config.yaml')]: pub('edited: true\n') });
  t.deepEqual(run.plan.problems, [
    'kubelet.flags in /k/flags differs from what the description gives; kubepki will not overwrite it: move it away to have it written anew',
    'kubelet-config.yaml in /k/flags differs from what the description gives; kubepki will not overwrite it: move it away to have it written anew',
  ]);
});

test('a generated file under policy new is written when missing and never overwritten', async (t) => {
  const target: GeneratedTarget = {
    kind: 'generated', shownAs: 'generated', id: 'rbac', name: 'rbac', root: 'flags', policy: 'new', consumers: [],
    files: [{ rel: 'rbac.yaml', role: 'generated', data: () => 'kind: List\n' }],
    exists: (where) => `${where} exists; choose --out`,
  };
  t.like(decide(target, new Observer(DIRS, memory({})), context()), { kind: 'item', item: { action: 'create', writes: ['rbac.yaml'], kind: 'generated' } });
  t.deepEqual(decide(target, new Observer(DIRS, memory({ [F('rbac.yaml')]: pub('kind: List\n') })), context()), { kind: 'problem', message: 'rbac.yaml in /k/flags exists; choose --out' });
});

// ================================================================ 8. the plan is data

/** Where in `value` something is not plain data (JSON's types, plain objects and arrays). */
function notData(value: unknown, at: string): string[] {
  if (value === null || ['string', 'number', 'boolean'].includes(typeof value)) return [];
  // A plain Array only: a subclass (an ASN.1 library's, say) is not data, though JSON would flatten it.
  if (Array.isArray(value) && Object.getPrototypeOf(value) === Array.prototype) return value.flatMap((v, i) => notData(v, `${at}[${i}]`));
  if (typeof value === 'object' && Object.getPrototypeOf(value) === Object.prototype) return Object.entries(value).flatMap(([k, v]) => notData(v, `${at}.${k}`));
  return [`${at}: ${typeof value === 'object' ? (value as object).constructor?.name : typeof value}`];
}

/** A plan with every action: ca reused, front-proxy-ca external (its client kept), apiserver and admin.conf kept, the rest created. */
async function mixedPlan() {
  const keep = [C('ca.crt'), C('ca.key'), C('front-proxy-ca.crt'), C('front-proxy-client.crt'), C('front-proxy-client.key'), C('apiserver.crt'), C('apiserver.key'), K('admin.conf')];
  return initPlan(Object.fromEntries(keep.map((p) => [p, FULL[p]!])));
}

test('the plan is data: it survives JSON unchanged and holds no key, no function, no Buffer', async (t) => {
  const { run } = await mixedPlan();
  t.deepEqual(run.plan.problems, []);
  t.deepEqual(notData(run.plan, 'plan'), []);
  const text = JSON.stringify(run.plan);
  t.deepEqual(JSON.parse(text) as Plan, run.plan);
  t.false(text.includes('-----BEGIN'), 'no PEM in the plan');
  t.deepEqual(run.plan.dirs, { certs: '/k/pki', kubeconfigs: '/k', flags: '/k/flags' });
});

test('planData has the summary counts and each item with its directory; the text plan ends with them', async (t) => {
  const { run } = await mixedPlan();
  const data = planData(run.plan, { certDir: DIRS.certs, encryptionAlgorithm: SPEC.encryptionAlgorithm, certificateValidity: SPEC.certificateValidity, caCertificateValidity: SPEC.caCertificateValidity });
  t.deepEqual(data.summary, { create: 18, reuse: 1, keep: 3, external: 1 });
  t.is(data.items.length, 23);
  t.deepEqual(data.items.filter((i) => i.action !== 'create').map((i) => `${i.name}:${i.action}`), ['ca:reuse', 'front-proxy-ca:external', 'apiserver:keep', 'front-proxy-client:keep', 'admin.conf:keep']);
  t.like(data.items.find((i) => i.name === 'ca'), { kind: 'ca', dir: '/k/pki', subject: 'CN=kubernetes', key: '/k/pki/ca.key', uses: ['ca.crt', 'ca.key'], writes: [] });
  t.like(data.items.find((i) => i.name === 'admin.conf'), { dir: '/k', ca: 'ca', subject: 'O=kubeadm:cluster-admins, CN=kubernetes-admin' });
  t.deepEqual(data.items.find((i) => i.name === 'front-proxy-ca')!.notes, ['front-proxy-ca.key is absent: this CA is managed outside kubepki; its certificates must exist already']);
  t.deepEqual(data.problems, []);
  t.deepEqual(notData(data, 'data'), []);
  const text = renderPlanText(data);
  t.regex(text, /\n18 to create, 1 to reuse, 3 to keep, 1 external\. Dry run: nothing was written\.\n$/);
  t.regex(text, /^note: front-proxy-ca: front-proxy-ca\.key is absent/m);
});

// FINDING: certificateFacts (lib/pki/x509.ts) returns extKeyUsage as @peculiar's ExtendedKeyUsage (an
// Array subclass), and profileOf (decide.ts) keeps that class in the renew item's profile, so a renew
// plan is not plain data. Marked failing until that is fixed; then ava will say so and .failing goes.
test('the renew plan is data too: it survives JSON unchanged', async (t) => {
  const { run, items } = await renewPlan(FULL, { names: ['apiserver', 'admin.conf'] });
  t.deepEqual(ids(items), ['apiserver', 'admin.conf']);
  t.deepEqual(run.plan.problems, []);
  t.deepEqual(notData(run.plan, 'plan'), []);
  t.deepEqual(JSON.parse(JSON.stringify(run.plan)) as Plan, run.plan);
});

// ================================================================ findings: what the planner decides that looks wrong
// Each is marked failing: it states what the planner should decide, and passes (so ava asks for
// .failing to be dropped) once the engine is fixed.

// FINDING: init judges a kubeconfig's CA, signature and identity, never its embedded client key: a
// kubeconfig whose key does not go with its certificate (or that has no key) is kept, though the file
// is unusable. Leaves (does not match ... different public keys) and renew ("(client key) does not
// match") both refuse the same thing.
test('init: a kubeconfig whose embedded client key does not match its client certificate is a problem, not kept', async (t) => {
  const k = KUBECONFIGS.find((x) => x.name === 'admin.conf')!;
  const client = await leaf({ issuer: CAS.ca, subject: k.subject(SPEC) });
  const text = kubeconfigText({ ca: CAS.ca.certificate, client, user: 'kubernetes-admin', key: SPARE_KEY });
  const { run, items } = await initPlan({ ...FULL, [K('admin.conf')]: secret(text) });
  t.false(items.some((i) => i.id === 'admin.conf' && i.action === 'keep'));
  t.is(run.plan.problems.length, 1);
  t.regex(run.plan.problems[0] ?? '', /^admin\.conf in \/k.*(key|does not match)/);
});

// FINDING: kubeadm never renews kubelet.conf (the kubelet rotates its own client certificate, and
// kubeadm points kubelet.conf at /var/lib/kubelet/pki/kubelet-client-current.pem). kubepki renews it,
// and on such a node (one init keeps, with a note) renew all stops with a problem and renews nothing.
test('renew all: a kubelet.conf pointing at the kubelet\'s rotated certificate file is skipped, not a problem that stops every renewal', async (t) => {
  const { run, items } = await renewPlan({ ...FULL, [K('kubelet.conf')]: secret(certificateFileKubeconfig('system:node:cp-1')) });
  t.deepEqual(run.plan.problems, []);
  t.false(items.some((i) => i.id === 'kubelet.conf'));
  t.is(items.length, 12);
});

// FINDING: with renew all, kubeadm prints MISSING! for a missing certificate before it looks at the
// CA. kubepki reports the CA's absence through each missing leaf as a problem, so a cluster without
// front-proxy-ca (nor its client) cannot renew anything with "all".
test('renew all: a certificate that is missing together with its CA is skipped as MISSING!, as kubeadm does', async (t) => {
  const { run } = await renewPlan(without(FULL, C('front-proxy-ca.crt'), C('front-proxy-ca.key'), C('front-proxy-client.crt'), C('front-proxy-client.key')));
  t.deepEqual(run.plan.problems, []);
  t.deepEqual(run.skipped, ['MISSING! certificate for the front proxy client (front-proxy-client)']);
});

// ================================================================ a problem anywhere

test('a problem anywhere means nothing is made: problemsError lists every problem, and apply refuses before making anything', async (t) => {
  const files = { ...without(FULL, C('sa.key')), [C('apiserver.crt')]: pub('garbage'), [K('admin.conf')]: { data: textOf(K('admin.conf')), mode: 0o604 } };
  const { run, items } = await initPlan(files);
  const expected = [
    'apiserver.crt holds no PEM certificate; restore it from a backup or move it away',
    'sa.pub exists but sa.key does not; restore sa.key, or move sa.pub away to have a new pair created',
    'admin.conf in /k is readable by others than its owner (mode 0604); run "chmod 600 /k/admin.conf" and try again',
  ];
  t.deepEqual(run.plan.problems, expected);
  t.is(items.length, 20, 'the rest is decided all the same');
  const error = run.problemsError({ problems: 'problems with the existing files' });
  t.true(error instanceof UserError);
  t.is(error!.message, '3 problems with the existing files; nothing was written:');
  t.deepEqual(error!.details, expected);
  t.is(error!.exitCode, 1);

  // One problem is one line.
  const one = await initPlan({ ...FULL, [C('sa.pub')]: secret(SPARE_KEY.publicKeyPem) });
  t.is(one.run.problemsError()?.message, 'sa.pub does not match sa.key; tokens signed with the key would not verify: move sa.pub away to have it re-created from sa.key. Nothing was written.');
  t.deepEqual(one.run.problemsError()?.details, []);
  t.is((await initPlan(FULL)).run.problemsError(), undefined);

  // apply decides, then refuses before making anything (dry run: even a wrong planner would write nothing here).
  const fresh = new Run({ dirs: DIRS, now: NOW, source: memory(files), show: INIT_SHOW });
  const targets = clusterTargets(SPEC, { now: NOW, kubeconfigs: true, flags: true, externalCAs: () => new Set() });
  const refused = await t.throwsAsync(fresh.apply(targets, { dryRun: true }), { instanceOf: UserError });
  t.is(refused?.message, '3 problems; nothing was written:');
  t.is(fresh.issued.size, 0);
  t.deepEqual(await fresh.commit(), []);
});

// ================================================================ decisions added after review

test('init: an expired CA reused with a leaf to make is a problem (what it signed would be expired at once), not an expired leaf', async (t) => {
  const expired = await issueCertificate({
    subject: { cn: 'kubernetes' }, sans: { dns: ['kubernetes'], ips: [] }, profile: PROFILES.ca, publicKey: CA_KEY.spki, publicKeyAlgorithm: CA_KEY.algorithm,
    notBefore: new Date(NOW - 20 * DAY), notAfter: new Date(NOW - DAY), selfSigner: keySigner(CA_KEY.privateKey, CA_KEY.algorithm),
  });
  const files = { ...without(FULL, C('apiserver.crt'), C('apiserver.key')), [C('ca.crt')]: pub(expired.pem) };
  const { run } = await initPlan(files);
  t.true(run.plan.problems.some((p) => /^apiserver\.crt cannot be issued: its CA ca \(ca\.crt\) expired on \d{4}-.*; renew or replace that CA first$/.test(p)), run.plan.problems.join(' | '));
});

test('init: an existing leaf for the wrong use (client-only apiserver.crt) or a CA certificate where a leaf should be is not kept', async (t) => {
  const e = findEntry('apiserver')!;
  const clientOnly = await leaf({ issuer: CAS.ca, subject: e.subject(SPEC), sans: e.sans(SPEC), profile: PROFILES.client });
  const asCA = await leaf({ issuer: CAS.ca, subject: e.subject(SPEC), sans: e.sans(SPEC), profile: { ...PROFILES.ca, extKeyUsage: ['serverAuth'] } });
  for (const [what, cert, pattern] of [
    ['client-only', clientOnly, /^apiserver\.crt does not match the cluster description: extended key usages are clientAuth, the description wants serverAuth\. /],
    ['a CA', asCA, /^apiserver\.crt does not match the cluster description: it is a CA certificate, the description wants a leaf\. /],
  ] as const) {
    const { run, items } = await initPlan({ ...FULL, [C('apiserver.crt')]: pub(cert.pem) });
    t.false(items.some((i) => i.id === 'apiserver'), what);
    t.is(run.plan.problems.length, 1, what);
    t.regex(run.plan.problems[0] ?? '', pattern, what);
  }
});

test('a regular file where a folder should be is named as one: "inside etcd, which is a regular file"', async (t) => {
  const files = Object.fromEntries(Object.entries(FULL).filter(([p]) => !p.startsWith(C('etcd/'))));
  const { run } = await initPlan({ ...files, [C('etcd')]: pub('not a folder') });
  t.true(run.plan.problems.includes('etcd/ca.crt is inside etcd, which is a regular file; kubepki reads and writes regular files only: move it away'), run.plan.problems.join(' | '));
});

// ================================================================ CA rotation (lib/engine/rotation.ts), in memory

/** FULL with kubernetes-ca's rotation under way: OTHER_CA is the incoming CA; started (the old CA signs) or issued (the new one does). */
function rotating(phase: 'started' | 'issued'): Files {
  const [a, n] = [CAS.ca.certificate, OTHER_CA.certificate];
  return {
    ...FULL,
    [C('ca.crt')]: pub(phase === 'started' ? a.pem + n.pem : n.pem + a.pem),
    [C('ca.key')]: secret((phase === 'started' ? CA_KEY : OTHER_KEY).privateKeyPem),
    [C('ca-old.crt')]: pub(a.pem), [C('ca-old.key')]: secret(CA_KEY.privateKeyPem),
    [C('ca-new.crt')]: pub(n.pem), [C('ca-new.key')]: secret(OTHER_KEY.privateKeyPem),
  };
}

async function rotationOf(files: Files, name: 'ca' | 'etcd-ca' | 'front-proxy-ca' | 'sa') {
  const { observeRotation } = await import('../lib/engine/rotation.js');
  const observer = new Observer(DIRS, memory(files));
  await observer.prepare([]);
  return observeRotation(observer, name, (rel) => rel, (rel) => C(rel));
}

test('rotation phases are read from the files alone: idle, started (the old CA first in ca.crt, its key in ca.key), issued (the new one)', async (t) => {
  for (const name of ['ca', 'etcd-ca', 'front-proxy-ca', 'sa'] as const) t.like(await rotationOf(FULL, name), { name, phase: 'idle' });
  const started = await rotationOf(rotating('started'), 'ca');
  t.like(started, { phase: 'started' });
  t.true('old' in started && started.old!.certificate!.der.equals(CAS.ca.certificate.der));
  t.like(await rotationOf(rotating('issued'), 'ca'), { phase: 'issued' });
});

test('a rotation layout changed by hand is a problem that says so: the bundle without the new CA, half the rotation files, a key that is neither', async (t) => {
  const dropped = { ...rotating('started'), [C('ca.crt')]: pub(CAS.ca.certificate.pem) };
  t.regex((await rotationOf(dropped, 'ca') as { problem: string }).problem, /^ca\.crt does not hold the two CAs of the rotation under way \(ca-old\.crt, ca-new\.crt\), the signing one first; was the layout changed by hand\?/);
  t.regex((await rotationOf(without(rotating('issued'), C('ca-new.key')), 'ca') as { problem: string }).problem, /^ca-new\.key is missing while .* is here: the rotation of ca is half there/);
  const wrongKey = { ...rotating('started'), [C('ca.key')]: secret(SPARE_KEY.privateKeyPem) };
  t.regex((await rotationOf(wrongKey, 'ca') as { problem: string }).problem, /^ca\.key does not match the first certificate of ca\.crt/);
  const external = without(FULL, C('front-proxy-ca.key'));
  t.regex((await rotationOf(external, 'front-proxy-ca') as { problem: string }).problem, /front-proxy-ca is managed outside kubepki .*rotate it where its key is kept/);
});

test('the folders of a root (a fleet\'s bundles) are read by the run\'s observer: missing is none, unreadable is a problem of the plan', (t) => {
  const dirs = { ...DIRS, nodes: '/k/nodes' };
  const run = (files: Files) => new Run({ dirs, now: NOW, source: memory(files), show: INIT_SHOW });
  // Folders only: not a file, not a hidden staging folder; sorted.
  const listed = run({ '/k/nodes/w-2/kubelet.conf': secret('x'), '/k/nodes/w-1': { type: 'dir' }, '/k/nodes/README': pub('x'), '/k/nodes/.kubepki-txn-1/x': pub('x') });
  t.deepEqual(listed.subdirs('nodes'), ['w-1', 'w-2']);
  t.deepEqual(listed.plan.problems, []);
  const none = run({});
  t.deepEqual(none.subdirs('nodes'), []);
  t.deepEqual(none.plan.problems, []);
  const denied = new Run({ dirs, now: NOW, source: { ...memory({}), subdirs: (dir) => { throw systemError('EACCES', dir); } }, show: INIT_SHOW });
  t.deepEqual(denied.subdirs('nodes'), []);
  t.deepEqual(denied.plan.problems, ['/k/nodes cannot be read: permission denied']);
});

test('a bootstrap token\'s expiry counts from the run\'s clock, the one every certificate of the run is dated by', (t) => {
  const spec = resolveSpec({ ...INPUT, bootstrapTokens: [{ token: 'abcdef.0123456789abcdef', ttl: '2h' }, { token: 'ghijkl.0123456789abcdef' }] });
  const now = Date.UTC(2031, 0, 2, 3, 4, 5, 678);
  const tokens = clusterTargets(spec, { now, kubeconfigs: true, flags: false, externalCAs: () => new Set() }).filter((x) => x.id.startsWith('bootstrap-token-'));
  const expiry = (x: Target) => /^ {2}expiration: "?([^"\n]+)"?$/m.exec(String((x as GeneratedTarget).files[0]!.data()))?.[1];
  // ttl 2h, and kubeadm's default of 24h; whole seconds, as kubeadm writes them.
  t.deepEqual(tokens.map((x) => [x.id, expiry(x)]), [['bootstrap-token-abcdef', '2031-01-02T05:04:05Z'], ['bootstrap-token-ghijkl', '2031-01-03T03:04:05Z']]);
});

test('init over a started rotation keeps everything: the CA file\'s second CA is trusted (partners), not a broken chain, and the flags name the old CA\'s pair', async (t) => {
  const { flagTargets: flags } = await import('../lib/engine/desired.js');
  const files = rotating('started');
  for (const g of flags(SPEC, () => new Set(), () => new Map([['ca', 'started'] as const]))) for (const f of g.files) files[F(f.rel)] = pub(f.data());
  // As init.ts decides: the flag files follow the phase each CA was found in.
  const run = new Run({ dirs: DIRS, now: NOW, source: memory(files), show: INIT_SHOW });
  const rotations = () => new Map(CA_NAMES.flatMap((n) => { const p = run.ca(n)?.rotation; return p ? [[n, p] as const] : []; }));
  const items = await run.decide(clusterTargets(SPEC, { now: NOW, kubeconfigs: true, flags: true, externalCAs: () => new Set(), rotations }));
  t.deepEqual(run.plan.problems, []);
  t.deepEqual(items.filter((i) => i.writes.length).map((i) => i.id), []);
  t.is(run.ca('ca')?.rotation, 'started');
  t.is(run.caBundle('ca'), CAS.ca.certificate.pem + OTHER_CA.certificate.pem, 'what kubeconfigs embed: both CAs, the signing one first');
  t.regex(textOf(F('kube-controller-manager.flags')), /--cluster-signing-cert-file=\/k\/pki\/ca\.crt/);
  t.regex(String((files[F('kube-controller-manager.flags')] as { data: string }).data), /--cluster-signing-cert-file=\/k\/pki\/ca-old\.crt\n--cluster-signing-key-file=\/k\/pki\/ca-old\.key/);
});

test('the targets of start: the incoming CA under its slot, the outgoing CA\'s one-CA files, the bundle replaced, every kubeconfig\'s trust; nothing re-signed', async (t) => {
  const { stepTargets } = await import('../lib/engine/rotation.js');
  const state = await rotationOf(FULL, 'ca');
  if ('problem' in state) return t.fail(state.problem);
  const targets = stepTargets('start', state, { spec: SPEC, caPem: () => OTHER_CA.certificate.pem });
  t.like(targets.find((x) => x.id === 'ca-new'), { kind: 'certificate', slot: 'ca-new', cert: 'ca-new.crt', key: 'ca-new.key', policy: 'init' });
  t.like(targets.find((x) => x.id === 'ca-old'), { kind: 'generated', policy: 'new' });
  t.like(targets.find((x) => x.id === 'ca/files'), { kind: 'generated', policy: 'replace' });
  t.deepEqual(targets.filter((x) => x.kind === 'kubeconfig').map((x) => x.policy), ['trust', 'trust', 'trust', 'trust', 'trust', 'trust']);
  t.false(targets.some((x) => (x.kind === 'certificate' && !x.isCA) || (x.kind === 'kubeconfig' && x.policy === 'renew')), 'start re-signs nothing');
  const { run, items } = await (async () => {
    const r = new Run({ dirs: DIRS, now: NOW, source: memory(FULL) });
    return { run: r, items: await r.decide(targets) };
  })();
  t.deepEqual(run.plan.problems, []);
  t.deepEqual(items.map((i) => `${i.id}:${i.action}`).sort(), [
    'admin.conf:renew', 'bootstrap-kubelet.conf:renew', 'ca-new:create', 'ca-old:create', 'ca/files:renew', 'controller-manager.conf:renew', 'kubelet.conf:renew', 'scheduler.conf:renew', 'super-admin.conf:renew',
  ].filter((x) => !x.startsWith('bootstrap')));
});

// ---------------------------------------------------------------- reconcile

// The fixtures' certificates run from a day ago to a year from now (366 days): a description allowing that much matches them.
const LONG = { certificateValidity: '8784h', caCertificateValidity: '87648h' };

async function reconciled(input: ClusterInput, files: Files = FULL, o: { includeCAs?: boolean; mode?: Record<string, number> } = {}) {
  const { reconcileTargets } = await import('../lib/engine/desired.js');
  const spec = resolveSpec(input);
  // The flag files as this description writes them (the controller-manager's signing duration is the validity).
  files = { ...files };
  for (const g of flagTargets(spec, () => new Set())) for (const f of g.files) files[F(f.rel)] = { data: f.data(), mode: o.mode?.[F(f.rel)] ?? 0o600 };
  const run = new Run({ dirs: DIRS, now: NOW, source: memory(files), show: INIT_SHOW });
  const externalCAs = () => new Set(CA_NAMES.filter((n) => run.ca(n)?.action === 'external'));
  const items = await run.decide(reconcileTargets(spec, { now: NOW, includeCAs: o.includeCAs ?? false, externalCAs }));
  return { run, items, changed: Object.fromEntries(items.filter((i) => i.writes.length).map((i) => [i.id, i.changes ?? i.action])) };
}

test('reconcile: a layout that matches the description changes nothing (every item kept or reused, no problem)', async (t) => {
  const { run, items, changed } = await reconciled({ ...INPUT, ...LONG });
  t.deepEqual(run.plan.problems, []);
  t.deepEqual(changed, {});
  t.true(items.length > 20);
});

test('reconcile: only what differs is re-issued, each with its differences in words', async (t) => {
  const { run, changed } = await reconciled({ ...INPUT, ...LONG, apiServerCertSANs: ['lb.example.com'], controlPlaneEndpoint: 'lb.example.com:6443' });
  t.deepEqual(run.plan.problems, []);
  t.deepEqual(changed, {
    apiserver: ['SANs +DNS:lb.example.com'],
    'admin.conf': ['server https://192.168.10.11:6443 → https://lb.example.com:6443'],
    'super-admin.conf': ['server https://192.168.10.11:6443 → https://lb.example.com:6443'],
    'kubelet.conf': ['server https://192.168.10.11:6443 → https://lb.example.com:6443'],
  });
});

test('reconcile: another key algorithm, a shorter validity and a leaf of another CA are differences; the CAs get a note, not a change', async (t) => {
  const files = { ...FULL, [C('front-proxy-client.crt')]: pub((await leafOf('front-proxy-client', SPEC, { issuer: OTHER_CA })).pem) };
  const { run, changed, items } = await reconciled({ ...INPUT, encryptionAlgorithm: 'RSA-2048', certificateValidity: '2160h', caCertificateValidity: LONG.caCertificateValidity }, files);
  t.deepEqual(run.plan.problems, []);
  t.deepEqual(changed.apiserver, ['key ECDSA-P256 → RSA-2048', 'validity 366d → 90d']);
  t.deepEqual(changed['front-proxy-client'], ['signer: not signed by front-proxy-ca (front-proxy-ca.crt)', 'key ECDSA-P256 → RSA-2048', 'validity 366d → 90d']);
  t.deepEqual(changed['scheduler.conf'], ['client certificate key ECDSA-P256 → RSA-2048', 'client certificate validity 366d → 90d']);
  t.false('ca' in changed);
  t.regex(items.find((i) => i.id === 'ca')!.notes.join('\n'), /^differs from the description \(key ECDSA-P256 → RSA-2048\); kept: a CA is changed by kubepki ca rotate/);
});

test('reconcile --include-cas: a CA that differs is made anew, and everything it signed and every kubeconfig that embeds it follow', async (t) => {
  const { run, changed } = await reconciled({ ...INPUT, ...LONG, encryptionAlgorithm: 'RSA-2048' }, FULL, { includeCAs: true });
  t.deepEqual(run.plan.problems, []);
  t.deepEqual(changed.ca, ['key ECDSA-P256 → RSA-2048']);
  t.deepEqual(changed.apiserver, ['signer: ca is made anew', 'key ECDSA-P256 → RSA-2048']);
  t.deepEqual(changed['admin.conf'], ['CA: ca is made anew', 'client certificate signer: ca is made anew', 'client certificate key ECDSA-P256 → RSA-2048']);
  t.is(run.ca('ca')?.replaced, true);
});

test('reconcile: a leaf dated from its CA\'s NotBefore (kubeadm before v1.31) is not "too long" while it ends within the validity from now', async (t) => {
  const e = findEntry('apiserver')!;
  const old = await issueCertificate({
    subject: e.subject(SPEC), sans: e.sans(SPEC), profile: PROFILES[e.profile], publicKey: LEAF_KEY.spki, publicKeyAlgorithm: LEAF_KEY.algorithm,
    notBefore: new Date(NOW - 700 * DAY), notAfter: new Date(NOW + 200 * DAY), issuer: CAS.ca,
  });
  const { changed } = await reconciled({ ...INPUT, ...LONG }, { ...FULL, [C('apiserver.crt')]: pub(old.pem) });
  t.false('apiserver' in changed, JSON.stringify(changed));
  const shorter = await reconciled({ ...INPUT, certificateValidity: '2160h', caCertificateValidity: LONG.caCertificateValidity }, { ...FULL, [C('apiserver.crt')]: pub(old.pem) });
  t.deepEqual(shorter.changed.apiserver, ['validity 900d → 90d'], 'it ends in 200 days: past a 90-day certificate issued now');
});

test('reconcile: an existing CA whose subject is not the catalog\'s is an error, never changed, even with --include-cas', async (t) => {
  const renamed = await selfSignedCA('my-company-ca', CA_KEY);
  const files = { ...FULL, [C('ca.crt')]: pub(renamed.certificate.pem) };
  for (const includeCAs of [false, true]) {
    const { run, changed } = await reconciled({ ...INPUT, ...LONG }, files, { includeCAs });
    t.true(run.plan.problems.some((p) => p.startsWith('ca.crt is CN=my-company-ca, the description wants CN=kubernetes: reconcile never changes a CA\'s subject')), run.plan.problems.join('\n'));
    t.false('ca' in changed);
  }
});

test('reconcile: a flag file with the right content but mode 0644 is replaced for its mode alone ("mode 0644 → 0600")', async (t) => {
  const file = F('kube-scheduler.env');
  const { run, changed } = await reconciled({ ...INPUT, ...LONG }, FULL, { mode: { [file]: 0o644 } });
  t.deepEqual(run.plan.problems, []);
  t.deepEqual(changed, { 'flags/kube-scheduler/kube-scheduler.env': ['mode 0644 → 0600'] });
});
