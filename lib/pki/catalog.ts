/**
 * The catalog: every certificate and key of a control plane, once. Generation,
 * plans, kubeconfigs, flag files, check-expiration, renew and audits all read
 * this table; a file path, a CN or a flag name is written here and nowhere else.
 *
 * Names, subjects, SAN rules and usages follow kubeadm (cmd/kubeadm/app/phases/
 * certs/certlist.go; see shared/reference/kubeadm-facts.md §1.2) with one
 * deliberate difference: keyEncipherment is set only on RSA keys, since it means
 * nothing for ECDSA (kubernetes/kubernetes#141838).
 */
import type { ClusterSpec } from '../config/spec.js';
import { canonicalIP, nthAddress, splitHostPort } from '../net.js';

/** Signing profiles, as cfssl names them: usages and lifetime as data. */
export const PROFILES = {
  ca: { isCA: true, keyUsage: ['digitalSignature', 'keyEncipherment', 'keyCertSign'], extKeyUsage: [], validity: 'ca' },
  server: { isCA: false, keyUsage: ['digitalSignature', 'keyEncipherment'], extKeyUsage: ['serverAuth'], validity: 'leaf' },
  client: { isCA: false, keyUsage: ['digitalSignature', 'keyEncipherment'], extKeyUsage: ['clientAuth'], validity: 'leaf' },
  /** etcd server and peer certificates act as both ends of a connection. */
  peer: { isCA: false, keyUsage: ['digitalSignature', 'keyEncipherment'], extKeyUsage: ['serverAuth', 'clientAuth'], validity: 'leaf' },
} as const satisfies Record<string, Profile>;

export type KeyUsage = 'digitalSignature' | 'keyEncipherment' | 'keyCertSign';
export type ExtKeyUsage = 'serverAuth' | 'clientAuth';
export interface Profile {
  isCA: boolean;
  keyUsage: readonly KeyUsage[];
  extKeyUsage: readonly ExtKeyUsage[];
  validity: 'ca' | 'leaf';
}
export type ProfileName = keyof typeof PROFILES;

/** Key usages a certificate of this profile gets for a key of this family. */
export function keyUsagesFor(profile: Profile, keyFamily: 'rsa' | 'ec'): KeyUsage[] {
  return profile.keyUsage.filter((u) => u !== 'keyEncipherment' || keyFamily === 'rsa');
}

export function validityFor(profile: Profile, spec: ClusterSpec): number {
  return profile.validity === 'ca' ? spec.caCertificateValidity : spec.certificateValidity;
}

export type Component = 'kube-apiserver' | 'kube-controller-manager' | 'kube-scheduler' | 'kubelet' | 'etcd' | 'etcdctl';

/**
 * Where a component is told about one of the catalog's files: a command-line
 * flag, or (for the kubelet) a field of its configuration file.
 */
export type Consumer = {
  component: Component;
  /** Which file of the entry it takes. */
  file: 'cert' | 'key' | 'pub' | 'kubeconfig';
} & ({ flag: string; setting?: never } | { setting: string; flag?: never });

/** "--tls-cert-file" or "KubeletConfiguration tlsCertFile": how a consumer reads in messages. */
export const consumerName = (c: Consumer) => (c.flag ? `${c.component} ${c.flag}` : `${c.component} config ${c.setting}`);

export interface Subject {
  cn: string;
  o?: string[];
}

export interface AltNames {
  dns: string[];
  ips: string[];
}

export type CAName = 'ca' | 'front-proxy-ca' | 'etcd-ca';

export interface CertEntry {
  /** kubeadm's name for it (`certs renew NAME`). */
  name: string;
  /** Path under the cert dir without extension: <base>.crt and <base>.key. */
  base: string;
  /** The signing CA; absent for the self-signed CAs. */
  ca?: CAName;
  profile: ProfileName;
  /** What it is for, in kubeadm's words. */
  longName: string;
  subject: (spec: ClusterSpec) => Subject;
  sans: (spec: ClusterSpec) => AltNames;
  /** Only with local (stacked) etcd. */
  etcd?: true;
  consumers: readonly Consumer[];
}

export interface KeyPairEntry {
  name: 'sa';
  /** Private and public key paths under the cert dir. */
  key: string;
  pub: string;
  longName: string;
  consumers: readonly Consumer[];
}

