/**
 * The installed CLI: bin/kubepki.cjs runs the bundle with V8's code cache.
 * A cache that is missing, corrupt or made by another Node.js version may only
 * make start-up slower; the CLI itself loads no TypeScript compiler.
 */
import test from 'ava';
import { execa } from 'execa';
import { cpSync, existsSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { NODE, REPO, scratch } from './helpers/cli.js';

/** A copy of the installed CLI (what npm would install: bin, the bundle, templates, package.json). */
function install(t: import('ava').ExecutionContext): string {
  const dir = scratch(t);
  for (const part of ['bin', 'dist/bundle', 'templates', 'package.json']) cpSync(path.join(REPO, part), path.join(dir, part), { recursive: true });
  return dir;
}

const run = (dir: string, args: string[]) => execa(process.execPath, [path.join(dir, 'bin/kubepki.cjs'), ...args], { reject: false, timeout: 60_000 });

test('the build ships a code cache beside the bundle, and the bundle holds no TypeScript compiler', (t) => {
  const bundle = path.join(REPO, 'dist/bundle/kubepki.cjs');
  t.true(statSync(`${bundle}.cache`).size > 100_000, 'a code cache of the bundle');
  const text = readFileSync(bundle, 'utf8');
  t.false(/require\(["']typescript["']\)|ts\.createProgram/.test(text), 'no TypeScript at run time');
  t.false(/require\(["']node:assert["']\)|require\(["']assert["']\)/.test(text), 'node:assert is replaced by the shim');
});

test('a corrupt, foreign or missing code cache only costs start-up time: every command still works', async (t) => {
  const dir = install(t);
  const cache = path.join(dir, 'dist/bundle/kubepki.cjs.cache');
  const version = JSON.parse(readFileSync(path.join(REPO, 'package.json'), 'utf8')).version as string;
  for (const [what, prepare] of [
    ['corrupt', () => writeFileSync(cache, Buffer.alloc(4096, 0xa5))],
    ['truncated', () => writeFileSync(cache, readFileSync(path.join(REPO, 'dist/bundle/kubepki.cjs.cache')).subarray(0, 1000))],
    ['missing', () => rmSync(cache, { force: true })],
  ] as const) {
    prepare();
    const v = await run(dir, ['--version']);
    t.is(v.exitCode, 0, `${what}: ${v.stderr}`);
    t.true(v.stdout.startsWith(`kubepki ${version} (commit `), `${what}: ${v.stdout}`);
    const out = path.join(dir, `pki-${what}`);
    const init = await run(dir, ['init', '--cert-dir', out, ...NODE, '--encryption-algorithm', 'ECDSA-P256', '--skip-phases', 'kubeconfig,flags']);
    t.is(init.exitCode, 0, `${what}: ${init.stderr}`);
    t.true(existsSync(path.join(out, 'apiserver.crt')), what);
    t.is(init.stderr, '', `${what}: nothing on stderr (no warning about the cache)`);
  }
});

test('help still lays out its columns (widths of its printable ASCII answered by the shim, lib/shims/string-width.ts)', async (t) => {
  const help = await run(REPO, ['certs', '--help']);
  t.is(help.exitCode, 0, help.stderr);
  t.regex(help.stdout, /^ {2}kubepki certs check-expiration {2,}\S/m, 'command and description side by side');
  t.regex(help.stdout, /--help +Show help +\[boolean\]$/m);
});

test('the string-width shim answers printable ASCII exactly as string-width does, and leaves every other string to it', async (t) => {
  const { default: shim } = await import('../lib/shims/string-width.js');
  const { default: real } = await import('string-width');
  const fc = (await import('fast-check')).default;
  const ascii = fc.string({ unit: fc.integer({ min: 0x20, max: 0x7e }).map((c) => String.fromCharCode(c)), maxLength: 200 });
  fc.assert(fc.property(ascii, (s) => shim(s) === real(s)), { numRuns: 500 });
  t.is(shim(''), 0);
  // Anything else goes to the real module (loaded by require in the bundle; there is none in this ES module test).
  for (const other of ['\u001b[1mbold\u001b[22m', 'caf\u00e9', '\u4e2d\u6587', 'tab\there', '\u{1F600}']) {
    t.throws(() => shim(other), { instanceOf: ReferenceError, message: /require is not defined/ }, JSON.stringify(other));
  }
});
