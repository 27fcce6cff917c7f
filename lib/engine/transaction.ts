/**
 * All-or-nothing writes of new files into one or more directories (the cert
 * dir, the kubeconfig dir, the flags dir).
 *
 * For each directory, files are first written and fsync'ed in a private staging
 * folder beside it (same file system). Then:
 * - a directory that does not exist yet is built whole in its staging folder and
 *   renamed into place: one atomic step;
 * - files added to an existing directory are hard-linked in one by one; link(2)
 *   never replaces a file, so nothing that appeared meanwhile is overwritten.
 * Each staging folder holds a journal of what its commit does; the first one's
 * `committed` mark is the commit point of the whole transaction. Any failure
 * undoes what was done. A run killed mid-commit leaves its journals behind, and
 * the next kubepki run that writes there rolls them back (only files that are
 * still the very inodes it staged), so the directories end as they were.
 *
 * For tests, KUBEPKI_FAULT=<stage|commit|kill-stage|kill-commit>:<n> makes the
 * run fail (or SIGKILL itself) after n files were staged or committed.
 */
import { randomBytes } from 'node:crypto';
import { constants as fsConstants, closeSync, existsSync, fchmodSync, fsync, lstatSync, mkdirSync, open as fsOpen, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { chmod, copyFile, link, lstat, mkdir, open, readlink, rename, rm, rmdir, stat, symlink, unlink } from 'node:fs/promises';
import path from 'node:path';
import { describeSystemError, settleAll, UserError } from '../errors.js';
import { MODES } from '../pki/catalog.js';

/** A file this run is to create appeared meanwhile (another run?): the commit stopped and nothing stays. */
export class FileExistsError extends UserError {
  constructor(readonly dir: string, readonly file: string) {
    super(`${file} appeared in ${dir} while kubepki was running (another run?); nothing was written: run kubepki again`);
  }
}

export interface NewFile {
  /** Path relative to the group's directory. */
  rel: string;
  data: string | Buffer;
  mode: number;
  /** Replace the existing file (renew): it is first copied to the group's backup folder. */
  replace?: boolean;
  /** Remove the existing file (a finished CA rotation's old files): it is copied to the backup folder, then unlinked; `data` is unused. */
  remove?: boolean;
  /** A symbolic link, not a file: `data` is where it points (the kubelet's kubelet-client-current.pem). */
  symlink?: boolean;
  /**
   * Files of one step (a certificate and its key) are committed by consecutive
   * system calls with nothing in between: the test hook never stops a run inside a step.
   */
  step?: string;
}

export interface FileGroup {
  dir: string;
  files: readonly NewFile[];
  /** Where the files being replaced are copied first (same relative paths); kept after the commit. */
  backupDir?: string;
}

interface Journal {
  pid: number;
  dir: string;
  /** The staging folder whose `committed` mark decides for the whole transaction. */
  primary: string;
  mode: 'tree' | 'link';
  /** tree mode: the inode of the staged tree, to recognise it once renamed into place. */
  treeIno?: number;
  files: { rel: string; staged: string; replace?: boolean; remove?: boolean; symlink?: boolean; ino?: number; mode?: number; step?: string }[];
  createdDirs: string[];
  backupDir?: string;
}

const PREFIX = '.kubepki-txn-';
const stagingPrefix = (dir: string) => `${PREFIX}${path.basename(dir)}-`;
const JOURNAL = 'journal.json';
const COMMITTED = 'committed';

let faultCount = { stage: 0, commit: 0 };
function fault(phase: 'stage' | 'commit'): void {
  const spec = process.env.KUBEPKI_FAULT;
  if (!spec) return;
  const done = ++faultCount[phase];
  const [what, n] = spec.split(':');
  if (Number(n) !== done) return;
  if (what === phase) throw new UserError(`injected failure after ${done} file(s) ${phase === 'stage' ? 'staged' : 'committed'} (KUBEPKI_FAULT)`);
  if (what === `kill-${phase}`) process.kill(process.pid, 'SIGKILL');
}

/** Where a directory's staging folder goes: beside it, unless it is its own file system. */
function stagingParent(dir: string): string {
  const parent = path.dirname(dir);
  try {
    if (statSync(dir).dev !== statSync(parent).dev) return dir;
  } catch {
    // dir does not exist yet: it will be created in parent
  }
  return parent;
}

/** The process umask (it only ever narrows the modes kubepki asks for), read when a transaction begins. */
let umask = 0;

/**
 * Create `file` (never replacing one) with exactly `mode`, whatever the umask,
 * and fsync it. Creating the file and the fsync run on the thread pool: on
 * ext4 both can wait for a journal commit, and a fleet's thousands of files
 * would otherwise hold the main thread. Writing a few KB into the page cache
 * and closing are done synchronously (microseconds, less than a trip through
 * the pool).
 */
async function writeNew(file: string, data: string | Buffer, mode: number): Promise<void> {
  const fd = await new Promise<number>((resolve, reject) => fsOpen(file, 'wx', mode, (e, n) => (e ? reject(e) : resolve(n))));
  try {
    if (mode & umask) fchmodSync(fd, mode); // the umask took bits away: put them back
    writeFileSync(fd, data);
    await new Promise<void>((resolve, reject) => fsync(fd, (e) => (e ? reject(e) : resolve())));
  } finally {
    closeSync(fd);
  }
}

/**
 * Keep the file that is about to be replaced or removed at `backup`: a second
 * name for it (link(2)), so that nothing is copied and its data, on disk
 * already, needs no fsync; a copy (mode MODES.backup) where the backup folder
 * is on another file system. Never over another backup: a backup folder is one
 * run's (roots.ts makes each run's name unique).
 */
async function keepCopy(live: string, backup: string): Promise<void> {
  // A symbolic link is kept as a link to the same place.
  if ((await lstat(live)).isSymbolicLink()) return symlink(await readlink(live), backup);
  try {
    await link(live, backup);
    return;
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    if (code !== 'EXDEV' && code !== 'EPERM' && code !== 'ENOTSUP' && code !== 'EMLINK') throw e;
  }
  await copyFile(live, backup, fsConstants.COPYFILE_EXCL);
  await chmod(backup, MODES.backup);
  const handle = await open(backup, 'r');
  await handle.sync().finally(() => handle.close());
}

async function syncDir(dir: string): Promise<void> {
  try {
    const handle = await open(dir, 'r');
    await handle.sync().finally(() => handle.close());
  } catch {
    // some file systems refuse fsync on directories; the data files were synced
  }
}

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'EPERM';
  }
}

