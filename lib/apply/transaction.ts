/**
 * All-or-nothing writes of a set of new files into a directory.
 *
 * Files are first written and fsync'ed in a private staging folder beside the
 * target (same file system), then hard-linked into place one by one. link(2)
 * never replaces an existing file, so a file that appeared meanwhile is never
 * overwritten. A journal in the staging folder lists what the commit will link
 * and which directories it creates; any failure unlinks what was linked. A run
 * killed mid-commit leaves its journal behind, and the next kubepki run that
 * writes there rolls it back (only files that are still the very inodes it
 * staged), so the target ends as it was before the killed run.
 *
 * For tests, KUBEPKI_FAULT=<stage|commit|kill-stage|kill-commit>:<n> makes the
 * run fail (or SIGKILL itself) after n files were staged or linked.
 */
import { randomBytes } from 'node:crypto';
import { existsSync, readdirSync, readFileSync, rmSync, statSync } from 'node:fs';
import { link, mkdir, open, rename, rm, rmdir, stat, unlink } from 'node:fs/promises';
import path from 'node:path';
import { describeSystemError, UserError } from '../errors.js';

export interface NewFile {
  /** Path relative to the target directory. */
  rel: string;
  data: string | Buffer;
  mode: number;
}

interface Journal {
  pid: number;
  dir: string;
  files: { rel: string; staged: string }[];
  createdDirs: string[];
}

const PREFIX = '.kubepki-txn-';
const stagingPrefix = (dir: string) => `${PREFIX}${path.basename(dir)}-`;

function fault(phase: 'stage' | 'commit', done: number): void {
  const spec = process.env.KUBEPKI_FAULT;
  if (!spec) return;
  const [what, n] = spec.split(':');
  if (Number(n) !== done) return;
  if (what === phase) throw new UserError(`injected failure after ${done} file(s) ${phase === 'stage' ? 'staged' : 'committed'} (KUBEPKI_FAULT)`);
  if (what === `kill-${phase}`) process.kill(process.pid, 'SIGKILL');
}

/** Where staging folders go: beside the target, unless the target is its own file system. */
function stagingParent(dir: string): string {
  const parent = path.dirname(dir);
  try {
    if (statSync(dir).dev !== statSync(parent).dev) return dir;
  } catch {
    // dir does not exist yet: it will be created in parent
  }
  return parent;
}

