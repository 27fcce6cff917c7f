/**
 * kubepki ca rotate: kubernetes-ca and front-proxy-ca rotated while real TLS
 * peers keep talking. `openssl s_server` stands in for kube-apiserver: it
 * presents apiserver.crt and requires a client certificate from the CA file
 * it was started with (ca.crt, or front-proxy-ca.crt for the aggregation
 * layer's requestheader CA); kubectl with admin.conf, kubelet.conf and
 * controller-manager.conf (and with front-proxy-client.crt) must get through
 * at every phase: against the server started before the step (a component not
 * restarted yet) and the one started after it. After complete, the kubeconfig
 * from before the rotation is refused. Abort goes back to the old CA, and
 * what it signed is valid again.
 *
 * Expected values are facts, not kubepki's output: which certificate openssl
 * says signed which file, and whether a TLS handshake succeeds.
 */
import test, { type ExecutionContext } from 'ava';
import { execa, type ResultPromise } from 'execa';
import { copyFileSync, existsSync, readFileSync, readdirSync } from 'node:fs';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { kubepki, openssl, scratch, snapshot } from './helpers/cli.js';
import { LOOPBACK, freePort } from './helpers/ports.js';

const ALG = ['--encryption-algorithm', 'ECDSA-P256'] as const;

interface Cluster {
  root: string;
  pki: string;
  args: string[];
}

async function cluster(t: ExecutionContext): Promise<Cluster> {
  const root = scratch(t);
  const pki = path.join(root, 'pki');
  const args = ['--cert-dir', pki, '--kubeconfig-dir', root, '--flags-dir', path.join(root, 'flags'), '--node-name', 'cp-1', '--apiserver-advertise-address', LOOPBACK, ...ALG];
  const r = await kubepki(['init', ...args]);
  t.is(r.exitCode, 0, r.stderr);
  return { root, pki, args };
}

async function rotate(t: ExecutionContext, c: Cluster, step: string, extra: string[] = []) {
  const r = await kubepki(['ca', 'rotate', step, ...c.args, ...extra]);
  t.is(r.exitCode, 0, `ca rotate ${step}: ${r.stdout}\n${r.stderr}`);
  return r;
}

async function phases(c: Cluster): Promise<Record<string, string>> {
  const r = await kubepki(['ca', 'rotate', 'status', ...c.args, '-o', 'json']);
  if (r.exitCode !== 0) throw new Error(r.stderr);
  return Object.fromEntries((JSON.parse(r.stdout) as { rotations: { name: string; phase: string }[] }).rotations.map((x) => [x.name, x.phase]));
}

/** openssl's verdict: does `file` verify against `caFile` (as a component that trusts that file would judge it)? */
async function verifies(caFile: string, file: string): Promise<boolean> {
  return (await openssl(['verify', '-CAfile', caFile, file])).exitCode === 0;
}

/** A TLS server like kube-apiserver: the apiserver certificate, client certificates required from `clientCA`. */
interface Server {
  port: number;
  stop(): Promise<void>;
}

async function serve(t: ExecutionContext, pki: string, clientCA: string): Promise<Server> {
  const port = await freePort();
  // Copies, as a process holds what it read at start: the files on disk change under it.
  const dir = path.join(pki, '..', `server-${port}`);
  (await import('node:fs')).mkdirSync(dir);
  for (const f of ['apiserver.crt', 'apiserver.key']) copyFileSync(path.join(pki, f), path.join(dir, f));
  copyFileSync(path.join(pki, clientCA), path.join(dir, 'client-ca.crt'));
  const child: ResultPromise = execa('openssl', [
    's_server', '-accept', `${LOOPBACK}:${port}`, '-cert', path.join(dir, 'apiserver.crt'), '-key', path.join(dir, 'apiserver.key'),
    '-CAfile', path.join(dir, 'client-ca.crt'), '-Verify', '1', '-verify_return_error', '-www', '-quiet',
  ], { reject: false, stdin: 'ignore', buffer: false });
  const stop = async () => {
    if (child.pid && child.exitCode === null) child.kill('SIGKILL');
    await child.catch(() => undefined);
  };
  t.teardown(stop);
  // Bounded wait until it accepts connections.
  const net = await import('node:net');
  for (let i = 0; ; i++) {
    const ok = await new Promise<boolean>((resolve) => {
      const s = net.connect({ host: LOOPBACK, port }, () => { s.destroy(); resolve(true); });
      s.on('error', () => resolve(false));
    });
    if (ok) break;
    if (i > 100) throw new Error(`openssl s_server on ${port} did not start`);
    await sleep(50);
  }
  return { port, stop };
}

