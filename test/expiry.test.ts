/**
 * certs check-expiration: kubeadm's tables and object, Prometheus metrics,
 * thresholds with distinct exit codes, CA call-outs at 30 and 7 days, and rows
 * (not crashes) for missing, corrupt and odd files.
 */
import test from 'ava';
import { mkdirSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { humanDuration, expiresText } from '../lib/expiry/human.js';
import { PROFILES } from '../lib/pki/catalog.js';
import { generateKey } from '../lib/pki/keys.js';
import { issueCertificate } from '../lib/pki/issue.js';
import { keySigner } from '../lib/pki/signer.js';
import { BIN, NODE, kubepki, scratch, snapshot } from './helpers/cli.js';
import { execa } from 'execa';

const ALG = ['--encryption-algorithm', 'ECDSA-P256'];
const check = (dir: string, ...args: string[]) => kubepki(['certs', 'check-expiration', '--cert-dir', dir, ...NODE, ...args]);

async function pki(t: import('ava').ExecutionContext, ...extra: string[]) {
  const root = scratch(t);
  const dir = path.join(root, 'pki');
  const run = await kubepki(['init', '--cert-dir', dir, ...NODE, ...ALG, ...extra]);
  t.is(run.exitCode, 0, run.stderr);
  return { root, dir };
}

/** A self-signed certificate valid between two dates, for extra paths. */
async function certificate(notBefore: Date, notAfter: Date, cn = 'extra'): Promise<string> {
  const key = await generateKey('ECDSA-P256');
  const cert = await issueCertificate({
    subject: { cn }, sans: { dns: [], ips: [] }, profile: PROFILES.ca, publicKey: key.publicKey,
    publicKeyAlgorithm: key.algorithm, notBefore, notAfter, selfSigner: keySigner(key.privateKey, key.algorithm),
  });
  return cert.pem;
}

const DAY = 86_400_000;

test('HumanDuration, as kubeadm renders RESIDUAL TIME', (t) => {
  const s = 1000;
  const cases: [number, string][] = [
    [-5 * s, '<invalid>'], [-0.5 * s, '0s'], [0, '0s'], [119 * s, '119s'], [120 * s, '2m'], [125 * s, '2m5s'],
    [9 * 60 * s + 59 * s, '9m59s'], [10 * 60 * s, '10m'], [179 * 60 * s, '179m'], [3 * 3600 * s, '3h'],
    [3 * 3600 * s + 20 * 60 * s, '3h20m'], [8 * 3600 * s, '8h'], [47 * 3600 * s, '47h'], [2 * DAY, '2d'],
    [2 * DAY + 5 * 3600 * s, '2d5h'], [8 * DAY, '8d'], [364 * DAY, '364d'], [729 * DAY, '729d'], [730 * DAY, '2y'],
    [2 * 365 * DAY + 327 * DAY, '2y327d'], [2000 * DAY, '5y175d'], [3649 * DAY, '9y'], [8 * 365 * DAY, '8y'], [20 * 365 * DAY, '20y'],
  ];
  for (const [ms, text] of cases) t.is(humanDuration(ms), text, `${ms} ms`);
  t.is(expiresText(new Date(Date.UTC(2020, 11, 30, 23, 36, 59))), 'Dec 30, 2020 23:36 UTC');
});

test('the standard layout: kubeadm\'s two tables, sorted, every row present, exit 0', async (t) => {
  const { dir } = await pki(t);
  const run = await check(dir);
  t.is(run.exitCode, 0, run.stderr);
  const lines = run.stdout.split('\n');
  t.regex(lines[0]!, /^CERTIFICATE {2,}EXPIRES {2,}RESIDUAL TIME {2,}CERTIFICATE AUTHORITY {2,}EXTERNALLY MANAGED$/);
  const names = lines.slice(1, lines.indexOf('')).map((l) => l.split(/\s+/)[0]);
  t.deepEqual(names, [...names].sort());
  t.deepEqual(new Set(names), new Set(['admin.conf', 'apiserver', 'apiserver-etcd-client', 'apiserver-kubelet-client', 'controller-manager.conf', 'etcd-healthcheck-client', 'etcd-peer', 'etcd-server', 'front-proxy-client', 'kubelet-server', 'kubelet.conf', 'scheduler.conf', 'super-admin.conf']));
  t.regex(run.stdout, /^apiserver {2,}\w{3} \d{2}, \d{4} \d{2}:\d{2} UTC {2,}364d {2,}ca {2,}no$/m);
  t.regex(run.stdout, /^etcd-server {2,}.* {2,}etcd-ca {2,}no$/m);
  t.regex(run.stdout, /^CERTIFICATE AUTHORITY {2,}EXPIRES {2,}RESIDUAL TIME {2,}EXTERNALLY MANAGED$/m);
  t.regex(run.stdout, /^ca {2,}.* UTC {2,}9y {2,}no$/m);
  t.notRegex(run.stdout, /WARNING|ERROR|DEGRADED/);
});

test('--warn-within and --fail-within: exit 3 and 4, and the row says why', async (t) => {
  const { dir } = await pki(t);
  t.is((await check(dir, '--warn-within', '100d')).exitCode, 0);
  const warn = await check(dir, '--warn-within', '400d');
  t.is(warn.exitCode, 3);
  t.regex(warn.stdout, /^WARNING: apiserver expires in 364d \(--warn-within 400d\)$/m);
  const fail = await check(dir, '--warn-within', '400d', '--fail-within', '8760h');
  t.is(fail.exitCode, 4);
  t.regex(fail.stdout, /^ERROR: apiserver expires in 364d \(--fail-within 365d\)$/m);
  const bad = await check(dir, '--warn-within', 'soon');
  t.is(bad.exitCode, 2);
  t.regex(bad.stderr, /^kubepki: error: --warn-within: "soon" is not a valid duration/);
});

test('a CA within 30 days is called out (exit 3); within 7 days it is degraded (exit 4, metric)', async (t) => {
  const soon = await pki(t, '--ca-certificate-validity', '480h', '--certificate-validity', '24h');
  const warn = await check(soon.dir);
  t.is(warn.exitCode, 3, warn.stdout);
  t.regex(warn.stdout, /^WARNING: CA ca expires .* \(in 19d\): plan its rotation, or renew it with the same key \(everything it signed stays valid\): kubepki ca renew ca$/m);
  const degraded = await pki(t, '--ca-certificate-validity', '120h', '--certificate-validity', '24h');
  const run = await check(degraded.dir);
  t.is(run.exitCode, 4);
  t.regex(run.stdout, /^DEGRADED: CA etcd-ca expires .*: every certificate it signed stops working then; rotate it now, or renew it with the same key: kubepki ca renew etcd-ca$/m);
  const prom = await check(degraded.dir, '-o', 'prometheus');
  t.regex(prom.stdout, /^kubepki_ca_degraded\{name="ca"\} 1$/m);
  t.is(prom.exitCode, 4);
});

test('missing, corrupt, empty and odd files are rows with the reason, never a crash', async (t) => {
  const { root, dir } = await pki(t);
  rmSync(path.join(root, 'super-admin.conf'));
  writeFileSync(path.join(dir, 'front-proxy-client.crt'), 'garbage\n');
  writeFileSync(path.join(dir, 'apiserver.crt'), readFileSync(path.join(dir, 'apiserver.crt'), 'utf8').slice(0, 200));
  rmSync(path.join(dir, 'etcd/peer.crt'));
  mkdirSync(path.join(dir, 'etcd/peer.crt'));
  writeFileSync(path.join(root, 'scheduler.conf'), 'apiVersion: v1\nkind: Config\ncurrent-context: x\ncontexts: [{name: x, context: {cluster: c, user: u}}]\nusers: [{name: u, user: {token: abc}}]\n', { mode: 0o600 });
  const before = snapshot(root);
  const run = await check(dir);
  t.is(run.exitCode, 4);
  t.notRegex(run.stderr, /internal error/);
  t.regex(run.stdout, /^!MISSING! super-admin\.conf$/m);
  t.regex(run.stdout, /^front-proxy-client {2,}!INVALID! {2,}holds no PEM certificate/m);
  t.regex(run.stdout, /^apiserver {2,}!INVALID! {2,}holds no PEM certificate/m);
  t.regex(run.stdout, /^etcd-peer {2,}!INVALID! {2,}is a directory/m);
  t.regex(run.stdout, /^scheduler\.conf {2,}!INVALID! {2,}has no client certificate for its current user/m);
  t.regex(run.stdout, /^ERROR: front-proxy-client \(.*front-proxy-client\.crt\): holds no PEM certificate$/m);
  const json = JSON.parse((await check(dir, '-o', 'json')).stdout) as { certificates: { name: string; missing: boolean; status: string }[] };
  t.deepEqual(json.certificates.find((c) => c.name === 'super-admin.conf'), { ...json.certificates.find((c) => c.name === 'super-admin.conf')!, missing: true, status: 'missing' });
  t.deepEqual(snapshot(root), before, 'check-expiration writes nothing');
});

test('external CA: EXTERNALLY MANAGED is yes for the CA and what it signed', async (t) => {
  const { dir } = await pki(t);
  rmSync(path.join(dir, 'front-proxy-ca.key'));
  const run = await check(dir);
  t.is(run.exitCode, 0, run.stdout);
  t.regex(run.stdout, /^front-proxy-client {2,}.* {2,}front-proxy-ca {2,}yes$/m);
  t.regex(run.stdout, /^front-proxy-ca {2,}.* {2,}yes$/m);
  t.regex(run.stdout, /^apiserver {2,}.* {2,}ca {2,}no$/m);
});

test('--path adds files and folders (recursively, certificates only); an expired one fails', async (t) => {
  const { root, dir } = await pki(t);
  const extra = path.join(root, 'extra');
  mkdirSync(path.join(extra, 'deep'), { recursive: true });
  const now = Date.now();
  writeFileSync(path.join(extra, 'a.crt'), await certificate(new Date(now - DAY), new Date(now + 100 * DAY), 'a-ca'));
  writeFileSync(path.join(extra, 'deep', 'b.pem'), await certificate(new Date(now - 10 * DAY), new Date(now - DAY), 'b-ca'));
  writeFileSync(path.join(extra, 'deep', 'b.key'), 'not a certificate, and not read\n');
  symlinkSync('/nonexistent', path.join(extra, 'dangling.crt'));
  const run = await check(dir, '--path', extra);
  t.is(run.exitCode, 4);
  t.regex(run.stdout, new RegExp(`^${path.join(extra, 'a.crt')} {2,}.* {2,}99d {2,}a-ca {2,}no$`, 'm'));
  t.regex(run.stdout, new RegExp(`^ERROR: ${path.join(extra, 'deep', 'b.pem')} expired `, 'm'));
  t.regex(run.stdout, new RegExp(`^${path.join(extra, 'dangling.crt')} {2,}!INVALID! {2,}is a symbolic link`, 'm'));
  t.notRegex(run.stdout, /b\.key/);
  const one = await check(dir, '--path', path.join(extra, 'a.crt'), '--path', path.join(root, 'nope.crt'));
  t.is(one.exitCode, 0, 'a missing extra path is reported, and is not a failure');
  t.regex(one.stdout, /^!MISSING! .*nope\.crt$/m);
});

test('-o json and -o yaml: kubeadm\'s CertificateExpirationInfo', async (t) => {
  const { dir } = await pki(t);
  const json = JSON.parse((await check(dir, '-o', 'json')).stdout) as any;
  t.is(json.apiVersion, 'output.kubeadm.k8s.io/v1alpha3');
  t.is(json.kind, 'CertificateExpirationInfo');
  const apiserver = json.certificates.find((c: any) => c.name === 'apiserver');
  t.is(apiserver.caName, 'ca');
  t.is(apiserver.externallyManaged, false);
  t.is(apiserver.missing, false);
  t.regex(apiserver.expirationDate, /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}Z$/);
  t.true(apiserver.residualTime > 364 * 86400 && apiserver.residualTime <= 365 * 86400);
  t.deepEqual(json.certificateAuthorities.map((c: any) => c.name), ['ca', 'etcd-ca', 'front-proxy-ca']);
  t.false('caName' in json.certificateAuthorities[0]);
  const yaml = await check(dir, '-o', 'yaml');
  t.regex(yaml.stdout, /^apiVersion: output\.kubeadm\.k8s\.io\/v1alpha3$/m);
  t.regex(yaml.stdout, /^ {2}- name: apiserver$/m);
});

