/**
 * A run of the engine: the one path every command that writes takes.
 *
 *   observe (observe.ts) → decide (decide.ts) → make (make.ts) → write (transaction.ts)
 *
 * A command builds targets from the catalog, hands them to a Run, and gets
 * back the plan (data). Nothing is made until every target is decided and no
 * problem was found; what is made is staged in one transaction as it is made
 * (so a fleet is never held in memory) and committed at once, or not at all.
 * Signing keys and existing keys live here, in the run's context, never in
 * the plan.
 */
import path from 'node:path';
import { settleAll, UserError } from '../errors.js';
import { caEntry, keyPath, type CAName } from '../pki/catalog.js';
import { KeyPool } from '../pki/keys.js';
import { readKeySigner, withCertificate, type Signer } from '../pki/signer.js';
import { decide, missingKeyText, type CAState, type DecideContext, type Material } from './decide.js';
import { make, type Made, type MakeContext } from './make.js';
import { Observer, troubleText, type FileSource } from './observe.js';
import { emptyPlan, type Plan, type PlanItem, type RunRoot } from './plan.js';
import { targetPaths, type Target } from './targets.js';
import { Transaction, recoverInterrupted } from './transaction.js';

export interface RunOptions {
  /** The directory of each root this run reads or writes. */
  dirs: Partial<Record<RunRoot, string>>;
  now?: number;
  /** Keys started ahead (init starts them before the certificate code loads). */
  pool?: KeyPool;
  /**
   * How a root's paths appear in messages: relative to it ("apiserver.crt",
   * when the command names the directory once), "admin.conf in /etc/kubernetes",
   * or (by default) absolute.
   */
  show?: Partial<Record<RunRoot, 'relative' | 'in-dir'>>;
  /** renew: names given on the command line (a missing one is an error, not a skip). */
  explicit?: boolean;
  /** Where the files a root's renewals replace are copied first. */
  backups?: Partial<Record<RunRoot, string>>;
  /** Where observations come from (tests of the planner use memory). */
  source?: FileSource;
  /** Messages for people about what was repaired or skipped (stderr by default). */
  report?: (line: string) => void;
  /**
   * A fleet: keep no plan items, forget each item's target and kept material
   * once it is made, and keep no list of written files or issued certificates,
   * so that memory does not grow with the number of nodes.
   */
  lean?: boolean;
}

/** A file source where nothing exists. */
const NOTHING: FileSource = { stat: () => undefined, read: () => Buffer.alloc(0) };

export class Run {
  readonly plan: Plan;
  /** What was skipped, and why (renew all: missing certificates, CAs managed elsewhere). */
  readonly skipped: string[] = [];
  readonly now: number;
  private readonly observer: Observer;
  private readonly ctx: DecideContext;
  private readonly targets = new Map<string, Target>();
  private readonly materials = new Map<string, Material>();
  private readonly signers = new Map<string, Signer>();
  private readonly pool: KeyPool;
  private txn?: Transaction;
  private readonly written: string[] = [];
  /** What each item that issued a certificate issued. */
  readonly issued = new Map<string, { serial: string; notAfter: Date }>();

  constructor(private readonly options: RunOptions) {
    this.now = options.now ?? Date.now();
    this.plan = emptyPlan(options.dirs);
    this.observer = new Observer(options.dirs as Record<string, string>, options.source);
    this.pool = options.pool ?? new KeyPool();
    const dirOf = (root: RunRoot) => this.dir(root);
    const show = options.show ?? {};
    this.ctx = {
      now: new Date(this.now),
      where: (root, rel) => (show[root] === 'relative' ? rel : show[root] === 'in-dir' ? `${rel} in ${dirOf(root)}` : path.join(dirOf(root), rel)),
      full: (root, rel) => path.join(dirOf(root), rel),
      cas: new Map(),
      explicit: options.explicit ?? false,
    };
  }

  dir(root: RunRoot): string {
    const d = this.options.dirs[root];
    if (d === undefined) throw new Error(`this run has no directory for ${root}`);
    return d;
  }

  /** Roll back what a killed run left half-done in the directories this run writes to (before anything is read). */
  async recover(roots: readonly RunRoot[] = Object.keys(this.options.dirs) as RunRoot[]): Promise<void> {
    const dirs = roots.map((r) => this.options.dirs[r]).filter((d): d is string => d !== undefined);
    for (const m of await recoverInterrupted(dirs)) (this.options.report ?? ((l) => process.stderr.write(`${l}\n`)))(`[kubepki] ${m}`);
  }

