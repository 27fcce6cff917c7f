/**
 * CA keys in a PKCS#11 token (SoftHSM2 as the real peer): init makes the CA
 * keys inside the token (sensitive, never extractable), writes no CA key
 * file, and every command that signs works with them; the layout verifies
 * with openssl; a 3-member etcd cluster runs on certificates issued by the
 * token-held etcd-ca; bad PINs, modules, tokens and keys are clear errors that
 * never show the PIN and change nothing.
 */
import test, { type ExecutionContext } from 'ava';
import { chmodSync, copyFileSync, existsSync, mkdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { execa } from 'execa';
import { parse } from 'yaml';
import { NODE, kubepki, openssl, scratch, snapshot, type Run } from './helpers/cli.js';
import { etcdctl, startEtcdClusterFromArgs } from './helpers/etcd.js';
import { NAMES, readEnvFile, readFlagsFile, writeConfig, type HaNode } from './helpers/ha-etcd.js';
import { freePorts, LOOPBACK } from './helpers/ports.js';
import { MODULE, softhsm, type SoftHsm } from './helpers/softhsm.js';

const CAS = [['ca', 'kubernetes-ca', 'ca'], ['front-proxy-ca', 'front-proxy-ca', 'front-proxy-ca'], ['etcd-ca', 'etcd-ca', 'etcd/ca']] as const;
const LEAVES = [
  ['apiserver', 'ca'], ['apiserver-kubelet-client', 'ca'], ['kubelet-server', 'ca'], ['front-proxy-client', 'front-proxy-ca'],
  ['etcd/server', 'etcd/ca'], ['etcd/peer', 'etcd/ca'], ['etcd/healthcheck-client', 'etcd/ca'], ['apiserver-etcd-client', 'etcd/ca'],
] as const;

const caKeyArgs = (hsm: SoftHsm) => CAS.flatMap(([name, object]) => ['--ca-key', `${name}=${hsm.uri(object)}`]);

function run(hsm: SoftHsm, args: readonly string[], env: Record<string, string> = {}): Promise<Run> {
  return kubepki(args, { env: { ...hsm.env, ...env } });
}

/** The PIN is never shown: not on stdout, not on stderr, whatever happened. */
function noPin(t: ExecutionContext, hsm: SoftHsm, r: Run, what: string): void {
  t.false((r.stdout + r.stderr).includes(hsm.pin), `${what}: the PIN appears in the output`);
}

async function hsmInit(t: ExecutionContext, algorithm: string) {
  const hsm = softhsm(t);
  const root = scratch(t);
  const dir = path.join(root, 'pki');
  const args = ['--cert-dir', dir, ...NODE, '--encryption-algorithm', algorithm, ...caKeyArgs(hsm)];
  const r = await run(hsm, ['init', ...args]);
  t.is(r.exitCode, 0, r.stderr);
  noPin(t, hsm, r, 'init');
  return { hsm, root, dir, args, stdout: r.stdout };
}

/** The public key of a certificate, and of a token object, as openssl prints them. */
const certPub = async (file: string) => (await openssl(['x509', '-in', file, '-noout', '-pubkey'])).stdout;
async function tokenPub(t: ExecutionContext, hsm: SoftHsm, label: string): Promise<string> {
  const der = path.join(hsm.dir, `${label}.pub.der`);
  const r = await execa('pkcs11-tool', ['--module', MODULE, '--token-label', hsm.label, '--read-object', '--type', 'pubkey', '--label', label, '-o', der], { env: { ...process.env, ...hsm.env }, reject: false });
  t.is(r.exitCode, 0, String(r.stderr));
  return (await openssl(['pkey', '-pubin', '-inform', 'DER', '-in', der])).stdout;
}

for (const algorithm of ['RSA-2048', 'ECDSA-P256'] as const) {
  test(`${algorithm}: init makes the three CA keys inside the token (sensitive, never extractable), writes no CA key file, and the layout verifies with openssl`, async (t) => {
    const { hsm, root, dir, args, stdout } = await hsmInit(t, algorithm);
    for (const [name, object, base] of CAS) {
      t.false(existsSync(path.join(dir, `${base}.key`)), `no ${base}.key`);
      t.regex(stdout, new RegExp(`^\\[certs\\] Generating "${name}" certificate, its key in the token pkcs11:token=kubepki;object=${object}\\?`, 'm'));
      t.is(await certPub(path.join(dir, `${base}.crt`)), await tokenPub(t, hsm, object), `${base}.crt carries the token's key ${object}`);
      t.is((await openssl(['verify', '-CAfile', path.join(dir, `${base}.crt`), path.join(dir, `${base}.crt`)])).exitCode, 0, `${base}.crt is self-signed by it`);
    }
    const listing = await hsm.listPrivateKeys();
    t.is(await hsm.countPrivateKeys(), 3);
    for (const [, object] of CAS) {
      const block = listing.split(/(?=Private Key Object)/).find((b) => b.includes(`label:      ${object}\n`));
      t.truthy(block, `${object} is a private key object of the token`);
      t.regex(block ?? '', /Access:\s+sensitive, always sensitive, never extractable, local/, `${object}: sensitive and never extractable`);
      t.regex(block ?? '', algorithm === 'RSA-2048' ? /Private Key Object; RSA/ : /Private Key Object; EC/);
      t.regex(block ?? '', /Usage:\s+sign\n/, `${object}: a signing key and nothing else`);
    }
    for (const [leaf, ca] of LEAVES) {
      const v = await openssl(['verify', '-CAfile', path.join(dir, `${ca}.crt`), path.join(dir, `${leaf}.crt`)]);
      t.is(v.exitCode, 0, `${leaf}: ${v.stdout}${v.stderr}`);
    }
    // The kubeconfigs' client certificates too.
    const admin = parse(readFileSync(path.join(root, 'admin.conf'), 'utf8')) as { users: { user: Record<string, string> }[] };
    writeFileSync(path.join(root, 'admin.crt'), Buffer.from(admin.users[0]!.user['client-certificate-data']!, 'base64'));
    t.is((await openssl(['verify', '-CAfile', path.join(dir, 'ca.crt'), path.join(root, 'admin.crt')])).exitCode, 0);
    // The controller-manager cannot sign with a key it cannot read: no signing flags, csrsigning off.
    const kcm = readFileSync(path.join(root, 'flags', 'kube-controller-manager.flags'), 'utf8');
    t.notRegex(kcm, /--cluster-signing/);
    t.regex(kcm, /^--controllers=\*,bootstrapsigner,tokencleaner,-csrsigning$/m);
    t.notRegex(readFileSync(path.join(root, 'flags', 'kube-apiserver.flags'), 'utf8'), /ca\.key/);
    // A second run (another process) finds the keys again: everything reused or kept.
    const again = await run(hsm, ['init', ...args, '--dry-run', '-o', 'json']);
    t.is(again.exitCode, 0, again.stderr);
    const plan = JSON.parse(again.stdout) as { summary: Record<string, number>; items: { name: string; action: string; key?: string }[] };
    t.is(plan.summary.create, 0);
    for (const [name, object] of CAS) {
      const item = plan.items.find((i) => i.name === name)!;
      t.is(item.action, 'reuse', name);
      t.true(item.key?.startsWith(`pkcs11:token=kubepki;object=${object}?`), `the plan says where ${name}'s key is: ${item.key}`);
    }
    t.is(await hsm.countPrivateKeys(), 3, 'no key was made twice');
  });
}

test('check-expiration says where each CA key is (the token and object), in text and JSON', async (t) => {
  const { hsm, args } = await hsmInit(t, 'ECDSA-P256');
  const text = await run(hsm, ['certs', 'check-expiration', ...args]);
  t.is(text.exitCode, 0, text.stderr);
  t.regex(text.stdout, /^CA KEY +WHERE$/m);
  for (const [name, object] of CAS) t.regex(text.stdout, new RegExp(`^${name} {3,}pkcs11:token=kubepki;object=${object}\\?module-path=`, 'm'));
  const json = JSON.parse((await run(hsm, ['certs', 'check-expiration', ...args, '-o', 'json'])).stdout) as { certificateAuthorities: { name: string; keyLocation: string | null }[] };
  for (const [name, object] of CAS) t.true(json.certificateAuthorities.find((c) => c.name === name)?.keyLocation?.includes(`object=${object}`), name);
});

test('every command that signs works with the token-held CAs, in other processes: renew all, kubeconfig user, nodes issue, certs sign', async (t) => {
  const hsm = softhsm(t);
  const root = scratch(t);
  const config = path.join(root, 'cluster.yaml');
  writeFileSync(config, [
    'apiVersion: kubepki.dev/v1alpha1', 'kind: Cluster', 'node: { name: cp-1, advertiseAddress: 192.168.10.11 }',
    'nodes:', '  - { name: w-1, addresses: [10.0.0.21] }', '  - { name: cp-2, addresses: [10.0.0.12], role: control-plane }',
    'certificates:', '  dir: ./pki', '  encryptionAlgorithm: ECDSA-P256', '  caKeys:',
    ...CAS.map(([name, object]) => `    ${name}: "${hsm.uri(object)}"`), '',
  ].join('\n'));
  const dir = path.join(root, 'pki');
  t.is((await run(hsm, ['init', '--config', config])).exitCode, 0);
  const before = await Promise.all(LEAVES.map(async ([leaf]) => (await openssl(['x509', '-in', path.join(dir, `${leaf}.crt`), '-noout', '-serial'])).stdout));

  const renewed = await run(hsm, ['certs', 'renew', 'all', '--config', config]);
  t.is(renewed.exitCode, 0, renewed.stderr);
  noPin(t, hsm, renewed, 'renew');
  for (const [i, [leaf, ca]] of LEAVES.entries()) {
    t.not((await openssl(['x509', '-in', path.join(dir, `${leaf}.crt`), '-noout', '-serial'])).stdout, before[i], `${leaf} was renewed`);
    t.is((await openssl(['verify', '-CAfile', path.join(dir, `${ca}.crt`), path.join(dir, `${leaf}.crt`)])).exitCode, 0, `${leaf} verifies`);
  }

  const user = await run(hsm, ['kubeconfig', 'user', '--name', 'alice', '--config', config]);
  t.is(user.exitCode, 0, user.stderr);
  const kc = parse(readFileSync(path.join(root, 'alice.conf'), 'utf8')) as { users: { user: Record<string, string> }[] };
  writeFileSync(path.join(root, 'alice.crt'), Buffer.from(kc.users[0]!.user['client-certificate-data']!, 'base64'));
  t.is((await openssl(['verify', '-CAfile', path.join(dir, 'ca.crt'), path.join(root, 'alice.crt')])).exitCode, 0);

  const nodes = await run(hsm, ['nodes', 'issue', '--config', config]);
  t.is(nodes.exitCode, 0, nodes.stderr);
  for (const [file, ca] of [['w-1/kubelet-server.crt', 'ca.crt'], ['cp-2/apiserver.crt', 'ca.crt'], ['cp-2/etcd/server.crt', 'etcd/ca.crt']] as const) {
    t.is((await openssl(['verify', '-CAfile', path.join(dir, ca), path.join(root, 'nodes', file)])).exitCode, 0, file);
  }

  const csrs = path.join(root, 'csrs');
  mkdirSync(csrs);
  const key = path.join(csrs, 'w-1.key');
  await openssl(['genpkey', '-algorithm', 'EC', '-pkeyopt', 'ec_paramgen_curve:P-256', '-out', key]);
  await openssl(['req', '-new', '-key', key, '-subj', '/O=system:nodes/CN=system:node:w-1', '-out', path.join(csrs, 'w-1.csr')]);
  const signed = await run(hsm, ['certs', 'sign', '--csr', csrs, '--config', config]);
  t.is(signed.exitCode, 0, signed.stderr);
  t.is((await openssl(['verify', '-CAfile', path.join(dir, 'ca.crt'), path.join(csrs, 'w-1.crt')])).exitCode, 0);
  t.is(await hsm.countPrivateKeys(), 3);
});

test('a 3-member etcd cluster runs on certificates issued by the token-held etcd-ca', async (t) => {
  const hsm = softhsm(t);
  const root = scratch(t);
  const ports = await freePorts(NAMES.length * 2);
  const nodes = NAMES.map((name, i): HaNode => {
    const nodeRoot = path.join(root, name);
    return {
      name, root: nodeRoot, pki: path.join(nodeRoot, 'pki'), flagsDir: path.join(nodeRoot, 'flags'), dataDir: path.join(nodeRoot, 'data'),
      clientPort: ports[2 * i]!, peerPort: ports[2 * i + 1]!, clientUrl: `https://${LOOPBACK}:${ports[2 * i]}`, peerUrl: `https://${LOOPBACK}:${ports[2 * i + 1]}`,
      logFile: path.join(nodeRoot, 'etcd.log'),
    };
  });
  const config = writeConfig(root, nodes);
  const etcdKey = ['--ca-key', `etcd-ca=${hsm.uri('etcd-ca')}`];
  const init = (n: HaNode) => run(hsm, ['init', '--config', config, '--node-name', n.name, '--cert-dir', n.pki, '--kubeconfig-dir', n.root, '--flags-dir', n.flagsDir, ...etcdKey]);
  const first = await init(nodes[0]!);
  t.is(first.exitCode, 0, first.stderr);
  t.false(existsSync(path.join(nodes[0]!.pki, 'etcd/ca.key')));
  // The other control planes get the shared files; etcd-ca has no key file to copy: they reach the same token.
  for (const n of nodes.slice(1)) {
    for (const rel of ['ca.crt', 'ca.key', 'front-proxy-ca.crt', 'front-proxy-ca.key', 'etcd/ca.crt', 'sa.key', 'sa.pub']) {
      mkdirSync(path.dirname(path.join(n.pki, rel)), { recursive: true });
      copyFileSync(path.join(nodes[0]!.pki, rel), path.join(n.pki, rel));
      chmodSync(path.join(n.pki, rel), statSync(path.join(nodes[0]!.pki, rel)).mode & 0o777);
    }
    const r = await init(n);
    t.is(r.exitCode, 0, r.stderr);
  }
  for (const n of nodes) {
    for (const leaf of ['etcd/server', 'etcd/peer', 'etcd/healthcheck-client']) {
      t.is((await openssl(['verify', '-CAfile', path.join(nodes[0]!.pki, 'etcd/ca.crt'), path.join(n.pki, `${leaf}.crt`)])).exitCode, 0, `${n.name} ${leaf}`);
    }
  }
  const env = readEnvFile(t, path.join(nodes[0]!.flagsDir, 'etcdctl.env'));
  const cluster = await startEtcdClusterFromArgs(nodes.map((n) => ({ args: readFlagsFile(t, path.join(n.flagsDir, 'etcd.flags')), logFile: n.logFile })), {
    healthClient: { cacert: env.ETCDCTL_CACERT!, cert: env.ETCDCTL_CERT!, key: env.ETCDCTL_KEY! }, timeoutMs: 20_000,
  });
  t.teardown(() => cluster.stop({ graceMs: 3_000 }));
  const put = await etcdctl(cluster, { env, args: ['put', 'hsm', 'signed-in-the-token'] });
  t.is(put.exitCode, 0, put.stderr);
  for (const endpoint of cluster.endpoints) {
    const get = await etcdctl(cluster, { env: { ...env, ETCDCTL_ENDPOINTS: endpoint }, args: ['get', 'hsm', '--print-value-only'] });
    t.is(get.stdout.trim(), 'signed-in-the-token', endpoint);
  }
  t.is(await hsm.countPrivateKeys(), 1);
});

// ------------------------------------------------------------------ bad input

async function refused(t: ExecutionContext, hsm: SoftHsm, dir: string, args: string[], pattern: RegExp, env: Record<string, string> = {}): Promise<Run> {
  const before = snapshot(dir);
  const r = await run(hsm, args, env);
  t.is(r.exitCode, 1, `${r.stdout}${r.stderr}`);
  t.regex(r.stderr, pattern);
  t.regex(r.stderr, /^kubepki: error: [^\n]+$/, 'one line');
  t.notRegex(r.stderr, /internal error|\n {4}at /);
  noPin(t, hsm, r, args.join(' '));
  t.deepEqual(snapshot(dir), before, 'nothing on disk changed');
  return r;
}

test('bad PINs, modules, tokens and URIs are one-line errors naming the URI without its PIN; nothing is written', async (t) => {
  const hsm = softhsm(t);
  const root = scratch(t);
  const dir = path.join(root, 'pki');
  const base = ['init', '--cert-dir', dir, ...NODE, '--encryption-algorithm', 'ECDSA-P256'];
  const wrongPin = path.join(hsm.dir, 'wrong-pin');
  writeFileSync(wrongPin, '0000\n', { mode: 0o600 });
  await refused(t, hsm, root, [...base, '--ca-key', `ca=${hsm.uri('kubernetes-ca', { pinSource: wrongPin })}`], /pkcs11:token=kubepki;object=kubernetes-ca\?.*: cannot log in: the PIN is wrong \(CKR_PIN_INCORRECT\)/);
  const openPin = path.join(hsm.dir, 'open-pin');
  writeFileSync(openPin, `${hsm.pin}\n`, { mode: 0o644 });
  chmodSync(openPin, 0o644);
  await refused(t, hsm, root, [...base, '--ca-key', `ca=${hsm.uri('kubernetes-ca', { pinSource: openPin })}`], /the PIN file .*open-pin is readable by others than its owner \(mode 0644\); run "chmod 600 /);
  await refused(t, hsm, root, [...base, '--ca-key', `ca=${hsm.uri('kubernetes-ca', { module: '/nonexistent/libnothing.so' })}`], /: cannot load the PKCS#11 module \/nonexistent\/libnothing\.so: /);
  await refused(t, hsm, root, [...base, '--ca-key', `ca=${hsm.uri('kubernetes-ca', { token: 'nope' })}`], /pkcs11:token=nope;.*: the module has no token labelled "nope"/);
  await refused(t, hsm, root, [...base, '--ca-key', `ca=${hsm.uri('kubernetes-ca', { pinSource: null })}`], /: no PIN: add pin-source=file:\/path to the URI \(a file of mode 0600\), or set KUBEPKI_PKCS11_PIN/);
  // The environment variable is the other way to give the PIN.
  const byEnv = await run(hsm, [...base, '--ca-key', `ca=${hsm.uri('kubernetes-ca', { pinSource: null })}`, '--dry-run'], { KUBEPKI_PKCS11_PIN: hsm.pin });
  t.is(byEnv.exitCode, 0, byEnv.stderr);
  noPin(t, hsm, byEnv, 'dry run');
  // A PIN in the URI is refused before anything is opened, and not repeated.
  const inUri = await run(hsm, [...base, '--ca-key', `ca=pkcs11:token=kubepki;object=kubernetes-ca?module-path=${MODULE}&pin-value=${hsm.pin}`]);
  t.is(inUri.exitCode, 1);
  t.regex(inUri.stderr, /gives the PIN in the URI \(pin-value\); kubepki takes it from pin-source=file:\/path \(mode 0600\) or the KUBEPKI_PKCS11_PIN environment variable/);
  t.false(inUri.stderr.includes(hsm.pin), 'the refused PIN is not echoed');
  // The same in a description file.
  const file = path.join(root, 'cluster.yaml');
  writeFileSync(file, `apiVersion: kubepki.dev/v1alpha1\nkind: Cluster\ncertificates:\n  caKeys:\n    ca: "pkcs11:token=kubepki;object=x?module-path=${MODULE}&pin-value=${hsm.pin}"\n`);
  const inFile = await run(hsm, ['init', '--config', file, ...NODE]);
  t.is(inFile.exitCode, 1);
  t.regex(inFile.stderr, /cluster\.yaml:5: certificates\.caKeys\.ca: "pkcs11:.*pin-value=\(hidden\)" gives the PIN in the URI/);
  t.false(inFile.stderr.includes(hsm.pin), 'not echoed from a file either');
  await refused(t, hsm, root, [...base, '--ca-key', `sa=${hsm.uri('sa')}`], /--ca-key: .* is not NAME=URI with NAME one of ca, front-proxy-ca, etcd-ca \(the sa key stays a file/);
  t.false(existsSync(dir));
  t.is(await hsm.countPrivateKeys(), 0, 'no key was made by a refused run');
});

test('a token key that does not match ca.crt, no such object beside an existing ca.crt, and a ca.key beside a token-held CA, are refused; nothing changes', async (t) => {
  const { hsm, root, dir, args } = await hsmInit(t, 'ECDSA-P256');
  // ca.crt is there, but the URI names an object the token does not hold: kubepki will not make a key for an existing CA.
  const elsewhere = args.map((a) => a.replace('object=kubernetes-ca?', 'object=no-such-key?'));
  await refused(t, hsm, root, ['init', ...elsewhere], /^kubepki: error: ca\.crt exists, but pkcs11:token=kubepki;object=no-such-key\?.* names no private key in the token: restore the key there, or point certificates\.caKeys\.ca at the key of this CA/);
  t.is(await hsm.countPrivateKeys(), 3, 'no key was made for it');
  // ca.crt of another CA (made with a file key) where the token's CA should be.
  const other = scratch(t);
  t.is((await kubepki(['init', '--cert-dir', path.join(other, 'pki'), ...NODE, '--encryption-algorithm', 'ECDSA-P256', '--skip-phases', 'kubeconfig,flags'])).exitCode, 0);
  copyFileSync(path.join(other, 'pki', 'ca.crt'), path.join(dir, 'ca.crt'));
  await refused(t, hsm, root, ['certs', 'renew', 'apiserver', ...args], /apiserver: pkcs11:token=kubepki;object=kubernetes-ca\?.*: the token's key does not match .*ca\.crt \(different public keys\)/);
  await refused(t, hsm, root, ['init', ...args], /the token's key does not match ca\.crt \(different public keys\)/);
  // Back to the right certificate, but a ca.key file beside it.
  const fresh = await hsmInit(t, 'ECDSA-P256');
  writeFileSync(path.join(fresh.dir, 'ca.key'), readFileSync(path.join(other, 'pki', 'ca.key')), { mode: 0o600 });
  await refused(t, fresh.hsm, fresh.root, ['init', ...fresh.args], /ca\.key exists, but the description keeps ca's key in a token \(pkcs11:token=kubepki;object=kubernetes-ca\?.*\): move ca\.key away/);
});

test('a token lost halfway through init: a clear error naming the URI, nothing written; the next run adopts the key the failed run made in the token', async (t) => {
  const hsm = softhsm(t);
  const root = scratch(t);
  const dir = path.join(root, 'pki');
  const args = ['init', '--cert-dir', dir, ...NODE, '--encryption-algorithm', 'ECDSA-P256', '--ca-key', `ca=${hsm.uri('kubernetes-ca')}`];
  // The first signature is the CA's self-signature (made once its key is in the token); the third a leaf's.
  const r = await refused(t, hsm, root, args, /^kubepki: error: pkcs11:token=kubepki;object=kubernetes-ca\?.*: cannot sign: the token is gone \(CKR_DEVICE_REMOVED/, { KUBEPKI_FAULT: 'pkcs11-sign:3' });
  t.notRegex(r.stdout, /Generating/);
  t.false(existsSync(dir), 'nothing written');
  t.is(await hsm.countPrivateKeys(), 1, 'the key the failed run made is still in the token');
  const again = await run(hsm, args);
  t.is(again.exitCode, 0, again.stderr);
  t.regex(again.stdout, /WARNING: ca: the key pkcs11:token=kubepki;object=kubernetes-ca\?.* is in the token already \(left by a run that did not finish\?\): the new certificate is made for it/);
  t.is(await hsm.countPrivateKeys(), 1, 'adopted, not made twice');
  t.is(await certPub(path.join(dir, 'ca.crt')), await tokenPub(t, hsm, 'kubernetes-ca'));
  t.is((await openssl(['verify', '-CAfile', path.join(dir, 'ca.crt'), path.join(dir, 'apiserver.crt')])).exitCode, 0);
});

test('the PKCS#11 binding loads only when a CA key is in a token', async (t) => {
  const dir = scratch(t);
  // Without a token the native module is never required: point the module search at nothing and init still works.
  const r = await kubepki(['init', '--cert-dir', path.join(dir, 'pki'), ...NODE, '--encryption-algorithm', 'ECDSA-P256'], { env: { NODE_DEBUG: 'module' } });
  t.is(r.exitCode, 0, r.stderr.slice(0, 2000));
  t.notRegex(r.stderr, /pkcs11js/);
  rmSync(dir, { recursive: true, force: true });
});
