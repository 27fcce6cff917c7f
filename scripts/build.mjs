#!/usr/bin/env node
// Build: type-check and emit lib/ and test/ to dist/ with tsc (tests import the
// modules from there), then bundle the CLI with esbuild into dist/bundle/.
// The bundle is what bin/kubepki.js loads: one pre-linked ES module graph loads
// markedly faster than hundreds of node_modules files (see README, start-up),
// and command handlers are split into chunks loaded only when that command runs.
import { execFileSync } from 'node:child_process';
import { renameSync, rmSync } from 'node:fs';
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
await esbuild.build({
  entryPoints: [path.join(root, 'lib/cli.ts')],
  outdir: path.join(next, 'bundle'),
  bundle: true,
  splitting: true,
  format: 'esm',
  platform: 'node',
  target: 'node20',
  // Whitespace and syntax only: identifiers stay readable in the trace of an internal error.
  minifyWhitespace: true,
  minifySyntax: true,
  legalComments: 'linked',
  logLevel: 'warning',
  // CommonJS dependencies (yargs helpers, ipaddr.js) call require(); give ESM chunks one.
  banner: { js: "import{createRequire as __kubepkiCreateRequire}from'node:module';const require=__kubepkiCreateRequire(import.meta.url);" },
});

rmSync(path.join(root, 'dist'), { recursive: true, force: true });
renameSync(next, path.join(root, 'dist'));
