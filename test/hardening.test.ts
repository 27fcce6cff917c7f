/**
 * The hardening rules agree with kube-bench wherever both judge the same
 * thing. Each row is kube-bench's verdict on a value, as its cfg/cis-1.12
 * tests and check/test.go comparisons give it (eq lower-cases booleans; has
 * and nothave are substring tests; gte parses integers; "set: false" passes
 * a flag not given), written here as a fact, not computed by the code.
 */
import test from 'ava';
import { RULES, judgeSetting } from '../lib/components/hardening.js';

type Verdict = 'pass' | 'fail';
/** [CIS id, component, flag, value (undefined: not given), kube-bench's verdict]. */
const KUBE_BENCH: [string, string, string, string | undefined, Verdict][] = [
  ['1.2.1', 'kube-apiserver', 'anonymous-auth', 'false', 'pass'],
  ['1.2.1', 'kube-apiserver', 'anonymous-auth', 'FALSE', 'pass'],
  ['1.2.1', 'kube-apiserver', 'anonymous-auth', 'true', 'fail'],
  ['1.2.1', 'kube-apiserver', 'anonymous-auth', undefined, 'fail'],
  ['1.2.2', 'kube-apiserver', 'token-auth-file', undefined, 'pass'],
  ['1.2.2', 'kube-apiserver', 'token-auth-file', '/etc/kubernetes/pki/tokens.csv', 'fail'],
  ['1.2.6', 'kube-apiserver', 'authorization-mode', 'Node,RBAC', 'pass'],
  ['1.2.6', 'kube-apiserver', 'authorization-mode', 'Node,RBAC,AlwaysAllow', 'fail'],
  ['1.2.6', 'kube-apiserver', 'authorization-mode', undefined, 'fail'],
  ['1.2.7', 'kube-apiserver', 'authorization-mode', 'RBAC', 'fail'],
  ['1.2.8', 'kube-apiserver', 'authorization-mode', 'Node,RBAC', 'pass'],
  ['1.2.10', 'kube-apiserver', 'enable-admission-plugins', undefined, 'pass'],
  ['1.2.10', 'kube-apiserver', 'enable-admission-plugins', 'NodeRestriction,AlwaysAdmit', 'fail'],
  ['1.2.12', 'kube-apiserver', 'disable-admission-plugins', 'ServiceAccount', 'fail'],
  ['1.2.13', 'kube-apiserver', 'disable-admission-plugins', undefined, 'pass'],
  ['1.2.14', 'kube-apiserver', 'enable-admission-plugins', 'NodeRestriction', 'pass'],
  ['1.2.14', 'kube-apiserver', 'enable-admission-plugins', undefined, 'fail'],
  ['1.2.15', 'kube-apiserver', 'profiling', undefined, 'fail'],
  ['1.2.17', 'kube-apiserver', 'audit-log-maxage', '30', 'pass'],
  ['1.2.17', 'kube-apiserver', 'audit-log-maxage', '29', 'fail'],
  ['1.2.17', 'kube-apiserver', 'audit-log-maxage', '30d', 'fail'],
  ['1.2.18', 'kube-apiserver', 'audit-log-maxbackup', '10', 'pass'],
  ['1.2.19', 'kube-apiserver', 'audit-log-maxsize', '99', 'fail'],
  ['1.2.21', 'kube-apiserver', 'service-account-lookup', undefined, 'pass'],
  ['1.2.21', 'kube-apiserver', 'service-account-lookup', 'false', 'fail'],
  ['1.2.29', 'kube-apiserver', 'tls-cipher-suites', 'TLS_AES_128_GCM_SHA256,TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256', 'pass'],
  ['1.2.29', 'kube-apiserver', 'tls-cipher-suites', 'TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256,', 'pass'],
  ['1.2.29', 'kube-apiserver', 'tls-cipher-suites', 'TLS_ECDHE_RSA_WITH_AES_128_CBC_SHA', 'fail'],
  ['1.2.29', 'kube-apiserver', 'tls-cipher-suites', undefined, 'fail'],
  ['1.2.30', 'kube-apiserver', 'service-account-extend-token-expiration', undefined, 'fail'],
  ['1.3.3', 'kube-controller-manager', 'use-service-account-credentials', 'true', 'pass'],
  ['1.3.3', 'kube-controller-manager', 'use-service-account-credentials', undefined, 'fail'],
  ['1.3.6', 'kube-controller-manager', 'feature-gates', undefined, 'pass'],
  ['1.3.6', 'kube-controller-manager', 'feature-gates', 'Foo=true,RotateKubeletServerCertificate=false', 'fail'],
  ['1.3.7', 'kube-controller-manager', 'bind-address', undefined, 'pass'],
  ['1.3.7', 'kube-controller-manager', 'bind-address', '0.0.0.0', 'fail'],
  ['1.4.2', 'kube-scheduler', 'bind-address', '127.0.0.1', 'pass'],
  ['2.2', 'etcd', 'client-cert-auth', undefined, 'fail'],
  ['2.3', 'etcd', 'auto-tls', undefined, 'pass'],
  ['2.3', 'etcd', 'auto-tls', 'true', 'fail'],
  ['2.6', 'etcd', 'peer-auto-tls', 'false', 'pass'],
  ['2.7', 'etcd', 'trusted-ca-file', undefined, 'fail'],
  ['4.2.1', 'kubelet', 'anonymous-auth', 'true', 'fail'],
  ['4.2.4', 'kubelet', 'read-only-port', undefined, 'pass'],
  ['4.2.4', 'kubelet', 'read-only-port', '10255', 'fail'],
  ['4.2.5', 'kubelet', 'streaming-connection-idle-timeout', '0', 'fail'],
  ['4.2.5', 'kubelet', 'streaming-connection-idle-timeout', '0s', 'pass'],
  ['4.2.5', 'kubelet', 'streaming-connection-idle-timeout', '5m', 'pass'],
  ['4.2.6', 'kubelet', 'make-iptables-util-chains', 'false', 'fail'],
  ['4.2.7', 'kubelet', 'hostname-override', 'node-1', 'fail'],
  ['4.2.8', 'kubelet', 'event-qps', '5', 'pass'],
  ['4.2.10', 'kubelet', 'rotate-certificates', 'false', 'fail'],
  ['4.2.12', 'kubelet', 'tls-cipher-suites', 'TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256,TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305', 'pass'],
  // kube-bench's 4.2.12 list has no TLS 1.3 names and no _SHA256 ChaCha20 names (cis-1.12/node.yaml).
  ['4.2.12', 'kubelet', 'tls-cipher-suites', 'TLS_AES_128_GCM_SHA256', 'fail'],
  ['4.2.12', 'kubelet', 'tls-cipher-suites', 'TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256', 'fail'],
];

