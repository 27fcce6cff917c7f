/**
 * Decide: from targets (what the command wants) and observations (what is on
 * disk) to plan items, one per target: create, reuse, keep, external, renew,
 * or a problem in words a person can act on. Pure: it reads the observer's
 * snapshot (files already read, certificates already parsed) and writes
 * nothing; what it finds wrong it lists, all of it, before anything is made.
 */
import { MODES, PROFILES, modeText, consumerName, csrFiles, type AltNames, type CAName, type ExtKeyUsage, type Profile, type RotationPhase, type Subject } from '../pki/catalog.js';
import type { Certificate } from '../pki/certificate.js';
import { spkiDer } from '../pki/keys.js';
import { algorithmOf, type AlgorithmName } from '../pki/algorithms.js';
import { spkiShape } from '../pki/key-der.js';
import { formatDays } from '../durations.js';
import { pemBlocks } from '../pki/pem.js';
import type { Token, TokenKey } from '../pki/pkcs11.js';
import type { Observer, Read, ReadCertificate, ReadKey, ReadKubeconfig, Trouble } from './observe.js';
import { troubleDetail, troubleText } from './observe.js';
import type { ItemKind, PlanItem, RunRoot } from './plan.js';
import type { CertTarget, CsrTarget, GeneratedTarget, KeyPairTarget, KubeconfigTarget, KubeletClientTarget, RemoveTarget, SignedTarget, Target } from './targets.js';

/** What decide knows of a CA once its target is decided: how it can sign, and its certificate. */
export interface CAState {
  /** unusable: it cannot sign, for `problem` (a CA a command needs, reported by what it would sign). */
  action: 'create' | 'reuse' | 'external' | 'unusable';
  problem?: string;
  /** unusable because its certificate is not there at all (rather than wrong). */
  missing?: true;
  /** Its certificate, when it exists already. */
  certificate?: Certificate;
  /** The CA file's certificates after it: its issuers. */
  chain?: Certificate[];
  /** During a rotation (kubepki ca rotate): the other CA its file holds after it, trusted too; and the phase. */
  partners?: Certificate[];
  rotation?: Exclude<RotationPhase, 'idle'>;
  /** Its key, when it exists here (a CA kubepki signs with); the key says where it was read (`from`). */
  key?: ReadKey;
  /** Or its key in a PKCS#11 token, and the opened token. */
  tokenKey?: { token: Token; key: TokenKey };
  /** The certificate's path, in messages. */
  certWhere: string;
  /** reconcile --include-cas: the CA is made anew (a new key), so everything it signed is re-issued. */
  replaced?: true;
}

export interface DecideContext {
  now: Date;
  /** How a path appears in messages (relative to its root, or absolute). */
  where(root: RunRoot, rel: string): string;
  /** Its absolute path. */
  full(root: RunRoot, rel: string): string;
  /** CAs decided so far, by earlier targets of this run: by catalog name, or by a rotation's slot ("ca-new"). */
  cas: Map<string, CAState>;
  /** renew: the names were given (a missing one is an error), or it is "all" (a missing one is skipped). */
  explicit?: boolean;
}

/** Things making an item needs that are not data: existing keys, a kubeconfig's text. They stay in the run. */
export interface Material {
  key?: ReadKey;
  kubeconfigText?: string;
  /** Its YAML document as read (make edits a copy instead of parsing the text again). */
  kubeconfigDocument?: import('yaml').Document;
  /** A CA to create with its key in a token: the opened token, and the key when one is there already (adopted). */
  token?: { token: Token; key?: TokenKey };
  /** A kubeconfig's client certificate signed by a CA managed elsewhere, and its key. */
  signedElsewhere?: { certPem: string; keyPem: string };
  /** A kubeconfig whose embedded CA certificates alone are rewritten. */
  trustOnly?: true;
  /** The kubelet's client certificate: where its link pointed (undefined: a plain file). */
  kubeletLink?: { link?: string };
}

export type Decision =
  | { kind: 'item'; item: PlanItem; material?: Material }
  | { kind: 'problem'; message: string }
  /** Nothing to do, and why (renew all: a certificate that is missing, or signed by a CA managed elsewhere). */
  | { kind: 'skip'; message: string };

const problem = (message: string): Decision => ({ kind: 'problem', message });

// ------------------------------------------------------------------ judging an existing certificate

export const sameSubject = (a: Subject, b: Subject) => a.cn === b.cn && (a.o ?? []).join('\n') === (b.o ?? []).join('\n');
export const fmtSubject = (s: Subject) => [...(s.o ?? []).map((o) => `O=${o}`), `CN=${s.cn}`].join(', ');
export const fmtSANs = (s: AltNames) => [...s.dns.map((d) => `DNS:${d}`), ...s.ips.map((i) => `IP:${i}`)];

export function sanDifference(want: AltNames, have: AltNames): string | undefined {
  const w = fmtSANs(want);
  const h = fmtSANs(have);
  const missing = w.filter((x) => !h.includes(x));
  const extra = h.filter((x) => !w.includes(x));
  if (!missing.length && !extra.length) return undefined;
  return [missing.length ? `lacks ${missing.join(', ')}` : '', extra.length ? `has ${extra.join(', ')} not in the description` : '']
    .filter(Boolean).join('; ');
}

/** The profile of an existing certificate (its usages), so that renewing it keeps them. */
export function profileOf(current: ReadCertificate): Profile | { unknown: string[] } {
  const eku = current.facts.extKeyUsage;
  const known = eku.filter((u): u is ExtKeyUsage => u === 'serverAuth' || u === 'clientAuth');
  if (known.length !== eku.length) return { unknown: eku.filter((u) => !known.includes(u as ExtKeyUsage)) };
  return { ...PROFILES.client, extKeyUsage: known };
}

function base(t: Target, kind: ItemKind): PlanItem {
  return { id: t.id, name: t.name, kind, root: t.root, action: 'create', writes: [], uses: [], notes: [], consumers: t.consumers.map(consumerName) };
}

/** What is wrong with something embedded that could not be read. */
const readDetail = (r: Read<unknown> | undefined) => (r?.state === 'refused' && r.trouble.code === 'unparsable' ? r.trouble.detail : 'cannot be read');

/** The state's trouble, or undefined when it can be read (or is absent). */
const troubleOf = <T>(r: Read<T>): Trouble | undefined => (r.state === 'refused' ? r.trouble : undefined);

// ------------------------------------------------------------------ certificates

/**
 * A CA a command needs (policy require) that cannot sign is not reported by
 * itself: each certificate it would sign says why, or the command does.
 */
function caProblem(t: CertTarget, message: string, ctx: DecideContext, missing = false): Decision {
  if (t.policy !== 'require') return problem(message);
  ctx.cas.set(t.slot ?? t.name, { action: 'unusable', problem: message, certWhere: ctx.where(t.root, t.cert), ...(missing ? { missing: true as const } : {}) });
  return { kind: 'skip', message: '' };
}

