/**
 * kubepki ca rotate start|issue|complete|abort|status: a CA (and the
 * service-account key) replaced by a new one in phases, with nothing refused
 * at any point while components restart one at a time. Each step is one
 * transaction of the engine; the phase is read from what is on disk, so an
 * interrupted step is resumed by running it again. The steps' targets come
 * from lib/engine/rotation.ts.
 */
import path from 'node:path';
import { loadSpec, type OverrideFlag } from '../config/load.js';
import { UserError } from '../errors.js';
import { flagTargets } from '../engine/desired.js';
import { externalCAsOnDisk } from '../engine/observe.js';
import type { PlanItem } from '../engine/plan.js';
import {
  ROTATABLE, ROTATABLE_TEXT, STEPS, doneAlready, nodeStepTargets, stepPhases, observeRotation, outOfOrder, restartsFor, rotationPaths, stepTargets, survey, surveyPaths,
  type Holding, type RotationState, type Step, type StepContext,
} from '../engine/rotation.js';
import { rootDir } from '../engine/roots.js';
import { Run, eachLimit } from '../engine/run.js';
import { targetPaths, type GeneratedTarget, type Target } from '../engine/targets.js';
import { printData } from '../output.js';
import {
  CERTIFICATES, KUBECONFIGS, caEntry, certPath, certificatesFor, keyPath, restartOrder, rotationFiles, type CAName, type Component, type RotatableName, type RotationPhase,
} from '../pki/catalog.js';
import { restartComponents } from './renew.js';

export interface RotateOptions extends Partial<Record<OverrideFlag, unknown>> {
  config?: string;
  step: Step | 'status';
  ca?: string | string[];
  dryRun?: boolean;
  output?: 'text' | 'json' | 'yaml';
  restart?: boolean;
  restartCommand?: string;
  concurrency?: number;
}

const log = (line: string) => process.stdout.write(line + '\n');

/** The names --ca gives (comma-separated or repeated), checked; undefined when none was given. */
function parseNames(value: RotateOptions['ca']): RotatableName[] | undefined {
  if (value === undefined) return undefined;
  const names = [value].flat().flatMap((v) => String(v).split(',')).map((s) => s.trim()).filter(Boolean);
  const unknown = names.filter((n) => !ROTATABLE.includes(n as RotatableName));
  if (unknown.length) throw new UserError(`--ca: unknown ${unknown.join(', ')}; choose from ${ROTATABLE.join(', ')}`, { exitCode: 2 });
  if (!names.length) throw new UserError(`--ca: name at least one of ${ROTATABLE.join(', ')}`, { exitCode: 2 });
  return [...new Set(names as RotatableName[])].sort((a, b) => ROTATABLE.indexOf(a) - ROTATABLE.indexOf(b));
}

