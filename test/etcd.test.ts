/**
 * End-to-end check of the etcd part of the PKI that `kubepki init` writes:
 * a real 3-member etcd cluster (127.0.0.1 only) runs on etcd/ca.crt,
 * etcd/server.* and etcd/peer.* with client and peer certificate
 * authentication, and
 *
 * - etcd/healthcheck-client and apiserver-etcd-client are accepted;
 * - front-proxy-client (signed by another CA) and no client certificate at all
 *   are refused, on the client port and on the peer port;
 * - members authenticate each other (every member reached both peers and no
 *   connection was rejected while the cluster formed).
 *
 * etcdctl 3.4 reports a refused TLS client only as "context deadline exceeded"
 * (with TLS 1.3 the client certificate is rejected after the client considers
 * the handshake done), so the TLS reason is asserted twice elsewhere: from the
 * server's "rejected connection" log lines and from a direct Node TLS client,
 * which sees the server's TLS alert.
 *
 * Needs etcd and etcdctl (Debian: etcd-server, etcd-client) in PATH.
 */
import test, { type ExecutionContext } from 'ava';
import { execa } from 'execa';
import { randomBytes, X509Certificate } from 'node:crypto';
import { existsSync, readFileSync, statSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import https from 'node:https';
import os from 'node:os';
import { setTimeout as sleep } from 'node:timers/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { etcdctl, startEtcdCluster, type EtcdCluster } from './helpers/etcd.js';

/** Repository root: this file runs as dist/test/etcd.test.js. */
const repoRoot = fileURLToPath(new URL('../..', import.meta.url));
const kubepkiBin = path.join(repoRoot, 'bin', 'kubepki.cjs');

interface Algorithm {
  flag: string;
  keyType: 'rsa' | 'ec';
  details: { modulusLength?: number; namedCurve?: string };
}

const ALGORITHMS: Algorithm[] = [
  { flag: 'RSA-2048', keyType: 'rsa', details: { modulusLength: 2048 } },
  { flag: 'ECDSA-P256', keyType: 'ec', details: { namedCurve: 'prime256v1' } },
];

/** The PKI files this test uses, relative to --cert-dir. */
const FILES = {
  etcdCa: 'etcd/ca.crt',
  serverCert: 'etcd/server.crt',
  serverKey: 'etcd/server.key',
  peerCert: 'etcd/peer.crt',
  peerKey: 'etcd/peer.key',
  healthcheckCert: 'etcd/healthcheck-client.crt',
  healthcheckKey: 'etcd/healthcheck-client.key',
  apiserverCert: 'apiserver-etcd-client.crt',
  apiserverKey: 'apiserver-etcd-client.key',
  frontProxyCa: 'front-proxy-ca.crt',
  frontProxyCert: 'front-proxy-client.crt',
  frontProxyKey: 'front-proxy-client.key',
} as const;
type Files = { [K in keyof typeof FILES]: string };

/** etcdctl's whole report of a refused client (verified with etcdctl 3.4.23). */
const ETCDCTL_REFUSED = /context deadline exceeded/;
/** etcd's log line when a TLS client presents a certificate from another CA (Go 1.19; newer Go drops "client "). */
const LOG_UNKNOWN_CA =
  /"msg":"rejected connection".*"error":"tls: failed to verify (?:client )?certificate: x509: certificate signed by unknown authority"/;
/** etcd's log line when a TLS client presents no certificate. */
const LOG_NO_CERT = /"msg":"rejected connection".*"error":"tls: client didn't provide a certificate"/;
/** Node's error for the TLS alert the server sends when it rejects the client certificate. */
const NODE_TLS_ALERT = /^ERR_SSL_(?:SSLV3_ALERT_BAD_CERTIFICATE|TLSV13_ALERT_CERTIFICATE_REQUIRED|TLSV1_ALERT_UNKNOWN_CA)$/;

// ---------------------------------------------------------------------------
// helpers

type Probe =
  | { ok: true; status: number; body: string; served: X509Certificate }
  | { ok: false; code: string | undefined; message: string };

/** One HTTPS GET with the given client TLS material; resolves with the outcome instead of throwing. */
function httpsGet(url: string, tls: { ca: string; cert?: string; key?: string }, timeoutMs = 5_000): Promise<Probe> {
  return new Promise((resolve) => {
    const req = https.get(
      url,
      {
        agent: false,
        ca: readFileSync(tls.ca),
        ...(tls.cert ? { cert: readFileSync(tls.cert) } : {}),
        ...(tls.key ? { key: readFileSync(tls.key) } : {}),
        timeout: timeoutMs,
      },
      (res) => {
        const served = new X509Certificate((res.socket as import('node:tls').TLSSocket).getPeerCertificate().raw);
        let body = '';
        res.setEncoding('utf8');
        res.on('data', (chunk: string) => (body += chunk));
        res.on('end', () => resolve({ ok: true, status: res.statusCode ?? 0, body, served }));
        res.on('error', (err: NodeJS.ErrnoException) => resolve({ ok: false, code: err.code, message: err.message }));
      },
    );
    req.on('timeout', () => req.destroy(Object.assign(new Error(`timeout after ${timeoutMs} ms`), { code: 'ETIMEDOUT' })));
    req.on('error', (err: NodeJS.ErrnoException) => resolve({ ok: false, code: err.code, message: err.message }));
  });
}

/** Byte offsets of every member's log, to read what a later step adds. */
function logOffsets(cluster: EtcdCluster): number[] {
  return cluster.members.map((m) => statSync(m.logFile).size);
}

/** Log lines every member wrote since `offsets`. */
function logSince(cluster: EtcdCluster, offsets: number[]): string[] {
  return cluster.members.flatMap((m, i) =>
    readFileSync(m.logFile)
      .subarray(offsets[i] ?? 0)
      .toString('utf8')
      .split('\n')
      .filter(Boolean),
  );
}

/**
 * "rejected connection" lines logged since `offsets`, waiting up to `timeoutMs`
 * for one that matches `expected`: etcd may log a rejection just after the
 * client saw the TLS alert.
 */
async function rejectionsSince(cluster: EtcdCluster, offsets: number[], expected: RegExp, timeoutMs = 3_000): Promise<string[]> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const lines = logSince(cluster, offsets).filter((l) => l.includes('"msg":"rejected connection"'));
    if (lines.some((l) => expected.test(l)) || Date.now() >= deadline) return lines;
    await sleep(50);
  }
}

