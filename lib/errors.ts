/**
 * Errors a person can act on. A UserError carries a one-line message (what is
 * wrong, where, and what to do next) and an exit code; the CLI prints it without
 * a stack trace. Anything else reaching the top is a bug and keeps its stack.
 */
export const ExitCode = {
  ok: 0,
  /** The request could not be carried out: bad input, a conflict on disk. */
  failure: 1,
  /** The command line itself was wrong (unknown flag, missing argument). */
  usage: 2,
} as const;

export class UserError extends Error {
  readonly exitCode: number;
  /** Further lines shown under the message (one problem per line). */
  readonly details: readonly string[];

  constructor(message: string, options: { exitCode?: number; details?: readonly string[]; cause?: unknown } = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = 'UserError';
    this.exitCode = options.exitCode ?? ExitCode.failure;
    this.details = options.details ?? [];
  }
}

/** The message of a Node.js system error without its errno prefix noise. */
export function describeSystemError(error: unknown): string {
  const e = error as NodeJS.ErrnoException;
  switch (e?.code) {
    case 'EACCES':
    case 'EPERM':
      return 'permission denied';
    case 'ENOENT':
      return 'no such file or directory';
    case 'ENOTDIR':
      return 'a path component is not a directory';
    case 'EISDIR':
      return 'is a directory';
    case 'EROFS':
      return 'read-only file system';
    case 'ENOSPC':
      return 'no space left on device';
    case 'EEXIST':
      return 'already exists';
    default:
      return e instanceof Error ? e.message : String(error);
  }
}

/** Wait for every one of these to settle, then throw the first failure, if any: nothing is still running when an error is passed on. */
export async function settleAll(work: Iterable<Promise<unknown>>): Promise<void> {
  const failed = (await Promise.allSettled(work)).find((r): r is PromiseRejectedResult => r.status === 'rejected');
  if (failed) throw failed.reason;
}