/** The words for a CA whose key is not here, for a command that must sign with it. */
export const missingKeyText = (keyWhere: string, name: string) =>
  `${keyWhere}: cannot read the ${name} key: no such file or directory (is this CA managed outside kubepki?)`;

/** Why a CA file's certificates are not a chain (each issued by the next), or undefined. */
function brokenChain(c: ReadCertificate): string | undefined {
  const all = [c.certificate, ...c.chain];
  for (let i = 0; i + 1 < all.length; i++) {
    if (!all[i]!.isSignedBy(all[i + 1]!)) return `certificate ${i + 1} of the file is not issued by certificate ${i + 2}; a CA file holds the CA first, then its issuers in order`;
  }
  return undefined;
}

/**
 * A CA whose key lives in a PKCS#11 token: no key file; the token's key must
 * be the one of ca.crt. No certificate yet: the key is made in the token, or
 * (one a run that did not finish left there) adopted for the new certificate.
 */
function decideTokenCA(t: CertTarget, o: Observer, ctx: DecideContext): Decision {
  const uri = t.token!;
  const name = t.name as CAName;
  const cw = ctx.where(t.root, t.cert);
  const kw = ctx.where(t.root, t.key);
  const cert = o.certificate(t.root, t.cert, 'bundle');
  if (cert.state === 'refused') {
    const text = troubleText(cw, cert.trouble, ctx.full(t.root, t.cert));
    return caProblem(t, cert.trouble.code === 'unparsable' && t.policy === 'init' ? `${text}; restore it from a backup or move it away` : text, ctx);
  }
  if (o.file(t.root, t.key).state !== 'missing') {
    return caProblem(t, `${kw} exists, but the description keeps ${name}'s key in a token (${uri.text}): move ${kw} away (kubepki does not copy keys into tokens), or leave ${name} out of certificates.caKeys`, ctx);
  }
  const { token, key } = o.tokenKey(uri);
  if (key.state === 'refused') return caProblem(t, troubleDetail(key.trouble), ctx);
  const item: PlanItem = {
    ...base(t, 'ca'), subject: t.subject!, sans: t.sans!, profile: t.profile, validity: t.validity, keyAlgorithm: t.keyAlgorithm, key: uri.text,
  };
  const have = cert.state === 'present' ? cert.value : undefined;
  if (have) {
    if (!have.facts.isCA) return caProblem(t, `${cw} is not a CA certificate (no CA basic constraint); restore the right one or move it away`, ctx);
    const broken = brokenChain(have);
    if (broken !== undefined) return caProblem(t, `${cw}: ${broken}`, ctx);
    item.notAfter = have.facts.notAfter.toISOString();
    if (have.facts.notAfter < ctx.now) item.notes.push(`expired on ${item.notAfter}`);
    if (key.state !== 'present') {
      return caProblem(t, `${cw} exists, but ${uri.text} names no private key in the token: restore the key there, or point certificates.caKeys.${name} at the key of this CA`, ctx);
    }
    if (!key.value.spki.equals(have.facts.spki)) {
      return caProblem(t, `${uri.text}: the token's key does not match ${cw} (different public keys); point certificates.caKeys.${name} at the key of this CA, or restore its certificate`, ctx);
    }
    ctx.cas.set(name, { action: 'reuse', certificate: have.certificate, chain: have.chain, certWhere: cw, tokenKey: { token: token!, key: key.value } });
    if (t.policy === 'renew') return renewCA(t, item, have, ctx, { token: { token: token!, key: key.value } });
    return { kind: 'item', item: { ...item, action: 'reuse', uses: [t.cert], subject: have.facts.subject } };
  }
  if (t.policy === 'require') return caProblem(t, `${cw}: cannot read the ${name} certificate: no such file or directory`, ctx, true);
  ctx.cas.set(name, { action: 'create', certWhere: cw });
  if (key.state === 'present') item.notes.push(`the key ${uri.text} is in the token already (left by a run that did not finish?): the new certificate is made for it`);
  return { kind: 'item', item: { ...item, writes: [t.cert] }, material: { token: { token: token!, ...(key.state === 'present' ? { key: key.value } : {}) } } };
}

function decideCertificate(t: CertTarget, o: Observer, ctx: DecideContext): Decision {
  if (t.token) return decideTokenCA(t, o, ctx);
  const cw = ctx.where(t.root, t.cert);
  const kw = ctx.where(t.root, t.key);
  // A CA file may hold the CA's issuers after it (an intermediate under an offline root).
  const cert = o.certificate(t.root, t.cert, t.isCA ? 'bundle' : 'single');
  // A leaf's key is only checked against its certificate, unless it is kept for the new one.
  const key = o.privateKey(t.root, t.key, t.isCA || t.keepKey ? 'sign' : 'match');
  const fail = (message: string) => (t.isCA ? caProblem(t, message, ctx) : problem(message));
  // Refusals first: what cannot be read is never overwritten or used.
  for (const [r, where, rel] of [[cert, cw, t.cert], [key, kw, t.key]] as [Read<unknown>, string, string][]) {
    const trouble = troubleOf(r);
    if (!trouble) continue;
    const text = troubleText(where, trouble, ctx.full(t.root, rel));
    return fail(trouble.code === 'unparsable' && t.policy === 'init' ? `${text}; restore it from a backup or move it away` : text);
  }
  const have = { cert: cert.state === 'present' ? cert.value : undefined, key: key.state === 'present' ? key.value : undefined };
  if (have.cert && have.key && !have.key.spki.equals(have.cert.facts.spki)) {
    const external = !t.isCA && t.ca && ctx.cas.get(t.ca)?.action === 'external';
    const remedy = external ? `put the key that made ${ctx.where(t.root, csrFiles(t.cert.replace(/\.crt$/, '')).csr)} beside it` : 'restore the right pair from a backup';
    return fail(t.policy === 'init' ? `${kw} does not match ${cw} (different public keys); ${remedy}` : `${kw} does not match ${cw}`);
  }
  const item: PlanItem = {
    ...base(t, t.isCA ? 'ca' : 'certificate'),
    ...(t.ca ? { ca: t.ca } : {}),
    ...(t.subject ? { subject: t.subject } : {}),
    ...(t.sans ? { sans: t.sans } : {}),
    profile: t.profile, validity: t.validity, keyAlgorithm: t.keyAlgorithm,
  };
  if (have.cert) {
    item.notAfter = have.cert.facts.notAfter.toISOString();
    if (have.cert.facts.notAfter < ctx.now) item.notes.push(`expired on ${item.notAfter}`);
  }
  return t.isCA ? decideCA(t, item, have, ctx, o) : decideLeaf(t, item, have, ctx, o);
}

/**
 * A CA file during a rotation holds the CA that signs, then the other CA of
 * the rotation (kubepki ca rotate): which phase that is, judged from the
 * rotation's one-CA files. Undefined when no rotation is under way.
 */
