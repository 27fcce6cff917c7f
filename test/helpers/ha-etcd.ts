/**
 * A 3-member etcd cluster built from what `kubepki init` emits, set up as an
 * operator sets up HA control planes: `init` on m0, then the shared CAs and
 * service-account key copied to m1 and m2 before their own `init`, so every
 * member has its own server and peer certificates signed by the same etcd CA.
 * Each member is then started from nothing but its <flags-dir>/etcd.flags.
 *
 * Shared by etcd-flags.test.ts (which checks the emitted files in detail) and
 * renew-live.test.ts (which renews the certificates of the running cluster).
 * Where the two differ, an option selects the stricter behaviour; every option
 * defaults to the lenient one:
 *
 * - {@link readEnvFile} `rejectDuplicates`: also asserts that no variable is set twice.
 * - {@link copyShared} `t`: also asserts that every copied `.key` is 0600.
 * - {@link prepare} / {@link startHaEtcd} `checkSharing`: both of the above
 *   for the copy, and asserts that m1 and m2 use m0's etcd CA but have their
 *   own etcd server and peer certificates.
 *
 * Needs etcd and etcdctl 3.4+ (Debian: etcd-server, etcd-client) in PATH.
 */
import type { ExecutionContext } from 'ava';
import { chmodSync, copyFileSync, existsSync, mkdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { BIN, REPO, kubepki } from './cli.js';
import {
  EtcdStartError, startEtcdClusterFromArgs,
  type EtcdCluster, type EtcdctlResult, type EtcdMemberSpec,
} from './etcd.js';
import { freePorts, LOOPBACK } from './ports.js';

/** The members, in order; m0 is the first control plane (the one whose CAs the others copy). */
export const NAMES = ['m0', 'm1', 'm2'] as const;

/** What an operator copies from the first control plane to the others (kubeadm's "shared certificates"). */
export const SHARED_FILES = [
  'ca.crt', 'ca.key',
  'front-proxy-ca.crt', 'front-proxy-ca.key',
  'etcd/ca.crt', 'etcd/ca.key',
  'sa.key', 'sa.pub',
] as const;

/** Start-up bound for the cluster (the harness polls `endpoint health` until then). */
export const START_TIMEOUT_MS = 20_000;
/** Whole attempts (fresh ports, config and init) when a chosen port was taken before etcd bound it. */
export const ATTEMPTS = 2;

/** One control-plane node: its folders under the test's scratch root, and its etcd member's ports and URLs. */
export interface HaNode {
  /** m0, m1 or m2: the node name and the etcd member name. */
  name: string;
  /** The node's root; also its --kubeconfig-dir. */
  root: string;
  /** --cert-dir. */
  pki: string;
  /** --flags-dir (etcd.flags, etcd.env, etcdctl.env). */
  flagsDir: string;
  /** The etcd data dir, as described in the config. */
  dataDir: string;
  clientPort: number;
  peerPort: number;
  /** https://127.0.0.1:<clientPort> */
  clientUrl: string;
  /** https://127.0.0.1:<peerPort> */
  peerUrl: string;
  /** Receives the member's stdout and stderr. */
  logFile: string;
}

// ---------------------------------------------------------------------------
// the files kubepki writes

/**
 * etcd.flags: one `--flag=value` per line, taken verbatim as an argv.
 * Asserts the file ends with a newline and every line is a `--flag=value`.
 */
export function readFlagsFile(t: ExecutionContext, file: string): string[] {
  const lines = readFileSync(file, 'utf8').split('\n');
  t.is(lines.pop(), '', `${file} ends with a newline`);
  for (const line of lines) t.regex(line, /^--[a-z0-9][a-z0-9-]*=/, `${file}: not a --flag=value line: ${JSON.stringify(line)}`);
  return lines;
}

export interface ReadEnvFileOptions {
  /** Also assert that no variable is set twice (default false). */
  rejectDuplicates?: boolean;
}

/**
 * A systemd EnvironmentFile of `KEY="value"` lines (comments and blank lines
 * allowed), unquoted. Fails the test on any other line.
 */
export function readEnvFile(t: ExecutionContext, file: string, opts: ReadEnvFileOptions = {}): Record<string, string> {
  const env: Record<string, string> = {};
  for (const line of readFileSync(file, 'utf8').split('\n')) {
    if (line.trim() === '' || line.startsWith('#')) continue;
    const m = /^([A-Za-z_][A-Za-z0-9_]*)="((?:[^"\\]|\\.)*)"$/.exec(line);
    if (!m) {
      t.fail(`${file}: not a KEY="value" line: ${JSON.stringify(line)}`);
      continue;
    }
    if (opts.rejectDuplicates) t.false(m[1]! in env, `${file}: ${m[1]} set twice`);
    env[m[1]!] = m[2]!.replace(/\\(.)/g, '$1');
  }
  return env;
}