/** kubectl get --raw / against the server, with a kubeconfig or with a client certificate pair. */
async function kubectl(port: number, who: { kubeconfig: string } | { cert: string; key: string; ca: string }) {
  const auth = 'kubeconfig' in who ? ['--kubeconfig', who.kubeconfig] : ['--kubeconfig', '/dev/null', '--client-certificate', who.cert, '--client-key', who.key, '--certificate-authority', who.ca];
  const r = await execa('kubectl', [...auth, '--server', `https://${LOOPBACK}:${port}`, '--request-timeout', '10s', 'get', '--raw', '/'], { reject: false, timeout: 30_000, stdin: 'ignore' });
  return { ok: r.exitCode === 0 && /s_server/.test(String(r.stdout)), detail: `exit ${r.exitCode}: ${String(r.stderr).slice(0, 400)}` };
}

const KUBECONFIGS = ['admin.conf', 'kubelet.conf', 'controller-manager.conf'];

/** Every kubeconfig, and the front-proxy client, get through to the servers given. */
async function allGetThrough(t: ExecutionContext, c: Cluster, api: Server, front: Server, when: string): Promise<void> {
  for (const k of KUBECONFIGS) {
    const r = await kubectl(api.port, { kubeconfig: path.join(c.root, k) });
    t.true(r.ok, `${when}: kubectl --kubeconfig ${k} get --raw / (${r.detail})`);
  }
  const fp = await kubectl(front.port, { cert: path.join(c.pki, 'front-proxy-client.crt'), key: path.join(c.pki, 'front-proxy-client.key'), ca: path.join(c.pki, 'ca.crt') });
  t.true(fp.ok, `${when}: the front-proxy client gets through (${fp.detail})`);
}

/** Every private key kubepki keeps beside a certificate matches it. */
async function keysMatch(t: ExecutionContext, pki: string, when: string): Promise<void> {
  const walk = (dir: string): string[] => readdirSync(dir, { withFileTypes: true }).flatMap((e) => (e.isDirectory() ? walk(path.join(dir, e.name)) : e.name.endsWith('.crt') ? [path.join(dir, e.name)] : []));
  for (const crt of walk(pki)) {
    const key = crt.replace(/\.crt$/, '.key');
    if (!existsSync(key)) continue;
    const a = await openssl(['x509', '-in', crt, '-noout', '-pubkey']);
    const b = await openssl(['pkey', '-in', key, '-pubout']);
    t.is(a.stdout, b.stdout, `${when}: ${path.relative(pki, key)} matches ${path.relative(pki, crt)}`);
  }
}

const pemCount = (file: string) => (readFileSync(file, 'utf8').match(/BEGIN CERTIFICATE/g) ?? []).length;

/** The controller-manager's signing pair (from its flag file): one certificate, and the key of it. */
function signingPair(c: Cluster): { cert: string; key: string } {
  const flags = readFileSync(path.join(c.root, 'flags', 'kube-controller-manager.flags'), 'utf8');
  return { cert: /--cluster-signing-cert-file=(\S+)/.exec(flags)![1]!, key: /--cluster-signing-key-file=(\S+)/.exec(flags)![1]! };
}

