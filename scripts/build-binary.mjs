#!/usr/bin/env node
// Build dist/kubepki-linux-x64: Node's single executable application (SEA)
// of kubepki, with the bundle, its V8 code cache (the build's, made after its
// warm-up runs) and the unit templates inside, run by scripts/sea-main.cjs,
// so that it reads nothing from node_modules or the checkout. Node 20's
// --experimental-sea-config writes the blob; postject (npm) puts it into a
// copy of this node binary. The bundle is built first when it is missing.
//
// usage: npm run build:binary    (or node scripts/build-binary.mjs [--out FILE])
import { execFileSync } from 'node:child_process';
import { chmodSync, copyFileSync, existsSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const root = path.dirname(path.dirname(fileURLToPath(import.meta.url)));
const bundle = path.join(root, 'dist/bundle/kubepki.cjs');
const at = process.argv.indexOf('--out');
const out = at > 0 && process.argv[at + 1] ? path.resolve(process.argv[at + 1]) : path.join(root, `dist/kubepki-${process.platform}-${process.arch}`);
const run = (cmd, args) => execFileSync(cmd, args, { cwd: root, stdio: ['ignore', 'inherit', 'inherit'] });

if (!existsSync(bundle)) run(process.execPath, [path.join(root, 'scripts/build.mjs')]);
const work = mkdtempSync(path.join(tmpdir(), 'kubepki-sea-'));
try {
  // The bundle and its code cache (run by scripts/sea-main.cjs, as bin/kubepki.cjs runs them), and every
  // template under its repository path (lib/sea.ts reads them).
  const assets = {
    'kubepki.cjs': bundle,
    ...(existsSync(`${bundle}.cache`) ? { 'kubepki.cjs.cache': `${bundle}.cache` } : {}),
    ...Object.fromEntries(readdirSync(path.join(root, 'templates')).map((f) => [`templates/${f}`, path.join(root, 'templates', f)])),
  };
  const blob = path.join(work, 'kubepki.blob');
  writeFileSync(path.join(work, 'sea-config.json'), JSON.stringify({ main: path.join(root, 'scripts/sea-main.cjs'), output: blob, disableExperimentalSEAWarning: true, assets }));
  run(process.execPath, ['--experimental-sea-config', path.join(work, 'sea-config.json')]);
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
  copyFileSync(exe, out);
  chmodSync(out, 0o755);
  process.stderr.write(`build-binary: wrote ${out}\n`);
} finally {
  rmSync(work, { recursive: true, force: true });
}