export async function runRotate(o: RotateOptions): Promise<number> {
  const now = Date.now();
  const step = o.step;
  const spec = loadSpec(o.config, o);
  const given = parseNames(o.ca);
  // What this cluster has to rotate: etcd-ca only with local etcd; a CA whose key is in a token is rotated where the token is.
  const inCluster = ROTATABLE.filter((n) => n === 'sa' || certificatesFor(spec).some((e) => e.name === n));
  for (const n of given ?? []) {
    if (!inCluster.includes(n)) throw new UserError(`${n} is not part of this cluster (etcd is external): nothing to rotate`, { exitCode: 2 });
    if (n !== 'sa' && spec.caKeys[n]) throw new UserError(`${n}'s key is in a PKCS#11 token (certificates.caKeys.${n}): kubepki does not rotate a CA held in a token yet; leave it out of --ca`);
  }
  const tokenHeld = inCluster.filter((n) => n !== 'sa' && spec.caKeys[n as CAName]);
  const candidates = (given ?? inCluster).filter((n) => !tokenHeld.includes(n));

  const certs = rootDir(spec, 'certs');
  const kubeconfigs = rootDir(spec, 'kubeconfigs');
  const flags = rootDir(spec, 'flags');
  const nodes = rootDir(spec, 'nodes');
  const backupRoot = rootDir(spec, 'backups', now);
  const run = new Run({
    dirs: { certs, kubeconfigs, flags, nodes }, now, lean: spec.nodes.length > 50,
    backups: {
      certs: certs !== kubeconfigs ? path.join(backupRoot, path.basename(certs)) : backupRoot, kubeconfigs: backupRoot,
      flags: path.join(backupRoot, path.basename(flags)), nodes: path.join(backupRoot, path.basename(nodes)),
    },
  });
  // An interrupted step is rolled back first: the phase on disk is then the one before it.
  if (!o.dryRun) await run.recover();

  // Every CA's phase (the flag files depend on all of them), then the ones this step is about.
  const observer = await run.look('certs', inCluster.filter((n) => !tokenHeld.includes(n)).flatMap(rotationPaths));
  const states = new Map<RotatableName, RotationState>();
  const problems: string[] = [];
  for (const name of candidates) {
    const s = observeRotation(observer, name, (rel) => run.where('certs', rel), (rel) => path.join(certs, rel));
    if ('problem' in s) problems.push(s.problem);
    else states.set(name, s);
  }
  for (const name of inCluster.filter((n) => !candidates.includes(n) && !tokenHeld.includes(n))) {
    const s = observeRotation(observer, name, (rel) => run.where('certs', rel), (rel) => path.join(certs, rel));
    if (!('problem' in s)) states.set(name, s);
  }
  if (problems.length) throw manyProblems(problems, step === 'status' ? 'the rotation state cannot be read' : 'nothing was changed');

  if (step === 'status') return status(run, spec, candidates.map((n) => states.get(n)!), o.output ?? 'text', tokenHeld);

  // The CAs this step is about: all of them to start; those under rotation otherwise (or the ones named).
  const selected = candidates.map((n) => states.get(n)!);
  const rotating = selected.filter((s) => s.phase !== 'idle');
  const chosen = given || step === 'start' ? selected : rotating;
  if (!chosen.length) {
    throw new UserError(`no rotation is under way, so there is nothing to ${step}; start one with "kubepki ca rotate start"${tokenHeld.length ? ` (${tokenHeld.join(', ')} is held in a token and not rotated)` : ''}`);
  }
  const wrong = chosen.filter((s) => !stepPhases(step, s.phase) && !doneAlready(step, s.phase)).map((s) => outOfOrder(step, s.name, s.phase));
  if (wrong.length) throw manyProblems(wrong, 'nothing was changed');
  const todo = chosen.filter((s) => stepPhases(step, s.phase));
  const phases = new Map(todo.map((s) => [s, stepPhases(step, s.phase)!]));
  for (const s of chosen.filter((x) => !phases.has(x))) log(`[rotate] ${s.name}: ${step} was done already (phase ${s.phase}); nothing to do for it`);
  if (!todo.length) {
    log(`[rotate] Nothing to do. Next: ${nextHint(step, chosen)}`);
    return 0;
  }

  if (step === 'complete') {
    // Nothing here may still be signed by the old CA: it would be refused once the old CA is dropped.
    const paths = todo.map((s) => surveyPaths(spec, s.name));
    const seen = await run.look('certs', paths.flatMap((p) => p.certs));
    await run.look('kubeconfigs', paths.flatMap((p) => p.kubeconfigs));
    const left = todo.flatMap((s) => survey(seen, spec, s).filter((h) => h.role === 'signed' && h.holds[0] !== 'new').map((h) => {
      const where = run.where(h.root, h.file);
      return h.holds[0] === 'old'
        ? `${where} is still signed by the old ${s.name}, and would be refused once it is dropped: renew it with "kubepki certs renew ${h.name ?? h.file}" (it signs with the new CA now)`
        : `${where} is signed by neither CA of the rotation of ${s.name} (changed by hand?): restore it from the backups, or move it away and have it re-created with "kubepki init"`;
    }));
    if (left.length) throw manyProblems(left, 'nothing was changed');
  }
  const ctx: StepContext = { spec, caPem: (slot) => run.caBundle(slot) };
  if (step === 'start' && todo.some((s) => s.name === 'sa')) {
    const { generateKey } = await import('../pki/keys.js');
    const key = await generateKey(spec.encryptionAlgorithm);
    ctx.newSaKey = { pem: key.privateKeyPem, publicPem: key.publicKeyPem };
  }
  const targets: Target[] = todo.flatMap((s) => stepTargets(step, s, ctx));
  targets.push(...rotationFlagTargets(spec, states, phases, (rel) => run.exists('flags', rel)));
  const items = await run.decide(targets);
  const stop = () => {
    const error = run.problemsError({ what: 'nothing was changed' });
    if (error) throw error;
  };
  stop();

  // Node bundles (nodes issue wrote them here): each decided, made and staged on its own, so a fleet is never held in memory.
  const bundles = spec.nodes.filter((n) => run.exists('nodes', n.name));
  const nodeItems = { count: 0 };
  if (o.dryRun) {
    for (const node of bundles) nodeItems.count += files(await run.decide(todo.flatMap((s) => nodeStepTargets(step, s, node, ctx)), { release: true }));
    stop();
    printDryRun(run, step, todo, items, nodeItems.count, bundles.length);
    return 0;
  }
  try {
    await run.make(items);
    await eachLimit(bundles, Math.max(1, o.concurrency ?? 32), async (node) => {
      const mine = await run.decide(todo.flatMap((s) => nodeStepTargets(step, s, node, ctx)), { release: true });
      nodeItems.count += files(mine);
      if (!run.plan.problems.length) await run.make(mine);
    });
    stop();
  } catch (e) {
    await run.abort();
    throw e;
  }
  await run.commit();

  for (const s of todo) log(`[rotate] ${phases.get(s)!.converge ? converged(step, s, items) : summary(run, step, s, items)}`);
  for (const i of items.filter((x) => x.kind === 'flags' && x.writes.length)) log(`[rotate] ${i.name}: its flags name the signing CA's files now (${i.writes.map((w) => run.where('flags', w)).join(', ')})`);
  if (bundles.length) log(`[rotate] node bundles: ${nodeItems.count} files in ${bundles.length} bundles under ${nodes} ${changedWords(step, todo)}; copy each to its node`);
  // A kubeconfig that points at a certificate file its owner rotates (the kubelet's) is not re-issued here.
  const seen = await run.look('kubeconfigs', []);
  const byFile = targets.filter((t) => {
    if (t.kind !== 'kubeconfig' || t.policy !== 'renew') return false;
    const kc = seen.kubeconfig(t.root, t.file);
    return kc.state === 'present' && kc.value.parsed.certFile !== undefined && !kc.value.parsed.certPem;
  });
  for (const t of byFile) {
    log(`[rotate] note: ${run.where(t.root, targetPaths(t)[0]!)} points at a client certificate file its owner rotates; it is still signed by the CA it had: have it request a new one before complete (kubepki certs sign, or TLS bootstrap), or it is refused afterwards`);
  }
  const changedSomething = items.some((i) => i.writes.length) || nodeItems.count > 0;
  if (changedSomething && (step === 'complete' || step === 'abort' || items.some((i) => i.action === 'renew'))) log(`[rotate] The replaced and removed files are in ${backupRoot}`);

  const components = restartOrder(todo.flatMap((s) => restartsFor(spec, s.name, step, phases.get(s)!.from)));
  const after = todo.map((s) => ({ ...s, phase: phases.get(s)!.to }));
  const next = nextHint(step, after);
  if (!o.restart) {
    log(`[rotate] Restart ${components.join(', ')}, one at a time, on every control-plane node (or run again with --restart); then: ${next}`);
    return 0;
  }
  await restartComponents(components, o.restartCommand);
  log(`[rotate] Next: ${next}`);
  return 0;
}

