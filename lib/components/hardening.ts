/**
 * What kubepki secures in each component's flags and the kubelet's settings,
 * as rules: the CIS Kubernetes Benchmark's automated checks (v1.12, judged as
 * kube-bench's cfg/cis-1.12 judges them) and kubepki's own. One table for
 * two uses: a user argument (extraArgs, kubeletExtraArgs, KubeletConfiguration)
 * that a rule refuses is an error unless allowInsecure names it, and
 * `kubepki audit` judges what is installed by the same rules.
 */
import type { UserComponent } from '../config/spec.js';

export interface Rule {
  /** The CIS number ("1.2.15"), or kubepki's own ("kubepki.etcd-tls"). */
  id: string;
  /** kube-bench: a scored check that fails is a FAIL, an unscored one a WARN. */
  scored: boolean;
  component: UserComponent;
  /** The flag, without its dashes. */
  flag: string;
  /** The kubelet's configuration field that says the same (a dotted path). */
  setting?: string;
  title: string;
  /** Why a value is not good enough; undefined when it passes. undefined value: not set. */
  judge: (value: string | undefined) => string | undefined;
}

type Judge = Rule['judge'];
const lower = (v: string) => (/^(true|false)$/i.test(v) ? v.toLowerCase() : v);

// kube-bench's comparisons (check/test.go): eq and noteq lower-case booleans; has and nothave are substring tests;
// gte compares integers; a value not set fails unless the check allows it (its "set: false" branch).
const eq = (want: string, unsetPasses = false): Judge => (v) =>
  v === undefined ? (unsetPasses ? undefined : `is not set (kubepki sets ${want})`) : lower(v) === want ? undefined : `is ${v}, not ${want}`;
const noteq = (bad: string, unsetPasses = false): Judge => (v) =>
  v === undefined ? (unsetPasses ? undefined : 'is not set') : lower(v) === bad ? `is ${v}` : undefined;
const has = (item: string): Judge => (v) => (v === undefined ? `is not set (it must include ${item})` : v.includes(item) ? undefined : `does not include ${item}`);
const nothave = (item: string, unsetPasses = false): Judge => (v) =>
  v === undefined ? (unsetPasses ? undefined : 'is not set') : v.includes(item) ? `includes ${item}` : undefined;
const gte = (n: number): Judge => (v) => {
  if (v === undefined) return `is not set (at least ${n})`;
  return /^\s*-?\d+\s*$/.test(v) && Number(v) >= n ? undefined : `is ${v}, less than ${n}`;
};
const present: Judge = (v) => (v === undefined || v === '' ? 'is not set' : undefined);
const absent: Judge = (v) => (v === undefined ? undefined : 'is set');
const oneOf = (allowed: readonly string[]): Judge => (v) => {
  if (v === undefined) return 'is not set';
  const weak = v.replace(/,+\s*$/, '').split(',').map((s) => s.trim()).filter((s) => !allowed.includes(s));
  return weak.length ? `names ${weak.join(', ')}, not among the strong suites` : undefined;
};

/** CIS 1.2.29's strong suites, as kube-bench's cfg/cis-1.12 lists them. */
export const CIS_APISERVER_SUITES = [
  'TLS_AES_128_GCM_SHA256', 'TLS_AES_256_GCM_SHA384', 'TLS_CHACHA20_POLY1305_SHA256',
  'TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256', 'TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384', 'TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305',
  'TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256', 'TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256', 'TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384',
  'TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305', 'TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256',
];
/** CIS 4.2.12's, for the kubelet: no TLS 1.3 names. */
export const CIS_KUBELET_SUITES = [
  'TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256', 'TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256', 'TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305',
  'TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384', 'TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305', 'TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384',
];

/** TLS 1.2 or newer. */
const tlsMin: Judge = (v) => (v === undefined ? 'is not set (kubepki sets VersionTLS12)' : ['VersionTLS12', 'VersionTLS13'].includes(v) ? undefined : `is ${v}, older than TLS 1.2`);

const LOOPBACK = /^(127\.\d+\.\d+\.\d+|\[::1\]|localhost)(:\d+)?$/;
/** etcd's URLs: TLS only (a plain-http metrics listener on loopback aside). */
const httpsOnly = (metrics = false): Judge => (v) => {
  if (v === undefined) return undefined;
  for (const part of v.split(',')) {
    const url = part.includes('=') ? part.slice(part.indexOf('=') + 1) : part;
    const m = /^(\w+):\/\/([^/]*)/.exec(url.trim());
    if (!m) return `has ${url}, not a URL`;
    if (m[1] === 'https' || m[1] === 'unixs') continue;
    if (metrics && m[1] === 'http' && LOOPBACK.test(m[2]!)) continue;
    return `has ${url}, which is not TLS (https://)`;
  }
  return undefined;
};

