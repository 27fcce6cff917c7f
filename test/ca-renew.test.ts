/**
 * ca renew NAME: a CA's certificate renewed with the same key, subject and
 * subject key identifier and a new validity; every certificate it signed still
 * verifies with openssl and is left as it was; the kubeconfigs that embed it
 * take the new one; check-expiration names the command when a CA nears its end.
 */
import test, { type ExecutionContext } from 'ava';
import { chmodSync, existsSync, readFileSync, readdirSync, statSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { parse } from 'yaml';
import { NODE, kubepki, openssl, scratch, snapshot } from './helpers/cli.js';
import { softhsm } from './helpers/softhsm.js';

const ALG = ['--encryption-algorithm', 'ECDSA-P256'];
const LEAVES_OF: Record<string, string[]> = {
  ca: ['apiserver', 'apiserver-kubelet-client', 'kubelet-server'],
  'etcd-ca': ['etcd/server', 'etcd/peer', 'etcd/healthcheck-client', 'apiserver-etcd-client'],
};
const x509 = async (file: string, ...what: string[]) => (await openssl(['x509', '-in', file, '-noout', ...what])).stdout;

async function cluster(t: ExecutionContext, caValidity = '480h', extra: string[] = []) {
  const root = scratch(t);
  const dir = path.join(root, 'pki');
  const args = ['--cert-dir', dir, ...NODE, ...ALG, ...extra];
  const r = await kubepki(['init', ...args, '--ca-certificate-validity', caValidity]);
  t.is(r.exitCode, 0, r.stderr);
  return { root, dir, args };
}

for (const [name, base] of [['ca', 'ca'], ['etcd-ca', 'etcd/ca']] as const) {
  test(`ca renew ${name}: same key, subject and key identifier, new validity; everything it signed still verifies and is unchanged`, async (t) => {
    const { root, dir, args } = await cluster(t);
    const crt = path.join(dir, `${base}.crt`);
    const before = { subject: await x509(crt, '-subject'), ski: await x509(crt, '-ext', 'subjectKeyIdentifier'), pub: await x509(crt, '-pubkey'), end: await x509(crt, '-enddate'), pem: readFileSync(crt, 'utf8') };
    const leaves = Object.fromEntries(LEAVES_OF[name]!.map((l) => [l, readFileSync(path.join(dir, `${l}.crt`), 'utf8')]));
    const keyBefore = readFileSync(path.join(dir, `${base}.key`), 'utf8');
    // Warned ahead, with the command to run.
    const warned = await kubepki(['certs', 'check-expiration', ...args]);
    t.is(warned.exitCode, 3);
    t.regex(warned.stdout, new RegExp(`^WARNING: CA ${name} expires .*: kubepki ca renew ${name}$`, 'm'));

    const r = await kubepki(['ca', 'renew', name, ...args]);
    t.is(r.exitCode, 0, r.stderr);
    t.regex(r.stdout, new RegExp(`^\\[ca\\] ${name} renewed with the same key: .*${base}\\.crt, serial [0-9a-f]+, until \\d{4}-`, 'm'));
    t.is(await x509(crt, '-subject'), before.subject, 'same subject');
    t.is(await x509(crt, '-ext', 'subjectKeyIdentifier'), before.ski, 'same subject key identifier');
    t.is(await x509(crt, '-pubkey'), before.pub, 'same key');
    t.not(await x509(crt, '-enddate'), before.end, 'new validity');
    t.true(new Date((await x509(crt, '-enddate')).replace('notAfter=', '')) > new Date(Date.now() + 3000 * 86_400_000), 'the configured CA validity (3650 days)');
    t.is(readFileSync(path.join(dir, `${base}.key`), 'utf8'), keyBefore, 'the key file is untouched');
    for (const [leaf, pem] of Object.entries(leaves)) {
      t.is(readFileSync(path.join(dir, `${leaf}.crt`), 'utf8'), pem, `${leaf} is not re-signed`);
      const v = await openssl(['verify', '-CAfile', crt, path.join(dir, `${leaf}.crt`)]);
      t.is(v.exitCode, 0, `${leaf} verifies against the renewed ${name}: ${v.stdout}${v.stderr}`);
    }
    // The old certificate is in the backup; the kubeconfigs embed the renewed one (ca) or are untouched (etcd-ca).
    const backup = readdirSync(path.join(root, 'kubepki-backups'))[0]!;
    t.is(readFileSync(path.join(root, 'kubepki-backups', backup, 'pki', `${base}.crt`), 'utf8'), before.pem);
    const admin = parse(readFileSync(path.join(root, 'admin.conf'), 'utf8')) as { clusters: { cluster: Record<string, string> }[] };
    const embedded = Buffer.from(admin.clusters[0]!.cluster['certificate-authority-data']!, 'base64').toString();
    t.is(embedded, name === 'ca' ? readFileSync(crt, 'utf8') : readFileSync(path.join(dir, 'ca.crt'), 'utf8'));
    const after = await kubepki(['certs', 'check-expiration', ...args]);
    t.notRegex(after.stdout, new RegExp(`^WARNING: CA ${name} `, 'm'), 'the renewed CA is no longer called out');
    t.regex(after.stdout, new RegExp(`^${name} {2,}\\w{3} \\d{2}, \\d{4} .* 9y {2,}no$`, 'm'));
  });
}

test('ca renew with the CA key in a PKCS#11 token: the token signs, no key file appears, no key is made', async (t) => {
  const hsm = softhsm(t);
  const uri = hsm.uri('kubernetes-ca');
  const root = scratch(t);
  const dir = path.join(root, 'pki');
  const args = ['--cert-dir', dir, ...NODE, ...ALG, '--ca-key', `ca=${uri}`];
  t.is((await kubepki(['init', ...args, '--ca-certificate-validity', '480h'], { env: hsm.env })).exitCode, 0);
  const pub = await x509(path.join(dir, 'ca.crt'), '-pubkey');
  const r = await kubepki(['ca', 'renew', 'ca', ...args], { env: hsm.env });
  t.is(r.exitCode, 0, r.stderr);
  t.false(r.stdout.includes(hsm.pin));
  t.is(await x509(path.join(dir, 'ca.crt'), '-pubkey'), pub);
  t.false(existsSync(path.join(dir, 'ca.key')));
  t.is(await hsm.countPrivateKeys(), 1);
  t.is((await openssl(['verify', '-CAfile', path.join(dir, 'ca.crt'), path.join(dir, 'apiserver.crt')])).exitCode, 0);
});

test('ca renew refuses what it cannot do, and changes nothing: an unknown CA, a CA whose key is elsewhere, a CA file with two certificates, a read-only cert dir; --dry-run writes nothing', async (t) => {
  const { root, dir, args } = await cluster(t);
  const before = snapshot(root);
  const unknown = await kubepki(['ca', 'renew', 'sa', ...args]);
  t.is(unknown.exitCode, 2);
  t.regex(unknown.stderr, /unknown CA "sa"; choose one of ca, front-proxy-ca, etcd-ca/);
  const dry = await kubepki(['ca', 'renew', 'ca', ...args, '--dry-run']);
  t.is(dry.exitCode, 0, dry.stderr);
  t.regex(dry.stdout, /^would renew ca: .*ca\.crt with the same key, until /m);
  t.deepEqual(snapshot(root), before, '--dry-run wrote nothing');

  const key = readFileSync(path.join(dir, 'front-proxy-ca.key'));
  (await import('node:fs')).rmSync(path.join(dir, 'front-proxy-ca.key'));
  const external = await kubepki(['ca', 'renew', 'front-proxy-ca', ...args]);
  t.is(external.exitCode, 1);
  t.regex(external.stderr, /front-proxy-ca is managed outside kubepki \(.*front-proxy-ca\.crt without its key\): have that CA renew its certificate/);
  writeFileSync(path.join(dir, 'front-proxy-ca.key'), key, { mode: 0o600 });

  const etcdCa = path.join(dir, 'etcd/ca.crt');
  const original = readFileSync(etcdCa, 'utf8');
  writeFileSync(etcdCa, original + readFileSync(path.join(dir, 'ca.crt'), 'utf8'));
  const two = await kubepki(['ca', 'renew', 'etcd-ca', ...args]);
  t.is(two.exitCode, 1);
  t.notRegex(two.stderr, /internal error/);
  writeFileSync(etcdCa, original);

  const mid = snapshot(root);
  const mode = statSync(dir).mode & 0o777;
  chmodSync(dir, 0o555);
  t.teardown(() => chmodSync(dir, mode));
  const ro = await kubepki(['ca', 'renew', 'ca', ...args], { user: 'nobody' });
  t.not(ro.exitCode, 0);
  t.regex(ro.stderr, /^kubepki: error: /m);
  t.notRegex(ro.stderr, /internal error/);
  chmodSync(dir, mode);
  t.deepEqual(snapshot(root), mid, 'a refused renewal changed nothing');
});