const files = (items: readonly PlanItem[]) => items.reduce((n, i) => n + i.writes.length, 0);

function manyProblems(problems: string[], what: string): UserError {
  return problems.length === 1 ? new UserError(`${problems[0]!}. ${what.charAt(0).toUpperCase()}${what.slice(1)}.`) : new UserError(`${problems.length} problems; ${what}:`, { details: problems });
}

/** The step that comes after, in words (with the CAs it is about). */
function nextHint(step: Step, states: readonly { name: RotatableName; phase: RotationPhase }[]): string {
  const cas = (list: typeof states) => list.map((s) => s.name).join(',');
  const started = states.filter((s) => s.phase === 'started');
  const issued = states.filter((s) => s.phase === 'issued');
  if (step === 'abort' && started.length) return `run "kubepki ca rotate abort --ca ${cas(started)}" again to drop the new CA (or "issue" to go on)`;
  if (issued.length) return `"kubepki ca rotate complete --ca ${cas(issued)}" once every component runs with the re-issued certificates${issued.some((s) => s.name === 'sa') ? ' and service-account tokens signed by the old key have been refreshed (an hour by default)' : ''}`;
  if (started.length) return `"kubepki ca rotate issue --ca ${cas(started)}" once every component trusts both CAs`;
  return 'nothing: no rotation is under way';
}

