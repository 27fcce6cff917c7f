/**
 * CA rotation (kubepki ca rotate): which phase each CA is in, read from what
 * is on disk, and the targets of each step, for the one engine to decide,
 * make and commit as one transaction.
 *
 * The layout (docs/architecture.md, README "CA rotation"): a CA's own files
 * keep kubeadm's paths throughout. Its certificate file (ca.crt) is the trust
 * bundle every component reads: the CA that signs first, then during a
 * rotation the other one. Its key file (ca.key) is the key of the CA that
 * signs. The rotation's -old and -new pairs hold one CA each (the
 * controller-manager's signer takes exactly one certificate).
 *
 *   idle ──start──▶ started ──issue──▶ issued ──complete──▶ idle (the new CA)
 *     ◀──abort────┘         ◀──abort──┘
 *
 *   phase    ca.crt      ca.key   leaves signed by   sa.key  sa.pub
 *   idle     [A]         A        A                  A       [A]
 *   started  [A, N]      A        A                  A       [A, N]
 *   issued   [N, A]      N        N                  N       [N, A]
 *
 * Abort from issued goes back to started (the old CA signs again, both are
 * still trusted, so that components restarted one at a time keep talking to
 * each other); abort again drops the new CA.
 */
import type { KeyObject } from 'node:crypto';
import type { ClusterSpec, NodeSpec } from '../config/spec.js';
import {
  KEY_PAIRS, KUBECONFIGS, ROTATABLE, bundleEntries, caEntry, certPath, certificatesFor, keyPath, rotationFiles,
  type CAName, type Component, type RotatableName, type RotationPhase, type Subject,
} from '../pki/catalog.js';
import type { Certificate } from '../pki/certificate.js';
import { pem, pemBlocks } from '../pki/pem.js';
import { parsePublicKeyPem, spkiDer } from '../pki/keys.js';
import { certTarget, kubeconfigTarget, nodeSpec, nodeTrustTargets, trustTargets } from './desired.js';
import type { Observer, Read, ReadKey } from './observe.js';
import { troubleText } from './observe.js';
import type { CertTarget, GeneratedTarget, KubeconfigTarget, RemoveTarget, Target } from './targets.js';

export type Step = 'start' | 'issue' | 'complete' | 'abort';
export const STEPS: readonly Step[] = ['start', 'issue', 'complete', 'abort'];

/** One CA of a rotation (or the service-account key): its certificate (none for sa) and key. */
export interface Held {
  certificate?: Certificate;
  key: ReadKey;
}

export interface RotationState {
  name: RotatableName;
  phase: RotationPhase;
  /** The CA that signs now (ca.crt's first certificate and ca.key; sa.key). */
  signing: Held;
  /** The rotation's two CAs, while one is under way. */
  old?: Held;
  new?: Held;
  /** The subject of the CA that signs (the incoming CA takes it). */
  subject?: Subject;
}

/** Where the phase goes for a step, or undefined when the step does not apply from there. */
export function nextPhase(step: Step, phase: RotationPhase): RotationPhase | undefined {
  switch (step) {
    case 'start': return phase === 'idle' ? 'started' : undefined;
    case 'issue': return phase === 'started' ? 'issued' : undefined;
    case 'complete': return phase === 'issued' ? 'idle' : undefined;
    case 'abort': return phase === 'issued' ? 'started' : phase === 'started' ? 'idle' : undefined;
  }
}

/** A step that was done already (running it again after it finished: nothing to do). */
export const doneAlready = (step: Step, phase: RotationPhase) => (step === 'start' && phase !== 'idle') || (step === 'issue' && phase === 'issued');

/** The words for a step that cannot be taken from a phase: what to do instead. */
export function outOfOrder(step: Step, name: RotatableName, phase: RotationPhase): string {
  const cmd = (s: Step) => `kubepki ca rotate ${s} --ca ${name}`;
  if (phase === 'idle') return `${name}: no rotation is under way, so there is nothing to ${step}; start one with "${cmd('start')}"`;
  if (step === 'complete') return `${name}: the rotation is only started; its certificates are still signed by the old CA: run "${cmd('issue')}" first (and restart what it names), then complete`;
  return `${name}: cannot ${step} from phase ${phase}`;
}