test('ca rotate start → issue → complete: kubectl and the front-proxy client get through at every phase, before and after each restart; the old admin.conf is refused at the end', async (t) => {
  t.timeout(180_000);
  const c = await cluster(t);
  const p = (f: string) => path.join(c.pki, f);
  const oldCA = path.join(c.root, 'old-ca.crt');
  copyFileSync(p('ca.crt'), oldCA);
  const oldFrontCA = path.join(c.root, 'old-front-proxy-ca.crt');
  copyFileSync(p('front-proxy-ca.crt'), oldFrontCA);
  const oldAdmin = path.join(c.root, 'old-admin.conf');
  copyFileSync(path.join(c.root, 'admin.conf'), oldAdmin);
  const oldSaPub = readFileSync(p('sa.pub'), 'utf8');

  let api = await serve(t, c.pki, 'ca.crt');
  let front = await serve(t, c.pki, 'front-proxy-ca.crt');
  await allGetThrough(t, c, api, front, 'after init');

  // start: trust both, sign nothing new.
  const started = await rotate(t, c, 'start');
  t.regex(started.stdout, /^\[rotate\] ca: started; new CA .*ca-new\.crt/m);
  t.regex(started.stdout, /Restart .*kube-apiserver.*one at a time/);
  t.deepEqual(await phases(c), { ca: 'started', 'etcd-ca': 'started', 'front-proxy-ca': 'started', sa: 'started' });
  t.is(pemCount(p('ca.crt')), 2, 'ca.crt holds the old and the new CA');
  t.is(pemCount(p('ca-old.crt')), 1);
  t.is(pemCount(p('ca-new.crt')), 1);
  t.true(await verifies(oldCA, p('apiserver.crt')), 'start re-signs nothing: apiserver.crt is still the old CA\'s');
  t.true(await verifies(oldCA, p('ca-old.crt')), 'ca-old.crt is the old CA');
  t.false(await verifies(oldCA, p('ca-new.crt')), 'ca-new.crt is another CA');
  t.true(readFileSync(p('sa.pub'), 'utf8').startsWith(oldSaPub), 'sa.pub: the old public key first, then the new one');
  t.is((readFileSync(p('sa.pub'), 'utf8').match(/BEGIN PUBLIC KEY/g) ?? []).length, 2);
  let pair = signingPair(c);
  t.is(pair.cert, p('ca-old.crt'), 'the controller-manager signs with the old CA, from a one-certificate file');
  t.is(pair.key, p('ca-old.key'));
  await keysMatch(t, c.pki, 'after start');
  await allGetThrough(t, c, api, front, 'after start, servers not restarted');
  await api.stop(); await front.stop();
  api = await serve(t, c.pki, 'ca.crt'); front = await serve(t, c.pki, 'front-proxy-ca.crt');
  await allGetThrough(t, c, api, front, 'after start, servers restarted');

  // issue: everything re-signed by the new CA, which signs from now on.
  copyFileSync(p('front-proxy-client.crt'), path.join(c.root, 'old-front-proxy-client.crt'));
  copyFileSync(p('front-proxy-client.key'), path.join(c.root, 'old-front-proxy-client.key'));
  const issued = await rotate(t, c, 'issue');
  t.regex(issued.stdout, /^\[rotate\] ca: issued; 8 certificates re-issued by the new CA/m);
  t.deepEqual(await phases(c), { ca: 'issued', 'etcd-ca': 'issued', 'front-proxy-ca': 'issued', sa: 'issued' });
  for (const f of ['apiserver.crt', 'apiserver-kubelet-client.crt', 'kubelet-server.crt']) {
    t.true(await verifies(p('ca-new.crt'), p(f)), `${f} is signed by the new CA`);
    t.false(await verifies(oldCA, p(f)), `${f} is no longer the old CA's`);
  }
  t.true(await verifies(p('front-proxy-ca-new.crt'), p('front-proxy-client.crt')));
  t.true(await verifies(p('etcd/ca-new.crt'), p('etcd/server.crt')));
  pair = signingPair(c);
  t.is(pair.cert, p('ca-new.crt'), 'the controller-manager signs with the new CA');
  await keysMatch(t, c.pki, 'after issue');
  await allGetThrough(t, c, api, front, 'after issue, servers not restarted (they present the old CA\'s certificate)');
  await api.stop(); await front.stop();
  api = await serve(t, c.pki, 'ca.crt'); front = await serve(t, c.pki, 'front-proxy-ca.crt');
  await allGetThrough(t, c, api, front, 'after issue, servers restarted');
  // kubepki init, run again mid-rotation, finds everything as it should be.
  const mid = snapshot(c.root);
  const again = await kubepki(['init', ...c.args]);
  t.is(again.exitCode, 0, again.stderr);
  t.deepEqual(snapshot(c.root), mid, 'kubepki init during a rotation keeps every file (flags included)');

  // complete: the old CA dropped.
  const backupsBefore = readdirSync(path.join(c.root, 'kubepki-backups'));
  const done = await rotate(t, c, 'complete');
  t.regex(done.stdout, /^\[rotate\] ca: complete/m);
  t.deepEqual(await phases(c), { ca: 'idle', 'etcd-ca': 'idle', 'front-proxy-ca': 'idle', sa: 'idle' });
  t.is(pemCount(p('ca.crt')), 1);
  t.false(existsSync(p('ca-old.crt')) || existsSync(p('ca-new.key')) || existsSync(p('sa-old.key')), 'the rotation files are gone');
  const backup = readdirSync(path.join(c.root, 'kubepki-backups')).find((d) => !backupsBefore.includes(d))!;
  t.true(existsSync(path.join(c.root, 'kubepki-backups', backup, 'pki', 'ca-old.key')), 'the old CA key is in the backup folder');
  t.true(await verifies(p('ca.crt'), p('apiserver.crt')));
  t.false(await verifies(p('ca.crt'), oldCA), 'ca.crt no longer holds the old CA');
  t.is((readFileSync(p('sa.pub'), 'utf8').match(/BEGIN PUBLIC KEY/g) ?? []).length, 1);
  t.false(readFileSync(p('sa.pub'), 'utf8').includes(oldSaPub.trim()), 'sa.pub no longer holds the old key');
  pair = signingPair(c);
  t.is(pair.cert, p('ca.crt'), 'the controller-manager signs with ca.crt again (kubeadm\'s path)');
  await keysMatch(t, c.pki, 'after complete');
  await allGetThrough(t, c, api, front, 'after complete, servers not restarted');
  await api.stop(); await front.stop();
  api = await serve(t, c.pki, 'ca.crt'); front = await serve(t, c.pki, 'front-proxy-ca.crt');
  await allGetThrough(t, c, api, front, 'after complete, servers restarted');
  const old = await kubectl(api.port, { kubeconfig: oldAdmin });
  t.false(old.ok, 'the admin.conf from before the rotation is refused');
  const oldFront = await kubectl(front.port, { cert: path.join(c.root, 'old-front-proxy-client.crt'), key: path.join(c.root, 'old-front-proxy-client.key'), ca: p('ca.crt') });
  t.false(oldFront.ok, 'the front-proxy client certificate from before the rotation is refused');

  const twice = await kubepki(['ca', 'rotate', 'complete', ...c.args]);
  t.is(twice.exitCode, 1, 'complete twice is refused');
  t.regex(twice.stderr, /no rotation is under way, so there is nothing to complete; start one with "kubepki ca rotate start"/);
});

