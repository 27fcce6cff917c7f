/**
 * What the bundled yargs takes from node:assert (its ESM platform shim imports
 * notStrictEqual and strictEqual for internal sanity checks). Loading node:assert
 * costs ~7 ms of start-up (it pulls in its error formatting and terminal colours);
 * the bundle uses this instead (scripts/build.mjs, alias). Same contract: throw an
 * AssertionError-like error when the check fails.
 */
class AssertionError extends Error {
  readonly code = 'ERR_ASSERTION';
}

export function strictEqual(actual: unknown, expected: unknown, message?: string | Error): void {
  if (!Object.is(actual, expected)) fail(message, `expected ${String(expected)}, got ${String(actual)}`);
}

export function notStrictEqual(actual: unknown, expected: unknown, message?: string | Error): void {
  if (Object.is(actual, expected)) fail(message, `expected a value other than ${String(expected)}`);
}

function fail(message: string | Error | undefined, fallback: string): never {
  if (message instanceof Error) throw message;
  throw new AssertionError(message ?? fallback);
}
