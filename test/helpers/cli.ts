/**
 * Running kubepki as a user does (the built bin/kubepki.cjs in a child process),
 * scratch folders, and byte-for-byte snapshots of a folder.
 */
import { createHash } from 'node:crypto';
import { execFileSync } from 'node:child_process';
import { cpSync, lstatSync, mkdtempSync, readdirSync, readFileSync, readlinkSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import type { ExecutionContext } from 'ava';
import { execa } from 'execa';

/** The repository root (this file runs from dist/test/helpers/). */
export const REPO = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../..');
export const BIN = path.join(REPO, 'bin/kubepki.cjs');

export interface Run {
  exitCode: number;
  stdout: string;
  stderr: string;
}

let sharedCopy: string | undefined;
/**
 * A copy of the built CLI that any user can read (the bundle is self-contained):
 * the checkout itself may sit in a folder other users cannot enter.
 */
function worldReadableBin(): string {
  if (!sharedCopy) {
    const dir = mkdtempSync(path.join(tmpdir(), 'kubepki-shared-'));
    for (const part of ['bin', 'dist/bundle', 'templates', 'package.json']) cpSync(path.join(REPO, part), path.join(dir, part), { recursive: true });
    execFileSync('chmod', ['-R', 'a+rX', dir]);
    process.on('exit', () => rmSync(dir, { recursive: true, force: true }));
    sharedCopy = path.join(dir, 'bin/kubepki.cjs');
  }
  return sharedCopy;
}

export async function kubepki(args: readonly string[], options: { env?: Record<string, string>; cwd?: string; user?: string } = {}): Promise<Run> {
  const command = options.user ? 'runuser' : process.execPath;
  const argv = options.user ? ['-u', options.user, '--', process.execPath, worldReadableBin(), ...args] : [BIN, ...args];
  const r = await execa(command, argv, {
    reject: false,
    env: { ...options.env },
    cwd: options.cwd ?? (options.user ? tmpdir() : REPO),
    timeout: 120_000,
    stdin: 'ignore',
  });
  return { exitCode: r.exitCode ?? -1, stdout: String(r.stdout), stderr: String(r.stderr) };
}

/** The arguments that pin a node's identity, so tests do not depend on this machine. */
export const NODE = ['--node-name', 'cp-1', '--apiserver-advertise-address', '192.168.10.11'] as const;

/** A scratch folder removed when the test ends. */
export function scratch(t: ExecutionContext): string {
  const dir = mkdtempSync(path.join(tmpdir(), 'kubepki-test-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

/** Every entry under `dir` (relative path → type, mode and content hash), symlinks not followed. */
export function snapshot(dir: string): Record<string, string> {
  const out: Record<string, string> = {};
  const walk = (rel: string) => {
    const full = path.join(dir, rel);
    let st;
    try {
      st = lstatSync(full);
    } catch {
      return;
    }
    const mode = (st.mode & 0o7777).toString(8);
    if (st.isSymbolicLink()) out[rel || '.'] = `link ${readlinkSync(full)}`;
    else if (st.isDirectory()) {
      out[rel || '.'] = `dir ${mode}`;
      for (const name of readdirSync(full).sort()) walk(rel ? `${rel}/${name}` : name);
    } else out[rel || '.'] = `file ${mode} ${createHash('sha256').update(readFileSync(full)).digest('hex')}`;
  };
  walk('');
  return out;
}

export async function openssl(args: readonly string[], input?: string): Promise<Run> {
  const r = await execa('openssl', args, { reject: false, timeout: 30_000, ...(input !== undefined ? { input } : { stdin: 'ignore' as const }) });
  return { exitCode: r.exitCode ?? -1, stdout: String(r.stdout), stderr: String(r.stderr) };
}
