/**
 * etcd-ca rotation on a live cluster: a 3-member etcd cluster on 127.0.0.1
 * (helpers/ha-etcd.ts, started from the etcd flags kubepki emits) serves a
 * client that writes and reads in a loop with m0's apiserver-etcd-client
 * certificate through the whole rotation of the etcd CA:
 *
 *   start on m0, its six etcd CA files copied to m1 and m2, start there too,
 *   rolling restart; issue on m0, m1, m2, rolling restart; complete on m0,
 *   m1, m2, rolling restart.
 *
 * The client reads its certificate, key and CA bundle afresh from m0's cert
 * dir on every attempt, as a restarted kube-apiserver would. No request fails
 * (a failed attempt may be retried, through the members in another order:
 * those retries are counted and logged), every acknowledged write is there
 * at the end, and afterwards, member by member: the old apiserver-etcd-client
 * certificate is refused, a client that trusts only the old etcd CA refuses
 * the member, and the new certificate with the current bundle works.
 *
 * Needs etcd and etcdctl 3.4+ (Debian: etcd-server, etcd-client) and openssl
 * in PATH.
 */
import test from 'ava';
import { X509Certificate, createPrivateKey } from 'node:crypto';
import { chmodSync, copyFileSync, existsSync, mkdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { kubepki, openssl, scratch, type Run } from './helpers/cli.js';
import { loop } from './helpers/loop.js';
import { etcdctl, type EtcdctlResult } from './helpers/etcd.js';
import { describe, nodeDirArgs, startHaEtcd, type HaNode } from './helpers/ha-etcd.js';

/** What an operator copies from the node that ran `start` to the others. */
const ETCD_CA_FILES = ['etcd/ca.crt', 'etcd/ca.key', 'etcd/ca-old.crt', 'etcd/ca-old.key', 'etcd/ca-new.crt', 'etcd/ca-new.key'] as const;
/** The leaves `issue` re-signs with the new etcd CA (paths without .crt/.key). */
const REISSUED = ['etcd/server', 'etcd/peer', 'etcd/healthcheck-client', 'apiserver-etcd-client'] as const;

const RESTART_TIMEOUT_MS = 15_000;
/** The client loop never runs longer than this, even if nobody stops it. */
const LOAD_MAX_MS = 100_000;
const LOAD_INTERVAL_MS = 100;
/** Attempts per operation (put, then get) of a round before the round counts as a failed request. */
const MAX_ATTEMPTS = 5;
/** Back-off before attempt k (k >= 1): k * this. */
const BACKOFF_MS = 100;
/**
 * Longest time the cluster may go without acknowledging a write while the loop
 * runs. An attempt that reached a member as it was going down can hang until
 * etcdctl's --command-timeout (3 s) before it is retried elsewhere; this bound
 * leaves room for that once, and still catches an outage.
 */
const MAX_GAP_MS = 8_000;

// ---------------------------------------------------------------------------
// certificates

const PEM_CERT = /-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----/g;

/** The certificates of a PEM bundle, in order. */
function bundle(file: string): X509Certificate[] {
  return (readFileSync(file, 'utf8').match(PEM_CERT) ?? []).map((p) => new X509Certificate(p));
}

const fp = (c: X509Certificate) => c.fingerprint256;

/** Which client certificate and CA bundle an attempt used (SHA-256 fingerprints). */
interface Used {
  cert: string;
  bundle: string[];
}

/** The client's TLS files, as etcdctl takes them. */
interface ClientTls {
  cacert: string;
  cert: string;
  key: string;
}

/**
 * Copies `<pki>/apiserver-etcd-client.{crt,key}` and `<pki>/etcd/ca.crt` to
 * `dest` as one consistent set. kubepki replaces each file by rename(2), the
 * certificate and its key one after the other, so a reader can fall between
 * the two: the three files are read, read again, and taken only when both
 * reads agree and the key is the certificate's; otherwise read again (bounded).
 * Returns the files and how many reads were thrown away.
 */
async function snapshotClient(pki: string, dest: string): Promise<{ tls: ClientTls; rereads: number; used: Used }> {
  const src = [path.join(pki, 'apiserver-etcd-client.crt'), path.join(pki, 'apiserver-etcd-client.key'), path.join(pki, 'etcd/ca.crt')];
  let why = '';
  for (let k = 0; k < 50; k++) {
    if (k > 0) await sleep(10);
    try {
      const a = src.map((f) => readFileSync(f));
      const b = src.map((f) => readFileSync(f));
      if (!a.every((buf, j) => buf.equals(b[j]!))) {
        why = 'the files changed between two reads';
        continue;
      }
      const cert = new X509Certificate(a[0]!);
      if (!cert.checkPrivateKey(createPrivateKey(a[1]!))) {
        why = 'the key is not the certificate\'s';
        continue;
      }
      mkdirSync(dest, { recursive: true, mode: 0o700 });
      const tls = { cert: path.join(dest, 'tls.crt'), key: path.join(dest, 'tls.key'), cacert: path.join(dest, 'ca.crt') };
      writeFileSync(tls.cert, a[0]!);
      writeFileSync(tls.key, a[1]!, { mode: 0o600 });
      writeFileSync(tls.cacert, a[2]!);
      const used = { cert: fp(cert), bundle: (a[2]!.toString('utf8').match(PEM_CERT) ?? []).map((p) => fp(new X509Certificate(p))) };
      return { tls, rereads: k, used };
    } catch (e) {
      why = (e as Error).message;
    }
  }
  throw new Error(`no consistent apiserver-etcd-client certificate, key and etcd CA bundle in ${pki} after 50 reads: ${why}`);
}

interface Retry {
  at: number;
  op: 'put' | 'get';
  /** The endpoint listed first for the attempt. */
  first: string;
  error: string;
}

interface Round {
  key: string;
  value: string;
  start: number;
  end: number;
  putOk: boolean;
  getOk: boolean;
  /** Failed attempts (each one retried, unless it was the last). */
  retries: Retry[];
  /** Reads of the client's files thrown away as inconsistent (see snapshotClient). */
  rereads: number;
  /** What the acknowledged put was made with. */
  used?: Used;
}

// ---------------------------------------------------------------------------

test('etcd-ca rotation on a live 3-member etcd cluster: no client request fails; afterwards the old client certificate and the old CA are refused', async (t) => {
  t.timeout(120_000);
  const began = Date.now();
  const dir = scratch(t);

  // 1. The cluster (ECDSA P-256 certificates: helpers/ha-etcd.ts writes the config so).
  const { nodes, config, cluster: running } = await startHaEtcd(t, dir);
  const [m0] = nodes as [HaNode, HaNode, HaNode];
  const allEndpoints = nodes.map((n) => n.clientUrl);
  t.log(`cluster up after ${Date.now() - began} ms`);
  const flagsBefore = nodes.map((n) => readFileSync(path.join(n.flagsDir, 'etcd.flags'), 'utf8'));

  // The old etcd CA, alone, as it is before the rotation.
  const oldDir = path.join(dir, 'old');
  mkdirSync(oldDir, { mode: 0o700 });
  const oldCaFile = path.join(oldDir, 'etcd-ca.crt');
  copyFileSync(path.join(m0.pki, 'etcd/ca.crt'), oldCaFile);
  const oldCa = bundle(oldCaFile);
  t.is(oldCa.length, 1, `before the rotation etcd/ca.crt holds one CA (${oldCa.length})`);
  for (const n of nodes) t.deepEqual(bundle(path.join(n.pki, 'etcd/ca.crt')).map(fp), oldCa.map(fp), `${n.name} uses m0's etcd CA`);
  const leavesBefore = nodes.map((n) => Object.fromEntries(REISSUED.map((l) => [l, {
    crt: readFileSync(path.join(n.pki, `${l}.crt`), 'utf8'),
    key: readFileSync(path.join(n.pki, `${l}.key`), 'utf8'),
  }])));

  // Control for the refusals at the end: before the rotation every member takes
  // the apiserver-etcd-client certificate with the old CA as the only trust.
  const control = await Promise.all(nodes.map((n) => etcdctl(null, {
    cacert: oldCaFile, cert: path.join(m0.pki, 'apiserver-etcd-client.crt'), key: path.join(m0.pki, 'apiserver-etcd-client.key'),
    endpoints: [n.clientUrl], args: ['endpoint', 'health'],
  })));
  for (const [i, r] of control.entries()) t.is(r.exitCode, 0, `before the rotation ${nodes[i]!.name} takes the old client certificate with the old CA\n${describe(r)}`);

  // 2. The client: a kube-apiserver stand-in that reads m0's files afresh for
  // every attempt and tries the members in turn.
  const tag = Math.random().toString(36).slice(2, 8);
  const prefix = `/ca-rotate-etcd/${tag}/k`;
  const clientDir = path.join(dir, 'client');
  const attemptOp = async (op: 'put' | 'get', key: string, value: string, order: number, retries: Retry[]): Promise<{ ok: boolean; rereads: number; used?: Used }> => {
    let rereads = 0;
    for (let a = 0; a < MAX_ATTEMPTS; a++) {
      if (a > 0) await sleep(BACKOFF_MS * a);
      const endpoints = allEndpoints.map((_, k) => allEndpoints[(order + a + k) % allEndpoints.length]!);
      let r: EtcdctlResult;
      let used: Used;
      try {
        const snap = await snapshotClient(m0.pki, clientDir);
        rereads += snap.rereads;
        used = snap.used;
        r = await etcdctl(null, {
          ...snap.tls, endpoints, dialTimeout: '2s', commandTimeout: '3s', timeoutMs: 8_000,
          args: op === 'put' ? ['put', key, value] : ['get', key, '--print-value-only'],
        });
      } catch (e) {
        retries.push({ at: Date.now(), op, first: endpoints[0]!, error: (e as Error).message });
        continue;
      }
      if (r.exitCode === 0 && r.stdout.trim() === (op === 'put' ? 'OK' : value)) return { ok: true, rereads, used };
      retries.push({ at: Date.now(), op, first: endpoints[0]!, error: describe(r) });
    }
    return { ok: false, rereads };
  };
  const load = loop<Round>(LOAD_INTERVAL_MS, LOAD_MAX_MS, async (i) => {
    const key = `${prefix}${String(i).padStart(5, '0')}`;
    const value = `v${i}`;
    const start = Date.now();
    const retries: Retry[] = [];
    // Each round starts with another member first, so that every member serves rounds in turn.
    const put = await attemptOp('put', key, value, i, retries);
    const get = put.ok ? await attemptOp('get', key, value, i, retries) : { ok: false, rereads: 0 };
    return { key, value, start, end: Date.now(), putOk: put.ok, getOk: get.ok, retries, rereads: put.rereads + get.rereads, ...(put.used ? { used: put.used } : {}) };
  });
  const loadStarted = Date.now();

  // 3. The rotation.
  const rotate = async (n: HaNode, step: 'start' | 'issue' | 'complete'): Promise<Run> => {
    const r = await kubepki(['ca', 'rotate', step, '--ca', 'etcd-ca', ...nodeDirArgs(n), '--config', config, '--node-name', n.name]);
    t.is(r.exitCode, 0, `${n.name}: kubepki ca rotate ${step} --ca etcd-ca exits 0\n${r.stdout}\n${r.stderr}`);
    t.regex(r.stdout, /^\[rotate\] /m, `${n.name}: ca rotate ${step} prints [rotate] lines\n${r.stdout}`);
    if (r.exitCode !== 0) throw new Error(`${n.name}: kubepki ca rotate ${step} --ca etcd-ca: exit ${r.exitCode}\n${r.stdout}\n${r.stderr}`);
    return r;
  };
  const phaseIs = async (want: 'idle' | 'started' | 'issued', after: string) => {
    const runs = await Promise.all(nodes.map((n) => kubepki(['ca', 'rotate', 'status', '--ca', 'etcd-ca', '-o', 'json', ...nodeDirArgs(n), '--config', config, '--node-name', n.name])));
    for (const [i, r] of runs.entries()) {
      const n = nodes[i]!;
      let phase: unknown;
      try {
        phase = (JSON.parse(r.stdout) as { rotations?: { name: string; phase: string }[] }).rotations?.find((x) => x.name === 'etcd-ca')?.phase;
      } catch (e) {
        phase = `unparsable (${(e as Error).message})`;
      }
      t.is(phase, want, `${n.name}: after ${after}, ca rotate status -o json gives phase ${want}\nexit ${r.exitCode}\n${r.stdout}\n${r.stderr}`);
      if (phase !== want) throw new Error(`${n.name}: phase ${String(phase)} after ${after}, not ${want}`);
    }
  };
  const bundleIs = (n: HaNode, want: readonly X509Certificate[], what: string) => {
    const got = bundle(path.join(n.pki, 'etcd/ca.crt'));
    t.deepEqual(got.map(fp), want.map(fp), `${n.name}: etcd/ca.crt holds ${what} (${got.map((c) => c.serialNumber).join(', ')})`);
  };

  const restarts: { phase: string; name: string; from: number; to: number; checks: number }[] = [];
  const watchDir = path.join(dir, 'watch');
  const rollingRestart = async (phase: string) => {
    for (const [i, n] of nodes.entries()) {
      const others = allEndpoints.filter((_, j) => j !== i);
      // Quorum watch: while this member is down and coming back, the other two
      // answer `endpoint health` (a linearizable read: it needs quorum).
      const watch = loop(250, 30_000, async () => {
        const snap = await snapshotClient(m0.pki, watchDir).catch((e: Error) => e);
        if (snap instanceof Error) return { ok: false, detail: snap.message };
        const h = await etcdctl(null, { ...snap.tls, endpoints: others, args: ['endpoint', 'health'], dialTimeout: '1s', commandTimeout: '2s', timeoutMs: 6_000 });
        return { ok: h.exitCode === 0, detail: describe(h) };
      });
      const from = Date.now();
      try {
        await running.stopMember(i, { graceMs: 5_000 });
        t.false(running.members[i]!.running, `${phase}: ${n.name} stopped`);
        // The same argv as at first (etcd.flags is unchanged, asserted below), with --initial-cluster-state=existing.
        await running.startMember(i, { timeoutMs: RESTART_TIMEOUT_MS });
      } finally {
        await watch.stop();
      }
      const to = Date.now();
      const lost = watch.results.filter((w) => !w.ok);
      t.is(lost.length, 0, `${phase}: the other members stayed healthy while ${n.name} restarted:\n${lost.map((w) => w.detail).join('\n')}`);
      restarts.push({ phase, name: n.name, from, to, checks: watch.results.length });
      // Before the next member: all three healthy.
      const snap = await snapshotClient(m0.pki, watchDir);
      const health = await etcdctl(null, { ...snap.tls, endpoints: allEndpoints, args: ['endpoint', 'health'] });
      t.is(health.exitCode, 0, `${phase}: after restarting ${n.name} all members are healthy\n${describe(health)}`);
      for (const url of allEndpoints) t.true(`${health.stdout}\n${health.stderr}`.includes(`${url} is healthy`), `${phase}: after restarting ${n.name}, ${url} is healthy\n${describe(health)}`);
    }
  };

  const oldClient = { cert: path.join(oldDir, 'apiserver-etcd-client.crt'), key: path.join(oldDir, 'apiserver-etcd-client.key') };
  let newCa: X509Certificate[] = [];
  const steps: { what: string; ms: number }[] = [];
  const timed = async (what: string, f: () => Promise<void>) => {
    const t0 = Date.now();
    await f();
    steps.push({ what, ms: Date.now() - t0 });
  };
  try {
    // start: on m0 (it makes the new key), then its CA files to m1 and m2, and start there.
    await timed('start', async () => {
      const r = await rotate(m0, 'start');
      t.log(`start on m0:\n${r.stdout.trimEnd()}`);
      newCa = bundle(path.join(m0.pki, 'etcd/ca-new.crt'));
      t.is(newCa.length, 1, 'etcd/ca-new.crt holds one certificate');
      t.notDeepEqual(newCa.map(fp), oldCa.map(fp), 'the new etcd CA is another certificate');
      t.deepEqual(bundle(path.join(m0.pki, 'etcd/ca-old.crt')).map(fp), oldCa.map(fp), 'm0: etcd/ca-old.crt is the old CA');
      for (const rel of ETCD_CA_FILES.slice(1)) t.true(existsSync(path.join(m0.pki, rel)), `m0: start made ${rel}`);
      for (const n of nodes.slice(1)) {
        for (const rel of ETCD_CA_FILES) {
          const src = path.join(m0.pki, rel);
          const dst = path.join(n.pki, rel);
          copyFileSync(src, dst);
          chmodSync(dst, statSync(src).mode & 0o777);
        }
        await rotate(n, 'start');
      }
      for (const [i, n] of nodes.entries()) {
        bundleIs(n, [...oldCa, ...newCa], 'the old and the new CA, the old first');
        for (const l of REISSUED) t.is(readFileSync(path.join(n.pki, `${l}.crt`), 'utf8'), leavesBefore[i]![l]!.crt, `${n.name}: start re-signs nothing (${l}.crt unchanged)`);
      }
      await phaseIs('started', 'start');
    });
    await timed('restart after start', () => rollingRestart('after start'));

    // issue: keep the old client certificate first.
    await timed('issue', async () => {
      copyFileSync(path.join(m0.pki, 'apiserver-etcd-client.crt'), oldClient.cert);
      copyFileSync(path.join(m0.pki, 'apiserver-etcd-client.key'), oldClient.key);
      chmodSync(oldClient.key, 0o600);
      t.true(new X509Certificate(readFileSync(oldClient.cert)).verify(oldCa[0]!.publicKey), 'the kept apiserver-etcd-client certificate is signed by the old CA');
      for (const n of nodes) {
        const r = await rotate(n, 'issue');
        if (n === m0) t.log(`issue on m0:\n${r.stdout.trimEnd()}`);
      }
      for (const [i, n] of nodes.entries()) {
        bundleIs(n, [...newCa, ...oldCa], 'the new and the old CA, the new first');
        t.is(readFileSync(path.join(n.pki, 'etcd/ca.key'), 'utf8'), readFileSync(path.join(m0.pki, 'etcd/ca-new.key'), 'utf8'), `${n.name}: etcd/ca.key is the new CA's key`);
        for (const l of REISSUED) {
          const was = new X509Certificate(leavesBefore[i]![l]!.crt);
          const now = new X509Certificate(readFileSync(path.join(n.pki, `${l}.crt`)));
          t.true(now.verify(newCa[0]!.publicKey), `${n.name}: ${l}.crt is signed by the new CA`);
          t.is(now.subject, was.subject, `${n.name}: ${l}.crt keeps its subject`);
          t.is(now.subjectAltName, was.subjectAltName, `${n.name}: ${l}.crt keeps its SANs`);
          t.not(readFileSync(path.join(n.pki, `${l}.key`), 'utf8'), leavesBefore[i]![l]!.key, `${n.name}: ${l}.key is a new key`);
          t.true(now.checkPrivateKey(createPrivateKey(readFileSync(path.join(n.pki, `${l}.key`)))), `${n.name}: ${l}.key is the key of ${l}.crt`);
        }
      }
      await phaseIs('issued', 'issue');
    });
    await timed('restart after issue', () => rollingRestart('after issue'));

    await timed('complete', async () => {
      for (const n of nodes) {
        const r = await rotate(n, 'complete');
        if (n === m0) t.log(`complete on m0:\n${r.stdout.trimEnd()}`);
      }
      for (const n of nodes) {
        bundleIs(n, newCa, 'the new CA only');
        for (const rel of ETCD_CA_FILES.slice(2)) t.false(existsSync(path.join(n.pki, rel)), `${n.name}: complete moved ${rel} away`);
      }
      await phaseIs('idle', 'complete');
    });
    await timed('restart after complete', () => rollingRestart('after complete'));
  } finally {
    await load.stop();
  }
  const loadStopped = Date.now();
  for (const [i, n] of nodes.entries()) {
    t.is(readFileSync(path.join(n.flagsDir, 'etcd.flags'), 'utf8'), flagsBefore[i]!, `${n.name}: etcd.flags unchanged by the rotation (the restarts reuse the first argv)`);
  }

  // 4. What the client saw.
  const rounds = load.results;
  const failed = rounds.filter((o) => !o.putOk || !o.getOk);
  const retries = rounds.flatMap((o) => o.retries);
  const retried = rounds.filter((o) => o.retries.length > 0);
  const rereads = rounds.reduce((s, o) => s + o.rereads, 0);
  t.log(`client: ${rounds.length} put+get rounds in ${loadStopped - loadStarted} ms; ${failed.length} failed; ${retries.length} retries in ${retried.length} rounds; ${rereads} reads of the client files thrown away as inconsistent`);
  const memberAt = (url: string) => nodes.find((n) => n.clientUrl === url)?.name ?? url;
  // The restart under way at `at`, or the one that ended less than a second before.
  const restartAt = (at: number) => restarts.filter((r) => r.from <= at && at <= r.to + 1_000).pop();
  for (const r of retries) {
    const during = restartAt(r.at);
    // etcdctl balances over the endpoints it is given: its error names the member it tried ("target":".../127.0.0.1:PORT").
    const tried = [...new Set([...r.error.matchAll(/"target":"[^"]*\/(127\.0\.0\.1:\d+)"/g)].map((m) => memberAt(`https://${m[1]}`)))];
    t.log(`retry (${r.op}; ${memberAt(r.first)} listed first${tried.length ? `, ${tried.join(', ')} tried` : ''}) at +${r.at - loadStarted} ms, ${during ? `during or just after the restart of ${during.name} ${during.phase}` : 'no restart under way'}:\n${r.error}`);
  }
  for (const f of failed) t.log(`FAILED round ${f.key} at +${f.start - loadStarted} ms`);
  t.true(rounds.length >= 50, `the client ran (${rounds.length} rounds)`);
  t.deepEqual(failed.map((o) => o.key), [], `no round failed all ${MAX_ATTEMPTS} attempts (${failed.length} of ${rounds.length}; their errors are logged above)`);

  const acked = rounds.filter((o) => o.putOk);
  const times = [loadStarted, ...acked.map((o) => o.end), loadStopped];
  let gap = 0;
  let gapAt = 0;
  for (let k = 1; k < times.length; k++) {
    if (times[k]! - times[k - 1]! > gap) {
      gap = times[k]! - times[k - 1]!;
      gapAt = times[k - 1]! - loadStarted;
    }
  }
  const slowest = [...rounds].sort((a, b) => (b.end - b.start) - (a.end - a.start))[0];
  const slowDuring = slowest && restartAt(slowest.start);
  t.log(`longest time without an acknowledged write: ${gap} ms (from +${gapAt} ms); slowest round ${slowest ? `${slowest.end - slowest.start} ms at +${slowest.start - loadStarted} ms${slowDuring ? ` (restart of ${slowDuring.name} ${slowDuring.phase})` : ''}` : 'none'}`);
  t.log(`steps: ${steps.map((s) => `${s.what} ${s.ms} ms`).join(', ')}`);
  t.log(`restarts: ${restarts.map((r) => `${r.phase}/${r.name} +${r.from - loadStarted}..+${r.to - loadStarted} ms (${r.checks} quorum checks)`).join(', ')}`);
  // The client went through every phase: rounds acknowledged with the old and
  // the new client certificate, and with each of the four bundles.
  const oldClientFp = fp(new X509Certificate(leavesBefore[0]!['apiserver-etcd-client']!.crt));
  const label = (u: Used) => `${u.cert === oldClientFp ? 'old' : 'new'} client cert, bundle [${u.bundle.map((f) => (f === fp(oldCa[0]!) ? 'old' : f === fp(newCa[0]!) ? 'new' : '?')).join(',')}]`;
  const byPhase = new Map<string, number>();
  for (const o of acked) if (o.used) byPhase.set(label(o.used), (byPhase.get(label(o.used)) ?? 0) + 1);
  t.log(`acknowledged rounds by what they used: ${[...byPhase].map(([k, v]) => `${k}: ${v}`).join('; ')}`);
  for (const want of ['old client cert, bundle [old]', 'old client cert, bundle [old,new]', 'new client cert, bundle [new,old]', 'new client cert, bundle [new]']) {
    t.true((byPhase.get(want) ?? 0) > 0, `the client made acknowledged writes with the ${want} (${[...byPhase].map(([k, v]) => `${k}: ${v}`).join('; ')})`);
  }
  t.true(gap <= MAX_GAP_MS, `the cluster acknowledged a write at least every ${MAX_GAP_MS} ms (longest gap ${gap} ms at +${gapAt} ms)`);

  // Every acknowledged write is there, read linearizably through each member.
  const now = await snapshotClient(m0.pki, path.join(dir, 'final'));
  for (const url of allEndpoints) {
    const all = await etcdctl(null, { ...now.tls, endpoints: [url], args: ['get', '--prefix', prefix, '--consistency=l', '-w', 'json'] });
    t.is(all.exitCode, 0, describe(all));
    const kvs = (JSON.parse(all.stdout || '{}') as { kvs?: { key: string; value: string }[] }).kvs ?? [];
    const stored = new Map(kvs.map((kv) => [Buffer.from(kv.key, 'base64').toString(), Buffer.from(kv.value, 'base64').toString()]));
    const missing = acked.filter((o) => stored.get(o.key) !== o.value).map((o) => o.key);
    t.deepEqual(missing, [], `${url}: every acknowledged write (${acked.length}) is readable`);
  }

  // 5. Afterwards, member by member (one endpoint each):
  //   (a) the old client certificate, with the current bundle as trust (so only the client certificate differs): refused;
  //   (b) the new client certificate with only the old CA as trust: the client refuses the member;
  //   (c) the new client certificate with the current bundle: works (control for both).
  t.deepEqual(bundle(now.tls.cacert).map(fp), newCa.map(fp), 'the client\'s bundle is the new CA alone');
  // A refused handshake shows as a dial that never completes: etcdctl gives up after --dial-timeout.
  const one = (url: string, tls: ClientTls) => etcdctl(null, { ...tls, endpoints: [url], args: ['get', `${prefix}00000`, '--print-value-only'], dialTimeout: '1s', commandTimeout: '3s', timeoutMs: 8_000 });
  // Each kind of check on the three members at once; what each member logged meanwhile says why a connection was refused.
  const atEach = async (tls: ClientTls) => {
    const at = nodes.map((_, i) => running.readLog(i).length);
    const runs = await Promise.all(nodes.map((n) => one(n.clientUrl, tls)));
    return runs.map((r, i) => ({ n: nodes[i]!, r, rejected: running.readLog(i).slice(at[i]).split('\n').filter((l) => l.includes('rejected connection')) }));
  };
  const a = await atEach({ ...oldClient, cacert: now.tls.cacert });
  const b = await atEach({ cert: now.tls.cert, key: now.tls.key, cacert: oldCaFile });
  const c = await atEach(now.tls);
  for (const { n, r, rejected } of a) {
    t.not(r.exitCode, 0, `(a) ${n.name} refuses the old apiserver-etcd-client certificate\n${describe(r)}`);
    // etcd: "tls: failed to verify client certificate: x509: certificate signed by unknown authority".
    t.true(rejected.some((l) => /failed to verify client('s)? certificate.*signed by unknown authority/.test(l)),
      `(a) ${n.name} logged that it refused the client certificate as signed by an unknown authority; its "rejected connection" lines:\n${rejected.join('\n')}`);
  }
  for (const { n, r, rejected } of b) {
    t.not(r.exitCode, 0, `(b) a client that trusts only the old etcd CA refuses ${n.name}\n${describe(r)}`);
    // The client aborted the handshake with an alert: it refused the member's certificate (not the other way round).
    t.true(rejected.some((l) => /remote error: tls: (bad certificate|unknown certificate authority)/.test(l)),
      `(b) ${n.name} logged that the client refused its certificate; its "rejected connection" lines:\n${rejected.join('\n')}`);
    t.false(rejected.some((l) => /failed to verify client/.test(l)), `(b) ${n.name} did not refuse the new client certificate\n${rejected.join('\n')}`);
  }
  for (const { n, r, rejected } of c) {
    t.is(r.exitCode, 0, `(c) ${n.name} takes the new apiserver-etcd-client certificate with the current bundle\n${describe(r)}`);
    t.is(r.stdout.trim(), 'v0', `(c) ${n.name} answers\n${describe(r)}`);
    t.deepEqual(rejected, [], `(c) ${n.name} rejected no connection`);
  }
  t.log(`(a) old client certificate at ${m0.name}: ${lastLine(a[0]!.r)}; m0 logged: ${a[0]!.rejected[0] ?? 'nothing'}`);
  t.log(`(b) old CA as the only trust at ${m0.name}: ${lastLine(b[0]!.r)}; m0 logged: ${b[0]!.rejected[0] ?? 'nothing'}`);

  // Each member's server certificate chains to the new CA and not to the old one.
  for (const n of nodes) {
    const server = path.join(n.pki, 'etcd/server.crt');
    const good = await openssl(['verify', '-CAfile', path.join(n.pki, 'etcd/ca.crt'), server]);
    t.is(good.exitCode, 0, `${n.name}: etcd/server.crt verifies against the new etcd/ca.crt\n${good.stdout}\n${good.stderr}`);
    const bad = await openssl(['verify', '-CAfile', oldCaFile, server]);
    t.not(bad.exitCode, 0, `${n.name}: etcd/server.crt does not verify against the old etcd CA\n${bad.stdout}\n${bad.stderr}`);
  }
  t.log(`whole test: ${Date.now() - began} ms`);
});

/** The last line of an etcdctl error, for the log. */
function lastLine(r: EtcdctlResult): string {
  return `exit ${r.exitCode}: ${r.stderr.trim().split('\n').pop() ?? ''}`;
}
