/**
 * A small harness that runs real etcd clusters on 127.0.0.1 for tests.
 *
 * Layers, lowest first:
 *
 * - {@link buildEtcdArgs} turns a member description (name, ports, certs,
 *   cluster membership) into an etcd argv. It is the ONLY place that knows
 *   etcd's flag names for a TLS member; nothing else hard-codes them.
 * - {@link startEtcdClusterFromArgs} / {@link startEtcdFromArgs} spawn members
 *   from complete argvs (e.g. flags read from files that kubepki emits) and
 *   wait until they are healthy. They read back from the argv only what they
 *   need to manage a member: its name, data dir and advertised client URLs.
 * - {@link startEtcdCluster} allocates free ports, builds one argv per member
 *   with {@link buildEtcdArgs} and starts them with the function above.
 * - {@link etcdctl} runs `etcdctl` (API v3) against a cluster and never throws
 *   on a non-zero exit, so tests can assert on refusals.
 *
 * Guarantees:
 *
 * - Every wait is bounded (default 30 s for start-up, see `timeoutMs`); a
 *   member that exits during start-up fails the start at once.
 * - Each member's stdout and stderr go to a log file (`<dataRoot>/<name>.log`
 *   for clusters built by {@link startEtcdCluster}); a start-up failure throws
 *   an {@link EtcdStartError} whose message holds, per member, the distinct
 *   warnings/errors logged since its start and the head and tail of its log.
 * - Members are stopped by PID: SIGTERM, then SIGKILL after a bounded grace
 *   period. A process `'exit'` handler SIGKILLs any member still running, so a
 *   crashed or forgetful test does not leak etcd processes (it cannot help if
 *   the test process itself is SIGKILLed).
 * - `ETCD_*` / `ETCDCTL_*` variables of the caller's environment are never
 *   passed to etcd or etcdctl: etcd refuses to start when an environment
 *   variable and a flag set the same option.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { closeSync, mkdirSync, openSync, readFileSync, rmSync, statSync, writeSync } from 'node:fs';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { execa } from 'execa';
import { freePorts, LOOPBACK } from './ports.js';

/** Default bound for start-up waits. */
export const DEFAULT_START_TIMEOUT_MS = 30_000;
/** Default grace period between SIGTERM and SIGKILL when stopping a member. */
export const DEFAULT_STOP_GRACE_MS = 5_000;
/** Default bound for one etcdctl invocation (the process is killed after it). */
export const DEFAULT_ETCDCTL_TIMEOUT_MS = 15_000;

const POLL_INTERVAL_MS = 250;
const LOG_HEAD_LINES = 8;
const LOG_TAIL_LINES = 15;
const LOG_SUMMARY_ENTRIES = 12;

// ---------------------------------------------------------------------------
// Types

/** The TLS material of one member, as file paths. */
export interface EtcdCerts {
  /** CA that client and peer certificates must chain to (--trusted-ca-file, --peer-trusted-ca-file). */
  ca: string;
  serverCert: string;
  serverKey: string;
  peerCert: string;
  peerKey: string;
}

/** TLS material etcdctl presents. Omit cert/key to connect without a client certificate. */
export interface EtcdClientTls {
  cacert: string;
  cert?: string;
  key?: string;
}

/** Everything {@link buildEtcdArgs} needs to describe one member. */
export interface EtcdMemberConfig {
  name: string;
  dataDir: string;
  /** Host for listen and advertise URLs; default 127.0.0.1. */
  host?: string;
  clientPort: number;
  peerPort: number;
  /** If set, --listen-metrics-urls=http://<host>:<metricsPort> (plain http, serves /metrics and /health). */
  metricsPort?: number;
  certs: EtcdCerts;
  /** --initial-cluster, e.g. `m0=https://127.0.0.1:2380,m1=...`. */
  initialCluster: string;
  initialClusterState: 'new' | 'existing';
  initialClusterToken: string;
  /** Appended last, so they override earlier flags (etcd: last occurrence wins). */
  extraArgs?: string[];
}