test('ca rotate abort: from issued back to started (the old CA signs again, both trusted), then to the old CA alone; what the old CA signed is valid again', async (t) => {
  t.timeout(120_000);
  const c = await cluster(t);
  const p = (f: string) => path.join(c.pki, f);
  const original = snapshot(c.pki);
  const oldCA = path.join(c.root, 'old-ca.crt');
  copyFileSync(p('ca.crt'), oldCA);
  const oldAdmin = path.join(c.root, 'old-admin.conf');
  copyFileSync(path.join(c.root, 'admin.conf'), oldAdmin);
  await rotate(t, c, 'start', ['--ca', 'ca,sa']);
  t.deepEqual(await phases(c), { ca: 'started', 'etcd-ca': 'idle', 'front-proxy-ca': 'idle', sa: 'started' });
  await rotate(t, c, 'issue');
  t.true(await verifies(p('ca-new.crt'), p('apiserver.crt')));

  const back = await rotate(t, c, 'abort');
  t.regex(back.stdout, /ca: issue undone; 8 certificates re-issued by the old CA/);
  t.regex(back.stdout, /run "kubepki ca rotate abort --ca ca,sa" again to drop the new CA/);
  t.deepEqual(await phases(c), { ca: 'started', 'etcd-ca': 'idle', 'front-proxy-ca': 'idle', sa: 'started' });
  t.true(await verifies(oldCA, p('apiserver.crt')), 'apiserver.crt is signed by the old CA again');
  t.is(readFileSync(p('ca.key'), 'utf8'), readFileSync(p('ca-old.key'), 'utf8'), 'ca.key is the old key again');
  await keysMatch(t, c.pki, 'after abort from issued');

  await rotate(t, c, 'abort');
  t.deepEqual(await phases(c), { ca: 'idle', 'etcd-ca': 'idle', 'front-proxy-ca': 'idle', sa: 'idle' });
  const now = snapshot(c.pki);
  for (const f of ['ca.crt', 'ca.key', 'sa.key', 'sa.pub', 'etcd/ca.crt', 'front-proxy-ca.crt', 'etcd/server.crt']) t.is(now[f], original[f], `${f} is as before the rotation`);
  t.false(existsSync(p('ca-new.crt')));
  const api = await serve(t, c.pki, 'ca.crt');
  for (const k of ['admin.conf', 'kubelet.conf']) t.true((await kubectl(api.port, { kubeconfig: path.join(c.root, k) })).ok, `${k} gets through after abort`);
  t.true((await kubectl(api.port, { kubeconfig: oldAdmin })).ok, 'the admin.conf from before the rotation is valid again');

  const none = await kubepki(['ca', 'rotate', 'abort', ...c.args]);
  t.is(none.exitCode, 1);
  t.regex(none.stderr, /no rotation is under way, so there is nothing to abort/);
});