function rotationOf(t: CertTarget, have: ReadCertificate, o: Observer, ctx: DecideContext): { phase: Exclude<RotationPhase, 'idle'>; partners: Certificate[] } | { problem: string } | undefined {
  if (!t.rotation) return undefined;
  const sides = [t.rotation.old.cert, t.rotation.new.cert].map((rel) => o.certificate(t.root, rel, 'single'));
  if (sides.every((r) => r.state === 'missing')) return undefined;
  const cw = ctx.where(t.root, t.cert);
  const fix = `finish the rotation with "kubepki ca rotate status" and the phase it names, or restore ${cw} from the backups`;
  const [old, neu] = sides.map((r) => (r.state === 'present' ? r.value.certificate : undefined));
  if (!old || !neu) return { problem: `${cw} is under rotation, but ${ctx.where(t.root, old ? t.rotation.new.cert : t.rotation.old.cert)} ${old || neu ? 'is missing or cannot be read' : 'cannot be read'}; ${fix}` };
  const all = [have.certificate, ...have.chain];
  const is = (c: Certificate | undefined, x: Certificate) => c !== undefined && c.der.equals(x.der);
  if (all.length === 2 && is(all[0], old) && is(all[1], neu)) return { phase: 'started', partners: [neu] };
  if (all.length === 2 && is(all[0], neu) && is(all[1], old)) return { phase: 'issued', partners: [old] };
  return { problem: `${cw} does not hold the two CAs of the rotation under way (${ctx.where(t.root, t.rotation.old.cert)} and ${ctx.where(t.root, t.rotation.new.cert)}), the signing one first; ${fix}` };
}

function decideCA(t: CertTarget, item: PlanItem, have: { cert?: ReadCertificate; key?: ReadKey }, ctx: DecideContext, o: Observer): Decision {
  const cw = ctx.where(t.root, t.cert);
  const kw = ctx.where(t.root, t.key);
  const name = t.slot ?? t.name;
  if (have.cert && !have.cert.facts.isCA) {
    return caProblem(t, `${cw} is not a CA certificate (no CA basic constraint); restore the right one or move it away`, ctx);
  }
  const rotation = have.cert ? rotationOf(t, have.cert, o, ctx) : undefined;
  if (rotation && 'problem' in rotation) return caProblem(t, rotation.problem, ctx);
  const broken = have.cert && !rotation ? brokenChain(have.cert) : undefined;
  if (broken !== undefined) return caProblem(t, `${cw}: ${broken}`, ctx);
  const state = (action: CAState['action']): CAState => ({
    action, certWhere: cw,
    ...(have.cert ? { certificate: have.cert.certificate, chain: rotation ? [] : have.cert.chain } : {}),
    ...(rotation ? { partners: rotation.partners, rotation: rotation.phase } : {}),
    ...(have.key ? { key: have.key } : {}),
  });
  if (have.cert && have.key) {
    ctx.cas.set(name, state('reuse'));
    if (t.policy === 'reconcile') return reconcileCA(t, item, have.cert, rotation, ctx);
    if (t.policy === 'renew' && rotation) {
      return problem(`${cw} is being rotated (phase ${rotation.phase}): finish the rotation (kubepki ca rotate complete) or abort it before renewing ${t.name}`);
    }
    if (t.policy === 'renew') return renewCA(t, item, have.cert, ctx, { key: have.key });
    return { kind: 'item', item: { ...item, action: 'reuse', uses: [t.cert, t.key], subject: have.cert.facts.subject, key: ctx.full(t.root, t.key) } };
  }
  if (have.cert && t.policy === 'renew') {
    return problem(`${name} is managed outside kubepki (${cw} without its key): have that CA renew its certificate, then put it at ${cw}`);
  }
  if (have.cert) {
    ctx.cas.set(name, state('external'));
    if (t.policy === 'require') return { kind: 'item', item: { ...item, action: 'external', uses: [t.cert], subject: have.cert.facts.subject } };
    item.notes.push(`${t.key} is absent: this CA is managed outside kubepki; its certificates must exist already`);
    return { kind: 'item', item: { ...item, action: 'external', uses: [t.cert], subject: have.cert.facts.subject } };
  }
  if (t.policy === 'require') return caProblem(t, `${cw}: cannot read the ${t.name} certificate: no such file or directory`, ctx, true);
  if (have.key) return problem(`${kw} exists but ${cw} does not; kubepki will not overwrite a key: restore ${cw} or move ${kw} away`);
  ctx.cas.set(name, state('create'));
  return { kind: 'item', item: { ...item, writes: [t.cert, t.key], key: ctx.full(t.root, t.key) } };
}

/**
 * reconcile, for a CA kubepki holds the key of: kept when it matches the
 * description; when not, kept with a note, or (--include-cas) made anew with a
 * new key, everything it signed re-issued in the same run. Its subject is
 * never changed, and a CA under rotation is the rotation's.
 */
function reconcileCA(t: CertTarget, item: PlanItem, have: ReadCertificate, rotation: { phase: string } | undefined, ctx: DecideContext): Decision {
  const cw = ctx.where(t.root, t.cert);
  const name = t.slot ?? t.name;
  const kept: Decision = { kind: 'item', item: { ...item, action: 'reuse', uses: [t.cert, t.key], subject: have.facts.subject, key: ctx.full(t.root, t.key) } };
  if (rotation) return problem(`${cw} is being rotated (phase ${rotation.phase}): finish the rotation (kubepki ca rotate complete) or abort it, then reconcile`);
  if (!sameSubject(have.facts.subject, t.subject!)) {
    return problem(`${cw} is ${fmtSubject(have.facts.subject)}, the description wants ${fmtSubject(t.subject!)}: reconcile never changes a CA's subject (everything that trusts it would have to change at once); keep this CA, or start a new PKI elsewhere with kubepki init`);
  }
  // An intermediate under an offline root is its root's to change.
  if (have.chain.length) return kept;
  const changes = leafChanges(have, { subject: t.subject!, sans: t.sans ?? { dns: [], ips: [] }, profile: t.profile, keyAlgorithm: t.keyAlgorithm, validity: t.validity }, { certificate: have.certificate, name, where: cw }, ctx.now);
  if (!changes.length) return kept;
  if (!t.includeCA) {
    (kept as { item: PlanItem }).item.notes.push(`differs from the description (${changes.join('; ')}); kept: a CA is changed by kubepki ca rotate (without downtime), or here with --include-cas (a new CA, everything it signed re-issued at once)`);
    return kept;
  }
  ctx.cas.set(name, { ...ctx.cas.get(name)!, replaced: true });
  return { kind: 'item', item: { ...item, action: 'renew', writes: [t.cert, t.key], changes, notAfter: have.facts.notAfter.toISOString(), key: ctx.full(t.root, t.key) } };
}

/**
 * reconcile, for a leaf whose pair is here and whose CA signs here: kept, byte
 * for byte, when it matches the description and its CA; otherwise re-issued
 * as the description says (a new key). Everything else is decided as init.
 */
