/**
 * kubepki init: the control plane's PKI from the cluster description.
 * Plan first (what will be created, reused, kept), then write everything at once.
 */
import { lstatSync, statSync } from 'node:fs';
import path from 'node:path';
import { loadSpec, type OverrideFlag } from '../config/load.js';
import { describeSystemError, UserError } from '../errors.js';
import { KeyPool } from '../pki/keys.js';
import { INIT_ROOTS, SKIPPABLE_PHASES, initDirs, keysToCreate, type Phase } from '../engine/roots.js';
import { ALGORITHMS } from '../pki/algorithms.js';
import { CA_NAMES, caEntry, certPath } from '../pki/catalog.js';
import type { OutputFormat } from '../output.js';

export interface InitOptions extends Partial<Record<OverrideFlag, unknown>> {
  config?: string;
  dryRun?: boolean;
  skipPhases?: string;
  output: OutputFormat;
}

/** Each directory may be absent (it is created) or a directory (a symbolic link to one is fine). */
function checkDir(dir: string): void {
  try {
    if (!statSync(dir).isDirectory()) throw new UserError(`${dir} exists and is not a directory; choose another directory`);
  } catch (e) {
    if (e instanceof UserError) throw e;
    const code = (e as NodeJS.ErrnoException).code;
    if (code === 'ENOENT') return;
    if (code === 'ENOTDIR') throw new UserError(`${dir} lies inside a file, not a directory; choose another directory`);
    throw new UserError(`cannot use ${dir}: ${describeSystemError(e)}`);
  }
}

function parseSkipPhases(text: string | undefined): Set<Phase> {
  const names = (text ?? '').split(',').map((s) => s.trim()).filter(Boolean);
  const bad = names.find((n) => !(SKIPPABLE_PHASES as readonly string[]).includes(n));
  if (bad !== undefined) throw new UserError(`--skip-phases: "${bad}" is not a phase that can be skipped (${SKIPPABLE_PHASES.join(', ')})`, { exitCode: 2 });
  return new Set(names as Phase[]);
}

const PROBLEMS = { problems: 'problems with the existing files' };

const exists = (dir: string, rel: string) => lstatSync(path.join(dir, rel), { throwIfNoEntry: false }) !== undefined;

export async function runInit(options: InitOptions): Promise<number> {
  const now = Date.now();
  const skip = parseSkipPhases(options.skipPhases);
  const spec = loadSpec(options.config, options);
  const dirs = initDirs(spec);
  for (const root of INIT_ROOTS) checkDir(dirs[root]);

  const pool = new KeyPool();
  if (!options.dryRun) {
    // Start key generation on the thread pool now; the engine loads meanwhile.
    pool.prefetch(spec.encryptionAlgorithm, keysToCreate(spec, (rel) => exists(dirs.certs, rel), skip.has('kubeconfig') ? undefined : (file) => exists(dirs.kubeconfigs, file)));
  }
  // A CA key to make inside a token: begin it now too (it takes longer than the rest of the start-up).
  const tokenCAs = CA_NAMES.filter((n) => spec.caKeys[n] && !exists(dirs.certs, certPath(caEntry(n))));
  if (!options.dryRun && tokenCAs.length) {
    const [{ Token }, { parsePkcs11Uri }] = await Promise.all([import('../pki/pkcs11.js'), import('../pki/pkcs11-uri.js')]);
    for (const n of tokenCAs) {
      const uri = parsePkcs11Uri(spec.caKeys[n]!);
      try {
        Token.open(uri).prefetch(uri, ALGORITHMS[spec.encryptionAlgorithm]);
      } catch {
        // the observer opens the token again, and reports what is wrong with it
      }
    }
  }
  const [{ Run }, { clusterTargets }, { planData, describeApplied }] = await Promise.all([
    import('../engine/run.js'),
    import('../engine/desired.js'),
    import('../engine/render.js'),
  ]);
  const run = new Run({ dirs, now, pool, show: { certs: 'relative', kubeconfigs: 'in-dir', flags: 'in-dir' } });
  if (!options.dryRun) await run.recover();

  const externalCAs = () => new Set(CA_NAMES.filter((n) => run.ca(n)?.action === 'external'));
  const rotations = () => new Map(CA_NAMES.flatMap((n) => { const phase = run.ca(n)?.rotation; return phase ? [[n, phase] as const] : []; }));
  const items = await run.decide(clusterTargets(spec, { now, kubeconfigs: !skip.has('kubeconfig'), flags: !skip.has('flags'), externalCAs, rotations }));
  const data = planData(run.plan, { certDir: dirs.certs, encryptionAlgorithm: spec.encryptionAlgorithm, certificateValidity: spec.certificateValidity, caCertificateValidity: spec.caCertificateValidity });
  if (options.dryRun) {
    if (options.output === 'text') {
      const { renderPlanText } = await import('../engine/render.js');
      process.stdout.write(renderPlanText(data));
    } else {
      const { printData } = await import('../output.js');
      printData(options.output, data);
    }
    const error = run.problemsError(PROBLEMS);
    if (error) throw error;
    return 0;
  }
  const error = run.problemsError(PROBLEMS);
  if (error) throw error;
  await run.make(items);
  const written = await run.commit();
  if (options.output === 'text') {
    process.stdout.write(describeApplied(run.plan).join('\n') + '\n');
  } else {
    const { printData } = await import('../output.js');
    printData(options.output, { ...data, written });
  }
  return 0;
}
