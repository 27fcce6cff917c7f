/**
 * kubepki kubeconfig user: a kubeconfig for a person or a tool, with a client
 * certificate signed by the cluster CA (kubeadm kubeconfig user).
 */
import path from 'node:path';
import { loadSpec, type OverrideFlag } from '../config/load.js';
import { parseDuration } from '../durations.js';
import { UserError } from '../errors.js';
import { authorityTargets } from '../engine/desired.js';
import { rootDir } from '../engine/roots.js';
import { Run } from '../engine/run.js';
import type { KubeconfigTarget } from '../engine/targets.js';
import { serverURL } from '../kubeconfig/kubeconfig.js';
import { USER_KUBECONFIG } from '../pki/catalog.js';

export interface UserOptions extends Partial<Record<OverrideFlag, unknown>> {
  config?: string;
  name: string;
  org?: string[];
  validityPeriod?: string;
  out?: string;
}

// eslint-disable-next-line no-control-regex
const CONTROL = /[\u0000-\u001f\u007f]/;

export async function runKubeconfigUser(options: UserOptions): Promise<number> {
  const name = options.name;
  const orgs = (options.org ?? []).flatMap((o) => String(o).split(',')).map((o) => o.trim()).filter(Boolean);
  for (const [what, v] of [['--name', name], ...orgs.map((o) => ['--org', o] as const)] as const) {
    if (!v || CONTROL.test(v) || v.length > 64 * 4) throw new UserError(`${what}: ${JSON.stringify(v)} is not a usable name (1-256 printable characters)`, { exitCode: 2 });
  }
  if (name.includes('/') && options.out === undefined) throw new UserError(`--name ${JSON.stringify(name)} contains "/"; give the file with --out`, { exitCode: 2 });
  const spec = loadSpec(options.config, options);
  let validity = spec.certificateValidity;
  if (options.validityPeriod !== undefined) {
    const ms = parseDuration(options.validityPeriod);
    if (ms === undefined || ms <= 0) throw new UserError(`--validity-period: ${JSON.stringify(options.validityPeriod)} is not a valid duration (for example 24h)`, { exitCode: 2 });
    validity = ms;
  }
  const toStdout = options.out === '-';
  const out = toStdout ? undefined : path.resolve(options.out ?? path.join(spec.kubeconfigDir, USER_KUBECONFIG.file(name)));
  const subject = { cn: name, ...(orgs.length ? { o: orgs } : {}) };
  const run = new Run({ dirs: { certs: rootDir(spec, 'certs'), kubeconfigs: out ? path.dirname(out) : rootDir(spec, 'kubeconfigs') } });
  await run.decide(authorityTargets(spec, [USER_KUBECONFIG.signer]));
  run.requireSigner(USER_KUBECONFIG.signer);

  const target: KubeconfigTarget = {
    kind: 'kubeconfig', id: `user/${name}`, name, root: 'kubeconfigs', policy: 'init', file: out ? path.basename(out) : USER_KUBECONFIG.file(name),
    signer: USER_KUBECONFIG.signer, subject, server: serverURL(spec, 'endpoint'), clusterName: spec.clusterName,
    credentials: { kind: 'client-certificate', validity }, keyAlgorithm: spec.encryptionAlgorithm, consumers: [],
    mismatch: `${out} exists and is not a kubeconfig of this cluster for ${name}; kubepki will not overwrite it: move it away or choose --out`,
  };
  if (!out) {
    process.stdout.write((await run.render(await run.decide([target], { unseen: true })))[0]!);
    return 0;
  }
  const [item] = await run.decide([target]);
  if (run.plan.problems.length) throw new UserError(run.plan.problems[0]!);
  if (item!.action === 'keep') {
    process.stderr.write(`[kubeconfig] Using existing kubeconfig file: "${out}"\n`);
    return 0;
  }
  await run.recover(['kubeconfigs']);
  await run.make([item!]);
  await run.commit();
  const made = run.issued.get(item!.id)!;
  process.stderr.write(`[kubeconfig] Writing "${out}" for ${subject.o ? `O=${subject.o.join('+')}, ` : ''}CN=${name}, valid until ${made.notAfter.toISOString()}\n`);
  return 0;
}