function reconcileLeaf(t: CertTarget, item: PlanItem, have: { cert: ReadCertificate; key: ReadKey }, ca: CAState, ctx: DecideContext): Decision {
  const changes = leafChanges(have.cert, { subject: t.subject!, sans: t.sans!, profile: t.profile, keyAlgorithm: t.keyAlgorithm, validity: t.validity }, { certificate: ca.certificate!, name: t.ca!, where: ca.certWhere, ...(ca.replaced ? { replaced: true } : {}) }, ctx.now);
  if (!changes.length) return { kind: 'item', item: { ...item, action: 'keep', uses: [t.cert, t.key] } };
  return expiredCA(t.name, t.ca!, ca, ctx) ?? { kind: 'item', item: { ...item, action: 'renew', writes: [t.cert, t.key], changes } };
}

function decideLeaf(t: CertTarget, item: PlanItem, have: { cert?: ReadCertificate; key?: ReadKey }, ctx: DecideContext, o: Observer): Decision {
  const cw = ctx.where(t.root, t.cert);
  const kw = ctx.where(t.root, t.key);
  const caName = t.ca!;
  if (t.policy === 'renew') {
    if (!have.cert && !have.key) return missingForRenew(t, cw, ctx);
    if (!have.cert || !have.key) return problem(`${have.cert ? kw : cw} is missing`);
    return decideRenewal(t, item, { current: have.cert, writes: [t.cert, t.key], ...(t.keepKey ? { material: { key: have.key } } : {}) }, ctx);
  }
  const ca = ctx.cas.get(caName);
  if (!ca) return { kind: 'skip', message: '' }; // its CA has a problem, reported already
  if (ca.action === 'unusable') return problem(`${t.name}: ${ca.problem}`);

  if (t.policy === 'reconcile' && have.cert && have.key && ca.certificate && (ca.action === 'reuse' || ca.action === 'create')) {
    if (ca.rotation) return { kind: 'skip', message: '' }; // the CA's problem says it
    return reconcileLeaf(t, item, { cert: have.cert, key: have.key }, ca, ctx);
  }
  const csrRel = csrFiles(t.cert.replace(/\.crt$/, '')).csr;
  if (have.cert && have.key) {
    if (!ca.certificate) {
      return problem(`${cw} exists but its CA (${caName}) is to be created, so it cannot have signed it; move ${cw} and ${kw} away, or restore the CA`);
    }
    const judged = leafProblem({
      cw, kw, have: have.cert, subject: t.subject!, sans: t.sans!, profile: t.profile, ca: ca.certificate, caName, caWhere: ca.certWhere,
      ...(ca.action === 'external' ? { resign: ctx.where(t.root, csrRel) } : {}),
    });
    if (judged) return problem(judged);
    return { kind: 'item', item: { ...item, action: 'keep', uses: [t.cert, t.key] } };
  }
  if (have.key && !have.cert && ca.action === 'external' && o.file(t.root, csrRel).state === 'file') {
    const csr = ctx.where(t.root, csrRel);
    return problem(`${kw} and ${csr} are here but ${cw} is not: have ${caName} (managed outside kubepki) sign ${csr} and put the certificate at ${cw}`);
  }
  if (have.cert || have.key) {
    const [present, absent] = have.cert ? [cw, kw] : [kw, cw];
    return problem(`${present} exists but ${absent} does not; kubepki will not overwrite half a pair: restore ${absent} or move ${present} away`);
  }
  if (ca.action === 'external') {
    return problem(`${cw} is missing, and ${caName} is managed outside kubepki (${ca.certWhere} without its key): have that CA issue ${cw} and ${kw}, or provide the CA key`);
  }
  return expiredCA(cw, caName, ca, ctx) ?? { kind: 'item', item: { ...item, writes: [t.cert, t.key] } };
}

/** A CA that has expired signs nothing usable: what it would sign now would be expired at once (cut to its NotAfter). */
function expiredCA(what: string, caName: CAName, ca: CAState, ctx: DecideContext): Decision | undefined {
  if (!ca.certificate || ca.certificate.notAfter > ctx.now) return undefined;
  return problem(`${what} cannot be issued: its CA ${caName} (${ca.certWhere}) expired on ${ca.certificate.notAfter.toISOString()}, and nothing it signs now would be valid; renew or replace that CA first`);
}

/**
 * A CA's certificate renewed with the same key (ca renew): the same subject,
 * SANs and key (so the same subject key identifier), a new validity; every
 * certificate it signed still verifies. Only the certificate file changes.
 */
function renewCA(t: CertTarget, item: PlanItem, have: ReadCertificate, ctx: DecideContext, material: Material): Decision {
  if (have.chain.length) return problem(`${ctx.where(t.root, t.cert)} holds more than the CA (its issuers, or a rotation under way): kubepki renews a CA whose file holds only it`);
  return {
    kind: 'item',
    item: { ...item, action: 'renew', writes: [t.cert], uses: t.token ? [] : [t.key], subject: have.facts.subject, sans: have.facts.sans, notAfter: have.facts.notAfter.toISOString() },
    material,
  };
}

/** renew: a missing certificate is an error when named, skipped (and said) for "all". */
function missingForRenew(t: CertTarget | KubeconfigTarget | KubeletClientTarget, where: string, ctx: DecideContext): Decision {
  return ctx.explicit ? problem(`${where} is missing`) : { kind: 'skip', message: `MISSING! ${t.longName ?? t.name} (${t.name})` };
}

/**
 * renew, for a certificate file and a kubeconfig's client certificate alike:
 * the same subject, SANs and usages as the current certificate, by the CA that
 * signed it (renew --csr-only: for an external CA, whose key need not be here).
 */
function decideRenewal(t: CertTarget | KubeconfigTarget | KubeletClientTarget, item: PlanItem, o: { current: ReadCertificate; writes: string[]; material?: Material }, ctx: DecideContext): Decision {
  const caName = t.kind === 'certificate' ? t.ca! : t.signer;
  // The kubelet's own file is never part of a rotation's or an external CA's renewal.
  const k: { csrOnly?: boolean; caSlot?: string; keepSignedBy?: Certificate; renewFrom?: Certificate[] } = t.kind === 'kubelet-client' ? {} : t;
  const facts = o.current.facts;
  const carried = { subject: facts.subject, sans: facts.sans, notAfter: facts.notAfter.toISOString() };
  const withMaterial = o.material ? { material: o.material } : {};
  if (k.csrOnly) return { kind: 'item', item: { ...item, ...carried, action: 'renew', writes: [] }, ...withMaterial };
  const ca = ctx.cas.get(k.caSlot ?? caName);
  if (!ca) return { kind: 'skip', message: '' }; // its CA has a problem, reported already
  if (ca.action === 'unusable') return problem(`${t.name}: ${ca.problem}`);
  if (ca.action === 'external') {
    return ctx.explicit
      ? problem(`${t.name} is signed by ${caName}, whose key is not here (the CA is managed outside kubepki): have that CA renew it, or write a CSR with --csr-only --csr-dir DIR`)
      : { kind: 'skip', message: `Detected external ${caName}: ${t.name} can't be renewed here (its CA key is kept elsewhere); use --csr-only` };
  }
  // During a rotation the CA's file trusts the other CA too: what it signed is renewed by the one that signs now.
  if (k.keepSignedBy && o.current.certificate.isSignedBy(k.keepSignedBy)) return { kind: 'skip', message: '' };
  const from = k.renewFrom ?? [ca.certificate!, ...(ca.partners ?? [])];
  if (!from.some((c) => o.current.certificate.isSignedBy(c))) {
    return problem(k.renewFrom
      ? `${t.name}: its certificate is signed by neither CA of the rotation of ${caName} (changed by hand?); restore it from the backups, or move it away and have it re-created with init`
      : `${t.name}: its certificate is not signed by ${caName} (${ca.certWhere}); kubepki will not re-sign it with another CA: restore the right CA, or re-create it with init`);
  }
  const expired = expiredCA(t.name, caName, ca, ctx);
  if (expired) return expired;
  const profile = profileOf(o.current);
  if ('unknown' in profile) return problem(`${t.name}: its certificate has extended key usages kubepki cannot carry over (${profile.unknown.join(', ')})`);
  return { kind: 'item', item: { ...item, ...carried, action: 'renew', writes: o.writes, profile }, ...withMaterial };
}

