/** A background loop for tests that load a live cluster while it changes (renew-live, ca-rotate-etcd). */
import { setTimeout as sleep } from 'node:timers/promises';

export interface Loop<T> {
  results: T[];
  stop(): Promise<T[]>;
}

/**
 * Runs `step` every `intervalMs` until stopped or `maxMs` passed (whichever
 * comes first); each step must bound itself (etcdctl's timeouts do).
 */
export function loop<T>(intervalMs: number, maxMs: number, step: (i: number) => Promise<T>): Loop<T> {
  const results: T[] = [];
  let stopped = false;
  const deadline = Date.now() + maxMs;
  const done = (async () => {
    for (let i = 0; !stopped && Date.now() < deadline; i++) {
      const t0 = Date.now();
      results.push(await step(i));
      await sleep(Math.max(0, intervalMs - (Date.now() - t0)));
    }
  })();
  return {
    results,
    stop: async () => {
      stopped = true;
      await done;
      return results;
    },
  };
}
