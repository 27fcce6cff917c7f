/**
 * Re-runs: CAs are reused and never regenerated, matching leaves are kept,
 * leaves that no longer match are errors naming the file and the difference,
 * and external-CA mode works as kubeadm's.
 */
import test from 'ava';
import { copyFileSync, readFileSync, rmSync } from 'node:fs';
import path from 'node:path';
import { NODE, kubepki, openssl, scratch, snapshot } from './helpers/cli.js';

const ALG = ['--encryption-algorithm', 'ECDSA-P256'];
const init = (dir: string, ...extra: string[]) => kubepki(['init', '--cert-dir', dir, ...NODE, ...ALG, ...extra]);

async function pki(t: import('ava').ExecutionContext): Promise<string> {
  const dir = path.join(scratch(t), 'pki');
  const run = await init(dir);
  t.is(run.exitCode, 0, run.stderr);
  return dir;
}

test('a second run changes nothing and says it uses the existing files', async (t) => {
  const dir = await pki(t);
  const before = snapshot(dir);
  const run = await init(dir);
  t.is(run.exitCode, 0, run.stderr);
  t.deepEqual(snapshot(dir), before);
  t.regex(run.stdout, /Using the existing "ca" certificate and key/);
  t.regex(run.stdout, /Using the existing "apiserver" certificate and key/);
  t.regex(run.stdout, /Using the existing "sa" key/);
  t.notRegex(run.stdout, /Generating/);
});

test('a missing leaf is created again, signed by the existing CA, which is left as it was', async (t) => {
  const dir = await pki(t);
  const ca = readFileSync(path.join(dir, 'ca.crt'));
  const caKey = readFileSync(path.join(dir, 'ca.key'));
  rmSync(path.join(dir, 'apiserver.crt'));
  rmSync(path.join(dir, 'apiserver.key'));
  const run = await init(dir);
  t.is(run.exitCode, 0, run.stderr);
  t.regex(run.stdout, /Generating "apiserver" certificate and key/);
  t.regex(run.stdout, /Using the existing "ca" certificate and key/);
  t.deepEqual(readFileSync(path.join(dir, 'ca.crt')), ca);
  t.deepEqual(readFileSync(path.join(dir, 'ca.key')), caKey);
  t.is((await openssl(['verify', '-CAfile', path.join(dir, 'ca.crt'), path.join(dir, 'apiserver.crt')])).exitCode, 0);
});

test('a leaf whose SANs no longer match the description is an error naming the file and the difference', async (t) => {
  const dir = await pki(t);
  const before = snapshot(dir);
  const run = await init(dir, '--apiserver-cert-extra-sans', 'api.example.com,10.0.0.9');
  t.is(run.exitCode, 1);
  t.regex(run.stderr, /apiserver\.crt does not match the cluster description: SANs: lacks DNS:api\.example\.com, IP:10\.0\.0\.9/);
  t.regex(run.stderr, /move apiserver\.crt and apiserver\.key away and run again/);
  t.deepEqual(snapshot(dir), before);
});

test('a leaf whose subject no longer matches (node renamed) is an error naming each file', async (t) => {
  const dir = await pki(t);
  const before = snapshot(dir);
  const run = await kubepki(['init', '--cert-dir', dir, '--node-name', 'cp-2', '--apiserver-advertise-address', '192.168.10.11', ...ALG]);
  t.is(run.exitCode, 1);
  t.regex(run.stderr, /7 problems/);
  t.regex(run.stderr, /kubelet-server\.crt does not match the cluster description: subject is O=system:nodes, CN=system:node:cp-1, the description wants O=system:nodes, CN=system:node:cp-2/);
  t.regex(run.stderr, /kubelet\.conf in .*: its client certificate is for O=system:nodes, CN=system:node:cp-1, the description wants O=system:nodes, CN=system:node:cp-2/);
  t.regex(run.stderr, /etcd\.flags in .* differs from what the description gives/);
  t.regex(run.stderr, /etcd\/server\.crt does not match the cluster description: subject is CN=cp-1, the description wants CN=cp-2/);
  t.regex(run.stderr, /etcd\/peer\.crt/);
  t.regex(run.stderr, /apiserver\.crt.*lacks DNS:cp-2/);
  t.deepEqual(snapshot(dir), before);
});

test('a leaf signed by another CA is refused', async (t) => {
  const dir = await pki(t);
  const other = await pki(t);
  for (const f of ['ca.crt', 'ca.key']) copyFileSync(path.join(other, f), path.join(dir, f));
  const before = snapshot(dir);
  const run = await init(dir);
  t.is(run.exitCode, 1);
  t.regex(run.stderr, /apiserver\.crt is not signed by ca \(ca\.crt\)/);
  t.regex(run.stderr, /apiserver-kubelet-client\.crt is not signed by ca/);
  t.deepEqual(snapshot(dir), before);
});