/** The problem with keeping an existing leaf as the one the description asks for, or undefined when it can be kept. */
export function leafProblem(o: {
  cw: string; kw: string; have: ReadCertificate; subject: Subject; sans: AltNames; profile: Profile; ca: Certificate; caName: string; caWhere: string;
  /** The CA is managed elsewhere: the remedy is to have it sign this CSR again (kubepki cannot re-create the certificate). */
  resign?: string;
}): string | undefined {
  const again = o.resign !== undefined ? `have ${o.caName} (managed outside kubepki) sign ${o.resign} again and put the certificate at ${o.cw}` : undefined;
  if (!o.have.certificate.isSignedBy(o.ca)) {
    return `${o.cw} is not signed by ${o.caName} (${o.caWhere}); ${again ?? `move ${o.cw} and ${o.kw} away to have them re-created, or restore the matching CA`}`;
  }
  const diffs: string[] = [];
  if (!sameSubject(o.have.facts.subject, o.subject)) diffs.push(`subject is ${fmtSubject(o.have.facts.subject)}, the description wants ${fmtSubject(o.subject)}`);
  const sanDiff = sanDifference(o.sans, o.have.facts.sans);
  if (sanDiff) diffs.push(`SANs: ${sanDiff}`);
  // kubeadm checks only SANs; a certificate for the wrong use, or a CA where a leaf should be, is not kept either.
  const want = [...o.profile.extKeyUsage].sort().join(', ');
  const have = [...o.have.facts.extKeyUsage].sort().join(', ');
  if (want !== have) diffs.push(`extended key usages are ${have || '(none)'}, the description wants ${want || '(none)'}`);
  if (o.have.facts.isCA) diffs.push('it is a CA certificate, the description wants a leaf');
  if (diffs.length) {
    return `${o.cw} does not match the cluster description: ${diffs.join('; ')}. ${again ? `${again.charAt(0).toUpperCase()}${again.slice(1)}` : `To change it on purpose, run "kubepki certs reconcile" (it re-issues what differs, the old files kept in a backup), or move ${o.cw} and ${o.kw} away and run again to have them re-created`}`;
  }
  return undefined;
}

/** The catalog's name of the key algorithm of a certificate's public key ("RSA-2048", "ECDSA-P256"), or "an unknown key". */
export function keyAlgorithmOf(spki: Buffer): string {
  const shape = spkiShape(spki);
  return (shape && algorithmOf(shape)?.name) ?? 'an unknown key';
}

/**
 * reconcile: how an existing certificate differs from what the description
 * asks for, one entry per difference, in the words of a dry run
 * ("SANs +DNS:lb.example.com -IP:10.0.0.9", "key RSA-2048 → ECDSA-P256").
 * Time is renew's business: an expired certificate that matches has no
 * difference, and one valid for less than the description allows neither;
 * only one that runs past what a certificate issued now would is one.
 */
export function leafChanges(have: ReadCertificate, want: { subject: Subject; sans: AltNames; profile: Profile; keyAlgorithm: AlgorithmName; validity: number }, ca: { certificate: Certificate; name: string; where: string; replaced?: boolean }, now: Date): string[] {
  const out: string[] = [];
  if (ca.replaced) out.push(`signer: ${ca.name} is made anew`);
  else if (!have.certificate.isSignedBy(ca.certificate)) out.push(`signer: not signed by ${ca.name} (${ca.where})`);
  if (!sameSubject(have.facts.subject, want.subject)) out.push(`subject ${fmtSubject(have.facts.subject)} → ${fmtSubject(want.subject)}`);
  const w = fmtSANs(want.sans);
  const h = fmtSANs(have.facts.sans);
  const sans = [...w.filter((x) => !h.includes(x)).map((x) => `+${x}`), ...h.filter((x) => !w.includes(x)).map((x) => `-${x}`)];
  if (sans.length) out.push(`SANs ${sans.join(' ')}`);
  const usages = (p: readonly string[]) => [...p].sort().join(',') || '(none)';
  if (usages(have.facts.extKeyUsage) !== usages(want.profile.extKeyUsage)) out.push(`usages ${usages(have.facts.extKeyUsage)} → ${usages(want.profile.extKeyUsage)}`);
  if (have.facts.isCA !== want.profile.isCA) out.push(want.profile.isCA ? 'not a CA certificate' : 'a CA certificate where a leaf should be');
  const key = keyAlgorithmOf(have.facts.spki);
  if (key !== want.keyAlgorithm) out.push(`key ${key} → ${want.keyAlgorithm}`);
  // Longer than allowed: it runs past what a certificate issued now would (a minute more for clocks). Not its
  // lifetime: kubeadm before v1.31 dated leaves from their CA's NotBefore, so old leaves have long lifetimes.
  const lifetime = have.facts.notAfter.getTime() - have.facts.notBefore.getTime();
  if (have.facts.notAfter.getTime() > now.getTime() + want.validity + 60_000) out.push(`validity ${lifetime >= 86_400_000 ? `${Math.round(lifetime / 86_400_000)}d` : formatDays(lifetime)} → ${formatDays(want.validity)}`);
  return out;
}

// ------------------------------------------------------------------ the service-account key pair

