#!/usr/bin/env node
// Build dist/kubepki-linux-x64: Node's single executable application (SEA) of
// kubepki, which starts from a V8 start-up snapshot (SEA `useSnapshot`) and
// carries the unit templates as assets, so that it reads nothing from
// node_modules or the checkout. The snapshot's entry is lib/snapshot.ts,
// bundled here with the options of the main bundle (scripts/bundle.mjs): Node
// runs it with the build's warm-up commands over a scratch folder, and keeps
// the heap it leaves, every module loaded and every function they ran
// compiled. Node 20's --experimental-sea-config writes the blob; postject (npm)
// puts it into a stripped copy of this node binary.
//
// usage: npm run build:binary    (or node scripts/build-binary.mjs [--out FILE])
import { execFileSync, spawnSync } from 'node:child_process';
import { chmodSync, copyFileSync, mkdirSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { bundleOptions, root, warmupCommands, warmupRan } from './bundle.mjs';

const at = process.argv.indexOf('--out');
const out = at > 0 && process.argv[at + 1] ? path.resolve(process.argv[at + 1]) : path.join(root, `dist/kubepki-${process.platform}-${process.arch}`);
const run = (cmd, args) => execFileSync(cmd, args, { cwd: root, stdio: ['ignore', 'inherit', 'inherit'] });
const fail = (message) => {
  process.stderr.write(`build-binary: error: ${message}\n`);
  process.exit(1);
};

const work = mkdtempSync(path.join(tmpdir(), 'kubepki-sea-'));
try {
  const entry = path.join(work, 'kubepki-snapshot.cjs');
  const esbuild = await import('esbuild');
  await esbuild.build(bundleOptions('lib/snapshot.ts', entry));
  // Every template under its repository path (lib/sea.ts reads them).
  const assets = Object.fromEntries(readdirSync(path.join(root, 'templates')).map((f) => [`templates/${f}`, path.join(root, 'templates', f)]));
  const blob = path.join(work, 'kubepki.blob');
  writeFileSync(path.join(work, 'sea-config.json'), JSON.stringify({ main: entry, output: blob, disableExperimentalSEAWarning: true, useSnapshot: true, assets }));
  const scratch = path.join(work, 'warm-up');
  mkdirSync(scratch);
  const sea = spawnSync(process.execPath, ['--experimental-sea-config', path.join(work, 'sea-config.json')], {
    cwd: work, encoding: 'utf8', stdio: ['ignore', 'inherit', 'pipe'],
    env: { ...process.env, KUBEPKI_SNAPSHOT_WARMUP: JSON.stringify(warmupCommands(scratch)) },
  });
  // Node says, for every snapshot, that it has not verified node:module there (the bundle's createRequire): not news.
  const known = /built-in module "node:module" works in user snapshot|^It may still work in some cases|^To request support for the module|^\(Use `node --trace-warnings/;
  const said = (sea.stderr ?? '').split('\n').filter((l) => l && !known.test(l));
  if (said.length) process.stderr.write(`${said.join('\n')}\n`);
  if (sea.status !== 0) fail(`node --experimental-sea-config failed (exit ${sea.status ?? sea.signal}); see above`);
  if (!warmupRan(scratch)) fail('the snapshot\'s warm-up did not run its CA rotation: the snapshot would lack their code');
  const exe = path.join(work, 'kubepki');
  copyFileSync(process.execPath, exe);
  chmodSync(exe, 0o755);
  // Stripped before the blob goes in (stripping after would cut it out): ~12 MB less, and what Debian's packages ship.
  try {
    execFileSync('strip', [exe], { stdio: 'ignore' });
  } catch {
    process.stderr.write('build-binary: strip is not here (Debian: binutils); the executable keeps its symbols\n');
  }
  run(process.execPath, [path.join(root, 'node_modules/postject/dist/cli.js'), exe, 'NODE_SEA_BLOB', blob, '--sentinel-fuse', 'NODE_SEA_FUSE_fce680ab2cc467b6e072b8b5df1996b2']);
  mkdirSync(path.dirname(out), { recursive: true });
  copyFileSync(exe, out);
  chmodSync(out, 0o755);
  process.stderr.write(`build-binary: wrote ${out}\n`);
} finally {
  rmSync(work, { recursive: true, force: true });
}
