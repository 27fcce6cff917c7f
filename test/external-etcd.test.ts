/**
 * External etcd (kubeadm's etcd.external): kubepki creates no etcd CA or
 * etcd certificates, configures no etcd, and points the API server at the
 * endpoints and client files the description names. Plain-http endpoints and
 * half-given client files are errors naming the field; nothing is written.
 */
import test from 'ava';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { NODE, kubepki, scratch, snapshot } from './helpers/cli.js';

const ALG = ['--encryption-algorithm', 'ECDSA-P256'];

const flagsOf = (file: string) => new Map(readFileSync(file, 'utf8').trim().split('\n').map((l) => {
  const i = l.indexOf('=');
  return [l.slice(0, i), l.slice(i + 1)] as const;
}));

function kubeadmConfig(dir: string, external: string): string {
  const file = path.join(dir, 'kubeadm.yaml');
  writeFileSync(file, `apiVersion: kubeadm.k8s.io/v1beta4
kind: ClusterConfiguration
certificatesDir: ./pki
etcd:
  external:
${external}`);
  return file;
}

test('kubeadm etcd.external: the API server flags name its endpoints and files; no etcd CA, certificates or etcd flags are written', async (t) => {
  const dir = scratch(t);
  const config = kubeadmConfig(dir, `    endpoints: [https://10.0.0.1:2379, https://10.0.0.2:2379]
    caFile: /etc/etcd/ca.crt
    certFile: ./etcd-client/apiserver.crt
    keyFile: ./etcd-client/apiserver.key
`);
  const run = await kubepki(['init', '--config', config, ...NODE, ...ALG]);
  t.is(run.exitCode, 0, run.stderr);
  const api = flagsOf(path.join(dir, 'flags', 'kube-apiserver.flags'));
  t.is(api.get('--etcd-servers'), 'https://10.0.0.1:2379,https://10.0.0.2:2379');
  t.is(api.get('--etcd-cafile'), '/etc/etcd/ca.crt');
  // Relative paths in a config file are relative to the file.
  t.is(api.get('--etcd-certfile'), path.join(dir, 'etcd-client', 'apiserver.crt'));
  t.is(api.get('--etcd-keyfile'), path.join(dir, 'etcd-client', 'apiserver.key'));
  t.false(existsSync(path.join(dir, 'pki', 'etcd')), 'no etcd CA or etcd certificates');
  t.false(existsSync(path.join(dir, 'pki', 'apiserver-etcd-client.crt')));
  for (const f of ['etcd.flags', 'etcd.env', 'etcdctl.env']) t.false(existsSync(path.join(dir, 'flags', f)), `${f} is not written`);
  t.regex(readFileSync(path.join(dir, 'flags', 'kube-apiserver.env'), 'utf8'), /--etcd-servers=https:\/\/10\.0\.0\.1:2379,https:\/\/10\.0\.0\.2:2379/);
  const printed = await kubepki(['flags', 'kube-apiserver', '--config', config, ...NODE, ...ALG]);
  t.regex(printed.stdout, /^--etcd-cafile=\/etc\/etcd\/ca\.crt$/m);
  const etcd = await kubepki(['flags', 'etcd', '--config', config, ...NODE, ...ALG]);
  t.is(etcd.exitCode, 1);
  t.regex(etcd.stderr, /external etcd: kubepki configures no etcd/);
  // check-expiration lists no etcd certificate.
  const check = await kubepki(['certs', 'check-expiration', '--config', config, ...NODE, ...ALG]);
  t.notRegex(check.stdout, /etcd-ca|etcd-server|apiserver-etcd-client/);
});

test('kubepki YAML etcd.external as an object works as kubeadm\'s; `external: true` alone leaves the API server without storage, which is an error', async (t) => {
  const dir = scratch(t);
  const file = path.join(dir, 'cluster.yaml');
  writeFileSync(file, `apiVersion: kubepki.dev/v1alpha1
kind: Cluster
certificates:
  dir: ./pki
etcd:
  external:
    endpoints: ["https://[2001:db8::5]:2379"]
    caFile: /etc/etcd/ca.crt
    certFile: /etc/etcd/client.crt
    keyFile: /etc/etcd/client.key
`);
  const ok = await kubepki(['init', '--config', file, ...NODE, ...ALG]);
  t.is(ok.exitCode, 0, ok.stderr);
  t.is(flagsOf(path.join(dir, 'flags', 'kube-apiserver.flags')).get('--etcd-servers'), 'https://[2001:db8::5]:2379');

  const bare = scratch(t);
  const bareFile = path.join(bare, 'cluster.yaml');
  writeFileSync(bareFile, 'apiVersion: kubepki.dev/v1alpha1\nkind: Cluster\ncertificates:\n  dir: ./pki\netcd:\n  external: true\n');
  const before = snapshot(bare);
  const refused = await kubepki(['init', '--config', bareFile, ...NODE, ...ALG]);
  t.is(refused.exitCode, 1);
  t.regex(refused.stderr, /^kubepki: error: etcd is external, but the description names no endpoints: kube-apiserver needs --etcd-servers; give etcd\.external\.endpoints/m);
  t.notRegex(refused.stderr, /internal error|\n {4}at /);
  t.deepEqual(snapshot(bare), before, 'nothing was written');
  const certsOnly = await kubepki(['init', '--config', bareFile, ...NODE, ...ALG, '--skip-phases', 'flags']);
  t.is(certsOnly.exitCode, 0, certsOnly.stderr);
  t.false(existsSync(path.join(bare, 'pki', 'etcd')));
});

test('external etcd over plain http, or with endpoints but no client files, is an error naming the field; nothing is written', async (t) => {
  const dir = scratch(t);
  const http = kubeadmConfig(dir, '    endpoints: [http://10.0.0.1:2379]\n    caFile: /a\n    certFile: /b\n    keyFile: /c\n');
  const before = snapshot(dir);
  const r1 = await kubepki(['init', '--config', http, ...NODE, ...ALG]);
  t.is(r1.exitCode, 1);
  t.regex(r1.stderr, /kubeadm\.yaml:6: etcd\.external\.endpoints\[0\]: "http:\/\/10\.0\.0\.1:2379" is a plain-http endpoint; .*use https:\/\//);
  const noPort = kubeadmConfig(dir, '    endpoints: [https://etcd.example.com]\n    caFile: /a\n    certFile: /b\n    keyFile: /c\n');
  const r2 = await kubepki(['init', '--config', noPort, ...NODE, ...ALG]);
  t.regex(r2.stderr, /"https:\/\/etcd\.example\.com" is not an etcd client endpoint \(https:\/\/host:port\)/);
  const half = kubeadmConfig(dir, '    endpoints: [https://10.0.0.1:2379]\n    caFile: /etc/etcd/ca.crt\n');
  const r3 = await kubepki(['init', '--config', half, ...NODE, ...ALG]);
  t.is(r3.exitCode, 1);
  t.regex(r3.stderr, /^kubepki: error: etcd\.external gives endpoints but not certFile, keyFile: /m);
  t.false(existsSync(path.join(dir, 'pki')));
  t.deepEqual(Object.keys(snapshot(dir)).sort(), Object.keys(before).sort());
});