function decideKeyPair(t: KeyPairTarget, o: Observer, ctx: DecideContext): Decision {
  const kw = ctx.where(t.root, t.key);
  const pw = ctx.where(t.root, t.pub);
  const key = o.privateKey(t.root, t.key);
  const pub = o.publicKey(t.root, t.pub);
  for (const [r, where, rel, remedy] of [[key, kw, t.key, 'restore it from a backup or move it away'], [pub, pw, t.pub, `move it away to have it re-created from ${kw}`]] as const) {
    const trouble = troubleOf(r as Read<unknown>);
    if (trouble) return problem(trouble.code === 'unparsable' ? `${troubleText(where, trouble)}; ${remedy}` : troubleText(where, trouble, ctx.full(t.root, rel)));
  }
  const item: PlanItem = { ...base(t, 'key-pair'), keyAlgorithm: t.keyAlgorithm };
  if (key.state === 'present') {
    item.action = 'reuse';
    item.uses = [t.key];
    if (pub.state === 'present') {
      if (!spkiDer(pub.value).equals(key.value.spki)) {
        return problem(`${pw} does not match ${kw}; tokens signed with the key would not verify: move ${pw} away to have it re-created from ${kw}`);
      }
      item.uses.push(t.pub);
      return { kind: 'item', item };
    }
    item.writes = [t.pub];
    item.notes.push(`${t.pub} is re-created from the existing ${t.key}`);
    return { kind: 'item', item, material: { key: key.value } };
  }
  if (pub.state === 'present') return problem(`${pw} exists but ${kw} does not; restore ${kw}, or move ${pw} away to have a new pair created`);
  item.writes = [t.key, t.pub];
  return { kind: 'item', item };
}

// ------------------------------------------------------------------ kubeconfigs

/** Whether an existing kubeconfig (its current context) belongs to this cluster and identity; notes or a problem. */
export function judgeKubeconfig(kc: ReadKubeconfig, o: { where: string; ca: Certificate; subject: Subject; allowCertificateFile: boolean }): { problem: string } | { notes: string[]; client?: ReadCertificate } {
  const { where } = o;
  const cas = kc.cas?.state === 'present' ? kc.cas.value : [];
  if (!cas.some((c) => c.der.equals(o.ca.der))) {
    return { problem: `${where} exists but has got the wrong CA cert (not this cluster's ca.crt); move it away to have it written anew` };
  }
  if (!kc.client) {
    if (kc.parsed.certFile && o.allowCertificateFile) return { notes: [`its client certificate is the file ${kc.parsed.certFile} (rotated by the kubelet); not checked`] };
    return { problem: `${where} has no client certificate for its current user; move it away to have it written anew` };
  }
  if (kc.client.state !== 'present') return { problem: `${where}: the embedded client certificate ${readDetail(kc.client)}; move the file away to have it written anew` };
  const client = kc.client.value;
  if (kc.clientKey?.state !== 'present') return { problem: `${where}: the embedded client key ${kc.clientKey ? readDetail(kc.clientKey) : 'is missing'}; move the file away to have it written anew` };
  if (!kc.clientKey.value.spki.equals(client.facts.spki)) return { problem: `${where}: its client key does not match its client certificate; move the file away to have it written anew` };
  if (!client.certificate.isSignedBy(o.ca)) return { problem: `${where}: its client certificate is not signed by ca; move it away to have it written anew` };
  if (!sameSubject(client.facts.subject, o.subject)) {
    return { problem: `${where}: its client certificate is for ${fmtSubject(client.facts.subject)}, the description wants ${fmtSubject(o.subject)}; move it away to have it written anew` };
  }
  return { notes: [], client };
}

function decideKubeconfig(t: KubeconfigTarget, o: Observer, ctx: DecideContext): Decision {
  const where = ctx.where(t.root, t.file);
  const read = o.kubeconfig(t.root, t.file);
  if (read.state === 'refused') {
    const trouble = read.trouble;
    if (trouble.code === 'too-open') return problem(`${where} is readable by others than its owner (mode ${modeText(trouble.mode)}); run "chmod 600 ${ctx.full(t.root, t.file)}" and try again`);
    return problem(trouble.code === 'unparsable' && t.policy !== 'renew' ? `${troubleText(where, trouble)}; restore it from a backup or move it away` : troubleText(where, trouble));
  }
  const item: PlanItem = {
    ...base(t, 'kubeconfig'), ca: t.signer, subject: t.subject, keyAlgorithm: t.keyAlgorithm,
    ...(t.credentials.kind === 'client-certificate' ? { profile: PROFILES.client, validity: t.credentials.validity } : {}),
  };

  if (t.policy === 'trust') {
    // Only the embedded CA certificates change: a kubeconfig that is not there is left alone.
    if (read.state === 'missing') return { kind: 'skip', message: '' };
    if (t.settled && t.trustPem && read.value.cas?.state === 'present') {
      const want = pemBlocks(t.trustPem(), 'CERTIFICATE');
      const have = read.value.cas.value;
      if (want.length === have.length && want.every((d, i) => d.equals(have[i]!.der))) return { kind: 'item', item: { ...item, action: 'keep', uses: [t.file] } };
    }
    return { kind: 'item', item: { ...item, action: 'renew', writes: [t.file] }, material: { kubeconfigText: read.value.text, ...(read.value.parsed.document ? { kubeconfigDocument: read.value.parsed.document } : {}), trustOnly: true } };
  }

  if (t.policy === 'renew') {
    if (read.state === 'missing') return missingForRenew(t, where, ctx);
    const kc = read.value;
    if (!kc.parsed.certPem || !kc.parsed.keyPem) {
      // Its client certificate file is renewed by a target of its own (the kubelet's layout).
      if (kc.parsed.certFile && t.allowCertificateFile && t.clientFileRenewed) return { kind: 'skip', message: '' };
      // A kubelet that rotates its own client certificate (kubeadm's layout): "all" leaves it to the kubelet, as kubeadm does.
      if (kc.parsed.certFile && t.allowCertificateFile && !ctx.explicit) {
        return { kind: 'skip', message: `${t.name}: its client certificate is ${kc.parsed.certFile}, which the kubelet rotates itself; skipped` };
      }
      return problem(`${where} has no embedded client certificate and key for its current user${kc.parsed.certFile ? ` (it points to ${kc.parsed.certFile}, which its owner rotates)` : ''}; kubepki renews embedded ones only`);
    }
    if (kc.client?.state !== 'present') return problem(`${where} (client certificate) ${readDetail(kc.client)}`);
    if (kc.clientKey?.state !== 'present') return problem(`${where} (client key) ${readDetail(kc.clientKey)}`);
    if (!kc.clientKey.value.spki.equals(kc.client.value.facts.spki)) return problem(`${where} (client key) does not match ${where} (client certificate)`);
    return decideRenewal(t, item, { current: kc.client.value, writes: [t.file], material: { kubeconfigText: kc.text, ...(kc.parsed.document ? { kubeconfigDocument: kc.parsed.document } : {}), ...(t.keepKey ? { key: kc.clientKey.value } : {}) } }, ctx);
  }

  const ca = ctx.cas.get(t.signer);
  if (!ca) return { kind: 'skip', message: '' }; // the CA has a problem, reported already
  if (ca.action === 'unusable') return problem(`${t.name}: ${ca.problem}`);

  if (t.policy === 'new') {
    if (read.state === 'present') return problem(`${where} exists; kubepki will not overwrite it: move it away${t.credentials.kind === 'token' ? ' or choose --out' : ''}`);
    return { kind: 'item', item: { ...item, writes: [t.file] } };
  }

  if (t.policy === 'reconcile' && read.state === 'present' && ca.certificate && (ca.action === 'reuse' || ca.action === 'create')) {
    if (ca.rotation) return { kind: 'skip', message: '' }; // the CA's problem says it
    return reconcileKubeconfig(t, item, read.value, ca, where, ctx.now);
  }

  // init
  if (read.state === 'missing') {
    if (ca.action === 'external') return decideSignedElsewhere(t, item, where, ca, o, ctx);
    return expiredCA(where, t.signer, ca, ctx) ?? { kind: 'item', item: { ...item, writes: [t.file] } };
  }
  if (!ca.certificate) return problem(t.mismatch ?? `${where} exists but the cluster CA is to be created, so it belongs to another cluster; move it away`);
  const verdict = judgeKubeconfig(read.value, { where, ca: ca.certificate, subject: t.subject, allowCertificateFile: t.allowCertificateFile ?? false });
  if ('problem' in verdict) return problem(t.mismatch ?? verdict.problem);
  item.notes.push(...verdict.notes);
  if (verdict.client) {
    item.notAfter = verdict.client.facts.notAfter.toISOString();
    if (verdict.client.facts.notAfter < ctx.now) item.notes.push(`its client certificate expired on ${item.notAfter}`);
  }
  const server = read.value.parsed.server;
  if (server !== t.server) item.notes.push(`its server is ${server ?? '(none)'}, the description gives ${t.server}`);
  return { kind: 'item', item: { ...item, action: 'keep', uses: [t.file] } };
}