test('ca rotate refuses, and changes nothing: issue before start, complete before issue, an unknown --ca, a CA whose key is elsewhere, a leaf signed by neither CA, a hand-edited CA file, a read-only cert dir', async (t) => {
  t.timeout(120_000);
  const c = await cluster(t);
  const p = (f: string) => path.join(c.pki, f);
  const unchanged = async (args: string[], code: number, message: RegExp, what: string) => {
    const before = snapshot(c.root);
    const r = await kubepki(['ca', 'rotate', ...args, ...c.args]);
    t.is(r.exitCode, code, `${what}: exit ${r.exitCode}\n${r.stdout}\n${r.stderr}`);
    t.regex(r.stderr, message, what);
    t.notRegex(r.stderr, /internal error|\n\s+at /, `${what}: no stack trace`);
    t.deepEqual(snapshot(c.root), before, `${what}: nothing on disk changed`);
  };
  await unchanged(['issue', '--ca', 'ca'], 1, /ca: no rotation is under way, so there is nothing to issue; start one with "kubepki ca rotate start --ca ca"/, 'issue before start');
  await unchanged(['issue'], 1, /no rotation is under way, so there is nothing to issue/, 'issue before start, all');
  await unchanged(['start', '--ca', 'ca,nope'], 2, /--ca: unknown nope; choose from ca, etcd-ca, front-proxy-ca, sa/, 'unknown --ca');
  await unchanged(['frobnicate'], 2, /Invalid values|choices/i, 'unknown step');

  // A CA whose key is not here (managed outside kubepki).
  const key = readFileSync(p('front-proxy-ca.key'));
  (await import('node:fs')).rmSync(p('front-proxy-ca.key'));
  await unchanged(['start', '--ca', 'front-proxy-ca'], 1, /front-proxy-ca\.key is missing: front-proxy-ca is managed outside kubepki .*rotate it where its key is kept/, 'external CA');
  (await import('node:fs')).writeFileSync(p('front-proxy-ca.key'), key, { mode: 0o600 });

  await rotate(t, c, 'start', ['--ca', 'ca']);
  await unchanged(['complete', '--ca', 'ca'], 1, /ca: the rotation is only started; its certificates are still signed by the old CA: run "kubepki ca rotate issue --ca ca" first/, 'complete before issue');

  // A leaf replaced by hand with one from another CA between the phases.
  const foreign = path.join(c.root, 'foreign');
  const other = await kubepki(['init', '--cert-dir', foreign, '--kubeconfig-dir', foreign, '--skip-phases', 'kubeconfig,flags', '--node-name', 'cp-1', '--apiserver-advertise-address', LOOPBACK, ...ALG]);
  t.is(other.exitCode, 0, other.stderr);
  const mine = { crt: readFileSync(p('apiserver.crt')), key: readFileSync(p('apiserver.key')) };
  copyFileSync(path.join(foreign, 'apiserver.crt'), p('apiserver.crt'));
  copyFileSync(path.join(foreign, 'apiserver.key'), p('apiserver.key'));
  await unchanged(['issue', '--ca', 'ca'], 1, /apiserver: its certificate is signed by neither CA of the rotation of ca \(changed by hand\?\)/, 'a leaf signed by neither CA');
  (await import('node:fs')).writeFileSync(p('apiserver.crt'), mine.crt);
  (await import('node:fs')).writeFileSync(p('apiserver.key'), mine.key, { mode: 0o600 });

  // ca.crt edited by hand: the new CA dropped from the bundle.
  const bundle = readFileSync(p('ca.crt'), 'utf8');
  (await import('node:fs')).writeFileSync(p('ca.crt'), readFileSync(p('ca-old.crt'), 'utf8'));
  await unchanged(['issue', '--ca', 'ca'], 1, /ca\.crt does not hold the two CAs of the rotation under way .*was the layout changed by hand\?/, 'a hand-edited CA file');
  await unchanged(['status'], 1, /ca\.crt does not hold the two CAs/, 'status of a hand-edited layout');
  (await import('node:fs')).writeFileSync(p('ca.crt'), bundle);
  (await import('node:fs')).rmSync(p('ca-new.key'));
  await unchanged(['issue', '--ca', 'ca'], 1, /ca-new\.key is missing while .* is here: the rotation of ca is half there/, 'half a rotation');
  t.pass();
});