/** The files a rotation of `name` reads, relative to the cert dir. */
export function rotationPaths(name: RotatableName): string[] {
  const r = rotationFiles(name);
  const own = name === 'sa' ? [KEY_PAIRS[0]!.key, KEY_PAIRS[0]!.pub] : [certPath(caEntry(name)), keyPath(caEntry(name))];
  return [...own, ...[r.old, r.new].flatMap((s) => (s.cert ? [s.cert, s.key] : [s.key]))];
}

const matches = (key: ReadKey, spki: Buffer) => key.spki.equals(spki);

/**
 * Which phase a CA is in, from its files alone, or what is wrong with them
 * (a layout changed by hand, a CA managed elsewhere): a problem a person can act on.
 */
export function observeRotation(o: Observer, name: RotatableName, where: (rel: string) => string, full: (rel: string) => string): RotationState | { problem: string } {
  const files = rotationFiles(name);
  const hand = 'was the layout changed by hand? restore it from the backups (kubepki-backups), then run "kubepki ca rotate status"';
  // Keys are compared here, never signed with (the CA that signs is read again, for signing, as the run's CA).
  const readKey = (rel: string): Read<ReadKey> => o.privateKey('certs', rel, 'match');
  const refused = (r: Read<unknown>, rel: string) => (r.state === 'refused' ? troubleText(where(rel), r.trouble, full(rel)) : undefined);
  const sides = { old: files.old, new: files.new };
  const present = Object.values(sides).flatMap((s) => (s.cert ? [s.cert, s.key] : [s.key])).filter((rel) => o.file('certs', rel).state !== 'missing');

  if (name === 'sa') {
    const pair = KEY_PAIRS[0]!;
    const key = readKey(pair.key);
    const pubFile = o.file('certs', pair.pub);
    if (key.state === 'refused') return { problem: refused(key, pair.key)! };
    if (pubFile.state === 'refused') return { problem: troubleText(where(pair.pub), pubFile.trouble, full(pair.pub)) };
    if (key.state === 'missing' || pubFile.state === 'missing') return { problem: `${where(key.state === 'missing' ? pair.key : pair.pub)} is missing: the service-account key pair must be here to be rotated (kubepki init writes it)` };
    let pubs: KeyObject[];
    try {
      pubs = pemBlocks(pubFile.data.toString(), 'PUBLIC KEY').map((der) => parsePublicKeyPem(pem('PUBLIC KEY', der)));
      if (!pubs.length) throw new Error('none');
    } catch {
      return { problem: `${where(pair.pub)} holds no PEM public key; restore it from the backups` };
    }
    const pubSpki = pubs.map((p) => spkiDer(p));
    const signing: Held = { key: key.value };
    if (!present.length) {
      if (pubSpki.length !== 1 || !matches(key.value, pubSpki[0]!)) return { problem: `${where(pair.pub)} does not hold exactly the public key of ${where(pair.key)}; ${hand}` };
      return { name, phase: 'idle', signing };
    }
    const held: Partial<Record<'old' | 'new', Held>> = {};
    for (const side of ['old', 'new'] as const) {
      const k = readKey(sides[side].key);
      if (k.state === 'refused') return { problem: refused(k, sides[side].key)! };
      if (k.state === 'missing') return { problem: `${where(sides[side].key)} is missing while ${where(present[0]!)} is here: the rotation of sa is half there; ${hand}` };
      held[side] = { key: k.value };
    }
    const [a, n] = [held.old!.key.spki, held.new!.key.spki];
    const pubsAre = (x: Buffer, y: Buffer) => pubSpki.length === 2 && pubSpki[0]!.equals(x) && pubSpki[1]!.equals(y);
    if (matches(key.value, a) && pubsAre(a, n)) return { name, phase: 'started', signing, old: held.old!, new: held.new! };
    if (matches(key.value, n) && pubsAre(n, a)) return { name, phase: 'issued', signing, old: held.old!, new: held.new! };
    return { problem: `${where(pair.key)} and ${where(pair.pub)} do not match the rotation under way (${where(files.old.key)}, ${where(files.new.key)}); ${hand}` };
  }

  const entry = caEntry(name);
  const cert = o.certificate('certs', certPath(entry), 'bundle');
  const key = readKey(keyPath(entry));
  if (cert.state === 'refused') return { problem: refused(cert, certPath(entry))! };
  if (key.state === 'refused') return { problem: refused(key, keyPath(entry))! };
  if (cert.state === 'missing') return { problem: `${where(certPath(entry))} is missing: there is no ${name} to rotate (kubepki init creates it)` };
  if (key.state === 'missing') {
    return { problem: `${where(keyPath(entry))} is missing: ${name} is managed outside kubepki (its certificate without its key), so kubepki cannot make or sign with its successor; rotate it where its key is kept` };
  }
  const all = [cert.value.certificate, ...cert.value.chain];
  const signing: Held = { certificate: all[0]!, key: key.value };
  const subject = cert.value.facts.subject;
  if (!matches(key.value, all[0]!.spki)) return { problem: `${where(keyPath(entry))} does not match the first certificate of ${where(certPath(entry))}; ${hand}` };
  if (!present.length) {
    if (all.length > 1) {
      return { problem: `${where(certPath(entry))} holds ${name} and its issuers (an intermediate under an offline root): kubepki rotates CAs it can replace by itself; have the root sign a new intermediate instead` };
    }
    if (!all[0]!.isSignedBy(all[0]!)) return { problem: `${where(certPath(entry))} is not self-signed: kubepki rotates the root CAs it made` };
    return { name, phase: 'idle', signing, subject };
  }
  const held: Partial<Record<'old' | 'new', Held>> = {};
  for (const side of ['old', 'new'] as const) {
    const c = o.certificate('certs', sides[side].cert!, 'single');
    const k = readKey(sides[side].key);
    for (const [r, rel] of [[c, sides[side].cert!], [k, sides[side].key]] as const) {
      const why = refused(r, rel);
      if (why) return { problem: why };
      if (r.state === 'missing') return { problem: `${where(rel)} is missing while ${where(present[0]!)} is here: the rotation of ${name} is half there; ${hand}` };
    }
    if (c.state !== 'present' || k.state !== 'present') throw new Error('unreachable');
    if (!matches(k.value, c.value.certificate.spki)) return { problem: `${where(sides[side].key)} does not match ${where(sides[side].cert!)}; ${hand}` };
    held[side] = { certificate: c.value.certificate, key: k.value };
  }
  const [a, n] = [held.old!.certificate!, held.new!.certificate!];
  const is = (x: Certificate | undefined, y: Certificate) => x !== undefined && x.der.equals(y.der);
  if (all.length === 2 && is(all[0], a) && is(all[1], n)) return { name, phase: 'started', signing, old: held.old!, new: held.new!, subject };
  if (all.length === 2 && is(all[0], n) && is(all[1], a)) return { name, phase: 'issued', signing, old: held.old!, new: held.new!, subject };
  return { problem: `${where(certPath(entry))} does not hold the two CAs of the rotation under way (${where(files.old.cert!)}, ${where(files.new.cert!)}), the signing one first; ${hand}` };
}