async function writeNew(file: string, data: string | Buffer, mode: number): Promise<void> {
  const handle = await open(file, 'wx', mode);
  try {
    await handle.chmod(mode); // exact mode, whatever the umask
    await handle.writeFile(data);
    await handle.sync();
  } finally {
    await handle.close();
  }
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

async function rollback(staging: string, journal: Journal, linked: readonly string[]): Promise<void> {
  for (const rel of linked) {
    const entry = journal.files.find((f) => f.rel === rel)!;
    const target = path.join(journal.dir, rel);
    if (await sameInode(target, path.join(staging, entry.staged))) await unlink(target).catch(() => undefined);
  }
  for (const d of [...journal.createdDirs].reverse()) await rmdir(d).catch(() => undefined);
  await rm(staging, { recursive: true, force: true });
}

/**
 * Roll back what a killed run left half-done in `dir`. Returns one message per
 * run recovered. Throws when another kubepki run is writing there right now.
 */
export async function recoverInterrupted(dir: string): Promise<string[]> {
  const messages: string[] = [];
  for (const parent of new Set([path.dirname(dir), dir])) {
    let names: string[];
    try {
      names = readdirSync(parent).filter((n) => n.startsWith(stagingPrefix(dir)));
    } catch {
      continue;
    }
    for (const name of names) {
      const staging = path.join(parent, name);
      const journalFile = path.join(staging, 'journal.json');
      const pid = Number(/-(\d+)-[0-9a-f]+$/.exec(name)?.[1]);
      if (pid && pid !== process.pid && isAlive(pid)) {
        throw new UserError(`another kubepki run (pid ${pid}) is writing to ${dir}; wait for it to finish`);
      }
      if (existsSync(path.join(staging, 'committed'))) {
        rmSync(staging, { recursive: true, force: true });
        continue;
      }
      if (existsSync(journalFile)) {
        const journal = JSON.parse(readFileSync(journalFile, 'utf8')) as Journal;
        if (path.resolve(journal.dir) !== path.resolve(dir)) continue;
        await rollback(staging, journal, journal.files.map((f) => f.rel));
        messages.push(`rolled back the unfinished writes of an interrupted run (pid ${journal.pid}) in ${dir}`);
      } else {
        rmSync(staging, { recursive: true, force: true });
      }
    }
  }
  return messages;
}

/** Directories that must be created for `rels` under `dir`, parents first. */
function missingDirs(dir: string, rels: readonly string[]): string[] {
  const wanted = new Set<string>();
  for (const rel of rels) {
    for (let d = path.dirname(path.join(dir, rel)); ; d = path.dirname(d)) {
      if (existsSync(d)) break;
      wanted.add(d);
      if (d === path.dirname(d)) break;
    }
  }
  return [...wanted].sort((a, b) => a.length - b.length);
}

/** Write and fsync the staged copies concurrently (fsyncs dominate otherwise); all settle before any error is raised. */
async function stageAll(files: readonly (NewFile & { file: string })[]): Promise<void> {
  let staged = 0;
  const results = await Promise.allSettled(files.map(async (f) => {
    await writeNew(f.file, f.data, f.mode);
    fault('stage', ++staged);
  }));
  const failed = results.find((r): r is PromiseRejectedResult => r.status === 'rejected');
  if (failed) throw failed.reason;
}

function asUserError(e: unknown, dir: string): unknown {
  if (e instanceof UserError || !(e as NodeJS.ErrnoException).code) return e;
  return new UserError(`cannot write to ${dir}: ${describeSystemError(e)}; nothing was written`, { cause: e });
}

/**
 * A directory that does not exist yet is built whole in the staging folder and
 * renamed into place: one atomic step, so even a kill leaves no trace in it.
 */
async function stageTree(staging: string, dir: string, files: readonly NewFile[]): Promise<void> {
  const tree = path.join(staging, 'tree');
  try {
    await mkdir(tree, { mode: 0o755 });
    for (const d of new Set(files.map((f) => path.dirname(path.join(tree, f.rel))))) await mkdir(d, { recursive: true, mode: 0o755 });
    await stageAll(files.map((f) => ({ ...f, file: path.join(tree, f.rel) })));
    for (const d of new Set(files.map((f) => path.dirname(path.join(tree, f.rel))))) await syncDir(d);
    try {
      await rename(tree, dir);
    } catch (e) {
      const code = (e as NodeJS.ErrnoException).code;
      if (code === 'EEXIST' || code === 'ENOTEMPTY') {
        throw new UserError(`${dir} appeared while kubepki was running (another run?); nothing was written: run kubepki again`);
      }
      throw e;
    }
    await syncDir(path.dirname(dir));
  } catch (e) {
    await rm(staging, { recursive: true, force: true });
    throw asUserError(e, dir);
  }
  await rm(staging, { recursive: true, force: true });
}

/** Write all `files` under `dir`, or none of them. */
export async function writeAllOrNothing(dir: string, files: readonly NewFile[]): Promise<void> {
  if (files.length === 0) return;
  const parent = stagingParent(dir);
  try {
    await mkdir(parent, { recursive: true, mode: 0o755 });
  } catch (e) {
    throw new UserError(`cannot create ${parent}: ${describeSystemError(e)}`);
  }
  const staging = path.join(parent, `${stagingPrefix(dir)}${process.pid}-${randomBytes(4).toString('hex')}`);
  try {
    await mkdir(staging, { mode: 0o700 });
  } catch (e) {
    throw new UserError(`cannot write in ${parent}: ${describeSystemError(e)}; run kubepki as a user that may write there, or choose another --cert-dir`);
  }
  if (!existsSync(dir)) {
    await stageTree(staging, dir, files);
    return;
  }
  const journal: Journal = { pid: process.pid, dir: path.resolve(dir), files: [], createdDirs: [] };
  const linked: string[] = [];
  try {
    journal.files = files.map((f, i) => ({ rel: f.rel, staged: String(i) }));
    await stageAll(files.map((f, i) => ({ ...f, file: path.join(staging, String(i)) })));
    journal.createdDirs = missingDirs(dir, files.map((f) => f.rel));
    await writeNew(path.join(staging, 'journal.json.tmp'), JSON.stringify(journal), 0o600);
    await rename(path.join(staging, 'journal.json.tmp'), path.join(staging, 'journal.json'));
    await syncDir(staging);

    for (const d of journal.createdDirs) await mkdir(d, { mode: 0o755 });
    for (const f of journal.files) {
      const target = path.join(dir, f.rel);
      try {
        await link(path.join(staging, f.staged), target);
      } catch (e) {
        if ((e as NodeJS.ErrnoException).code === 'EEXIST') {
          throw new UserError(`${target} appeared while kubepki was running (another run?); nothing was written: run kubepki again`);
        }
        throw e;
      }
      linked.push(f.rel);
      fault('commit', linked.length);
    }
    for (const d of new Set(journal.files.map((f) => path.dirname(path.join(dir, f.rel))))) await syncDir(d);
    await writeNew(path.join(staging, 'committed'), '', 0o600);
  } catch (e) {
    await rollback(staging, journal, linked);
    throw asUserError(e, dir);
  }
  await rm(staging, { recursive: true, force: true });
}
