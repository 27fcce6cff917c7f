/**
 * Bad input, end to end through the CLI. For every case kubepki
 *
 * - exits non-zero;
 * - says so on stderr in one line (the helper strips the final newline) starting with "kubepki: error:" (or that
 *   line and one "  - " line per problem when it lists several), with no
 *   stack trace and no "internal error";
 * - leaves the cert dir byte-for-byte as it was (or absent, when it was);
 * - never prints a private key.
 *
 * Command-line mistakes (unknown flag, bad --output) exit 2 with a usage hint.
 * ECDSA-P256 everywhere: key generation stays fast.
 */
import test, { type ExecutionContext } from 'ava';
import {
  chmodSync, copyFileSync, existsSync, mkdirSync, readFileSync, rmSync, symlinkSync, truncateSync, writeFileSync,
} from 'node:fs';
import { execFileSync } from 'node:child_process';
import path from 'node:path';
import { NODE, kubepki, scratch, snapshot, type Run } from './helpers/cli.js';

const ALG = ['--encryption-algorithm', 'ECDSA-P256'] as const;
const IS_ROOT = process.getuid?.() === 0;

/**
 * --cert-dir, and beside it the kubeconfig and flag folders (kube/, kube/flags/):
 * a run never touches /etc/kubernetes, and watching the cert dir's parent covers all three.
 */
const dirs = (certDir: string) => {
  const kube = path.join(path.dirname(certDir), 'kube');
  return ['--cert-dir', certDir, '--kubeconfig-dir', kube, '--flags-dir', path.join(kube, 'flags')];
};

const escape = (s: string) => s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');

/** No private key on stdout or stderr, whatever happened. */
function noSecrets(t: ExecutionContext, run: Run): void {
  t.false(run.stdout.includes('PRIVATE KEY'), 'stdout shows a private key');
  t.false(run.stderr.includes('PRIVATE KEY'), 'stderr shows a private key');
}

/**
 * A refusal as a person should see it: non-zero exit, "kubepki: error: ..." in
 * one line (plus "  - " detail lines when `several`), no trace.
 */