test('-o prometheus: node-exporter textfile format', async (t) => {
  const { dir } = await pki(t);
  const run = await check(dir, '-o', 'prometheus');
  t.is(run.exitCode, 0);
  const lines = run.stdout.split('\n').filter(Boolean);
  for (const line of lines) {
    t.regex(line, /^(# (HELP|TYPE) kubepki_[a-z_]+ .+|kubepki_[a-z_]+(\{([a-z_]+="(?:[^"\\]|\\.)*",?)+\})? -?\d+)$/, line);
  }
  for (const name of ['kubepki_certificate_expiry_timestamp_seconds', 'kubepki_certificate_residual_seconds', 'kubepki_certificate_missing', 'kubepki_certificate_invalid', 'kubepki_certificate_status', 'kubepki_ca_degraded', 'kubepki_check_timestamp_seconds']) {
    t.true(lines.includes(`# TYPE ${name} gauge`), name);
  }
  const expiry = new RegExp(`^kubepki_certificate_expiry_timestamp_seconds\\{name="apiserver",kind="certificate",ca="ca",path="${path.join(dir, 'apiserver.crt')}"\\} (\\d+)$`, 'm').exec(run.stdout);
  t.truthy(expiry);
  t.true(Math.abs(Number(expiry![1]) - (Date.now() / 1000 + 365 * 86400)) < 600);
  t.regex(run.stdout, /^kubepki_certificate_status\{name="apiserver",kind="certificate",ca="ca",path=".*",status="ok"\} 1$/m);
});

test('a config that does not parse is an error before anything is read', async (t) => {
  const root = scratch(t);
  writeFileSync(path.join(root, 'bad.yaml'), 'apiVersion: kubepki.dev/v1alpha1\nkind: Cluster\ncertificates: {dirr: x}\n');
  const run = await kubepki(['certs', 'check-expiration', '--config', path.join(root, 'bad.yaml')]);
  t.is(run.exitCode, 1);
  t.regex(run.stderr, /^kubepki: error: .*bad\.yaml:3: certificates\.dirr: unknown field/);
});

test('a reader that goes away early (| head) ends kubepki quietly, with no trace', async (t) => {
  const { dir } = await pki(t);
  const extra = path.join(dir, '..', 'many');
  mkdirSync(extra);
  const ca = readFileSync(path.join(dir, 'ca.crt'));
  for (let i = 0; i < 1500; i++) writeFileSync(path.join(extra, `c-${i}.crt`), ca);
  const run = await execa('bash', ['-c', 'set -o pipefail; node "$0" certs check-expiration --cert-dir "$1" --path "$2" | head -c 100 >/dev/null', BIN, dir, extra], { reject: false, timeout: 60_000 });
  t.is(run.exitCode, 0, run.stderr);
  t.is(run.stderr, '', 'nothing on stderr: no EPIPE trace');
});
