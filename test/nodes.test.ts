/**
 * The node inventory (`nodes:` in the description) and what kubepki makes of it:
 *
 * - `kubepki nodes issue` writes a bundle per node under nodes/NAME/: the
 *   kubelet's client identity (kubelet.conf), its serving certificate and
 *   ca.crt; for control-plane nodes also their own apiserver and etcd
 *   server/peer certificates with etcd/ca.crt. Checked with openssl and
 *   kubectl; idempotent like init; --only and --out-dir.
 * - Three control-plane nodes on 127.0.0.1, .2 and .3 run a real 3-member etcd
 *   cluster on nothing but their own bundles.
 * - `kubepki certs sign` signs kubelet client and serving CSRs (made with the
 *   openssl command line) under the node policy, and refuses every other shape
 *   of CSR with its reason.
 * - A bad inventory is an error naming the nodes, and nothing is written.
 *
 * Keys are ECDSA P-256 throughout, for speed. Needs openssl, kubectl, etcd and
 * etcdctl 3.4+ in PATH.
 */
import test, { type ExecutionContext } from 'ava';
import { execa } from 'execa';
import { createPrivateKey, createPublicKey, generateKeyPairSync } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, readdirSync, rmSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import ipaddr from 'ipaddr.js';
import { parse, stringify } from 'yaml';
import { kubepki, openssl, scratch, snapshot } from './helpers/cli.js';
import { EtcdStartError, buildEtcdArgs, etcdctl, startEtcdClusterFromArgs, type EtcdCluster, type EtcdMemberSpec } from './helpers/etcd.js';
import { freePorts } from './helpers/ports.js';

// ---------------------------------------------------------------------------
// the cluster and its inventory

interface InventoryNode {
  name: string;
  addresses: string[];
  role?: 'control-plane' | 'worker';
}

const ENDPOINT = 'k8s.example.com:443';

/** Two control planes (one dual-stack) and two workers (one worker by default, without a role). */
const INVENTORY: InventoryNode[] = [
  { name: 'cp-1', addresses: ['192.168.10.11', 'fd00::11'], role: 'control-plane' },
  { name: 'cp-2', addresses: ['192.168.10.12'], role: 'control-plane' },
  { name: 'w-1', addresses: ['192.168.10.21', '10.0.0.21'], role: 'worker' },
  { name: 'w-2', addresses: ['192.168.10.22'] },
];
const NAMES = INVENTORY.map((n) => n.name);
const isControlPlane = (n: InventoryNode) => n.role === 'control-plane';

/** What each bundle holds (paths under nodes/NAME/). */
const WORKER_FILES = ['ca.crt', 'kubelet-server.crt', 'kubelet-server.key', 'kubelet.conf'];
const CONTROL_PLANE_FILES = [...WORKER_FILES, 'apiserver.crt', 'apiserver.key', 'etcd/ca.crt', 'etcd/server.crt', 'etcd/server.key', 'etcd/peer.crt', 'etcd/peer.key'];

/** Writes the description (this node cp-1, ECDSA P-256, the given inventory) and returns its path. */
function writeConfig(root: string, nodes: readonly InventoryNode[] | undefined, file = 'kubepki.yaml', self = { name: 'cp-1', advertiseAddress: '192.168.10.11' }): string {
  const doc: Record<string, unknown> = {
    apiVersion: 'kubepki.dev/v1alpha1',
    kind: 'Cluster',
    node: self,
    controlPlaneEndpoint: ENDPOINT,
    certificates: { dir: path.join(root, 'pki'), encryptionAlgorithm: 'ECDSA-P256' },
  };
  if (nodes) doc.nodes = nodes;
  const out = path.join(root, file);
  writeFileSync(out, stringify(doc));
  return out;
}

interface Cluster {
  root: string;
  config: string;
  pki: string;
  /** <kubeconfig-dir>/nodes: where `nodes issue` puts the bundles by default. */
  bundles: string;
}

/** A scratch cluster: the description written and `kubepki init` run (the CAs nodes issue signs with). */
async function cluster(t: ExecutionContext, nodes: readonly InventoryNode[] = INVENTORY, self?: { name: string; advertiseAddress: string }): Promise<Cluster> {
  const root = scratch(t);
  const config = writeConfig(root, nodes, 'kubepki.yaml', self);
  const init = await kubepki(['init', '--config', config]);
  t.is(init.exitCode, 0, init.stderr);
  return { root, config, pki: path.join(root, 'pki'), bundles: path.join(root, 'nodes') };
}

/** A string as a regular expression matching exactly it. */
const re = (s: string) => s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');

const issue = (config: string, ...args: string[]) => kubepki(['nodes', 'issue', '--config', config, ...args]);
const sign = (config: string, ...args: string[]) => kubepki(['certs', 'sign', '--config', config, ...args]);

/** The regular files under dir (relative paths, sorted) with their modes. */
function filesUnder(dir: string): Record<string, number> {
  const out: Record<string, number> = {};
  for (const [rel, what] of Object.entries(snapshot(dir))) {
    if (what.startsWith('file ')) out[rel] = statSync(path.join(dir, rel)).mode & 0o777;
  }
  return out;
}

// ---------------------------------------------------------------------------
// openssl

/** An IP as openssl prints it in a SAN (IPv6 uncompressed, upper case). */
const opensslIP = (ip: string) => (ip.includes(':') ? ipaddr.parse(ip).toNormalizedString().toUpperCase() : ip);
/** SANs as openssl prints them, sorted. */
const sanList = (dns: readonly string[], ips: readonly string[]) => [...dns.map((d) => `DNS:${d}`), ...ips.map((i) => `IP Address:${opensslIP(i)}`)].sort();

interface CertView {
  subject: string;
  sans: string[];
  eku: string[];
  serial: string;
}

async function view(file: string, isRequest = false): Promise<CertView> {
  const r = await openssl([isRequest ? 'req' : 'x509', '-in', file, '-noout', '-subject', '-nameopt', 'RFC2253', ...(isRequest ? [] : ['-serial', '-ext', 'subjectAltName,extendedKeyUsage'])]);
  if (r.exitCode !== 0) throw new Error(`openssl ${file}: ${r.stderr}`);
  const after = (heading: string) => {
    const m = new RegExp(`${heading}: *\\n\\s+(.+)`).exec(r.stdout);
    return m ? m[1]!.trim().split(', ') : [];
  };
  return {
    subject: /^subject=(.*)$/m.exec(r.stdout)?.[1] ?? '',
    sans: after('X509v3 Subject Alternative Name').sort(),
    eku: after('X509v3 Extended Key Usage').sort(),
    serial: /^serial=(.*)$/m.exec(r.stdout)?.[1] ?? '',
  };
}