  /**
   * Observe and decide these targets: their items join the plan, their
   * problems its problems. `release` forgets the files read once decided
   * (a fleet's bundles, decided node by node).
   */
  async decide(targets: readonly Target[], o: { release?: boolean; unseen?: boolean } = {}): Promise<PlanItem[]> {
    // unseen: made to be printed, never written, so nothing on disk is looked at for them.
    const observer = o.unseen ? new Observer(this.options.dirs as Record<string, string>, NOTHING) : this.observer;
    await observer.prepare(targets);
    const items: PlanItem[] = [];
    for (const t of targets) {
      if (this.targets.has(t.id)) throw new Error(`two targets named ${t.id}`);
      this.targets.set(t.id, t);
      const d = decide(t, observer, this.ctx);
      if (d.kind === 'problem') this.plan.problems.push(...d.message.split('\n'));
      else if (d.kind === 'skip') {
        if (d.message) this.skipped.push(d.message);
      } else {
        items.push(d.item);
        if (d.material) this.materials.set(d.item.id, d.material);
      }
    }
    // A fleet's plan is not printed: its items are returned to the command and not kept.
    if (!this.options.lean) this.plan.items.push(...items);
    if (o.release) for (const t of targets) this.observer.release(t.root, targetPaths(t));
    return items;
  }

  /**
   * The CA a command must sign with: an error a person can act on when it
   * cannot (not here, unreadable, or its key kept elsewhere). Call after its
   * authority target was decided.
   */
  requireSigner(name: CAName): void {
    const ca = this.ctx.cas.get(name);
    if (ca?.action === 'unusable') throw new UserError(ca.problem!);
    if (ca?.action === 'external') throw new UserError(missingKeyText(path.join(this.dir('certs'), keyPath(caEntry(name))), name));
  }

  /**
   * A CA's certificate file as trust (the CA, then its issuers, then during a
   * rotation the other CA): what kubeconfigs embed and node bundles copy.
   * A name is a CA's catalog name or a rotation's slot ("ca-new").
   */
  caBundle(name: string): string {
    const ca = this.ctx.cas.get(name);
    const first = this.signers.get(name)?.certificate ?? ca?.certificate;
    if (!first) throw new Error(`no certificate for ${name}`);
    return [first, ...(ca?.chain ?? []), ...(ca?.partners ?? [])].map((c) => c.pem).join('');
  }

  /** What decide kept aside for an item (an existing key, a kubeconfig's text). */
  material(id: string): Material | undefined {
    return this.materials.get(id);
  }

  /** Whether anything is at this path (a regular file, or something refused in its place). */
  exists(root: RunRoot, rel: string): boolean {
    return this.observer.file(root, rel).state !== 'missing';
  }

  /**
   * The run's observer, once it has these files' kinds in view (the full
   * X.509 parser loaded when any is there): for a command that judges files
   * itself before building targets (ca rotate reads which CA each holds).
   */
  async look(root: RunRoot, rels: readonly string[]): Promise<Observer> {
    await this.observer.prepare([{ kind: 'remove', id: '', name: '', root, policy: 'remove', consumers: [], files: rels.map((rel) => ({ rel, role: 'cert' as const })) }]);
    return this.observer;
  }

  /** The folders in a root's directory (a fleet's bundles), read by the run's observer; a folder that cannot be read is a problem of the plan. */
  subdirs(root: RunRoot): string[] {
    const found = this.observer.subdirs(root);
    if ('names' in found) return found.names;
    this.plan.problems.push(troubleText(this.dir(root), found.trouble));
    return [];
  }

  /** How a path appears in this run's messages. */
  where(root: RunRoot, rel: string): string {
    return this.ctx.where(root, rel);
  }

  /** The state decided for a CA (after its target was decided), by catalog name or rotation slot. */
  ca(name: string): CAState | undefined {
    return this.ctx.cas.get(name);
  }

  private signer(name: string): Signer {
    let s = this.signers.get(name);
    if (!s) {
      const ca = this.ctx.cas.get(name);
      if (ca?.tokenKey && ca.certificate) s = withCertificate(ca.tokenKey.token.signer(ca.tokenKey.key), ca.certificate);
      else if (ca?.key && ca.certificate) s = withCertificate(readKeySigner(ca.key), ca.certificate);
      else throw new Error(`no signer for ${name}`);
      this.signers.set(name, s);
    }
    return s;
  }

  private makeContext(): MakeContext {
    return {
      now: this.now,
      pool: this.pool,
      targets: this.targets,
      materials: this.materials,
      signer: (name) => this.signer(name),
      addSigner: (name, s) => void this.signers.set(name, s),
      caBundle: (name) => this.caBundle(name),
    };
  }

