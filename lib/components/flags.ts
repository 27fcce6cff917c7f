/**
 * Component flags, derived from the catalog (every file path comes from a
 * catalog entry's consumers) and the cluster description. Defaults are the
 * hardened ones: every connection that can be authenticated is.
 */
import path from 'node:path';
import { stringify } from 'yaml';
import type { ClusterSpec, EtcdMember } from '../config/spec.js';
import { UserError } from '../errors.js';
import { RULES } from './hardening.js';
import { joinHostPort, nthAddress } from '../net.js';
import {
  AUDIT_LOG, AUDIT_POLICY, BOOTSTRAP_KUBECONFIG, CERTIFICATES, KEY_PAIRS, KUBECONFIGS, KUBELET_CONFIG, certPath, findEntry, keyPath, rotationFiles,
  type CAName, type RotationPhase, type Component, type Consumer, type GeneratedEntry, type ServiceComponent,
} from '../pki/catalog.js';

export type Flag = readonly [name: string, value: string];

export interface FlagContext {
  spec: ClusterSpec;
  /** CAs whose key is not here: their signing flags are left empty (kubeadm's external CA mode). */
  externalCAs: ReadonlySet<CAName>;
  /**
   * CAs under rotation (kubepki ca rotate), by phase: their signing flags name
   * the one-CA files of the CA that signs (-old once started, -new once
   * issued), since the controller-manager's signer takes exactly one certificate.
   */
  rotations?: ReadonlyMap<CAName, Exclude<RotationPhase, 'idle'>>;
}

/** Where the kubelet's configuration file goes: next to the flag files. */
export const kubeletConfigPath = (spec: ClusterSpec) => path.join(spec.flagsDir, KUBELET_CONFIG.file);
/** Where the API server's audit policy goes: next to the flag files. */
export const auditPolicyPath = (spec: ClusterSpec) => path.join(spec.flagsDir, AUDIT_POLICY.file);

/** The audit policy kubepki writes: Metadata for every request, no bodies (so no secret) in the log; RequestReceived left out (each request once). */
export const AUDIT_POLICY_DOCUMENT = {
  apiVersion: 'audit.k8s.io/v1',
  kind: 'Policy',
  omitStages: ['RequestReceived'],
  rules: [{ level: 'Metadata' }],
} as const;

/**
 * Every consumer of every catalog file, with the absolute path it names. With
 * external etcd, the API server's etcd client files are the ones the
 * description names (kubeadm's etcd.external caFile, certFile, keyFile), and
 * etcd's own consumers have no files here.
 */
export function consumedFiles(spec: ClusterSpec): { consumer: Consumer; path: string; entry: string }[] {
  const out: { consumer: Consumer; path: string; entry: string }[] = [];
  for (const e of CERTIFICATES) {
    if (e.etcd && spec.etcd.external) {
      const client = spec.etcd.client;
      for (const c of e.consumers) {
        if (c.component !== 'kube-apiserver' || !e.externalEtcd) continue;
        const field = c.file === 'key' ? e.externalEtcd.key : e.externalEtcd.cert;
        const file = field ? client?.[field] : undefined;
        if (file) out.push({ consumer: c, entry: e.name, path: file });
      }
      continue;
    }
    for (const c of e.consumers) out.push({ consumer: c, entry: e.name, path: path.join(spec.certificatesDir, c.file === 'key' ? keyPath(e) : certPath(e)) });
  }
  for (const k of KEY_PAIRS) {
    for (const c of k.consumers) out.push({ consumer: c, entry: k.name, path: path.join(spec.certificatesDir, c.file === 'pub' ? k.pub : k.key) });
  }
  for (const k of KUBECONFIGS) for (const c of k.consumers) out.push({ consumer: c, entry: k.name, path: path.join(spec.kubeconfigDir, k.file) });
  if (spec.bootstrap.method !== 'none') {
    const k = BOOTSTRAP_KUBECONFIG;
    for (const c of k.consumers) out.push({ consumer: c, entry: k.name, path: path.join(spec.kubeconfigDir, k.file) });
  }
  return out;
}