const SERVER_AUTH = 'TLS Web Server Authentication';
const CLIENT_AUTH = 'TLS Web Client Authentication';

const pubOfCert = async (file: string) => (await openssl(['x509', '-in', file, '-noout', '-pubkey'])).stdout;
const pubOfKey = async (file: string) => (await openssl(['pkey', '-in', file, '-pubout'])).stdout;
const pubOfCsr = async (file: string) => (await openssl(['req', '-in', file, '-noout', '-pubkey'])).stdout;

/** `openssl verify` of file against caFile with extra checks (-purpose, -verify_ip, -verify_hostname): stdout and stderr when it fails. */
async function verify(caFile: string, file: string, ...checks: string[]): Promise<{ ok: boolean; output: string }> {
  const r = await openssl(['verify', '-CAfile', caFile, ...checks, file]);
  return { ok: r.exitCode === 0, output: `openssl verify ${checks.join(' ')} ${file}: ${r.stdout}${r.stderr}` };
}

// ---------------------------------------------------------------------------
// nodes issue: the bundles

test('nodes issue writes a bundle per node: kubelet.conf, kubelet serving pair and ca.crt; control planes also apiserver and etcd pairs; keys and kubeconfigs 0600, certificates 0644', async (t) => {
  const c = await cluster(t);
  const run = await issue(c.config);
  t.is(run.exitCode, 0, run.stderr);
  t.regex(run.stdout, new RegExp(`^\\[nodes\\] 4 of 4 node bundles written in ${re(c.bundles)}; 0 unchanged$`, 'm'));
  for (const n of INVENTORY) t.regex(run.stdout, new RegExp(`^\\[nodes\\] ${n.name}: wrote `, 'm'), `${n.name} is reported`);
  t.deepEqual(readdirSync(c.bundles).sort(), [...NAMES].sort(), 'one folder per node of the inventory, nothing else');
  for (const n of INVENTORY) {
    const files = filesUnder(path.join(c.bundles, n.name));
    t.deepEqual(Object.keys(files).sort(), [...(isControlPlane(n) ? CONTROL_PLANE_FILES : WORKER_FILES)].sort(), `${n.name} (${n.role ?? 'worker by default'}): its files`);
    for (const [rel, mode] of Object.entries(files)) {
      const want = rel.endsWith('.crt') ? 0o644 : 0o600;
      t.is(mode, want, `${n.name}/${rel} is ${want.toString(8)}, not ${mode.toString(8)}`);
    }
    // The CA certificates are the cluster's own, byte for byte; never a CA key.
    t.deepEqual(readFileSync(path.join(c.bundles, n.name, 'ca.crt')), readFileSync(path.join(c.pki, 'ca.crt')), `${n.name}/ca.crt is the cluster CA`);
    if (isControlPlane(n)) t.deepEqual(readFileSync(path.join(c.bundles, n.name, 'etcd/ca.crt')), readFileSync(path.join(c.pki, 'etcd/ca.crt')), `${n.name}/etcd/ca.crt is the etcd CA`);
  }
  t.notRegex(run.stdout + run.stderr, /PRIVATE KEY/);
});

test('each issued certificate verifies with openssl against its CA, matches its key (ECDSA P-256), and names its node and all its addresses', async (t) => {
  const c = await cluster(t);
  const run = await issue(c.config);
  t.is(run.exitCode, 0, run.stderr);
  const ca = path.join(c.pki, 'ca.crt');
  const etcdCa = path.join(c.pki, 'etcd/ca.crt');
  for (const n of INVENTORY) {
    const dir = path.join(c.bundles, n.name);
    const expect: { base: string; ca: string; subject: string; sans: string[]; eku: string[] }[] = [
      { base: 'kubelet-server', ca, subject: `CN=system:node:${n.name},O=system:nodes`, sans: sanList([n.name], n.addresses), eku: [SERVER_AUTH] },
    ];
    if (isControlPlane(n)) {
      expect.push(
        {
          base: 'apiserver', ca, subject: 'CN=kube-apiserver',
          sans: sanList([n.name, 'k8s.example.com', 'kubernetes', 'kubernetes.default', 'kubernetes.default.svc', 'kubernetes.default.svc.cluster.local'], ['10.96.0.1', ...n.addresses]),
          eku: [SERVER_AUTH],
        },
        // kubeadm's etcd certificates: CN the node name, both usages (peers are clients of each other).
        { base: 'etcd/server', ca: etcdCa, subject: `CN=${n.name}`, sans: sanList([n.name, 'localhost'], [...n.addresses, '127.0.0.1', '::1']), eku: [CLIENT_AUTH, SERVER_AUTH] },
        { base: 'etcd/peer', ca: etcdCa, subject: `CN=${n.name}`, sans: sanList([n.name, 'localhost'], [...n.addresses, '127.0.0.1', '::1']), eku: [CLIENT_AUTH, SERVER_AUTH] },
      );
    }
    for (const e of expect) {
      const crt = path.join(dir, `${e.base}.crt`);
      const key = path.join(dir, `${e.base}.key`);
      const where = `${n.name}/${e.base}`;
      // Verified against the bundle's own CA file too: it is what the node is given.
      const bundleCa = path.join(dir, e.ca === ca ? 'ca.crt' : 'etcd/ca.crt');
      for (const caFile of [e.ca, bundleCa]) {
        const v = await verify(caFile, crt, '-purpose', 'sslserver');
        t.true(v.ok, v.output);
      }
      // Each address and the name pass openssl's own host checks.
      for (const ip of n.addresses) t.true((await verify(e.ca, crt, '-verify_ip', ip)).ok, `${where} is valid for ${ip}`);
      t.true((await verify(e.ca, crt, '-verify_hostname', n.name)).ok, `${where} is valid for ${n.name}`);
      const other = e.ca === ca ? etcdCa : ca;
      t.false((await verify(other, crt)).ok, `${where} is not signed by ${path.basename(path.dirname(other))}/${path.basename(other)}`);
      const v = await view(crt);
      t.is(v.subject, e.subject, `${where}: subject`);
      t.deepEqual(v.sans, e.sans, `${where}: SANs`);
      t.deepEqual(v.eku, e.eku, `${where}: extended key usage`);
      t.is(await pubOfCert(crt), await pubOfKey(key), `${where}: key matches certificate`);
      const details = createPrivateKey(readFileSync(key)).asymmetricKeyDetails;
      t.is(details?.namedCurve, 'prime256v1', `${where}: ECDSA P-256 key`);
    }
  }
});

