/**
 * The Debian package (scripts/build-deb): installed with dpkg -i (as root, as
 * CI runs), `kubepki --version` and `man -w kubepki` work and the completion
 * is where bash-completion looks; dpkg -r removes every file it installed and
 * nothing else; no file under /etc/kubernetes is touched; lintian, when it is
 * installed, reports no errors. Skipped when not root, without dpkg, or when a
 * kubepki package is installed already (it is never replaced by a test).
 */
import test from 'ava';
import { execa } from 'execa';
import { existsSync, lstatSync, mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { REPO, snapshot } from './helpers/cli.js';

const installed = async () => (await execa('dpkg-query', ['-W', '-f=${Status}', 'kubepki'], { reject: false })).stdout.includes('install ok installed');

test('dpkg -i installs kubepki, its man page and completion; dpkg -r removes exactly what it installed; /etc/kubernetes is not touched', async (t) => {
  t.timeout(300_000);
  const dpkg = await execa('sh', ['-c', 'command -v dpkg && command -v dpkg-deb'], { reject: false });
  if (process.getuid?.() !== 0 || dpkg.exitCode !== 0) {
    t.log('not root, or no dpkg: skipped');
    t.pass();
    return;
  }
  if (await installed()) {
    t.log('a kubepki package is installed on this machine already: skipped, never replaced');
    t.pass();
    return;
  }
  const dir = mkdtempSync(path.join(os.tmpdir(), 'kubepki-deb-'));
  t.teardown(async () => {
    if (await installed()) await execa('dpkg', ['--purge', 'kubepki'], { reject: false });
    rmSync(dir, { recursive: true, force: true });
  });
  const deb = path.join(dir, 'kubepki.deb');
  const built = await execa(path.join(REPO, 'scripts/build-deb'), ['--out', deb], { reject: false, cwd: REPO });
  t.is(built.exitCode, 0, built.stderr);
  const etc = existsSync('/etc/kubernetes') ? snapshot('/etc/kubernetes') : undefined;
  const contents = (await execa('dpkg-deb', ['-c', deb])).stdout;
  t.false(/ \.\/etc\//.test(contents), 'nothing under /etc in the package');

  const install = await execa('dpkg', ['-i', deb], { reject: false });
  t.is(install.exitCode, 0, install.stderr);
  const version = await execa('/usr/bin/kubepki', ['--version'], { reject: false, env: {} });
  t.regex(version.stdout, /^kubepki \d+\.\d+\.\d+ \(commit \w+, node v20\./);
  t.is((await execa('man', ['-w', 'kubepki'], { reject: false })).stdout.trim(), '/usr/share/man/man1/kubepki.1.gz');
  const page = await execa('man', ['-P', 'cat', 'kubepki'], { reject: false, env: { MANWIDTH: '80', PATH: '/usr/bin:/bin' } });
  t.regex(page.stdout, /KUBEPKI CERTS RECONCILE/, 'the man page holds each command\'s help');
  t.true(existsSync('/usr/share/bash-completion/completions/kubepki'));
  t.true(existsSync('/usr/share/zsh/vendor-completions/_kubepki'));
  t.true(existsSync('/usr/share/kubepki/templates/kube-apiserver.service'));
  const files = (await execa('dpkg', ['-L', 'kubepki'])).stdout.split('\n').filter((f) => f && !lstatSync(f).isDirectory());
  t.true(files.includes('/usr/bin/kubepki'));

  const remove = await execa('dpkg', ['-r', 'kubepki'], { reject: false });
  t.is(remove.exitCode, 0, remove.stderr);
  t.deepEqual(files.filter((f) => existsSync(f)), [], 'every file it installed is gone');
  t.false(existsSync('/usr/share/kubepki'), 'its own folders too');
  t.true(existsSync('/usr/share/man/man1'), 'and only its own');
  if (etc) t.deepEqual(snapshot('/etc/kubernetes'), etc, '/etc/kubernetes is as it was');
  else t.false(existsSync('/etc/kubernetes'), 'no /etc/kubernetes was made');

  if ((await execa('sh', ['-c', 'command -v lintian'], { reject: false })).exitCode !== 0) {
    t.log('lintian is not installed: not run');
    return;
  }
  const lintian = await execa('lintian', [deb], { reject: false, timeout: 240_000 });
  t.deepEqual(lintian.stdout.split('\n').filter((l) => l.startsWith('E:')), [], lintian.stdout);
  t.log(`lintian: ${lintian.stdout.split('\n').filter((l) => /^[EW]:/.test(l)).length} warnings or errors: ${lintian.stdout.replace(/\n/g, '; ')}`);
});
