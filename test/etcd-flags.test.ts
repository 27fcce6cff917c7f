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
import { chmodSync, copyFileSync, existsSync, mkdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { kubepki, scratch } from './helpers/cli.js';
import {
  EtcdStartError, etcdctl, getFlag, startEtcdClusterFromArgs,
  type EtcdCluster, type EtcdctlResult, type EtcdMemberSpec,
} from './helpers/etcd.js';
import { freePorts, LOOPBACK } from './helpers/ports.js';

const NAMES = ['m0', 'm1', 'm2'] as const;

/** What an operator copies from the first control plane to the others (kubeadm's "shared certificates"). */
const SHARED_FILES = [
  'ca.crt', 'ca.key',
  'front-proxy-ca.crt', 'front-proxy-ca.key',
  'etcd/ca.crt', 'etcd/ca.key',
  'sa.key', 'sa.pub',
] as const;

/** Start-up bound for the cluster (the harness polls `endpoint health` until then). */
const START_TIMEOUT_MS = 20_000;
/** Whole attempts (fresh ports, config and init) when a chosen port was taken before etcd bound it. */
const ATTEMPTS = 2;

interface Node {
  name: string;
  root: string;
  pki: string;
  flagsDir: string;
  dataDir: string;
  clientPort: number;
  peerPort: number;
  clientUrl: string;
  peerUrl: string;
  logFile: string;
}

// ---------------------------------------------------------------------------
// the files kubepki writes

/** etcd.flags: one `--flag=value` per line, taken verbatim as an argv. */
function readFlagsFile(t: ExecutionContext, file: string): string[] {
  const lines = readFileSync(file, 'utf8').split('\n');
  t.is(lines.pop(), '', `${file} ends with a newline`);
  for (const line of lines) t.regex(line, /^--[a-z0-9][a-z0-9-]*=/, `${file}: not a --flag=value line: ${JSON.stringify(line)}`);
  return lines;
}

/** A systemd EnvironmentFile of `KEY="value"` lines (comments and blank lines allowed), unquoted. */
function readEnvFile(t: ExecutionContext, file: string): Record<string, string> {
  const env: Record<string, string> = {};
  for (const line of readFileSync(file, 'utf8').split('\n')) {
    if (line.trim() === '' || line.startsWith('#')) continue;
    const m = /^([A-Za-z_][A-Za-z0-9_]*)="((?:[^"\\]|\\.)*)"$/.exec(line);
    if (!m) {
      t.fail(`${file}: not a KEY="value" line: ${JSON.stringify(line)}`);
      continue;
    }
    t.false(m[1]! in env, `${file}: ${m[1]} set twice`);
    env[m[1]!] = m[2]!.replace(/\\(.)/g, '$1');
  }
  return env;
}

// ---------------------------------------------------------------------------
// set-up

function writeConfig(root: string, nodes: readonly Node[]): string {
  const file = path.join(root, 'kubepki.yaml');
  const members = nodes.map(
    (n) => `    - { name: ${n.name}, address: ${LOOPBACK}, clientPort: ${n.clientPort}, peerPort: ${n.peerPort}, dataDir: ${JSON.stringify(n.dataDir)} }`,
  );
  writeFileSync(file, [
    'apiVersion: kubepki.dev/v1alpha1',
    'kind: Cluster',
    `node: { advertiseAddress: ${LOOPBACK} }`,
    'etcd:',
    '  members:',
    ...members,
    'certificates: { encryptionAlgorithm: ECDSA-P256 }',
    '',
  ].join('\n'));
  return file;
}

async function init(t: ExecutionContext, config: string, n: Node): Promise<void> {
  const r = await kubepki([
    'init', '--config', config, '--node-name', n.name,
    '--cert-dir', n.pki, '--kubeconfig-dir', n.root, '--flags-dir', n.flagsDir,
  ]);
  if (r.exitCode !== 0) t.log(`init ${n.name}:\n${r.stdout}\n${r.stderr}`);
  t.is(r.exitCode, 0, `kubepki init for ${n.name} exits 0: ${r.stderr}`);
}

/** Copies m0's shared CA and service-account files to another node, modes kept. */
function copyShared(t: ExecutionContext, from: Node, to: Node): void {
  for (const rel of SHARED_FILES) {
    const src = path.join(from.pki, rel);
    const dst = path.join(to.pki, rel);
    mkdirSync(path.dirname(dst), { recursive: true, mode: 0o755 });
    copyFileSync(src, dst);
    chmodSync(dst, statSync(src).mode & 0o777);
    if (rel.endsWith('.key')) t.is(statSync(dst).mode & 0o777, 0o600, `${dst} is 0600`);
  }
}

