/**
 * kubepki init: the control plane's PKI from the cluster description.
 * Plan first (what will be created, reused, kept), then write everything at once.
 */
import { statSync } from 'node:fs';
import { loadSpec, type OverrideFlag } from '../config/load.js';
import { describeSystemError, UserError } from '../errors.js';
import { KeyPool } from '../pki/keys.js';
import { exists } from '../plan/inspect.js';
import { ROOTS, SKIPPABLE_PHASES, keysToCreate, pathsOf, rootDir, rootDirs, type Phase } from '../plan/paths.js';
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

export async function runInit(options: InitOptions): Promise<number> {
  const now = new Date();
  const skip = parseSkipPhases(options.skipPhases);
  const spec = loadSpec(options.config, options);
  const certDir = rootDir(spec, 'certs');
  for (const root of ROOTS) checkDir(rootDir(spec, root));

  const pool = new KeyPool();
  if (!options.dryRun) {
    // Start key generation on the thread pool now; the certificate code loads meanwhile.
    pool.prefetch(spec.encryptionAlgorithm, keysToCreate(spec, (rel) => exists(certDir, rel), skip.has('kubeconfig') ? undefined : (file) => exists(rootDir(spec, 'kubeconfigs'), file)));
  }
  const [{ inspectDirs }, { makePlan, planData }, { applyPlan }, { recoverInterrupted }] = await Promise.all([
    import('../plan/inspect.js'),
    import('../plan/plan.js'),
    import('../apply/apply.js'),
    import('../apply/transaction.js'),
  ]);
  const dirs = rootDirs(spec);
  if (!options.dryRun) for (const message of await recoverInterrupted(Object.values(dirs))) process.stderr.write(`[kubepki] ${message}\n`);

  const plan = await makePlan(spec, inspectDirs(dirs, pathsOf(spec)), now, skip);
  const data = planData(plan, spec);
  if (options.dryRun) {
    if (options.output === 'text') {
      const { renderPlanText } = await import('../plan/render.js');
      process.stdout.write(renderPlanText(data));
    } else {
      const { printData } = await import('../output.js');
      printData(options.output, data);
    }
    if (plan.problems.length) throw problemsError(plan.problems);
    return 0;
  }
  if (plan.problems.length) throw problemsError(plan.problems);
  const applied = await applyPlan(plan, spec, pool, now);
  if (options.output === 'text') {
    process.stdout.write(applied.log.join('\n') + '\n');
  } else {
    const { printData } = await import('../output.js');
    printData(options.output, { ...data, written: applied.written });
  }
  return 0;
}

function problemsError(problems: string[]): UserError {
  return problems.length === 1
    ? new UserError(`${problems[0]!}. Nothing was written.`)
    : new UserError(`${problems.length} problems with the existing files; nothing was written:`, { details: problems });
}