/**
 * renew, for the client certificate the kubelet rotates itself: what its link
 * points at is read (certificate and key), and renewed like any other client
 * certificate, into a new file the link is moved to.
 */
function decideKubeletClient(t: KubeletClientTarget, o: Observer, ctx: DecideContext): Decision {
  const where = ctx.where(t.root, t.current);
  const read = o.kubeletClient(t.root, t.current);
  if (read.state === 'missing') return missingForRenew(t, where, ctx);
  if (read.state === 'refused') return problem(troubleText(where, read.trouble, ctx.full(t.root, t.current)));
  const { certificate, key, link } = read.value;
  if (!key.spki.equals(certificate.facts.spki)) return problem(`${where}: its key does not match its certificate`);
  if (link !== undefined && o.file(t.root, t.fresh).state !== 'missing') return problem(`${ctx.where(t.root, t.fresh)} exists already; run again in a second`);
  const item: PlanItem = { ...base(t, 'certificate'), ca: t.signer, profile: PROFILES.client, validity: t.validity, keyAlgorithm: t.keyAlgorithm };
  return decideRenewal(t, item, { current: certificate, writes: link !== undefined ? [t.fresh, t.current] : [t.current], material: { kubeletLink: link !== undefined ? { link } : {} } }, ctx);
}

/**
 * reconcile, for a kubeconfig that is here: its server, its embedded CA and
 * its client certificate (identity, key, validity, signer) against the
 * description. Only what differs changes: the server and CA in the file as it
 * is (everything else in it kept), the client certificate re-issued when it
 * differs. A kubelet's kubeconfig that points at the certificate the kubelet
 * rotates keeps pointing there.
 */
function reconcileKubeconfig(t: KubeconfigTarget, item: PlanItem, kc: ReadKubeconfig, ca: CAState, where: string, now: Date): Decision {
  const changes: string[] = [];
  if (kc.cas?.state === 'refused') return problem(`${where}: its certificate-authority-data ${readDetail(kc.cas)}; move it away to have it written anew`);
  const cas = kc.cas?.state === 'present' ? kc.cas.value : [];
  if (ca.replaced) changes.push(`CA: ${t.signer} is made anew`);
  else if (!cas.some((c) => c.der.equals(ca.certificate!.der))) changes.push(`CA: not this cluster's ${t.signer}`);
  if (kc.parsed.server !== t.server) changes.push(`server ${kc.parsed.server ?? '(none)'} → ${t.server}`);
  const material = { kubeconfigText: kc.text, ...(kc.parsed.document ? { kubeconfigDocument: kc.parsed.document } : {}) };
  const keep: Decision = { kind: 'item', item: { ...item, action: 'keep', uses: [t.file] } };
  const trust: Decision = { kind: 'item', item: { ...item, action: 'renew', writes: [t.file], changes }, material: { ...material, trustOnly: true } };
  if (!kc.client) {
    if (!(kc.parsed.certFile && t.allowCertificateFile)) return problem(`${where} has no client certificate for its current user; move it away to have it written anew`);
    const d = (changes.length ? trust : keep) as Decision & { kind: 'item' };
    d.item.notes.push(`its client certificate is the file ${kc.parsed.certFile} (rotated by the kubelet); not compared`);
    return d;
  }
  if (kc.client.state !== 'present') return problem(`${where}: the embedded client certificate ${readDetail(kc.client)}; move the file away to have it written anew`);
  if (kc.clientKey?.state !== 'present') return problem(`${where}: the embedded client key ${kc.clientKey ? readDetail(kc.clientKey) : 'is missing'}; move the file away to have it written anew`);
  if (!kc.clientKey.value.spki.equals(kc.client.value.facts.spki)) return problem(`${where}: its client key does not match its client certificate; move the file away to have it written anew`);
  const client = leafChanges(kc.client.value, {
    subject: t.subject, sans: { dns: [], ips: [] }, profile: PROFILES.client, keyAlgorithm: t.keyAlgorithm,
    validity: t.credentials.kind === 'client-certificate' ? t.credentials.validity : Infinity,
  }, { certificate: ca.certificate!, name: t.signer, where: ca.certWhere, ...(ca.replaced ? { replaced: true } : {}) }, now);
  if (!changes.length && !client.length) return keep;
  if (!client.length) return trust;
  return { kind: 'item', item: { ...item, action: 'renew', writes: [t.file], changes: [...changes, ...client.map((c) => `client certificate ${c}`)] }, material };
}

/**
 * A kubeconfig whose CA is managed elsewhere: written around the client
 * certificate that CA signed from kubepki's CSR (certs generate-csr), once it
 * is checked (issuer, identity, usage, key).
 */