function changedWords(step: Step, todo: readonly RotationState[]): string {
  if (step === 'issue') return 're-issued by the new CA';
  if (step === 'abort' && todo.some((s) => s.phase === 'issued')) return 're-issued by the old CA';
  return 'now trust what the CA files do';
}

/** What a step run again did (this node's files brought up to the phase its CA files are in). */
function converged(step: Step, s: RotationState, items: readonly PlanItem[]): string {
  const changed = items.filter((i) => i.writes.length && i.ca === s.name).length;
  const what = step === 'issue' ? 're-issued by the new CA' : 'brought to trust both CAs';
  return `${s.name}: ${step} was done already (phase ${s.phase}); ${changed ? `${changed} of this node's files ${what}` : 'this node\'s files are up to date'}`;
}

/** What a step did for one CA, in one line. */
function summary(run: Run, step: Step, s: RotationState, items: readonly PlanItem[]): string {
  const files = rotationFiles(s.name);
  const reissued = items.filter((i) => i.action === 'renew' && (i.kind === 'certificate' || i.kind === 'kubeconfig') && i.ca === s.name).length;
  const own = s.name === 'sa' ? 'sa.pub' : certPath(caEntry(s.name));
  if (s.name === 'sa') {
    switch (step) {
      case 'start': return `sa: started; new signing key ${run.where('certs', files.new.key)}; ${own} holds the old and the new public key, tokens are still signed with the old one`;
      case 'issue': return 'sa: issued; sa.key is now the new key: new tokens are signed with it, sa.pub still verifies the old ones';
      case 'complete': return 'sa: complete; sa.pub holds the new public key only (tokens signed with the old key are refused now)';
      case 'abort': return s.phase === 'issued' ? 'sa: issue undone; sa.key is the old key again, sa.pub still holds both' : 'sa: aborted; back to the old key only';
    }
  }
  const name = s.name;
  const holders = KUBECONFIGS.some((k) => k.signer === name) ? `${own} and the kubeconfigs` : own;
  const count = `${reissued} ${reissued === 1 ? 'certificate' : 'certificates'}`;
  switch (step) {
    case 'start': {
      const made = run.issued.get(`${name}-new`);
      const text = made ? ` (serial ${made.serial}, until ${made.notAfter.toISOString()})` : '';
      return `${name}: started; new CA ${run.where('certs', files.new.cert!)}${text}; ${holders} now ${holders === own ? 'trusts' : 'trust'} the old and the new CA; nothing re-signed yet`;
    }
    case 'issue': return `${name}: issued; ${count} re-issued by the new CA, which signs from now on (${keyPath(caEntry(name))}); the old CA is still trusted`;
    case 'complete': return `${name}: complete; ${holders} ${holders === own ? 'trusts' : 'trust'} the new CA only; the old CA's files went to the backups`;
    case 'abort': return s.phase === 'issued'
      ? `${name}: issue undone; ${count} re-issued by the old CA, which signs again; both CAs are still trusted`
      : `${name}: aborted; back to the old CA only; the new CA's files went to the backups`;
  }
}

function printDryRun(run: Run, step: Step, todo: readonly RotationState[], items: readonly PlanItem[], nodeCount: number, bundles: number): void {
  log(`[rotate] would ${step} the rotation of ${todo.map((s) => s.name).join(', ')}:`);
  for (const i of items) {
    if (!i.writes.length) continue;
    const verb = i.action === 'remove' ? 'remove (to the backups)' : i.action === 'renew' ? 'replace' : 'create';
    log(`  ${verb} ${i.writes.map((w) => run.where(i.root, w)).join(', ')}`);
  }
  if (bundles) log(`  and ${nodeCount} files in ${bundles} node bundles`);
}

/**
 * The flag files that name a CA's signing pair (the controller-manager's
 * --cluster-signing-*): rewritten for the phase after the step, when they are
 * what kubepki wrote for the phase before it. Flag files that are not there
 * are not kubepki's to write.
 */