test('ca rotate issue in a read-only cert dir: a clear error, nothing changed', async (t) => {
  const c = await cluster(t);
  await rotate(t, c, 'start', ['--ca', 'front-proxy-ca']);
  const fs = await import('node:fs');
  await execa('chown', ['-R', 'nobody', c.root]);
  fs.chmodSync(c.pki, 0o555);
  fs.chmodSync(c.root, 0o555);
  t.teardown(() => { fs.chmodSync(c.root, 0o755); fs.chmodSync(c.pki, 0o755); });
  const before = snapshot(c.root);
  const r = await kubepki(['ca', 'rotate', 'issue', ...c.args], { user: 'nobody' });
  t.is(r.exitCode, 1, r.stdout + r.stderr);
  t.regex(r.stderr, /^kubepki: error: cannot write in .*: permission denied/im);
  t.notRegex(r.stderr, /\n\s+at /);
  t.deepEqual(snapshot(c.root), before, 'nothing changed');
});

/** Each private key beside a certificate (and in each kubeconfig) matches it: checked in-process, for the crash loop. */
async function pairsMatch(root: string): Promise<string[]> {
  const { X509Certificate, createPublicKey } = await import('node:crypto');
  const { parse } = await import('yaml');
  const bad: string[] = [];
  const same = (cert: string, key: string) => new X509Certificate(cert).publicKey.export({ type: 'spki', format: 'der' }).equals(createPublicKey(key).export({ type: 'spki', format: 'der' }));
  const walk = (dir: string): string[] => readdirSync(dir, { withFileTypes: true }).flatMap((e) => (e.isDirectory() && e.name !== 'kubepki-backups' ? walk(path.join(dir, e.name)) : [path.join(dir, e.name)]));
  for (const f of walk(root)) {
    if (f.endsWith('.crt') && existsSync(f.replace(/\.crt$/, '.key')) && !same(readFileSync(f, 'utf8'), readFileSync(f.replace(/\.crt$/, '.key'), 'utf8'))) bad.push(f);
    if (f.endsWith('.conf')) {
      const user = (parse(readFileSync(f, 'utf8')) as { users: { user: Record<string, string> }[] }).users[0]!.user;
      const cert = user['client-certificate-data'];
      const key = user['client-key-data'];
      if (cert && key && !same(Buffer.from(cert, 'base64').toString(), Buffer.from(key, 'base64').toString())) bad.push(f);
    }
  }
  return bad;
}