function fileFlags(component: Component, ctx: FlagContext): Flag[] {
  return consumedFiles(ctx.spec)
    .filter((f) => f.consumer.component === component && f.consumer.flag)
    // A CA key in a token cannot be read by a component: its signing flags are left out.
    .filter((f) => !(f.consumer.signs && ctx.spec.caKeys[f.entry as CAName]))
    // Without the CA key here the csrsigning controller must not start (kubeadm's external CA mode: empty values).
    .map((f) => [f.consumer.flag!, f.consumer.signs ? signingPath(f, ctx) : f.path] as const);
}

/** A signing flag's file: empty for a CA managed elsewhere; during a rotation the signing CA's own pair. */
function signingPath(f: { consumer: Consumer; path: string; entry: string }, ctx: FlagContext): string {
  const ca = f.entry as CAName;
  if (ctx.externalCAs.has(ca)) return '';
  const phase = ctx.rotations?.get(ca);
  if (!phase) return f.path;
  const side = rotationFiles(ca)[phase === 'started' ? 'old' : 'new'];
  return path.join(ctx.spec.certificatesDir, f.consumer.file === 'key' ? side.key : side.cert!);
}

const TLS_MIN = 'VersionTLS12';
/**
 * The TLS suites the API server offers (CIS 1.2.29): TLS 1.3's, then TLS 1.2's
 * with ECDHE and AES-GCM or ChaCha20-Poly1305 only (no CBC, RC4, 3DES or
 * static RSA key exchange), in Go's names.
 */
export const STRONG_CIPHER_SUITES = [
  'TLS_AES_128_GCM_SHA256', 'TLS_AES_256_GCM_SHA384', 'TLS_CHACHA20_POLY1305_SHA256',
  'TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256', 'TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384', 'TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256',
  'TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256', 'TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384', 'TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256',
] as const;
/**
 * The kubelet's (CIS 4.2.12): the same TLS 1.2 suites, in the names kube-bench's
 * 4.2.12 list knows (it has no TLS 1.3 names, and the ChaCha20 ones without
 * _SHA256; the kubelet takes both spellings). TLS 1.3's suites are always on
 * in Go: naming them changes nothing.
 */
export const KUBELET_CIPHER_SUITES = [
  'TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256', 'TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384', 'TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305',
  'TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256', 'TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384', 'TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305',
] as const;

export const thisMember = (spec: ClusterSpec): EtcdMember => spec.etcd.members.find((m) => m.name === spec.nodeName)!;
const clientURL = (m: EtcdMember) => `https://${joinHostPort(m.address, m.clientPort)}`;
const peerURL = (m: EtcdMember) => `https://${joinHostPort(m.address, m.peerPort)}`;
const loopback = (m: EtcdMember) => (m.address.includes(':') ? '::1' : '127.0.0.1');

/** The etcd client endpoints the API server and etcdctl use: this node's member first. */
export function etcdEndpoints(spec: ClusterSpec): string[] {
  const self = thisMember(spec);
  return [...new Set([`https://${joinHostPort(loopback(self), self.clientPort)}`, ...spec.etcd.members.map(clientURL)])];
}

/** External etcd's endpoints (etcd.external.endpoints): without them the API server has no storage to talk to. */
function externalEndpoints(spec: ClusterSpec): string[] {
  const endpoints = spec.etcd.client?.endpoints ?? [];
  if (!endpoints.length) {
    throw new UserError('etcd is external, but the description names no endpoints: kube-apiserver needs --etcd-servers; give etcd.external.endpoints (with caFile, certFile and keyFile), or leave the flag files out with --skip-phases flags');
  }
  return endpoints;
}

const durationHours = (ms: number) => `${Math.round(ms / 3_600_000)}h0m0s`;

