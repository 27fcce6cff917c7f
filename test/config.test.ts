/**
 * Config loading, as a specification: kubepki's own Cluster file and kubeadm's
 * InitConfiguration/ClusterConfiguration (v1beta3, v1beta4) become one
 * ClusterSpec; command-line flags (kubeadm's names) override the file;
 * defaults are kubeadm's; and every mistake is a UserError that names the
 * file (and line), the field and the offending value, listing each problem
 * when there are several.
 *
 * fast-check is not installed, so there is no property-based test here.
 */
import test, { type ExecutionContext } from 'ava';
import { readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { applyOverrides, loadSpec, readConfigFile, resolveSpec, type ClusterInput } from '../lib/config/load.js';
import { UserError } from '../lib/errors.js';
import { NODE, REPO, kubepki, scratch } from './helpers/cli.js';

const HOUR = 3_600_000;
const EXAMPLES = path.join(REPO, 'examples');
/** A node identity, so that resolveSpec never falls back to this machine's hostname or addresses. */
const IDENTITY: ClusterInput = { nodeName: 'cp-1', advertiseAddress: '192.168.10.11' };
const IDENTITY_FLAGS = { 'node-name': 'cp-1', 'apiserver-advertise-address': '192.168.10.11' };

const escape = (s: string) => s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');

/** Write `text` as `name` in a fresh scratch folder; returns its path. */
function yamlFile(t: ExecutionContext, text: string, name = 'cluster.yaml'): string {
  const file = path.join(scratch(t), name);
  writeFileSync(file, text);
  return file;
}

const KUBEPKI = 'apiVersion: kubepki.dev/v1alpha1\nkind: Cluster\n';
const V1BETA4_CLUSTER = 'apiVersion: kubeadm.k8s.io/v1beta4\nkind: ClusterConfiguration\n';
const V1BETA3_CLUSTER = 'apiVersion: kubeadm.k8s.io/v1beta3\nkind: ClusterConfiguration\n';
const V1BETA4_INIT = 'apiVersion: kubeadm.k8s.io/v1beta4\nkind: InitConfiguration\n';

/** Run fn, require a UserError, and return it (undefined after a failed assertion). */
function userError(t: ExecutionContext, fn: () => unknown): UserError | undefined {
  return t.throws(fn, { instanceOf: UserError }) as UserError | undefined;
}

/** The message and every detail line: what a person reads. */
const fullText = (e: UserError) => [e.message, ...e.details].join('\n');

// ---------------------------------------------------------------- kubepki's own format

test('examples/cluster.yaml (kubepki format) gives the ClusterSpec it describes', (t) => {
  const file = path.join(EXAMPLES, 'cluster.yaml');
  const spec = loadSpec(file, {});
  t.like(spec, {
    clusterName: 'kubernetes',
    nodeName: 'cp-1',
    advertiseAddress: '192.168.10.11',
    bindPort: 6443,
    controlPlaneEndpoint: 'k8s.example.com:6443',
    dnsDomain: 'cluster.local',
    encryptionAlgorithm: 'ECDSA-P256',
    certificateValidity: 8760 * HOUR,
    caCertificateValidity: 87600 * HOUR,
  });
  t.deepEqual(spec.serviceSubnets, ['10.96.0.0/12', 'fd00:10:96::/112']);
  t.deepEqual(spec.apiServerCertSANs, ['192.168.10.100', 'k8s.internal.example.com']);
  t.like(spec.etcd, { external: false, serverCertSANs: ['etcd.example.com'], peerCertSANs: [] });
  // "dir: ./pki" is relative to the folder of the file, not to the working directory.
  t.is(spec.certificatesDir, path.join(EXAMPLES, 'pki'));
});

test('a relative certificates dir is resolved against the config file, also when the file is named relatively', (t) => {
  const file = yamlFile(t, `${KUBEPKI}certificates:\n  dir: ../elsewhere/pki\n`);
  const relative = path.relative(process.cwd(), file);
  const expected = path.resolve(path.dirname(file), '../elsewhere/pki');
  t.is(readConfigFile(file).certificatesDir, expected);
  t.is(readConfigFile(relative).certificatesDir, expected);
  const absolute = yamlFile(t, `${KUBEPKI}certificates:\n  dir: /srv/pki\n`);
  t.is(readConfigFile(absolute).certificatesDir, '/srv/pki');
});

test('kubepki format: every field maps to the ClusterSpec', (t) => {
  const file = yamlFile(t, `${KUBEPKI}
clusterName: prod
node:
  name: node-a.example.com
  advertiseAddress: 2001:db8::10
controlPlaneEndpoint: "[2001:db8::1]:8443"
apiServer:
  bindPort: 8443
  certSANs: ["*.api.example.com", "2001:db8::1", 10.0.0.1]
networking:
  serviceSubnet: fd00:10:96::/112
  dnsDomain: corp.internal
etcd:
  external: true
  serverCertSANs: [etcd-a.example.com]
  peerCertSANs: [10.0.0.2]
certificates:
  dir: /var/lib/pki
  encryptionAlgorithm: RSA-3072
  validity: 90d
  caValidity: 43800h
`);
  t.like(loadSpec(file, {}), {
    clusterName: 'prod',
    nodeName: 'node-a.example.com',
    advertiseAddress: '2001:db8::10',
    bindPort: 8443,
    controlPlaneEndpoint: '[2001:db8::1]:8443',
    serviceSubnets: ['fd00:10:96::/112'],
    dnsDomain: 'corp.internal',
    apiServerCertSANs: ['*.api.example.com', '2001:db8::1', '10.0.0.1'],
    etcd: { external: true, serverCertSANs: ['etcd-a.example.com'], peerCertSANs: ['10.0.0.2'] },
    certificatesDir: '/var/lib/pki',
    encryptionAlgorithm: 'RSA-3072',
    certificateValidity: 90 * 24 * HOUR,
    caCertificateValidity: 43800 * HOUR,
  });
});

// ---------------------------------------------------------------- kubeadm's format

test('examples/kubeadm-v1beta4.yaml parses, its KubeletConfiguration and extra fields ignored', (t) => {
  const spec = loadSpec(path.join(EXAMPLES, 'kubeadm-v1beta4.yaml'), {});
  t.like(spec, {
    clusterName: 'kubernetes',
    nodeName: 'cp-1',
    advertiseAddress: '192.168.10.11',
    bindPort: 6443,
    controlPlaneEndpoint: 'k8s.example.com:6443',
    dnsDomain: 'cluster.local',
    certificatesDir: '/etc/kubernetes/pki',
    encryptionAlgorithm: 'RSA-2048',
    certificateValidity: 8760 * HOUR,
    caCertificateValidity: 87600 * HOUR,
  });
  t.deepEqual(spec.serviceSubnets, ['10.96.0.0/12']);
  t.deepEqual(spec.apiServerCertSANs, ['192.168.10.100', 'k8s.internal.example.com']);
  t.like(spec.etcd, { external: false, serverCertSANs: ['etcd.example.com'], peerCertSANs: [] });
});

test('examples/kubeadm-v1beta3.yaml parses (apiServer.timeoutForControlPlane accepted)', (t) => {
  const spec = loadSpec(path.join(EXAMPLES, 'kubeadm-v1beta3.yaml'), {});
  t.like(spec, {
    nodeName: 'cp-1',
    advertiseAddress: '192.168.10.11',
    controlPlaneEndpoint: '192.168.10.100:6443',
    dnsDomain: 'cluster.local',
    encryptionAlgorithm: 'RSA-2048',
  });
  t.deepEqual(spec.serviceSubnets, ['10.96.0.0/12']);
  t.deepEqual(spec.apiServerCertSANs, ['k8s.example.com']);
});

test('kubeadm v1beta4: every certificate-relevant field is mapped; irrelevant ones are accepted', (t) => {
  const file = yamlFile(t, `${V1BETA4_INIT}bootstrapTokens:
  - token: abcdef.0123456789abcdef
nodeRegistration:
  name: master-7
  criSocket: unix:///run/containerd/containerd.sock
  kubeletExtraArgs:
    - name: node-ip
      value: 10.1.2.3
  taints: []
  imagePullSerial: true
localAPIEndpoint:
  advertiseAddress: 10.1.2.3
  bindPort: 7443
timeouts:
  controlPlaneComponentHealthCheck: 4m0s
---
${V1BETA4_CLUSTER}clusterName: blue
kubernetesVersion: v1.33.1
controlPlaneEndpoint: lb.blue.example:7443
certificatesDir: certs/pki
imageRepository: registry.k8s.io
encryptionAlgorithm: ECDSA-P384
certificateValidityPeriod: 2160h
caCertificateValidityPeriod: 175200h
networking:
  serviceSubnet: 10.100.0.0/16,fd00:100::/112
  podSubnet: 10.244.0.0/16
  dnsDomain: blue.local
apiServer:
  certSANs: [lb.blue.example, 10.1.2.100]
  extraArgs:
    - name: audit-log-path
      value: /var/log/audit.log
  extraVolumes: []
controllerManager:
  extraArgs:
    - name: node-monitor-grace-period
      value: 40s
scheduler: {}
dns: {}
proxy: {}
featureGates: {}
etcd:
  local:
    dataDir: /var/lib/etcd
    extraArgs: []
    serverCertSANs: [etcd.blue.example]
    peerCertSANs: [10.1.2.4]
---
apiVersion: kubelet.config.k8s.io/v1beta1
kind: KubeletConfiguration
cgroupDriver: systemd
---
apiVersion: kubeproxy.config.k8s.io/v1alpha1
kind: KubeProxyConfiguration
mode: ipvs
`, 'kubeadm.yaml');
  t.like(loadSpec(file, {}), {
    clusterName: 'blue',
    nodeName: 'master-7',
    advertiseAddress: '10.1.2.3',
    bindPort: 7443,
    controlPlaneEndpoint: 'lb.blue.example:7443',
    serviceSubnets: ['10.100.0.0/16', 'fd00:100::/112'],
    dnsDomain: 'blue.local',
    apiServerCertSANs: ['lb.blue.example', '10.1.2.100'],
    etcd: { external: false, serverCertSANs: ['etcd.blue.example'], peerCertSANs: ['10.1.2.4'] },
    certificatesDir: path.join(path.dirname(file), 'certs/pki'),
    encryptionAlgorithm: 'ECDSA-P384',
    certificateValidity: 2160 * HOUR,
    caCertificateValidity: 175200 * HOUR,
    podSubnets: ['10.244.0.0/16'],
    components: {
      args: {
        'kube-apiserver': [{ name: 'audit-log-path', value: '/var/log/audit.log', field: 'ClusterConfiguration.apiServer.extraArgs' }],
        'kube-controller-manager': [{ name: 'node-monitor-grace-period', value: '40s', field: 'ClusterConfiguration.controllerManager.extraArgs' }],
        kubelet: [{ name: 'node-ip', value: '10.1.2.3', field: 'InitConfiguration.nodeRegistration.kubeletExtraArgs' }],
      },
      kubeletConfig: { cgroupDriver: 'systemd' },
      kubeletConfigOrigin: 'KubeletConfiguration',
      criSocket: 'unix:///run/containerd/containerd.sock',
    },
    bootstrapTokens: [{ token: 'abcdef.0123456789abcdef', ttl: 24 * HOUR, usages: ['signing', 'authentication'], groups: ['system:bootstrappers:kubeadm:default-node-token'], field: 'InitConfiguration.bootstrapTokens[0]' }],
  });
});

test('kubeadm v1beta3: fields are mapped; map-style extraArgs and JoinConfiguration are accepted', (t) => {
  const file = yamlFile(t, `${V1BETA3_CLUSTER}clusterName: green
kubernetesVersion: v1.28.0
controlPlaneEndpoint: 10.9.9.9
certificatesDir: /opt/pki
networking:
  serviceSubnet: 10.112.0.0/12
  podSubnet: 192.168.0.0/16
  dnsDomain: green.local
apiServer:
  certSANs: [api.green.example]
  extraArgs:
    audit-log-path: /var/log/audit.log
  timeoutForControlPlane: 4m0s
etcd:
  local:
    serverCertSANs: [etcd.green.example]
    peerCertSANs: [peer.green.example]
---
apiVersion: kubeadm.k8s.io/v1beta3
kind: InitConfiguration
nodeRegistration:
  name: green-cp
  kubeletExtraArgs:
    node-ip: 10.9.9.10
localAPIEndpoint:
  advertiseAddress: 10.9.9.10
  bindPort: 6444
---
apiVersion: kubeadm.k8s.io/v1beta3
kind: JoinConfiguration
discovery: {}
`);
  t.like(loadSpec(file, {}), {
    clusterName: 'green',
    nodeName: 'green-cp',
    advertiseAddress: '10.9.9.10',
    bindPort: 6444,
    controlPlaneEndpoint: '10.9.9.9',
    serviceSubnets: ['10.112.0.0/12'],
    dnsDomain: 'green.local',
    apiServerCertSANs: ['api.green.example'],
    etcd: { external: false, serverCertSANs: ['etcd.green.example'], peerCertSANs: ['peer.green.example'] },
    certificatesDir: '/opt/pki',
    encryptionAlgorithm: 'RSA-2048',
    certificateValidity: 8760 * HOUR,
    caCertificateValidity: 87600 * HOUR,
  });
});

test('a ClusterConfiguration alone, or an InitConfiguration alone, is enough', (t) => {
  t.is(readConfigFile(yamlFile(t, `${V1BETA4_CLUSTER}clusterName: solo\n`)).clusterName, 'solo');
  const init = readConfigFile(yamlFile(t, `${V1BETA4_INIT}nodeRegistration:\n  name: solo-node\n`));
  t.is(init.nodeName, 'solo-node');
});

for (const version of ['v1beta3', 'v1beta4']) {
  test(`kubeadm ${version}: etcd.external makes etcd external`, (t) => {
    const file = yamlFile(t, `apiVersion: kubeadm.k8s.io/${version}
kind: ClusterConfiguration
etcd:
  external:
    endpoints: [https://10.0.0.1:2379]
    caFile: /etc/etcd/ca.crt
    certFile: /etc/etcd/client.crt
    keyFile: /etc/etcd/client.key
`);
    t.true(loadSpec(file, IDENTITY_FLAGS).etcd.external);
    t.true(resolveSpec({ ...readConfigFile(file), ...IDENTITY }).etcd.external);
  });
}

test('kubeadm: no etcd section, or etcd.local, means local etcd', (t) => {
  t.false(resolveSpec({ ...readConfigFile(yamlFile(t, V1BETA4_CLUSTER)), ...IDENTITY }).etcd.external);
  t.false(resolveSpec({ ...readConfigFile(yamlFile(t, `${V1BETA4_CLUSTER}etcd:\n  local:\n    dataDir: /x\n`)), ...IDENTITY }).etcd.external);
});

for (const field of ['encryptionAlgorithm: ECDSA-P256', 'certificateValidityPeriod: 100h', 'caCertificateValidityPeriod: 1000h']) {
  const name = field.split(':')[0]!;
  test(`kubeadm v1beta3: the v1beta4-only field ${name} is an error naming it`, (t) => {
    const file = yamlFile(t, `${V1BETA3_CLUSTER}${field}\n`);
    const e = userError(t, () => readConfigFile(file));
    if (!e) return;
    t.regex(e.message, new RegExp(`^${escape(file)}:3: ${name}: `));
    t.regex(e.message, /v1beta3/);
  });
}

test('kubeadm v1beta3: two v1beta4-only fields are both listed', (t) => {
  const file = yamlFile(t, `${V1BETA3_CLUSTER}encryptionAlgorithm: ECDSA-P256\ncertificateValidityPeriod: 100h\n`);
  const e = userError(t, () => readConfigFile(file));
  if (!e) return;
  t.regex(fullText(e), /encryptionAlgorithm/);
  t.regex(fullText(e), /certificateValidityPeriod/);
  t.is(e.details.length, 2);
});

// ---------------------------------------------------------------- defaults

test("defaults are kubeadm's", (t) => {
  const spec = resolveSpec({ ...IDENTITY });
  t.like(spec, {
    clusterName: 'kubernetes',
    nodeName: 'cp-1',
    advertiseAddress: '192.168.10.11',
    bindPort: 6443,
    serviceSubnets: ['10.96.0.0/12'],
    dnsDomain: 'cluster.local',
    apiServerCertSANs: [],
    etcd: { external: false, serverCertSANs: [], peerCertSANs: [] },
    certificatesDir: '/etc/kubernetes/pki',
    encryptionAlgorithm: 'RSA-2048',
    certificateValidity: 8760 * HOUR,
    caCertificateValidity: 87600 * HOUR,
  });
  t.false('controlPlaneEndpoint' in spec);
});

test('a file that sets only the node gets the same defaults', (t) => {
  const file = yamlFile(t, `${KUBEPKI}node:\n  name: cp-1\n  advertiseAddress: 192.168.10.11\n`);
  t.deepEqual(loadSpec(file, {}), resolveSpec({ ...IDENTITY }));
  const kubeadm = yamlFile(t, `${V1BETA4_INIT}nodeRegistration:\n  name: cp-1\nlocalAPIEndpoint:\n  advertiseAddress: 192.168.10.11\n`);
  t.deepEqual(loadSpec(kubeadm, {}), resolveSpec({ ...IDENTITY }));
});

test('values are normalised: IPv6 addresses and CIDRs in canonical form', (t) => {
  const spec = resolveSpec({ ...IDENTITY, advertiseAddress: '2001:0db8:0000::0010', serviceSubnet: '10.96.0.0/12, FD00:0010:0096:0000::/112' });
  t.is(spec.advertiseAddress, '2001:db8::10');
  t.deepEqual(spec.serviceSubnets, ['10.96.0.0/12', 'fd00:10:96::/112']);
});

// ---------------------------------------------------------------- flags

test('flags (kubeadm names) override the file', (t) => {
  const fromFile = readConfigFile(path.join(EXAMPLES, 'cluster.yaml'));
  const spec = resolveSpec(applyOverrides(fromFile, {
    'cert-dir': '/tmp/other-pki',
    'node-name': 'cp-9',
    'apiserver-advertise-address': '10.0.0.9',
    'apiserver-bind-port': '7443',
    'control-plane-endpoint': 'api.other.example',
    'service-cidr': '10.0.0.0/16',
    'service-dns-domain': 'other.local',
    'apiserver-cert-extra-sans': 'a.example.com, 10.0.0.5,*.b.example.com',
    'cluster-name': 'other',
    'encryption-algorithm': 'RSA-4096',
    'certificate-validity': '48h',
    'ca-certificate-validity': '1000h',
  }));
  t.like(spec, {
    certificatesDir: '/tmp/other-pki',
    nodeName: 'cp-9',
    advertiseAddress: '10.0.0.9',
    bindPort: 7443,
    controlPlaneEndpoint: 'api.other.example',
    dnsDomain: 'other.local',
    clusterName: 'other',
    encryptionAlgorithm: 'RSA-4096',
    certificateValidity: 48 * HOUR,
    caCertificateValidity: 1000 * HOUR,
  });
  t.deepEqual(spec.serviceSubnets, ['10.0.0.0/16']);
  t.deepEqual(spec.apiServerCertSANs, ['a.example.com', '10.0.0.5', '*.b.example.com']);
  // What no flag touches stays as the file says.
  t.deepEqual(spec.etcd.serverCertSANs, ['etcd.example.com']);
});

test('flags that are not given leave the file alone; the input is not mutated', (t) => {
  const fromFile = readConfigFile(path.join(EXAMPLES, 'cluster.yaml'));
  const copy = structuredClone(fromFile);
  t.deepEqual(applyOverrides(fromFile, {}), fromFile);
  applyOverrides(fromFile, { 'node-name': 'other' });
  t.deepEqual(fromFile, copy);
});

test('--apiserver-cert-extra-sans given several times adds up; empty items are dropped', (t) => {
  const out = applyOverrides({}, { 'apiserver-cert-extra-sans': ['a.example.com', 'b.example.com,,10.0.0.1'] });
  t.deepEqual(out.apiServerCertSANs, ['a.example.com', 'b.example.com', '10.0.0.1']);
});

test('on the command line too, --apiserver-cert-extra-sans given several times adds up, as kubeadm\'s does', async (t) => {
  // It kept only the last occurrence: a SAN given first was silently left out of the certificate.
  const dir = path.join(scratch(t), 'pki');
  const plan = await kubepki(['init', '--cert-dir', dir, ...NODE, '--apiserver-cert-extra-sans', 'one.example', '--apiserver-cert-extra-sans', 'two.example,10.1.2.3',
    '--skip-phases', 'kubeconfig,flags', '--dry-run', '-o', 'json']);
  t.is(plan.exitCode, 0, plan.stderr);
  const { sans } = (JSON.parse(plan.stdout) as { items: { name: string; sans: { dns: string[]; ips: string[] } }[] }).items.find((i) => i.name === 'apiserver')!;
  t.true(sans.dns.includes('one.example') && sans.dns.includes('two.example'), sans.dns.join(' '));
  t.true(sans.ips.includes('10.1.2.3'), sans.ips.join(' '));
});

test('a repeatable flag takes one value per occurrence: the positional argument after it stays one', async (t) => {
  const run = await kubepki(['flags', '--allow-insecure', 'profiling', 'kube-apiserver', ...NODE]);
  t.is(run.exitCode, 0, run.stderr);
  t.regex(run.stdout, /^--client-ca-file=/m);
});

test('a flag value that is invalid is an error that starts with the flag name', (t) => {
  const cases: [Record<string, string>, RegExp][] = [
    [{ 'service-cidr': '10.96.0.0/33' }, /^--service-cidr: "10\.96\.0\.0\/33" is not a valid CIDR/],
    [{ 'service-cidr': '10.96.0.0/12,10.97.0.0/16' }, /^--service-cidr: "10\.96\.0\.0\/12,10\.97\.0\.0\/16" has two CIDRs of the same family/],
    [{ 'apiserver-advertise-address': '300.1.1.1' }, /^--apiserver-advertise-address: "300\.1\.1\.1" is not a valid IP address/],
    [{ 'apiserver-advertise-address': '10.1' }, /^--apiserver-advertise-address: "10\.1" is not a valid IP address/],
    [{ 'node-name': 'Node_1' }, /^--node-name: "Node_1" is not a valid node name/],
    [{ 'apiserver-bind-port': '0' }, /^--apiserver-bind-port: "0" is not a valid port/],
    [{ 'apiserver-bind-port': '65536' }, /^--apiserver-bind-port: "65536" is not a valid port/],
    [{ 'apiserver-bind-port': 'https' }, /^--apiserver-bind-port: "https" is not a valid port/],
    [{ 'apiserver-cert-extra-sans': 'ok.example.com,-bad-' }, /^--apiserver-cert-extra-sans: "-bad-" is not a valid IP address, DNS name/],
    [{ 'control-plane-endpoint': 'lb.example.com:99999' }, /^--control-plane-endpoint: "lb\.example\.com:99999" is not a valid host/],
    [{ 'service-dns-domain': 'Cluster.Local' }, /^--service-dns-domain: "Cluster\.Local" is not a valid DNS name/],
    [{ 'cluster-name': 'my cluster' }, /^--cluster-name: "my cluster" is not a valid cluster name/],
    [{ 'encryption-algorithm': 'RSA-1024' }, /^--encryption-algorithm: "RSA-1024" is not a supported algorithm/],
    [{ 'certificate-validity': '1y' }, /^--certificate-validity: "1y" is not a valid duration/],
    [{ 'ca-certificate-validity': '0' }, /^--ca-certificate-validity: "0" must be longer than zero/],
    [{ 'ca-certificate-validity': '90000000h' }, /^--ca-certificate-validity: "90000000h" is longer than 1,000 years \(8766000h\)/],
    [{ 'cert-dir': '' }, /^--cert-dir: "" is empty/],
  ];
  for (const [flags, expected] of cases) {
    const e = userError(t, () => applyOverrides({}, flags));
    if (e) t.regex(e.message, expected, JSON.stringify(flags));
  }
});

test('several invalid flags are all listed, one detail each', (t) => {
  const e = userError(t, () => applyOverrides({}, {
    'node-name': 'Bad_Name',
    'service-cidr': 'fd00::/64',
    'apiserver-cert-extra-sans': '-bad-,Upper.Case',
  }));
  if (!e) return;
  t.regex(e.message, /4 problems/);
  t.is(e.details.length, 4);
  t.regex(e.details[0] ?? '', /^--node-name: "Bad_Name"/);
  t.regex(e.details.join('\n'), /^--service-cidr: "fd00::\/64" is too large/m);
  t.regex(e.details.join('\n'), /^--apiserver-cert-extra-sans: "-bad-"/m);
  t.regex(e.details.join('\n'), /^--apiserver-cert-extra-sans: "Upper\.Case"/m);
});

test('a bad value in the file is reported even when a flag overrides it (the file is checked first)', (t) => {
  const file = yamlFile(t, `${KUBEPKI}node:\n  name: Bad_Name\n`);
  const e = userError(t, () => loadSpec(file, { 'node-name': 'good-name' }));
  if (e) t.regex(e.message, /node\.name: "Bad_Name"/);
});

// ---------------------------------------------------------------- errors in files

interface FileCase {
  title: string;
  yaml: string;
  line?: number;
  field: string;
  value: RegExp;
}

const FILE_CASES: FileCase[] = [
  { title: 'unknown top-level key', yaml: `${KUBEPKI}nodez:\n  name: cp-1\n`, line: 3, field: 'nodez', value: /unknown field/ },
  { title: 'unknown nested key (kubepki)', yaml: `${KUBEPKI}networking:\n  serviceSubnett: 10.96.0.0/12\n`, line: 4, field: 'networking.serviceSubnett', value: /unknown field.*"serviceSubnett"/ },
  { title: 'unknown nested key (kubeadm)', yaml: `${V1BETA4_CLUSTER}networking:\n  serviceSubnett: 10.96.0.0/12\n`, line: 4, field: 'networking.serviceSubnett', value: /unknown field.*"serviceSubnett"/ },
  { title: 'unknown top-level key (kubeadm)', yaml: `${V1BETA4_INIT}nodeRegistraton:\n  name: x\n`, line: 3, field: 'nodeRegistraton', value: /unknown field/ },
  { title: 'advertiseAddress out of range', yaml: `${KUBEPKI}node:\n  advertiseAddress: 300.1.1.1\n`, line: 4, field: 'node.advertiseAddress', value: /"300\.1\.1\.1" is not a valid IP address/ },
  { title: 'advertiseAddress "10.1" (quoted)', yaml: `${KUBEPKI}node:\n  advertiseAddress: "10.1"\n`, line: 4, field: 'node.advertiseAddress', value: /"10\.1" is not a valid IP address/ },
  { title: 'advertiseAddress 10.1 (a YAML number)', yaml: `${KUBEPKI}node:\n  advertiseAddress: 10.1\n`, line: 4, field: 'node.advertiseAddress', value: /10\.1/ },
  { title: 'advertiseAddress 0.0.0.0', yaml: `${KUBEPKI}node:\n  advertiseAddress: 0.0.0.0\n`, line: 4, field: 'node.advertiseAddress', value: /"0\.0\.0\.0" is the unspecified address/ },
  { title: 'kubeadm advertiseAddress out of range', yaml: `${V1BETA4_INIT}localAPIEndpoint:\n  advertiseAddress: 300.1.1.1\n`, line: 4, field: 'localAPIEndpoint.advertiseAddress', value: /"300\.1\.1\.1" is not a valid IP address/ },
  { title: 'node name with upper case', yaml: `${V1BETA4_INIT}nodeRegistration:\n  name: CP-1\n`, line: 4, field: 'nodeRegistration.name', value: /"CP-1" is not a valid node name/ },
  { title: 'certSAN "-bad-"', yaml: `${KUBEPKI}apiServer:\n  certSANs:\n    - ok.example.com\n    - -bad-\n`, line: 6, field: 'apiServer.certSANs[1]', value: /"-bad-" is not a valid IP address, DNS name or wildcard DNS name/ },
  { title: 'certSAN "Upper.Case"', yaml: `${V1BETA4_CLUSTER}apiServer:\n  certSANs:\n    - Upper.Case\n`, line: 5, field: 'apiServer.certSANs[0]', value: /"Upper\.Case" is not a valid IP address, DNS name/ },
  { title: 'etcd serverCertSAN invalid', yaml: `${V1BETA4_CLUSTER}etcd:\n  local:\n    serverCertSANs:\n      - "bad name"\n`, line: 6, field: 'etcd.local.serverCertSANs[0]', value: /"bad name" is not a valid/ },
  { title: 'etcd peerCertSAN invalid', yaml: `${KUBEPKI}etcd:\n  peerCertSANs: ["under_score"]\n`, line: 4, field: 'etcd.peerCertSANs[0]', value: /"under_score" is not a valid/ },
  { title: 'CIDR prefix /33', yaml: `${KUBEPKI}networking:\n  serviceSubnet: 10.96.0.0/33\n`, line: 4, field: 'networking.serviceSubnet', value: /"10\.96\.0\.0\/33" is not a valid CIDR/ },
  { title: 'CIDR without prefix', yaml: `${V1BETA4_CLUSTER}networking:\n  serviceSubnet: 10.96.0.0\n`, line: 4, field: 'networking.serviceSubnet', value: /"10\.96\.0\.0" is not a valid CIDR/ },
  { title: 'two IPv4 CIDRs', yaml: `${KUBEPKI}networking:\n  serviceSubnet: 10.96.0.0/12,10.100.0.0/16\n`, line: 4, field: 'networking.serviceSubnet', value: /"10\.96\.0\.0\/12,10\.100\.0\.0\/16" has two CIDRs of the same family/ },
  { title: 'two IPv6 CIDRs', yaml: `${KUBEPKI}networking:\n  serviceSubnet: fd00:1::/112,fd00:2::/112\n`, line: 4, field: 'networking.serviceSubnet', value: /has two CIDRs of the same family/ },
  { title: 'IPv6 service subnet /64', yaml: `${KUBEPKI}networking:\n  serviceSubnet: 10.96.0.0/12,fd00:10:96::/64\n`, line: 4, field: 'networking.serviceSubnet', value: /is too large.*\/108.*"fd00:10:96::\/64"/ },
  { title: 'bad DNS domain', yaml: `${V1BETA4_CLUSTER}networking:\n  dnsDomain: cluster..local\n`, line: 4, field: 'networking.dnsDomain', value: /"cluster\.\.local" is not a valid DNS name/ },
  { title: 'duration "1y"', yaml: `${KUBEPKI}certificates:\n  validity: 1y\n`, line: 4, field: 'certificates.validity', value: /"1y" is not a valid duration/ },
  { title: 'validity past the year 9999', yaml: `${KUBEPKI}certificates:\n  caValidity: 90000000h\n`, line: 4, field: 'certificates.caValidity', value: /"90000000h" is longer than 1,000 years/ },
  { title: 'duration "-5h"', yaml: `${V1BETA4_CLUSTER}certificateValidityPeriod: -5h\n`, line: 3, field: 'certificateValidityPeriod', value: /"-5h" is not a valid duration/ },
  { title: 'duration 0', yaml: `${V1BETA4_CLUSTER}caCertificateValidityPeriod: 0\n`, line: 3, field: 'caCertificateValidityPeriod', value: /"0" must be longer than zero/ },
  { title: 'duration "0s"', yaml: `${KUBEPKI}certificates:\n  caValidity: 0s\n`, line: 4, field: 'certificates.caValidity', value: /"0s" must be longer than zero/ },
  { title: 'algorithm RSA-1024', yaml: `${V1BETA4_CLUSTER}encryptionAlgorithm: RSA-1024\n`, line: 3, field: 'encryptionAlgorithm', value: /"RSA-1024" is not a supported algorithm \(one of RSA-2048, RSA-3072, RSA-4096, ECDSA-P256, ECDSA-P384\)/ },
  { title: 'algorithm in lower case', yaml: `${KUBEPKI}certificates:\n  encryptionAlgorithm: ecdsa-p256\n`, line: 4, field: 'certificates.encryptionAlgorithm', value: /"ecdsa-p256" is not a supported algorithm/ },
  { title: 'port 70000', yaml: `${KUBEPKI}apiServer:\n  bindPort: 70000\n`, line: 4, field: 'apiServer.bindPort', value: /70000/ },
  { title: 'port 0 (kubeadm)', yaml: `${V1BETA4_INIT}localAPIEndpoint:\n  bindPort: 0\n`, line: 4, field: 'localAPIEndpoint.bindPort', value: /\b0\b/ },
  { title: 'port not a number', yaml: `${KUBEPKI}apiServer:\n  bindPort: https\n`, line: 4, field: 'apiServer.bindPort', value: /"https"/ },
  { title: 'port not an integer', yaml: `${KUBEPKI}apiServer:\n  bindPort: 6443.5\n`, line: 4, field: 'apiServer.bindPort', value: /6443\.5/ },
  { title: 'control-plane endpoint with a bad port', yaml: `${V1BETA4_CLUSTER}controlPlaneEndpoint: lb.example.com:0\n`, line: 3, field: 'controlPlaneEndpoint', value: /"lb\.example\.com:0" is not a valid host/ },
  { title: 'certSANs not a list', yaml: `${KUBEPKI}apiServer:\n  certSANs: api.example.com\n`, line: 4, field: 'apiServer.certSANs', value: /api\.example\.com/ },
  { title: 'etcd.external not a boolean', yaml: `${KUBEPKI}etcd:\n  external: "yes please"\n`, line: 4, field: 'etcd.external', value: /yes please/ },
  { title: 'cluster name with upper case', yaml: `${V1BETA4_CLUSTER}clusterName: Prod\n`, line: 3, field: 'clusterName', value: /"Prod" is not a valid cluster name/ },
];

for (const c of FILE_CASES) {
  test(`file error: ${c.title} names the file, line, field and value`, (t) => {
    const file = yamlFile(t, c.yaml);
    const e = userError(t, () => readConfigFile(file));
    if (!e) return;
    t.is(e.details.length, 0, 'one problem, no details');
    t.regex(e.message, new RegExp(`^${escape(file)}:${c.line}: ${escape(c.field)}: `));
    t.regex(e.message, c.value);
    t.notRegex(e.message, /\n/, 'one line');
  });
}

test('several problems in one file: the message counts them and details lists each with its line and field', (t) => {
  const file = yamlFile(t, `${KUBEPKI}node:
  name: Bad_Node
  advertiseAddress: "10.1"
networking:
  serviceSubnet: 10.96.0.0/33
apiServer:
  certSANs: [good.example.com, -bad-]
certificates:
  validity: 1y
`);
  const e = userError(t, () => readConfigFile(file));
  if (!e) return;
  t.regex(e.message, new RegExp(`^${escape(file)}: 5 problems`));
  t.is(e.details.length, 5);
  const expected = [
    [4, 'node.name', '"Bad_Node"'],
    [5, 'node.advertiseAddress', '"10.1"'],
    [7, 'networking.serviceSubnet', '"10.96.0.0/33"'],
    [9, 'apiServer.certSANs[1]', '"-bad-"'],
    [11, 'certificates.validity', '"1y"'],
  ] as const;
  for (const [line, field, value] of expected) {
    t.true(
      e.details.some((d) => d.startsWith(`${file}:${line}: ${field}: ${value} `)),
      `${field} at line ${line}: ${e.details.join(' | ')}`,
    );
  }
});

test('problems in two documents of a kubeadm file are each reported with their own line', (t) => {
  const file = yamlFile(t, `${V1BETA4_INIT}nodeRegistration:\n  name: cp-1\n---\n${V1BETA4_CLUSTER}networking:\n  serviceSubnet: 10.96.0.0/33\n`);
  const e = userError(t, () => readConfigFile(file));
  if (e) t.regex(fullText(e), new RegExp(`${escape(file)}:9: networking\\.serviceSubnet: "10\\.96\\.0\\.0/33"`));
});

test('unknown keys in different sections are all listed', (t) => {
  const file = yamlFile(t, `${KUBEPKI}nod:\n  name: x\nnetworking:\n  serviceSubnett: 10.96.0.0/12\n`);
  const e = userError(t, () => readConfigFile(file));
  if (!e) return;
  t.is(e.details.length, 2);
  t.regex(fullText(e), new RegExp(`${escape(file)}:3: nod: unknown field`));
  t.regex(fullText(e), new RegExp(`${escape(file)}:6: networking\\.serviceSubnett: unknown field`));
});

test('two unknown keys in the same section are both listed', (t) => {
  const file = yamlFile(t, `${KUBEPKI}colour: blue\nflavour: mint\n`);
  const e = userError(t, () => readConfigFile(file));
  if (!e) return;
  t.regex(fullText(e), /colour/);
  t.regex(fullText(e), /flavour/);
  t.is(e.details.length, 2);
});

test('unknown kubeadm apiVersion: names it and the versions kubepki reads', (t) => {
  const file = yamlFile(t, 'apiVersion: kubeadm.k8s.io/v1beta2\nkind: ClusterConfiguration\n');
  const e = userError(t, () => readConfigFile(file));
  if (!e) return;
  t.true(e.message.startsWith(file));
  t.regex(e.message, /"kubeadm\.k8s\.io\/v1beta2" is not supported/);
  t.regex(e.message, /v1beta3/);
  t.regex(e.message, /v1beta4/);
});

test('unknown apiVersion of another kind of file: names it and what is expected', (t) => {
  const file = yamlFile(t, 'apiVersion: v1\nkind: ConfigMap\n');
  const e = userError(t, () => readConfigFile(file));
  if (!e) return;
  t.regex(e.message, /"v1" is not supported/);
  t.regex(e.message, /kubepki\.dev\/v1alpha1/);
});

test('unknown kind: names it, for kubepki and kubeadm files', (t) => {
  const a = yamlFile(t, 'apiVersion: kubepki.dev/v1alpha1\nkind: Clusters\n');
  const ea = userError(t, () => readConfigFile(a));
  if (ea) {
    t.true(ea.message.startsWith(a));
    t.regex(ea.message, /kind "Clusters"/);
  }
  const b = yamlFile(t, `${V1BETA4_INIT}---\napiVersion: kubeadm.k8s.io/v1beta4\nkind: ClusterConfig\n`);
  const eb = userError(t, () => readConfigFile(b));
  if (eb) {
    t.true(eb.message.startsWith(b));
    t.regex(eb.message, /kind "ClusterConfig" is not part of kubeadm\.k8s\.io\/v1beta4/);
    t.regex(eb.message, /document 2/);
  }
});

test('a document without apiVersion/kind, or that is not a mapping, is refused', (t) => {
  for (const yaml of ['kind: Cluster\nnode: {}\n', '- a\n- b\n', 'just a string\n']) {
    const file = yamlFile(t, yaml);
    const e = userError(t, () => readConfigFile(file));
    if (e) t.regex(e.message, new RegExp(`^${escape(file)}: .*(apiVersion|mapping)`));
  }
});

for (const [title, yaml, line] of [
  ['an unclosed flow sequence', `${KUBEPKI}apiServer:\n  certSANs: [a.example.com\nnetworking: {}\n`, 4],
  ['bad indentation', `${KUBEPKI}node:\n  name: cp-1\n   advertiseAddress: 10.0.0.1\n`, 5],
  ['a tab for indentation', `${KUBEPKI}node:\n\tname: cp-1\n`, 4],
  ['a duplicate key', `${KUBEPKI}clusterName: a\nclusterName: b\n`, 4],
  ['an unterminated string', `${KUBEPKI}clusterName: "abc\n`, 3],
] as const) {
  test(`malformed YAML (${title}): the message has file:line`, (t) => {
    const file = yamlFile(t, yaml);
    const e = userError(t, () => readConfigFile(file));
    if (!e) return;
    t.regex(e.message, /malformed YAML/);
    // The line where the parser stops may differ by one from where the mistake is.
    const m = new RegExp(`^${escape(file)}:(\\d+)(:\\d+)?: `).exec(e.message);
    t.truthy(m, `no file:line in: ${e.message}`);
    if (m) t.true(Math.abs(Number(m[1]) - line) <= 1, `line ${m[1]}, expected about ${line}`);
    t.notRegex(e.message, /\n/);
  });
}

test('mixing kubepki and kubeadm documents is refused', (t) => {
  const file = yamlFile(t, `${KUBEPKI}---\n${V1BETA4_CLUSTER}`);
  const e = userError(t, () => readConfigFile(file));
  if (!e) return;
  t.true(e.message.startsWith(file));
  t.regex(e.message, /mixes kubepki and kubeadm/);
});

test('mixing kubeadm v1beta3 and v1beta4 documents is refused', (t) => {
  const file = yamlFile(t, `${V1BETA3_CLUSTER}---\n${V1BETA4_INIT}`);
  const e = userError(t, () => readConfigFile(file));
  if (e) t.regex(e.message, /v1beta3.*v1beta4|v1beta4.*v1beta3/);
});

test('two ClusterConfigurations, or two kubepki Clusters, are refused', (t) => {
  for (const yaml of [`${V1BETA4_CLUSTER}---\n${V1BETA4_CLUSTER}`, `${KUBEPKI}---\n${KUBEPKI}`]) {
    const file = yamlFile(t, yaml);
    const e = userError(t, () => readConfigFile(file));
    if (e) t.regex(e.message, /more than one/);
  }
});

for (const [title, yaml] of [
  ['only a KubeletConfiguration', 'apiVersion: kubelet.config.k8s.io/v1beta1\nkind: KubeletConfiguration\ncgroupDriver: systemd\n'],
  ['only a KubeletConfiguration and a JoinConfiguration', 'apiVersion: kubelet.config.k8s.io/v1beta1\nkind: KubeletConfiguration\n---\napiVersion: kubeadm.k8s.io/v1beta4\nkind: JoinConfiguration\n'],
  ['an empty file', ''],
  ['only a comment', '# nothing here\n'],
] as const) {
  test(`a file with ${title} is refused, saying what it should hold`, (t) => {
    const file = yamlFile(t, yaml);
    const e = userError(t, () => readConfigFile(file));
    if (!e) return;
    t.true(e.message.startsWith(file), e.message);
    t.regex(e.message, /Cluster/);
    t.regex(e.message, /InitConfiguration/);
    t.regex(e.message, /ClusterConfiguration/);
  });
}

test('empty YAML documents (a leading or trailing "---") are skipped, as kubeadm does', (t) => {
  const example = readFileSync(path.join(EXAMPLES, 'kubeadm-v1beta4.yaml'), 'utf8');
  const expected = readConfigFile(path.join(EXAMPLES, 'kubeadm-v1beta4.yaml'));
  for (const text of [`${example}---\n`, `---\n${example}`, example.replace('---\n', '---\n---\n')]) {
    const file = yamlFile(t, text, 'kubeadm.yaml');
    let got: ClusterInput;
    try {
      got = readConfigFile(file);
    } catch (e) {
      t.fail(`${(e as Error).message} (file starts ${JSON.stringify(text.slice(0, 20))}, ends ${JSON.stringify(text.slice(-20))})`);
      continue;
    }
    t.deepEqual(got, expected);
  }
});

test('a missing config file, or a folder given as one, is a UserError naming it', (t) => {
  const dir = scratch(t);
  const missing = path.join(dir, 'nope.yaml');
  const e1 = userError(t, () => readConfigFile(missing));
  if (e1) t.regex(e1.message, new RegExp(`^${escape(missing)}: .*no such file`));
  const e2 = userError(t, () => readConfigFile(dir));
  if (e2) t.regex(e2.message, new RegExp(`^${escape(dir)}: .*not a regular file`));
});

test('YAML alias bombs are refused, not expanded', (t) => {
  const lines = ['a: &a ["x","x","x","x","x","x","x","x","x","x"]'];
  for (let i = 1; i < 12; i++) {
    const prev = String.fromCharCode(96 + i);
    const next = String.fromCharCode(97 + i);
    lines.push(`${next}: &${next} [${Array(10).fill(`*${prev}`).join(',')}]`);
  }
  const file = yamlFile(t, `${lines.join('\n')}\napiVersion: kubepki.dev/v1alpha1\nkind: Cluster\n`);
  const started = Date.now();
  userError(t, () => readConfigFile(file));
  t.true(Date.now() - started < 5000);
});