/**
 * Rejections for a TLS/certificate reason. Others are transport noise: a
 * client that gives up mid-handshake (etcdctl at its timeout, on a loaded
 * machine) is logged as "connection reset by peer" or "use of closed network
 * connection".
 */
function tlsRejections(lines: string[]): string[] {
  return lines.filter((l) => /"error":"[^"]*(?:tls|x509|certificate)/i.test(l));
}

/** Asserts that `lines` show the expected TLS refusal and no other TLS refusal. */
function assertRefusedFor(t: ExecutionContext, lines: string[], expected: RegExp, label: string): void {
  const tls = tlsRejections(lines);
  t.true(tls.length > 0 && tls.every((l) => expected.test(l)), `${label}: expected rejections matching ${expected}, got\n${lines.join('\n')}`);
}

function describeKey(cert: X509Certificate): string {
  const key = cert.publicKey;
  return `${key.asymmetricKeyType} ${JSON.stringify(key.asymmetricKeyDetails, (_k, v: unknown) => (typeof v === 'bigint' ? v.toString() : v))}`;
}

// ---------------------------------------------------------------------------
// the test

async function etcdAcceptsKubepkiPki(t: ExecutionContext, alg: Algorithm): Promise<void> {
  t.timeout(90_000);
  const work = await mkdtemp(path.join(os.tmpdir(), `kubepki-etcd-${alg.flag}-`));
  t.log(`work dir: ${work} (kept if the test fails)`);
  let cluster: EtcdCluster | undefined;
  t.teardown(async () => {
    await cluster?.stop();
    if (t.passed) await rm(work, { recursive: true, force: true });
  });

  // 1. kubepki init; kubeconfigs and flag files also go to the work dir, never to /etc/kubernetes.
  const pki = path.join(work, 'pki');
  const initArgs = [
    kubepkiBin, 'init',
    '--cert-dir', pki,
    '--kubeconfig-dir', work,
    '--flags-dir', path.join(work, 'flags'),
    '--node-name', 'etcd-test',
    '--advertise-address', '127.0.0.1',
    '--encryption-algorithm', alg.flag,
  ];
  const init = await execa(process.execPath, initArgs, { reject: false, all: true, timeout: 60_000, cwd: work });
  t.is(init.exitCode, 0, `node ${initArgs.join(' ')} failed:\n${init.all ?? init.message}`);
  if (init.exitCode !== 0) return;

  const f = Object.fromEntries(Object.entries(FILES).map(([k, rel]) => [k, path.join(pki, rel)])) as Files;
  const missing = Object.values(f).filter((file) => !existsSync(file));
  t.deepEqual(missing, [], 'kubepki init did not write every expected file');
  if (missing.length > 0) return;

  // 2. The certificates are what the rest of the test relies on.
  const etcdCa = new X509Certificate(readFileSync(f.etcdCa));
  const frontProxyCa = new X509Certificate(readFileSync(f.frontProxyCa));
  const cert = (file: string) => new X509Certificate(readFileSync(file));
  for (const file of [f.serverCert, f.peerCert, f.healthcheckCert, f.apiserverCert]) {
    const c = cert(file);
    t.true(c.checkIssued(etcdCa) && c.verify(etcdCa.publicKey), `${file} is not signed by etcd/ca.crt`);
    t.is(c.publicKey.asymmetricKeyType, alg.keyType, `${file} key: ${describeKey(c)}`);
    t.like(c.publicKey.asymmetricKeyDetails, alg.details, `${file} key: ${describeKey(c)}`);
  }
  const frontProxyClient = cert(f.frontProxyCert);
  t.true(frontProxyClient.checkIssued(frontProxyCa) && frontProxyClient.verify(frontProxyCa.publicKey));
  t.false(frontProxyClient.checkIssued(etcdCa), 'front-proxy-client must not be signed by etcd/ca.crt');

  // 3. A 3-member cluster on the kubepki PKI (start-up polls health with the healthcheck client).
  const started = Date.now();
  const etcd = await startEtcdCluster({
    size: 3,
    dataRoot: path.join(work, 'etcd'),
    certs: { ca: f.etcdCa, serverCert: f.serverCert, serverKey: f.serverKey, peerCert: f.peerCert, peerKey: f.peerKey },
    healthClient: { cert: f.healthcheckCert, key: f.healthcheckKey },
  });
  cluster = etcd;
  t.log(`cluster healthy after ${Date.now() - started} ms: ${etcd.endpoints.join(' ')}`);

  // 4. Peers authenticated each other: nothing was rejected while the cluster formed,
  //    peer TLS runs with client-cert-auth on the etcd CA, and every member reached both peers.
  for (const [i, m] of etcd.members.entries()) {
    const lines = etcd.readLog(i).split('\n');
    const rejected = lines.filter((l) => l.includes('"msg":"rejected connection"'));
    t.deepEqual(tlsRejections(rejected), [], `${m.name} rejected TLS connections while the cluster formed`);
    if (rejected.length > 0) t.log(`${m.name}: rejections without a TLS reason (transport noise):\n${rejected.join('\n')}`);
    const peerTls = lines.find((l) => l.includes('"msg":"starting with peer TLS"')) ?? '';
    t.true(peerTls.includes('client-cert-auth = true') && peerTls.includes(`trusted-ca = ${f.etcdCa}`), `${m.name}: ${peerTls}`);
    const activePeers = new Set(
      lines.flatMap((l) => (l.includes('"msg":"peer became active"') ? [/"peer-id":"([0-9a-f]+)"/.exec(l)?.[1]] : [])),
    );
    t.is(activePeers.size, 2, `${m.name} should have reached both peers, saw ${[...activePeers].join(', ')}`);
  }

  const healthcheck = { cacert: f.etcdCa, cert: f.healthcheckCert, key: f.healthcheckKey };
  const apiserver = { cacert: f.etcdCa, cert: f.apiserverCert, key: f.apiserverKey };
  const frontProxy = { cacert: f.etcdCa, cert: f.frontProxyCert, key: f.frontProxyKey };

  // 5. endpoint health over all three endpoints with the healthcheck client.
  const health = await etcdctl(etcd, { ...healthcheck, args: ['endpoint', 'health'] });
  t.is(health.exitCode, 0, `${health.command}\n${health.stderr}`);
  for (const endpoint of etcd.endpoints) {
    t.regex(`${health.stdout}\n${health.stderr}`, new RegExp(`^${endpoint} is healthy`, 'm'));
  }

  // 6. put / get / member list with the API server's client certificate.
  const key = `kubepki-test/${alg.flag}`;
  const value = `value-${randomBytes(8).toString('hex')}`;
  const put = await etcdctl(etcd, { ...apiserver, args: ['put', key, value] });
  t.is(put.exitCode, 0, `${put.command}\n${put.stderr}`);
  t.is(put.stdout.trim(), 'OK');
  const get = await etcdctl(etcd, { ...apiserver, args: ['get', key, '--print-value-only'] });
  t.is(get.exitCode, 0, `${get.command}\n${get.stderr}`);
  t.is(get.stdout.trim(), value);
  const list = await etcdctl(etcd, { ...apiserver, args: ['member', 'list', '-w', 'json'] });
  t.is(list.exitCode, 0, `${list.command}\n${list.stderr}`);
  const members = (JSON.parse(list.stdout) as { members: { name: string; clientURLs: string[]; peerURLs: string[] }[] })
    .members;
  t.deepEqual(members.map((m) => m.name).sort(), ['m0', 'm1', 'm2']);
  t.deepEqual(members.flatMap((m) => m.clientURLs).sort(), [...etcd.endpoints].sort());
  t.true(members.every((m) => m.peerURLs.every((u) => u.startsWith('https://127.0.0.1:'))));

  // 7. Refused clients: front-proxy-client (another CA) and no client certificate.
  //    Short timeouts: a refusal only ends when etcdctl gives up.
  const quick = { dialTimeout: '1s', commandTimeout: '2s' };
  const forbiddenKey = `${key}/forbidden`;
  for (const [label, tls, reason] of [
    ['front-proxy-client', frontProxy, LOG_UNKNOWN_CA],
    ['no client certificate', { cacert: f.etcdCa }, LOG_NO_CERT],
  ] as const) {
    const before = logOffsets(etcd);
    const refused = await etcdctl(etcd, { ...tls, ...quick, args: ['put', forbiddenKey, label] });
    t.not(refused.exitCode, 0, `${label}: ${refused.command} should have been refused`);
    t.regex(refused.stderr, ETCDCTL_REFUSED, `${label}: ${refused.stderr}`);
    assertRefusedFor(t, await rejectionsSince(etcd, before, reason), reason, `etcdctl, ${label}`);
  }
  const unchanged = await etcdctl(etcd, { ...apiserver, args: ['get', forbiddenKey, '--print-value-only'] });
  t.is(unchanged.exitCode, 0, unchanged.stderr);
  t.is(unchanged.stdout.trim(), '', 'a refused client must not have written');

  // 8. Direct TLS probes of member 0's client and peer listeners: each serves
  //    the expected certificate, accepts only clients of the etcd CA and
  //    answers a refused client with a TLS alert.
  const m0 = etcd.members[0]!;
  const m0PeerUrl = members.find((m) => m.name === m0.name)?.peerURLs[0];
  if (!m0PeerUrl) return void t.fail(`no peer URL for ${m0.name} in member list`);
  const listeners = [
    { label: 'client port', url: `${m0.clientUrls[0]!}/version`, served: f.serverCert, good: f.apiserverCert, goodKey: f.apiserverKey },
    { label: 'peer port', url: `${m0PeerUrl}/members`, served: f.peerCert, good: f.peerCert, goodKey: f.peerKey },
  ];
  for (const l of listeners) {
    const ok = await httpsGet(l.url, { ca: f.etcdCa, cert: l.good, key: l.goodKey });
    if (!ok.ok) {
      t.fail(`${l.label}: GET ${l.url} with ${l.good} failed: ${ok.code} ${ok.message}`);
      continue;
    }
    t.is(ok.status, 200, `${l.label}: ${ok.body}`);
    t.is(ok.served.fingerprint256, cert(l.served).fingerprint256, `${l.label} should serve ${l.served}`);
    for (const [label, tls, reason] of [
      ['front-proxy-client', { ca: f.etcdCa, cert: f.frontProxyCert, key: f.frontProxyKey }, LOG_UNKNOWN_CA],
      ['no client certificate', { ca: f.etcdCa }, LOG_NO_CERT],
    ] as const) {
      const before = logOffsets(etcd);
      const bad = await httpsGet(l.url, tls);
      t.false(bad.ok, `${l.label}: ${label} was accepted`);
      if (!bad.ok) t.regex(bad.code ?? '', NODE_TLS_ALERT, `${l.label}, ${label}: ${bad.code} ${bad.message}`);
      assertRefusedFor(t, await rejectionsSince(etcd, before, reason), reason, `${l.label}, ${label}`);
    }
  }
  const peerMembers = await httpsGet(`${m0PeerUrl}/members`, { ca: f.etcdCa, cert: f.peerCert, key: f.peerKey });
  if (peerMembers.ok) {
    const names = (JSON.parse(peerMembers.body) as { name: string }[]).map((m) => m.name).sort();
    t.deepEqual(names, ['m0', 'm1', 'm2'], 'peer /members');
  }
}

for (const alg of ALGORITHMS) {
  test(`etcd: 3-member mTLS cluster on a kubepki ${alg.flag} PKI`, etcdAcceptsKubepkiPki, alg);
}