/** The components to restart after a step of `name`'s rotation, so that they read what it changed. */
export function restartsFor(spec: ClusterSpec, name: RotatableName, step: Step, from: RotationPhase): Component[] {
  if (name === 'sa') return KEY_PAIRS[0]!.consumers.map((c) => c.component);
  const entry = caEntry(name);
  const trust = [
    ...entry.consumers.map((c) => c.component),
    ...KUBECONFIGS.filter((k) => k.signer === name).flatMap((k) => k.consumers.map((c) => c.component)),
  ];
  const reissues = step === 'issue' || (step === 'abort' && from === 'issued');
  if (!reissues) return trust;
  return [...trust, ...certificatesFor(spec).filter((e) => e.ca === name).flatMap((e) => e.consumers.map((c) => c.component))];
}

/** What a step needs besides the state: the run's CA bundles once made, a fresh key for sa, and which node bundles are here. */
export interface StepContext {
  spec: ClusterSpec;
  /** A CA's bundle as made or decided in this run, by slot ("ca-new"): the new CA once start made it. */
  caPem(slot: string): string;
  /** A new service-account key (start), PEM. */
  newSaKey?: { pem: string; publicPem: string };
}

const slotOf = (name: CAName, side: 'old' | 'new') => `${name}-${side}`;

function generated(id: string, name: string, policy: GeneratedTarget['policy'], files: GeneratedTarget['files'], consumers: GeneratedTarget['consumers'] = []): GeneratedTarget {
  return { kind: 'generated', shownAs: 'generated', id, name, root: 'certs', policy, files, consumers };
}