test('each kubelet.conf, read by kubectl, points at the controlPlaneEndpoint with the cluster CA, and its embedded client certificate is system:node:NAME in system:nodes, signed by the CA', async (t) => {
  const c = await cluster(t);
  const run = await issue(c.config);
  t.is(run.exitCode, 0, run.stderr);
  const caFile = path.join(c.pki, 'ca.crt');
  for (const n of INVENTORY) {
    const file = path.join(c.bundles, n.name, 'kubelet.conf');
    const out = await execa('kubectl', ['config', 'view', '--kubeconfig', file, '--raw', '-o', 'json'], { reject: false, timeout: 30_000, stdin: 'ignore' });
    t.is(out.exitCode, 0, `${n.name}/kubelet.conf: ${String(out.stderr)}`);
    const kc = JSON.parse(String(out.stdout)) as any;
    const user = `system:node:${n.name}`;
    t.is(kc['current-context'], `${user}@kubernetes`, `${n.name}: current context`);
    t.is(kc.users.length, 1);
    t.is(kc.users[0].name, user, `${n.name}: user`);
    t.is(kc.clusters[0].cluster.server, `https://${ENDPOINT}`, `${n.name}: the cluster's server, not a node's address`);
    t.is(Buffer.from(kc.clusters[0].cluster['certificate-authority-data'], 'base64').toString(), readFileSync(caFile, 'utf8'), `${n.name}: embeds ca.crt`);
    const cert = path.join(c.root, `${n.name}-kubelet.crt`);
    const key = path.join(c.root, `${n.name}-kubelet.key`);
    writeFileSync(cert, Buffer.from(kc.users[0].user['client-certificate-data'], 'base64'));
    writeFileSync(key, Buffer.from(kc.users[0].user['client-key-data'], 'base64'), { mode: 0o600 });
    const v = await verify(caFile, cert, '-purpose', 'sslclient');
    t.true(v.ok, v.output);
    const facts = await view(cert);
    t.is(facts.subject, `CN=${user},O=system:nodes`, `${n.name}: CN and O`);
    t.deepEqual(facts.eku, [CLIENT_AUTH], `${n.name}: client usage only`);
    t.deepEqual(facts.sans, [], `${n.name}: a client certificate has no SANs`);
    t.is(await pubOfCert(cert), await pubOfKey(key), `${n.name}: embedded key matches`);
  }
  // Every node has its own key.
  const keys = new Set(INVENTORY.map((n) => (parse(readFileSync(path.join(c.bundles, n.name, 'kubelet.conf'), 'utf8')) as any).users[0].user['client-key-data']));
  t.is(keys.size, INVENTORY.length);
});

// ---------------------------------------------------------------------------
// nodes issue: idempotence, --only, --out-dir

test('a second nodes issue writes nothing: "0 of 4 node bundles written", every byte and mode unchanged', async (t) => {
  const c = await cluster(t);
  t.is((await issue(c.config)).exitCode, 0);
  const before = snapshot(c.root);
  const again = await issue(c.config);
  t.is(again.exitCode, 0, again.stderr);
  t.is(again.stdout, `[nodes] 0 of 4 node bundles written in ${c.bundles}; 4 unchanged`);
  t.deepEqual(snapshot(c.root), before);
});

test('--only restricts nodes issue to the named nodes (comma-separated or repeated); the others are written by a later run, the first ones kept', async (t) => {
  const c = await cluster(t);
  const first = await issue(c.config, '--only', 'cp-2,w-1');
  t.is(first.exitCode, 0, first.stderr);
  t.regex(first.stdout, new RegExp(`^\\[nodes\\] 2 of 2 node bundles written in ${re(c.bundles)}; 0 unchanged$`, 'm'));
  t.deepEqual(readdirSync(c.bundles).sort(), ['cp-2', 'w-1']);
  const kept = { 'cp-2': snapshot(path.join(c.bundles, 'cp-2')), 'w-1': snapshot(path.join(c.bundles, 'w-1')) };
  const repeated = await issue(c.config, '--only', 'w-2', '--only', 'w-1');
  t.is(repeated.exitCode, 0, repeated.stderr);
  t.regex(repeated.stdout, /^\[nodes\] 1 of 2 node bundles written in .*; 1 unchanged$/m);
  t.deepEqual(readdirSync(c.bundles).sort(), ['cp-2', 'w-1', 'w-2']);
  const rest = await issue(c.config);
  t.is(rest.exitCode, 0, rest.stderr);
  t.regex(rest.stdout, /^\[nodes\] 1 of 4 node bundles written in .*; 3 unchanged$/m);
  t.regex(rest.stdout, /^\[nodes\] cp-1: wrote /m);
  t.deepEqual(snapshot(path.join(c.bundles, 'cp-2')), kept['cp-2']);
  t.deepEqual(snapshot(path.join(c.bundles, 'w-1')), kept['w-1']);
});

test('--out-dir puts the bundles elsewhere, and nothing in <kubeconfig-dir>/nodes', async (t) => {
  const c = await cluster(t);
  const out = path.join(c.root, 'fleet', 'bundles');
  const run = await issue(c.config, '--out-dir', out);
  t.is(run.exitCode, 0, run.stderr);
  t.regex(run.stdout, new RegExp(`^\\[nodes\\] 4 of 4 node bundles written in ${re(out)}; 0 unchanged$`, 'm'));
  t.deepEqual(readdirSync(out).sort(), [...NAMES].sort());
  t.false(existsSync(c.bundles));
  t.true((await verify(path.join(c.pki, 'ca.crt'), path.join(out, 'w-1', 'kubelet-server.crt'))).ok);
});