/**
 * SIGKILL at each write step of one step (KUBEPKI_FAULT=kill-commit:N counts
 * the steps of the commit; a certificate and its key are one step): right
 * after the kill every key on disk matches its certificate; the next kubepki
 * run rolls the rest back, so status finds the phase before; the step run
 * again completes. N grows until the step finishes unkilled.
 */
const CRASH: Record<'start' | 'issue' | 'complete' | 'abort', { setup: string[]; before: string; after: string }> = {
  start: { setup: [], before: 'idle', after: 'started' },
  issue: { setup: ['start'], before: 'started', after: 'issued' },
  complete: { setup: ['start', 'issue'], before: 'issued', after: 'idle' },
  abort: { setup: ['start', 'issue'], before: 'issued', after: 'started' },
};
for (const [step, { setup, before, after }] of Object.entries(CRASH)) {
  test(`ca rotate ${step} survives SIGKILL at every write step: keys match, the phase before is on disk, and ${step} run again completes`, async (t) => {
    t.timeout(300_000);
    const c = await cluster(t);
    for (const s of setup) await rotate(t, c, s);
    const fs = await import('node:fs');
    const baseline = `${c.root}-baseline`;
    t.teardown(() => fs.rmSync(baseline, { recursive: true, force: true }));
    fs.cpSync(c.root, baseline, { recursive: true, preserveTimestamps: true });
    const all = (phase: string) => ({ ca: phase, 'etcd-ca': phase, 'front-proxy-ca': phase, sa: phase });
    let n = 1;
    for (; n < 100; n++) {
      const killed = await kubepki(['ca', 'rotate', step, ...c.args], { env: { KUBEPKI_FAULT: `kill-commit:${n}` } });
      if (killed.exitCode === 0) break; // fewer than n steps: it finished
      t.is(killed.exitCode, -1, `killed at step ${n}: ${killed.stderr}`);
      t.deepEqual(await pairsMatch(c.root), [], `right after a kill at step ${n}: every key matches its certificate`);
      t.deepEqual(await phases(c), all(before), `killed at step ${n}: status (which rolls back first) finds the phase before`);
      t.false(readdirSync(path.dirname(c.root)).some((e) => e.startsWith(`.kubepki-txn-${path.basename(c.root)}`)), `killed at step ${n}: no staging folder is left`);
      const again = await kubepki(['ca', 'rotate', step, ...c.args]);
      t.is(again.exitCode, 0, `killed at step ${n}, run again: ${again.stderr}`);
      t.deepEqual(await phases(c), all(after), `killed at step ${n}, run again: ${step} is done`);
      t.deepEqual(await pairsMatch(c.root), [], `${step} run again after a kill at step ${n}: every key matches`);
      fs.rmSync(c.root, { recursive: true, force: true });
      fs.cpSync(baseline, c.root, { recursive: true, preserveTimestamps: true });
    }
    t.true(n > 4, `${step} has several write steps (${n - 1})`);
    t.deepEqual(await phases(c), all(after));
    t.log(`${step}: killed at each of ${n - 1} write steps`);
  });
}

