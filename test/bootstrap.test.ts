/**
 * Kubelet TLS bootstrap credentials: bootstrap tokens and their Secret, static
 * token files, the bootstrap kubeconfig, the RBAC manifests, and the API
 * server flags that match the chosen method.
 */
import test from 'ava';
import { existsSync, readFileSync, readdirSync, statSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { execa } from 'execa';
import { parse, parseAllDocuments } from 'yaml';
import { newBootstrapToken, TOKEN_PATTERN } from '../lib/bootstrap/token.js';
import { NODE, kubepki, scratch, snapshot } from './helpers/cli.js';

const ALG = ['--encryption-algorithm', 'ECDSA-P256'];

async function cluster(t: import('ava').ExecutionContext, config?: string) {
  const root = scratch(t);
  const dir = path.join(root, 'pki');
  const extra = config ? ['--config', path.join(root, 'c.yaml')] : [];
  if (config) writeFileSync(path.join(root, 'c.yaml'), config);
  const args = ['--cert-dir', dir, ...NODE, ...ALG, ...extra];
  const run = await kubepki(['init', ...args]);
  t.is(run.exitCode, 0, run.stderr);
  return { root, dir, args };
}

test('bootstrap tokens: kubeadm\'s format, from a cryptographic source', (t) => {
  const seen = new Set<string>();
  for (let i = 0; i < 2000; i++) {
    const { token, id, secret } = newBootstrapToken();
    t.regex(token, TOKEN_PATTERN);
    t.is(token, `${id}.${secret}`);
    seen.add(token);
  }
  t.is(seen.size, 2000);
  // Every character of the alphabet shows up in each position class (not a biased source).
  const chars = new Set([...seen].join('').replace(/\./g, ''));
  t.is(chars.size, 36);
});

test('bootstrap token characters are equally likely (a byte taken modulo 36 would favour a-d by 8:7)', (t) => {
  const counts = new Map<string, number>();
  // 4,500 secrets of 16: 72,000 characters, 2,000 expected of each.
  for (let i = 0; i < 4500; i++) for (const c of newBootstrapToken().secret) counts.set(c, (counts.get(c) ?? 0) + 1);
  t.is(counts.size, 36);
  // Pearson's chi-square over the 36 counts (35 degrees of freedom): above 90 has a chance of about 1 in a
  // million for a fair source (Wilson-Hilferty), so this does not fail by luck, as a bound on each count
  // did (2% of runs). Modulo 36 gives ~175 (a-d expected 2,250, the rest 1,969).
  const chi2 = [...counts.values()].reduce((sum, n) => sum + (n - 2000) ** 2 / 2000, 0);
  t.true(chi2 < 90, `chi-square ${chi2.toFixed(1)} over ${JSON.stringify(Object.fromEntries(counts))}`);
});

test('token create: prints the token, writes the kube-system Secret with TTL, usages and groups', async (t) => {
  const { root, args } = await cluster(t);
  const before = Date.now();
  const run = await kubepki(['token', 'create', ...args, '--ttl', '2h', '--description', 'workers', '--groups', 'system:bootstrappers:workers']);
  t.is(run.exitCode, 0, run.stderr);
  t.regex(run.stdout, /^[a-z0-9]{6}\.[a-z0-9]{16}$/);
  const [id, secret] = run.stdout.split('.');
  const file = path.join(root, 'bootstrap', `bootstrap-token-${id}.yaml`);
  t.is(statSync(file).mode & 0o777, 0o600);
  const doc = parse(readFileSync(file, 'utf8')) as any;
  t.like(doc, { apiVersion: 'v1', kind: 'Secret', type: 'bootstrap.kubernetes.io/token', metadata: { name: `bootstrap-token-${id}`, namespace: 'kube-system' } });
  t.like(doc.stringData, {
    'token-id': id, 'token-secret': secret, description: 'workers',
    'usage-bootstrap-signing': 'true', 'usage-bootstrap-authentication': 'true', 'auth-extra-groups': 'system:bootstrappers:workers',
  });
  const expires = Date.parse(doc.stringData.expiration);
  t.true(Math.abs(expires - (before + 2 * 3_600_000)) < 60_000, doc.stringData.expiration);

  const forever = await kubepki(['token', 'create', ...args, '--ttl', '0', '--usages', 'signing', '--groups', '']);
  t.is(forever.exitCode, 0, forever.stderr);
  const d2 = parse(readFileSync(path.join(root, 'bootstrap', `bootstrap-token-${forever.stdout.split('.')[0]}.yaml`), 'utf8')) as any;
  t.false('expiration' in d2.stringData);
  t.false('usage-bootstrap-authentication' in d2.stringData);
});

test('token create refuses bad usages, groups and TTLs', async (t) => {
  const { root, args } = await cluster(t);
  for (const [flags, message] of [
    [['--usages', 'signing,bogus'], /--usages: "bogus" is not a bootstrap token usage/],
    [['--groups', 'admins'], /--groups: "admins" must match/],
    [['--ttl', 'tomorrow'], /--ttl: "tomorrow" is not a valid duration/],
    [['--usages', 'signing', '--groups', 'system:bootstrappers:x'], /--groups only mean something with the "authentication" usage/],
  ] as const) {
    const run = await kubepki(['token', 'create', ...args, ...flags]);
    t.is(run.exitCode, 2, run.stderr);
    t.regex(run.stderr, message);
    t.is(run.stdout, '');
  }
  t.false(existsSync(path.join(root, 'bootstrap')));
});

test('token file: one token,user,uid,"groups" line with 256 random bits, 0600; an existing file is never overwritten', async (t) => {
  const { dir, args } = await cluster(t);
  const run = await kubepki(['token', 'file', ...args]);
  t.is(run.exitCode, 0, run.stderr);
  t.is(run.stdout, '', 'the token is not printed');
  const file = path.join(dir, 'tokens.csv');
  t.is(statSync(file).mode & 0o777, 0o600);
  t.regex(readFileSync(file, 'utf8'), /^[0-9a-f]{64},kubelet-bootstrap,10001,"system:bootstrappers"\n$/);
  const before = snapshot(dir);
  const again = await kubepki(['token', 'file', ...args]);
  t.is(again.exitCode, 1);
  t.regex(again.stderr, /tokens\.csv exists; kubepki will not overwrite a token file/);
  t.deepEqual(snapshot(dir), before);
  const custom = await kubepki(['token', 'file', ...args, '--out', path.join(dir, 'other.csv'), '--user', 'node-boot', '--uid', 'u-1', '--group', 'system:bootstrappers,system:bootstrappers:edge']);
  t.is(custom.exitCode, 0, custom.stderr);
  t.regex(readFileSync(path.join(dir, 'other.csv'), 'utf8'), /^[0-9a-f]{64},node-boot,u-1,"system:bootstrappers,system:bootstrappers:edge"\n$/);
});

test('kubeconfig bootstrap: server, CA and token, read by kubectl', async (t) => {
  const { root, dir, args } = await cluster(t);
  const token = (await kubepki(['token', 'create', ...args])).stdout;
  const run = await kubepki(['kubeconfig', 'bootstrap', '--token', token, ...args, '--control-plane-endpoint', 'k8s.example.com']);
  t.is(run.exitCode, 0, run.stderr);
  const file = path.join(root, 'bootstrap-kubelet.conf');
  t.is(statSync(file).mode & 0o777, 0o600);
  const view = JSON.parse((await execa('kubectl', ['config', 'view', '--kubeconfig', file, '--raw', '-o', 'json'])).stdout) as any;
  t.is(view.users[0].name, 'tls-bootstrap-token-user');
  t.is(view.users[0].user.token, token);
  t.is(view.clusters[0].cluster.server, 'https://k8s.example.com:6443');
  t.is(Buffer.from(view.clusters[0].cluster['certificate-authority-data'], 'base64').toString(), readFileSync(path.join(dir, 'ca.crt'), 'utf8'));
  const again = await kubepki(['kubeconfig', 'bootstrap', '--token', token, ...args]);
  t.is(again.exitCode, 1);
  t.regex(again.stderr, /bootstrap-kubelet\.conf exists; kubepki will not overwrite it/);
  const bad = await kubepki(['kubeconfig', 'bootstrap', '--token', 'not-a-token', ...args]);
  t.is(bad.exitCode, 2);
});

test('render rbac: the bindings kubeadm creates for kubelet TLS bootstrap', async (t) => {
  const { root, args } = await cluster(t);
  const run = await kubepki(['render', 'rbac', ...args, '--out', path.join(root, 'rbac')]);
  t.is(run.exitCode, 0, run.stderr);
  const docs = parseAllDocuments(readFileSync(path.join(root, 'rbac', 'kubelet-bootstrap-rbac.yaml'), 'utf8')).map((d) => d.toJS() as any);
  const byName = Object.fromEntries(docs.filter((d) => d.kind === 'ClusterRoleBinding').map((d) => [d.metadata.name, d]));
  t.is(byName['kubeadm:kubelet-bootstrap'].roleRef.name, 'system:node-bootstrapper');
  t.is(byName['kubeadm:kubelet-bootstrap'].subjects[0].name, 'system:bootstrappers:kubeadm:default-node-token');
  t.is(byName['kubeadm:node-autoapprove-bootstrap'].roleRef.name, 'system:certificates.k8s.io:certificatesigningrequests:nodeclient');
  t.is(byName['kubeadm:node-autoapprove-certificate-rotation'].roleRef.name, 'system:certificates.k8s.io:certificatesigningrequests:selfnodeclient');
  t.is(byName['kubeadm:node-autoapprove-certificate-rotation'].subjects[0].name, 'system:nodes');
  t.is(byName['kubeadm:cluster-admins'].subjects[0].name, 'kubeadm:cluster-admins');
  t.deepEqual(docs.find((d) => d.kind === 'ClusterRole')?.rules, [{ apiGroups: [''], resources: ['nodes'], verbs: ['get'] }]);
  t.deepEqual(readdirSync(path.join(root, 'rbac')), ['kubelet-bootstrap-rbac.yaml']);
});

test('the API server flags follow the bootstrap method; the controller-manager signs with the CA', async (t) => {
  const flags = (root: string) => readFileSync(path.join(root, 'flags', 'kube-apiserver.flags'), 'utf8');
  const byToken = await cluster(t);
  t.regex(flags(byToken.root), /^--enable-bootstrap-token-auth=true$/m);
  t.notRegex(flags(byToken.root), /--token-auth-file/);
  t.regex(readFileSync(path.join(byToken.root, 'flags', 'kube-controller-manager.flags'), 'utf8'), /^--controllers=\*,bootstrapsigner,tokencleaner$/m);
  const byFile = await cluster(t, 'apiVersion: kubepki.dev/v1alpha1\nkind: Cluster\nbootstrap: { method: token-file }\n');
  t.regex(flags(byFile.root), new RegExp(`^--token-auth-file=${path.join(byFile.dir, 'tokens.csv')}$`, 'm'));
  t.notRegex(flags(byFile.root), /--enable-bootstrap-token-auth/);
  const none = await cluster(t, 'apiVersion: kubepki.dev/v1alpha1\nkind: Cluster\nbootstrap: { method: none }\n');
  t.notRegex(flags(none.root), /--enable-bootstrap-token-auth|--token-auth-file/);
  t.notRegex(readFileSync(path.join(none.root, 'flags', 'kubelet.flags'), 'utf8'), /--bootstrap-kubeconfig/, 'no bootstrap method: the kubelet gets no bootstrap kubeconfig');
});

test('the kubelet flags name the bootstrap kubeconfig that `kubeconfig bootstrap` writes, and the kubelet rotates what it is issued', async (t) => {
  const { root, args } = await cluster(t);
  const kubeletFlags = readFileSync(path.join(root, 'flags', 'kubelet.flags'), 'utf8');
  const named = /^--bootstrap-kubeconfig=(.*)$/m.exec(kubeletFlags)?.[1];
  t.is(named, path.join(root, 'bootstrap-kubelet.conf'));
  t.regex(kubeletFlags, new RegExp(`^--kubeconfig=${path.join(root, 'kubelet.conf')}$`, 'm'), 'where the kubelet keeps the kubeconfig it gets by bootstrapping');
  t.false(existsSync(named!), 'init does not write it: this node has its kubelet.conf already');
  const { token } = newBootstrapToken();
  const run = await kubepki(['kubeconfig', 'bootstrap', '--token', token, ...args]);
  t.is(run.exitCode, 0, run.stderr);
  t.true(existsSync(named!), 'the file the flag names is the one written');
  t.regex(run.stderr, /--bootstrap-kubeconfig/);
  const kubeletConfig = parse(readFileSync(path.join(root, 'flags', 'kubelet-config.yaml'), 'utf8')) as any;
  t.true(kubeletConfig.rotateCertificates, 'the kubelet renews its client certificate through the certificates API');
  // The flag is also in `kubepki flags kubelet`, from the same catalog entry.
  const printed = await kubepki(['flags', 'kubelet', ...args]);
  t.regex(printed.stdout, new RegExp(`--bootstrap-kubeconfig=${path.join(root, 'bootstrap-kubelet.conf')}`));
});