/** Allocates ports, writes the config and runs the three `init`s under `root`. */
async function prepare(t: ExecutionContext, root: string): Promise<Node[]> {
  const ports = await freePorts(NAMES.length * 2);
  const nodes = NAMES.map((name, i): Node => {
    const nodeRoot = path.join(root, name);
    const clientPort = ports[2 * i]!;
    const peerPort = ports[2 * i + 1]!;
    return {
      name,
      root: nodeRoot,
      pki: path.join(nodeRoot, 'pki'),
      flagsDir: path.join(nodeRoot, 'flags'),
      dataDir: path.join(nodeRoot, 'data'),
      clientPort,
      peerPort,
      clientUrl: `https://${LOOPBACK}:${clientPort}`,
      peerUrl: `https://${LOOPBACK}:${peerPort}`,
      logFile: path.join(nodeRoot, 'etcd.log'),
    };
  });
  mkdirSync(root, { recursive: true });
  const config = writeConfig(root, nodes);

  const [first, ...others] = nodes;
  await init(t, config, first!);
  for (const n of others) copyShared(t, first!, n);
  await Promise.all(others.map((n) => init(t, config, n)));

  const file = (n: Node, rel: string) => readFileSync(path.join(n.pki, rel));
  for (const n of others) {
    t.deepEqual(file(n, 'etcd/ca.crt'), file(first!, 'etcd/ca.crt'), `${n.name} uses m0's etcd CA`);
    t.notDeepEqual(file(n, 'etcd/server.crt'), file(first!, 'etcd/server.crt'), `${n.name} has its own etcd server certificate`);
    t.notDeepEqual(file(n, 'etcd/peer.crt'), file(first!, 'etcd/peer.crt'), `${n.name} has its own etcd peer certificate`);
  }
  return nodes;
}

/** Reads each node's etcd.flags, checks it against etcd.env and against the description, and returns the argvs. */
function emittedArgs(t: ExecutionContext, nodes: readonly Node[]): string[][] {
  return nodes.map((n) => {
    const args = readFlagsFile(t, path.join(n.flagsDir, 'etcd.flags'));
    const env = readEnvFile(t, path.join(n.flagsDir, 'etcd.env'));
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

function portTaken(nodes: readonly Node[]): boolean {
  return nodes.some((n) => existsSync(n.logFile) && /address already in use/.test(readFileSync(n.logFile, 'utf8')));
}

function describe(r: EtcdctlResult): string {
  return `${r.command}\nexit ${r.exitCode}${r.timedOut ? ' (timed out)' : ''}\nstdout: ${r.stdout}\nstderr: ${r.stderr}`;
}

// ---------------------------------------------------------------------------

test('a 3-member etcd cluster runs on the emitted etcd flags and answers the emitted etcdctl environment', async (t) => {
  t.timeout(90_000);
  const dir = scratch(t);

  let nodes: Node[] = [];
  let cluster: EtcdCluster | undefined;
  for (let attempt = 1; !cluster; attempt++) {
    nodes = await prepare(t, path.join(dir, `attempt-${attempt}`));
    const argvs = emittedArgs(t, nodes);
    const env0 = readEnvFile(t, path.join(nodes[0]!.flagsDir, 'etcdctl.env'));
    const specs = nodes.map((n, i): EtcdMemberSpec => ({ args: argvs[i]!, logFile: n.logFile }));
    try {
      // Readiness polling uses the TLS files etcdctl.env names: nothing typed here.
      cluster = await startEtcdClusterFromArgs(specs, {
        healthClient: { cacert: env0.ETCDCTL_CACERT!, cert: env0.ETCDCTL_CERT!, key: env0.ETCDCTL_KEY! },
        timeoutMs: START_TIMEOUT_MS,
      });
    } catch (err) {
      // A port chosen by freePorts was taken before etcd bound it: try again with fresh ones.
      if (err instanceof EtcdStartError && portTaken(nodes) && attempt < ATTEMPTS) {
        t.log(`attempt ${attempt}: a port was taken meanwhile, retrying`);
        continue;
      }
      throw err;
    }
  }
  const running = cluster;
  t.teardown(() => running.stop({ graceMs: 3_000 }));
  t.deepEqual(running.members.map((m) => m.name), [...NAMES]);
  t.true(running.members.every((m) => m.running && m.pid !== undefined));

  const envs = nodes.map((n) => readEnvFile(t, path.join(n.flagsDir, 'etcdctl.env')));
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