/** One member to start from a complete argv. */
export interface EtcdMemberSpec {
  /**
   * etcd flags (`['--name=m0', ...]`), or a full command line whose first
   * element does not start with `-` and names the program (`['etcd', '--name=m0', ...]`).
   */
  args: string[];
  /** File that receives the member's stdout and stderr (appended to across restarts). */
  logFile: string;
}

export interface StartFromArgsOptions {
  /** Client TLS used to poll `etcdctl endpoint health` until the members are ready. */
  healthClient: EtcdClientTls;
  /** Bound for the whole start-up; default {@link DEFAULT_START_TIMEOUT_MS}. */
  timeoutMs?: number;
  /** etcd program when the argvs do not name one; default `etcd` (looked up in PATH). */
  etcdBinary?: string;
}

export interface StartEtcdClusterOptions {
  size: number;
  /** Parent folder of each member's data dir (`<dataRoot>/<name>.etcd`) and log (`<dataRoot>/<name>.log`). */
  dataRoot: string;
  /** The same files for every member, or a function giving member i's files. */
  certs: EtcdCerts | ((memberIndex: number) => EtcdCerts);
  /**
   * Client certificate for readiness polling. Default: member 0's server
   * certificate and key, which works only if it carries the clientAuth usage
   * (kubeadm-style etcd server certificates do). Pass the healthcheck client.
   */
  healthClient?: { cert: string; key: string; cacert?: string };
  /** Extra flags appended to every member's argv (override the generated ones). */
  extraArgs?: string[];
  /** Bound for start-up, per attempt; default {@link DEFAULT_START_TIMEOUT_MS}. */
  timeoutMs?: number;
  /** --initial-cluster-token; default a random one per cluster. */
  token?: string;
  /** Also serve plain-http metrics and /health on a free 127.0.0.1 port per member. */
  metrics?: boolean;
  etcdBinary?: string;
  /** Fresh ports and data dirs are tried again this many times if a port was taken meanwhile; default 2. */
  portRetries?: number;
}

export interface EtcdMember {
  readonly index: number;
  readonly name: string;
  /** The argv of the first start (without the program). */
  readonly args: readonly string[];
  readonly program: string;
  readonly dataDir: string | undefined;
  /** --advertise-client-urls of this member. */
  readonly clientUrls: readonly string[];
  readonly logFile: string;
  /** PID of the current process, undefined when stopped. */
  readonly pid: number | undefined;
  readonly running: boolean;
}

export interface StopOptions {
  /** Time between SIGTERM and SIGKILL; default {@link DEFAULT_STOP_GRACE_MS}. */
  graceMs?: number;
}

export interface EtcdCluster {
  readonly members: readonly EtcdMember[];
  /** One client URL per member (the first advertised one), in member order. */
  readonly endpoints: readonly string[];
  /** The client TLS used for readiness polling. */
  readonly healthClient: EtcdClientTls;
  /** Stop every running member (one after the other) and wait for them to exit. Idempotent. */
  stop(opts?: StopOptions): Promise<void>;
  /** Stop member i and wait for it to exit. */
  stopMember(i: number, opts?: StopOptions): Promise<void>;
  /**
   * Start stopped member i again with the same argv (same name, data dir and
   * ports) except `--initial-cluster-state=existing`, and wait until its
   * endpoint reports healthy.
   */
  startMember(i: number, opts?: { timeoutMs?: number }): Promise<void>;
  /** Poll `endpoint health` over the given endpoints (default all) until it succeeds. */
  waitHealthy(opts?: { timeoutMs?: number; endpoints?: readonly string[] }): Promise<void>;
  /** Current content of member i's log file. */
  readLog(i: number): string;
}

