/** kubepki render systemd: unit files for every component, each using its flag file. */
import path from 'node:path';
import { stringify } from 'yaml';
import { writeAllOrNothing } from '../apply/transaction.js';
import { bootstrapRbac } from '../bootstrap/rbac.js';
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
  if (options.what !== 'systemd' && options.what !== 'rbac') throw new UserError(`kubepki renders "systemd" units or "rbac" manifests; "${options.what}" is not known`, { exitCode: 2 });
  const spec = loadSpec(options.config, options);
  const units = options.what === 'rbac'
    ? [{ rel: 'kubelet-bootstrap-rbac.yaml', data: bootstrapRbac().map((o) => stringify(o)).join('---\n') }]
    : renderUnits({ spec, binDir: path.resolve(options.binDir), ...(options.templates ? { templatesDir: path.resolve(options.templates) } : {}) });
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
  const tag = `[${options.what}]`;
  for (const w of cmp.writes) process.stdout.write(`${tag} Writing ${path.join(out, w.rel)}\n`);
  for (const k of cmp.keeps) process.stdout.write(`${tag} Using existing ${path.join(out, k)}\n`);
  if (cmp.writes.length) process.stdout.write(options.what === 'systemd' ? '[systemd] Run "systemctl daemon-reload" to load them.\n' : `[rbac] Apply with: kubectl apply -f ${out}\n`);
  return 0;
}