async function sameInode(a: string, b: string): Promise<boolean> {
  try {
    const [x, y] = await Promise.all([stat(a), stat(b)]);
    return x.ino === y.ino && x.dev === y.dev;
  } catch {
    return false;
  }
}

/** The inode of a path itself (a symbolic link's own, not its target's). */
async function inodeOf(p: string): Promise<number | undefined> {
  try {
    return (await lstat(p)).ino;
  } catch {
    return undefined;
  }
}

/** Write and fsync staged copies concurrently (fsyncs dominate otherwise); all settle before an error is raised. */
async function stageAll(files: readonly (NewFile & { file: string })[]): Promise<void> {
  await settleAll(files.map(async (f) => {
    if (f.symlink) await symlink(String(f.data), f.file);
    else await writeNew(f.file, f.data, f.mode);
    fault('stage');
  }));
}

/** Undo one staging folder's part: unlink what it linked, or take back its renamed tree; then delete it. */
async function undo(staging: string, journal: Journal, linked: readonly string[]): Promise<void> {
  if (journal.mode === 'tree') {
    if (journal.treeIno !== undefined && (await inodeOf(journal.dir)) === journal.treeIno) {
      await rename(journal.dir, path.join(staging, 'tree')).catch(() => rm(journal.dir, { recursive: true, force: true }));
    }
  } else {
    for (const rel of linked) {
      const entry = journal.files.find((f) => f.rel === rel)!;
      const target = path.join(journal.dir, rel);
      // Put the copy made before the commit back, atomically: over the new file (if it is still in place), or where the removed one was.
      const restore = async () => {
        const tmp = path.join(path.dirname(target), `.${path.basename(target)}.kubepki-restore`);
        const backup = path.join(journal.backupDir!, rel);
        if (entry.symlink) await symlink(await readlink(backup), tmp);
        else {
          await copyFile(backup, tmp);
          if (entry.mode !== undefined) await chmod(tmp, entry.mode);
        }
        await rename(tmp, target);
      };
      if (entry.remove) {
        if ((await inodeOf(target)) === undefined) await restore();
      } else if (entry.replace) {
        if (entry.ino !== undefined && (await inodeOf(target)) === entry.ino) await restore();
      } else if (await sameInode(target, path.join(staging, entry.staged))) {
        await unlink(target).catch(() => undefined);
      }
    }
    for (const d of [...journal.createdDirs].reverse()) await rmdir(d).catch(() => undefined);
    // Nothing was replaced in the end: the copies this transaction made go, one by one (never a whole
    // folder: another directory's backups, or an earlier run's, may share it), then the folders they emptied.
    if (journal.backupDir) {
      const copies = journal.files.filter((f) => f.replace || f.remove).map((f) => path.join(journal.backupDir!, f.rel));
      for (const c of copies) await unlink(c).catch(() => undefined);
      const folders = new Set<string>([journal.backupDir]);
      for (const c of copies) for (let d = path.dirname(c); d.startsWith(journal.backupDir + path.sep); d = path.dirname(d)) folders.add(d);
      for (const d of [...folders].sort((a, b) => b.length - a.length)) await rmdir(d).catch(() => undefined);
    }
  }
  await rm(staging, { recursive: true, force: true });
}