function decideSignedElsewhere(t: KubeconfigTarget, item: PlanItem, where: string, ca: CAState, o: Observer, ctx: DecideContext): Decision {
  const files = t.signedElsewhere;
  const hint = `have that CA sign ${files ? `${files.csr} (kubepki certs generate-csr writes it) and put the certificate at ${files.cert}` : 'it'}, or provide ${t.signer}.key`;
  const cert = files ? o.certificate(t.root, files.cert) : { state: 'missing' as const };
  const key = files ? o.privateKey(t.root, files.key, 'match') : { state: 'missing' as const };
  if (cert.state === 'missing') {
    return problem(`${where} is missing, and ${t.signer} is managed outside kubepki (${ca.certWhere} without its key): ${hint}`);
  }
  const cw = ctx.where(t.root, files!.cert);
  const kw = ctx.where(t.root, files!.key);
  for (const [r, w] of [[cert, cw], [key, kw]] as [Read<unknown>, string][]) {
    if (r.state === 'refused') return problem(troubleText(w, r.trouble, w));
  }
  if (key.state !== 'present') return problem(`${cw} is here but its key ${kw} is not: put the key that made ${files!.csr} beside it`);
  const signed = cert.state === 'present' ? cert.value : undefined;
  if (!signed) return problem(`${cw} cannot be read`);
  const judged = leafProblem({
    cw, kw, have: signed, subject: t.subject, sans: { dns: [], ips: [] }, profile: PROFILES.client, ca: ca.certificate!, caName: t.signer, caWhere: ca.certWhere,
    resign: ctx.where(t.root, files!.csr),
  });
  if (judged) return problem(judged);
  if (!key.value.spki.equals(signed.facts.spki)) return problem(`${kw} does not match ${cw} (different public keys); put the key that made ${files!.csr} beside it`);
  item.notes.push(`written around ${files!.cert}, signed by ${t.signer} (managed outside kubepki); ${files!.cert}, ${files!.key} and ${files!.csr} may be deleted now`);
  return {
    kind: 'item',
    item: { ...item, writes: [t.file], uses: [files!.cert, files!.key], notAfter: signed.facts.notAfter.toISOString() },
    material: { signedElsewhere: { certPem: signed.certificate.pem, keyPem: key.value.pem } },
  };
}

// ------------------------------------------------------------------ generated files, signed certificates, CSRs

function decideGenerated(t: GeneratedTarget, o: Observer, ctx: DecideContext): Decision {
  const item = base(t, t.shownAs);
  item.notes.push(...(t.notes ?? []));
  const problems: string[] = [];
  const replaced: string[] = [];
  const modes: string[] = [];
  for (const f of t.files) {
    const where = ctx.where(t.root, f.rel);
    const st = o.file(t.root, f.rel);
    if (st.state === 'missing') item.writes.push(f.rel);
    else if (st.state === 'refused') problems.push(st.trouble.code === 'not-a-file' ? `${where} is ${st.trouble.what}; move it away` : troubleText(where, st.trouble));
    else if (t.policy === 'new') problems.push(t.exists?.(where) ?? `${where} exists; kubepki will not overwrite it: move it away`);
    // replace: its content comes from what this run makes (a CA's new certificate): it is written, not compared,
    // unless it must still be what kubepki wrote before (a rotation's flag files).
    else if (t.policy === 'replace') {
      const expected = t.expected?.(f.rel);
      const text = st.data.toString();
      // reconcile: a file with the right content but more open than its role allows is written again, with its mode.
      const open = st.mode & 0o777 & ~MODES[f.role];
      if (t.settled && text === f.data() && open) {
        replaced.push(f.rel);
        modes.push(`mode ${modeText(st.mode & 0o777)} → ${modeText(MODES[f.role])}`);
      } else if (t.settled && text === f.data()) item.uses.push(f.rel);
      else if (expected === undefined) replaced.push(f.rel);
      else if (text === f.data()) item.uses.push(f.rel);
      else if (text !== expected) problems.push(`${where} is not what kubepki wrote (changed by hand?); kubepki will not overwrite it: write it anew with "kubepki flags", or move it away`);
      else replaced.push(f.rel);
    }
    else if (st.data.toString() === f.data() || t.same?.(st.data.toString())) item.uses.push(f.rel);
    else problems.push(`${where} differs from what the description gives; kubepki will not overwrite it: move it away to have it written anew`);
  }
  if (problems.length) return problems.length === 1 ? problem(problems[0]!) : { kind: 'problem', message: problems.join('\n') };
  if (replaced.length) {
    // Files replaced and files created cannot share an item (a replacement is staged with its backup); replace wins, created ones are none here.
    if (item.writes.length) return problem(`${ctx.where(t.root, item.writes[0]!)} is missing while ${ctx.where(t.root, replaced[0]!)} is to be replaced; restore it first`);
    return { kind: 'item', item: { ...item, action: 'renew', writes: replaced, ...(modes.length && modes.length === replaced.length ? { changes: [...new Set(modes)] } : {}) } };
  }
  item.action = item.writes.length ? 'create' : 'keep';
  return { kind: 'item', item };
}

function decideNew(t: SignedTarget | CsrTarget, o: Observer, ctx: DecideContext): Decision {
  const files = t.kind === 'signed' ? [t.file] : [t.key, t.csr];
  for (const rel of files) {
    const st = o.file(t.root, rel);
    if (st.state === 'refused') return problem(troubleText(ctx.where(t.root, rel), st.trouble));
    if (st.state === 'file') return problem(t.exists?.(ctx.where(t.root, rel)) ?? `${ctx.where(t.root, rel)} already exists; kubepki will not overwrite it`);
  }
  if (t.kind === 'signed') {
    const ca = ctx.cas.get(t.ca);
    if (!ca || ca.action === 'unusable') return { kind: 'skip', message: '' };
    const expired = expiredCA(ctx.where(t.root, t.file), t.ca, ca, ctx);
    if (expired) return expired;
    return { kind: 'item', item: { ...base(t, 'signed'), ca: t.ca, subject: t.subject, sans: t.sans, profile: t.profile, validity: t.validity, writes: files } };
  }
  return { kind: 'item', item: { ...base(t, 'csr'), subject: t.subject, sans: t.sans, keyAlgorithm: t.keyAlgorithm, writes: files }, ...(t.reuseKey ? { material: { key: t.reuseKey } } : {}) };
}

/** Files that go (to the backups): what is there is removed, what is not there is nothing to do; what cannot be read is not touched. */
function decideRemove(t: RemoveTarget, o: Observer, ctx: DecideContext): Decision {
  const item: PlanItem = { ...base(t, 'remove'), action: 'remove' };
  for (const f of t.files) {
    const st = o.file(t.root, f.rel);
    if (st.state === 'refused') return problem(troubleText(ctx.where(t.root, f.rel), st.trouble, ctx.full(t.root, f.rel)));
    if (st.state === 'file') item.writes.push(f.rel);
  }
  return item.writes.length ? { kind: 'item', item } : { kind: 'skip', message: '' };
}

export function decide(t: Target, o: Observer, ctx: DecideContext): Decision {
  switch (t.kind) {
    case 'remove': return decideRemove(t, o, ctx);
    case 'certificate': return decideCertificate(t, o, ctx);
    case 'key-pair': return decideKeyPair(t, o, ctx);
    case 'kubeconfig': return decideKubeconfig(t, o, ctx);
    case 'kubelet-client': return decideKubeletClient(t, o, ctx);
    case 'generated': return decideGenerated(t, o, ctx);
    case 'signed':
    case 'csr': return decideNew(t, o, ctx);
  }
}