function rotationFlagTargets(spec: ReturnType<typeof loadSpec>, states: ReadonlyMap<RotatableName, RotationState>, steps: ReadonlyMap<RotationState, { from: RotationPhase; to: RotationPhase }>, exists: (rel: string) => boolean): GeneratedTarget[] {
  const phases = (after: boolean) => new Map([...states.values()].flatMap((s) => {
    if (s.name === 'sa') return [];
    const taken = steps.get(s);
    const phase = taken ? (after ? taken.to : taken.from) : s.phase;
    return phase === 'idle' ? [] : [[s.name as CAName, phase] as const];
  }));
  const external = externalCAsOnDisk(spec);
  // Only the components that sign with a CA have flags that change.
  const signers = new Set<string>(CERTIFICATES.flatMap((e) => e.consumers.filter((c) => c.signs).map((c) => c.component)));
  const only = (list: GeneratedTarget[]) => list.filter((t) => signers.has(t.name));
  const before = only(flagTargets(spec, () => external, () => phases(false)));
  const after = only(flagTargets(spec, () => external, () => phases(true)));
  return after.map((t, i) => {
    const was = new Map(before[i]!.files.map((f) => [f.rel, f.data]));
    return { ...t, policy: 'replace' as const, files: t.files.filter((f) => exists(f.rel) && was.get(f.rel)!() !== f.data()), expected: (rel: string) => was.get(rel)?.() };
  }).filter((t) => t.files.length);
}

// ------------------------------------------------------------------ status

function status(run: Run, spec: ReturnType<typeof loadSpec>, states: RotationState[], output: 'text' | 'json' | 'yaml', tokenHeld: readonly RotatableName[]): Promise<number> {
  return (async () => {
    const paths = states.map((s) => surveyPaths(spec, s.name));
    const observer = await run.look('certs', paths.flatMap((p) => p.certs));
    await run.look('kubeconfigs', paths.flatMap((p) => p.kubeconfigs));
    const data = states.map((s) => {
      const holdings = survey(observer, spec, s);
      const next = s.phase === 'idle' ? 'start' : s.phase === 'started' ? 'issue' : 'complete';
      const last: Step | undefined = s.phase === 'started' ? 'start' : s.phase === 'issued' ? 'issue' : undefined;
      const ca = (h: { certificate?: { serialNumber: string; notAfter: Date } } | undefined) => (h?.certificate ? { serial: h.certificate.serialNumber, notAfter: h.certificate.notAfter.toISOString() } : {});
      return {
        name: s.name,
        what: ROTATABLE_TEXT[s.name],
        phase: s.phase,
        signsWith: s.phase === 'issued' ? 'new' : 'old',
        ...(s.old ? { old: ca(s.old) } : { current: ca(s.signing) }),
        ...(s.new ? { new: ca(s.new) } : {}),
        files: holdings.map((h: Holding) => ({ file: run.where(h.root, h.file), role: h.role, holds: h.holds })),
        restart: last ? restartOrder(restartsFor(spec, s.name, last, s.phase === 'started' ? 'idle' : 'started') as Component[]) : [],
        next,
      };
    });
    if (output !== 'text') {
      printData(output, { rotations: data, ...(tokenHeld.length ? { notRotated: tokenHeld } : {}) });
      return 0;
    }
    for (const d of data) {
      log(`${d.name} (${d.what}): ${d.phase}${d.phase === 'idle' ? '' : `, signing with the ${d.signsWith} CA`}`);
      if ('old' in d && d.old && 'serial' in d.old) log(`  old: ${d.old.serial ? `serial ${d.old.serial}, until ${d.old.notAfter}` : 'key only'}`);
      if ('new' in d && d.new && 'serial' in d.new) log(`  new: serial ${d.new.serial}, until ${d.new.notAfter}`);
      for (const f of d.files) log(`  ${f.file}: ${f.role === 'signed' ? 'signed by' : f.role === 'key' ? 'the key of' : 'trusts'} ${f.holds.join(', ')}`);
      if (d.restart.length) log(`  restart before the next step (if not done yet): ${d.restart.join(', ')}`);
      log(`  next: kubepki ca rotate ${d.next} --ca ${d.name}`);
    }
    for (const n of tokenHeld) log(`${n}: its key is in a PKCS#11 token; not rotated by kubepki`);
    return 0;
  })();
}

export { STEPS };
