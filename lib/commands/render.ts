/** kubepki render systemd|rbac: unit files for every component (each using its flag file), or the kubelet bootstrap RBAC manifests. */
import path from 'node:path';
import { stringify } from 'yaml';
import { bootstrapRbac } from '../bootstrap/rbac.js';
import { renderUnits } from '../components/units.js';
import { loadSpec, type OverrideFlag } from '../config/load.js';
import { UserError } from '../errors.js';
import { Run } from '../engine/run.js';
import type { GeneratedTarget } from '../engine/targets.js';
import { RBAC_MANIFEST } from '../pki/catalog.js';

export interface RenderOptions extends Partial<Record<OverrideFlag, unknown>> {
  config?: string;
  what: string;
  templates?: string;
  out: string;
  binDir: string;
  /** The kubepki the renewal service runs (default: this one, with the node that runs it). */
  kubepkiBin?: string;
  dryRun?: boolean;
}

export async function runRender(options: RenderOptions): Promise<number> {
  if (options.what !== 'systemd' && options.what !== 'rbac') throw new UserError(`kubepki renders "systemd" units or "rbac" manifests; "${options.what}" is not known`, { exitCode: 2 });
  const spec = loadSpec(options.config, options);
  const files = options.what === 'rbac'
    ? [{ rel: RBAC_MANIFEST.file, data: bootstrapRbac().map((o) => stringify(o)).join('---\n') }]
    : renderUnits({
      spec, binDir: path.resolve(options.binDir), ...(options.templates ? { templatesDir: path.resolve(options.templates) } : {}),
      ...(options.config ? { config: options.config } : {}), ...(options.kubepkiBin ? { kubepki: [path.resolve(options.kubepkiBin)] } : {}),
    });
  const out = path.resolve(options.out);
  const root: 'manifests' | 'units' = options.what === 'rbac' ? 'manifests' : 'units';
  const run = new Run({ dirs: { [root]: out }, show: { [root]: 'in-dir' as const } as Partial<Record<typeof root, 'in-dir'>> });
  const targets: GeneratedTarget[] = files.map((f) => ({
    kind: 'generated', shownAs: 'generated', id: f.rel, name: f.rel, root, policy: 'generated', consumers: [], files: [{ rel: f.rel, role: 'generated', data: () => f.data }],
  }));
  if (options.dryRun) {
    await run.decide(targets);
    const error = run.problemsError();
    if (error) throw error;
    for (const f of files) process.stdout.write(`# ${path.join(out, f.rel)}\n${f.data}\n`);
    return 0;
  }
  await run.recover();
  await run.apply(targets);
  const tag = `[${options.what}]`;
  const items = run.plan.items;
  for (const i of items) for (const w of i.writes) process.stdout.write(`${tag} Writing ${path.join(out, w)}\n`);
  for (const i of items) for (const u of i.uses) process.stdout.write(`${tag} Using existing ${path.join(out, u)}\n`);
  if (items.some((i) => i.writes.length)) process.stdout.write(options.what === 'systemd' ? '[systemd] Run "systemctl daemon-reload" to load them, and "systemctl enable --now kubepki-renew.timer" for the daily renewal.\n' : `[rbac] Apply with: kubectl apply -f ${out}\n`);
  return 0;
}
