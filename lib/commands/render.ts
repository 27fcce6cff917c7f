/** kubepki render systemd: unit files for every component, each using its flag file. */
import path from 'node:path';
import { writeAllOrNothing } from '../apply/transaction.js';
import { renderUnits } from '../components/units.js';
import { loadSpec, type OverrideFlag } from '../config/load.js';
import { UserError } from '../errors.js';
import { compareGenerated } from '../plan/generated.js';
import { inspectDirs } from '../plan/inspect.js';

export interface RenderOptions extends Partial<Record<OverrideFlag, unknown>> {
  config?: string;
  what: string;
  templates?: string;
  out: string;
  binDir: string;
  dryRun?: boolean;
}

export async function runRender(options: RenderOptions): Promise<number> {
  if (options.what !== 'systemd') throw new UserError(`kubepki renders "systemd" units; "${options.what}" is not known`, { exitCode: 2 });
  const spec = await loadSpec(options.config, options);
  const units = renderUnits({ spec, binDir: path.resolve(options.binDir), ...(options.templates ? { templatesDir: path.resolve(options.templates) } : {}) });
  const out = path.resolve(options.out);
  const disk = inspectDirs({ out }, units.map((u) => ({ root: 'out', rel: u.rel })));
  const cmp = compareGenerated(units, (rel) => disk.files.get(`out:${rel}`)!, out);
  if (cmp.problems.length) {
    throw new UserError(cmp.problems.length === 1 ? `${cmp.problems[0]!}; nothing was written` : `${cmp.problems.length} problems; nothing was written:`, { details: cmp.problems.length === 1 ? [] : cmp.problems });
  }
  if (options.dryRun) {
    for (const u of units) process.stdout.write(`# ${path.join(out, u.rel)}\n${u.data}\n`);
    return 0;
  }
  const { recoverInterrupted } = await import('../apply/transaction.js');
  for (const m of await recoverInterrupted([out])) process.stderr.write(`[kubepki] ${m}\n`);
  await writeAllOrNothing([{ dir: out, files: cmp.writes.map((w) => ({ ...w, mode: 0o644 })) }]);
  for (const w of cmp.writes) process.stdout.write(`[systemd] Writing ${path.join(out, w.rel)}\n`);
  for (const k of cmp.keeps) process.stdout.write(`[systemd] Using existing ${path.join(out, k)}\n`);
  if (cmp.writes.length) process.stdout.write('[systemd] Run "systemctl daemon-reload" to load them.\n');
  return 0;
}