function settings(component: ServiceComponent, ctx: FlagContext): Flag[] {
  const { spec } = ctx;
  const frontProxyClient = findEntry('front-proxy-client')!.subject(spec).cn;
  switch (component) {
    case 'kube-apiserver':
      return [
        ['--advertise-address', spec.advertiseAddress],
        ['--secure-port', String(spec.bindPort)],
        ['--service-cluster-ip-range', spec.serviceSubnets.join(',')],
        ['--authorization-mode', 'Node,RBAC'],
        ['--anonymous-auth', 'false'],
        ['--enable-admission-plugins', 'NodeRestriction'],
        ['--allow-privileged', 'true'],
        ['--tls-min-version', TLS_MIN],
        ['--tls-cipher-suites', STRONG_CIPHER_SUITES.join(',')],
        // CIS 1.2.15 and 1.2.30: no profiling endpoint; service-account tokens live as long as they say.
        ['--profiling', 'false'],
        ['--service-account-extend-token-expiration', 'false'],
        // CIS 1.2.16-1.2.19: an audit log, kept 30 days in 10 files of 100 MB.
        [AUDIT_POLICY.flag!, auditPolicyPath(spec)],
        ['--audit-log-path', AUDIT_LOG.path],
        ['--audit-log-maxage', String(AUDIT_LOG.maxAge)],
        ['--audit-log-maxbackup', String(AUDIT_LOG.maxBackup)],
        ['--audit-log-maxsize', String(AUDIT_LOG.maxSize)],
        ['--kubelet-preferred-address-types', 'InternalIP,ExternalIP,Hostname'],
        ['--requestheader-allowed-names', frontProxyClient],
        ['--requestheader-username-headers', 'X-Remote-User'],
        ['--requestheader-group-headers', 'X-Remote-Group'],
        ['--requestheader-extra-headers-prefix', 'X-Remote-Extra-'],
        ['--service-account-issuer', `https://kubernetes.default.svc.${spec.dnsDomain}`],
        // How kubelets authenticate for their first certificate (kubelet TLS bootstrap).
        ...(spec.bootstrap.method === 'bootstrap-token' ? [['--enable-bootstrap-token-auth', 'true'] as const] : []),
        ...(spec.bootstrap.method === 'token-file' ? [['--token-auth-file', spec.bootstrap.tokenAuthFile] as const] : []),
        ['--etcd-servers', (spec.etcd.external ? externalEndpoints(spec) : etcdEndpoints(spec)).join(',')],
      ];
    case 'kube-controller-manager':
      return [
        ['--bind-address', '127.0.0.1'],
        ['--leader-elect', 'true'],
        ['--use-service-account-credentials', 'true'],
        // With kubernetes-ca's key in a token, the controller-manager cannot sign: csrsigning is off, and nodes get
        // their certificates from kubepki (certs sign, nodes issue).
        ['--controllers', spec.caKeys.ca ? '*,bootstrapsigner,tokencleaner,-csrsigning' : '*,bootstrapsigner,tokencleaner'],
        ['--cluster-name', spec.clusterName],
        ['--service-cluster-ip-range', spec.serviceSubnets.join(',')],
        // As kubeadm: with a pod network, the controller-manager gives each node its pod CIDR.
        ...(spec.podSubnets.length ? [['--allocate-node-cidrs', 'true'] as const, ['--cluster-cidr', spec.podSubnets.join(',')] as const] : []),
        ...(spec.caKeys.ca ? [] : [['--cluster-signing-duration', durationHours(spec.certificateValidity)] as const]),
        ['--tls-min-version', TLS_MIN],
        ['--profiling', 'false'], // CIS 1.3.2
      ];
    case 'kube-scheduler':
      return [
        ['--bind-address', '127.0.0.1'],
        ['--leader-elect', 'true'],
        ['--tls-min-version', TLS_MIN],
        ['--profiling', 'false'], // CIS 1.4.1
      ];
    case 'kubelet':
      return [
        [KUBELET_CONFIG.flag!, kubeletConfigPath(spec)],
        ...(spec.components.criSocket ? [['--container-runtime-endpoint', spec.components.criSocket] as const] : []),
      ];
    case 'etcd': {
      const self = thisMember(spec);
      return [
        ['--name', self.name],
        ['--logger', 'zap'],
        ['--data-dir', self.dataDir],
        ['--client-cert-auth', 'true'],
        ['--peer-client-cert-auth', 'true'],
        ['--auto-tls', 'false'],
        ['--peer-auto-tls', 'false'],
        ['--listen-client-urls', [...new Set([`https://${joinHostPort(loopback(self), self.clientPort)}`, clientURL(self)])].join(',')],
        ['--advertise-client-urls', clientURL(self)],
        ['--listen-peer-urls', peerURL(self)],
        ['--initial-advertise-peer-urls', peerURL(self)],
        ['--initial-cluster', spec.etcd.members.map((m) => `${m.name}=${peerURL(m)}`).join(',')],
        ['--initial-cluster-state', 'new'],
        ['--initial-cluster-token', `${spec.clusterName}-etcd`],
        ['--snapshot-count', '10000'],
      ];
    }
  }
}

