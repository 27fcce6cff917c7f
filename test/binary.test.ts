/**
 * The single executable (npm run build:binary): built into an empty folder,
 * run from another one with an empty environment (env -i), it does init on
 * the shipped example, check-expiration, renew and render systemd (its
 * templates are inside it), and the layout verifies with openssl. PKCS#11,
 * a native addon, is refused in words.
 */
import test from 'ava';
import { execa } from 'execa';
import { copyFileSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { REPO, openssl } from './helpers/cli.js';

test('the single executable, alone in a folder and run with an empty environment: init on the shipped example, check-expiration, renew, render systemd', async (t) => {
  t.timeout(180_000);
  const dir = mkdtempSync(path.join(os.tmpdir(), 'kubepki-binary-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const bin = path.join(dir, 'bin');
  mkdirSync(bin);
  const exe = path.join(bin, 'kubepki-linux-x64');
  // Built under umask 0 and run under umask 077 below: the executable starts from a heap the build made
  // (its start-up snapshot), and must use the umask of its own run, not the build's.
  const built = await execa('sh', ['-c', 'umask 0 && exec "$0" "$@"', process.execPath, path.join(REPO, 'scripts/build-binary.mjs'), '--out', exe], { reject: false, cwd: REPO });
  t.is(built.exitCode, 0, built.stderr);
  t.deepEqual(readdirSync(bin), ['kubepki-linux-x64'], 'one file');

  const work = path.join(dir, 'work');
  mkdirSync(work);
  copyFileSync(path.join(REPO, 'examples/cluster.yaml'), path.join(work, 'cluster.yaml'));
  const k = (...args: string[]) => execa('sh', ['-c', 'umask 077 && exec env -i "$0" "$@"', exe, ...args], { cwd: work, reject: false, timeout: 60_000 });
  const dirs = ['--config', 'cluster.yaml', '--kubeconfig-dir', work, '--flags-dir', path.join(work, 'flags')];

  const version = await k('version');
  t.regex(version.stdout, /^kubepki \d+\.\d+\.\d+ \(commit \w+, node v20\./);
  const init = await k('init', ...dirs);
  t.is(init.exitCode, 0, init.stderr);
  t.regex(init.stdout, /\[certs\] Generating "apiserver" certificate and key/);
  for (const leaf of ['apiserver', 'apiserver-kubelet-client', 'kubelet-server']) {
    t.is((await openssl(['verify', '-CAfile', path.join(work, 'pki/ca.crt'), path.join(work, `pki/${leaf}.crt`)])).exitCode, 0, leaf);
  }
  t.is((await openssl(['verify', '-CAfile', path.join(work, 'pki/etcd/ca.crt'), path.join(work, 'pki/etcd/server.crt')])).exitCode, 0);
  t.is(statSync(path.join(work, 'pki/ca.crt')).mode & 0o777, 0o644, 'a certificate is 0644 whatever the umask');
  t.is(statSync(path.join(work, 'pki/ca.key')).mode & 0o777, 0o600);
  const check = await k('certs', 'check-expiration', ...dirs);
  t.is(check.exitCode, 0, check.stdout + check.stderr);
  t.regex(check.stdout, /^apiserver +\w{3} \d\d, \d{4}/m);
  const before = readFileSync(path.join(work, 'pki/apiserver.crt'), 'utf8');
  const renew = await k('certs', 'renew', 'all', ...dirs);
  t.is(renew.exitCode, 0, renew.stderr);
  t.not(readFileSync(path.join(work, 'pki/apiserver.crt'), 'utf8'), before);
  t.is((await openssl(['verify', '-CAfile', path.join(work, 'pki/ca.crt'), path.join(work, 'pki/apiserver.crt')])).exitCode, 0);
  const units = path.join(work, 'units');
  const render = await k('render', 'systemd', ...dirs, '--out', units);
  t.is(render.exitCode, 0, render.stderr);
  t.regex(readFileSync(path.join(units, 'kube-apiserver.service'), 'utf8'), /^# kube-apiserver\.service: written by kubepki/m);
  t.regex(readFileSync(path.join(units, 'kubepki-renew.service'), 'utf8'), new RegExp(`^ExecStart=${exe.replace(/[.]/g, '\\.')} certs renew --expiring-within 30d --restart `, 'm'), 'the renewal runs the executable itself');

  // Every run draws its own randomness: nothing random was kept in the snapshot (crypto.randomInt's cache would be).
  const second = path.join(dir, 'second');
  const again = await k('init', '--config', 'cluster.yaml', '--cert-dir', path.join(second, 'pki'), '--kubeconfig-dir', second, '--flags-dir', path.join(second, 'flags'));
  t.is(again.exitCode, 0, again.stderr);
  const serial = async (file: string) => (await openssl(['x509', '-noout', '-serial', '-in', file])).stdout;
  t.not(await serial(path.join(second, 'pki/ca.crt')), await serial(path.join(work, 'pki/ca.crt')));
  t.not(readFileSync(path.join(second, 'pki/apiserver.key'), 'utf8'), readFileSync(path.join(work, 'pki/apiserver.key'), 'utf8'));
  const tokens = await Promise.all([1, 2].map(async (n) => {
    const made = await k('token', 'create', ...dirs, '--out-dir', path.join(dir, `tokens-${n}`));
    t.is(made.exitCode, 0, made.stderr);
    return made.stdout.trim();
  }));
  t.regex(tokens[0]!, /^[a-z0-9]{6}\.[a-z0-9]{16}$/);
  t.not(tokens[0], tokens[1]);

  const pin = path.join(work, 'pin');
  writeFileSync(pin, '987654\n', { mode: 0o600 });
  const token = await k('init', '--cert-dir', path.join(work, 'hsm'), '--node-name', 'cp-1', '--apiserver-advertise-address', '10.0.0.1',
    '--ca-key', `ca=pkcs11:token=kubepki;object=ca?module-path=/usr/lib/softhsm/libsofthsm2.so&pin-source=file:${pin}`);
  t.not(token.exitCode, 0);
  t.regex(token.stderr, /the single executable cannot load the PKCS#11 binding/);
  t.notRegex(token.stderr, /987654/, 'no PIN in the message');
});
