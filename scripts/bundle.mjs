// What scripts/build.mjs and scripts/build-binary.mjs share: the esbuild options
// of kubepki's one-file bundle, and the warm-up: the command lines whose code the
// V8 code cache (bin/kubepki.cjs) and the executable's start-up snapshot
// (lib/snapshot.ts) hold compiled.
import { execFileSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

export const root = path.dirname(path.dirname(fileURLToPath(import.meta.url)));

function commit() {
  // The commit `kubepki version` reports: KUBEPKI_COMMIT when the build is not in a git checkout (a release tarball).
  if (process.env.KUBEPKI_COMMIT) return process.env.KUBEPKI_COMMIT;
  try {
    return execFileSync('git', ['rev-parse', 'HEAD'], { cwd: root, stdio: ['ignore', 'pipe', 'ignore'] }).toString().trim() || 'unknown';
  } catch {
    return 'unknown';
  }
}

/** esbuild's options for a bundle of `entry` (a file under lib/) written to `outfile`. */
export function bundleOptions(entry, outfile) {
  const { version } = JSON.parse(readFileSync(path.join(root, 'package.json'), 'utf8'));
  return {
    entryPoints: [path.join(root, entry)],
    outfile,
    bundle: true,
    // One CommonJS file, so that bin/kubepki.cjs can hand V8 a code cache for it
    // (Node 20 takes cached code for scripts, not for ES modules), and so that it
    // can be a start-up snapshot's entry. Dynamic imports stay lazy: esbuild runs
    // each imported module's top level only when a command imports it.
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
    define: { 'import.meta.url': '__kubepkiImportMetaUrl', __KUBEPKI_VERSION__: JSON.stringify(version), __KUBEPKI_COMMIT__: JSON.stringify(commit()) },
  };
}

/**
 * The warm-up, over a scratch folder: init with every phase, a CA rotation's
 * start, issue and complete, a reconcile, check-expiration and audit (the
 * commands that read certificates, keys and kubeconfigs back), one after the
 * other in one process. What they compile is what the cache and the snapshot hold.
 */
export function warmupCommands(scratch) {
  const dirs = ['--cert-dir', path.join(scratch, 'pki'), '--kubeconfig-dir', scratch, '--flags-dir', path.join(scratch, 'flags'),
    '--node-name', 'build', '--advertise-address', '192.0.2.10', '--encryption-algorithm', 'ECDSA-P256'];
  return [['init', ...dirs], ...['start', 'issue', 'complete'].map((step) => ['ca', 'rotate', step, ...dirs]),
    ['certs', 'reconcile', ...dirs, '--apiserver-cert-extra-sans', 'warm-up.example'], ['certs', 'check-expiration', ...dirs], ['audit', ...dirs]];
}

/** Whether the warm-up did its work (a failed command would leave its code out): the CA rotation leaves backups. */
export const warmupRan = (scratch) => existsSync(path.join(scratch, 'kubepki-backups'));