/**
 * Roll back what a killed run left half-done in these directories. Returns one
 * message per directory repaired. Throws when another kubepki run is writing
 * there right now.
 */
export async function recoverInterrupted(dirs: readonly string[]): Promise<string[]> {
  const messages: string[] = [];
  for (const dir of new Set(dirs.map((d) => path.resolve(d)))) {
    for (const parent of new Set([path.dirname(dir), dir])) {
      let names: string[];
      try {
        names = readdirSync(parent).filter((n) => n.startsWith(stagingPrefix(dir)));
      } catch {
        continue;
      }
      for (const name of names) {
        const staging = path.join(parent, name);
        const pid = Number(/-(\d+)-[0-9a-f]+$/.exec(name)?.[1]);
        if (pid && pid !== process.pid && isAlive(pid)) {
          throw new UserError(`another kubepki run (pid ${pid}) is writing to ${dir}; wait for it to finish`);
        }
        let journal: Journal | undefined;
        try {
          journal = JSON.parse(readFileSync(path.join(staging, JOURNAL), 'utf8')) as Journal;
        } catch {
          journal = undefined; // killed before its commit began: nothing of it is in place
        }
        if (!journal || path.resolve(journal.dir) !== dir || existsSync(path.join(journal.primary, COMMITTED))) {
          await rm(staging, { recursive: true, force: true });
          continue;
        }
        await undo(staging, journal, journal.files.map((f) => f.rel));
        messages.push(`rolled back the unfinished writes of an interrupted run (pid ${journal.pid}) in ${dir}`);
      }
    }
  }
  // A primary whose transaction was rolled back elsewhere may be left: it holds nothing in place.
  return messages;
}

/** Directories that must be created for `rels` under an existing `dir`, parents first. */
function missingDirs(dir: string, rels: readonly string[]): string[] {
  const wanted = new Set<string>();
  for (const rel of rels) {
    for (let d = path.dirname(path.join(dir, rel)); d !== dir && !existsSync(d); d = path.dirname(d)) wanted.add(d);
  }
  return [...wanted].sort((a, b) => a.length - b.length);
}

function asUserError(e: unknown, dir: string): unknown {
  if (e instanceof UserError || !(e as NodeJS.ErrnoException).code) return e;
  return new UserError(`cannot write to ${dir}: ${describeSystemError(e)}; nothing was written`, { cause: e });
}

interface Prepared {
  dir: string;
  staging: string;
  journal: Journal;
  linked: string[];
  /** tree mode: folders of the staged tree, made once each. */
  made: Set<string>;
}

/**
 * An all-or-nothing write, staged piece by piece (so that a large one need not
 * be held in memory) and committed at once. writeAllOrNothing is the one-call form.
 */
export class Transaction {
  private readonly prepared: Prepared[] = [];
  private readonly createdParents: string[] = [];
  private done = false;

  private constructor() {}

  /** A transaction; each directory's staging folder is made when the first file for it is staged. */
  static begin(): Transaction {
    faultCount = { stage: 0, commit: 0 };
    umask = process.umask();
    return new Transaction();
  }

  private readonly preparing = new Map<string, Promise<Prepared>>();

  /**
   * Begin making the staging folders of these directories now, while what goes
   * in them is still being made; a failure is reported by the first stage into it.
   */
  ready(dirs: readonly { dir: string; backupDir?: string }[]): void {
    for (const d of dirs) this.prepare(this.place(path.resolve(d.dir)).dir, d.backupDir).catch(() => undefined);
  }

  /** Directories this transaction builds whole (tree mode), each staged in its own folder. */
  private readonly trees = new Set<string>();

  /**
   * Where a directory's files are staged: inside the tree of a new directory
   * that holds it (a flags dir in a new cert dir), with the path from there;
   * else in its own staging folder. (Its own would create the new directory
   * as the staging folder's parent, and the tree could not be renamed there.)
   */
  private place(dir: string): { dir: string; prefix: string } {
    for (const tree of this.trees) if (dir.startsWith(tree + path.sep)) return { dir: tree, prefix: path.relative(tree, dir) };
    return { dir, prefix: '' };
  }

