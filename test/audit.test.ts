/**
 * kubepki audit: clean on what init and render systemd write, and each
 * planted defect found by the right check (its CIS number, as kube-bench's
 * cfg/cis-1.12 numbers it, or kubepki's own), with the file and what to do.
 * Exit 0 clean, 3 warnings, 4 failures. Needs openssl and faketime.
 */
import test, { type ExecutionContext } from 'ava';
import { chmodSync, chownSync, copyFileSync, mkdirSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { execa } from 'execa';
import { BIN, REPO, kubepki, openssl, scratch } from './helpers/cli.js';

interface Finding { id: string; title: string; status: 'pass' | 'fail' | 'warn' | 'accepted' | 'skip'; where?: string; detail?: string }
interface Report { summary: { checks: number; pass: number; fail: number; warn: number; accepted: number; skip: number }; exitCode: number; findings: Finding[] }

/** A node as kubepki sets it up: init and render systemd, with its description; everything in a 0700 scratch folder. */
async function node(t: ExecutionContext, o: { past?: boolean; extra?: string } = {}) {
  const root = scratch(t);
  const config = path.join(root, 'cluster.yaml');
  writeFileSync(config, `apiVersion: kubepki.dev/v1alpha1
kind: Cluster
certificates:
  dir: ${root}/pki
  encryptionAlgorithm: ECDSA-P256
kubeconfigDir: ${root}
node:
  name: cp-1
  advertiseAddress: 192.168.10.11
etcd:
  dataDir: ${root}/etcd-data
${o.extra ?? ''}`);
  const init = o.past
    ? await execa('faketime', ['-f', '-400d', process.execPath, BIN, 'init', '--config', config], { reject: false })
    : await kubepki(['init', '--config', config]);
  t.is(init.exitCode, 0, init.stderr);
  const units = path.join(root, 'units');
  t.is((await kubepki(['render', 'systemd', '--config', config, '--out', units])).exitCode, 0);
  const dirs = { root, config, units, pki: path.join(root, 'pki'), flags: path.join(root, 'flags') };
  const audit = async (...more: string[]) => kubepki(['audit', '--config', config, '--units-dir', units, ...more]);
  const report = async (): Promise<Report & { run: Awaited<ReturnType<typeof kubepki>> }> => {
    const run = await audit('-o', 'json');
    return { ...(JSON.parse(run.stdout) as Report), run };
  };
  return { ...dirs, audit, report };
}

/** Change a component's flag, in both of its flag files (the .env is what audit, like the unit, reads). */
function setFlag(flagsDir: string, component: string, flag: string, value: string) {
  for (const file of [`${component}.flags`, `${component}.env`]) {
    const full = path.join(flagsDir, file);
    const text = readFileSync(full, 'utf8');
    const re = new RegExp(`${flag}=[^\\s"]*`);
    writeFileSync(full, re.test(text) ? text.replace(re, `${flag}=${value}`) : file.endsWith('.flags') ? `${text}${flag}=${value}\n` : text.replace(/"\n/, ` ${flag}=${value}"\n`));
  }
}

const failing = (r: Report) => [...new Set(r.findings.filter((f) => f.status === 'fail' || f.status === 'warn').map((f) => `${f.status} ${f.id}`))];

/** The report finds exactly the expected problems (status and check), with the file named, and exits with the code they call for. */
function finds(t: ExecutionContext, r: Report & { run: { exitCode: number } }, expected: Record<string, 'fail' | 'warn'>, where?: RegExp) {
  t.deepEqual(failing(r).sort(), Object.entries(expected).map(([id, s]) => `${s} ${id}`).sort(), JSON.stringify(r.findings.filter((f) => f.status === 'fail' || f.status === 'warn'), null, 1));
  const exit = Object.values(expected).includes('fail') ? 4 : 3;
  t.is(r.run.exitCode, exit);
  t.is(r.exitCode, exit);
  if (where) for (const f of r.findings.filter((x) => x.status === 'fail' || x.status === 'warn')) t.regex(`${f.where} ${f.detail}`, where, f.id);
}

test('fresh output is clean: exit 0 in every format; text lists nothing failing, --all lists every check with its CIS number', async (t) => {
  const n = await node(t);
  const r = await n.report();
  t.is(r.run.exitCode, 0, r.run.stdout);
  t.is(r.summary.fail, 0);
  t.is(r.summary.warn, 0);
  t.true(r.summary.pass >= 90, String(r.summary.pass));
  // The CIS checks of the files and flags kubepki writes are all there (numbers as in CIS 1.12 / kube-bench cfg/cis-1.12).
  const ids = new Set(r.findings.map((f) => f.id));
  for (const id of ['1.1.1', '1.1.3', '1.1.5', '1.1.7', '1.1.11', '1.1.13', '1.1.19', '1.1.20', '1.1.21', '1.2.1', '1.2.5', '1.2.6', '1.2.15', '1.2.16', '1.2.17', '1.2.18',
    '1.2.19', '1.2.29', '1.2.30', '1.3.2', '1.3.7', '1.4.1', '2.1', '2.2', '2.7', '4.1.1', '4.1.9', '4.2.1', '4.2.2', '4.2.4', '4.2.10', '4.2.12']) t.true(ids.has(id), id);
  for (const f of r.findings.filter((x) => ['1.2.15', '1.3.2', '1.4.1', '1.2.30', '4.2.1'].includes(x.id))) t.is(f.status, 'pass', f.id);
  const text = await n.audit();
  t.is(text.exitCode, 0);
  t.regex(text.stdout, /^\d+ checks: \d+ passed, 0 failed, 0 warnings, 0 accepted, \d+ skipped/m);
  t.notRegex(text.stdout, /\[FAIL\]|\[WARN\]/);
  const all = await n.audit('--all');
  t.regex(all.stdout, /^\[PASS\] 1\.2\.15 kube-apiserver --profiling: no profiling endpoint$/m);
  t.regex(all.stdout, /^\[PASS\] 4\.2\.1 kubelet --anonymous-auth \/ authentication\.anonymous\.enabled: anonymous requests are refused$/m);
  const yaml = await n.audit('-o', 'yaml');
  t.regex(yaml.stdout, /^exitCode: 0$/m);
  const junit = await n.audit('-o', 'junit');
  t.is(junit.exitCode, 0);
  t.regex(junit.stdout, /^<\?xml version="1\.0" encoding="UTF-8"\?>\n<testsuites name="kubepki audit" tests="(\d+)" failures="0" skipped="\d+">/);
  t.is((junit.stdout.match(/<testcase /g) ?? []).length, r.summary.checks);
});

test('the etcd data dir: 0700 passes 1.1.11; a root-owned one is 1.1.12 "accepted" (kubepki runs etcd as root), not a failure', async (t) => {
  const n = await node(t);
  mkdirSync(path.join(n.root, 'etcd-data'), { mode: 0o700 });
  const r = await n.report();
  t.is(r.run.exitCode, 0);
  t.is(r.findings.find((f) => f.id === '1.1.11')?.status, 'pass');
  const owner = r.findings.find((f) => f.id === '1.1.12');
  t.is(owner?.status, 'accepted');
  t.regex(owner?.detail ?? '', /owned by root:root, not etcd:etcd: kubepki runs etcd as root so that its keys stay root:root 0600 \(1\.1\.19, 1\.1\.21\)/);
  chmodSync(path.join(n.root, 'etcd-data'), 0o755);
  finds(t, await n.report(), { '1.1.11': 'fail' }, /etcd-data.*is 755, more open than 700; run "chmod 700 /);
});

// ------------------------------------------------------------------ planted defects: one each

test('defect: a key 0644 is CIS 1.1.21 (unscored: a warning) and a secret others may read (kubepki.secrets: a failure)', async (t) => {
  const n = await node(t);
  chmodSync(path.join(n.pki, 'apiserver.key'), 0o644);
  finds(t, await n.report(), { '1.1.21': 'warn', 'kubepki.secrets': 'fail' }, /apiserver\.key.*644.*chmod 600 /);
});

test('defect: a flag naming a missing file (kubepki.named-files)', async (t) => {
  const n = await node(t);
  setFlag(n.flags, 'kube-apiserver', '--tls-cert-file', path.join(n.root, 'gone.crt'));
  finds(t, await n.report(), { 'kubepki.named-files': 'fail' }, /kube-apiserver --tls-cert-file=.*gone\.crt does not exist/);
});

test('defect: a kubelet with anonymous auth (CIS 4.2.1), in its configuration file', async (t) => {
  const n = await node(t);
  const file = path.join(n.flags, 'kubelet-config.yaml');
  writeFileSync(file, readFileSync(file, 'utf8').replace(/anonymous:\n(\s+)enabled: false/, 'anonymous:\n$1enabled: true'));
  finds(t, await n.report(), { '4.2.1': 'fail' }, /kubelet-config\.yaml is true, not false/);
});

test('defect: a kubelet flag overrides its configuration, as the kubelet (and kube-bench) read it: --anonymous-auth=true (CIS 4.2.1)', async (t) => {
  const n = await node(t);
  setFlag(n.flags, 'kubelet', '--anonymous-auth', 'true');
  finds(t, await n.report(), { '4.2.1': 'fail' }, /kubelet\.env is true, not false/);
});

test('defect: a trust file from another CA: etcd --trusted-ca-file names the cluster CA, which signed none of its clients (kubepki.trust)', async (t) => {
  const n = await node(t);
  setFlag(n.flags, 'etcd', '--trusted-ca-file', path.join(n.pki, 'ca.crt'));
  const r = await n.report();
  finds(t, r, { 'kubepki.trust': 'fail' }, /etcd --trusted-ca-file=.*\/pki\/ca\.crt it did not sign/);
  t.true(r.findings.some((f) => f.id === 'kubepki.trust' && /apiserver-etcd-client/.test(f.detail ?? '')));
});

test('defect: an expired leaf (kubepki.expiry), a layout made 400 days ago with faketime', async (t) => {
  const n = await node(t, { past: true });
  const r = await n.report();
  finds(t, r, { 'kubepki.expiry': 'fail' }, /expired on .*kubepki certs renew/);
  t.true(r.findings.some((f) => f.id === 'kubepki.expiry' && /--tls-cert-file=.*apiserver\.crt/.test(f.where ?? '')));
  t.true(r.findings.some((f) => f.id === 'kubepki.expiry' && /admin\.conf|controller-manager\.conf/.test(f.where ?? '')), 'kubeconfig client certificates too');
});

test('defect: a flag file 0644 (CIS 1.1.1)', async (t) => {
  const n = await node(t);
  chmodSync(path.join(n.flags, 'kube-apiserver.env'), 0o644);
  finds(t, await n.report(), { '1.1.1': 'fail' }, /kube-apiserver\.env is 644, more open than 600/);
});

test('defect: a unit 0644 (CIS 4.1.1 for the kubelet)', async (t) => {
  const n = await node(t);
  chmodSync(path.join(n.units, 'kubelet.service'), 0o644);
  finds(t, await n.report(), { '4.1.1': 'fail' }, /kubelet\.service is 644/);
});

test('defect: --profiling=true on the API server (CIS 1.2.15)', async (t) => {
  const n = await node(t);
  setFlag(n.flags, 'kube-apiserver', '--profiling', 'true');
  finds(t, await n.report(), { '1.2.15': 'fail' }, /is true, not false/);
});

test('defect: --anonymous-auth=true on the API server is CIS 1.2.1, unscored: a warning, exit 3', async (t) => {
  const n = await node(t);
  setFlag(n.flags, 'kube-apiserver', '--anonymous-auth', 'true');
  finds(t, await n.report(), { '1.2.1': 'warn' });
});

test('defect: --authorization-mode=AlwaysAllow (CIS 1.2.6, 1.2.7, 1.2.8)', async (t) => {
  const n = await node(t);
  setFlag(n.flags, 'kube-apiserver', '--authorization-mode', 'AlwaysAllow');
  finds(t, await n.report(), { '1.2.6': 'fail', '1.2.7': 'fail', '1.2.8': 'fail' });
});

test('defect: an audit log kept 7 days (CIS 1.2.17)', async (t) => {
  const n = await node(t);
  setFlag(n.flags, 'kube-apiserver', '--audit-log-maxage', '7');
  finds(t, await n.report(), { '1.2.17': 'fail' }, /is 7, less than 30/);
});

test('defect: etcd without client certificates (CIS 2.2) and with an http listener (kubepki.etcd-tls)', async (t) => {
  const n = await node(t);
  setFlag(n.flags, 'etcd', '--client-cert-auth', 'false');
  setFlag(n.flags, 'etcd', '--listen-client-urls', 'http://192.168.10.11:2379');
  finds(t, await n.report(), { '2.2': 'fail', 'kubepki.etcd-tls': 'fail' });
});

test('defect: a kubeconfig that points at another CA (kubepki.kubeconfig-ca)', async (t) => {
  const n = await node(t);
  const file = path.join(n.root, 'admin.conf');
  const other = Buffer.from(readFileSync(path.join(n.pki, 'front-proxy-ca.crt'))).toString('base64');
  writeFileSync(file, readFileSync(file, 'utf8').replace(/certificate-authority-data: \S+/, `certificate-authority-data: ${other}`), { mode: 0o600 });
  finds(t, await n.report(), { 'kubepki.kubeconfig-ca': 'fail' }, /admin\.conf its CA is not the cluster's .*ca\.crt \("front-proxy-ca"\)/);
});

test('defect: a certificate and a key that do not pair (kubepki.pairs)', async (t) => {
  const n = await node(t);
  copyFileSync(path.join(n.pki, 'front-proxy-client.key'), path.join(n.pki, 'apiserver.key'));
  finds(t, await n.report(), { 'kubepki.pairs': 'fail' }, /apiserver\.crt and --tls-private-key-file=.*apiserver\.key do not pair/);
});

test('defect: an RSA-1024 key (kubepki.keys: a failure; the leaves mix algorithms: a warning)', async (t) => {
  const n = await node(t);
  const key = path.join(n.pki, 'apiserver.key');
  await openssl(['genrsa', '-out', key, '1024']);
  chmodSync(key, 0o600);
  const csr = path.join(n.root, 'a.csr');
  await openssl(['req', '-new', '-key', key, '-subj', '/CN=kube-apiserver', '-out', csr]);
  await openssl(['x509', '-req', '-in', csr, '-CA', path.join(n.pki, 'ca.crt'), '-CAkey', path.join(n.pki, 'ca.key'), '-days', '30', '-out', path.join(n.pki, 'apiserver.crt')]);
  const r = await n.report();
  t.deepEqual(r.findings.filter((f) => f.id === 'kubepki.keys').map((f) => f.status).sort(), ['fail', 'warn']);
  t.regex(r.findings.find((f) => f.id === 'kubepki.keys' && f.status === 'fail')?.detail ?? '', /RSA-1024, under 2048 bits/);
  t.regex(r.findings.find((f) => f.id === 'kubepki.keys' && f.status === 'warn')?.detail ?? '', /mix .*RSA-1024 \(apiserver\).*ECDSA-P256/);
  t.is(r.run.exitCode, 4);
});

test('defect: an audit policy that logs Secrets\' bodies (kubepki.audit-policy)', async (t) => {
  const n = await node(t);
  writeFileSync(path.join(n.flags, 'audit-policy.yaml'), 'apiVersion: audit.k8s.io/v1\nkind: Policy\nrules:\n- level: RequestResponse\n', { mode: 0o600 });
  finds(t, await n.report(), { 'kubepki.audit-policy': 'fail' }, /level RequestResponse matches Secrets/);
});

test('defect: a kubelet read-only port (CIS 4.2.4, unscored: a warning)', async (t) => {
  const n = await node(t);
  const file = path.join(n.flags, 'kubelet-config.yaml');
  writeFileSync(file, readFileSync(file, 'utf8').replace(/^readOnlyPort: 0$/m, 'readOnlyPort: 10255'));
  finds(t, await n.report(), { '4.2.4': 'warn' }, /is 10255, not 0/);
});

test('defect: the PKI folder others may list (kubepki.key-folders: a warning) or write (a failure)', async (t) => {
  const n = await node(t);
  chmodSync(n.pki, 0o755);
  finds(t, await n.report(), { 'kubepki.key-folders': 'warn' }, /pki is 755: others may list the keys in it; run "chmod 700 /);
  chmodSync(n.pki, 0o777);
  finds(t, await n.report(), { 'kubepki.key-folders': 'fail' }, /pki is 777: others may replace the keys in it/);
});

test('defect: a certificate not owned by root (CIS 1.1.19)', async (t) => {
  const n = await node(t);
  if (process.getuid?.() !== 0) return void t.pass('needs root to give a file away');
  chownSync(path.join(n.pki, 'front-proxy-ca.crt'), 65534, 65534);
  finds(t, await n.report(), { '1.1.19': 'fail' }, /front-proxy-ca\.crt is owned by nobody:nogroup, not root:root; run "chown root:root /);
});

test('defect: a weak TLS suite on the API server (CIS 1.2.29, unscored) and TLS 1.0 allowed (kubepki.tls-min-version)', async (t) => {
  const n = await node(t);
  setFlag(n.flags, 'kube-apiserver', '--tls-cipher-suites', 'TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256,TLS_RSA_WITH_3DES_EDE_CBC_SHA');
  setFlag(n.flags, 'kube-apiserver', '--tls-min-version', 'VersionTLS10');
  finds(t, await n.report(), { '1.2.29': 'warn', 'kubepki.tls-min-version': 'fail' });
});

test('defect: a kubelet configuration that is not YAML: every kubelet setting check fails, naming the file', async (t) => {
  const n = await node(t);
  writeFileSync(path.join(n.flags, 'kubelet-config.yaml'), 'authentication: [\n', { mode: 0o600 });
  const r = await n.report();
  t.is(r.run.exitCode, 4);
  const kubelet = r.findings.filter((f) => f.id === '4.2.1' || f.id === '4.2.2');
  t.true(kubelet.length >= 2);
  for (const f of kubelet) {
    t.is(f.status, 'fail');
    t.regex(f.detail ?? '', /cannot read the kubelet's configuration .*kubelet-config\.yaml: is not YAML/);
  }
});

test('text and junit name the failure: check, file, remedy; nothing is changed on disk by an audit', async (t) => {
  const n = await node(t);
  chmodSync(path.join(n.flags, 'kube-scheduler.env'), 0o640);
  const before = readFileSync(path.join(n.flags, 'kube-scheduler.env'));
  const text = await n.audit();
  t.is(text.exitCode, 4);
  t.regex(text.stdout, new RegExp(`^\\[FAIL\\] 1\\.1\\.5 kube-scheduler's flag files and unit are 600 or more restrictive: ${n.flags}/kube-scheduler\\.env: is 640, more open than 600; run "chmod 600 ${n.flags}/kube-scheduler\\.env"$`, 'm'));
  t.regex(text.stdout, /^\d+ checks: \d+ passed, 1 failed, 0 warnings/m);
  const junit = await n.audit('-o', 'junit');
  t.is(junit.exitCode, 4);
  t.regex(junit.stdout, /failures="1"/);
  t.regex(junit.stdout, /<testcase classname="CIS 1\.1" name="1\.1\.5 [^"]*kube-scheduler\.env"><failure message="is 640, more open than 600; run &quot;chmod 600 [^"]*&quot;"\/><\/testcase>/);
  t.deepEqual(readFileSync(path.join(n.flags, 'kube-scheduler.env')), before);
});

test('bad input: no flag files where the description puts them is exit 4 with what to give; a malformed description is exit 1', async (t) => {
  const root = scratch(t);
  const r = await kubepki(['audit', '--flags-dir', path.join(root, 'none'), '--cert-dir', path.join(root, 'pki'), '--node-name', 'cp-1', '--apiserver-advertise-address', '10.0.0.1']);
  t.is(r.exitCode, 4);
  t.regex(r.stdout, /\[FAIL\] kubepki\.installed .*none: no component flag file is there, nor kubeadm's static pod manifests: nothing to audit \(give --flags-dir, or --config/);
  writeFileSync(path.join(root, 'bad.yaml'), 'apiVersion: kubepki.dev/v1alpha1\nkind: Cluster\nnodes: [\n');
  const bad = await kubepki(['audit', '--config', path.join(root, 'bad.yaml')]);
  t.is(bad.exitCode, 1);
  t.regex(bad.stderr, /^kubepki: error: .*bad\.yaml:\d+:\d+: malformed YAML/);
});

for (const example of ['cluster.yaml', 'kubeadm-v1beta3.yaml', 'kubeadm-v1beta4.yaml']) {
  test(`the shipped example ${example}: init and render systemd give a node audit passes (exit 0, no warning)`, async (t) => {
    const root = scratch(t);
    const args = ['--config', path.join(REPO, 'examples', example), '--cert-dir', path.join(root, 'pki'), '--kubeconfig-dir', root, '--node-name', 'cp-1', '--apiserver-advertise-address', '192.168.10.11'];
    t.is((await kubepki(['init', ...args])).exitCode, 0);
    t.is((await kubepki(['render', 'systemd', ...args, '--out', path.join(root, 'units')])).exitCode, 0);
    const run = await kubepki(['audit', ...args, '--units-dir', path.join(root, 'units'), '-o', 'json']);
    const r = JSON.parse(run.stdout) as Report;
    t.is(run.exitCode, 0, failing(r).join(', '));
    t.is(r.summary.fail + r.summary.warn, 0);
    t.true(r.summary.pass > 90);
  });
}

test('hostile: a key in the cert dir that is a symbolic link to a world-readable file is a failure, never followed (kubepki.secrets)', async (t) => {
  const n = await node(t);
  const elsewhere = path.join(n.root, 'elsewhere.key');
  copyFileSync(path.join(n.pki, 'apiserver.key'), elsewhere);
  chmodSync(elsewhere, 0o644);
  const key = path.join(n.pki, 'apiserver.key');
  rmSync(key);
  symlinkSync(elsewhere, key);
  const r = await n.report();
  t.is(r.run.exitCode, 4);
  t.true(r.findings.some((f) => f.id === 'kubepki.secrets' && f.status === 'fail' && f.where === key && /symbolic link/.test(f.detail ?? '')), JSON.stringify(failing(r)));
});

/** A static pod manifest as kubeadm writes one: the component's command, one flag a word. */
const staticPod = (component: string, flags: readonly string[]) =>
  `apiVersion: v1\nkind: Pod\nmetadata:\n  name: ${component}\n  namespace: kube-system\nspec:\n  containers:\n  - name: ${component}\n    image: registry.k8s.io/${component}:v1.33.0\n    command:\n${[component, ...flags].map((w) => `    - ${w}`).join('\n')}\n`;

test('a node kubeadm set up (static pod manifests, /var/lib/kubelet): audit reads them and finds what kubeadm\'s defaults lack', async (t) => {
  const root = scratch(t);
  const pki = path.join(root, 'pki');
  const args = ['--cert-dir', pki, '--kubeconfig-dir', root, '--node-name', 'cp-1', '--apiserver-advertise-address', '192.168.10.11', '--encryption-algorithm', 'ECDSA-P256', '--skip-phases', 'flags'];
  t.is((await kubepki(['init', ...args])).exitCode, 0);
  // kubeadm's commands for these components (kubeadm-facts.md §4: getAPIServerCommand, getControllerManagerCommand, getSchedulerCommand, getEtcdCommand).
  const P = (f: string) => path.join(pki, f);
  const K = (f: string) => path.join(root, f);
  const manifests = path.join(root, 'manifests');
  mkdirSync(manifests, { mode: 0o700 });
  const pods: Record<string, string[]> = {
    'kube-apiserver': [`--advertise-address=192.168.10.11`, '--allow-privileged=true', '--authorization-mode=Node,RBAC', `--client-ca-file=${P('ca.crt')}`,
      '--enable-admission-plugins=NodeRestriction', '--enable-bootstrap-token-auth=true', `--etcd-cafile=${P('etcd/ca.crt')}`, `--etcd-certfile=${P('apiserver-etcd-client.crt')}`,
      `--etcd-keyfile=${P('apiserver-etcd-client.key')}`, '--etcd-servers=https://127.0.0.1:2379', `--kubelet-client-certificate=${P('apiserver-kubelet-client.crt')}`,
      `--kubelet-client-key=${P('apiserver-kubelet-client.key')}`, '--kubelet-preferred-address-types=InternalIP,ExternalIP,Hostname', `--proxy-client-cert-file=${P('front-proxy-client.crt')}`,
      `--proxy-client-key-file=${P('front-proxy-client.key')}`, '--requestheader-allowed-names=front-proxy-client', `--requestheader-client-ca-file=${P('front-proxy-ca.crt')}`,
      '--secure-port=6443', '--service-account-issuer=https://kubernetes.default.svc.cluster.local', `--service-account-key-file=${P('sa.pub')}`,
      `--service-account-signing-key-file=${P('sa.key')}`, '--service-cluster-ip-range=10.96.0.0/12', `--tls-cert-file=${P('apiserver.crt')}`, `--tls-private-key-file=${P('apiserver.key')}`],
    'kube-controller-manager': [`--authentication-kubeconfig=${K('controller-manager.conf')}`, `--authorization-kubeconfig=${K('controller-manager.conf')}`, '--bind-address=127.0.0.1',
      `--client-ca-file=${P('ca.crt')}`, '--cluster-name=kubernetes', `--cluster-signing-cert-file=${P('ca.crt')}`, `--cluster-signing-key-file=${P('ca.key')}`,
      '--controllers=*,bootstrapsigner,tokencleaner', `--kubeconfig=${K('controller-manager.conf')}`, '--leader-elect=true', `--requestheader-client-ca-file=${P('front-proxy-ca.crt')}`,
      `--root-ca-file=${P('ca.crt')}`, `--service-account-private-key-file=${P('sa.key')}`, '--use-service-account-credentials=true'],
    'kube-scheduler': [`--authentication-kubeconfig=${K('scheduler.conf')}`, `--authorization-kubeconfig=${K('scheduler.conf')}`, '--bind-address=127.0.0.1', `--kubeconfig=${K('scheduler.conf')}`, '--leader-elect=true'],
    etcd: ['--advertise-client-urls=https://192.168.10.11:2379', `--cert-file=${P('etcd/server.crt')}`, '--client-cert-auth=true', `--data-dir=${path.join(root, 'etcd')}`,
      '--initial-advertise-peer-urls=https://192.168.10.11:2380', '--initial-cluster=cp-1=https://192.168.10.11:2380', `--key-file=${P('etcd/server.key')}`,
      '--listen-client-urls=https://127.0.0.1:2379,https://192.168.10.11:2379', '--listen-metrics-urls=http://127.0.0.1:2381', '--listen-peer-urls=https://192.168.10.11:2380',
      '--name=cp-1', `--peer-cert-file=${P('etcd/peer.crt')}`, '--peer-client-cert-auth=true', `--peer-key-file=${P('etcd/peer.key')}`, `--peer-trusted-ca-file=${P('etcd/ca.crt')}`,
      '--snapshot-count=10000', `--trusted-ca-file=${P('etcd/ca.crt')}`],
  };
  for (const [c, flags] of Object.entries(pods)) writeFileSync(path.join(manifests, `${c}.yaml`), staticPod(c, flags), { mode: 0o600 });
  const kubeletDir = path.join(root, 'var-lib-kubelet');
  mkdirSync(kubeletDir, { mode: 0o700 });
  // kubeadm writes it 0644; kube-bench's 4.1.1 judges the drop-in, not this file, and so does kubepki.
  writeFileSync(path.join(kubeletDir, 'kubeadm-flags.env'), 'KUBELET_KUBEADM_ARGS="--container-runtime-endpoint=unix:///var/run/containerd/containerd.sock"\n', { mode: 0o644 });
  chmodSync(path.join(kubeletDir, 'kubeadm-flags.env'), 0o644);
  const dropIn = path.join(root, 'units', 'kubelet.service.d');
  mkdirSync(dropIn, { recursive: true, mode: 0o700 });
  writeFileSync(path.join(dropIn, '10-kubeadm.conf'), '[Service]\nEnvironmentFile=-/var/lib/kubelet/kubeadm-flags.env\n', { mode: 0o644 });
  chmodSync(path.join(dropIn, '10-kubeadm.conf'), 0o644);
  // kubeadm's KubeletConfiguration defaults (kubeadm-facts.md §4.6); no tlsCipherSuites.
  writeFileSync(path.join(kubeletDir, 'config.yaml'), `apiVersion: kubelet.config.k8s.io/v1beta1\nkind: KubeletConfiguration\nauthentication:\n  anonymous:\n    enabled: false\n  webhook:\n    enabled: true\n  x509:\n    clientCAFile: ${P('ca.crt')}\nauthorization:\n  mode: Webhook\nreadOnlyPort: 0\nrotateCertificates: true\nhealthzBindAddress: 127.0.0.1\nhealthzPort: 10248\nstaticPodPath: ${manifests}\n`, { mode: 0o600 });
  const run = await kubepki(['audit', ...args.slice(0, 8), '--units-dir', path.join(root, 'units'), '--kubelet-dir', kubeletDir, '-o', 'json']);
  const r = JSON.parse(run.stdout) as Report;
  t.is(run.exitCode, 4);
  // What kube-bench reports on kubeadm's defaults, and kubepki's own on top: no profiling flag, no audit log, no kubelet CA for the API server,
  // extended service-account tokens, no TLS floor; unscored: anonymous auth not set, no suite lists.
  t.deepEqual(failing(r).sort(), [
    'fail 1.2.15', 'fail 1.2.16', 'fail 1.2.17', 'fail 1.2.18', 'fail 1.2.19', 'fail 1.2.30', 'fail 1.2.5', 'fail 1.3.2', 'fail 1.4.1',
    'fail kubepki.audit-policy', 'fail kubepki.tls-min-version',
    'warn 1.2.1', 'warn 1.2.29', 'warn 4.2.12', 'fail 4.1.1',
  ].sort());
  t.regex(r.findings.find((f) => f.id === '4.1.1')?.where ?? '', /kubelet\.service\.d\/10-kubeadm\.conf$/);
  // The manifests are judged as the pod specs CIS 1.1.1-1.1.7 name, the kubelet's configuration where the drop-in's --config says.
  t.is(r.findings.find((f) => f.id === '1.1.1')?.status, 'pass');
  t.is(r.findings.find((f) => f.id === '4.1.9')?.status, 'pass');
  t.is(r.findings.find((f) => f.id === '4.2.1')?.status, 'pass');
  t.true(r.findings.some((f) => f.id === 'kubepki.named-files' && f.status === 'pass'));
  t.true(r.findings.some((f) => f.id === 'kubepki.trust' && f.status === 'pass'));
});

test('bad input on a kubeadm node: a manifest that is not a static pod, and one that is not YAML, fail every flag check of their component, naming the file', async (t) => {
  const root = scratch(t);
  const args = ['--cert-dir', path.join(root, 'pki'), '--kubeconfig-dir', root, '--node-name', 'cp-1', '--apiserver-advertise-address', '192.168.10.11', '--encryption-algorithm', 'ECDSA-P256'];
  t.is((await kubepki(['init', ...args, '--skip-phases', 'flags'])).exitCode, 0);
  mkdirSync(path.join(root, 'manifests'), { mode: 0o700 });
  writeFileSync(path.join(root, 'manifests', 'kube-scheduler.yaml'), 'apiVersion: v1\nkind: Pod\nspec:\n  containers: []\n', { mode: 0o600 });
  writeFileSync(path.join(root, 'manifests', 'etcd.yaml'), 'spec: [\n', { mode: 0o600 });
  const run = await kubepki(['audit', ...args, '--units-dir', path.join(root, 'units'), '--kubelet-dir', path.join(root, 'none'), '-o', 'json']);
  t.is(run.exitCode, 4);
  const r = JSON.parse(run.stdout) as Report;
  const scheduler = r.findings.filter((f) => f.id === '1.4.1');
  t.is(scheduler.length, 1);
  t.is(scheduler[0]!.status, 'fail');
  t.regex(`${scheduler[0]!.where} ${scheduler[0]!.detail}`, /manifests\/kube-scheduler\.yaml cannot read the flags: is not a static pod with a container command/);
  const etcd = r.findings.find((f) => f.id === '2.2');
  t.regex(`${etcd?.where} ${etcd?.detail}`, /manifests\/etcd\.yaml cannot read the flags: is not YAML/);
  t.false(r.findings.some((f) => f.id.startsWith('1.2.')), 'no API server here: its checks are not run');
});