/** DNS names de-duplicated and sorted, IPs canonical and de-duplicated in order (as kubeadm). */
export function altNames(dns: Iterable<string>, ips: Iterable<string>): AltNames {
  const ipList: string[] = [];
  for (const ip of ips) {
    const c = canonicalIP(ip);
    if (c !== undefined && !ipList.includes(c)) ipList.push(c);
  }
  return { dns: [...new Set(dns)].sort(), ips: ipList };
}

/** Extra SANs from the description: an IP is an IP SAN, anything else a DNS SAN (validated earlier). */
function withExtra(base: AltNames, extra: readonly string[]): AltNames {
  const dns = [...base.dns];
  const ips = [...base.ips];
  for (const san of extra) (canonicalIP(san) !== undefined ? ips : dns).push(san);
  return altNames(dns, ips);
}

const NONE = (): AltNames => ({ dns: [], ips: [] });
const caSANs = (cn: string) => (): AltNames => ({ dns: [cn], ips: [] });

/** The first address of each service CIDR: the `kubernetes` Service's cluster IPs. */
export function serviceVIPs(spec: ClusterSpec): string[] {
  return spec.serviceSubnets.map((cidr) => nthAddress(cidr, 1)!);
}

function apiServerSANs(spec: ClusterSpec): AltNames {
  const dns = [spec.nodeName, 'kubernetes', 'kubernetes.default', 'kubernetes.default.svc', `kubernetes.default.svc.${spec.dnsDomain}`];
  const ips = [...serviceVIPs(spec), ...spec.nodeAddresses];
  if (spec.controlPlaneEndpoint) {
    const { host } = splitHostPort(spec.controlPlaneEndpoint)!;
    (canonicalIP(host) !== undefined ? ips : dns).push(host);
  }
  return withExtra(altNames(dns, ips), spec.apiServerCertSANs);
}

function etcdSANs(extra: (spec: ClusterSpec) => readonly string[]) {
  return (spec: ClusterSpec): AltNames =>
    withExtra(altNames([spec.nodeName, 'localhost'], [...spec.nodeAddresses, '127.0.0.1', '::1']), extra(spec));
}