  /** The staging folder for `dir` (and any missing parent folders), made once. */
  private prepare(dir: string, backupDir: string | undefined): Promise<Prepared> {
    let p = this.preparing.get(dir);
    if (!p) {
      p = this.makeStaging(dir, backupDir);
      this.preparing.set(dir, p);
    }
    return p;
  }

  /**
   * Make the staging folder. Its system calls run one after the other, each
   * needing the last, so they are made here, synchronously (tens of
   * microseconds each), not through the thread pool, where each waited behind
   * the keys and files queued there: init's CAs, made, waited ~7 ms for their
   * first file to be opened (scripts/bench-init's layout, this project's
   * 2-core machine).
   */
  private async makeStaging(dir: string, backupDir: string | undefined): Promise<Prepared> {
    const parent = path.dirname(dir);
    let first: string | undefined;
    try {
      first = mkdirSync(parent, { recursive: true, mode: MODES.dir });
    } catch (e) {
      throw new UserError(`cannot create ${parent}: ${describeSystemError(e)}`);
    }
    for (let d = parent; first !== undefined && d.length >= first.length; d = path.dirname(d)) this.createdParents.push(d);
    const where = stagingParent(dir);
    const staging = path.join(where, `${stagingPrefix(dir)}${process.pid}-${randomBytes(4).toString('hex')}`);
    try {
      mkdirSync(staging, { mode: 0o700 });
    } catch (e) {
      throw new UserError(`cannot write in ${where}: ${describeSystemError(e)}; run kubepki as a user that may write there, or choose another directory`);
    }
    const mode = existsSync(dir) ? 'link' : 'tree';
    const journal: Journal = {
      pid: process.pid, dir, primary: staging, mode, files: [], createdDirs: [],
      ...(backupDir ? { backupDir: path.resolve(backupDir) } : {}),
    };
    if (mode === 'tree') {
      this.trees.add(dir);
      const tree = path.join(staging, 'tree');
      mkdirSync(tree, { mode: MODES.dir });
      journal.treeIno = lstatSync(tree).ino;
    }
    const p: Prepared = { dir, staging, journal, linked: [], made: new Set() };
    this.prepared.push(p);
    return p;
  }

  /** Write files (relative to `dir`, one of the transaction's directories) into its staging folder. */
  async stage(dir: string, files: readonly NewFile[], backupDir?: string): Promise<void> {
    if (!files.length) return;
    const at = this.place(path.resolve(dir));
    if (at.prefix) files = files.map((f) => ({ ...f, rel: path.join(at.prefix, f.rel) }));
    const p = await this.prepare(at.dir, backupDir);
    const j = p.journal;
    if (j.mode === 'tree' && files.some((f) => f.replace || f.remove)) throw new UserError(`${p.dir} does not exist: nothing to replace in it`);
    const base = j.files.length;
    const entries = files.map((f, i) => ({
      rel: f.rel, staged: j.mode === 'tree' ? path.join('tree', f.rel) : String(base + i),
      ...(f.replace ? { replace: true } : {}), ...(f.remove ? { remove: true } : {}), ...(f.symlink ? { symlink: true } : {}), ...(f.step ? { step: f.step } : {}),
    }));
    j.files.push(...entries);
    if (j.mode === 'tree') {
      // Each folder of the staged tree is made once, however many pieces are staged into it (synchronously, as the staging folder).
      for (const d of new Set(files.map((f) => path.dirname(path.join(p.staging, 'tree', f.rel))))) {
        if (p.made.has(d)) continue;
        mkdirSync(d, { recursive: true, mode: MODES.dir });
        p.made.add(d);
      }
    }
    await stageAll(files.filter((f) => !f.remove).map((f) => ({ ...f, file: path.join(p.staging, entries[files.indexOf(f)]!.staged) })));
    const backups = entries.filter((x) => x.replace || x.remove) as Journal['files'];
    if (!backups.length) return;
    const folders = [...new Set(backups.map((f) => path.dirname(path.join(j.backupDir!, f.rel))))];
    await Promise.all(folders.map((d) => mkdir(d, { recursive: true, mode: MODES.backupDir })));
    await Promise.all(backups.map(async (f) => {
      if (f.replace) f.ino = await inodeOf(path.join(p.staging, f.staged));
      const live = path.join(p.dir, f.rel);
      f.mode = (await stat(live)).mode & 0o777;
      await keepCopy(live, path.join(j.backupDir!, f.rel));
    }));
    // The backups' names are on disk before anything is replaced.
    await Promise.all(folders.map(syncDir));
  }