/**
 * kubeadm's merge of the user's arguments (cmd/kubeadm/app/util/arguments.go,
 * after kubernetes#135400): a name the user gives replaces all of kubepki's
 * values of it; kubepki's other flags come first, then the user's in the
 * order written, a repeated name repeated.
 */
export function mergeArgs(ours: readonly Flag[], user: readonly { name: string; value: string }[]): Flag[] {
  const named = new Set(user.map((a) => `--${a.name}`));
  return [...ours.filter(([name]) => !named.has(name)), ...user.map((a) => [`--${a.name}`, a.value] as const)];
}

/** All flags of a component: file flags (from the catalog) first, then its settings, then the user's arguments. */
export function componentFlags(component: ServiceComponent, ctx: FlagContext): Flag[] {
  if (component === 'etcd' && ctx.spec.etcd.external) return [];
  return mergeArgs([...fileFlags(component, ctx), ...settings(component, ctx)], ctx.spec.components.args[component] ?? []);
}

/** etcdctl's environment (ETCDCTL_CACERT, ...), named after its flags in the catalog. */
export function etcdctlEnv(ctx: FlagContext): [string, string][] {
  const env: [string, string][] = [['ETCDCTL_API', '3']];
  for (const f of fileFlags('etcdctl', ctx)) env.push([`ETCDCTL_${f[0].slice(2).toUpperCase().replace(/-/g, '_')}`, f[1]]);
  env.push(['ETCDCTL_ENDPOINTS', etcdEndpoints(ctx.spec).join(',')]);
  return env;
}

/**
 * The KubeletConfiguration kubepki writes: the user's (the description's
 * KubeletConfiguration) with kubepki's over it, file settings from the
 * catalog, hardened defaults.
 */
export function kubeletConfiguration(ctx: FlagContext): Record<string, unknown> {
  const { spec } = ctx;
  const { kubeletConfig, allowInsecure } = spec.components;
  // allowInsecure may name a setting, or the kubelet flag that says the same.
  const kept = new Set([...allowInsecure, ...RULES.filter((r) => r.component === 'kubelet' && r.setting && allowInsecure.includes(r.flag)).map((r) => r.setting!)]);
  return mergeKubeletConfig(kubeletConfig, ownKubeletConfiguration(ctx), (setting) => kept.has(setting));
}

