/**
 * The offline root (kubernetes/kubeadm#794), with openssl as the CA managed
 * elsewhere: pki/ca.crt is an intermediate (CN=kubernetes) followed by its
 * root, without ca.key. `certs generate-csr` writes a key and a CSR for every
 * certificate that CA must sign; openssl signs them; `init` keeps each signed
 * leaf and writes each kubeconfig around its signed certificate, after
 * checking them (issuer, subject, SANs, usages, key), and refuses anything
 * that does not fit, writing nothing.
 */
import test, { type ExecutionContext } from 'ava';
import { copyFileSync, existsSync, mkdirSync, readFileSync, readdirSync, renameSync, statSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { execa } from 'execa';
import { NODE, kubepki, openssl, scratch, snapshot } from './helpers/cli.js';

const ALG = ['--encryption-algorithm', 'ECDSA-P256'];
const EC = ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes'];

const LEAVES = ['apiserver', 'apiserver-kubelet-client', 'kubelet-server'] as const;
const KUBECONFIGS = ['admin.conf', 'super-admin.conf', 'kubelet.conf', 'controller-manager.conf', 'scheduler.conf'] as const;

const SERVER_AUTH = 'TLS Web Server Authentication';
const CLIENT_AUTH = 'TLS Web Client Authentication';

/** What the catalog asks for each CSR (subject as openssl prints it, SANs, the one EKU). */
const WANT: Record<string, { subject: string; sans: string[]; eku: string }> = {
  'apiserver': {
    subject: 'CN = kube-apiserver',
    sans: ['DNS:cp-1', 'DNS:kubernetes', 'DNS:kubernetes.default', 'DNS:kubernetes.default.svc', 'DNS:kubernetes.default.svc.cluster.local', 'IP Address:10.96.0.1', 'IP Address:192.168.10.11'],
    eku: SERVER_AUTH,
  },
  'apiserver-kubelet-client': { subject: 'O = kubeadm:cluster-admins, CN = kube-apiserver-kubelet-client', sans: [], eku: CLIENT_AUTH },
  'kubelet-server': { subject: 'O = system:nodes, CN = system:node:cp-1', sans: ['DNS:cp-1', 'IP Address:192.168.10.11'], eku: SERVER_AUTH },
  'admin.conf': { subject: 'O = kubeadm:cluster-admins, CN = kubernetes-admin', sans: [], eku: CLIENT_AUTH },
  'super-admin.conf': { subject: 'O = system:masters, CN = kubernetes-super-admin', sans: [], eku: CLIENT_AUTH },
  'kubelet.conf': { subject: 'O = system:nodes, CN = system:node:cp-1', sans: [], eku: CLIENT_AUTH },
  'controller-manager.conf': { subject: 'CN = system:kube-controller-manager', sans: [], eku: CLIENT_AUTH },
  'scheduler.conf': { subject: 'CN = system:kube-scheduler', sans: [], eku: CLIENT_AUTH },
};

async function ok(args: readonly string[]): Promise<string> {
  const r = await openssl(args);
  if (r.exitCode !== 0) throw new Error(`openssl ${args.join(' ')} failed: ${r.stderr}`);
  return r.stdout;
}

/** A CA made by openssl: self-signed, or (issuer given) an intermediate signed by it. */
async function opensslCA(dir: string, name: string, cn: string, issuer?: { crt: string; key: string }): Promise<{ crt: string; key: string }> {
  mkdirSync(dir, { recursive: true });
  const crt = path.join(dir, `${name}.crt`);
  const key = path.join(dir, `${name}.key`);
  if (!issuer) {
    await ok(['req', '-x509', '-new', ...EC, '-keyout', key, '-out', crt, '-days', '3650', '-subj', `/CN=${cn}`,
      '-addext', 'basicConstraints=critical,CA:TRUE', '-addext', 'keyUsage=critical,keyCertSign,cRLSign',
      '-addext', 'subjectKeyIdentifier=hash']);
    return { crt, key };
  }
  const csr = path.join(dir, `${name}.csr`);
  const ext = path.join(dir, `${name}.ext`);
  await ok(['req', '-new', ...EC, '-keyout', key, '-out', csr, '-subj', `/CN=${cn}`]);
  writeFileSync(ext, 'basicConstraints=critical,CA:TRUE\nkeyUsage=critical,digitalSignature,keyCertSign,cRLSign\nsubjectKeyIdentifier=hash\nauthorityKeyIdentifier=keyid:always\n');
  await ok(['x509', '-req', '-in', csr, '-CA', issuer.crt, '-CAkey', issuer.key, '-CAcreateserial', '-days', '1825', '-extfile', ext, '-out', crt]);
  return { crt, key };
}

interface Cluster {
  /** The kubeconfig dir (the cert dir's parent), where init writes everything: what snapshots cover. */
  kdir: string;
  pki: string;
  /** The offline CA: outside the cluster's folders. */
  offline: string;
  root: { crt: string; key: string };
  inter: { crt: string; key: string };
  args: string[];
}

async function cluster(t: ExecutionContext): Promise<Cluster> {
  const base = scratch(t);
  const offline = path.join(base, 'offline');
  const kdir = path.join(base, 'kubernetes');
  const pki = path.join(kdir, 'pki');
  const root = await opensslCA(offline, 'root', 'offline-root');
  const inter = await opensslCA(offline, 'inter', 'kubernetes', root);
  mkdirSync(pki, { recursive: true });
  writeFileSync(path.join(pki, 'ca.crt'), readFileSync(inter.crt, 'utf8') + readFileSync(root.crt, 'utf8'));
  return { kdir, pki, offline, root, inter, args: ['--cert-dir', pki, ...NODE, ...ALG] };
}

/** Where generate-csr puts the key/CSR/certificate of a leaf or a kubeconfig. */
const stem = (c: Cluster, name: string) => (name.endsWith('.conf') ? path.join(c.kdir, name) : path.join(c.pki, name));
const ALL = [...LEAVES, ...KUBECONFIGS];

const generateCsr = (c: Cluster) => kubepki(['certs', 'generate-csr', ...c.args]);
const init = (c: Cluster) => kubepki(['init', ...c.args]);

/** The CA signs X.csr as X.crt, copying what the CSR asks for (or with the given extensions instead). */
async function sign(c: Cluster, name: string, o: { ca?: { crt: string; key: string }; ext?: string } = {}): Promise<void> {
  const ca = o.ca ?? c.inter;
  const s = stem(c, name);
  const how = o.ext ? ['-extfile', offlineFile(c, name, o.ext)] : ['-copy_extensions', 'copyall'];
  await ok(['x509', '-req', '-in', `${s}.csr`, '-CA', ca.crt, '-CAkey', ca.key, '-CAcreateserial', '-days', '365', ...how, '-out', `${s}.crt`]);
}
function offlineFile(c: Cluster, name: string, text: string): string {
  const file = path.join(c.offline, `${name}.ext`);
  writeFileSync(file, text);
  return file;
}
/** Signing one after another: -CAcreateserial shares one serial file per CA. */
async function signAll(c: Cluster, except: readonly string[] = []): Promise<void> {
  for (const name of ALL) if (!except.includes(name)) await sign(c, name);
}

/** generate-csr, then the CA signs every CSR. */
async function signedCluster(t: ExecutionContext): Promise<Cluster> {
  const c = await cluster(t);
  const gen = await generateCsr(c);
  t.is(gen.exitCode, 0, gen.stderr);
  await signAll(c);
  return c;
}

/** An init that must be refused (exit 1, naming each pattern) and must leave everything as it was. */
async function refused(t: ExecutionContext, c: Cluster, patterns: RegExp[]): Promise<string> {
  const before = snapshot(c.kdir);
  const run = await init(c);
  t.is(run.exitCode, 1, run.stdout + run.stderr);
  for (const p of patterns) t.regex(run.stderr, p);
  t.deepEqual(snapshot(c.kdir), before);
  return run.stderr;
}

const modeOf = (file: string) => (statSync(file).mode & 0o777).toString(8);
const re = (s: string) => new RegExp(s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&'));

async function kubeconfigField(file: string, field: string): Promise<string> {
  const r = await execa('kubectl', ['--kubeconfig', file, 'config', 'view', '--raw', '-o', `jsonpath={${field}}`], { reject: false, env: { HOME: path.dirname(file) } });
  if (r.exitCode !== 0) throw new Error(`kubectl config view failed: ${r.stderr}`);
  return Buffer.from(String(r.stdout), 'base64').toString();
}

test('the whole flow: generate-csr, openssl signs, init keeps the leaves and writes the kubeconfigs around them', async (t) => {
  const c = await cluster(t);
  const gen = await generateCsr(c);
  t.is(gen.exitCode, 0, gen.stderr);

  // It lists every CSR it wrote, and writes no other (front-proxy-ca and etcd-ca are left to init).
  const listed = [...gen.stdout.matchAll(/^\[certs\] (\S+\.csr): /gm)].map((m) => m[1]!).sort();
  const expected = ALL.map((n) => `${stem(c, n)}.csr`).sort();
  t.deepEqual(listed, expected);
  t.regex(gen.stdout, /front-proxy-ca, etcd-ca: not managed elsewhere/);
  const onDisk = (dir: string): string[] => readdirSync(dir, { recursive: true, encoding: 'utf8' }).filter((f) => f.endsWith('.csr')).map((f) => path.join(dir, f));
  t.deepEqual(onDisk(c.kdir).sort(), expected);
  t.false(existsSync(path.join(c.pki, 'ca.key')));
  t.false(existsSync(path.join(c.pki, 'front-proxy-ca.crt')));

  for (const name of ALL) {
    const s = stem(c, name);
    t.is(modeOf(`${s}.key`), '600', `${name}.key`);
    t.is(modeOf(`${s}.csr`), '600', `${name}.csr`);
    const v = await openssl(['req', '-in', `${s}.csr`, '-noout', '-verify', '-text', '-nameopt', 'oneline']);
    t.is(v.exitCode, 0, `${name}.csr: ${v.stderr}`);
    const text = v.stdout;
    const want = WANT[name]!;
    t.true(text.includes(`Subject: ${want.subject}\n`), `${name}.csr subject:\n${text}`);
    const sanLine = /X509v3 Subject Alternative Name: *\n\s*(.*)/.exec(text)?.[1]?.trim() ?? '';
    t.deepEqual(sanLine ? sanLine.split(', ').sort() : [], [...want.sans].sort(), `${name}.csr SANs`);
    const ekuLine = /X509v3 Extended Key Usage: *\n\s*(.*)/.exec(text)?.[1]?.trim();
    t.is(ekuLine, want.eku, `${name}.csr extended key usage`);
    t.regex(text, /ASN1 OID: prime256v1/, `${name}.csr key type`);
    // The key beside the CSR is the CSR's.
    t.is(await ok(['pkey', '-in', `${s}.key`, '-pubout']), await ok(['req', '-in', `${s}.csr`, '-noout', '-pubkey']), `${name}.key matches ${name}.csr`);
  }

  await signAll(c);
  const apiserverCrt = readFileSync(path.join(c.pki, 'apiserver.crt'));
  const apiserverKey = readFileSync(path.join(c.pki, 'apiserver.key'));

  const run = await init(c);
  t.is(run.exitCode, 0, run.stderr);
  t.notRegex(run.stdout, /Generating "apiserver"/);
  t.notRegex(run.stdout, /Generating "(apiserver-kubelet-client|kubelet-server|ca)"/);
  t.regex(run.stdout, /Using the existing "apiserver" certificate and key/);
  t.regex(run.stdout, /External CA mode/);
  t.deepEqual(readFileSync(path.join(c.pki, 'apiserver.crt')), apiserverCrt);
  t.deepEqual(readFileSync(path.join(c.pki, 'apiserver.key')), apiserverKey);
  t.false(existsSync(path.join(c.pki, 'ca.key')));

  const caText = readFileSync(path.join(c.pki, 'ca.crt'), 'utf8');
  for (const name of KUBECONFIGS) {
    const file = path.join(c.kdir, name);
    t.is(modeOf(file), '600', name);
    const client = await kubeconfigField(file, '.users[0].user.client-certificate-data');
    t.is(client.trim(), readFileSync(`${file}.crt`, 'utf8').trim(), `${name} embeds ${name}.crt`);
    const key = await kubeconfigField(file, '.users[0].user.client-key-data');
    t.is(await ok(['pkey', '-in', offlineFile(c, `${name}-embedded.key`, key), '-pubout']), await ok(['pkey', '-in', `${file}.key`, '-pubout']), `${name} embeds ${name}.key`);
    const caData = await kubeconfigField(file, '.clusters[0].cluster.certificate-authority-data');
    t.is(caData.trim(), caText.trim(), `${name}: certificate-authority-data is the whole ca.crt (intermediate and root)`);
    const embedded = offlineFile(c, `${name}-embedded.crt`, client);
    const verified = await openssl(['verify', '-CAfile', path.join(c.pki, 'ca.crt'), embedded]);
    t.is(verified.exitCode, 0, `${name}: ${verified.stdout}${verified.stderr}`);
    const subject = await ok(['x509', '-in', embedded, '-noout', '-subject', '-nameopt', 'oneline']);
    t.is(subject.trim(), `subject=${WANT[name]!.subject}`, name);
  }

  // The leaves verify through the chain; the CAs it does not manage elsewhere are created with their keys.
  for (const name of LEAVES) t.is((await openssl(['verify', '-CAfile', path.join(c.pki, 'ca.crt'), path.join(c.pki, `${name}.crt`)])).exitCode, 0, name);
  for (const ca of ['front-proxy-ca', 'etcd/ca']) {
    t.true(existsSync(path.join(c.pki, `${ca}.crt`)), `${ca}.crt`);
    t.is(modeOf(path.join(c.pki, `${ca}.key`)), '600', `${ca}.key`);
    t.is(await ok(['pkey', '-in', path.join(c.pki, `${ca}.key`), '-pubout']), await ok(['x509', '-in', path.join(c.pki, `${ca}.crt`), '-noout', '-pubkey']), `${ca}.key matches`);
  }
  t.regex(run.stdout, /Generating "front-proxy-ca" certificate and key/);
  t.regex(run.stdout, /Generating "etcd-ca" certificate and key/);
  t.is((await openssl(['verify', '-CAfile', path.join(c.pki, 'front-proxy-ca.crt'), path.join(c.pki, 'front-proxy-client.crt')])).exitCode, 0);
  t.is((await openssl(['verify', '-CAfile', path.join(c.pki, 'etcd/ca.crt'), path.join(c.pki, 'apiserver-etcd-client.crt')])).exitCode, 0);

  // kubeadm's external CA mode: the controller manager signs nothing.
  const cm = readFileSync(path.join(c.kdir, 'flags/kube-controller-manager.flags'), 'utf8');
  t.regex(cm, /^--cluster-signing-cert-file=$/m);
  t.regex(cm, /^--cluster-signing-key-file=$/m);
  t.regex(cm, new RegExp(`^--root-ca-file=${re(path.join(c.pki, 'ca.crt')).source}$`, 'm'));

  // Again: nothing changes.
  const before = snapshot(c.kdir);
  const again = await init(c);
  t.is(again.exitCode, 0, again.stderr);
  t.deepEqual(snapshot(c.kdir), before);
  t.notRegex(again.stdout, /Generating|Writing/);
});

test('before the CA has signed, init refuses, naming each CSR to sign, and writes nothing', async (t) => {
  const c = await cluster(t);
  const gen = await generateCsr(c);
  t.is(gen.exitCode, 0, gen.stderr);
  const stderr = await refused(t, c, [
    /apiserver\.key and apiserver\.csr are here but apiserver\.crt is not: have ca \(managed outside kubepki\) sign apiserver\.csr/,
    /apiserver-kubelet-client\.key and apiserver-kubelet-client\.csr are here but apiserver-kubelet-client\.crt is not/,
    /kubelet-server\.key and kubelet-server\.csr are here but kubelet-server\.crt is not/,
    /admin\.conf\b.*is missing, and ca is managed outside kubepki.*have that CA sign admin\.conf\.csr/,
  ]);
  for (const name of KUBECONFIGS) t.regex(stderr, re(`have that CA sign ${name}.csr`));

  // All signed but one: still refused, naming only that one; the good ones are not half-used.
  await signAll(c, ['scheduler.conf']);
  const partial = await refused(t, c, [/have that CA sign scheduler\.conf\.csr/]);
  t.notRegex(partial, /apiserver|admin\.conf/);
  t.false(existsSync(path.join(c.kdir, 'admin.conf')));
  t.false(existsSync(path.join(c.pki, 'front-proxy-ca.crt')));
});

test('a signed certificate with a wrong SAN is refused, naming the file and the difference', async (t) => {
  const c = await signedCluster(t);
  await sign(c, 'apiserver', { ext: 'subjectAltName=DNS:wrong.example.com\nextendedKeyUsage=serverAuth\n' });
  const stderr = await refused(t, c, [
    /apiserver\.crt does not match the cluster description: SANs: lacks [^;]*DNS:kubernetes\.default\.svc\.cluster\.local[^;]*; has DNS:wrong\.example\.com not in the description/,
    /lacks [^;]*IP:192\.168\.10\.11/,
  ]);
  t.notRegex(stderr, /extended key usages/);
  t.false(existsSync(path.join(c.kdir, 'admin.conf')));

  // The same certificate without serverAuth: both differences are named.
  await sign(c, 'apiserver', { ext: 'subjectAltName=DNS:wrong.example.com\nextendedKeyUsage=clientAuth\n' });
  await refused(t, c, [/apiserver\.crt does not match the cluster description: SANs: .*; extended key usages are clientAuth, the description wants serverAuth/]);
});

test('a certificate signed by another CA of the same name is refused', async (t) => {
  const c = await signedCluster(t);
  const other = await opensslCA(path.join(c.offline, 'other'), 'other', 'kubernetes');
  await sign(c, 'apiserver', { ca: other });
  await refused(t, c, [/apiserver\.crt is not signed by ca \(/]);

  // The same for a kubeconfig's certificate.
  await sign(c, 'apiserver');
  await sign(c, 'admin.conf', { ca: other });
  const stderr = await refused(t, c, [/admin\.conf\.crt in \S+ is not signed by ca/]);
  t.notRegex(stderr, /apiserver\.crt/);
  // And by the offline root itself (the issuer of ca, not ca): refused too.
  await sign(c, 'admin.conf', { ca: c.root });
  await refused(t, c, [/admin\.conf\.crt in \S+ is not signed by ca/]);
});

test('a kubeconfig certificate for the wrong identity, or with a key that does not match, is refused', async (t) => {
  const c = await signedCluster(t);
  const admin = path.join(c.kdir, 'admin.conf');
  const good = readFileSync(`${admin}.crt`);
  copyFileSync(path.join(c.kdir, 'scheduler.conf.crt'), `${admin}.crt`);
  await refused(t, c, [/admin\.conf\.crt in \S+ does not match the cluster description: subject is CN=system:kube-scheduler, the description wants O=kubeadm:cluster-admins, CN=kubernetes-admin/]);

  // The right certificate, another key.
  writeFileSync(`${admin}.crt`, good);
  renameSync(`${admin}.key`, path.join(c.offline, 'admin.conf.key'));
  copyFileSync(path.join(c.kdir, 'scheduler.conf.key'), `${admin}.key`);
  await refused(t, c, [/admin\.conf\.key in \S+ does not match admin\.conf\.crt in \S+ \(different public keys\)/]);

  // No key at all.
  renameSync(`${admin}.key`, path.join(c.offline, 'scheduler-copy.key'));
  await refused(t, c, [/admin\.conf\.crt in \S+ is here but its key admin\.conf\.key in \S+ is not/]);

  // A leaf with another key.
  renameSync(path.join(c.offline, 'admin.conf.key'), `${admin}.key`);
  const apiKey = path.join(c.pki, 'apiserver.key');
  renameSync(apiKey, path.join(c.offline, 'apiserver.key'));
  copyFileSync(path.join(c.pki, 'kubelet-server.key'), apiKey);
  await refused(t, c, [/apiserver\.key does not match apiserver\.crt/]);

  // Everything put back: init goes through.
  renameSync(path.join(c.offline, 'apiserver.key'), apiKey);
  const run = await init(c);
  t.is(run.exitCode, 0, run.stderr);
});

test('a CA file whose certificates are in the wrong order (root first) is refused', async (t) => {
  const c = await signedCluster(t);
  const caFile = path.join(c.pki, 'ca.crt');
  writeFileSync(caFile, readFileSync(c.root.crt, 'utf8') + readFileSync(c.inter.crt, 'utf8'));
  const stderr = await refused(t, c, [/ca\.crt: certificate 1 of the file is not issued by certificate 2; a CA file holds the CA first, then its issuers in order/]);
  t.notRegex(stderr, /is not signed by ca/);

  // The right CA followed by an unrelated root: refused as well.
  const other = await opensslCA(path.join(c.offline, 'other'), 'other', 'other-root');
  writeFileSync(caFile, readFileSync(c.inter.crt, 'utf8') + readFileSync(other.crt, 'utf8'));
  await refused(t, c, [/certificate 1 of the file is not issued by certificate 2/]);

  // The intermediate alone is enough (its issuer need not be in the file).
  writeFileSync(caFile, readFileSync(c.inter.crt, 'utf8'));
  const run = await init(c);
  t.is(run.exitCode, 0, run.stderr);
});

// generate-csr says what is wrong with a CA file that is there (as init does), not that there is none.
test('generate-csr with a CA file in the wrong order says what is wrong with it', async (t) => {
  const c = await cluster(t);
  writeFileSync(path.join(c.pki, 'ca.crt'), readFileSync(c.root.crt, 'utf8') + readFileSync(c.inter.crt, 'utf8'));
  const before = snapshot(c.kdir);
  const gen = await generateCsr(c);
  t.is(gen.exitCode, 1, gen.stdout + gen.stderr);
  t.regex(gen.stderr, /certificate 1 of the file is not issued by certificate 2/);
  t.deepEqual(snapshot(c.kdir), before);
});

test('generate-csr refuses when no CA is managed elsewhere', async (t) => {
  // An empty cert dir.
  const base = scratch(t);
  const empty = path.join(base, 'kubernetes', 'pki');
  mkdirSync(empty, { recursive: true });
  const before = snapshot(base);
  const run = await kubepki(['certs', 'generate-csr', '--cert-dir', empty, ...NODE, ...ALG]);
  t.is(run.exitCode, 1, run.stdout + run.stderr);
  t.regex(run.stderr, /no CA is managed elsewhere here: put that CA's certificate at .*\/pki\/ca\.crt/);
  t.deepEqual(snapshot(base), before);

  // ca.crt with ca.key: that CA signs at init.
  const withKey = path.join(base, 'kubernetes2', 'pki');
  const ca = await opensslCA(withKey, 'ca', 'kubernetes');
  t.is(ca.crt, path.join(withKey, 'ca.crt'));
  const before2 = snapshot(base);
  const run2 = await kubepki(['certs', 'generate-csr', '--cert-dir', withKey, ...NODE, ...ALG]);
  t.is(run2.exitCode, 1, run2.stdout + run2.stderr);
  t.regex(run2.stderr, /no CA is managed elsewhere here/);
  t.deepEqual(snapshot(base), before2);
});

test('generate-csr run twice: the second refuses to overwrite and changes nothing', async (t) => {
  const c = await cluster(t);
  const first = await generateCsr(c);
  t.is(first.exitCode, 0, first.stderr);
  const before = snapshot(c.kdir);
  const second = await generateCsr(c);
  t.is(second.exitCode, 1, second.stdout + second.stderr);
  t.regex(second.stderr, /file already exists: key or CSR/);
  t.regex(second.stderr, /apiserver\.(key|csr)/);
  t.deepEqual(snapshot(c.kdir), before);

  // One pair moved away: still refused for the others, nothing written (the missing pair is not made alone).
  renameSync(path.join(c.pki, 'apiserver.key'), path.join(c.offline, 'apiserver.key'));
  renameSync(path.join(c.pki, 'apiserver.csr'), path.join(c.offline, 'apiserver.csr'));
  const partialBefore = snapshot(c.kdir);
  const third = await generateCsr(c);
  t.is(third.exitCode, 1, third.stdout + third.stderr);
  t.regex(third.stderr, /file already exists: key or CSR/);
  t.deepEqual(snapshot(c.kdir), partialBefore);
});

test('with --kubeconfig-dir elsewhere, the kubeconfig CSRs go there and init finds them', async (t) => {
  const c = await cluster(t);
  const kc = path.join(c.kdir, 'elsewhere');
  c.args.push('--kubeconfig-dir', kc);
  const gen = await generateCsr(c);
  t.is(gen.exitCode, 0, gen.stderr);
  for (const name of KUBECONFIGS) {
    t.true(existsSync(path.join(kc, `${name}.csr`)), name);
    t.false(existsSync(path.join(c.kdir, `${name}.csr`)), name);
    await ok(['x509', '-req', '-in', path.join(kc, `${name}.csr`), '-CA', c.inter.crt, '-CAkey', c.inter.key, '-CAcreateserial', '-days', '365', '-copy_extensions', 'copyall', '-out', path.join(kc, `${name}.crt`)]);
  }
  for (const name of LEAVES) await sign(c, name);
  const run = await init(c);
  t.is(run.exitCode, 0, run.stderr);
  for (const name of KUBECONFIGS) t.is(modeOf(path.join(kc, name)), '600', name);
});

test('after a completed init, generate-csr requests nothing that is in place; a lost kubeconfig is requested alone and init writes it again', async (t) => {
  const c = await signedCluster(t);
  t.is((await init(c)).exitCode, 0);
  for (const k of KUBECONFIGS) for (const ext of ['crt', 'key', 'csr']) renameSync(`${stem(c, k)}.${ext}`, `${stem(c, k)}.${ext}.done`);
  const nothing = await generateCsr(c);
  t.is(nothing.exitCode, 0, nothing.stderr);
  t.regex(nothing.stdout, /^Nothing to request: apiserver, apiserver-kubelet-client, kubelet-server, admin\.conf, super-admin\.conf, kubelet\.conf, controller-manager\.conf, scheduler\.conf are in place already/m);
  // admin.conf is lost: only its key and CSR are written.
  renameSync(path.join(c.kdir, 'admin.conf'), path.join(c.offline, 'admin.conf.lost'));
  const before = snapshot(c.kdir);
  const one = await generateCsr(c);
  t.is(one.exitCode, 0, one.stderr);
  t.regex(one.stdout, /admin\.conf\.csr: admin\.conf /);
  t.notRegex(one.stdout, /apiserver\.csr|scheduler\.conf\.csr/);
  const added = Object.keys(snapshot(c.kdir)).filter((p) => !(p in before)).sort();
  t.deepEqual(added, ['admin.conf.csr', 'admin.conf.key']);
  await sign(c, 'admin.conf');
  const again = await init(c);
  t.is(again.exitCode, 0, again.stderr);
  t.regex(again.stdout, /^\[kubeconfig\] Writing "admin\.conf" kubeconfig file$/m);
  t.true(existsSync(path.join(c.kdir, 'admin.conf')));
});

test('refusals of what the offline CA signed say to have it signed again, not to let kubepki re-create it', async (t) => {
  const c = await cluster(t);
  t.is((await generateCsr(c)).exitCode, 0);
  await signAll(c, ['apiserver']);
  await sign(c, 'apiserver', { ext: 'subjectAltName=DNS:wrong.example.com\nextendedKeyUsage=serverAuth\n' });
  const r = await init(c);
  t.is(r.exitCode, 1);
  t.regex(r.stderr, /apiserver\.crt does not match the cluster description: .*\. Have ca \(managed outside kubepki\) sign apiserver\.csr again and put the certificate at apiserver\.crt/);
  t.notRegex(r.stderr, /to have them re-created/);
});
