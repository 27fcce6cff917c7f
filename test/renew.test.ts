/**
 * certs renew: what is kept (subject, SANs, usages, CA, the rest of a
 * kubeconfig), what changes (serial, key, validity), backups, restarts,
 * CSRs for an external CA, refusals that lose nothing, and crash safety
 * under SIGKILL at every step of the commit.
 */
import test from 'ava';
import { chmodSync, chownSync, cpSync, existsSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { parse, stringify } from 'yaml';
import { NODE, kubepki, openssl, scratch, snapshot } from './helpers/cli.js';

const ALG = ['--encryption-algorithm', 'ECDSA-P256'];
const LEAVES = ['apiserver', 'apiserver-kubelet-client', 'kubelet-server', 'front-proxy-client', 'etcd/server', 'etcd/peer', 'etcd/healthcheck-client', 'apiserver-etcd-client'];
const CA_OF = (leaf: string) => (leaf.startsWith('etcd/') || leaf === 'apiserver-etcd-client' ? 'etcd/ca' : leaf === 'front-proxy-client' ? 'front-proxy-ca' : 'ca');
const KUBECONFIGS = ['admin.conf', 'super-admin.conf', 'kubelet.conf', 'controller-manager.conf', 'scheduler.conf'];

async function pki(t: import('ava').ExecutionContext) {
  const root = scratch(t);
  const dir = path.join(root, 'pki');
  const run = await kubepki(['init', '--cert-dir', dir, ...NODE, ...ALG]);
  t.is(run.exitCode, 0, run.stderr);
  return { root, dir };
}
const renew = (dir: string, ...args: string[]) => kubepki(['certs', 'renew', ...args, '--cert-dir', dir, ...NODE, ...ALG]);

const x509 = async (file: string, ...what: string[]) => (await openssl(['x509', '-in', file, '-noout', ...what])).stdout;
const pubOfCert = (file: string) => x509(file, '-pubkey');
const pubOfKey = async (file: string) => (await openssl(['pkey', '-in', file, '-pubout'])).stdout;

/** Embedded client certificate and key of a kubeconfig, written out for openssl. */
function embedded(root: string, file: string): { cert: string; key: string; doc: any } {
  const doc = parse(readFileSync(file, 'utf8')) as any;
  const cert = path.join(root, `${path.basename(file)}.${Math.random().toString(36).slice(2)}.crt`);
  const key = `${cert}.key`;
  writeFileSync(cert, Buffer.from(doc.users[0].user['client-certificate-data'], 'base64'));
  writeFileSync(key, Buffer.from(doc.users[0].user['client-key-data'], 'base64'), { mode: 0o600 });
  return { cert, key, doc };
}

test('renew all: new serials and keys; same subject, SANs, usages and CA; old files in a backup; restarts named', async (t) => {
  const { root, dir } = await pki(t);
  const before = new Map<string, { info: string; serial: string; pub: string }>();
  for (const leaf of LEAVES) {
    const f = path.join(dir, `${leaf}.crt`);
    before.set(leaf, { info: await x509(f, '-subject', '-ext', 'subjectAltName,extendedKeyUsage,keyUsage', '-nameopt', 'RFC2253'), serial: await x509(f, '-serial'), pub: await pubOfCert(f) });
  }
  const oldFiles = Object.fromEntries(LEAVES.map((l) => [l, readFileSync(path.join(dir, `${l}.crt`), 'utf8')]));
  const run = await renew(dir, 'all');
  t.is(run.exitCode, 0, run.stderr);
  t.notRegex(run.stdout + run.stderr, /PRIVATE KEY/);
  t.regex(run.stdout, /You must restart etcd, kube-apiserver, kube-controller-manager, kube-scheduler, kubelet so that they use the new certificates/);
  for (const leaf of LEAVES) {
    const f = path.join(dir, `${leaf}.crt`);
    t.is(await x509(f, '-subject', '-ext', 'subjectAltName,extendedKeyUsage,keyUsage', '-nameopt', 'RFC2253'), before.get(leaf)!.info, `${leaf}: same subject, SANs and usages`);
    t.not(await x509(f, '-serial'), before.get(leaf)!.serial, `${leaf}: new serial`);
    t.not(await pubOfCert(f), before.get(leaf)!.pub, `${leaf}: new key`);
    t.is(await pubOfCert(f), await pubOfKey(path.join(dir, `${leaf}.key`)), `${leaf}: key matches`);
    t.is((await openssl(['verify', '-CAfile', path.join(dir, `${CA_OF(leaf)}.crt`), f])).exitCode, 0, `${leaf}: signed by its CA`);
  }
  const backup = readdirSync(path.join(root, 'kubepki-backups'))[0]!;
  t.regex(backup, /^\d{8}T\d{6}Z$/);
  for (const leaf of LEAVES) t.is(readFileSync(path.join(root, 'kubepki-backups', backup, 'pki', `${leaf}.crt`), 'utf8'), oldFiles[leaf]!, `${leaf}: backed up`);
  for (const k of KUBECONFIGS) t.true(existsSync(path.join(root, 'kubepki-backups', backup, k)), `${k} backed up`);
  // The PKI still satisfies init (nothing to create, everything kept).
  const again = await kubepki(['init', '--cert-dir', dir, ...NODE, ...ALG]);
  t.is(again.exitCode, 0, again.stderr);
  t.notRegex(again.stdout, /Generating/);
});

test('renewing a kubeconfig changes only its user\'s certificate and key; the rest of the file stays', async (t) => {
  const { root, dir } = await pki(t);
  const file = path.join(root, 'admin.conf');
  const doc = parse(readFileSync(file, 'utf8')) as any;
  doc.preferences = { colors: true };
  doc.contexts.push({ name: 'extra', context: { cluster: 'kubernetes', user: 'kubernetes-admin', namespace: 'ops' } });
  writeFileSync(file, stringify(doc), { mode: 0o600 });
  const old = embedded(root, file);
  const run = await renew(dir, 'admin.conf', '--certificate-validity', '48h');
  t.is(run.exitCode, 0, run.stderr);
  t.regex(run.stdout, /No component reads them from this node/);
  const now = embedded(root, file);
  const strip = (d: any) => ({ ...d, users: d.users.map((u: any) => ({ ...u, user: { ...u.user, 'client-certificate-data': 'X', 'client-key-data': 'X' } })) });
  t.deepEqual(strip(now.doc), strip(old.doc), 'everything but the client data is as it was');
  t.not(await x509(now.cert, '-serial'), await x509(old.cert, '-serial'));
  t.is(await x509(now.cert, '-subject', '-nameopt', 'RFC2253'), 'subject=CN=kubernetes-admin,O=kubeadm:cluster-admins');
  t.is(await pubOfCert(now.cert), await pubOfKey(now.key));
  t.is((await openssl(['verify', '-CAfile', path.join(dir, 'ca.crt'), now.cert])).exitCode, 0);
  const dates = await x509(now.cert, '-startdate', '-enddate');
  const [from, to] = [...dates.matchAll(/=(.+)$/gm)].map((m) => Date.parse(m[1]!));
  t.is(Math.round((to! - from!) / 60_000), 48 * 60 + 5, 'the configured validity, plus the 5-minute backdate');
});

test('--keep-key keeps each key; only the certificate changes', async (t) => {
  const { dir } = await pki(t);
  const key = readFileSync(path.join(dir, 'apiserver.key'));
  const serial = await x509(path.join(dir, 'apiserver.crt'), '-serial');
  const run = await renew(dir, 'apiserver', '--keep-key');
  t.is(run.exitCode, 0, run.stderr);
  t.deepEqual(readFileSync(path.join(dir, 'apiserver.key')), key);
  t.not(await x509(path.join(dir, 'apiserver.crt'), '-serial'), serial);
  t.regex(run.stdout, /You must restart kube-apiserver so that/);
});

test('--restart runs the configured command per component and reports each; a failure is exit 1', async (t) => {
  const { root, dir } = await pki(t);
  const log = path.join(root, 'restarts.log');
  const ok = await renew(dir, 'etcd-server', 'apiserver', '--restart', '--restart-command', `echo {component} >> ${log}`);
  t.is(ok.exitCode, 0, ok.stderr);
  t.is(readFileSync(log, 'utf8'), 'etcd\nkube-apiserver\n');
  t.regex(ok.stdout, /^\[restart\] etcd: restarted$/m);
  const bad = await renew(dir, 'apiserver', '--restart', '--restart-command', 'echo no such unit >&2; exit 5');
  t.is(bad.exitCode, 1);
  t.regex(bad.stdout, /^\[restart\] kube-apiserver: FAILED \(exit 5: no such unit\)$/m);
  t.regex(bad.stderr, /1 of 1 restarts failed; the new certificates are in place/);
});

test('--csr-only writes a key and a CSR per certificate, and changes nothing else', async (t) => {
  const { root, dir } = await pki(t);
  const before = snapshot(dir);
  const csrs = path.join(root, 'csrs');
  const run = await renew(dir, 'apiserver', 'admin.conf', '--csr-only', '--csr-dir', csrs);
  t.is(run.exitCode, 0, run.stderr);
  t.deepEqual(readdirSync(csrs).sort(), ['admin.conf.csr', 'admin.conf.key', 'apiserver.csr', 'apiserver.key']);
  const req = await openssl(['req', '-in', path.join(csrs, 'apiserver.csr'), '-noout', '-verify', '-subject', '-nameopt', 'RFC2253', '-text']);
  t.regex(req.stdout + req.stderr, /verify OK/i);
  t.regex(req.stdout, /subject=CN=kube-apiserver/);
  t.regex(req.stdout, /DNS:kubernetes\.default\.svc\.cluster\.local/);
  t.is((await openssl(['req', '-in', path.join(csrs, 'apiserver.csr'), '-noout', '-pubkey'])).stdout, await pubOfKey(path.join(csrs, 'apiserver.key')));
  t.deepEqual(snapshot(dir), before);
  const again = await renew(dir, 'apiserver', '--csr-only', '--csr-dir', csrs);
  t.is(again.exitCode, 1);
  t.regex(again.stderr, /already exists .*will not overwrite/);
  const noDir = await renew(dir, 'apiserver', '--csr-only');
  t.is(noDir.exitCode, 2);
});

test('refusals lose nothing: unknown names, external CA, corrupt certificate, CA not matching its key, kubeconfig without client data', async (t) => {
  const { root, dir } = await pki(t);
  const unknown = await renew(dir, 'apiserver', 'bogus');
  t.is(unknown.exitCode, 2);
  t.regex(unknown.stderr, /^kubepki: error: unknown certificate "bogus"; renewable: apiserver, /);

  const corrupt = await pki(t);
  writeFileSync(path.join(corrupt.dir, 'front-proxy-client.crt'), 'garbage\n');
  let before = snapshot(corrupt.root);
  const r1 = await renew(corrupt.dir, 'all');
  t.is(r1.exitCode, 1);
  t.regex(r1.stderr, /front-proxy-client\.crt holds no PEM certificate\. Nothing was renewed\./);
  t.deepEqual(snapshot(corrupt.root), before);

  const mismatch = await pki(t);
  cpSync(path.join(mismatch.dir, 'front-proxy-ca.key'), path.join(mismatch.dir, 'ca.key'));
  before = snapshot(mismatch.root);
  const r2 = await renew(mismatch.dir, 'apiserver');
  t.is(r2.exitCode, 1);
  t.regex(r2.stderr, /apiserver: .*ca\.key does not match .*ca\.crt/);
  t.deepEqual(snapshot(mismatch.root), before);

  rmSync(path.join(dir, 'etcd/ca.key'));
  before = snapshot(root);
  const r3 = await renew(dir, 'etcd-server');
  t.is(r3.exitCode, 1);
  t.regex(r3.stderr, /^kubepki: error: etcd-server is signed by etcd-ca, whose key is not here \(the CA is managed outside kubepki\): have that CA renew it, or write a CSR with --csr-only/);
  t.deepEqual(snapshot(root), before);
  const all = await renew(dir, 'all');
  t.is(all.exitCode, 0, all.stderr);
  t.regex(all.stdout, /Detected external etcd-ca: etcd-server can't be renewed here/);
  t.regex(all.stdout, /\(apiserver, serial/);

  const kc = await pki(t);
  const file = path.join(kc.root, 'scheduler.conf');
  const doc = parse(readFileSync(file, 'utf8')) as any;
  delete doc.users[0].user['client-certificate-data'];
  writeFileSync(file, stringify(doc), { mode: 0o600 });
  before = snapshot(kc.root);
  const r4 = await renew(kc.dir, 'scheduler.conf');
  t.is(r4.exitCode, 1);
  t.regex(r4.stderr, /scheduler\.conf has no embedded client certificate and key for its current user/);
  t.deepEqual(snapshot(kc.root), before);
});

/** Give an EC P-256 SEC1 key file a private value past the curve's order (33 bytes of 0xff), its public point kept: OpenSSL loads it, cannot sign with it, and node 20 aborts when asked its details. */
function damageEcKey(file: string): void {
  const der = Buffer.from(readFileSync(file, 'utf8').replace(/-----[^-]+-----/g, ''), 'base64');
  if (der[0] !== 0x30 || der[1] !== 0x77 || der[5] !== 0x04 || der[6] !== 0x20) throw new Error(`${file} is not an openssl P-256 SEC1 key`);
  const body = Buffer.concat([Buffer.of(2, 1, 1, 4, 33), Buffer.alloc(33, 0xff), der.subarray(39)]);
  writeFileSync(file, `-----BEGIN EC PRIVATE KEY-----\n${Buffer.concat([Buffer.of(0x30, body.length), body]).toString('base64')}\n-----END EC PRIVATE KEY-----\n`, { mode: 0o600 });
}

test('a damaged CA key (one OpenSSL loads but cannot sign with): renew and init name the file, print no trace, and change nothing', async (t) => {
  const { root, dir } = await pki(t);
  damageEcKey(path.join(dir, 'ca.key'));
  const before = snapshot(root);
  // node 20 used to abort here (exit 134, a native CHECK in its EC key details) before saying anything.
  const renewed = await renew(dir, 'apiserver');
  t.is(renewed.exitCode, 1, renewed.stderr);
  t.is(renewed.stderr, `kubepki: error: apiserver: ${path.join(dir, 'ca.key')} holds an EC private key whose private value is out of range for prime256v1. Nothing was renewed.`);
  t.deepEqual(snapshot(root), before);
  rmSync(path.join(dir, 'apiserver.crt'));
  const again = snapshot(root);
  const init = await kubepki(['init', '--cert-dir', dir, ...NODE, ...ALG]);
  t.is(init.exitCode, 1, init.stderr);
  t.regex(init.stderr, /^kubepki: error: ca\.key holds an EC private key whose private value is out of range for prime256v1; restore it from a backup or move it away\. Nothing was written\.$/);
  t.deepEqual(snapshot(root), again);
  // A leaf's damaged key kept for a CSR (--keep-key --csr-only) is refused the same way, and no CSR folder is left.
  const leaf = await pki(t);
  damageEcKey(path.join(leaf.dir, 'apiserver.key'));
  const leafBefore = snapshot(leaf.root);
  const csr = await renew(leaf.dir, 'apiserver', '--keep-key', '--csr-only', '--csr-dir', path.join(leaf.root, 'csrs'));
  t.is(csr.exitCode, 1, csr.stderr);
  t.regex(csr.stderr, /^kubepki: error: .*apiserver\.key holds an EC private key whose private value is out of range for prime256v1\. Nothing was renewed\.$/);
  t.deepEqual(snapshot(leaf.root), leafBefore);
});

test('a read-only cert dir: a clear error and nothing lost', async (t) => {
  const { root, dir } = await pki(t);
  let user: string | undefined;
  if (process.getuid?.() === 0) {
    // Root ignores permission bits: let nobody own (and read) the files, but not the folders.
    chmodSync(root, 0o755);
    for (const f of [...LEAVES.flatMap((l) => [`${l}.crt`, `${l}.key`]), 'ca.crt', 'ca.key']) chownSync(path.join(dir, f), 65534, 65534);
    user = 'nobody';
  } else {
    chmodSync(dir, 0o555);
    chmodSync(root, 0o555);
    t.teardown(() => { chmodSync(root, 0o755); chmodSync(dir, 0o755); });
  }
  const before = snapshot(root);
  const run = await kubepki(['certs', 'renew', 'apiserver', '--cert-dir', dir, ...NODE, ...ALG], user ? { user } : {});
  t.is(run.exitCode, 1);
  t.regex(run.stderr, /^kubepki: error: .*permission denied/);
  t.is(run.stderr.trim().split('\n').length, 1, run.stderr);
  t.deepEqual(snapshot(root), before);
});

/** Every pair consistent? Returns the leaves whose key does not match their certificate. */
async function mismatchedPairs(dir: string): Promise<string[]> {
  const bad: string[] = [];
  for (const leaf of LEAVES) {
    if ((await pubOfCert(path.join(dir, `${leaf}.crt`))) !== (await pubOfKey(path.join(dir, `${leaf}.key`)))) bad.push(leaf);
  }
  return bad;
}

test('SIGKILL at every step of the commit: every pair is wholly old or wholly new, and a second renew completes', async (t) => {
  const { root, dir } = await pki(t);
  const template = path.join(scratch(t), 'template');
  cpSync(root, template, { recursive: true });
  const oldSerial = Object.fromEntries(await Promise.all(LEAVES.map(async (l) => [l, await x509(path.join(dir, `${l}.crt`), '-serial')])));
  // A step switches one certificate and its key (two consecutive renames) or one kubeconfig: 8 + 5 steps.
  const steps = LEAVES.length + KUBECONFIGS.length;
  for (let n = 1; n <= steps; n++) {
    rmSync(root, { recursive: true, force: true });
    cpSync(template, root, { recursive: true });
    const killed = await kubepki(['certs', 'renew', 'all', '--cert-dir', dir, ...NODE, ...ALG], { env: { KUBEPKI_FAULT: `kill-commit:${n}` } });
    t.is(killed.exitCode, -1, `step ${n}: killed`);
    let renewed = 0;
    for (const leaf of LEAVES) {
      const crt = path.join(dir, `${leaf}.crt`);
      t.is((await openssl(['verify', '-CAfile', path.join(dir, `${CA_OF(leaf)}.crt`), crt])).exitCode, 0, `step ${n}: ${leaf} verifies`);
      if ((await x509(crt, '-serial')) !== oldSerial[leaf]) renewed++;
    }
    t.deepEqual(await mismatchedPairs(dir), [], `step ${n}: every key matches its certificate`);
    for (const k of KUBECONFIGS) {
      const e = embedded(root, path.join(root, k));
      t.is(await pubOfCert(e.cert), await pubOfKey(e.key), `step ${n}: ${k} is wholly old or wholly new`);
    }
    t.true(renewed < LEAVES.length || n > LEAVES.length, `step ${n}: the kill came before the end (${renewed} renewed)`);
    const again = await kubepki(['certs', 'renew', 'all', '--cert-dir', dir, ...NODE, ...ALG]);
    t.is(again.exitCode, 0, `step ${n}: ${again.stderr}`);
    t.regex(again.stderr, /rolled back the unfinished writes of an interrupted run/, `step ${n}`);
    t.deepEqual(await mismatchedPairs(dir), [], `step ${n}: all pairs match after the second renew`);
    for (const leaf of LEAVES) t.not(await x509(path.join(dir, `${leaf}.crt`), '-serial'), oldSerial[leaf], `step ${n}: ${leaf} renewed`);
  }
});