export const CERTIFICATES: readonly CertEntry[] = [
  {
    name: 'ca',
    base: 'ca',
    profile: 'ca',
    longName: 'self-signed Kubernetes CA to provision identities for other Kubernetes components',
    subject: () => ({ cn: 'kubernetes' }),
    sans: caSANs('kubernetes'),
    consumers: [
      { component: 'kube-apiserver', flag: '--client-ca-file', file: 'cert' },
      // The API server verifies the kubelets' serving certificates (kubeadm leaves this open).
      { component: 'kube-apiserver', flag: '--kubelet-certificate-authority', file: 'cert' },
      { component: 'kubelet', setting: 'authentication.x509.clientCAFile', file: 'cert' },
      { component: 'kube-controller-manager', flag: '--client-ca-file', file: 'cert' },
      { component: 'kube-controller-manager', flag: '--root-ca-file', file: 'cert' },
      { component: 'kube-controller-manager', flag: '--cluster-signing-cert-file', file: 'cert' },
      { component: 'kube-controller-manager', flag: '--cluster-signing-key-file', file: 'key' },
    ],
  },
  {
    name: 'apiserver',
    base: 'apiserver',
    ca: 'ca',
    profile: 'server',
    longName: 'certificate for serving the Kubernetes API',
    subject: () => ({ cn: 'kube-apiserver' }),
    sans: apiServerSANs,
    consumers: [
      { component: 'kube-apiserver', flag: '--tls-cert-file', file: 'cert' },
      { component: 'kube-apiserver', flag: '--tls-private-key-file', file: 'key' },
    ],
  },
  {
    name: 'apiserver-kubelet-client',
    base: 'apiserver-kubelet-client',
    ca: 'ca',
    profile: 'client',
    longName: 'certificate for the API server to connect to kubelet',
    subject: () => ({ cn: 'kube-apiserver-kubelet-client', o: ['kubeadm:cluster-admins'] }),
    sans: NONE,
    consumers: [
      { component: 'kube-apiserver', flag: '--kubelet-client-certificate', file: 'cert' },
      { component: 'kube-apiserver', flag: '--kubelet-client-key', file: 'key' },
    ],
  },
  {
    name: 'kubelet-server',
    base: 'kubelet-server',
    ca: 'ca',
    profile: 'server',
    longName: "certificate for serving the kubelet's API, verified by the API server",
    // The identity a kubelet-serving CSR would carry (kubernetes.io/kubelet-serving).
    subject: (spec) => ({ cn: `system:node:${spec.nodeName}`, o: ['system:nodes'] }),
    sans: (spec) => altNames([spec.nodeName], spec.nodeAddresses),
    consumers: [
      { component: 'kubelet', setting: 'tlsCertFile', file: 'cert' },
      { component: 'kubelet', setting: 'tlsPrivateKeyFile', file: 'key' },
    ],
  },
  {
    name: 'front-proxy-ca',
    base: 'front-proxy-ca',
    profile: 'ca',
    longName: 'self-signed CA to provision identities for front proxy',
    subject: () => ({ cn: 'front-proxy-ca' }),
    sans: caSANs('front-proxy-ca'),
    consumers: [
      { component: 'kube-apiserver', flag: '--requestheader-client-ca-file', file: 'cert' },
      { component: 'kube-controller-manager', flag: '--requestheader-client-ca-file', file: 'cert' },
    ],
  },
  {
    name: 'front-proxy-client',
    base: 'front-proxy-client',
    ca: 'front-proxy-ca',
    profile: 'client',
    longName: 'certificate for the front proxy client',
    subject: () => ({ cn: 'front-proxy-client' }),
    sans: NONE,
    consumers: [
      { component: 'kube-apiserver', flag: '--proxy-client-cert-file', file: 'cert' },
      { component: 'kube-apiserver', flag: '--proxy-client-key-file', file: 'key' },
    ],
  },
  {
    name: 'etcd-ca',
    base: 'etcd/ca',
    profile: 'ca',
    etcd: true,
    longName: 'self-signed CA to provision identities for etcd',
    subject: () => ({ cn: 'etcd-ca' }),
    sans: caSANs('etcd-ca'),
    consumers: [
      { component: 'kube-apiserver', flag: '--etcd-cafile', file: 'cert' },
      { component: 'etcd', flag: '--trusted-ca-file', file: 'cert' },
      { component: 'etcd', flag: '--peer-trusted-ca-file', file: 'cert' },
      { component: 'etcdctl', flag: '--cacert', file: 'cert' },
    ],
  },
  {
    name: 'etcd-server',
    base: 'etcd/server',
    ca: 'etcd-ca',
    profile: 'peer',
    etcd: true,
    longName: 'certificate for serving etcd',
    subject: (spec) => ({ cn: spec.nodeName }),
    sans: etcdSANs((spec) => spec.etcd.serverCertSANs),
    consumers: [
      { component: 'etcd', flag: '--cert-file', file: 'cert' },
      { component: 'etcd', flag: '--key-file', file: 'key' },
    ],
  },
  {
    name: 'etcd-peer',
    base: 'etcd/peer',
    ca: 'etcd-ca',
    profile: 'peer',
    etcd: true,
    longName: 'certificate for etcd nodes to communicate with each other',
    subject: (spec) => ({ cn: spec.nodeName }),
    sans: etcdSANs((spec) => spec.etcd.peerCertSANs),
    consumers: [
      { component: 'etcd', flag: '--peer-cert-file', file: 'cert' },
      { component: 'etcd', flag: '--peer-key-file', file: 'key' },
    ],
  },
  {
    name: 'etcd-healthcheck-client',
    base: 'etcd/healthcheck-client',
    ca: 'etcd-ca',
    profile: 'client',
    etcd: true,
    longName: 'certificate for liveness probes to healthcheck etcd',
    subject: () => ({ cn: 'kube-etcd-healthcheck-client' }),
    sans: NONE,
    consumers: [
      { component: 'etcdctl', flag: '--cert', file: 'cert' },
      { component: 'etcdctl', flag: '--key', file: 'key' },
    ],
  },
  {
    name: 'apiserver-etcd-client',
    base: 'apiserver-etcd-client',
    ca: 'etcd-ca',
    profile: 'client',
    etcd: true,
    longName: 'certificate the apiserver uses to access etcd',
    subject: () => ({ cn: 'kube-apiserver-etcd-client' }),
    sans: NONE,
    consumers: [
      { component: 'kube-apiserver', flag: '--etcd-certfile', file: 'cert' },
      { component: 'kube-apiserver', flag: '--etcd-keyfile', file: 'key' },
    ],
  },
];

export const KEY_PAIRS: readonly KeyPairEntry[] = [
  {
    name: 'sa',
    key: 'sa.key',
    pub: 'sa.pub',
    longName: 'service account token signing key',
    consumers: [
      { component: 'kube-apiserver', flag: '--service-account-key-file', file: 'pub' },
      { component: 'kube-apiserver', flag: '--service-account-signing-key-file', file: 'key' },
      { component: 'kube-controller-manager', flag: '--service-account-private-key-file', file: 'key' },
    ],
  },
];

