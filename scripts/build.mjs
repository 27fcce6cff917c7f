#!/usr/bin/env node
// Build: type-check and emit lib/ and test/ to dist/ with tsc (tests import the
// modules from there), then bundle the CLI with esbuild into one file,
// dist/bundle/kubepki.cjs, with V8's code cache for it beside it. The bundle is
// what bin/kubepki.cjs loads: one pre-linked file loads markedly faster than
// hundreds of node_modules files (see README, start-up).
import { execFileSync } from 'node:child_process';
import { mkdtempSync, renameSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { createRequire } from 'node:module';
import path from 'node:path';
import { bundleOptions, root, warmupCommands, warmupRan } from './bundle.mjs';

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
const bundle = path.join(next, 'bundle', 'kubepki.cjs');
await esbuild.build(bundleOptions('lib/main.ts', bundle));

// V8's code cache: the bundle's functions compiled once, here, by running the
// warm-up (scripts/bundle.mjs) in one process. bin/kubepki.cjs hands it to V8,
// which skips parsing and compiling what it holds (~60 ms of start-up on this
// project's 2-core machine). V8 checks it against its own version and flags
// and ignores it when they differ: only slower, never wrong.
const scratch = mkdtempSync(path.join(tmpdir(), 'kubepki-build-'));
try {
  const [first, ...more] = warmupCommands(scratch);
  execFileSync(process.execPath, [path.join(root, 'bin/kubepki.cjs'), ...first], {
    stdio: process.env.KUBEPKI_BUILD_DEBUG ? 'inherit' : 'ignore', env: { ...process.env, KUBEPKI_BUNDLE: bundle, KUBEPKI_CODE_CACHE_OUT: `${bundle}.cache`, KUBEPKI_WARMUP: JSON.stringify(more) },
  });
  if (!warmupRan(scratch)) throw new Error('the CA rotation of the warm-up did not run');
} catch (e) {
  process.stderr.write(`build: warning: no code cache made (the warm-up run of init failed: ${e.message}); kubepki works without it, only starts slower\n`);
} finally {
  rmSync(scratch, { recursive: true, force: true });
}

rmSync(path.join(root, 'dist'), { recursive: true, force: true });
renameSync(next, path.join(root, 'dist'));