function removal(name: RotatableName): RemoveTarget {
  const r = rotationFiles(name);
  return {
    kind: 'remove', id: `${name}/rotation-files`, name: `${name} rotation files`, root: 'certs', policy: 'remove', consumers: [],
    files: [r.old, r.new].flatMap((s) => [...(s.cert ? [{ rel: s.cert, role: 'cert' as const }] : []), { rel: s.key, role: 'key' as const }]),
  };
}

/**
 * Where a step takes a CA: from the phase it is in, or (a step that was done
 * here already, run again on another control-plane node whose CA files were
 * copied from the first) from the phase before, bringing the rest of this
 * node's files up to it: its kubeconfigs' trust, its certificates, its flags.
 */
export function stepPhases(step: Step, phase: RotationPhase): { from: RotationPhase; to: RotationPhase; converge: boolean } | undefined {
  const to = nextPhase(step, phase);
  if (to) return { from: phase, to, converge: false };
  if (step === 'start' && phase === 'started') return { from: 'idle', to: 'started', converge: true };
  if (step === 'issue' && phase === 'issued') return { from: 'started', to: 'issued', converge: true };
  return undefined;
}

/** The slot a step signs with (issue: the new CA; abort from issued: the old one), what it re-issues (signed by the other), what it keeps. */
function reissueBy(state: RotationState, step: Step, from: RotationPhase): { slot: string; from: Certificate[]; keep: Certificate } | undefined {
  if (state.name === 'sa' || !state.old || !state.new) return undefined;
  const [a, n] = [state.old.certificate!, state.new.certificate!];
  if (step === 'issue') return { slot: slotOf(state.name, 'new'), from: [a], keep: n };
  if (step === 'abort' && from === 'issued') return { slot: slotOf(state.name, 'old'), from: [n], keep: a };
  return undefined;
}

/** The trust a CA's holders get once a step is done: both CAs (the signing one first), or the one that stays. */
function trustAfter(step: Step, state: RotationState, to: RotationPhase, ctx: StepContext): { pem: () => string; settled: boolean } {
  const name = state.name as CAName;
  const oldPem = () => (state.old ?? state.signing).certificate!.pem;
  // The new CA is made by start itself; after that it is on disk.
  const newPem = () => (state.new ? state.new.certificate!.pem : ctx.caPem(slotOf(name, 'new')));
  const pem = to === 'started' ? () => oldPem() + newPem() : to === 'issued' ? () => newPem() + oldPem() : step === 'complete' ? newPem : oldPem;
  return { pem, settled: state.new !== undefined };
}

/**
 * The targets of a step for one CA, on this node: the CA's own files, the
 * rotation files, the certificates and kubeconfigs it re-issues, the trust
 * that changes. The step must apply (stepPhases).
 */
export function stepTargets(step: Step, state: RotationState, ctx: StepContext): Target[] {
  const { spec } = ctx;
  const { from, to, converge } = stepPhases(step, state.phase)!;
  if (state.name === 'sa') return converge ? [] : saTargets(step, state, to, ctx);
  const name = state.name;
  const entry = caEntry(name);
  const files = rotationFiles(name);
  const targets: Target[] = [];
  const trust = trustAfter(step, state, to, ctx);
  const by = reissueBy(state, step, from);

  if (step === 'start' && !converge) {
    // The incoming CA: a new key, the subject of the CA it replaces.
    const incoming: CertTarget = {
      ...certTarget(entry, spec, { policy: 'init' }),
      id: slotOf(name, 'new'), slot: slotOf(name, 'new'), cert: files.new.cert!, key: files.new.key, consumers: [], subject: state.subject!,
    };
    delete incoming.rotation;
    delete incoming.token;
    targets.push(incoming, generated(slotOf(name, 'old'), `${name} (outgoing)`, 'new', [
      { rel: files.old.cert!, role: 'cert', data: () => state.signing.certificate!.pem },
      { rel: files.old.key, role: 'key', data: () => state.signing.key.pem },
    ]));
  }
  if (by) {
    // The CA that signs from now on, read from its rotation files.
    const side = step === 'issue' ? files.new : files.old;
    const signer: CertTarget = { ...certTarget(entry, spec, { policy: 'require' }), id: by.slot, slot: by.slot, cert: side.cert!, key: side.key, consumers: [] };
    delete signer.rotation;
    delete signer.token;
    targets.push(signer);
  }
  if (!converge) {
    // The CA's own files: its bundle, and (when the signing CA changes) its key, in one step (a kill never parts them).
    const held = by ? (step === 'issue' ? state.new! : state.old!) : undefined;
    targets.push(generated(`${name}/files`, `${name} certificate${held ? ' and key' : ''}`, 'replace', [
      ...(held ? [{ rel: keyPath(entry), role: 'key' as const, data: () => held.key.pem }] : []),
      { rel: certPath(entry), role: 'cert', data: trust.pem },
    ], held ? entry.consumers : entry.consumers.filter((c) => c.file === 'cert')));
    if (to === 'idle') targets.push(removal(name));
  }
  if (by) {
    for (const e of certificatesFor(spec).filter((x) => x.ca === name)) {
      targets.push({ ...certTarget(e, spec, { policy: 'renew' }), renewFrom: by.from, keepSignedBy: by.keep, caSlot: by.slot });
    }
    for (const k of KUBECONFIGS.filter((x) => x.signer === name)) {
      const t: KubeconfigTarget = { ...kubeconfigTarget(k, spec, { policy: 'renew' }), renewFrom: by.from, keepSignedBy: by.keep, caSlot: by.slot, trustPem: trust.pem };
      delete t.signedElsewhere;
      targets.push(t);
    }
  } else {
    targets.push(...trustTargets(spec, name, trust.pem).map((t) => ({ ...t, settled: trust.settled })));
  }
  return targets;
}