// ---------------------------------------------------------------------------
// set-up

/** Writes `<root>/kubepki.yaml` describing the three members (ECDSA P-256 certificates) and returns its path. */
export function writeConfig(root: string, nodes: readonly HaNode[]): string {
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

/** The kubepki arguments that name a node's own folders (--cert-dir, --kubeconfig-dir, --flags-dir). */
export const nodeDirArgs = (n: HaNode): string[] => ['--cert-dir', n.pki, '--kubeconfig-dir', n.root, '--flags-dir', n.flagsDir];

/** Runs `kubepki init` for one node and asserts it exits 0 (its output is logged if not). */
export async function init(t: ExecutionContext, config: string, n: HaNode, under?: readonly string[]): Promise<void> {
  const args = ['init', '--config', config, '--node-name', n.name, ...nodeDirArgs(n)];
  const r = under ? await wrapped(under, args) : await kubepki(args);
  if (r.exitCode !== 0) t.log(`init ${n.name}:\n${r.stdout}\n${r.stderr}`);
  t.is(r.exitCode, 0, `kubepki init for ${n.name} exits 0: ${r.stderr}`);
}

export interface CopySharedOptions {
  /** When given, also assert that every copied `.key` is 0600. */
  t?: ExecutionContext;
}

/** Copies m0's shared CA and service-account files ({@link SHARED_FILES}) to another node, modes kept. */
export function copyShared(from: HaNode, to: HaNode, opts: CopySharedOptions = {}): void {
  const { t } = opts;
  for (const rel of SHARED_FILES) {
    const src = path.join(from.pki, rel);
    const dst = path.join(to.pki, rel);
    mkdirSync(path.dirname(dst), { recursive: true, mode: 0o755 });
    copyFileSync(src, dst);
    chmodSync(dst, statSync(src).mode & 0o777);
    if (t && rel.endsWith('.key')) t.is(statSync(dst).mode & 0o777, 0o600, `${dst} is 0600`);
  }
}

/** kubepki run under a wrapper command (`faketime -f -400d`), as the cli helper runs it otherwise. */
async function wrapped(under: readonly string[], args: readonly string[]) {
  const { execa } = await import('execa');
  const r = await execa(under[0]!, [...under.slice(1), process.execPath, BIN, ...args], { reject: false, env: {}, cwd: REPO, timeout: 120_000, stdin: 'ignore' });
  return { exitCode: r.exitCode ?? -1, stdout: String(r.stdout), stderr: String(r.stderr) };
}

export interface PrepareOptions {
  /** Run each init under this command (`faketime -f -400d`: a layout issued in the past). */
  initUnder?: readonly string[];
  /**
   * Also assert what the shared set-up should give (default false): every
   * copied `.key` is 0600, and m1 and m2 use m0's etcd CA but have their own
   * etcd server and peer certificates.
   */
  checkSharing?: boolean;
}

/** The prepared nodes (m0, m1, m2) and the path of the config all three were initialised with. */
export interface Prepared {
  nodes: HaNode[];
  config: string;
}

/**
 * Allocates ports, writes the config and runs the three `init`s under `root`:
 * m0 first, then m0's shared files copied to m1 and m2, then their `init`s
 * (concurrently).
 */
export async function prepare(t: ExecutionContext, root: string, opts: PrepareOptions = {}): Promise<Prepared> {
  const ports = await freePorts(NAMES.length * 2);
  const nodes = NAMES.map((name, i): HaNode => {
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
  await init(t, config, first!, opts.initUnder);
  for (const n of others) copyShared(first!, n, opts.checkSharing ? { t } : {});
  await Promise.all(others.map((n) => init(t, config, n, opts.initUnder)));

  if (opts.checkSharing) {
    const file = (n: HaNode, rel: string) => readFileSync(path.join(n.pki, rel));
    for (const n of others) {
      t.deepEqual(file(n, 'etcd/ca.crt'), file(first!, 'etcd/ca.crt'), `${n.name} uses m0's etcd CA`);
      t.notDeepEqual(file(n, 'etcd/server.crt'), file(first!, 'etcd/server.crt'), `${n.name} has its own etcd server certificate`);
      t.notDeepEqual(file(n, 'etcd/peer.crt'), file(first!, 'etcd/peer.crt'), `${n.name} has its own etcd peer certificate`);
    }
  }
  return { nodes, config };
}

/** Whether any member's log says a port it was to bind was already in use. */
export function portTaken(nodes: readonly HaNode[]): boolean {
  return nodes.some((n) => existsSync(n.logFile) && /address already in use/.test(readFileSync(n.logFile, 'utf8')));
}

/** An etcdctl run for an assertion message: command line, exit, stdout and stderr. */
export function describe(r: EtcdctlResult): string {
  return `${r.command}\nexit ${r.exitCode}${r.timedOut ? ' (timed out)' : ''}\nstdout: ${r.stdout}\nstderr: ${r.stderr}`;
}

// ---------------------------------------------------------------------------
// the running cluster

export interface StartHaEtcdOptions extends PrepareOptions {
  /**
   * Each node's etcd argv, in node order. Default: each node's etcd.flags, as
   * {@link readFlagsFile} reads it. The argvs are started as they are.
   */
  argvs?: (nodes: readonly HaNode[]) => string[][];
  /** How m0's etcdctl.env (whose TLS files are used to poll readiness) is read. */
  envFile?: ReadEnvFileOptions;
  /** Run once the nodes are prepared, before the members start (renew an expired layout). */
  beforeStart?: (prepared: Prepared) => Promise<void>;
}

export interface HaEtcd extends Prepared {
  cluster: EtcdCluster;
}

/**
 * Prepares the nodes under `<dir>/attempt-<n>` ({@link prepare}) and starts
 * the three members from their argvs, polling readiness with the TLS files
 * m0's etcdctl.env names (nothing typed here). If start-up fails because a
 * port chosen by freePorts was taken before etcd bound it, the whole set-up
 * is tried again with fresh ports, up to {@link ATTEMPTS} times. The cluster
 * is stopped when the test ends (t.teardown).
 */
export async function startHaEtcd(t: ExecutionContext, dir: string, opts: StartHaEtcdOptions = {}): Promise<HaEtcd> {
  const argvsOf = opts.argvs ?? ((nodes: readonly HaNode[]) => nodes.map((n) => readFlagsFile(t, path.join(n.flagsDir, 'etcd.flags'))));
  let prepared: Prepared = { nodes: [], config: '' };
  let cluster: EtcdCluster | undefined;
  for (let attempt = 1; !cluster; attempt++) {
    prepared = await prepare(t, path.join(dir, `attempt-${attempt}`), { ...(opts.checkSharing !== undefined ? { checkSharing: opts.checkSharing } : {}), ...(opts.initUnder ? { initUnder: opts.initUnder } : {}) });
    const { nodes } = prepared;
    if (opts.beforeStart) await opts.beforeStart(prepared);
    const argvs = argvsOf(nodes);
    const env0 = readEnvFile(t, path.join(nodes[0]!.flagsDir, 'etcdctl.env'), opts.envFile);
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
  return { ...prepared, cluster: running };
}