export interface EtcdctlOptions {
  /** --cacert; may be omitted only when `env` sets ETCDCTL_CACERT. */
  cacert?: string;
  /** --cert / --key: the client certificate; omit both to connect without one. */
  cert?: string;
  key?: string;
  /** etcdctl arguments after the global flags, e.g. `['put', 'k', 'v']`. */
  args: string[];
  /**
   * Extra environment, e.g. the ETCDCTL_* variables of an etcdctl.env file
   * kubepki writes. etcdctl refuses a variable and the matching flag together,
   * so a flag this function would add is left out when `env` sets its variable
   * (ETCDCTL_ENDPOINTS, _CACERT, _CERT, _KEY, _DIAL_TIMEOUT, _COMMAND_TIMEOUT).
   * ETCDCTL_API is always 3.
   */
  env?: Record<string, string>;
  /** Default: every member's endpoint. */
  endpoints?: readonly string[];
  /** Kill etcdctl after this long; default {@link DEFAULT_ETCDCTL_TIMEOUT_MS}. */
  timeoutMs?: number;
  /** --dial-timeout; default `2s`. */
  dialTimeout?: string;
  /** --command-timeout; default `5s`. */
  commandTimeout?: string;
}

export interface EtcdctlResult {
  /** Exit code; -1 if etcdctl was killed (timeout) or could not be started. */
  exitCode: number;
  stdout: string;
  stderr: string;
  timedOut: boolean;
  /** The command line, for assertion messages. */
  command: string;
}

/** Thrown when members do not become healthy in time or exit during start-up. */
export class EtcdStartError extends Error {
  override name = 'EtcdStartError';
}

// ---------------------------------------------------------------------------
// argv

/** Builds the argv (without the program) of one TLS-only member. */
export function buildEtcdArgs(cfg: EtcdMemberConfig): string[] {
  const host = cfg.host ?? LOOPBACK;
  const clientUrl = `https://${host}:${cfg.clientPort}`;
  const peerUrl = `https://${host}:${cfg.peerPort}`;
  const args = [
    `--name=${cfg.name}`,
    `--data-dir=${cfg.dataDir}`,
    `--listen-client-urls=${clientUrl}`,
    `--advertise-client-urls=${clientUrl}`,
    `--listen-peer-urls=${peerUrl}`,
    `--initial-advertise-peer-urls=${peerUrl}`,
    `--initial-cluster=${cfg.initialCluster}`,
    `--initial-cluster-state=${cfg.initialClusterState}`,
    `--initial-cluster-token=${cfg.initialClusterToken}`,
    // Client connections: TLS with a client certificate signed by the CA.
    '--client-cert-auth=true',
    `--trusted-ca-file=${cfg.certs.ca}`,
    `--cert-file=${cfg.certs.serverCert}`,
    `--key-file=${cfg.certs.serverKey}`,
    // Peer connections: mutually authenticated TLS.
    '--peer-client-cert-auth=true',
    `--peer-trusted-ca-file=${cfg.certs.ca}`,
    `--peer-cert-file=${cfg.certs.peerCert}`,
    `--peer-key-file=${cfg.certs.peerKey}`,
    // Structured logs on stderr (the default capnslog logger is deprecated in 3.4).
    '--logger=zap',
    '--log-outputs=stderr',
  ];
  if (cfg.metricsPort !== undefined) {
    args.push(`--listen-metrics-urls=http://${host}:${cfg.metricsPort}`);
  }
  args.push(...(cfg.extraArgs ?? []));
  return args;
}

function flagName(arg: string): string | undefined {
  const m = /^--?([A-Za-z0-9][A-Za-z0-9-]*)(?:=|$)/.exec(arg);
  return m?.[1];
}

/**
 * Value of flag `name` in an etcd argv (`--name=v`, `-name=v`, `--name v`);
 * the last occurrence wins, as with Go's flag package.
 */
export function getFlag(args: readonly string[], name: string): string | undefined {
  let value: string | undefined;
  for (let i = 0; i < args.length; i++) {
    const arg = args[i]!;
    if (flagName(arg) !== name) continue;
    const eq = arg.indexOf('=');
    if (eq >= 0) value = arg.slice(eq + 1);
    else if (i + 1 < args.length && !args[i + 1]!.startsWith('-')) value = args[++i];
  }
  return value;
}

