/**
 * An expired cluster comes back: a layout issued 400 days ago (kubepki init
 * under libfaketime), every leaf and kubeconfig expired, the CAs still valid.
 * check-expiration says so (exit 4) and names the command; `certs renew all`
 * works offline from the CA files alone, including a kubelet whose client
 * certificate the kubelet rotated itself (kubelet.conf pointing at
 * kubelet-client-current.pem: a new pair there, the link moved to it); a
 * 3-member etcd cluster then runs on the renewed certificates.
 *
 * Needs faketime (Debian: faketime), openssl, etcd and etcdctl.
 */
import test, { type ExecutionContext } from 'ava';
import { execa } from 'execa';
import { X509Certificate, createPrivateKey, createPublicKey } from 'node:crypto';
import { lstatSync, mkdirSync, readFileSync, readdirSync, readlinkSync, rmSync, cpSync, symlinkSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { parse, stringify } from 'yaml';
import { BIN, REPO, kubepki, openssl, scratch, snapshot } from './helpers/cli.js';
import { etcdctl } from './helpers/etcd.js';
import { describe, nodeDirArgs, startHaEtcd } from './helpers/ha-etcd.js';

const PAST = ['faketime', '-f', '-400d'];
const LEAVES = ['apiserver', 'apiserver-kubelet-client', 'kubelet-server', 'front-proxy-client', 'etcd/server', 'etcd/peer', 'etcd/healthcheck-client', 'apiserver-etcd-client'];

async function inThePast(args: readonly string[]) {
  const r = await execa(PAST[0]!, [...PAST.slice(1), process.execPath, BIN, ...args], { reject: false, env: {}, cwd: REPO, timeout: 120_000, stdin: 'ignore' });
  return { exitCode: r.exitCode ?? -1, stdout: String(r.stdout), stderr: String(r.stderr) };
}

const expiredNow = async (file: string) => (await openssl(['x509', '-in', file, '-noout', '-checkend', '0'])).exitCode !== 0;

/**
 * The kubelet's layout after it rotated its client certificate (kubeadm's after
 * TLS bootstrap): kubelet-client-<time>.pem (certificate and key) under
 * kubelet/pki, kubelet-client-current.pem linking to it, and kubelet.conf
 * pointing at the link. Here the pair is kubelet.conf's own embedded one.
 */
function kubeletRotated(root: string): { dir: string; old: string; current: string } {
  const dir = path.join(root, 'kubelet', 'pki');
  mkdirSync(dir, { recursive: true });
  const kc = parse(readFileSync(path.join(root, 'kubelet.conf'), 'utf8')) as { users: { user: Record<string, string> }[] };
  const user = kc.users[0]!.user;
  const old = path.join(dir, 'kubelet-client-2025-10-27-12-00-00.pem');
  writeFileSync(old, Buffer.from(user['client-certificate-data']!, 'base64').toString() + Buffer.from(user['client-key-data']!, 'base64').toString(), { mode: 0o600 });
  const current = path.join(dir, 'kubelet-client-current.pem');
  symlinkSync(old, current);
  delete user['client-certificate-data'];
  delete user['client-key-data'];
  user['client-certificate'] = current;
  user['client-key'] = current;
  writeFileSync(path.join(root, 'kubelet.conf'), stringify(kc), { mode: 0o600 });
  return { dir, old, current };
}

/** The kubelet's current pair: the link's target, whose key matches its certificate. */
function kubeletPair(t: ExecutionContext, current: string): { target: string; serial: string } {
  t.true(lstatSync(current).isSymbolicLink(), `${current} is still a symbolic link`);
  const target = readlinkSync(current);
  t.is(path.dirname(target), path.dirname(current), 'it links within its folder, as the kubelet does');
  t.is(lstatSync(target).mode & 0o777, 0o600);
  const pem = readFileSync(target, 'utf8');
  const cert = new X509Certificate(pem);
  t.true(cert.publicKey.export({ type: 'spki', format: 'der' }).equals(createPublicKey(createPrivateKey(pem)).export({ type: 'spki', format: 'der' })), `${target}: key matches certificate`);
  return { target, serial: cert.serialNumber };
}

async function expiredLayout(t: ExecutionContext) {
  const root = scratch(t);
  const args = ['--cert-dir', path.join(root, 'pki'), '--kubeconfig-dir', root, '--flags-dir', path.join(root, 'flags'), '--node-name', 'cp-1', '--apiserver-advertise-address', '127.0.0.1', '--encryption-algorithm', 'ECDSA-P256'];
  const r = await inThePast(['init', ...args]);
  t.is(r.exitCode, 0, r.stderr);
  const kubelet = kubeletRotated(root);
  return { root, args, kubelet, pki: path.join(root, 'pki') };
}

test('every leaf and kubeconfig expired: check-expiration exits 4 and names the command; renew all brings them back offline, the kubelet\'s rotated pair too', async (t) => {
  const { root, args, kubelet, pki } = await expiredLayout(t);
  for (const leaf of LEAVES) t.true(await expiredNow(path.join(pki, `${leaf}.crt`)), `${leaf} has expired`);
  t.true(await expiredNow(kubelet.old), 'the kubelet\'s client certificate has expired');
  const cas = Object.fromEntries(['ca.crt', 'ca.key', 'etcd/ca.crt', 'etcd/ca.key', 'front-proxy-ca.crt', 'front-proxy-ca.key', 'sa.key'].map((f) => [f, readFileSync(path.join(pki, f), 'utf8')]));

  const check = await kubepki(['certs', 'check-expiration', ...args]);
  t.is(check.exitCode, 4, check.stdout);
  t.regex(check.stdout, /^kubelet\.conf +\w{3} \d\d, \d{4} [\d:]+ UTC +<invalid> /m, 'kubelet.conf\'s row is the kubelet\'s own file, read through its link');
  for (const name of ['apiserver', 'etcd-server', 'admin.conf', 'scheduler.conf']) t.regex(check.stdout, new RegExp(`^${name} +.*<invalid>`, 'm'));
  t.regex(check.stdout, /^Every certificate has expired: renew them with "kubepki certs renew all" \(it needs only the CA files, no running cluster\), then restart what reads them$/m);

  const r = await kubepki(['certs', 'renew', 'all', ...args]);
  t.is(r.exitCode, 0, r.stderr);
  t.regex(r.stdout, /^\[renew\] client certificate the kubelet rotates \(.*kubelet-client-current\.pem\) renewed \(kubelet\.conf, serial [0-9a-f]+, until /m);
  for (const leaf of LEAVES) {
    t.false(await expiredNow(path.join(pki, `${leaf}.crt`)), `${leaf} is valid again`);
    const ca = leaf.startsWith('etcd/') || leaf === 'apiserver-etcd-client' ? 'etcd/ca.crt' : leaf === 'front-proxy-client' ? 'front-proxy-ca.crt' : 'ca.crt';
    t.is((await openssl(['verify', '-CAfile', path.join(pki, ca), path.join(pki, `${leaf}.crt`)])).exitCode, 0, leaf);
  }
  for (const [f, text] of Object.entries(cas)) t.is(readFileSync(path.join(pki, f), 'utf8'), text, `${f} is untouched`);

  // The kubelet's shape: a new kubelet-client-<time>.pem beside the old one, the link moved to it.
  const now = kubeletPair(t, kubelet.current);
  t.not(now.target, kubelet.old);
  t.regex(path.basename(now.target), /^kubelet-client-\d{4}-\d\d-\d\d-\d\d-\d\d-\d\d\.pem$/);
  t.true(readdirSync(kubelet.dir).includes(path.basename(kubelet.old)), 'the old file stays, as the kubelet leaves it');
  t.false(await expiredNow(now.target));
  t.is((await openssl(['verify', '-CAfile', path.join(pki, 'ca.crt'), now.target])).exitCode, 0);
  t.regex((await openssl(['x509', '-in', now.target, '-noout', '-subject'])).stdout, /O ?= ?system:nodes, CN ?= ?system:node:cp-1/);
  const kc = parse(readFileSync(path.join(root, 'kubelet.conf'), 'utf8')) as { users: { user: Record<string, string> }[] };
  t.is(kc.users[0]!.user['client-certificate'], kubelet.current, 'kubelet.conf still points at the link');
  const backups = readdirSync(path.join(root, 'kubepki-backups'));
  t.is(readlinkSync(path.join(root, 'kubepki-backups', backups[0]!, 'kubelet', 'kubelet-client-current.pem')), kubelet.old, 'the old link is in the backup, as a link');

  const after = await kubepki(['certs', 'check-expiration', ...args]);
  t.is(after.exitCode, 0, after.stdout);
});

test('renew kubelet.conf by name renews the kubelet\'s rotated pair; a link out of its folder is refused and nothing changes', async (t) => {
  const { root, args, kubelet } = await expiredLayout(t);
  const named = await kubepki(['certs', 'renew', 'kubelet.conf', ...args]);
  t.is(named.exitCode, 0, named.stderr);
  t.not(kubeletPair(t, kubelet.current).target, kubelet.old);

  rmSync(kubelet.current);
  const elsewhere = path.join(root, 'elsewhere.pem');
  cpSync(kubelet.old, elsewhere);
  symlinkSync(elsewhere, kubelet.current);
  const before = snapshot(root);
  const refused = await kubepki(['certs', 'renew', 'kubelet.conf', ...args]);
  t.is(refused.exitCode, 1);
  t.regex(refused.stderr, /kubelet-client-current\.pem is a symbolic link out of its folder \(to .*elsewhere\.pem\)/);
  t.deepEqual(snapshot(root), before);
});

test('SIGKILL at every write step of renew all with the kubelet\'s link: the link always names a whole pair, and renew run again completes', async (t) => {
  t.timeout(240_000);
  const { root, args, kubelet } = await expiredLayout(t);
  const baseline = `${root}-baseline`;
  t.teardown(() => rmSync(baseline, { recursive: true, force: true }));
  cpSync(root, baseline, { recursive: true, preserveTimestamps: true, verbatimSymlinks: true });
  let n = 1;
  for (; n < 40; n++) {
    const killed = await kubepki(['certs', 'renew', 'all', ...args], { env: { KUBEPKI_FAULT: `kill-commit:${n}` } });
    if (killed.exitCode === 0) break;
    t.is(killed.exitCode, -1, `killed at step ${n}: ${killed.stderr}`);
    kubeletPair(t, kubelet.current);
    // The next run rolls back first, then renews everything.
    const again = await kubepki(['certs', 'renew', 'all', ...args]);
    t.is(again.exitCode, 0, `killed at step ${n}, run again: ${again.stderr}`);
    t.false(await expiredNow(kubeletPair(t, kubelet.current).target), `killed at step ${n}, run again: the kubelet's pair is renewed`);
    for (const d of [path.dirname(kubelet.dir), kubelet.dir, root]) {
      t.deepEqual(readdirSync(d).filter((e) => e.startsWith('.kubepki-txn-')), [], `killed at step ${n}, run again: nothing of the killed run is left in ${d}`);
    }
    // Of the files beside the link: the old one, and the one the link names (a killed run's new file was rolled back).
    t.deepEqual(readdirSync(kubelet.dir).sort(), [path.basename(kubelet.old), 'kubelet-client-current.pem', path.basename(readlinkSync(kubelet.current))].sort(), `killed at step ${n}`);
    rmSync(root, { recursive: true, force: true });
    cpSync(baseline, root, { recursive: true, preserveTimestamps: true, verbatimSymlinks: true });
  }
  t.true(n > 10, `renew all had several write steps (${n - 1})`);
  t.log(`killed at each of ${n - 1} write steps`);
});

test('a 3-member etcd cluster issued 400 days ago starts on its certificates once renewed, offline, node by node', async (t) => {
  t.timeout(180_000);
  const dir = scratch(t);
  const { nodes } = await startHaEtcd(t, dir, {
    initUnder: PAST,
    beforeStart: async ({ nodes: ns, config }) => {
      for (const n of ns) {
        for (const leaf of ['etcd/server', 'etcd/peer', 'etcd/healthcheck-client', 'apiserver-etcd-client']) t.true(await expiredNow(path.join(n.pki, `${leaf}.crt`)), `${n.name}: ${leaf} has expired`);
        const own = ['--config', config, '--node-name', n.name, ...nodeDirArgs(n)];
        const check = await kubepki(['certs', 'check-expiration', ...own]);
        t.is(check.exitCode, 4, `${n.name}: check-expiration says expired\n${check.stdout}${check.stderr}`);
        const r = await kubepki(['certs', 'renew', 'all', ...own]);
        t.is(r.exitCode, 0, `${n.name}: renew all\n${r.stderr}`);
      }
    },
  });
  // Started and healthy (startHaEtcd polled it with m0's etcdctl.env files); a write through each member, read back from all.
  const tls = (n: (typeof nodes)[number]) => ({ cacert: path.join(n.pki, 'etcd/ca.crt'), cert: path.join(n.pki, 'apiserver-etcd-client.crt'), key: path.join(n.pki, 'apiserver-etcd-client.key') });
  for (const [i, n] of nodes.entries()) {
    const put = await etcdctl(null, { ...tls(n), endpoints: [n.clientUrl], args: ['put', `k${i}`, `v${i}`] });
    t.is(put.exitCode, 0, describe(put));
  }
  const get = await etcdctl(null, { ...tls(nodes[0]!), endpoints: nodes.map((n) => n.clientUrl), args: ['get', 'k', '--prefix', '--print-value-only'] });
  t.is(get.exitCode, 0, describe(get));
  t.deepEqual(get.stdout.trim().split('\n'), ['v0', 'v1', 'v2']);
});