test('external CA mode: ca.crt without ca.key verifies the existing leaves and creates none', async (t) => {
  const dir = await pki(t);
  rmSync(path.join(dir, 'ca.key'));
  // As when an operator provides the certificates of an external CA before the first init.
  rmSync(path.join(dir, '..', 'flags'), { recursive: true });
  const before = snapshot(dir);
  const run = await init(dir);
  t.is(run.exitCode, 0, run.stderr);
  t.regex(run.stdout, /External CA mode: using the existing "ca" certificate/);
  t.regex(run.stdout, /Using the existing "apiserver" certificate and key/);
  t.deepEqual(snapshot(dir), before);
  // Without the CA key the controller-manager must not sign (kubeadm: empty signing flags).
  const kcm = readFileSync(path.join(dir, '..', 'flags', 'kube-controller-manager.flags'), 'utf8');
  t.regex(kcm, /^--cluster-signing-cert-file=$/m);
  t.regex(kcm, /^--cluster-signing-key-file=$/m);

  const dry = await init(dir, '--dry-run', '-o', 'json');
  const plan = JSON.parse(dry.stdout) as { items: { name: string; action: string }[] };
  t.is(plan.items.find((i) => i.name === 'ca')?.action, 'external');
});

test('external CA mode: a missing leaf of the external CA is a clear error', async (t) => {
  const dir = await pki(t);
  rmSync(path.join(dir, 'ca.key'));
  rmSync(path.join(dir, 'apiserver.crt'));
  rmSync(path.join(dir, 'apiserver.key'));
  const before = snapshot(dir);
  const run = await init(dir);
  t.is(run.exitCode, 1);
  t.regex(run.stderr, /^kubepki: error: .*problems/);
  t.regex(run.stderr, /^ {2}- apiserver\.crt is missing, and ca is managed outside kubepki \(ca\.crt without its key\): have that CA issue apiserver\.crt and apiserver\.key/m);
  // The controller-manager's signing flags change without the CA key; the old flag files are not overwritten.
  t.regex(run.stderr, /^ {2}- kube-controller-manager\.flags in .* differs from what the description gives/m);
  t.deepEqual(snapshot(dir), before);
});

test('external etcd CA: only etcd leaves are required; other CAs still sign new leaves', async (t) => {
  const dir = await pki(t);
  rmSync(path.join(dir, 'etcd/ca.key'));
  rmSync(path.join(dir, 'front-proxy-client.crt'));
  rmSync(path.join(dir, 'front-proxy-client.key'));
  const run = await init(dir);
  t.is(run.exitCode, 0, run.stderr);
  t.regex(run.stdout, /External CA mode: using the existing "etcd-ca" certificate/);
  t.regex(run.stdout, /Generating "front-proxy-client" certificate and key/);
});

test('sa.pub is re-created from an existing sa.key; a mismatching sa.pub is refused', async (t) => {
  const dir = await pki(t);
  const key = readFileSync(path.join(dir, 'sa.key'));
  const pub = readFileSync(path.join(dir, 'sa.pub'));
  rmSync(path.join(dir, 'sa.pub'));
  const run = await init(dir);
  t.is(run.exitCode, 0, run.stderr);
  t.deepEqual(readFileSync(path.join(dir, 'sa.pub')), pub);
  t.deepEqual(readFileSync(path.join(dir, 'sa.key')), key);

  const other = await pki(t);
  copyFileSync(path.join(other, 'sa.pub'), path.join(dir, 'sa.pub'));
  const before = snapshot(dir);
  const bad = await init(dir);
  t.is(bad.exitCode, 1);
  t.regex(bad.stderr, /sa\.pub does not match sa\.key/);
  t.deepEqual(snapshot(dir), before);
});

test('--dry-run lists what would be created, reused and kept, and writes nothing', async (t) => {
  const dir = await pki(t);
  rmSync(path.join(dir, 'apiserver.crt'));
  rmSync(path.join(dir, 'apiserver.key'));
  const before = snapshot(dir);
  const text = await init(dir, '--dry-run');
  t.is(text.exitCode, 0, text.stderr);
  t.regex(text.stdout, /^create\s+apiserver\s+apiserver\.crt apiserver\.key\s+ca\s+CN=kube-apiserver$/m);
  t.regex(text.stdout, /^reuse\s+ca\s+ca\.crt ca\.key\s+\(self\)\s+CN=kubernetes$/m);
  t.regex(text.stdout, /^keep\s+front-proxy-client\s/m);
  t.regex(text.stdout, /1 to create, 4 to reuse, 18 to keep, 0 external\. Dry run: nothing was written\./);
  const yaml = await init(dir, '--dry-run', '-o', 'yaml');
  t.regex(yaml.stdout, /^summary:\n {2}create: 1\n {2}reuse: 4\n {2}keep: 18\n/m);
  const json = JSON.parse((await init(dir, '--dry-run', '-o', 'json')).stdout) as { items: { name: string; action: string; consumers: string[] }[] };
  t.deepEqual(json.items.find((i) => i.name === 'apiserver')?.consumers, ['kube-apiserver --tls-cert-file', 'kube-apiserver --tls-private-key-file']);
  t.deepEqual(snapshot(dir), before);
});
