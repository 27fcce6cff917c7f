/**
 * The single executable's start-up snapshot (scripts/build-binary.mjs, Node's
 * SEA `useSnapshot`): this is the snapshot's entry. When the executable is
 * built, Node runs it: it runs the warm-up commands (KUBEPKI_SNAPSHOT_WARMUP,
 * command lines as JSON, over a scratch folder), so that every module they load
 * is loaded and every function they call is compiled, and V8 writes the heap
 * into the executable. The executable starts from that heap and runs `main`:
 * no bundle to read, parse, compile or run at start-up.
 *
 * What a module keeps between calls was made by the build, not by the run, so
 * no module keeps anything of its process at its top level (the umask, the
 * users of /etc/passwd). Node fills the caches of crypto.randomInt and
 * crypto.randomUUID once per process, and a snapshot would keep them: every
 * executable would draw the same numbers. kubepki draws from randomBytes and
 * getRandomValues, which keep nothing (test/binary.test.ts checks that two
 * runs draw differently).
 */
import { startupSnapshot } from 'node:v8';
import { main } from './cli.js';
import { ExitCode } from './errors.js';

async function warmUp(commands: string[][]): Promise<void> {
  const { argv } = process;
  const write = process.stdout.write;
  // The warm-up's output is not the build's.
  process.stdout.write = () => true;
  try {
    for (const args of commands) {
      process.argv = [argv[0]!, 'kubepki', ...args];
      await main();
      // What audit and check-expiration find (exit 3, 4) is not a failure of the warm-up.
      if (process.exitCode === ExitCode.failure || process.exitCode === ExitCode.usage) throw new Error(`the warm-up command "kubepki ${args.join(' ')}" exited with ${String(process.exitCode)}`);
    }
  } finally {
    process.stdout.write = write;
    process.argv = argv;
    process.exitCode = undefined;
  }
}

if (!startupSnapshot.isBuildingSnapshot()) throw new Error('lib/snapshot.ts is the entry of a start-up snapshot (node --build-snapshot), not a program');
warmUp(JSON.parse(process.env.KUBEPKI_SNAPSHOT_WARMUP ?? '[]') as string[][]).catch((e: unknown) => {
  process.stderr.write(`kubepki: the start-up snapshot's warm-up failed: ${(e as Error).stack ?? String(e)}\n`);
  process.exit(1);
});
startupSnapshot.setDeserializeMainFunction(() => {
  void main();
});
