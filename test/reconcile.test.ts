/**
 * certs reconcile: the description against what is on disk, file by file;
 * exactly what differs re-issued (checked with openssl and kubectl), what
 * matches left byte for byte, the CAs kept unless --include-cas; a dry run
 * that names each difference; clear errors that change nothing.
 */
import test, { type ExecutionContext } from 'ava';
import { execa } from 'execa';
import { chmodSync, mkdirSync, readFileSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { parse, stringify } from 'yaml';
import { kubepki, openssl, scratch, snapshot } from './helpers/cli.js';

const SELF = { name: 'cp-1', advertiseAddress: '192.168.10.11' };
const LEAVES = ['apiserver', 'apiserver-kubelet-client', 'kubelet-server', 'front-proxy-client', 'etcd/server', 'etcd/peer', 'etcd/healthcheck-client', 'apiserver-etcd-client'];
const CAS = ['ca', 'front-proxy-ca', 'etcd/ca'];
const KUBECONFIGS = ['admin.conf', 'super-admin.conf', 'kubelet.conf', 'controller-manager.conf', 'scheduler.conf'];

interface Description {
  endpoint?: string;
  certSANs?: string[];
  algorithm?: string;
  validity?: string;
  nodes?: { name: string; addresses: string[]; role?: string }[];
  advertiseAddress?: string;
}

function describe(root: string, d: Description = {}): string {
  const doc: Record<string, unknown> = {
    apiVersion: 'kubepki.dev/v1alpha1',
    kind: 'Cluster',
    node: { ...SELF, ...(d.advertiseAddress ? { advertiseAddress: d.advertiseAddress } : {}) },
    ...(d.endpoint ? { controlPlaneEndpoint: d.endpoint } : {}),
    ...(d.certSANs ? { apiServer: { certSANs: d.certSANs } } : {}),
    certificates: { dir: path.join(root, 'pki'), encryptionAlgorithm: d.algorithm ?? 'ECDSA-P256', ...(d.validity ? { validity: d.validity } : {}) },
    kubeconfigDir: root,
    flagsDir: path.join(root, 'flags'),
    ...(d.nodes ? { nodes: d.nodes } : {}),
  };
  const file = path.join(root, 'cluster.yaml');
  writeFileSync(file, stringify(doc));
  return file;
}

async function cluster(t: ExecutionContext, d: Description = {}) {
  const root = scratch(t);
  const config = describe(root, d);
  const r = await kubepki(['init', '--config', config]);
  t.is(r.exitCode, 0, r.stderr);
  return { root, config, pki: path.join(root, 'pki') };
}

const reconcile = (config: string, ...extra: string[]) => kubepki(['certs', 'reconcile', '--config', config, ...extra]);
const x509 = async (file: string, ...what: string[]) => (await openssl(['x509', '-in', file, '-noout', ...what])).stdout;
/** Everything kubepki writes but the backups (the description, rewritten by the tests, aside). */
const tree = (root: string) => Object.fromEntries(Object.entries(snapshot(root)).filter(([k]) => !k.startsWith('kubepki-backups') && k !== 'cluster.yaml' && !k.startsWith('bad')));
const changedFiles = (before: Record<string, string>, after: Record<string, string>) =>
  Object.keys({ ...before, ...after }).filter((k) => before[k] !== after[k]).sort();

async function verifies(t: ExecutionContext, ca: string, cert: string) {
  const v = await openssl(['verify', '-CAfile', ca, cert]);
  t.is(v.exitCode, 0, `${cert} against ${ca}: ${v.stdout}${v.stderr}`);
}

/** The client certificate embedded in a kubeconfig, written to a file for openssl. */
function clientOf(root: string, kubeconfig: string): string {
  const doc = parse(readFileSync(path.join(root, kubeconfig), 'utf8')) as { users: { user: Record<string, string> }[] };
  const file = path.join(root, `${kubeconfig}.client.pem`);
  writeFileSync(file, Buffer.from(doc.users[0]!.user['client-certificate-data']!, 'base64'));
  return file;
}

test('an unchanged layout: nothing to do, exit 0, and not one byte or mode changes', async (t) => {
  const { root, config } = await cluster(t);
  const before = tree(root);
  const dry = await reconcile(config, '--dry-run');
  t.is(dry.exitCode, 0, dry.stderr);
  t.is(dry.stdout.trim(), 'Everything matches the description. Dry run: nothing was written.');
  const r = await reconcile(config);
  t.is(r.exitCode, 0, r.stderr);
  t.is(r.stdout.trim(), '[reconcile] Everything matches the description; nothing was changed.');
  t.deepEqual(tree(root), before);
  t.false(readdirSync(root).includes('kubepki-backups'), 'no backup folder for nothing');
});

test('a SAN added to certSANs and a new controlPlaneEndpoint: the dry run names each difference; the run re-issues the apiserver certificate and rewrites the kubeconfigs that name the server, nothing else', async (t) => {
  const { root, config, pki } = await cluster(t);
  const before = tree(root);
  describe(root, { certSANs: ['lb.example.com', '10.0.0.50'], endpoint: 'lb.example.com:6443' });
  const dry = await reconcile(config, '--dry-run');
  t.is(dry.exitCode, 0, dry.stderr);
  const lines = dry.stdout.trim().split('\n');
  t.true(lines.includes('apiserver: SANs +DNS:lb.example.com +IP:10.0.0.50'), dry.stdout);
  for (const kc of ['admin.conf', 'super-admin.conf', 'kubelet.conf']) t.true(lines.includes(`${kc}: server https://192.168.10.11:6443 → https://lb.example.com:6443`), `${kc}\n${dry.stdout}`);
  t.regex(dry.stdout, /^4 to change, \d+ match the description\. Dry run: nothing was written\.$/m);
  t.deepEqual(tree(root), before, 'a dry run writes nothing');

  const log = path.join(path.dirname(root), `${path.basename(root)}-restarts.log`);
  t.teardown(() => rmSync(log, { force: true }));
  const r = await reconcile(config, '--restart', '--restart-command', `echo {component} >> ${log}`);
  t.is(r.exitCode, 0, r.stderr);
  t.regex(r.stdout, /^\[reconcile\] apiserver: SANs \+DNS:lb\.example\.com \+IP:10\.0\.0\.50$/m);
  // Only what reads what changed is restarted, one at a time, in the catalog's order.
  t.deepEqual(readFileSync(log, 'utf8').trim().split('\n'), ['kube-apiserver', 'kubelet']);
  t.regex(r.stdout, /^\[restart\] kube-apiserver: restarted$/m);
  t.deepEqual(changedFiles(before, tree(root)), ['admin.conf', 'kubelet.conf', 'pki/apiserver.crt', 'pki/apiserver.key', 'super-admin.conf']);
  t.regex(await x509(path.join(pki, 'apiserver.crt'), '-ext', 'subjectAltName'), /DNS:lb\.example\.com.*IP Address:10\.0\.0\.50/s);
  await verifies(t, path.join(pki, 'ca.crt'), path.join(pki, 'apiserver.crt'));
  // kubectl reads the rewritten kubeconfig: the new server; its client certificate was kept (only the server differed).
  const server = await execa('kubectl', ['--kubeconfig', path.join(root, 'admin.conf'), 'config', 'view', '-o', 'jsonpath={.clusters[0].cluster.server}'], { reject: false });
  t.is(server.stdout, 'https://lb.example.com:6443');
  const backup = readdirSync(path.join(root, 'kubepki-backups'))[0]!;
  t.is(readFileSync(path.join(root, 'kubepki-backups', backup, 'admin.conf'), 'utf8').includes('https://192.168.10.11:6443'), true, 'the old kubeconfig is in the backup');
  // Run again: everything matches now.
  const again = await reconcile(config, '--dry-run');
  t.is(again.stdout.trim(), 'Everything matches the description. Dry run: nothing was written.');
});

test('a changed advertise address: -IP in the dry run, and -o json lists each changed item with its changes', async (t) => {
  const { root, config } = await cluster(t);
  describe(root, { advertiseAddress: '192.168.10.12' });
  const r = await reconcile(config, '--dry-run', '-o', 'json');
  t.is(r.exitCode, 0, r.stderr);
  const data = JSON.parse(r.stdout) as { items: { name: string; action: string; changes?: string[] }[] };
  const changed = Object.fromEntries(data.items.filter((i) => i.changes).map((i) => [i.name, i.changes]));
  t.deepEqual(changed.apiserver, ['SANs +IP:192.168.10.12 -IP:192.168.10.11']);
  t.deepEqual(changed['etcd-server'], ['SANs +IP:192.168.10.12 -IP:192.168.10.11']);
  t.deepEqual(changed['etcd-peer'], ['SANs +IP:192.168.10.12 -IP:192.168.10.11']);
  t.is(data.items.find((i) => i.name === 'apiserver-etcd-client')?.action, 'keep');
});

test('encryptionAlgorithm RSA-2048 → ECDSA-P256: every leaf and kubeconfig client re-keyed and verifying, the CAs kept byte for byte with a note naming --include-cas', async (t) => {
  const { root, config, pki } = await cluster(t, { algorithm: 'RSA-2048' });
  const before = tree(root);
  describe(root, { algorithm: 'ECDSA-P256' });
  const r = await reconcile(config);
  t.is(r.exitCode, 0, r.stderr);
  t.regex(r.stdout, /^\[reconcile\] apiserver: key RSA-2048 → ECDSA-P256$/m);
  t.regex(r.stdout, /^\[reconcile\] note: ca: differs from the description \(key RSA-2048 → ECDSA-P256\); kept: .*--include-cas/m);
  const after = tree(root);
  for (const ca of CAS) for (const ext of ['crt', 'key']) t.is(after[`pki/${ca}.${ext}`], before[`pki/${ca}.${ext}`], `${ca}.${ext} kept`);
  t.is(after['pki/sa.key'], before['pki/sa.key'], 'the service-account key is kept');
  for (const leaf of LEAVES) {
    const file = path.join(pki, `${leaf}.crt`);
    t.regex(await x509(file, '-text'), /Public Key Algorithm: id-ecPublicKey[\s\S]*NIST CURVE: P-256/, leaf);
    await verifies(t, path.join(pki, leaf.startsWith('etcd/') || leaf === 'apiserver-etcd-client' ? 'etcd/ca.crt' : leaf === 'front-proxy-client' ? 'front-proxy-ca.crt' : 'ca.crt'), file);
  }
  for (const kc of KUBECONFIGS) {
    const client = clientOf(root, kc);
    t.regex(await x509(client, '-text'), /id-ecPublicKey/, kc);
    await verifies(t, path.join(pki, 'ca.crt'), client);
  }
  t.regex(r.stdout, /You must restart etcd, kube-apiserver, kube-controller-manager, kube-scheduler, kubelet /);
});

test('a shorter certificate validity: the leaves valid for longer are re-issued for the new period', async (t) => {
  const { root, config, pki } = await cluster(t);
  describe(root, { validity: '2160h' });
  const dry = await reconcile(config, '--dry-run');
  t.regex(dry.stdout, /^apiserver: validity 365d → 90d$/m);
  t.regex(dry.stdout, /^admin\.conf: client certificate validity 365d → 90d$/m);
  const r = await reconcile(config);
  t.is(r.exitCode, 0, r.stderr);
  const end = new Date((await x509(path.join(pki, 'apiserver.crt'), '-enddate')).trim().replace('notAfter=', ''));
  t.true(Math.abs(end.getTime() - (Date.now() + 90 * 86_400_000)) < 10 * 60_000, `apiserver now ends ${end.toISOString()}`);
  // The flag files follow the description too: the controller-manager signs for the same period; the old file is in the backup.
  t.regex(readFileSync(path.join(root, 'flags', 'kube-controller-manager.flags'), 'utf8'), /^--cluster-signing-duration=2160h0m0s$/m);
  t.regex(r.stdout, /^\[reconcile\] kube-controller-manager\.flags: differs from the description$/m);
  t.regex(r.stdout, /You must restart etcd, kube-apiserver, kube-controller-manager, kube-scheduler, kubelet /);
  const backup = readdirSync(path.join(root, 'kubepki-backups'))[0]!;
  t.regex(readFileSync(path.join(root, 'kubepki-backups', backup, 'flags', 'kube-controller-manager.flags'), 'utf8'), /^--cluster-signing-duration=8760h0m0s$/m);
});

test('--include-cas: a CA that differs is made anew, everything it signed re-issued against it; the old CA goes to the backups', async (t) => {
  const { root, config, pki } = await cluster(t, { algorithm: 'RSA-2048' });
  const oldCA = readFileSync(path.join(pki, 'ca.crt'), 'utf8');
  describe(root, { algorithm: 'ECDSA-P256' });
  const r = await reconcile(config, '--include-cas');
  t.is(r.exitCode, 0, r.stderr);
  t.regex(r.stdout, /^\[reconcile\] ca: key RSA-2048 → ECDSA-P256$/m);
  t.not(readFileSync(path.join(pki, 'ca.crt'), 'utf8'), oldCA);
  t.regex(await x509(path.join(pki, 'ca.crt'), '-text'), /NIST CURVE: P-256/);
  for (const leaf of ['apiserver', 'apiserver-kubelet-client', 'kubelet-server']) await verifies(t, path.join(pki, 'ca.crt'), path.join(pki, `${leaf}.crt`));
  for (const kc of KUBECONFIGS) await verifies(t, path.join(pki, 'ca.crt'), clientOf(root, kc));
  const backup = readdirSync(path.join(root, 'kubepki-backups'))[0]!;
  t.is(readFileSync(path.join(root, 'kubepki-backups', backup, 'pki', 'ca.crt'), 'utf8'), oldCA);
});

test('a node added to the inventory gets its bundle, the others are left as they are; a node removed while its bundle is there is an error that changes nothing', async (t) => {
  const nodes = [{ name: 'cp-1', addresses: ['192.168.10.11'], role: 'control-plane' }, { name: 'w-1', addresses: ['192.168.10.21'] }];
  const { root, config } = await cluster(t, { nodes });
  const issued = await kubepki(['nodes', 'issue', '--config', config]);
  t.is(issued.exitCode, 0, issued.stderr);
  const before = tree(root);
  describe(root, { nodes: [...nodes, { name: 'w-2', addresses: ['192.168.10.22'] }] });
  const r = await reconcile(config);
  t.is(r.exitCode, 0, r.stderr);
  t.deepEqual(changedFiles(before, tree(root)).filter((f) => !f.startsWith('nodes/w-2/')), ['nodes/w-2']);
  t.regex(r.stdout, /^\[reconcile\] w-2\/kubelet-server: missing, created$/m);
  t.regex(r.stdout, /^\[reconcile\] 1 node bundle changed in .*: copy it to its node$/m);
  await verifies(t, path.join(root, 'nodes', 'w-2', 'ca.crt'), path.join(root, 'nodes', 'w-2', 'kubelet-server.crt'));

  describe(root, { nodes: [nodes[0]!, { name: 'w-2', addresses: ['192.168.10.22'] }] });
  const kept = tree(root);
  const refused = await reconcile(config);
  t.is(refused.exitCode, 1);
  t.regex(refused.stderr, /nodes\/w-1 is the bundle of a node the inventory no longer lists; reconcile does not delete bundles: move it away .*Nothing was changed\./);
  t.notRegex(refused.stderr, /at .*\.cjs/, 'no stack trace');
  t.deepEqual(tree(root), kept);
});

test('bad input changes nothing: a rotation under way, a kubeconfig that is not YAML, a malformed description', async (t) => {
  const { root, config } = await cluster(t);
  describe(root, { certSANs: ['lb.example.com'] });
  const started = await kubepki(['ca', 'rotate', 'start', '--config', config, '--ca', 'ca']);
  t.is(started.exitCode, 0, started.stderr);
  let before = tree(root);
  const during = await reconcile(config);
  t.is(during.exitCode, 1);
  t.regex(during.stderr, /pki\/ca\.crt is being rotated \(phase started\): finish the rotation \(kubepki ca rotate complete\) or abort it, then reconcile/);
  t.deepEqual(tree(root), before);
  t.is((await kubepki(['ca', 'rotate', 'abort', '--config', config])).exitCode, 0);

  writeFileSync(path.join(root, 'scheduler.conf'), 'clusters: [: oops\n', { mode: 0o600 });
  before = tree(root);
  const broken = await reconcile(config);
  t.is(broken.exitCode, 1);
  t.regex(broken.stderr, /scheduler\.conf .*(YAML|parse)/i);
  t.deepEqual(tree(root), before, 'apiserver is not re-issued while another file is refused');

  mkdirSync(path.join(root, 'bad'));
  const bad = path.join(root, 'bad', 'cluster.yaml');
  writeFileSync(bad, 'apiVersion: kubepki.dev/v1alpha1\nkind: Cluster\ncertificates: {encryptionAlgorithm: DSA-1024}\n');
  const malformed = await reconcile(bad);
  t.not(malformed.exitCode, 0);
  t.regex(malformed.stderr, /encryptionAlgorithm/);
  t.deepEqual(tree(root), before);
});

/** Every certificate file beside a key file under `dir` whose key is not the certificate's (node:crypto reads both). */
async function pairsMismatched(dir: string): Promise<string[]> {
  const { X509Certificate, createPrivateKey, createPublicKey } = await import('node:crypto');
  const bad: string[] = [];
  const walk = (d: string) => {
    for (const e of readdirSync(d, { withFileTypes: true })) {
      const full = path.join(d, e.name);
      if (e.isDirectory()) walk(full);
      else if (e.name.endsWith('.crt') && readdirSync(d).includes(e.name.replace(/\.crt$/, '.key'))) {
        const cert = new X509Certificate(readFileSync(full)).publicKey.export({ type: 'spki', format: 'der' });
        const key = createPublicKey(createPrivateKey(readFileSync(full.replace(/\.crt$/, '.key')))).export({ type: 'spki', format: 'der' });
        if (!cert.equals(key)) bad.push(path.relative(dir, full));
      }
    }
  };
  walk(dir);
  return bad;
}

test('SIGKILL at every write step of a reconcile: each pair wholly old or wholly new, and reconcile run again completes', async (t) => {
  t.timeout(240_000);
  const { root, config, pki } = await cluster(t);
  // Every leaf and client certificate differs (the validity), and the apiserver's SANs too.
  describe(root, { certSANs: ['lb.example.com'], validity: '2160h' });
  const fs = await import('node:fs');
  const baseline = `${root}-baseline`;
  t.teardown(() => fs.rmSync(baseline, { recursive: true, force: true }));
  fs.cpSync(root, baseline, { recursive: true, preserveTimestamps: true });
  let n = 1;
  for (; n < 60; n++) {
    const killed = await kubepki(['certs', 'reconcile', '--config', config], { env: { KUBEPKI_FAULT: `kill-commit:${n}` } });
    if (killed.exitCode === 0) break; // fewer than n steps: it finished
    t.is(killed.exitCode, -1, `killed at step ${n}: ${killed.stderr}`);
    t.deepEqual(await pairsMismatched(pki), [], `right after a kill at step ${n}: every key matches its certificate`);
    const again = await reconcile(config);
    t.is(again.exitCode, 0, `killed at step ${n}, run again: ${again.stderr}`);
    const done = await reconcile(config, '--dry-run');
    t.is(done.stdout.trim(), 'Everything matches the description. Dry run: nothing was written.', `killed at step ${n}, run again: done`);
    t.deepEqual(await pairsMismatched(pki), [], `after a kill at step ${n} and a run again: every key matches`);
    fs.rmSync(root, { recursive: true, force: true });
    fs.cpSync(baseline, root, { recursive: true, preserveTimestamps: true });
  }
  t.true(n > 10, `reconcile had several write steps (${n - 1})`);
  t.log(`killed at each of ${n - 1} write steps`);
});

test('a layout without flag files (init --skip-phases flags) gets none from reconcile', async (t) => {
  const root = scratch(t);
  const config = describe(root);
  t.is((await kubepki(['init', '--config', config, '--skip-phases', 'flags'])).exitCode, 0);
  const r = await reconcile(config);
  t.is(r.exitCode, 0, r.stderr);
  t.is(r.stdout.trim(), '[reconcile] Everything matches the description; nothing was changed.');
  t.false(readdirSync(root).includes('flags'));
});

test('a flag file with the right content but more open than 0600 (an older kubepki wrote 0644) is written again 0600: "mode 0644 → 0600", nothing else changes', async (t) => {
  const { root, config } = await cluster(t);
  const flags = path.join(root, 'flags');
  const file = path.join(flags, 'kube-scheduler.env');
  const content = readFileSync(file);
  chmodSync(file, 0o644);
  const before = tree(root);
  const dry = await reconcile(config, '--dry-run');
  t.is(dry.exitCode, 0, dry.stderr);
  t.regex(dry.stdout, /^kube-scheduler\.env: mode 0644 → 0600$/m);
  t.regex(dry.stdout, /^1 to change, /m);
  t.deepEqual(tree(root), before, 'the dry run wrote nothing');
  const run = await reconcile(config);
  t.is(run.exitCode, 0, run.stderr);
  t.is(statSync(file).mode & 0o777, 0o600);
  t.deepEqual(readFileSync(file), content);
  t.deepEqual(changedFiles(before, tree(root)), ['flags/kube-scheduler.env']);
});