function ownKubeletConfiguration(ctx: FlagContext): Record<string, unknown> {
  const { spec } = ctx;
  const config: Record<string, unknown> = {
    apiVersion: 'kubelet.config.k8s.io/v1beta1',
    kind: 'KubeletConfiguration',
    authentication: { anonymous: { enabled: false }, webhook: { enabled: true }, x509: {} },
    authorization: { mode: 'Webhook' },
    readOnlyPort: 0,
    rotateCertificates: true,
    serverTLSBootstrap: false,
    tlsMinVersion: TLS_MIN,
    tlsCipherSuites: [...KUBELET_CIPHER_SUITES],
    clusterDomain: spec.dnsDomain,
    clusterDNS: spec.serviceSubnets.map((c) => nthAddress(c, 10)!).slice(0, 1),
    healthzBindAddress: '127.0.0.1',
    healthzPort: 10248,
  };
  for (const f of consumedFiles(spec)) {
    if (f.consumer.component !== 'kubelet' || !f.consumer.setting) continue;
    const keys = f.consumer.setting.split('.');
    let node = config;
    for (const k of keys.slice(0, -1)) node = (node[k] ??= {}) as Record<string, unknown>;
    node[keys[keys.length - 1]!] = f.path;
  }
  return config;
}

const isObject = (x: unknown): x is Record<string, unknown> => typeof x === 'object' && x !== null && !Array.isArray(x);

/**
 * The user's KubeletConfiguration with kubepki's settings over it (a nested
 * object merged field by field, a list replaced whole); where allowInsecure
 * names a setting the user gave, the user's value stays.
 */
export function mergeKubeletConfig(user: Record<string, unknown>, ours: Record<string, unknown>, keepUser: (setting: string) => boolean, prefix = ''): Record<string, unknown> {
  const out: Record<string, unknown> = structuredClone(user);
  for (const [key, value] of Object.entries(ours)) {
    const setting = prefix ? `${prefix}.${key}` : key;
    if (isObject(value) && isObject(out[key])) out[key] = mergeKubeletConfig(out[key] as Record<string, unknown>, value, keepUser, setting);
    else if (!(key in out && keepUser(setting))) out[key] = value;
  }
  return out;
}

// ------------------------------------------------------------------ formats

export type FlagFormat = 'args' | 'env' | 'json';

/** The systemd EnvironmentFile variable that carries a component's flags: KUBE_APISERVER_ARGS. */
export const envVariable = (component: string) => `${component.toUpperCase().replace(/-/g, '_')}_ARGS`;

/** A value as systemd reads it in an EnvironmentFile, inside double quotes. */
const systemdQuote = (v: string) => v.replace(/\\/g, '\\\\').replace(/"/g, '\\"');

export function formatFlags(component: string, flags: readonly Flag[], format: FlagFormat, envs: readonly { name: string; value: string }[] = []): string {
  switch (format) {
    case 'args':
      return flags.map(([k, v]) => `${k}=${v}`).join('\n') + '\n';
    case 'env':
      return `# ${component} flags, written by kubepki from the cluster description.\n${envVariable(component)}="${systemdQuote(flags.map(([k, v]) => `${k}=${v}`).join(' '))}"\n`
        + (envs.length ? `# Its environment (extraEnvs).\n${formatEnv(envs.map((e) => [e.name, e.value]))}` : '');
    case 'json':
      return JSON.stringify({ component, flags: flags.map(([name, value]) => ({ name, value })) }, null, 2) + '\n';
  }
}

export function formatEnv(vars: readonly (readonly [string, string])[]): string {
  return vars.map(([k, v]) => `${k}="${systemdQuote(v)}"`).join('\n') + '\n';
}

/** A flags-dir file's content, by its catalog entry's format. */
export function flagFileContent(entry: GeneratedEntry, ctx: FlagContext): string {
  switch (entry.format) {
    case 'args':
    case 'env': return formatFlags(entry.component!, componentFlags(entry.component as ServiceComponent, ctx), entry.format, entry.format === 'env' ? ctx.spec.components.envs[entry.component as ServiceComponent] ?? [] : []);
    case 'kubelet-config': return stringify(kubeletConfiguration(ctx));
    case 'etcdctl-env': return formatEnv(etcdctlEnv(ctx));
    case 'audit-policy': return stringify(AUDIT_POLICY_DOCUMENT);
    default: throw new Error(`${entry.name} is not a flags-dir file`);
  }
}