const rule = (id: string, scored: boolean, component: UserComponent, flag: string, title: string, judge: Judge, setting?: string): Rule =>
  ({ id, scored, component, flag, title, judge, ...(setting ? { setting } : {}) });
const A = 'kube-apiserver', CM = 'kube-controller-manager', S = 'kube-scheduler', E = 'etcd', K = 'kubelet';

export const RULES: readonly Rule[] = [
  rule('1.2.1', false, A, 'anonymous-auth', 'anonymous requests are refused', eq('false')),
  rule('1.2.2', true, A, 'token-auth-file', 'no static token file', absent),
  rule('1.2.4', true, A, 'kubelet-client-certificate', 'the API server authenticates to kubelets', present),
  rule('1.2.4', true, A, 'kubelet-client-key', 'the API server authenticates to kubelets', present),
  rule('1.2.5', true, A, 'kubelet-certificate-authority', 'the API server verifies kubelets', present),
  rule('1.2.6', true, A, 'authorization-mode', 'authorization is not AlwaysAllow', nothave('AlwaysAllow')),
  rule('1.2.7', true, A, 'authorization-mode', 'authorization includes Node', has('Node')),
  rule('1.2.8', true, A, 'authorization-mode', 'authorization includes RBAC', has('RBAC')),
  rule('1.2.10', true, A, 'enable-admission-plugins', 'admission plugin AlwaysAdmit is not on', nothave('AlwaysAdmit', true)),
  rule('1.2.12', true, A, 'disable-admission-plugins', 'admission plugin ServiceAccount is not off', nothave('ServiceAccount', true)),
  rule('1.2.13', true, A, 'disable-admission-plugins', 'admission plugin NamespaceLifecycle is not off', nothave('NamespaceLifecycle', true)),
  rule('1.2.14', true, A, 'enable-admission-plugins', 'admission plugin NodeRestriction is on', has('NodeRestriction')),
  rule('1.2.15', true, A, 'profiling', 'no profiling endpoint', eq('false')),
  rule('1.2.16', true, A, 'audit-log-path', 'an audit log', present),
  rule('1.2.17', true, A, 'audit-log-maxage', 'audit logs kept 30 days', gte(30)),
  rule('1.2.18', true, A, 'audit-log-maxbackup', '10 audit log files kept', gte(10)),
  rule('1.2.19', true, A, 'audit-log-maxsize', 'audit log files of 100 MB', gte(100)),
  rule('1.2.21', true, A, 'service-account-lookup', 'service-account tokens are looked up', eq('true', true)),
  rule('1.2.22', true, A, 'service-account-key-file', 'service-account tokens are verified', present),
  rule('1.2.23', true, A, 'etcd-certfile', 'the API server authenticates to etcd', present),
  rule('1.2.23', true, A, 'etcd-keyfile', 'the API server authenticates to etcd', present),
  rule('1.2.24', true, A, 'tls-cert-file', 'the API server serves TLS', present),
  rule('1.2.24', true, A, 'tls-private-key-file', 'the API server serves TLS', present),
  rule('1.2.25', true, A, 'client-ca-file', 'client certificates are verified', present),
  rule('1.2.26', true, A, 'etcd-cafile', 'the API server verifies etcd', present),
  rule('1.2.29', false, A, 'tls-cipher-suites', 'strong TLS suites only', oneOf(CIS_APISERVER_SUITES)),
  rule('1.2.30', true, A, 'service-account-extend-token-expiration', 'service-account tokens live as long as they say', eq('false')),
  rule('kubepki.tls-min-version', true, A, 'tls-min-version', 'TLS 1.2 or newer', tlsMin),
  rule('kubepki.etcd-tls', true, A, 'etcd-servers', 'the API server reaches etcd over TLS', httpsOnly()),

  rule('1.3.2', true, CM, 'profiling', 'no profiling endpoint', eq('false')),
  rule('1.3.3', true, CM, 'use-service-account-credentials', 'each controller has its own credentials', noteq('false')),
  rule('1.3.4', true, CM, 'service-account-private-key-file', 'service-account tokens are signed', present),
  rule('1.3.5', true, CM, 'root-ca-file', 'pods get the cluster CA', present),
  rule('1.3.6', true, CM, 'feature-gates', 'RotateKubeletServerCertificate is not off', nothave('RotateKubeletServerCertificate=false', true)),
  rule('1.3.7', true, CM, 'bind-address', 'listens on 127.0.0.1 only', eq('127.0.0.1', true)),
  rule('kubepki.tls-min-version', true, CM, 'tls-min-version', 'TLS 1.2 or newer', tlsMin),

  rule('1.4.1', true, S, 'profiling', 'no profiling endpoint', eq('false')),
  rule('1.4.2', true, S, 'bind-address', 'listens on 127.0.0.1 only', eq('127.0.0.1', true)),
  rule('kubepki.tls-min-version', true, S, 'tls-min-version', 'TLS 1.2 or newer', tlsMin),

  rule('2.1', true, E, 'cert-file', 'etcd serves TLS', present),
  rule('2.1', true, E, 'key-file', 'etcd serves TLS', present),
  rule('2.2', true, E, 'client-cert-auth', 'etcd clients need a certificate', eq('true')),
  rule('2.3', true, E, 'auto-tls', 'no self-signed client TLS', eq('false', true)),
  rule('2.4', true, E, 'peer-cert-file', 'etcd peers use TLS', present),
  rule('2.4', true, E, 'peer-key-file', 'etcd peers use TLS', present),
  rule('2.5', true, E, 'peer-client-cert-auth', 'etcd peers need a certificate', eq('true')),
  rule('2.6', true, E, 'peer-auto-tls', 'no self-signed peer TLS', eq('false', true)),
  rule('2.7', false, E, 'trusted-ca-file', 'etcd verifies clients with its own CA', present),
  ...['listen-client-urls', 'advertise-client-urls', 'listen-peer-urls', 'initial-advertise-peer-urls', 'initial-cluster'].map((flag) =>
    rule('kubepki.etcd-tls', true, E, flag, 'etcd listens and advertises over TLS only', httpsOnly())),
  rule('kubepki.etcd-tls', true, E, 'listen-metrics-urls', 'etcd metrics over TLS, or plain on loopback only', httpsOnly(true)),

  rule('4.2.1', true, K, 'anonymous-auth', 'anonymous requests are refused', eq('false'), 'authentication.anonymous.enabled'),
  rule('4.2.2', true, K, 'authorization-mode', 'authorization is not AlwaysAllow', nothave('AlwaysAllow'), 'authorization.mode'),
  rule('4.2.3', true, K, 'client-ca-file', 'client certificates are verified', present, 'authentication.x509.clientCAFile'),
  rule('4.2.4', false, K, 'read-only-port', 'no read-only port', eq('0', true), 'readOnlyPort'),
  rule('4.2.5', false, K, 'streaming-connection-idle-timeout', 'idle streams time out', noteq('0', true), 'streamingConnectionIdleTimeout'),
  rule('4.2.6', true, K, 'make-iptables-util-chains', 'the kubelet manages its iptables chains', eq('true', true), 'makeIPTablesUtilChains'),
  rule('4.2.7', false, K, 'hostname-override', 'the node is named by its hostname', absent),
  rule('4.2.8', false, K, 'event-qps', 'events are not dropped unlimited', (v) => (v === undefined ? undefined : gte(0)(v)), 'eventRecordQPS'),
  rule('4.2.10', true, K, 'rotate-certificates', 'the kubelet renews its client certificate', eq('true', true), 'rotateCertificates'),
  rule('4.2.11', false, K, 'feature-gates', 'RotateKubeletServerCertificate is not off', nothave('RotateKubeletServerCertificate=false', true), 'featureGates.RotateKubeletServerCertificate'),
  rule('4.2.12', false, K, 'tls-cipher-suites', 'strong TLS suites only', oneOf(CIS_KUBELET_SUITES), 'tlsCipherSuites'),
  rule('kubepki.kubelet-webhook', true, K, 'authentication-token-webhook', 'bearer tokens are checked with the API server', eq('true'), 'authentication.webhook.enabled'),
  rule('kubepki.tls-min-version', true, K, 'tls-min-version', 'TLS 1.2 or newer', tlsMin, 'tlsMinVersion'),
];

/**
 * The value of a kubelet setting as kube-bench reads it: lists joined with
 * commas, a feature gate's map entry as its value.
 */
export function settingText(config: Record<string, unknown>, setting: string): string | undefined {
  let node: unknown = config;
  for (const key of setting.split('.')) {
    if (node === null || typeof node !== 'object' || Array.isArray(node)) return undefined;
    node = (node as Record<string, unknown>)[key];
  }
  if (node === undefined || node === null) return undefined;
  if (Array.isArray(node)) return node.map(String).join(',');
  if (typeof node === 'object') return JSON.stringify(node);
  return String(node);
}

/** A feature-gate setting read as the flag would carry it (featureGates.X: false → X=false). */
export function judgeSetting(r: Rule, config: Record<string, unknown>): string | undefined {
  const text = settingText(config, r.setting!);
  if (r.setting!.startsWith('featureGates.') && text !== undefined) return r.judge(`${r.setting!.slice('featureGates.'.length)}=${text}`);
  return r.judge(text);
}

export const rulesFor = (component: UserComponent, flag: string) => RULES.filter((r) => r.component === component && r.flag === flag);
export const ruleName = (r: Rule) => (r.id.startsWith('kubepki.') ? r.id : `CIS ${r.id}`);