  /**
   * Make these items (CAs first, then the rest, `concurrency` at a time) and
   * stage their files in the run's transaction as each is made; a failure
   * aborts the transaction.
   */
  async make(items: readonly PlanItem[], concurrency = Infinity): Promise<void> {
    const work = items.filter((i) => i.writes.length);
    if (!work.length) return;
    this.txn ??= Transaction.begin();
    this.txn.ready([...new Set(work.map((i) => i.root))].map((root) => ({ dir: this.dir(root), ...(this.options.backups?.[root] ? { backupDir: this.options.backups[root] } : {}) })));
    const ctx = this.makeContext();
    const stage = async (item: PlanItem, { files, certificate }: Made) => {
      const dir = this.dir(item.root);
      await this.txn!.stage(dir, files, this.options.backups?.[item.root]);
      if (this.options.lean) {
        this.targets.delete(item.id);
        this.materials.delete(item.id);
        return;
      }
      for (const f of files) this.written.push(path.join(dir, f.rel));
      if (certificate) this.issued.set(item.id, { serial: certificate.serialNumber, notAfter: certificate.notAfter });
    };
    // The CAs first: everything else is signed by them. Their files are staged
    // (written and fsync'ed) while the rest is made: a signature needs only the CA in memory.
    const staging: Promise<void>[] = [];
    let failure: { error: unknown } | undefined;
    try {
      await eachLimit(work.filter((i) => i.kind === 'ca'), Infinity, async (item) => {
        const staged = stage(item, await make(item, ctx));
        staged.catch(() => undefined); // seen below, once everything has settled
        staging.push(staged);
      });
      staging.push(eachLimit(work.filter((i) => i.kind !== 'ca'), concurrency, async (item) => stage(item, await make(item, ctx))));
    } catch (error) {
      failure = { error };
    }
    // Nothing is left half-staged: every staging settles before an error is passed on.
    await settleAll(staging).catch((error: unknown) => { failure ??= { error }; });
    if (failure) {
      await this.abort();
      throw failure.error;
    }
  }

  /** Make these items in memory only, for a command that prints what it made (`--out -`). */
  async render(items: readonly PlanItem[]): Promise<string[]> {
    const ctx = this.makeContext();
    const out: string[] = [];
    for (const item of items) for (const f of (await make(item, ctx)).files) out.push(String(f.data));
    return out;
  }

  /** Put everything staged in place at once; absolute paths written. */
  async commit(): Promise<string[]> {
    if (this.txn) await this.txn.commit();
    return this.written;
  }

  async abort(): Promise<void> {
    await this.txn?.abort();
  }

  /**
   * The problems found, as one error a person can act on (one on its line,
   * several listed under "N problems"); undefined when there are none.
   */
  problemsError(o: { what?: string; problems?: string; period?: boolean } = {}): UserError | undefined {
    const p = this.plan.problems;
    if (!p.length) return undefined;
    const what = o.what ?? 'nothing was written';
    const sentence = `${what.charAt(0).toUpperCase()}${what.slice(1)}${o.period === false ? '' : '.'}`;
    return p.length === 1 ? new UserError(`${p[0]!}. ${sentence}`) : new UserError(`${p.length} ${o.problems ?? 'problems'}; ${what}:`, { details: p });
  }

  /** Decide, then (when nothing is wrong) make and commit: the whole run for a command whose targets are known up front. */
  async apply(targets: readonly Target[], o: { dryRun?: boolean; what?: string; period?: boolean } = {}): Promise<string[]> {
    const items = await this.decide(targets);
    const error = this.problemsError(o);
    if (error) throw error;
    if (o.dryRun) return [];
    await this.make(items);
    return this.commit();
  }
}

/**
 * Run `fn` over `items`, at most `limit` at a time. After a failure no new
 * item starts; the ones under way finish (nothing is left half-staged), then
 * the first error is thrown.
 */
export async function eachLimit<T>(items: readonly T[], limit: number, fn: (item: T) => Promise<void>): Promise<void> {
  let next = 0;
  let failure: { error: unknown } | undefined;
  const workers = Array.from({ length: Math.max(1, Math.min(limit, items.length)) }, async () => {
    while (!failure && next < items.length) {
      try {
        await fn(items[next++]!);
      } catch (error) {
        failure ??= { error };
      }
    }
  });
  await Promise.all(workers);
  if (failure) throw failure.error;
}