for (const [id, component, flag, value, verdict] of KUBE_BENCH) {
  test(`${id} ${component} --${flag}${value === undefined ? ' (not given)' : `=${value}`}: ${verdict}, as kube-bench`, (t) => {
    const rules = RULES.filter((r) => r.id === id && r.component === component && r.flag === flag);
    t.is(rules.length, 1);
    const complaint = rules[0]!.judge(value);
    t.is(complaint === undefined ? 'pass' : 'fail', verdict, complaint);
  });
}

/** [CIS id, the kubelet's configuration, kube-bench's verdict]: its jsonpath on the file, when the flag is not given. */
const KUBELET_CONFIG: [string, Record<string, unknown>, Verdict][] = [
  ['4.2.1', { authentication: { anonymous: { enabled: false } } }, 'pass'],
  ['4.2.1', { authentication: { anonymous: { enabled: true } } }, 'fail'],
  ['4.2.1', {}, 'fail'],
  ['4.2.2', { authorization: { mode: 'Webhook' } }, 'pass'],
  ['4.2.2', { authorization: { mode: 'AlwaysAllow' } }, 'fail'],
  ['4.2.3', { authentication: { x509: { clientCAFile: '/etc/kubernetes/pki/ca.crt' } } }, 'pass'],
  ['4.2.3', {}, 'fail'],
  ['4.2.4', { readOnlyPort: 0 }, 'pass'],
  ['4.2.4', {}, 'pass'],
  ['4.2.10', { rotateCertificates: false }, 'fail'],
  ['4.2.11', { featureGates: { RotateKubeletServerCertificate: false } }, 'fail'],
  ['4.2.11', { featureGates: { RotateKubeletServerCertificate: true } }, 'pass'],
  ['4.2.12', { tlsCipherSuites: ['TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256', 'TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384'] }, 'pass'],
  ['4.2.12', { tlsCipherSuites: ['TLS_RSA_WITH_AES_128_GCM_SHA256'] }, 'fail'],
];

for (const [id, config, verdict] of KUBELET_CONFIG) {
  test(`${id} kubelet configuration ${JSON.stringify(config)}: ${verdict}, as kube-bench`, (t) => {
    const rules = RULES.filter((r) => r.id === id && r.component === 'kubelet');
    t.is(rules.length, 1);
    const complaint = judgeSetting(rules[0]!, config);
    t.is(complaint === undefined ? 'pass' : 'fail', verdict, complaint);
  });
}

test('every CIS rule names a check of sections 1.2-1.4, 2 or 4.2, scored as kube-bench scores it', (t) => {
  // Unscored in kube-bench's cfg/cis-1.12 (its "Manual" checks): their failure is a warning.
  const unscored = new Set(['1.2.1', '1.2.29', '2.7', '4.2.4', '4.2.5', '4.2.7', '4.2.8', '4.2.11', '4.2.12']);
  for (const r of RULES.filter((x) => !x.id.startsWith('kubepki.'))) {
    t.regex(r.id, /^(1\.[234]|2|4\.2)\.\d+$|^2\.\d$/, r.id);
    t.is(r.scored, !unscored.has(r.id), r.id);
  }
});