export const certPath = (entry: Pick<CertEntry, 'base'>) => `${entry.base}.crt`;
export const keyPath = (entry: Pick<CertEntry, 'base'>) => `${entry.base}.key`;

/** The certificates this cluster has: all, less etcd's with external etcd. CAs come first. */
export function certificatesFor(spec: ClusterSpec): CertEntry[] {
  const list = CERTIFICATES.filter((e) => !(e.etcd && spec.etcd.external));
  return [...list.filter((e) => !e.ca), ...list.filter((e) => e.ca)];
}

export function caEntry(name: CAName): CertEntry {
  return CERTIFICATES.find((e) => e.name === name)!;
}

export function findEntry(name: string): CertEntry | undefined {
  return CERTIFICATES.find((e) => e.name === name);
}


export type ServerAddress = 'endpoint' | 'local';

/**
 * A kubeconfig file with an embedded client certificate signed by the
 * Kubernetes CA, as kubeadm writes them (user named after the CN, context
 * "<user>@<cluster>").
 */
export interface KubeconfigEntry {
  name: string;
  /** File name under the kubeconfig dir. */
  file: string;
  longName: string;
  subject: (spec: ClusterSpec) => Subject;
  /**
   * Which API server address it uses: the control-plane endpoint (or this node's
   * when there is none), or always this node's own (local components).
   */
  server: ServerAddress;
  consumers: readonly Consumer[];
}

const kubeconfigFlags = (component: Component): Consumer[] =>
  ['--kubeconfig', '--authentication-kubeconfig', '--authorization-kubeconfig'].map((flag) => ({ component, flag, file: 'kubeconfig' as const }));

/**
 * The kubeconfig a joining node's kubelet authenticates with (a bootstrap or
 * static token) to ask the certificates API for its client certificate:
 * written by `kubepki kubeconfig bootstrap`, named by the kubelet's
 * --bootstrap-kubeconfig whenever a bootstrap method is on. The kubelet reads
 * it only while its --kubeconfig (kubelet.conf) is missing or invalid, so on a
 * node that already has kubelet.conf (this one, after init) it is never needed.
 */
export const BOOTSTRAP_KUBECONFIG = {
  name: 'bootstrap-kubelet.conf',
  file: 'bootstrap-kubelet.conf',
  consumers: [{ component: 'kubelet', flag: '--bootstrap-kubeconfig', file: 'kubeconfig' }] as readonly Consumer[],
} as const;

export const KUBECONFIGS: readonly KubeconfigEntry[] = [
  {
    name: 'admin.conf',
    file: 'admin.conf',
    longName: 'certificate embedded in the kubeconfig file for the admin to use and for kubeadm itself',
    subject: () => ({ cn: 'kubernetes-admin', o: ['kubeadm:cluster-admins'] }),
    server: 'endpoint',
    consumers: [],
  },
  {
    name: 'super-admin.conf',
    file: 'super-admin.conf',
    longName: 'certificate embedded in the kubeconfig file for the super-admin',
    subject: () => ({ cn: 'kubernetes-super-admin', o: ['system:masters'] }),
    server: 'endpoint',
    consumers: [],
  },
  {
    name: 'kubelet.conf',
    file: 'kubelet.conf',
    longName: 'certificate embedded in the kubeconfig file for the kubelet of this node',
    subject: (spec) => ({ cn: `system:node:${spec.nodeName}`, o: ['system:nodes'] }),
    server: 'endpoint',
    consumers: [{ component: 'kubelet', flag: '--kubeconfig', file: 'kubeconfig' }],
  },
  {
    name: 'controller-manager.conf',
    file: 'controller-manager.conf',
    longName: 'certificate embedded in the kubeconfig file for the controller manager to use',
    subject: () => ({ cn: 'system:kube-controller-manager' }),
    server: 'local',
    consumers: kubeconfigFlags('kube-controller-manager'),
  },
  {
    name: 'scheduler.conf',
    file: 'scheduler.conf',
    longName: 'certificate embedded in the kubeconfig file for the scheduler manager to use',
    subject: () => ({ cn: 'system:kube-scheduler' }),
    server: 'local',
    consumers: kubeconfigFlags('kube-scheduler'),
  },
];