/** The same step for one node's bundle (if it is here): its certificates re-issued, or its trust changed. */
export function nodeStepTargets(step: Step, state: RotationState, node: NodeSpec, ctx: StepContext): Target[] {
  if (state.name === 'sa') return [];
  const name = state.name;
  const { from, to } = stepPhases(step, state.phase)!;
  const trust = trustAfter(step, state, to, ctx);
  const targets = nodeTrustTargets(ctx.spec, node, name, trust.pem).map((t) => ({ ...t, settled: trust.settled }));
  const by = reissueBy(state, step, from);
  if (!by || !targets.length) return targets;
  // Re-issued: the bundle's certificates and kubeconfigs by the signing CA, its copy of the CA's file as trust.
  const spec = nodeSpec(ctx.spec, node);
  const { certificates, kubeconfigs } = bundleEntries(ctx.spec, node.role);
  return [
    targets[0]!,
    ...certificates.filter((e) => e.ca === name).map((e) => ({ ...certTarget(e, spec, { policy: 'renew', root: 'nodes', prefix: node.name }), renewFrom: by.from, keepSignedBy: by.keep, caSlot: by.slot })),
    ...kubeconfigs.filter((k) => k.signer === name).map((k) => {
      const t: KubeconfigTarget = { ...kubeconfigTarget(k, spec, { policy: 'renew', root: 'nodes', prefix: node.name }), renewFrom: by.from, keepSignedBy: by.keep, caSlot: by.slot, trustPem: trust.pem };
      delete t.signedElsewhere;
      return t;
    }),
  ];
}

function saTargets(step: Step, state: RotationState, to: RotationPhase, ctx: StepContext): Target[] {
  const pair = KEY_PAIRS[0]!;
  const files = rotationFiles('sa');
  const pubOf = (h: Held) => pem('PUBLIC KEY', h.key.spki);
  const keyConsumers = pair.consumers.filter((c) => c.file === 'key');
  const pubConsumers = pair.consumers.filter((c) => c.file === 'pub');
  const targets: Target[] = [];
  if (step === 'start') {
    targets.push(generated('sa/rotation-files', 'sa rotation keys', 'new', [
      { rel: files.old.key, role: 'key', data: () => state.signing.key.pem },
      { rel: files.new.key, role: 'key', data: () => ctx.newSaKey!.pem },
    ]));
  }
  const oldPub = () => pubOf(state.old ?? state.signing);
  const newPub = () => (state.new ? pubOf(state.new) : ctx.newSaKey!.publicPem);
  const pubs = to === 'started' ? () => oldPub() + newPub() : to === 'issued' ? () => newPub() + oldPub() : step === 'complete' ? newPub : oldPub;
  // sa.key and sa.pub in one step: the key that signs is always the first public key.
  const held = step === 'issue' || (step === 'abort' && state.phase === 'issued') ? (step === 'issue' ? state.new! : state.old!) : undefined;
  targets.push(generated('sa/files', held ? 'sa key pair' : 'sa public keys', 'replace', [
    ...(held ? [{ rel: pair.key, role: 'key' as const, data: () => held.key.pem }] : []),
    { rel: pair.pub, role: 'pub', data: pubs },
  ], held ? [...keyConsumers, ...pubConsumers] : pubConsumers));
  if (to === 'idle') targets.push(removal('sa'));
  return targets;
}

