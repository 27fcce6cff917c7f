/**
 * A snapshot of what is on disk under the cert dir, for the (pure) planner:
 * each path the catalog may use, read without following symbolic links.
 */
import { lstatSync, readFileSync } from 'node:fs';
import path from 'node:path';
import type { ClusterSpec } from '../config/spec.js';
import { describeSystemError } from '../errors.js';
import { certPath, certificatesFor, keyPath, type CAName } from '../pki/catalog.js';

export type FileState =
  | { state: 'missing' }
  | { state: 'file'; data: Buffer; mode: number }
  | { state: 'not-a-file'; what: string }
  | { state: 'unreadable'; reason: string };

/** What is on disk, keyed "<root>:<relative path>". */
export interface DiskState {
  files: Map<string, FileState>;
}

function kindOf(st: import('node:fs').Stats): string {
  if (st.isDirectory()) return 'a directory';
  if (st.isSymbolicLink()) return 'a symbolic link';
  return 'not a regular file';
}

/** lstat a path and each parent up to (not including) the dir; symlinks and non-directories stop it. */
function inspectPath(dir: string, rel: string): FileState {
  const parts = rel.split('/');
  for (let i = 1; i < parts.length; i++) {
    const parent = path.join(dir, ...parts.slice(0, i));
    try {
      const st = lstatSync(parent);
      if (!st.isDirectory()) return { state: 'not-a-file', what: `inside ${parts.slice(0, i).join('/')}, which is ${kindOf(st)}` };
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === 'ENOENT') return { state: 'missing' };
      return { state: 'unreadable', reason: describeSystemError(e) };
    }
  }
  const full = path.join(dir, rel);
  try {
    const st = lstatSync(full);
    if (!st.isFile()) return { state: 'not-a-file', what: kindOf(st) };
    return { state: 'file', data: readFileSync(full), mode: st.mode & 0o777 };
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    if (code === 'ENOENT' || code === 'ENOTDIR') return { state: 'missing' };
    return { state: 'unreadable', reason: describeSystemError(e) };
  }
}

/** Quick existence check (no reads): used to start key generation before the full plan. */
export function exists(dir: string, rel: string): boolean {
  try {
    lstatSync(path.join(dir, rel));
    return true;
  } catch {
    return false;
  }
}

export function inspectDirs(dirs: Readonly<Record<string, string>>, paths: Iterable<{ root: string; rel: string }>): DiskState {
  const files = new Map<string, FileState>();
  for (const { root, rel } of paths) files.set(`${root}:${rel}`, inspectPath(dirs[root]!, rel));
  return { files };
}

/** CAs whose certificate is on disk without its key: managed outside kubepki (kubeadm's external CA mode). */
export function externalCAs(certDir: string, spec: ClusterSpec): Set<CAName> {
  return new Set(certificatesFor(spec).filter((e) => !e.ca && exists(certDir, certPath(e)) && !exists(certDir, keyPath(e))).map((e) => e.name as CAName));
}
