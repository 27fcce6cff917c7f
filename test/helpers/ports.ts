/**
 * Free TCP port allocation for tests that start real servers (etcd, ...).
 *
 * The kernel picks an unused port when a socket binds port 0. To get `n`
 * *distinct* ports we bind `n` sockets concurrently and keep every one of them
 * open until all are bound (a socket closed early could hand the same port to
 * the next bind), then read the ports and close them all.
 *
 * There is an unavoidable window between closing these sockets and the server
 * binding the port, during which another process may take it. Callers that
 * start servers should treat "address already in use" as retryable.
 */
import net from 'node:net';

/** The address every test server listens on: loopback only. */
export const LOOPBACK = '127.0.0.1';

function listenOnFreePort(host: string): Promise<net.Server> {
  return new Promise((resolve, reject) => {
    const server = net.createServer();
    server.unref();
    server.once('error', reject);
    // exclusive: do not share the handle with cluster workers.
    server.listen({ host, port: 0, exclusive: true }, () => {
      server.off('error', reject);
      resolve(server);
    });
  });
}

function closeServer(server: net.Server): Promise<void> {
  return new Promise((resolve) => {
    server.close(() => resolve());
  });
}

/**
 * Returns `n` distinct TCP ports that were free on 127.0.0.1 (or `host`) at
 * the time of the call.
 */
export async function freePorts(n: number, host: string = LOOPBACK): Promise<number[]> {
  if (!Number.isInteger(n) || n < 0) {
    throw new RangeError(`freePorts: n must be a non-negative integer, got ${n}`);
  }
  const results = await Promise.allSettled(Array.from({ length: n }, () => listenOnFreePort(host)));
  const servers = results.flatMap((r) => (r.status === 'fulfilled' ? [r.value] : []));
  try {
    const failure = results.find((r): r is PromiseRejectedResult => r.status === 'rejected');
    if (failure) {
      throw new Error(`freePorts: could not bind ${host}:0: ${String(failure.reason)}`, { cause: failure.reason });
    }
    return servers.map((server) => {
      const address = server.address();
      if (address === null || typeof address === 'string') {
        throw new Error(`freePorts: unexpected server address ${String(address)}`);
      }
      return address.port;
    });
  } finally {
    await Promise.all(servers.map(closeServer));
  }
}

/** Convenience for a single port. */
export async function freePort(host: string = LOOPBACK): Promise<number> {
  const [port] = await freePorts(1, host);
  if (port === undefined) throw new Error('freePort: no port allocated');
  return port;
}