/** Each rotatable name's description for messages. */
export const ROTATABLE_TEXT: Record<RotatableName, string> = {
  ca: 'kubernetes-ca', 'etcd-ca': 'etcd-ca', 'front-proxy-ca': 'front-proxy-ca', sa: 'the service-account signing key',
};
export { ROTATABLE };

/** A file that holds or is signed by a CA under rotation: which of the two. */
export interface Holding {
  root: 'certs' | 'kubeconfigs';
  file: string;
  /** The catalog's name of what the file is (a certificate, a kubeconfig), for commands that name it. */
  name?: string;
  /** trust: it holds CA certificates (or public keys); signed: its certificate is signed by one; key: the signing key. */
  role: 'trust' | 'signed' | 'key';
  holds: ('old' | 'new' | 'other')[];
}

/** The files a survey reads, by root. */
export function surveyPaths(spec: ClusterSpec, name: RotatableName): { certs: string[]; kubeconfigs: string[] } {
  if (name === 'sa') return { certs: [], kubeconfigs: [] };
  return {
    certs: certificatesFor(spec).filter((e) => e.ca === name).map((e) => certPath(e)),
    kubeconfigs: KUBECONFIGS.filter((k) => k.signer === name).map((k) => k.file),
  };
}

/**
 * Which CA each file of this node holds or is signed by (status, and
 * complete's check that nothing here is still signed by the old CA).
 * Files that are not there, or cannot be read, are left out.
 */
export function survey(o: Observer, spec: ClusterSpec, state: RotationState): Holding[] {
  const out: Holding[] = [];
  const a = state.old ?? state.signing;
  const n = state.new;
  if (state.name === 'sa') {
    const pair = KEY_PAIRS[0]!;
    const which = (spki: Buffer): 'old' | 'new' | 'other' => (matches(a.key, spki) ? 'old' : n && matches(n.key, spki) ? 'new' : 'other');
    out.push({ root: 'certs', file: pair.key, role: 'key', holds: [which(state.signing.key.spki)] });
    const pub = o.file('certs', pair.pub);
    if (pub.state === 'file') out.push({ root: 'certs', file: pair.pub, role: 'trust', holds: pemBlocks(pub.data.toString(), 'PUBLIC KEY').map(which) });
    return out;
  }
  const certOf = (c: Certificate): 'old' | 'new' | 'other' => (c.der.equals(a.certificate!.der) ? 'old' : n && c.der.equals(n.certificate!.der) ? 'new' : 'other');
  const signer = (c: Certificate): 'old' | 'new' | 'other' => (c.isSignedBy(a.certificate!) ? 'old' : n && c.isSignedBy(n.certificate!) ? 'new' : 'other');
  const entry = caEntry(state.name);
  const own = o.certificate('certs', certPath(entry), 'bundle');
  if (own.state === 'present') out.push({ root: 'certs', file: certPath(entry), role: 'trust', holds: [own.value.certificate, ...own.value.chain].map(certOf) });
  out.push({ root: 'certs', file: keyPath(entry), role: 'key', holds: [matches(a.key, state.signing.certificate!.spki) ? 'old' : 'new'] });
  for (const e of certificatesFor(spec).filter((x) => x.ca === state.name)) {
    const c = o.certificate('certs', certPath(e));
    if (c.state === 'present') out.push({ root: 'certs', file: certPath(e), name: e.name, role: 'signed', holds: [signer(c.value.certificate)] });
  }
  for (const k of KUBECONFIGS.filter((x) => x.signer === state.name)) {
    const kc = o.kubeconfig('kubeconfigs', k.file);
    if (kc.state !== 'present') continue;
    if (kc.value.cas?.state === 'present') out.push({ root: 'kubeconfigs', file: k.file, role: 'trust', holds: kc.value.cas.value.map(certOf) });
    if (kc.value.client?.state === 'present') out.push({ root: 'kubeconfigs', file: k.file, name: k.name, role: 'signed', holds: [signer(kc.value.client.value.certificate)] });
  }
  return out;
}