/** Copy of `args` with every occurrence of value flag `name` removed and `--name=value` appended. */
export function setFlag(args: readonly string[], name: string, value: string): string[] {
  const out: string[] = [];
  for (let i = 0; i < args.length; i++) {
    const arg = args[i]!;
    if (flagName(arg) !== name) {
      out.push(arg);
      continue;
    }
    if (!arg.includes('=') && i + 1 < args.length && !args[i + 1]!.startsWith('-')) i++;
  }
  out.push(`--${name}=${value}`);
  return out;
}

function splitProgram(args: readonly string[], fallback: string): { program: string; flags: string[] } {
  const [first, ...rest] = args;
  if (first !== undefined && !first.startsWith('-')) return { program: first, flags: rest };
  return { program: fallback, flags: [...args] };
}

function shellQuote(args: readonly string[]): string {
  return args.map((a) => (/^[\w@%+=:,./-]+$/.test(a) ? a : `'${a.replace(/'/g, `'\\''`)}'`)).join(' ');
}

/** The caller's environment without ETCD_* / ETCDCTL_* variables. */
function cleanEnv(extra: Record<string, string> = {}): Record<string, string> {
  const env: Record<string, string> = {};
  for (const [k, v] of Object.entries(process.env)) {
    if (v !== undefined && !/^ETCD(CTL)?_/.test(k)) env[k] = v;
  }
  return { ...env, ...extra };
}

// ---------------------------------------------------------------------------
// processes

interface ExitInfo {
  code: number | null;
  signal: NodeJS.Signals | null;
  error?: Error;
}

interface RunningProcess {
  child: ChildProcess;
  exited: Promise<ExitInfo>;
  exitInfo: ExitInfo | undefined;
}

/** Children still running, SIGKILLed by the process 'exit' safety net. */
const liveChildren = new Set<ChildProcess>();
let safetyNetInstalled = false;

function installSafetyNet(): void {
  if (safetyNetInstalled) return;
  safetyNetInstalled = true;
  process.on('exit', () => {
    for (const child of liveChildren) {
      if (child.pid === undefined) continue;
      try {
        process.kill(child.pid, 'SIGKILL');
      } catch {
        // already gone
      }
    }
  });
}

function spawnLogged(program: string, flags: readonly string[], logFile: string, label: string): RunningProcess {
  installSafetyNet();
  mkdirSync(path.dirname(logFile), { recursive: true });
  const fd = openSync(logFile, 'a');
  let child: ChildProcess;
  try {
    writeSync(fd, `\n=== ${new Date().toISOString()} starting ${label}: ${shellQuote([program, ...flags])}\n`);
    child = spawn(program, flags, { stdio: ['ignore', fd, fd], env: cleanEnv() });
  } finally {
    closeSync(fd); // the child holds its own copy
  }
  // Do not keep the test process alive for a leaked member; the safety net kills it.
  child.unref();
  liveChildren.add(child);
  const proc: RunningProcess = { child, exited: undefined as unknown as Promise<ExitInfo>, exitInfo: undefined };
  proc.exited = new Promise<ExitInfo>((resolve) => {
    const done = (info: ExitInfo) => {
      if (proc.exitInfo) return;
      proc.exitInfo = info;
      liveChildren.delete(child);
      resolve(info);
    };
    child.once('exit', (code, signal) => done({ code, signal }));
    child.once('error', (error) => done({ code: null, signal: null, error }));
  });
  return proc;
}

/** Resolves with the exit info, or undefined after `ms` (a ref'd timer keeps the event loop alive meanwhile). */
async function waitExit(proc: RunningProcess, ms: number): Promise<ExitInfo | undefined> {
  if (proc.exitInfo) return proc.exitInfo;
  const ac = new AbortController();
  try {
    return await Promise.race([proc.exited, sleep(ms, undefined, { signal: ac.signal }).catch(() => undefined)]);
  } finally {
    ac.abort();
  }
}

function describeExit(info: ExitInfo): string {
  if (info.error) return `failed to start: ${info.error.message}`;
  return info.signal ? `was killed by ${info.signal}` : `exited with code ${info.code}`;
}

async function stopProcess(proc: RunningProcess, label: string, graceMs: number): Promise<void> {
  const pid = proc.child.pid;
  if (proc.exitInfo || pid === undefined) return;
  const signal = (sig: NodeJS.Signals) => {
    try {
      process.kill(pid, sig);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'ESRCH') throw err;
    }
  };
  signal('SIGTERM');
  if (await waitExit(proc, graceMs)) return;
  signal('SIGKILL');
  if (await waitExit(proc, 5_000)) return;
  throw new Error(`${label} (pid ${pid}) did not exit after SIGTERM and SIGKILL`);
}

function fileSize(file: string): number {
  try {
    return statSync(file).size;
  } catch {
    return 0;
  }
}

/** Content of `file` from byte `from` on ('' if unreadable). */
function readSince(file: string, from = 0): string {
  try {
    return readFileSync(file).subarray(from).toString('utf8');
  } catch {
    return '';
  }
}

/**
 * The log of `file` from byte `from` on: all of it if short, else its first
 * `head` lines (etcd prints flag errors and its configuration first) and its
 * last `tail` lines.
 */
function excerptFile(file: string, from = 0, head = LOG_HEAD_LINES, tail = LOG_TAIL_LINES): string {
  const all = readSince(file, from).trimEnd().split('\n');
  if (all.length <= head + tail + 5) return all.join('\n');
  return [...all.slice(0, head), `... (${all.length - head - tail} lines) ...`, ...all.slice(-tail)].join('\n');
}

/**
 * The distinct warnings and errors of a zap (JSON lines) log, with counts, in
 * order of first appearance: the cause of a failed start-up is usually buried
 * under thousands of identical retries.
 */
function summarizeLog(file: string, from = 0): string {
  const counts = new Map<string, number>();
  for (const line of readSince(file, from).split('\n')) {
    if (!line.startsWith('{')) continue;
    let entry: { level?: unknown; msg?: unknown; error?: unknown };
    try {
      entry = JSON.parse(line) as typeof entry;
    } catch {
      continue;
    }
    if (!['warn', 'error', 'dpanic', 'panic', 'fatal'].includes(String(entry.level))) continue;
    const key = `${String(entry.level)}: ${String(entry.msg)}${entry.error !== undefined ? ` (error: ${String(entry.error)})` : ''}`;
    counts.set(key, (counts.get(key) ?? 0) + 1);
  }
  const entries = [...counts];
  const shown = entries.slice(0, LOG_SUMMARY_ENTRIES).map(([key, n]) => `  ${n}x ${key}`);
  if (entries.length > shown.length) shown.push(`  ... ${entries.length - shown.length} more distinct warnings/errors`);
  return shown.join('\n');
}

// ---------------------------------------------------------------------------
// etcdctl

/**
 * Runs `ETCDCTL_API=3 etcdctl --endpoints=... [TLS flags] --dial-timeout --command-timeout <args>`.
 * Never throws on a non-zero exit. The timeouts are small so that refused
 * connections come back quickly; `opts.args` may override them (later flags win).
 */
export async function etcdctl(
  cluster: Pick<EtcdCluster, 'endpoints'> | null,
  opts: EtcdctlOptions,
): Promise<EtcdctlResult> {
  const extraEnv: Record<string, string> = { ...opts.env, ETCDCTL_API: '3' };
  const flag = (name: string, value: string | undefined): string[] => {
    const envName = `ETCDCTL_${name.toUpperCase().replace(/-/g, '_')}`;
    return value === undefined || envName in extraEnv ? [] : [`--${name}=${value}`];
  };
  const endpoints = opts.endpoints ?? (extraEnv.ETCDCTL_ENDPOINTS === undefined ? cluster?.endpoints : undefined);
  if (endpoints?.length === 0 || (endpoints === undefined && extraEnv.ETCDCTL_ENDPOINTS === undefined)) {
    throw new Error('etcdctl: no endpoints');
  }
  const argv = [
    ...flag('endpoints', endpoints?.join(',')),
    ...flag('cacert', opts.cacert),
    ...flag('cert', opts.cert),
    ...flag('key', opts.key),
    ...flag('dial-timeout', opts.dialTimeout ?? '2s'),
    ...flag('command-timeout', opts.commandTimeout ?? '5s'),
    ...opts.args,
  ];
  const envText = Object.entries(extraEnv).map(([k, v]) => `${k}=${shellQuote([v])}`).join(' ');
  const command = `${envText} ${shellQuote(['etcdctl', ...argv])}`;
  const result = await execa('etcdctl', argv, {
    reject: false,
    extendEnv: false,
    env: cleanEnv(extraEnv),
    stdin: 'ignore',
    timeout: opts.timeoutMs ?? DEFAULT_ETCDCTL_TIMEOUT_MS,
    stripFinalNewline: true,
  });
  return {
    exitCode: typeof result.exitCode === 'number' ? result.exitCode : -1,
    stdout: String(result.stdout ?? ''),
    stderr: String(result.stderr ?? '') + (result.failed && result.exitCode === undefined ? `\n${result.message}` : ''),
    timedOut: result.timedOut,
    command,
  };
}

// ---------------------------------------------------------------------------
// clusters from argvs

class Member implements EtcdMember {
  proc: RunningProcess | undefined;
  /** Size of the log file when the current process started (error reports show only its part). */
  logOffset = 0;

  constructor(
    readonly index: number,
    readonly name: string,
    readonly program: string,
    readonly args: readonly string[],
    readonly dataDir: string | undefined,
    readonly clientUrls: readonly string[],
    readonly logFile: string,
  ) {}

  get pid(): number | undefined {
    return this.running ? this.proc?.child.pid : undefined;
  }

  get running(): boolean {
    return this.proc !== undefined && this.proc.exitInfo === undefined;
  }

  get label(): string {
    return `etcd member ${this.name}`;
  }

  start(args: readonly string[]): void {
    if (this.running) throw new Error(`${this.label} is already running (pid ${this.pid})`);
    this.logOffset = fileSize(this.logFile);
    this.proc = spawnLogged(this.program, args, this.logFile, this.label);
  }

  async stop(graceMs: number): Promise<void> {
    if (this.proc) await stopProcess(this.proc, this.label, graceMs);
  }
}

class Cluster implements EtcdCluster {
  constructor(
    readonly members: readonly Member[],
    readonly healthClient: EtcdClientTls,
  ) {}

  get endpoints(): string[] {
    return this.members.map((m) => m.clientUrls[0]!);
  }

  private member(i: number): Member {
    const m = this.members[i];
    if (!m) throw new RangeError(`no etcd member ${i} (cluster has ${this.members.length})`);
    return m;
  }

  async stop(opts: StopOptions = {}): Promise<void> {
    const graceMs = opts.graceMs ?? DEFAULT_STOP_GRACE_MS;
    // One member at a time: a leader that receives SIGTERM first hands its
    // leadership to a live peer, which is quick while the peer still runs; if
    // all members stopped at once the leader could wait for a dying transferee
    // for etcd's request timeout (~7 s) and run into SIGKILL.
    const errors: unknown[] = [];
    for (const m of this.members) {
      await m.stop(graceMs).catch((err: unknown) => errors.push(err));
    }
    if (errors.length > 0) throw new Error(errors.map(String).join('\n'));
  }

  async stopMember(i: number, opts: StopOptions = {}): Promise<void> {
    await this.member(i).stop(opts.graceMs ?? DEFAULT_STOP_GRACE_MS);
  }

  async startMember(i: number, opts: { timeoutMs?: number } = {}): Promise<void> {
    const m = this.member(i);
    m.start(setFlag(m.args, 'initial-cluster-state', 'existing'));
    await this.waitHealthy({ timeoutMs: opts.timeoutMs, endpoints: [m.clientUrls[0]!], watch: [m] });
  }

  async waitHealthy(
    opts: { timeoutMs?: number; endpoints?: readonly string[]; watch?: readonly Member[] } = {},
  ): Promise<void> {
    const timeoutMs = opts.timeoutMs ?? DEFAULT_START_TIMEOUT_MS;
    const endpoints = opts.endpoints ?? this.endpoints;
    const watch = opts.watch ?? this.members;
    const deadline = Date.now() + timeoutMs;
    let last: EtcdctlResult | undefined;
    // Resolves when any watched member exits: start-up fails at once, mid-poll included.
    const anyExit = Promise.race(watch.map((m) => m.proc?.exited ?? new Promise<never>(() => {})));
    for (;;) {
      const dead = watch.filter((m) => m.proc?.exitInfo !== undefined);
      if (dead.length > 0) {
        const why = dead.map((m) => `${m.label} ${describeExit(m.proc!.exitInfo!)}`).join('; ');
        throw new EtcdStartError(this.report(`${why} before becoming healthy`, last));
      }
      const remaining = deadline - Date.now();
      if (remaining <= 0) {
        throw new EtcdStartError(this.report(`not healthy after ${timeoutMs} ms (${endpoints.join(', ')})`, last));
      }
      // Each poll may overrun the deadline by at most its own bound (5 s).
      const result = await Promise.race([
        etcdctl(this, {
          ...this.healthClient,
          endpoints,
          args: ['endpoint', 'health'],
          dialTimeout: '1s',
          commandTimeout: '3s',
          timeoutMs: 5_000,
        }),
        anyExit.then(() => undefined),
      ]);
      if (result === undefined) continue; // a member exited: reported above
      if (result.exitCode === 0) return;
      if (!result.timedOut || !last) last = result;
      await sleep(Math.min(POLL_INTERVAL_MS, Math.max(0, deadline - Date.now())));
    }
  }

  readLog(i: number): string {
    return readFileSync(this.member(i).logFile, 'utf8');
  }

  /** Error text: what happened, the last health check, and each member's log tail. */
  report(what: string, last: EtcdctlResult | undefined): string {
    const parts = [`etcd cluster: ${what}`];
    if (last) {
      parts.push(
        `last health check: ${last.command}\n  exit ${last.exitCode}${last.timedOut ? ' (timed out)' : ''}\n` +
          `  stdout: ${last.stdout.trim()}\n  stderr: ${last.stderr.trim().split('\n').slice(-5).join('\n          ')}`,
      );
    }
    for (const m of this.members) {
      const summary = summarizeLog(m.logFile, m.logOffset);
      parts.push(
        `--- ${m.label}${m.pid !== undefined ? ` (pid ${m.pid})` : ''}: log ${m.logFile} ---\n` +
          (summary ? `distinct warnings/errors since the last start:\n${summary}\n` : '') +
          `log since the last start (first ${LOG_HEAD_LINES} and last ${LOG_TAIL_LINES} lines):\n${excerptFile(m.logFile, m.logOffset)}`,
      );
    }
    return parts.join('\n\n');
  }
}

/**
 * Spawns one member per argv (all at once, as a new cluster needs a quorum
 * before any member is healthy) and waits until `endpoint health` over all
 * advertised client URLs succeeds. Each argv must contain
 * `--advertise-client-urls`; `--name` and `--data-dir` are read for reporting.
 * On failure every member is stopped and an {@link EtcdStartError} is thrown.
 */
export async function startEtcdClusterFromArgs(
  specs: readonly EtcdMemberSpec[],
  opts: StartFromArgsOptions,
): Promise<EtcdCluster> {
  if (specs.length === 0) throw new Error('startEtcdClusterFromArgs: no members');
  const members = specs.map((spec, index) => {
    const { program, flags } = splitProgram(spec.args, opts.etcdBinary ?? 'etcd');
    const advertised = getFlag(flags, 'advertise-client-urls');
    if (!advertised) throw new Error(`member ${index}: argv has no --advertise-client-urls: ${shellQuote(flags)}`);
    const name = getFlag(flags, 'name') ?? `member${index}`;
    const clientUrls = advertised.split(',').map((u) => u.trim()).filter(Boolean);
    return new Member(index, name, program, flags, getFlag(flags, 'data-dir'), clientUrls, spec.logFile);
  });
  const cluster = new Cluster(members, opts.healthClient);
  try {
    for (const m of members) m.start(m.args);
    await cluster.waitHealthy({ timeoutMs: opts.timeoutMs });
  } catch (err) {
    await cluster.stop({ graceMs: 2_000 }).catch(() => undefined);
    throw err;
  }
  return cluster;
}

/** Single-member variant of {@link startEtcdClusterFromArgs}. */
export async function startEtcdFromArgs(
  args: string[],
  opts: StartFromArgsOptions & { logFile: string },
): Promise<EtcdCluster> {
  return startEtcdClusterFromArgs([{ args, logFile: opts.logFile }], opts);
}

// ---------------------------------------------------------------------------
// clusters from certificates

/**
 * Starts a new TLS cluster of `size` members named m0..m(n-1) on 127.0.0.1
 * with free client and peer ports, mutual TLS on both client and peer
 * connections, data in `<dataRoot>/<name>.etcd` and logs in `<dataRoot>/<name>.log`.
 */
export async function startEtcdCluster(opts: StartEtcdClusterOptions): Promise<EtcdCluster> {
  const { size } = opts;
  if (!Number.isInteger(size) || size < 1) throw new RangeError(`size must be a positive integer, got ${size}`);
  const certsFor = (i: number): EtcdCerts => (typeof opts.certs === 'function' ? opts.certs(i) : opts.certs);
  const first = certsFor(0);
  const healthClient: EtcdClientTls = {
    cacert: opts.healthClient?.cacert ?? first.ca,
    cert: opts.healthClient?.cert ?? first.serverCert,
    key: opts.healthClient?.key ?? first.serverKey,
  };
  const token = opts.token ?? `kubepki-test-${process.pid}-${Math.random().toString(36).slice(2, 10)}`;
  const names = Array.from({ length: size }, (_, i) => `m${i}`);
  mkdirSync(opts.dataRoot, { recursive: true });

  const attempts = 1 + (opts.portRetries ?? 2);
  for (let attempt = 1; ; attempt++) {
    const perMember = opts.metrics ? 3 : 2;
    const ports = await freePorts(size * perMember);
    const port = (i: number, k: number) => ports[i * perMember + k]!;
    const initialCluster = names.map((n, i) => `${n}=https://${LOOPBACK}:${port(i, 1)}`).join(',');
    const specs = names.map((name, i): EtcdMemberSpec => {
      const dataDir = path.join(opts.dataRoot, `${name}.etcd`);
      rmSync(dataDir, { recursive: true, force: true });
      mkdirSync(dataDir, { recursive: true, mode: 0o700 });
      const args = buildEtcdArgs({
        name,
        dataDir,
        clientPort: port(i, 0),
        peerPort: port(i, 1),
        metricsPort: opts.metrics ? port(i, 2) : undefined,
        certs: certsFor(i),
        initialCluster,
        initialClusterState: 'new',
        initialClusterToken: token,
        extraArgs: opts.extraArgs,
      });
      return { args, logFile: path.join(opts.dataRoot, `${name}.log`) };
    });
    const logOffsets = specs.map((s) => fileSize(s.logFile));
    try {
      return await startEtcdClusterFromArgs(specs, {
        healthClient,
        timeoutMs: opts.timeoutMs,
        etcdBinary: opts.etcdBinary,
      });
    } catch (err) {
      const portTaken = specs.some((s, i) => /address already in use/.test(readSince(s.logFile, logOffsets[i])));
      if (!(err instanceof EtcdStartError) || !portTaken || attempt >= attempts) throw err;
      // A port was grabbed between allocation and bind: retry with fresh ports and data.
    }
  }
}