test('ca rotate --dry-run writes nothing and names what it would; --restart restarts what the step names, one at a time, in the catalog\'s order; status -o yaml', async (t) => {
  const c = await cluster(t);
  const before = snapshot(c.root);
  const dry = await kubepki(['ca', 'rotate', 'start', '--ca', 'front-proxy-ca', '--dry-run', ...c.args]);
  t.is(dry.exitCode, 0, dry.stderr);
  t.regex(dry.stdout, /^\[rotate\] would start the rotation of front-proxy-ca:$/m);
  t.regex(dry.stdout, /^ {2}create .*front-proxy-ca-old\.crt, .*front-proxy-ca-old\.key$/m);
  t.regex(dry.stdout, /^ {2}replace .*front-proxy-ca\.crt$/m);
  t.deepEqual(snapshot(c.root), before, '--dry-run wrote nothing');

  const log = path.join(c.root, 'restarts.log');
  const r = await rotate(t, c, 'start', ['--ca', 'front-proxy-ca', '--restart', '--restart-command', `echo {component} >> ${log}`]);
  // front-proxy-ca.crt is read by kube-apiserver (--requestheader-client-ca-file) and kube-controller-manager.
  t.deepEqual(readFileSync(log, 'utf8').trim().split('\n'), ['kube-apiserver', 'kube-controller-manager']);
  t.regex(r.stdout, /^\[restart\] kube-apiserver: restarted$/m);
  t.regex(r.stdout, /^\[rotate\] Next: "kubepki ca rotate issue --ca front-proxy-ca" once every component trusts both CAs$/m);

  const yaml = await kubepki(['ca', 'rotate', 'status', '--ca', 'front-proxy-ca', '-o', 'yaml', ...c.args]);
  t.is(yaml.exitCode, 0, yaml.stderr);
  const data = (await import('yaml')).parse(yaml.stdout) as { rotations: { name: string; phase: string; restart: string[]; next: string; files: { file: string; holds: string[] }[] }[] };
  t.is(data.rotations.length, 1);
  t.like(data.rotations[0], { name: 'front-proxy-ca', phase: 'started', next: 'issue', restart: ['kube-apiserver', 'kube-controller-manager'] });
  t.deepEqual(data.rotations[0]!.files.find((f) => f.file.endsWith('/front-proxy-ca.crt'))?.holds, ['old', 'new']);
  t.deepEqual(data.rotations[0]!.files.find((f) => f.file.endsWith('/front-proxy-client.crt'))?.holds, ['old']);

  // check-expiration mid-rotation reads the two-CA bundle without complaint.
  const exp = await kubepki(['certs', 'check-expiration', ...c.args]);
  t.is(exp.exitCode, 0, exp.stderr);
  // One row per CA the file holds: the signing one, then the other of the rotation.
  t.regex(exp.stdout, /^front-proxy-ca {2,}\w{3} \d\d, \d{4}/m);
  t.regex(exp.stdout, /^front-proxy-ca#2 {2,}\w{3} \d\d, \d{4}/m);
  t.notRegex(exp.stdout, /INVALID/);
  t.regex(exp.stdout, /^front-proxy-ca {2,}\/.*front-proxy-ca\.key$/m, 'CA KEY: the signing CA goes with front-proxy-ca.key');
  t.notRegex(exp.stdout, /^front-proxy-ca#2 +\//m, 'CA KEY: not the other CA of the rotation');
});