function refused(t: ExecutionContext, run: Run, options: { several?: boolean | 'either' } = {}): void {
  t.not(run.exitCode, 0, `exit code 0; stdout: ${run.stdout}`);
  noSecrets(t, run);
  t.notRegex(run.stderr, /internal error/i);
  t.notRegex(run.stderr, /^\s+at /m, 'stack trace');
  t.notRegex(run.stderr, /\b(TypeError|ReferenceError|RangeError|SyntaxError|Error \[ERR_)/);
  if (options.several === 'either') {
    t.regex(run.stderr, /^kubepki: error: [^\n]+(\n  - [^\n]+)*$/, run.stderr);
  } else if (options.several) {
    t.regex(run.stderr, /^kubepki: error: [^\n]+(\n  - [^\n]+)+$/, run.stderr);
  } else {
    t.regex(run.stderr, /^kubepki: error: [^\n]+$/, run.stderr);
  }
}

/** Run kubepki and check that it refused and that `watched` did not change at all. */
async function refusesWithoutChange(
  t: ExecutionContext,
  watched: string,
  args: readonly string[],
  options: { several?: boolean | 'either'; user?: string } = {},
): Promise<Run> {
  const before = snapshot(watched);
  const run = await kubepki(args, options.user ? { user: options.user } : {});
  refused(t, run, options);
  t.deepEqual(snapshot(watched), before, 'the folder changed');
  return run;
}

/** A complete PKI made by kubepki, in a scratch folder. */
async function existingPki(t: ExecutionContext): Promise<{ root: string; dir: string }> {
  const root = scratch(t);
  const dir = path.join(root, 'pki');
  const run = await kubepki(['init', ...dirs(dir), ...NODE, ...ALG]);
  t.is(run.exitCode, 0, run.stderr);
  noSecrets(t, run);
  return { root, dir };
}

/** Re-run init on an existing PKI (after the test damaged it) and check the refusal; the whole scratch folder must stay as it was. */
async function rerunRefused(t: ExecutionContext, dir: string, expected: RegExp, options: { several?: boolean | 'either' } = {}): Promise<Run> {
  // One damaged file may make several items unusable (its leaves, kubeconfigs that embed a CA): one line or a list.
  const run = await refusesWithoutChange(t, path.dirname(dir), ['init', ...dirs(dir), ...NODE, ...ALG], { several: 'either', ...options });
  t.regex(run.stderr, expected);
  return run;
}

// ------------------------------------------------------------- the config file

const V1BETA4 = (cluster: string, init = '') =>
  `apiVersion: kubeadm.k8s.io/v1beta4\nkind: InitConfiguration\n${init}---\napiVersion: kubeadm.k8s.io/v1beta4\nkind: ClusterConfiguration\n${cluster}`;

async function badConfig(t: ExecutionContext, yaml: string, expected: RegExp, options: { several?: boolean } = {}): Promise<Run> {
  const root = scratch(t);
  const file = path.join(root, 'config.yaml');
  writeFileSync(file, yaml);
  const dir = path.join(root, 'pki');
  const run = await refusesWithoutChange(t, root, ['init', '--config', file, ...dirs(dir), ...NODE, ...ALG], options);
  t.false(existsSync(dir));
  t.regex(run.stderr, expected);
  t.true(run.stderr.includes(file), 'the message names the file');
  return run;
}

test('malformed YAML config: named with file and line', async (t) => {
  const run = await badConfig(t, 'apiVersion: kubepki.dev/v1alpha1\nkind: Cluster\napiServer:\n  certSANs: [a.example.com\nnetworking: {}\n', /malformed YAML/);
  t.regex(run.stderr, /config\.yaml:\d+/);
});

test('malformed YAML config on an existing PKI: nothing changes', async (t) => {
  const { root, dir } = await existingPki(t);
  const file = path.join(root, 'config.yaml');
  writeFileSync(file, 'apiVersion: kubepki.dev/v1alpha1\nkind: Cluster\nnode: [\n');
  const run = await refusesWithoutChange(t, root, ['init', '--config', file, ...dirs(dir), ...NODE, ...ALG]);
  t.regex(run.stderr, /malformed YAML/);
});

test('a YAML alias bomb: refused as bad input, not an internal error', async (t) => {
  const yaml = [
    'a: &a ["x","x","x","x","x","x","x","x","x","x"]',
    'b: &b [*a,*a,*a,*a,*a,*a,*a,*a,*a,*a]',
    'c: &c [*b,*b,*b,*b,*b,*b,*b,*b,*b,*b]',
    'd: [*c,*c,*c,*c,*c,*c,*c,*c,*c,*c]',
    'apiVersion: kubepki.dev/v1alpha1',
    'kind: Cluster',
    '',
  ].join('\n');
  await badConfig(t, yaml, /config\.yaml/);
});

test('unknown kubeadm apiVersion: names it and the supported versions', async (t) => {
  const run = await badConfig(t, 'apiVersion: kubeadm.k8s.io/v1beta2\nkind: ClusterConfiguration\n', /kubeadm\.k8s\.io\/v1beta2/);
  t.regex(run.stderr, /v1beta3/);
  t.regex(run.stderr, /v1beta4/);
});

test('unknown kind', async (t) => {
  await badConfig(t, 'apiVersion: kubeadm.k8s.io/v1beta4\nkind: InitConfig\n', /kind "InitConfig"/);
  await badConfig(t, 'apiVersion: kubepki.dev/v1alpha1\nkind: Clusters\n', /kind "Clusters"/);
});

test('invalid advertise address in the file', async (t) => {
  await badConfig(t, V1BETA4('', 'localAPIEndpoint:\n  advertiseAddress: 300.1.1.1\n'), /:4: localAPIEndpoint\.advertiseAddress: "300\.1\.1\.1" is not a valid IP address/);
});

test('invalid node name in the file', async (t) => {
  await badConfig(t, V1BETA4('', 'nodeRegistration:\n  name: Control_Plane\n'), /:4: nodeRegistration\.name: "Control_Plane" is not a valid node name/);
});

test('invalid CIDR in the file', async (t) => {
  await badConfig(t, V1BETA4('networking:\n  serviceSubnet: 10.96.0.0/33\n'), /:7: networking\.serviceSubnet: "10\.96\.0\.0\/33" is not a valid CIDR/);
});

test('invalid SAN in the file', async (t) => {
  await badConfig(t, V1BETA4('apiServer:\n  certSANs: ["-bad-"]\n'), /:7: apiServer\.certSANs\[0\]: "-bad-" is not a valid IP address, DNS name or wildcard DNS name/);
});

test('several problems in the file are listed one per line', async (t) => {
  const run = await badConfig(
    t,
    V1BETA4('apiServer:\n  certSANs: ["-bad-", Upper.Case]\nnetworking:\n  serviceSubnet: 10.96.0.0/12,10.97.0.0/16\n'),
    /3 problems/,
    { several: true },
  );
  t.regex(run.stderr, /^  - .*apiServer\.certSANs\[0\]: "-bad-"/m);
  t.regex(run.stderr, /^  - .*apiServer\.certSANs\[1\]: "Upper\.Case"/m);
  t.regex(run.stderr, /^  - .*networking\.serviceSubnet: .*two CIDRs of the same family/m);
});

test('a config file of 17 MiB: refused by its size, without reading it', async (t) => {
  const root = scratch(t);
  const file = path.join(root, 'config.yaml');
  writeFileSync(file, 'apiVersion: kubeadm.k8s.io/v1beta4\n');
  truncateSync(file, 17 * 1024 * 1024); // sparse: nothing of it is on disk
  const run = await refusesWithoutChange(t, root, ['init', '--config', file, ...dirs(path.join(root, 'pki')), ...NODE, ...ALG]);
  t.is(run.stderr, `kubepki: error: ${file}: the config file is 17 MiB; kubepki reads files of up to 16 MiB`);
});

test('a config file that is a FIFO: refused, not waited on', async (t) => {
  const root = scratch(t);
  const file = path.join(scratch(t), 'config.yaml');
  execFileSync('mkfifo', [file]);
  // The FIFO stays out of the folder watched (reading it to compare would wait for a writer).
  const run = await refusesWithoutChange(t, root, ['init', '--config', file, ...dirs(path.join(root, 'pki')), ...NODE, ...ALG]);
  t.is(run.stderr, `kubepki: error: ${file}: the config file is not a regular file`);
});

test('a config file that does not exist', async (t) => {
  const root = scratch(t);
  const file = path.join(root, 'missing.yaml');
  const run = await refusesWithoutChange(t, root, ['init', '--config', file, ...dirs(path.join(root, 'pki')), ...NODE, ...ALG]);
  t.regex(run.stderr, new RegExp(`${escape(file)}: .*no such file`));
});

// ------------------------------------------------------------- flags

async function badFlags(t: ExecutionContext, flags: readonly string[], expected: RegExp, options: { several?: boolean } = {}): Promise<Run> {
  const { dir } = await existingPki(t);
  const run = await refusesWithoutChange(t, path.dirname(dir), ['init', ...dirs(dir), ...ALG, ...flags], options);
  t.regex(run.stderr, expected);
  return run;
}

test('invalid advertise address via flags', async (t) => {
  await badFlags(t, ['--node-name', 'cp-1', '--apiserver-advertise-address', '300.1.1.1'], /^kubepki: error: --apiserver-advertise-address: "300\.1\.1\.1" is not a valid IP address/);
  await badFlags(t, ['--node-name', 'cp-1', '--apiserver-advertise-address', '10.1'], /^kubepki: error: --apiserver-advertise-address: "10\.1" is not a valid IP address/);
});

test('invalid node name via flags', async (t) => {
  await badFlags(t, ['--node-name', 'CP_1', '--apiserver-advertise-address', '192.168.10.11'], /^kubepki: error: --node-name: "CP_1" is not a valid node name/);
});

test('invalid CIDR via flags', async (t) => {
  await badFlags(t, [...NODE, '--service-cidr', '10.96.0.0'], /^kubepki: error: --service-cidr: "10\.96\.0\.0" is not a valid CIDR/);
  await badFlags(t, [...NODE, '--service-cidr', '10.96.0.0/12,fd00::/64'], /^kubepki: error: --service-cidr: .*too large/);
});

test('invalid SAN via flags', async (t) => {
  await badFlags(t, [...NODE, '--apiserver-cert-extra-sans', 'ok.example.com,Upper.Case'], /^kubepki: error: --apiserver-cert-extra-sans: "Upper\.Case" is not a valid IP address, DNS name/);
  const run = await badFlags(t, [...NODE, '--apiserver-cert-extra-sans=-bad-,under_score'], /^kubepki: error: 2 problems/, { several: true });
  t.regex(run.stderr, /^  - --apiserver-cert-extra-sans: "-bad-"/m);
  t.regex(run.stderr, /^  - --apiserver-cert-extra-sans: "under_score"/m);
});

test('invalid durations and port via flags', async (t) => {
  await badFlags(t, [...NODE, '--certificate-validity', '1y'], /^kubepki: error: --certificate-validity: "1y" is not a valid duration/);
  await badFlags(t, [...NODE, '--ca-certificate-validity', '-5h'], /^kubepki: error: --ca-certificate-validity: "-5h"/);
  await badFlags(t, [...NODE, '--apiserver-bind-port', '65536'], /^kubepki: error: --apiserver-bind-port: "65536" is not a valid port/);
});

test('a flag overriding a valid file with an invalid value names the flag', async (t) => {
  const root = scratch(t);
  const file = path.join(root, 'config.yaml');
  writeFileSync(file, V1BETA4('networking:\n  serviceSubnet: 10.96.0.0/12\n'));
  const run = await refusesWithoutChange(t, root, ['init', '--config', file, ...dirs(path.join(root, 'pki')), ...NODE, ...ALG, '--service-cidr', '10.96.0.0/33']);
  t.regex(run.stderr, /^kubepki: error: --service-cidr: "10\.96\.0\.0\/33"/);
});

// ------------------------------------------------------------- the cert dir

test('unwritable cert dir: a new one in a folder kubepki may not write to', async (t) => {
  const root = scratch(t);
  const parent = path.join(root, 'locked');
  mkdirSync(parent, { mode: 0o755 });
  const dir = path.join(parent, 'pki');
  let user: string | undefined;
  if (IS_ROOT) {
    // Permission bits do not stop root: run as nobody, who may traverse to the
    // root-owned 0755 folder but not write in it.
    chmodSync(root, 0o755);
    chmodSync(parent, 0o755);
    user = 'nobody';
  } else {
    chmodSync(parent, 0o555);
    t.teardown(() => chmodSync(parent, 0o755));
  }
  const run = await refusesWithoutChange(t, root, ['init', ...dirs(dir), ...NODE, ...ALG], user ? { user } : {});
  t.regex(run.stderr, /permission denied/);
  t.false(existsSync(dir));
});

test('unwritable cert dir: an existing empty one kubepki may not write to', async (t) => {
  const root = scratch(t);
  const parent = path.join(root, 'locked');
  const dir = path.join(parent, 'pki');
  mkdirSync(dir, { recursive: true, mode: 0o755 });
  let user: string | undefined;
  if (IS_ROOT) {
    chmodSync(root, 0o755);
    chmodSync(parent, 0o755);
    chmodSync(dir, 0o755);
    user = 'nobody';
  } else {
    chmodSync(dir, 0o555);
    chmodSync(parent, 0o555);
    t.teardown(() => {
      chmodSync(parent, 0o755);
      chmodSync(dir, 0o755);
    });
  }
  const run = await refusesWithoutChange(t, root, ['init', ...dirs(dir), ...NODE, ...ALG], user ? { user } : {});
  t.regex(run.stderr, /permission denied/);
});

test('unwritable cert dir: a folder of another user that kubepki may only read (nobody, root-owned PKI)', async (t) => {
  if (!IS_ROOT) {
    t.pass('needs root to create files of another user');
    return;
  }
  const { root, dir } = await existingPki(t);
  chmodSync(root, 0o755);
  rmSync(path.join(dir, 'front-proxy-client.crt'));
  rmSync(path.join(dir, 'front-proxy-client.key'));
  // Keys are 0600 root: nobody cannot read them; whatever kubepki says, it must refuse cleanly.
  const before = snapshot(dir);
  const run = await kubepki(['init', ...dirs(dir), ...NODE, ...ALG], { user: 'nobody' });
  t.not(run.exitCode, 0);
  noSecrets(t, run);
  t.regex(run.stderr, /^kubepki: error: [^\n]+(\n  - [^\n]+)*$/);
  t.regex(run.stderr, /permission denied/);
  t.notRegex(run.stderr, /internal error|^\s+at /m);
  t.deepEqual(snapshot(dir), before);
});

test('cert dir path that is a regular file', async (t) => {
  const root = scratch(t);
  const file = path.join(root, 'pki');
  writeFileSync(file, 'not a folder\n');
  const run = await refusesWithoutChange(t, root, ['init', ...dirs(file), ...NODE, ...ALG]);
  t.regex(run.stderr, /is not a directory/);
  t.true(run.stderr.includes(file), 'names the path');
});

test('cert dir path inside a regular file', async (t) => {
  const root = scratch(t);
  const file = path.join(root, 'file');
  writeFileSync(file, 'not a folder\n');
  const run = await refusesWithoutChange(t, root, ['init', ...dirs(path.join(file, 'pki')), ...NODE, ...ALG]);
  t.regex(run.stderr, /not a directory/);
});

// ------------------------------------------------------------- damaged existing PKI

test('corrupt existing ca.crt: garbage bytes', async (t) => {
  const { dir } = await existingPki(t);
  writeFileSync(path.join(dir, 'ca.crt'), Buffer.from(Array.from({ length: 512 }, (_, i) => (i * 37 + 11) % 256)));
  await rerunRefused(t, dir, /ca\.crt/);
});

test('corrupt existing ca.crt: a truncated PEM', async (t) => {
  const { dir } = await existingPki(t);
  const file = path.join(dir, 'ca.crt');
  const pem = readFileSync(file, 'utf8');
  writeFileSync(file, pem.slice(0, Math.floor(pem.length / 2)));
  await rerunRefused(t, dir, /ca\.crt/);
});

test('corrupt existing ca.crt: a PEM whose body is cut short', async (t) => {
  const { dir } = await existingPki(t);
  const file = path.join(dir, 'ca.crt');
  const lines = readFileSync(file, 'utf8').trimEnd().split('\n');
  writeFileSync(file, [...lines.slice(0, 4), lines[lines.length - 1]!, ''].join('\n'));
  await rerunRefused(t, dir, /ca\.crt/);
});

test('an existing ca.crt of 17 MiB (a disk image, a log): refused by its size, by init and check-expiration', async (t) => {
  const { dir } = await existingPki(t);
  truncateSync(path.join(dir, 'ca.crt'), 17 * 1024 * 1024);
  await rerunRefused(t, dir, /ca\.crt is 17 MiB; kubepki reads files of up to 16 MiB \(a certificate, key or kubeconfig is a few KB\): move it away/);
  const expiry = await kubepki(['certs', 'check-expiration', ...dirs(dir), ...NODE, ...ALG]);
  t.is(expiry.exitCode, 4, expiry.stderr);
  t.regex(expiry.stdout, /^ca +!INVALID! +is 17 MiB; kubepki reads files of up to 16 MiB/m);
  t.notRegex(expiry.stderr, /internal error|Cannot create a string/);
});

test('a ca.key that does not match ca.crt', async (t) => {
  const { dir } = await existingPki(t);
  copyFileSync(path.join(dir, 'front-proxy-ca.key'), path.join(dir, 'ca.key'));
  chmodSync(path.join(dir, 'ca.key'), 0o600);
  const run = await rerunRefused(t, dir, /ca\.key does not match ca\.crt/);
  t.notRegex(run.stderr, /front-proxy-ca\.key does not match/);
});

test('an existing key path that is a symbolic link to /etc/passwd', async (t) => {
  const { dir } = await existingPki(t);
  rmSync(path.join(dir, 'apiserver.key'));
  symlinkSync('/etc/passwd', path.join(dir, 'apiserver.key'));
  await rerunRefused(t, dir, /apiserver\.key is a symbolic link/);
});

test('an existing key path that is a dangling symbolic link', async (t) => {
  const { dir } = await existingPki(t);
  rmSync(path.join(dir, 'apiserver.key'));
  symlinkSync(path.join(dir, 'nowhere.key'), path.join(dir, 'apiserver.key'));
  await rerunRefused(t, dir, /apiserver\.key is a symbolic link/);
  t.false(existsSync(path.join(dir, 'nowhere.key')), 'wrote through the link');
});

test('a dangling symbolic link where a missing leaf would be written', async (t) => {
  const { dir } = await existingPki(t);
  rmSync(path.join(dir, 'apiserver.crt'));
  rmSync(path.join(dir, 'apiserver.key'));
  symlinkSync(path.join(dir, 'nowhere.key'), path.join(dir, 'apiserver.key'));
  await rerunRefused(t, dir, /apiserver\.key/);
  t.false(existsSync(path.join(dir, 'nowhere.key')), 'wrote through the link');
});

test('the etcd folder is a symbolic link', async (t) => {
  const { root, dir } = await existingPki(t);
  const elsewhere = path.join(root, 'elsewhere');
  mkdirSync(elsewhere);
  rmSync(path.join(dir, 'etcd'), { recursive: true });
  symlinkSync(elsewhere, path.join(dir, 'etcd'));
  await rerunRefused(t, dir, /etcd\/.*symbolic link/, { several: 'either' });
  t.deepEqual(snapshot(elsewhere), { '.': 'dir 755' });
});

test('an existing file that is a directory', async (t) => {
  const { dir } = await existingPki(t);
  rmSync(path.join(dir, 'apiserver.crt'));
  mkdirSync(path.join(dir, 'apiserver.crt'));
  await rerunRefused(t, dir, /apiserver\.crt is a directory/);
});

test('a key file with mode 0644 is refused with chmod advice', async (t) => {
  const { dir } = await existingPki(t);
  chmodSync(path.join(dir, 'apiserver.key'), 0o644);
  await rerunRefused(t, dir, new RegExp(`apiserver\\.key .*0644.*chmod 600 ${escape(dir)}/apiserver\\.key`));
});

test('a CA key with mode 0640 is refused with chmod advice', async (t) => {
  const { dir } = await existingPki(t);
  chmodSync(path.join(dir, 'etcd/ca.key'), 0o640);
  await rerunRefused(t, dir, /etcd\/ca\.key .*chmod 600/);
});

test('sa.key with mode 0644 is refused with chmod advice', async (t) => {
  const { dir } = await existingPki(t);
  chmodSync(path.join(dir, 'sa.key'), 0o644);
  await rerunRefused(t, dir, /sa\.key .*chmod 600/);
});

test('only apiserver.key present, without apiserver.crt', async (t) => {
  const { dir } = await existingPki(t);
  rmSync(path.join(dir, 'apiserver.crt'));
  const run = await rerunRefused(t, dir, /apiserver\.key exists but apiserver\.crt does not/);
  t.notRegex(run.stdout, /Generating/);
});

test('only ca.key present, without ca.crt (a fresh dir otherwise)', async (t) => {
  const root = scratch(t);
  const dir = path.join(root, 'pki');
  mkdirSync(dir);
  writeFileSync(path.join(dir, 'ca.key'), '-----BEGIN PRIVATE KEY-----\nMIGHAgEAMBMGByqGSM49AgEGCCqGSM49AwEHBG0wawIBAQQg\n-----END PRIVATE KEY-----\n', { mode: 0o600 });
  const run = await refusesWithoutChange(t, path.dirname(dir), ['init', ...dirs(dir), ...NODE, ...ALG]);
  t.regex(run.stderr, /ca\.key/);
});

test('sa.pub present without sa.key', async (t) => {
  const { dir } = await existingPki(t);
  rmSync(path.join(dir, 'sa.key'));
  await rerunRefused(t, dir, /sa\.pub exists but sa\.key does not/);
});

test('several damaged files are all listed', async (t) => {
  const { dir } = await existingPki(t);
  rmSync(path.join(dir, 'sa.key'));
  chmodSync(path.join(dir, 'apiserver.key'), 0o644);
  rmSync(path.join(dir, 'front-proxy-client.crt'));
  const run = await rerunRefused(t, dir, /3 problems/, { several: true });
  t.regex(run.stderr, /^  - sa\.pub exists but sa\.key does not/m);
  t.regex(run.stderr, /^  - apiserver\.key .*chmod 600/m);
  t.regex(run.stderr, /^  - front-proxy-client\.key exists but front-proxy-client\.crt does not/m);
});

// ------------------------------------------------------------- dry run, output

test('--dry-run on a fresh dir writes nothing and prints no key', async (t) => {
  const root = scratch(t);
  const dir = path.join(root, 'a', 'b', 'pki');
  for (const output of ['text', 'json', 'yaml']) {
    const before = snapshot(root);
    const run = await kubepki(['init', ...dirs(dir), ...NODE, ...ALG, '--dry-run', '-o', output]);
    t.is(run.exitCode, 0, run.stderr);
    noSecrets(t, run);
    t.false(existsSync(path.join(root, 'a')), `--dry-run -o ${output} created folders`);
    t.deepEqual(snapshot(root), before);
    t.true(run.stdout.includes(dir));
  }
});

test('--dry-run on an existing PKI changes nothing', async (t) => {
  const { dir } = await existingPki(t);
  rmSync(path.join(dir, 'apiserver.crt'));
  rmSync(path.join(dir, 'apiserver.key'));
  const before = snapshot(dir);
  const run = await kubepki(['init', ...dirs(dir), ...NODE, ...ALG, '--dry-run', '-o', 'json']);
  t.is(run.exitCode, 0, run.stderr);
  noSecrets(t, run);
  t.deepEqual(snapshot(dir), before);
});

test('--dry-run with a damaged PKI shows the problem, exits non-zero, and changes nothing', async (t) => {
  const { dir } = await existingPki(t);
  chmodSync(path.join(dir, 'apiserver.key'), 0o644);
  const run = await refusesWithoutChange(t, path.dirname(dir), ['init', ...dirs(dir), ...NODE, ...ALG, '--dry-run']);
  t.regex(run.stderr, /apiserver\.key/);
});

test('a successful init (text and json) prints no private key', async (t) => {
  const root = scratch(t);
  for (const output of ['text', 'json', 'yaml']) {
    const run = await kubepki(['init', ...dirs(path.join(root, output, 'pki')), ...NODE, ...ALG, '-o', output]);
    t.is(run.exitCode, 0, run.stderr);
    noSecrets(t, run);
    t.notRegex(run.stdout + run.stderr, /BEGIN [A-Z ]*KEY/);
  }
});

// ------------------------------------------------------------- command-line mistakes

function usageError(t: ExecutionContext, run: Run, mentions: RegExp): void {
  t.is(run.exitCode, 2, run.stderr.slice(0, 400));
  t.regex(run.stderr, /^kubepki: error: /);
  t.regex(run.stderr, mentions);
  t.regex(run.stderr, /--help|Usage/);
  t.notRegex(run.stderr, /internal error|^\s+at /m);
  noSecrets(t, run);
}

test('init --output bogus: exit 2 with a usage message', async (t) => {
  const root = scratch(t);
  const before = snapshot(root);
  const run = await kubepki(['init', ...dirs(path.join(root, 'pki')), ...NODE, ...ALG, '--output', 'bogus']);
  usageError(t, run, /output/);
  t.regex(run.stderr, /bogus/);
  t.deepEqual(snapshot(root), before);
});

test('an unknown flag: exit 2 with a usage message', async (t) => {
  const root = scratch(t);
  const before = snapshot(root);
  const run = await kubepki(['init', ...dirs(path.join(root, 'pki')), ...NODE, ...ALG, '--frobnicate']);
  usageError(t, run, /frobnicate/);
  t.deepEqual(snapshot(root), before);
});

test('an unknown command, and no command: exit 2 with a usage message', async (t) => {
  usageError(t, await kubepki(['initialise']), /initialise/);
  usageError(t, await kubepki([]), /command/i);
});

test('an algorithm kubepki does not offer: exit 2 naming the choices', async (t) => {
  const root = scratch(t);
  const run = await kubepki(['init', ...dirs(path.join(root, 'pki')), ...NODE, '--encryption-algorithm', 'RSA-1024']);
  usageError(t, run, /RSA-1024/);
  t.regex(run.stderr, /ECDSA-P256/);
  t.false(existsSync(path.join(root, 'pki')));
});

test('a flag without its value: exit 2 with a usage message, no stack trace', async (t) => {
  const root = scratch(t);
  const before = snapshot(root);
  usageError(t, await kubepki(['init', ...dirs(path.join(root, 'pki')).slice(2), ...NODE, ...ALG, '--cert-dir']), /cert-dir/);
  // yargs reads "-bad-" as flags rather than as the value; either way, a clean usage error.
  usageError(t, await kubepki(['init', ...dirs(path.join(root, 'pki')), ...NODE, ...ALG, '--apiserver-cert-extra-sans', '-bad-']), /apiserver-cert-extra-sans|bad/);
  t.deepEqual(snapshot(root), before);
});