  /** Put everything staged in place: all of it, or (on any failure) none of it. */
  async commit(): Promise<void> {
    await Promise.all(this.preparing.values());
    const active = this.prepared.filter((p) => p.journal.files.length);
    if (!active.length) return this.abort();
    // The first staging folder's `committed` mark decides for all of them. Unless the
    // transaction is one new directory, built whole: then its rename(2) is the commit
    // point, and no journal is needed (a run killed before it left nothing in place,
    // after it the directory is whole; the next run deletes the staging folder).
    const primary = active[0]!.staging;
    const single = active.length === 1 && active[0]!.journal.mode === 'tree';
    try {
      // Every directory's journal is written (or has failed) before anything is put in place or undone.
      await settleAll(active.map(async (p) => {
        const j = p.journal;
        j.primary = primary;
        if (j.mode === 'link') j.createdDirs = missingDirs(p.dir, j.files.filter((f) => !f.replace && !f.remove).map((f) => f.rel));
        // The staged tree's names on disk, and the journal, before anything is put in place.
        const names = j.mode === 'tree' ? [...new Set(j.files.map((f) => path.dirname(path.join(p.staging, f.staged))))].map(syncDir) : [];
        const journal = async () => {
          await writeNew(path.join(p.staging, `${JOURNAL}.tmp`), JSON.stringify(j), 0o600);
          await rename(path.join(p.staging, `${JOURNAL}.tmp`), path.join(p.staging, JOURNAL));
          await syncDir(p.staging);
        };
        await Promise.all([...names, ...(single ? [] : [journal()])]);
      }));
      // Shallow directories first.
      for (const p of [...active].sort((a, b) => a.dir.length - b.dir.length)) {
        try {
          if (p.journal.mode === 'tree') {
            await rename(path.join(p.staging, 'tree'), p.dir);
            fault('commit');
          } else {
            for (const d of p.journal.createdDirs) await mkdir(d, { mode: MODES.dir });
            const files = p.journal.files;
            for (const [i, f] of files.entries()) {
              // rename(2) replaces a file atomically; link(2) never replaces one.
              try {
                if (f.remove) await unlink(path.join(p.dir, f.rel));
                else await (f.replace ? rename : link)(path.join(p.staging, f.staged), path.join(p.dir, f.rel));
              } catch (e) {
                if ((e as NodeJS.ErrnoException).code === 'EEXIST') throw new FileExistsError(p.dir, path.join(p.dir, f.rel));
                throw e;
              }
              p.linked.push(f.rel);
              if (f.step === undefined || files[i + 1]?.step !== f.step) fault('commit');
            }
            await Promise.all([...new Set(files.map((f) => path.dirname(path.join(p.dir, f.rel))))].map(syncDir));
          }
          await syncDir(path.dirname(p.dir));
        } catch (e) {
          const code = (e as NodeJS.ErrnoException).code;
          // A directory created meanwhile where this run was to rename its new one.
          if (code === 'EEXIST' || code === 'ENOTEMPTY') throw new FileExistsError(path.dirname(p.dir), p.dir);
          throw asUserError(e, p.dir);
        }
      }
      if (!single) await writeNew(path.join(primary, COMMITTED), '', 0o600);
    } catch (e) {
      await this.abort();
      throw asUserError(e, this.prepared[0]?.dir ?? '');
    }
    this.done = true;
    // Committed: the staging folders only hold links to files now in place. The primary goes last.
    for (const p of [...this.prepared].reverse()) await rm(p.staging, { recursive: true, force: true });
  }

  /** Undo everything: nothing of this transaction stays. */
  async abort(): Promise<void> {
    if (this.done) return;
    this.done = true;
    await Promise.allSettled(this.preparing.values());
    for (const p of [...this.prepared].reverse()) await undo(p.staging, p.journal, p.linked);
    for (const d of this.createdParents.sort((a, b) => b.length - a.length)) await rmdir(d).catch(() => undefined);
  }
}

/** Write all files of all groups, or none of them. */
export async function writeAllOrNothing(groups: readonly FileGroup[]): Promise<void> {
  const t = Transaction.begin();
  try {
    for (const g of groups) await t.stage(g.dir, g.files, g.backupDir);
  } catch (e) {
    await t.abort();
    throw asUserError(e, path.resolve(groups[0]?.dir ?? '.'));
  }
  await t.commit();
}
