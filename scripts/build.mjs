#!/usr/bin/env node
// Build: type-check and emit lib/ and test/ to dist/ with tsc (tests import the
// modules from there), then bundle the CLI with esbuild into one file,
// dist/bundle/kubepki.cjs, with V8's code cache for it beside it. The bundle is
// what bin/kubepki.cjs loads: one pre-linked file loads markedly faster than
// hundreds of node_modules files (see README, start-up).
import { execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, renameSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';
import path from 'node:path';

const root = path.dirname(path.dirname(fileURLToPath(import.meta.url)));
const require = createRequire(import.meta.url);
// Build into dist-next and swap it in at the end: a failed build leaves the last good dist/ in place.
const next = path.join(root, 'dist-next');
rmSync(next, { recursive: true, force: true });
try {
  execFileSync(process.execPath, [require.resolve('typescript/bin/tsc'), '-p', path.join(root, 'tsconfig.json'), '--outDir', next], { stdio: 'inherit', cwd: root });
} catch {
  rmSync(next, { recursive: true, force: true });
  process.stderr.write('build: the TypeScript compiler reported errors (above); dist/ was left as it was\n');
  process.exit(1);
}
const esbuild = await import('esbuild');
const { version } = JSON.parse(readFileSync(path.join(root, 'package.json'), 'utf8'));
// The commit `kubepki version` reports: KUBEPKI_COMMIT when the build is not in a git checkout (a release tarball).
const commit = process.env.KUBEPKI_COMMIT || (() => {
  try {
    return execFileSync('git', ['rev-parse', 'HEAD'], { cwd: root, stdio: ['ignore', 'pipe', 'ignore'] }).toString().trim() || 'unknown';
  } catch {
    return 'unknown';
  }
})();
const bundle = path.join(next, 'bundle', 'kubepki.cjs');
await esbuild.build({
  entryPoints: [path.join(root, 'lib/cli.ts')],
  outfile: bundle,
  bundle: true,
  // One CommonJS file, so that bin/kubepki.cjs can hand V8 a code cache for it
  // (Node 20 takes cached code for scripts, not for ES modules). Dynamic
  // imports stay lazy: esbuild runs each imported module's top level only
  // when a command imports it.
  format: 'cjs',
  platform: 'node',
  target: 'node20',
  // Whitespace and syntax only: identifiers stay readable in the trace of an internal error.
  minifyWhitespace: true,
  minifySyntax: true,
  legalComments: 'linked',
  logLevel: 'warning',
  // ES modules in the bundle (ours, yargs, execa) read import.meta.url; give them the bundle's.
  banner: { js: "var __kubepkiImportMetaUrl=require('node:url').pathToFileURL(__filename).href;" },
  // Start-up: yargs imports node:assert for two checks (a small stand-in saves
  // loading it), and string-width, whose top level costs 10-20 ms, for help
  // text only (deferred to its first call). See lib/shims/.
  alias: { assert: path.join(root, 'lib/shims/assert.ts'), 'string-width': path.join(root, 'lib/shims/string-width.ts') },
  define: { 'import.meta.url': '__kubepkiImportMetaUrl', __KUBEPKI_VERSION__: JSON.stringify(version), __KUBEPKI_COMMIT__: JSON.stringify(commit) },
});

// V8's code cache: the bundle's functions compiled once, here, by running the
// main jobs in one process (init with every phase on a scratch folder, init again
// over what it wrote, then a CA rotation's start, issue and complete, a reconcile
// check-expiration and audit: the commands that read certificates, keys and kubeconfigs
// back). bin/kubepki.cjs hands it
// to V8, which skips parsing and compiling what it holds (~60 ms of start-up on
// this project's 2-core machine). V8 checks it against its own version and flags
// and ignores it when they differ: only slower, never wrong.
const scratch = mkdtempSync(path.join(tmpdir(), 'kubepki-build-'));
try {
  const dirs = ['--cert-dir', path.join(scratch, 'pki'), '--kubeconfig-dir', scratch, '--flags-dir', path.join(scratch, 'flags'),
    '--node-name', 'build', '--advertise-address', '192.0.2.10', '--encryption-algorithm', 'ECDSA-P256'];
  const warmup = [['init', ...dirs], ...['start', 'issue', 'complete'].map((step) => ['ca', 'rotate', step, ...dirs]),
    ['certs', 'reconcile', ...dirs, '--apiserver-cert-extra-sans', 'warm-up.example'], ['certs', 'check-expiration', ...dirs], ['audit', ...dirs]];
  execFileSync(process.execPath, [path.join(root, 'bin/kubepki.cjs'), 'init', ...dirs], {
    stdio: process.env.KUBEPKI_BUILD_DEBUG ? 'inherit' : 'ignore', env: { ...process.env, KUBEPKI_BUNDLE: bundle, KUBEPKI_CODE_CACHE_OUT: `${bundle}.cache`, KUBEPKI_WARMUP: JSON.stringify(warmup) },
  });
  // Each warm-up command must have done its work (a failed one would leave its code out of the cache).
  if (!existsSync(path.join(scratch, 'kubepki-backups'))) throw new Error('the CA rotation of the warm-up did not run');
} catch (e) {
  process.stderr.write(`build: warning: no code cache made (the warm-up run of init failed: ${e.message}); kubepki works without it, only starts slower\n`);
} finally {
  rmSync(scratch, { recursive: true, force: true });
}

rmSync(path.join(root, 'dist'), { recursive: true, force: true });
renameSync(next, path.join(root, 'dist'));
