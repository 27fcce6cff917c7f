/**
 * The etcd flags and the etcdctl environment that `kubepki init` emits are
 * enough to run etcd: a 3-member TLS cluster on 127.0.0.1 starts from nothing
 * but each member's <flags-dir>/etcd.flags (read line by line, no flag added,
 * removed or changed by the test), and etcdctl talks to it with nothing but
 * the variables of <flags-dir>/etcdctl.env.
 *
 * The three nodes are set up as an operator sets up HA control planes: `init`
 * on m0, then the shared CAs and service-account key copied to m1 and m2
 * before their own `init`, so every member has its own server and peer
 * certificates signed by the same etcd CA.
 *
 * Needs etcd and etcdctl 3.4+ (Debian: etcd-server, etcd-client) in PATH.
 */
import test, { type ExecutionContext } from 'ava';
import { randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import path from 'node:path';
import { scratch } from './helpers/cli.js';
import { etcdctl, getFlag } from './helpers/etcd.js';
import {
  describe, NAMES, readEnvFile, readFlagsFile, startHaEtcd,
  type HaNode, type ReadEnvFileOptions,
} from './helpers/ha-etcd.js';
import { LOOPBACK } from './helpers/ports.js';

// The set-up (init on m0, shared files copied to m1 and m2, their init, start
// with a retry on a taken port) is in helpers/ha-etcd.ts; this test asks for
// every check it offers.

/** etcd.env and etcdctl.env must not set a variable twice. */
const STRICT_ENV: ReadEnvFileOptions = { rejectDuplicates: true };

/** Reads each node's etcd.flags, checks it against etcd.env and against the description, and returns the argvs. */
function emittedArgs(t: ExecutionContext, nodes: readonly HaNode[]): string[][] {
  return nodes.map((n) => {
    const args = readFlagsFile(t, path.join(n.flagsDir, 'etcd.flags'));
    const env = readEnvFile(t, path.join(n.flagsDir, 'etcd.env'), STRICT_ENV);
    t.deepEqual(Object.keys(env), ['ETCD_ARGS'], `${n.name}: etcd.env sets only ETCD_ARGS`);
    t.deepEqual(env.ETCD_ARGS?.split(' ').filter(Boolean), args, `${n.name}: etcd.env and etcd.flags carry the same flags`);

    // Read-only checks (the argv is started as it is): the member is the one described.
    t.is(getFlag(args, 'name'), n.name);
    t.is(getFlag(args, 'data-dir'), n.dataDir);
    t.is(getFlag(args, 'advertise-client-urls'), n.clientUrl);
    t.is(getFlag(args, 'initial-advertise-peer-urls'), n.peerUrl);
    t.is(getFlag(args, 'initial-cluster'), nodes.map((m) => `${m.name}=${m.peerUrl}`).join(','));
    for (const f of ['trusted-ca-file', 'peer-trusted-ca-file', 'cert-file', 'key-file', 'peer-cert-file', 'peer-key-file']) {
      const value = getFlag(args, f);
      t.true(value?.startsWith(n.pki + path.sep), `${n.name}: --${f}=${value} is in its own cert dir`);
      t.true(value !== undefined && existsSync(value), `${n.name}: --${f}=${value} exists`);
    }
    return args;
  });
}

// ---------------------------------------------------------------------------

test('a 3-member etcd cluster runs on the emitted etcd flags and answers the emitted etcdctl environment', async (t) => {
  t.timeout(90_000);
  const dir = scratch(t);

  const { nodes, cluster: running } = await startHaEtcd(t, dir, {
    checkSharing: true,
    argvs: (prepared) => emittedArgs(t, prepared),
    envFile: STRICT_ENV,
  });
  t.deepEqual(running.members.map((m) => m.name), [...NAMES]);
  t.true(running.members.every((m) => m.running && m.pid !== undefined));

  const envs = nodes.map((n) => readEnvFile(t, path.join(n.flagsDir, 'etcdctl.env'), STRICT_ENV));
  const allClientUrls = nodes.map((n) => n.clientUrl);

  // etcdctl.env: this node's loopback client URL first, then every member's, without duplicates.
  nodes.forEach((n, i) => {
    const env = envs[i]!;
    t.is(env.ETCDCTL_API, '3', `${n.name}: ETCDCTL_API`);
    t.is(env.ETCDCTL_CACERT, path.join(n.pki, 'etcd/ca.crt'), `${n.name}: ETCDCTL_CACERT`);
    const endpoints = env.ETCDCTL_ENDPOINTS?.split(',') ?? [];
    t.is(endpoints[0], `https://${LOOPBACK}:${n.clientPort}`, `${n.name}: its own member comes first`);
    t.is(new Set(endpoints).size, endpoints.length, `${n.name}: no duplicate endpoints in ${env.ETCDCTL_ENDPOINTS}`);
    t.deepEqual([...endpoints].sort(), [...allClientUrls].sort(), `${n.name}: every member's client URL is listed`);
  });

  // Every node's etcdctl.env, as it is: every endpoint it lists is healthy.
  for (const [i, env] of envs.entries()) {
    const r = await etcdctl(null, { env, args: ['endpoint', 'health'] });
    t.is(r.exitCode, 0, `${nodes[i]!.name}: endpoint health\n${describe(r)}`);
    const out = `${r.stdout}\n${r.stderr}`;
    for (const url of env.ETCDCTL_ENDPOINTS!.split(',')) {
      t.regex(out, new RegExp(`^${url.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&')} is healthy`, 'm'), `${nodes[i]!.name}: ${url}\n${describe(r)}`);
    }
  }

  // member list through m0's environment: the three described members, started.
  const list = await etcdctl(null, { env: envs[0]!, args: ['member', 'list', '-w', 'json'] });
  t.is(list.exitCode, 0, describe(list));
  const members = (JSON.parse(list.stdout) as { members?: { name?: string; peerURLs?: string[]; clientURLs?: string[] }[] }).members ?? [];
  t.deepEqual(
    members.map((m) => ({ name: m.name, peerURLs: m.peerURLs, clientURLs: m.clientURLs })).sort((a, b) => String(a.name).localeCompare(String(b.name))),
    nodes.map((n) => ({ name: n.name, peerURLs: [n.peerUrl], clientURLs: [n.clientUrl] })),
    describe(list),
  );

  // A write through m0's environment is read back through every node's.
  const key = `/kubepki-test/${randomBytes(6).toString('hex')}`;
  const value = `v-${randomBytes(6).toString('hex')}`;
  const put = await etcdctl(null, { env: envs[0]!, args: ['put', key, value] });
  t.is(put.exitCode, 0, describe(put));
  t.is(put.stdout.trim(), 'OK', describe(put));
  for (const [i, env] of envs.entries()) {
    const get = await etcdctl(null, { env, args: ['get', key, '--print-value-only'] });
    t.is(get.exitCode, 0, `${nodes[i]!.name}: ${describe(get)}`);
    t.is(get.stdout.trim(), value, `${nodes[i]!.name}: ${describe(get)}`);
  }
});