test('after a node\'s addresses change, every file that no longer matches is an error naming it, and nothing is written, not even for a new node; --only the others still works', async (t) => {
  const c = await cluster(t);
  t.is((await issue(c.config)).exitCode, 0);
  // w-1 gets another second address; cp-2 another one; a new node w-3 joins.
  const changed = INVENTORY.map((n) => (n.name === 'w-1' ? { ...n, addresses: ['192.168.10.21', '10.0.0.99'] } : n.name === 'cp-2' ? { ...n, addresses: ['192.168.10.13'] } : n));
  writeConfig(c.root, [...changed, { name: 'w-3', addresses: ['192.168.10.23'] }]);
  const before = snapshot(c.root);
  const run = await issue(c.config);
  t.is(run.exitCode, 1);
  t.regex(run.stderr, /^kubepki: error: 5 problems; nothing was written:$/m);
  for (const rel of ['cp-2/kubelet-server.crt', 'cp-2/apiserver.crt', 'cp-2/etcd/server.crt', 'cp-2/etcd/peer.crt']) {
    t.regex(run.stderr, new RegExp(`^  - ${rel} does not match the cluster description: SANs: lacks IP:192\\.168\\.10\\.13; has IP:192\\.168\\.10\\.12 not in the description`, 'm'), rel);
  }
  t.regex(run.stderr, /^ {2}- w-1\/kubelet-server\.crt does not match the cluster description: SANs: lacks IP:10\.0\.0\.99; has IP:10\.0\.0\.21 not in the description\. To change it on purpose, run \"kubepki certs reconcile\" \(it re-issues what differs, the old files kept in a backup\), or move w-1\/kubelet-server\.crt and w-1\/kubelet-server\.key away/m);
  t.notRegex(run.stderr, /cp-1|w-2|w-3/, 'the nodes that match (or are new) are not blamed');
  t.is(run.stdout, '');
  t.deepEqual(snapshot(c.root), before, 'nothing written: w-3 neither');
  // One problem alone: one line.
  const one = await issue(c.config, '--only', 'w-1');
  t.is(one.exitCode, 1);
  t.regex(one.stderr, /^kubepki: error: w-1\/kubelet-server\.crt does not match the cluster description: .*\. Nothing was written\.$/m);
  // The others can be issued meanwhile.
  const others = await issue(c.config, '--only', 'cp-1,w-2,w-3');
  t.is(others.exitCode, 0, others.stderr);
  t.regex(others.stdout, /^\[nodes\] 1 of 3 node bundles written in .*; 2 unchanged$/m);
  t.true(existsSync(path.join(c.bundles, 'w-3', 'kubelet.conf')));
  // Moving the stale pair away has it re-created with the new address.
  rmSync(path.join(c.bundles, 'w-1', 'kubelet-server.crt'));
  rmSync(path.join(c.bundles, 'w-1', 'kubelet-server.key'));
  const again = await issue(c.config, '--only', 'w-1');
  t.is(again.exitCode, 0, again.stderr);
  t.regex(again.stdout, /^\[nodes\] w-1: wrote kubelet-server\.crt, kubelet-server\.key$/m);
  t.deepEqual((await view(path.join(c.bundles, 'w-1', 'kubelet-server.crt'))).sans, sanList(['w-1'], ['192.168.10.21', '10.0.0.99']));
});

test('a kubelet.conf whose client certificate another CA signed is an error naming it (as init refuses one), and nothing is written', async (t) => {
  const a = await cluster(t);
  const b = await cluster(t);
  t.is((await issue(a.config)).exitCode, 0);
  t.is((await issue(b.config)).exitCode, 0);
  // b's kubelet.conf for w-1 (same subject) with a's CA put in: only its client certificate is foreign.
  const foreign = parse(readFileSync(path.join(b.bundles, 'w-1', 'kubelet.conf'), 'utf8')) as any;
  foreign.clusters[0].cluster['certificate-authority-data'] = Buffer.from(readFileSync(path.join(a.pki, 'ca.crt'))).toString('base64');
  writeFileSync(path.join(a.bundles, 'w-1', 'kubelet.conf'), stringify(foreign), { mode: 0o600 });
  rmSync(path.join(a.bundles, 'w-2'), { recursive: true });
  const before = snapshot(a.root);
  const run = await issue(a.config);
  t.is(run.exitCode, 1, `exit ${run.exitCode}: ${run.stdout}${run.stderr}`);
  t.regex(run.stderr, /w-1\/kubelet\.conf.*not signed by/);
  t.deepEqual(snapshot(a.root), before);
});

test('a symbolic link or a folder where a bundle file should be is an error naming it; nothing is written and the link target is untouched', async (t) => {
  const a = await cluster(t);
  t.is((await issue(a.config)).exitCode, 0);
  const target = path.join(a.root, 'elsewhere.crt');
  writeFileSync(target, readFileSync(path.join(a.bundles, 'w-1', 'kubelet-server.crt')));
  rmSync(path.join(a.bundles, 'w-1', 'kubelet-server.crt'));
  symlinkSync(target, path.join(a.bundles, 'w-1', 'kubelet-server.crt'));
  rmSync(path.join(a.bundles, 'w-2', 'kubelet.conf'));
  mkdirSync(path.join(a.bundles, 'w-2', 'kubelet.conf'));
  rmSync(path.join(a.bundles, 'cp-2'), { recursive: true });
  const before = snapshot(a.root);
  const run = await issue(a.config);
  t.is(run.exitCode, 1, `exit ${run.exitCode}: ${run.stdout}${run.stderr}`);
  t.regex(run.stderr, /w-1\/kubelet-server\.crt is a symbolic link; kubepki reads and writes regular files only/);
  t.regex(run.stderr, /w-2\/kubelet\.conf is a directory/);
  t.deepEqual(snapshot(a.root), before, 'nothing written, not even the missing cp-2 bundle');
});

// ---------------------------------------------------------------------------
// a 3-member etcd cluster on three nodes' own certificates

test('three control-plane nodes on 127.0.0.1, .2 and .3 run a healthy 3-member etcd cluster on their own bundles, each member serving its own certificate', async (t) => {
  t.timeout(90_000);
  // All of 127.0.0.0/8 is loopback on Linux; each member binds only its node's address.
  const HOSTS = ['127.0.0.1', '127.0.0.2', '127.0.0.3'];
  const nodes: InventoryNode[] = HOSTS.map((address, i) => ({ name: `etcd-${'abc'[i]}`, addresses: [address], role: 'control-plane' }));
  const c = await cluster(t, nodes, { name: 'etcd-a', advertiseAddress: '127.0.0.1' });
  const run = await issue(c.config);
  t.is(run.exitCode, 0, run.stderr);
  const bundle = (n: InventoryNode, rel: string) => path.join(c.bundles, n.name, rel);

  // Distinct certificates per member: six serials, no two alike.
  const serials = await Promise.all(nodes.flatMap((n) => ['etcd/server.crt', 'etcd/peer.crt'].map(async (rel) => (await view(bundle(n, rel))).serial)));
  t.is(new Set(serials).size, 6, `serials: ${serials.join(' ')}`);

  // The health client comes from the main cert dir (init), signed by the same etcd CA.
  const health = { cacert: path.join(c.pki, 'etcd/ca.crt'), cert: path.join(c.pki, 'etcd/healthcheck-client.crt'), key: path.join(c.pki, 'etcd/healthcheck-client.key') };
  let etcd: EtcdCluster | undefined;
  let ports: { client: number; peer: number }[] = [];
  for (let attempt = 1; !etcd; attempt++) {
    ports = await Promise.all(HOSTS.map(async (host) => {
      const [client, peer] = await freePorts(2, host);
      return { client: client!, peer: peer! };
    }));
    const initialCluster = nodes.map((n, i) => `${n.name}=https://${HOSTS[i]}:${ports[i]!.peer}`).join(',');
    const specs = nodes.map((n, i): EtcdMemberSpec => ({
      args: buildEtcdArgs({
        name: n.name,
        dataDir: path.join(c.root, 'etcd-data', `${n.name}-${attempt}`),
        host: HOSTS[i],
        clientPort: ports[i]!.client,
        peerPort: ports[i]!.peer,
        // Nothing but the node's own bundle.
        certs: { ca: bundle(n, 'etcd/ca.crt'), serverCert: bundle(n, 'etcd/server.crt'), serverKey: bundle(n, 'etcd/server.key'), peerCert: bundle(n, 'etcd/peer.crt'), peerKey: bundle(n, 'etcd/peer.key') },
        initialCluster,
        initialClusterState: 'new',
        initialClusterToken: `kubepki-nodes-${process.pid}-${attempt}`,
      }),
      logFile: path.join(c.root, 'etcd-logs', `${n.name}.log`),
    }));
    try {
      etcd = await startEtcdClusterFromArgs(specs, { healthClient: health, timeoutMs: 20_000 });
    } catch (err) {
      const taken = specs.some((s) => existsSync(s.logFile) && /address already in use/.test(readFileSync(s.logFile, 'utf8')));
      if (err instanceof EtcdStartError && taken && attempt < 2) continue; // a free port was taken meanwhile
      throw err;
    }
  }
  const running = etcd;
  t.teardown(() => running.stop({ graceMs: 3_000 }));
  // Members connect to each other from 127.0.0.1 (the source address Linux picks on lo), which every
  // node's etcd peer certificate names, as kubeadm's do: etcd checks a peer's certificate against it.

  const healthy = await etcdctl(running, { ...health, args: ['endpoint', 'health', '-w', 'json'] });
  t.is(healthy.exitCode, 0, `${healthy.command}: ${healthy.stderr}`);
  const endpoints = JSON.parse(healthy.stdout) as { endpoint: string; health: boolean }[];
  t.deepEqual(endpoints.map((e) => [e.endpoint, e.health]).sort(), HOSTS.map((h, i) => [`https://${h}:${ports[i]!.client}`, true]).sort());

  const list = await etcdctl(running, { ...health, args: ['member', 'list', '-w', 'json'] });
  t.is(list.exitCode, 0, `${list.command}: ${list.stderr}`);
  const members = (JSON.parse(list.stdout) as { members: { name: string; peerURLs: string[]; clientURLs: string[] }[] }).members;
  t.is(members.length, 3);
  t.deepEqual(members.map((m) => [m.name, m.peerURLs, m.clientURLs]).sort(), nodes.map((n, i) => [n.name, [`https://${HOSTS[i]}:${ports[i]!.peer}`], [`https://${HOSTS[i]}:${ports[i]!.client}`]]).sort());

  // A write through one member is read through another.
  t.is((await etcdctl(running, { ...health, endpoints: [running.endpoints[1]!], args: ['put', 'kubepki/nodes', 'three'] })).exitCode, 0);
  const got = await etcdctl(running, { ...health, endpoints: [running.endpoints[2]!], args: ['get', 'kubepki/nodes', '--print-value-only'] });
  t.is(got.stdout, 'three', got.stderr);

  // Each member serves its own node's server certificate, valid for that node's address.
  for (const [i, n] of nodes.entries()) {
    const s = await execa('openssl', [
      's_client', '-connect', `${HOSTS[i]}:${ports[i]!.client}`, '-cert', health.cert, '-key', health.key,
      '-CAfile', bundle(n, 'etcd/ca.crt'), '-verify_ip', HOSTS[i]!, '-verify_return_error', '-nameopt', 'RFC2253',
    ], { reject: false, timeout: 10_000, input: '' });
    t.is(s.exitCode, 0, `s_client ${HOSTS[i]}: ${String(s.stderr).split('\n').slice(-5).join('\n')}`);
    t.regex(String(s.stdout), new RegExp(`^subject=CN=${n.name}$`, 'm'), `${n.name} serves CN=${n.name}`);
    t.regex(String(s.stdout), /Verify return code: 0 \(ok\)/);
    const served = /-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----/.exec(String(s.stdout))?.[0];
    t.is(`${served}\n`, readFileSync(bundle(n, 'etcd/server.crt'), 'utf8'), `${n.name} serves nodes/${n.name}/etcd/server.crt`);
  }
  // Its peer port serves its own peer certificate, to the next node presenting its own.
  for (const [i, n] of nodes.entries()) {
    const next = nodes[(i + 1) % nodes.length]!;
    const s = await execa('openssl', [
      's_client', '-connect', `${HOSTS[i]}:${ports[i]!.peer}`, '-cert', bundle(next, 'etcd/peer.crt'), '-key', bundle(next, 'etcd/peer.key'),
      '-CAfile', bundle(next, 'etcd/ca.crt'), '-verify_ip', HOSTS[i]!, '-verify_return_error',
    ], { reject: false, timeout: 10_000, input: '' });
    t.is(s.exitCode, 0, `s_client ${HOSTS[i]} peer port: ${String(s.stderr).split('\n').slice(-5).join('\n')}`);
    const served = /-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----/.exec(String(s.stdout))?.[0];
    t.is(`${served}\n`, readFileSync(bundle(n, 'etcd/peer.crt'), 'utf8'), `${n.name} serves nodes/${n.name}/etcd/peer.crt on its peer port`);
  }
  // No member refused another's (or the health client's) certificate.
  const rejected = running.members.flatMap((m, i) => running.readLog(i).split('\n').filter((l) => l.includes('"msg":"rejected connection"') && /tls|x509|certificate/i.test(l)).map((l) => `${m.name}: ${l}`));
  t.deepEqual(rejected, []);
});

test('certs sign never issues a CA: a CSR asking for CA:TRUE and keyCertSign gets, if anything, an end-entity certificate', async (t) => {
  const c = await cluster(t);
  const dir = path.join(c.root, 'csrs');
  await makeCsr(t, dir, 'w-1', W1, 'basicConstraints=critical,CA:TRUE', 'keyUsage=critical,keyCertSign,cRLSign');
  const run = await sign(c.config, '--csr', dir);
  t.true(run.exitCode === 0 || run.exitCode === 1, run.stderr);
  const crt = path.join(dir, 'w-1.crt');
  t.is(existsSync(crt), run.exitCode === 0, 'a certificate exactly when it was signed');
  if (run.exitCode !== 0) return;
  const ext = (await openssl(['x509', '-in', crt, '-noout', '-ext', 'basicConstraints,keyUsage'])).stdout;
  t.regex(ext, /CA:FALSE/);
  t.notRegex(ext, /Certificate Sign|CRL Sign/);
});

// ---------------------------------------------------------------------------
// certs sign: the offline CSR policy

/** Makes NAME.csr (and NAME.key) in dir with the openssl command line: an ECDSA P-256 key, -subj, and each -addext. */
async function makeCsr(t: ExecutionContext, dir: string, name: string, subj: string, ...addext: string[]): Promise<string> {
  mkdirSync(dir, { recursive: true });
  const csr = path.join(dir, `${name}.csr`);
  const r = await openssl([
    'req', '-new', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes',
    '-keyout', path.join(dir, `${name}.key`), '-out', csr, '-subj', subj, ...addext.flatMap((e) => ['-addext', e]),
  ]);
  t.is(r.exitCode, 0, `openssl req ${name}: ${r.stderr}`);
  return csr;
}

const W1 = '/CN=system:node:w-1/O=system:nodes';

test('certs sign signs kubelet client CSRs and serving CSRs whose SANs belong to that node, with kubernetes-ca, writing NAME.crt beside each CSR', async (t) => {
  const c = await cluster(t);
  const dir = path.join(c.root, 'csrs');
  await makeCsr(t, dir, 'w-1-client', W1, 'extendedKeyUsage=clientAuth');
  // As a kubelet asks: no extension at all is a client CSR.
  await makeCsr(t, dir, 'cp-1-client', '/CN=system:node:cp-1/O=system:nodes');
  await makeCsr(t, dir, 'w-1-serving', W1, 'extendedKeyUsage=serverAuth', 'subjectAltName=DNS:w-1,IP:192.168.10.21,IP:10.0.0.21');
  // A subset of the node's names, written differently (IPv6 uncompressed): still that node's.
  await makeCsr(t, dir, 'cp-1-serving', '/CN=system:node:cp-1/O=system:nodes', 'subjectAltName=IP:fd00:0:0:0:0:0:0:11');
  const run = await sign(c.config, '--csr', dir);
  t.is(run.exitCode, 0, run.stderr);
  t.regex(run.stdout, /^\[sign\] w-1-client\.csr: client certificate for system:node:w-1, until \d{4}-/m);
  t.regex(run.stdout, /^\[sign\] w-1-serving\.csr: serving certificate for system:node:w-1 \(w-1, 192\.168\.10\.21, 10\.0\.0\.21\), until /m);
  const caFile = path.join(c.pki, 'ca.crt');
  const cases = [
    { name: 'w-1-client', node: 'w-1', purpose: 'sslclient', eku: [CLIENT_AUTH], sans: [] as string[] },
    { name: 'cp-1-client', node: 'cp-1', purpose: 'sslclient', eku: [CLIENT_AUTH], sans: [] },
    { name: 'w-1-serving', node: 'w-1', purpose: 'sslserver', eku: [SERVER_AUTH], sans: sanList(['w-1'], ['192.168.10.21', '10.0.0.21']) },
    { name: 'cp-1-serving', node: 'cp-1', purpose: 'sslserver', eku: [SERVER_AUTH], sans: sanList([], ['fd00::11']) },
  ];
  for (const k of cases) {
    const crt = path.join(dir, `${k.name}.crt`);
    t.true(existsSync(crt), `${k.name}.crt written beside ${k.name}.csr`);
    t.is(statSync(crt).mode & 0o777, 0o644, `${k.name}.crt is 0644`);
    const v = await verify(caFile, crt, '-purpose', k.purpose);
    t.true(v.ok, v.output);
    t.false((await verify(path.join(c.pki, 'etcd/ca.crt'), crt)).ok, `${k.name}: not signed by the etcd CA`);
    const facts = await view(crt);
    t.is(facts.subject, `CN=system:node:${k.node},O=system:nodes`, `${k.name}: subject`);
    t.deepEqual(facts.eku, k.eku, `${k.name}: usage`);
    t.deepEqual(facts.sans, k.sans, `${k.name}: SANs`);
    t.is(await pubOfCert(crt), await pubOfCsr(path.join(dir, `${k.name}.csr`)), `${k.name}: the CSR's own key`);
    t.is(await pubOfCert(crt), await pubOfKey(path.join(dir, `${k.name}.key`)), `${k.name}: matches the node's key`);
  }
});

/** Forbidden shapes of CSR: openssl -subj and -addext, or literal text; and the reason kubepki gives. */
const FORBIDDEN: { name: string; subj?: string; addext?: string[]; text?: (valid: string, caPem: string) => string; reason: RegExp }[] = [
  { name: 'cn-admin', subj: '/CN=admin/O=system:nodes', reason: /^its subject CN is "admin", not system:node:<name>$/ },
  { name: 'o-system-masters', subj: '/CN=system:node:w-1/O=system:masters', reason: /^its subject O is "system:masters", not exactly system:nodes$/ },
  { name: 'two-o', subj: '/CN=system:node:w-1/O=system:nodes/O=system:masters', reason: /^its subject O is "system:nodes,system:masters", not exactly system:nodes$/ },
  { name: 'extra-ou', subj: '/CN=system:node:w-1/O=system:nodes/OU=ops', reason: /^its subject has other attributes \(OU\)$/ },
  { name: 'not-in-inventory', subj: '/CN=system:node:ghost/O=system:nodes', reason: /^ghost is not a node of the inventory$/ },
  { name: 'ip-of-another-node', addext: ['subjectAltName=DNS:w-1,IP:192.168.10.21,IP:192.168.10.11'], reason: /^it asks for SANs that do not belong to w-1 in the inventory: 192\.168\.10\.11$/ },
  { name: 'name-of-another-node', addext: ['subjectAltName=DNS:w-1,DNS:cp-1'], reason: /^it asks for SANs that do not belong to w-1 in the inventory: cp-1$/ },
  { name: 'foreign-dns-name', addext: ['subjectAltName=DNS:w-1,DNS:evil.example.com'], reason: /^it asks for SANs that do not belong to w-1 in the inventory: evil\.example\.com$/ },
  { name: 'localhost', addext: ['subjectAltName=DNS:w-1,DNS:localhost,IP:127.0.0.1'], reason: /^it asks for SANs that do not belong to w-1 in the inventory: localhost, 127\.0\.0\.1$/ },
  { name: 'client-and-server-usage', addext: ['extendedKeyUsage=serverAuth,clientAuth'], reason: /^a node CSR asks for one usage, client \(no SANs\) or server \(with SANs\); it asks for serverAuth and clientAuth$/ },
  { name: 'client-usage-with-sans', addext: ['extendedKeyUsage=clientAuth', 'subjectAltName=DNS:w-1'], reason: /^a node CSR asks for one usage, client \(no SANs\) or server \(with SANs\); it asks for clientAuth$/ },
  { name: 'serving-without-sans', addext: ['extendedKeyUsage=serverAuth'], reason: /^a serving CSR must name the node in its SANs$/ },
  { name: 'email-san', addext: ['subjectAltName=DNS:w-1,email:kubelet@example.com'], reason: /^it asks for an email SAN \(kubelet@example\.com\); node certificates carry DNS names and IPs only$/ },
  { name: 'uri-san', addext: ['subjectAltName=DNS:w-1,URI:spiffe://cluster.local/ns/kube-system/sa/x'], reason: /^it asks for a URI SAN \(spiffe:\/\/cluster\.local\/ns\/kube-system\/sa\/x\); node certificates carry DNS names and IPs only$/ },
  { name: 'garbage', text: () => 'this is not a certificate signing request\n', reason: /^is not a PEM certificate signing request$/ },
  { name: 'empty', text: () => '', reason: /^is not a PEM certificate signing request$/ },
  {
    name: 'truncated-pem',
    // The base64 body cut in half; the BEGIN and END lines kept.
    text: (valid) => {
      const lines = valid.trim().split('\n');
      const body = lines.slice(1, -1);
      return [lines[0], ...body.slice(0, Math.ceil(body.length / 2)), lines.at(-1), ''].join('\n');
    },
    reason: /^is not a PEM certificate signing request$/,
  },
  { name: 'end-line-missing', text: (valid) => valid.slice(0, 200), reason: /^is not a PEM certificate signing request$/ },
  { name: 'a-certificate', text: (_valid, caPem) => caPem, reason: /^is not a PEM certificate signing request$/ },
];

test('certs sign refuses each forbidden shape of CSR with its reason, exits 1 listing them all, and still signs the one that fits', async (t) => {
  const c = await cluster(t);
  const dir = path.join(c.root, 'csrs');
  const valid = await makeCsr(t, dir, 'fits', W1, 'extendedKeyUsage=serverAuth', 'subjectAltName=DNS:w-1,IP:10.0.0.21');
  const validPem = readFileSync(valid, 'utf8');
  const caPem = readFileSync(path.join(c.pki, 'ca.crt'), 'utf8');
  for (const f of FORBIDDEN) {
    if (f.text) writeFileSync(path.join(dir, `${f.name}.csr`), f.text(validPem, caPem));
    else await makeCsr(t, dir, f.name, f.subj ?? W1, ...(f.addext ?? []));
  }
  const run = await sign(c.config, '--csr', dir);
  t.is(run.exitCode, 1);
  const total = FORBIDDEN.length + 1;
  t.regex(run.stderr, new RegExp(`^kubepki: error: ${FORBIDDEN.length} of ${total} CSRs refused \\(1 signed\\):$`, 'm'));
  const reasons = new Map<string, string>();
  for (const line of run.stderr.split('\n')) {
    const m = /^ {2}- (.+\.csr): refused: (.*)$/.exec(line);
    if (m) reasons.set(path.basename(m[1]!, '.csr'), m[2]!);
  }
  for (const f of FORBIDDEN) {
    const reason = reasons.get(f.name);
    t.truthy(reason, `${f.name}.csr is listed as refused`);
    if (reason !== undefined) t.regex(reason, f.reason, `${f.name}.csr: the reason`);
    t.false(existsSync(path.join(dir, `${f.name}.crt`)), `no certificate for ${f.name}.csr`);
  }
  t.is(reasons.size, FORBIDDEN.length, 'only the forbidden ones are listed');
  t.regex(run.stdout, /^\[sign\] fits\.csr: serving certificate for system:node:w-1 \(w-1, 10\.0\.0\.21\)/m);
  t.true((await verify(path.join(c.pki, 'ca.crt'), path.join(dir, 'fits.crt'), '-purpose', 'sslserver', '-verify_ip', '10.0.0.21')).ok);
});

/** The DER of a PEM block. */
const der = (pem: string) => Buffer.from(pem.replace(/-----[A-Z ]+-----/g, '').replace(/\s+/g, ''), 'base64');
const pemOf = (bytes: Buffer) => `-----BEGIN CERTIFICATE REQUEST-----\n${bytes.toString('base64').match(/.{1,64}/g)!.join('\n')}\n-----END CERTIFICATE REQUEST-----\n`;

test('certs sign refuses a CSR whose signature was not made by the key it carries: another public key swapped in, or a signature byte changed', async (t) => {
  const c = await cluster(t);
  const dir = path.join(c.root, 'csrs');
  const valid = await makeCsr(t, dir, 'original', '/CN=system:node:w-2/O=system:nodes', 'extendedKeyUsage=clientAuth');
  const bytes = der(readFileSync(valid, 'utf8'));
  rmSync(valid);
  // Another key's SubjectPublicKeyInfo (same length for P-256) in place of the signer's.
  const mine = createPublicKey(readFileSync(path.join(dir, 'original.key'))).export({ type: 'spki', format: 'der' });
  const theirs = generateKeyPairSync('ec', { namedCurve: 'P-256' }).publicKey.export({ type: 'spki', format: 'der' });
  const at = bytes.indexOf(mine);
  t.true(at > 0, 'the CSR carries the key that signed it');
  const swapped = Buffer.concat([bytes.subarray(0, at), theirs, bytes.subarray(at + mine.length)]);
  writeFileSync(path.join(dir, 'swapped-key.csr'), pemOf(swapped));
  // The last byte of the signature (the end of the ECDSA s value) changed.
  const flipped = Buffer.from(bytes);
  flipped[flipped.length - 1]! ^= 0x01;
  writeFileSync(path.join(dir, 'bad-signature.csr'), pemOf(flipped));
  for (const name of ['swapped-key', 'bad-signature']) {
    const file = path.join(dir, `${name}.csr`);
    // Well-formed requests: openssl reads them but finds the signature wrong.
    t.is((await openssl(['req', '-in', file, '-noout', '-subject'])).exitCode, 0, `${name}.csr parses`);
    // (openssl 3.0 exits 0 either way: its message tells.)
    const check = await openssl(['req', '-in', file, '-noout', '-verify']);
    t.regex(check.stdout + check.stderr, /self-signature verify failure/, `openssl finds ${name}.csr's signature wrong`);
  }
  const run = await sign(c.config, '--csr', dir);
  t.is(run.exitCode, 1);
  t.regex(run.stderr, /^kubepki: error: 2 of 2 CSRs refused:$/m);
  for (const name of ['swapped-key', 'bad-signature']) {
    t.regex(run.stderr, new RegExp(`^ {2}- ${re(path.join(dir, name))}\\.csr: refused: its signature does not verify with its own public key`, 'm'), name);
    t.false(existsSync(path.join(dir, `${name}.crt`)));
  }
});

test('certs sign never overwrites an existing NAME.crt beside a CSR: an error, the file unchanged; --out-dir writes elsewhere', async (t) => {
  const c = await cluster(t);
  const dir = path.join(c.root, 'csrs');
  const csr = await makeCsr(t, dir, 'w-1', W1);
  const first = await sign(c.config, '--csr', csr);
  t.is(first.exitCode, 0, first.stderr);
  const crt = path.join(dir, 'w-1.crt');
  const before = snapshot(dir);
  const again = await sign(c.config, '--csr', csr);
  t.is(again.exitCode, 1);
  t.regex(again.stderr, /^kubepki: error: \/.*\/w-1\.crt already exists; kubepki will not overwrite it: move it away or choose --out-dir\. Nothing was written$/m);
  t.deepEqual(snapshot(dir), before);
  // A file that is not a certificate at all is not overwritten either.
  writeFileSync(crt, 'mine\n');
  const third = await sign(c.config, '--csr', dir);
  t.is(third.exitCode, 1);
  t.is(readFileSync(crt, 'utf8'), 'mine\n');
  const out = path.join(c.root, 'signed');
  const elsewhere = await sign(c.config, '--csr', dir, '--out-dir', out);
  t.is(elsewhere.exitCode, 0, elsewhere.stderr);
  t.deepEqual(readdirSync(out), ['w-1.crt']);
  t.true((await verify(path.join(c.pki, 'ca.crt'), path.join(out, 'w-1.crt'), '-purpose', 'sslclient')).ok);
  t.is(readFileSync(crt, 'utf8'), 'mine\n');
});

// ---------------------------------------------------------------------------
// bad input

test('duplicate node names: an error naming both entries, exit 1, nothing written', async (t) => {
  const c = await cluster(t);
  writeConfig(c.root, [...INVENTORY, { name: 'w-1', addresses: ['192.168.10.31'] }]);
  const before = snapshot(c.root);
  const run = await issue(c.config);
  t.is(run.exitCode, 1);
  t.regex(run.stderr, /^kubepki: error: nodes\[4\]: the name w-1 is already used by nodes\[2\]$/m);
  t.deepEqual(snapshot(c.root), before);
});

test('an address given to two nodes (however it is written): an error naming both nodes, exit 1, nothing written', async (t) => {
  const c = await cluster(t);
  for (const [address, canonical, owner] of [['10.0.0.21', '10.0.0.21', 'w-1'], ['FD00:0:0:0:0:0:0:11', 'fd00::11', 'cp-1']] as const) {
    writeConfig(c.root, [...INVENTORY, { name: 'w-3', addresses: ['192.168.10.23', address] }]);
    const before = snapshot(c.root);
    const run = await issue(c.config);
    t.is(run.exitCode, 1, address);
    t.regex(run.stderr, new RegExp(`^kubepki: error: nodes\\[4\\] \\(w-3\\): the address ${canonical.replace(/\./g, '\\.')} is also given to ${owner}$`, 'm'), address);
    t.deepEqual(snapshot(c.root), before, address);
  }
  // Several problems: each on its own line.
  writeConfig(c.root, [...INVENTORY, { name: 'w-2', addresses: ['192.168.10.40'] }, { name: 'w-4', addresses: ['192.168.10.12'] }]);
  const before = snapshot(c.root);
  const run = await issue(c.config);
  t.is(run.exitCode, 1);
  t.regex(run.stderr, /^kubepki: error: 2 problems in the node inventory:\n {2}- nodes\[4\]: the name w-2 is already used by nodes\[3\]\n {2}- nodes\[5\] \(w-4\): the address 192\.168\.10\.12 is also given to cp-2$/m);
  t.deepEqual(snapshot(c.root), before);
});

test('nodes issue without an inventory (no "nodes:", or an empty list) is a clear error, and nothing is written', async (t) => {
  const c = await cluster(t);
  for (const nodes of [undefined, []]) {
    writeConfig(c.root, nodes);
    const before = snapshot(c.root);
    const run = await issue(c.config);
    t.is(run.exitCode, 1);
    t.is(run.stderr, 'kubepki: error: the description lists no nodes: add them under "nodes:" (name, addresses, role)');
    t.deepEqual(snapshot(c.root), before);
  }
});

test('nodes issue --only with a name not in the inventory is a usage error (exit 2) naming it, and nothing is written', async (t) => {
  const c = await cluster(t);
  const before = snapshot(c.root);
  const run = await issue(c.config, '--only', 'w-1,ghost');
  t.is(run.exitCode, 2);
  t.is(run.stderr, 'kubepki: error: --only: no node named ghost in the inventory');
  t.deepEqual(snapshot(c.root), before);
});

test('nodes issue before init (no cluster CA) is a clear error naming the missing CA file, and nothing is written', async (t) => {
  const root = scratch(t);
  const config = writeConfig(root, INVENTORY);
  const before = snapshot(root);
  const run = await issue(config);
  t.is(run.exitCode, 1);
  t.regex(run.stderr, new RegExp(`^kubepki: error: ${re(path.join(root, 'pki', 'ca.crt'))}: cannot read the ca certificate: no such file or directory`));
  t.deepEqual(snapshot(root), before);
});
