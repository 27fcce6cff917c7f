/**
 * kubepki version and --version: the version from package.json, the git
 * commit the build was made from (git's own answer, not the code's), the
 * Node.js it runs on; -o json and -o yaml.
 */
import test from 'ava';
import { execa } from 'execa';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { parse } from 'yaml';
import { REPO, kubepki } from './helpers/cli.js';

const version = (JSON.parse(readFileSync(path.join(REPO, 'package.json'), 'utf8')) as { version: string }).version;

/**
 * The commit the build reports, checked with git itself: a commit of this
 * repository's history up to HEAD (HEAD in a fresh clone, which npm test
 * builds first; an earlier one when dist/ was built before the last commit).
 */
async function commit(t: import('ava').ExecutionContext): Promise<string> {
  const reported = JSON.parse((await kubepki(['version', '-o', 'json'])).stdout).commit as string;
  if ((await execa('git', ['rev-parse', 'HEAD'], { cwd: REPO, reject: false })).exitCode !== 0) {
    t.is(reported, 'unknown', 'outside a git checkout the commit is unknown');
    return reported;
  }
  t.regex(reported, /^[0-9a-f]{40}$/);
  t.is((await execa('git', ['merge-base', '--is-ancestor', reported, 'HEAD'], { cwd: REPO, reject: false })).exitCode, 0, `${reported} is a commit of this repository, HEAD or before it`);
  return reported;
}

test('kubepki version and --version print the version, the commit built from and the Node.js inside', async (t) => {
  const line = `kubepki ${version} (commit ${await commit(t)}, node ${process.version}, ${process.platform}-${process.arch})`;
  for (const args of [['version'], ['--version']]) {
    const r = await kubepki(args);
    t.is(r.exitCode, 0, r.stderr);
    t.is(r.stdout.trim(), line, args.join(' '));
  }
});

test('kubepki version -o json | yaml: the same, as data', async (t) => {
  const want = { version, commit: await commit(t), node: process.version, platform: `${process.platform}-${process.arch}` };
  const json = await kubepki(['version', '-o', 'json']);
  t.is(json.exitCode, 0, json.stderr);
  t.deepEqual(JSON.parse(json.stdout), want);
  const yaml = await kubepki(['version', '-o', 'yaml']);
  t.deepEqual(parse(yaml.stdout), want);
  const bad = await kubepki(['version', '-o', 'xml']);
  t.is(bad.exitCode, 2);
  t.regex(bad.stderr, /Invalid values:[\s\S]*output/);
});

test('kubepki completion: a bash script that completes commands through kubepki itself, in a real bash; zsh when $SHELL is zsh', async (t) => {
  const { mkdtempSync, rmSync, writeFileSync, chmodSync } = await import('node:fs');
  const os = await import('node:os');
  const dir = mkdtempSync(path.join(os.tmpdir(), 'kubepki-completion-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  // `kubepki` on PATH, as an installed one would be.
  writeFileSync(path.join(dir, 'kubepki'), `#!/bin/sh\nexec ${process.execPath} ${path.join(REPO, 'bin/kubepki.cjs')} "$@"\n`);
  chmodSync(path.join(dir, 'kubepki'), 0o755);
  const script = await kubepki(['completion']);
  t.is(script.exitCode, 0, script.stderr);
  t.regex(script.stdout, /complete -o bashdefault -o default -F _kubepki_yargs_completions kubepki/);
  writeFileSync(path.join(dir, 'kubepki.bash'), script.stdout);
  const complete = (line: string) => execa('bash', ['-c', [
    `source ${path.join(dir, 'kubepki.bash')}`,
    `COMP_LINE=${JSON.stringify(line)}; COMP_WORDS=(${line}); COMP_CWORD=$(( \${#COMP_WORDS[@]} - 1 )); COMP_POINT=\${#COMP_LINE}`,
    '_kubepki_yargs_completions', 'printf "%s\\n" "${COMPREPLY[@]}"',
  ].join('\n')], { env: { PATH: `${dir}:/usr/bin:/bin` }, reject: false });
  const certs = await complete('kubepki certs re');
  t.is(certs.exitCode, 0, certs.stderr);
  t.deepEqual(certs.stdout.trim().split('\n').sort(), ['reconcile', 'renew']);
  const top = await complete('kubepki ver');
  t.deepEqual(top.stdout.trim().split('\n'), ['version']);
  const zsh = await kubepki(['completion'], { env: { SHELL: '/bin/zsh' } });
  t.regex(zsh.stdout, /^#compdef kubepki$/m);
});
