/**
 * The catalog: every artifact kubepki writes, once. Certificate pairs, the
 * service-account key pair, kubeconfigs (the bootstrap one too), flag, env and
 * kubelet-config files, systemd units, manifests, node bundles, token files,
 * CSRs and backups: their file names, modes, signers, subjects, SAN rules,
 * usages, validity, consumers (component flags and settings) and where they
 * live. Plans, generation, flag files, check-expiration, renew, help text and
 * the README's tables all read this table; a file path, a CN, a mode or a flag
 * name is written here and nowhere else.
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

/**
 * The components kubepki configures, in the order their flags are listed, and
 * the order in which they are restarted after their files change: etcd first
 * (everything else talks to it), the kubelet last. etcdctl is a client: it has
 * an environment file, no service.
 */
export const SERVICES = [
  { name: 'kube-apiserver', restartOrder: 2 },
  { name: 'kube-controller-manager', restartOrder: 3 },
  { name: 'kube-scheduler', restartOrder: 4 },
  { name: 'kubelet', restartOrder: 5 },
  { name: 'etcd', restartOrder: 1, etcd: true },
] as const;
export type ServiceComponent = (typeof SERVICES)[number]['name'];
export type Component = ServiceComponent | 'etcdctl';
/** Service names, in listing order. */
export const COMPONENTS: readonly ServiceComponent[] = SERVICES.map((s) => s.name);
/** Every component kubepki writes flags or an environment for (kubepki flags COMPONENT). */
export const FLAG_COMPONENTS: readonly Component[] = [...SERVICES.map((s) => s.name), 'etcdctl'];
/** The components kubepki configures for this cluster: etcd's only with local etcd. */
export const componentsFor = (externalEtcd: boolean): ServiceComponent[] => SERVICES.filter((s) => !(externalEtcd && 'etcd' in s)).map((s) => s.name);
/** Components in restart order. */
export function restartOrder(components: Iterable<Component>): ServiceComponent[] {
  const wanted = new Set<string>(components);
  return [...SERVICES].sort((a, b) => a.restartOrder - b.restartOrder).filter((s) => wanted.has(s.name)).map((s) => s.name);
}

/**
 * The mode of each kind of file kubepki writes, by the file's role. kubeadm's
 * choices: certificates 0644, keys 0600, sa.pub 0600 (written through its key
 * writer), kubeconfigs 0600, CSRs 0600.
 */
export const MODES = {
  cert: 0o644,
  key: 0o600,
  pub: 0o600,
  kubeconfig: 0o600,
  /**
   * Flag, env, kubelet-config and audit-policy files, units, manifests: no
   * secrets in them, yet 0600 as CIS 1.1.1-1.1.8, 4.1.1 and 4.1.9 want (a
   * component's configuration is root's alone). systemd logs a notice for a
   * unit file others cannot read, and reads it all the same.
   */
  generated: 0o600,
  /** Bootstrap token Secrets and static token files: they hold credentials. */
  secret: 0o600,
  csr: 0o600,
  /**
   * Backups of replaced files (renew, rotation) are second names of the files
   * themselves, so they keep the files' modes, inside a 0700 folder; a copy,
   * where the folder is on another file system, is 0600.
   */
  backup: 0o600,
  backupDir: 0o700,
  /**
   * Folders kubepki creates: root's alone, so that no private key (a .key
   * file, a kubeconfig's embedded key) sits in a folder others may list
   * (kubepki audit checks it). The components and kubectl run as root.
   */
  dir: 0o700,
} as const;

/** A mode as people read it and chmod takes it: four octal digits (0644). */
export const modeText = (mode: number): string => (mode & 0o7777).toString(8).padStart(4, '0');
export type FileRole = keyof typeof MODES;

/**
 * Whose an artifact is. 'cluster': one identity for the whole cluster (the
 * CAs, sa, the clients of the control plane); every control-plane node may
 * hold the same files. 'control-plane': each control-plane node has its own
 * (its subject or SANs name the node). 'node': each node has its own, workers
 * too. Node bundles (nodes issue) carry the 'control-plane' and 'node' ones.
 */
export type Scope = 'cluster' | 'control-plane' | 'node';

/** The directories kubepki writes in, resolved from the description (or a command's flag). */
export type Root = 'certs' | 'kubeconfigs' | 'flags' | 'units' | 'manifests' | 'nodes' | 'csrs' | 'backups';

/**
 * Where a component is told about one of the catalog's files: a command-line
 * flag, or (for the kubelet) a field of its configuration file.
 */
export type Consumer = {
  component: Component;
  /** Which file of the entry it takes. */
  file: 'cert' | 'key' | 'pub' | 'kubeconfig';
  /** It signs with the entry's CA: only when that CA's key is a file here (not managed elsewhere, not in a token). */
  signs?: true;
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
  /** The SAN rule in words, for people (docs/catalog.md). */
  sanRule: string;
  /** Only with local (stacked) etcd. */
  etcd?: true;
  scope: Scope;
  consumers: readonly Consumer[];
  /**
   * With external etcd, the consumers of this entry's files read the files
   * kubeadm's etcd.external names instead (caFile, certFile, keyFile).
   */
  externalEtcd?: { cert: 'caFile' | 'certFile'; key?: 'keyFile' };
}

export interface KeyPairEntry {
  name: 'sa';
  /** Private and public key paths under the cert dir. */
  key: string;
  pub: string;
  longName: string;
  scope: Scope;
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
    scope: 'cluster',
    base: 'ca',
    profile: 'ca',
    longName: 'self-signed Kubernetes CA to provision identities for other Kubernetes components',
    subject: () => ({ cn: 'kubernetes' }),
    sans: caSANs('kubernetes'),
    sanRule: 'DNS: its CN',
    consumers: [
      { component: 'kube-apiserver', flag: '--client-ca-file', file: 'cert' },
      // The API server verifies the kubelets' serving certificates (kubeadm leaves this open).
      { component: 'kube-apiserver', flag: '--kubelet-certificate-authority', file: 'cert' },
      { component: 'kubelet', setting: 'authentication.x509.clientCAFile', file: 'cert' },
      { component: 'kube-controller-manager', flag: '--client-ca-file', file: 'cert' },
      { component: 'kube-controller-manager', flag: '--root-ca-file', file: 'cert' },
      { component: 'kube-controller-manager', flag: '--cluster-signing-cert-file', file: 'cert', signs: true },
      { component: 'kube-controller-manager', flag: '--cluster-signing-key-file', file: 'key', signs: true },
    ],
  },
  {
    name: 'apiserver',
    scope: 'control-plane',
    base: 'apiserver',
    ca: 'ca',
    profile: 'server',
    longName: 'certificate for serving the Kubernetes API',
    subject: () => ({ cn: 'kube-apiserver' }),
    sans: apiServerSANs,
    sanRule: 'DNS: node name, kubernetes, kubernetes.default, kubernetes.default.svc, kubernetes.default.svc.<dnsDomain>; IP: the first address of each service CIDR, the advertise address; the controlPlaneEndpoint host; apiServer.certSANs',
    consumers: [
      { component: 'kube-apiserver', flag: '--tls-cert-file', file: 'cert' },
      { component: 'kube-apiserver', flag: '--tls-private-key-file', file: 'key' },
    ],
  },
  {
    name: 'apiserver-kubelet-client',
    scope: 'cluster',
    base: 'apiserver-kubelet-client',
    ca: 'ca',
    profile: 'client',
    longName: 'certificate for the API server to connect to kubelet',
    subject: () => ({ cn: 'kube-apiserver-kubelet-client', o: ['kubeadm:cluster-admins'] }),
    sans: NONE,
    sanRule: 'none',
    consumers: [
      { component: 'kube-apiserver', flag: '--kubelet-client-certificate', file: 'cert' },
      { component: 'kube-apiserver', flag: '--kubelet-client-key', file: 'key' },
    ],
  },
  {
    name: 'kubelet-server',
    scope: 'node',
    base: 'kubelet-server',
    ca: 'ca',
    profile: 'server',
    longName: "certificate for serving the kubelet's API, verified by the API server",
    // The identity a kubelet-serving CSR would carry (kubernetes.io/kubelet-serving).
    subject: (spec) => nodeSubject(spec.nodeName),
    sans: (spec) => altNames([spec.nodeName], spec.nodeAddresses),
    sanRule: 'DNS: node name; IP: the node\'s addresses',
    consumers: [
      { component: 'kubelet', setting: 'tlsCertFile', file: 'cert' },
      { component: 'kubelet', setting: 'tlsPrivateKeyFile', file: 'key' },
    ],
  },
  {
    name: 'front-proxy-ca',
    scope: 'cluster',
    base: 'front-proxy-ca',
    profile: 'ca',
    longName: 'self-signed CA to provision identities for front proxy',
    subject: () => ({ cn: 'front-proxy-ca' }),
    sans: caSANs('front-proxy-ca'),
    sanRule: 'DNS: its CN',
    consumers: [
      { component: 'kube-apiserver', flag: '--requestheader-client-ca-file', file: 'cert' },
      { component: 'kube-controller-manager', flag: '--requestheader-client-ca-file', file: 'cert' },
    ],
  },
  {
    name: 'front-proxy-client',
    scope: 'cluster',
    base: 'front-proxy-client',
    ca: 'front-proxy-ca',
    profile: 'client',
    longName: 'certificate for the front proxy client',
    subject: () => ({ cn: 'front-proxy-client' }),
    sans: NONE,
    sanRule: 'none',
    consumers: [
      { component: 'kube-apiserver', flag: '--proxy-client-cert-file', file: 'cert' },
      { component: 'kube-apiserver', flag: '--proxy-client-key-file', file: 'key' },
    ],
  },
  {
    name: 'etcd-ca',
    scope: 'cluster',
    base: 'etcd/ca',
    profile: 'ca',
    etcd: true,
    longName: 'self-signed CA to provision identities for etcd',
    subject: () => ({ cn: 'etcd-ca' }),
    sans: caSANs('etcd-ca'),
    sanRule: 'DNS: its CN',
    externalEtcd: { cert: 'caFile' },
    consumers: [
      { component: 'kube-apiserver', flag: '--etcd-cafile', file: 'cert' },
      { component: 'etcd', flag: '--trusted-ca-file', file: 'cert' },
      { component: 'etcd', flag: '--peer-trusted-ca-file', file: 'cert' },
      { component: 'etcdctl', flag: '--cacert', file: 'cert' },
    ],
  },
  {
    name: 'etcd-server',
    scope: 'control-plane',
    base: 'etcd/server',
    ca: 'etcd-ca',
    profile: 'peer',
    etcd: true,
    longName: 'certificate for serving etcd',
    subject: (spec) => ({ cn: spec.nodeName }),
    sans: etcdSANs((spec) => spec.etcd.serverCertSANs),
    sanRule: 'DNS: node name, localhost; IP: the node\'s addresses, 127.0.0.1, ::1; etcd.serverCertSANs',
    consumers: [
      { component: 'etcd', flag: '--cert-file', file: 'cert' },
      { component: 'etcd', flag: '--key-file', file: 'key' },
    ],
  },
  {
    name: 'etcd-peer',
    scope: 'control-plane',
    base: 'etcd/peer',
    ca: 'etcd-ca',
    profile: 'peer',
    etcd: true,
    longName: 'certificate for etcd nodes to communicate with each other',
    subject: (spec) => ({ cn: spec.nodeName }),
    sans: etcdSANs((spec) => spec.etcd.peerCertSANs),
    sanRule: 'DNS: node name, localhost; IP: the node\'s addresses, 127.0.0.1, ::1; etcd.peerCertSANs',
    consumers: [
      { component: 'etcd', flag: '--peer-cert-file', file: 'cert' },
      { component: 'etcd', flag: '--peer-key-file', file: 'key' },
    ],
  },
  {
    name: 'etcd-healthcheck-client',
    scope: 'cluster',
    base: 'etcd/healthcheck-client',
    ca: 'etcd-ca',
    profile: 'client',
    etcd: true,
    longName: 'certificate for liveness probes to healthcheck etcd',
    subject: () => ({ cn: 'kube-etcd-healthcheck-client' }),
    sans: NONE,
    sanRule: 'none',
    consumers: [
      { component: 'etcdctl', flag: '--cert', file: 'cert' },
      { component: 'etcdctl', flag: '--key', file: 'key' },
    ],
  },
  {
    name: 'apiserver-etcd-client',
    scope: 'cluster',
    base: 'apiserver-etcd-client',
    ca: 'etcd-ca',
    profile: 'client',
    etcd: true,
    longName: 'certificate the apiserver uses to access etcd',
    subject: () => ({ cn: 'kube-apiserver-etcd-client' }),
    sans: NONE,
    sanRule: 'none',
    externalEtcd: { cert: 'certFile', key: 'keyFile' },
    consumers: [
      { component: 'kube-apiserver', flag: '--etcd-certfile', file: 'cert' },
      { component: 'kube-apiserver', flag: '--etcd-keyfile', file: 'key' },
    ],
  },
];

export const KEY_PAIRS: readonly KeyPairEntry[] = [
  {
    name: 'sa',
    scope: 'cluster',
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

/** The entry's files, with their roles (so their modes). */
export const certPath = (entry: Pick<CertEntry, 'base'>) => `${entry.base}.crt`;
export const keyPath = (entry: Pick<CertEntry, 'base'>) => `${entry.base}.key`;

/** The certificates this cluster has: all, less etcd's with external etcd. CAs come first. */
export function certificatesFor(spec: Pick<ClusterSpec, 'etcd'>): CertEntry[] {
  const list = CERTIFICATES.filter((e) => !(e.etcd && spec.etcd.external));
  return [...list.filter((e) => !e.ca), ...list.filter((e) => e.ca)];
}

export const CA_NAMES: readonly CAName[] = ['ca', 'front-proxy-ca', 'etcd-ca'];

/**
 * CA rotation (kubepki ca rotate): what is rotated, and the files a rotation
 * keeps beside a CA's own while it is under way. The CA's own files keep
 * kubeadm's paths and roles throughout: its certificate file is the trust
 * bundle (the signing CA first, then the other one), its key file the key of
 * the CA that signs. The -old and -new pairs hold exactly one CA each: the
 * one-certificate files the controller-manager's signing flags point at, and
 * what lets abort go back. The service-account key pair rotates the same way
 * (sa.pub holds both public keys).
 */
export type RotatableName = CAName | 'sa';
export const ROTATABLE: readonly RotatableName[] = ['ca', 'etcd-ca', 'front-proxy-ca', 'sa'];
export type RotationSide = 'old' | 'new';
export const ROTATION_PHASES = ['idle', 'started', 'issued'] as const;
export type RotationPhase = (typeof ROTATION_PHASES)[number];

/** A rotation's files: for a CA its -old and -new certificate and key; for sa its -old and -new key. */
export function rotationFiles(name: RotatableName): Record<RotationSide, { cert?: string; key: string }> {
  if (name === 'sa') {
    const { key } = KEY_PAIRS[0]!;
    const base = key.replace(/\.key$/, '');
    return { old: { key: `${base}-old.key` }, new: { key: `${base}-new.key` } };
  }
  const { base } = caEntry(name);
  const side = (s: RotationSide) => ({ cert: certPath({ base: `${base}-${s}` }), key: keyPath({ base: `${base}-${s}` }) });
  return { old: side('old'), new: side('new') };
}

export function caEntry(name: CAName): CertEntry {
  return CERTIFICATES.find((e) => e.name === name)!;
}

export function findEntry(name: string): CertEntry | undefined {
  return CERTIFICATES.find((e) => e.name === name);
}

/** What certs renew can renew, by name: the leaves and the kubeconfigs' client certificates. */
export const renewableNames = (): string[] => [...CERTIFICATES.filter((e) => e.ca).map((e) => e.name), ...KUBECONFIGS.map((k) => k.name)];

/** The identity of a node's kubelet (client and serving), as the Node authorizer and the CSR approvers know it. */
export const NODE_IDENTITY = { userPrefix: 'system:node:', group: 'system:nodes' } as const;
export function nodeSubject(nodeName: string): Subject {
  return { cn: `${NODE_IDENTITY.userPrefix}${nodeName}`, o: [NODE_IDENTITY.group] };
}

export type ServerAddress = 'endpoint' | 'local';

/**
 * A kubeconfig file: one cluster (the CA embedded), one user, one context
 * "<user>@<cluster>", as kubeadm writes them. Its credentials are a client
 * certificate signed by `signer` (the user named after its CN), or a token.
 */
export interface KubeconfigEntry {
  name: string;
  /** File name under the kubeconfig dir. */
  file: string;
  longName: string;
  /** The CA whose certificate it embeds and which signs its client certificate. */
  signer: 'ca';
  credentials: 'client-certificate' | 'token';
  subject: (spec: ClusterSpec) => Subject;
  /**
   * Which API server address it uses: the control-plane endpoint (or this node's
   * when there is none), or always this node's own (local components).
   */
  server: ServerAddress;
  scope: Scope;
  consumers: readonly Consumer[];
}

const kubeconfigFlags = (component: Component): Consumer[] =>
  ['--kubeconfig', '--authentication-kubeconfig', '--authorization-kubeconfig'].map((flag) => ({ component, flag, file: 'kubeconfig' as const }));

/** The kubeconfigs init writes: each with a client certificate signed by kubernetes-ca. */
export const KUBECONFIGS: readonly KubeconfigEntry[] = [
  {
    name: 'admin.conf',
    file: 'admin.conf',
    longName: 'certificate embedded in the kubeconfig file for the admin to use and for kubeadm itself',
    signer: 'ca',
    credentials: 'client-certificate',
    subject: () => ({ cn: 'kubernetes-admin', o: ['kubeadm:cluster-admins'] }),
    server: 'endpoint',
    scope: 'cluster',
    consumers: [],
  },
  {
    name: 'super-admin.conf',
    file: 'super-admin.conf',
    longName: 'certificate embedded in the kubeconfig file for the super-admin',
    signer: 'ca',
    credentials: 'client-certificate',
    subject: () => ({ cn: 'kubernetes-super-admin', o: ['system:masters'] }),
    server: 'endpoint',
    scope: 'cluster',
    consumers: [],
  },
  {
    name: 'kubelet.conf',
    file: 'kubelet.conf',
    longName: 'certificate embedded in the kubeconfig file for the kubelet of this node',
    signer: 'ca',
    credentials: 'client-certificate',
    subject: (spec) => nodeSubject(spec.nodeName),
    server: 'endpoint',
    scope: 'node',
    consumers: [{ component: 'kubelet', flag: '--kubeconfig', file: 'kubeconfig' }],
  },
  {
    name: 'controller-manager.conf',
    file: 'controller-manager.conf',
    longName: 'certificate embedded in the kubeconfig file for the controller manager to use',
    signer: 'ca',
    credentials: 'client-certificate',
    subject: () => ({ cn: 'system:kube-controller-manager' }),
    server: 'local',
    scope: 'cluster',
    consumers: kubeconfigFlags('kube-controller-manager'),
  },
  {
    name: 'scheduler.conf',
    file: 'scheduler.conf',
    longName: 'certificate embedded in the kubeconfig file for the scheduler manager to use',
    signer: 'ca',
    credentials: 'client-certificate',
    subject: () => ({ cn: 'system:kube-scheduler' }),
    server: 'local',
    scope: 'cluster',
    consumers: kubeconfigFlags('kube-scheduler'),
  },
];

/**
 * The kubeconfig a joining node's kubelet authenticates with (a bootstrap or
 * static token) to ask the certificates API for its client certificate:
 * written by `kubepki kubeconfig bootstrap`, named by the kubelet's
 * --bootstrap-kubeconfig whenever a bootstrap method is on. The kubelet reads
 * it only while its --kubeconfig (kubelet.conf) is missing or invalid, so on a
 * node that already has kubelet.conf (this one, after init) it is never needed.
 */
export const BOOTSTRAP_KUBECONFIG: KubeconfigEntry = {
  name: 'bootstrap-kubelet.conf',
  file: 'bootstrap-kubelet.conf',
  longName: 'token credentials for the kubelet of a joining node (TLS bootstrap)',
  signer: 'ca',
  credentials: 'token',
  // kubeadm's user name in bootstrap-kubelet.conf.
  subject: () => ({ cn: 'tls-bootstrap-token-user' }),
  server: 'endpoint',
  scope: 'node',
  consumers: [{ component: 'kubelet', flag: '--bootstrap-kubeconfig', file: 'kubeconfig' }],
};

/** A kubeconfig for a person or a tool (kubeconfig user): <name>.conf in the kubeconfig dir, its client certificate signed by kubernetes-ca. */
export const USER_KUBECONFIG = { signer: 'ca' as CAName, file: (user: string) => `${user}.conf` };
export const userKubeconfigFile = USER_KUBECONFIG.file;

/**
 * Who signs node CSRs offline (certs sign): kubernetes-ca, as the
 * controller-manager's csrsigning controller does for kubelet client
 * (kubernetes.io/kube-apiserver-client-kubelet) and serving
 * (kubernetes.io/kubelet-serving) CSRs with --cluster-signing-*.
 */
export const NODE_CSR_SIGNER: CAName = 'ca';

// ------------------------------------------------------------------ files derived from the description

/** What a generated file holds: a component's flags (one per line, or a systemd EnvironmentFile), a config, a unit, a manifest. */
export type GeneratedFormat = 'args' | 'env' | 'kubelet-config' | 'etcdctl-env' | 'audit-policy' | 'unit' | 'renew-unit' | 'rbac';

/**
 * A file kubepki derives wholly from the description: written when absent,
 * kept when identical, never overwritten when it differs (an operator may
 * have edited it).
 */
export interface GeneratedEntry {
  name: string;
  file: string;
  root: 'flags' | 'units' | 'manifests';
  format: GeneratedFormat;
  component?: Component;
  scope: Scope;
  /** Only with local etcd. */
  etcd?: true;
  /** The component flag that names this file (the kubelet's --config). */
  flag?: string;
}

const scopeOf = (c: ServiceComponent): Scope => (c === 'kubelet' ? 'node' : 'control-plane');

/** The kubelet's configuration file, beside the flag files; named by the kubelet's --config. */
export const KUBELET_CONFIG: GeneratedEntry = { name: 'kubelet-config.yaml', file: 'kubelet-config.yaml', root: 'flags', format: 'kubelet-config', component: 'kubelet', scope: 'node', flag: '--config' };

/**
 * The API server's audit policy (--audit-policy-file; CIS 1.2.16 wants an
 * audit log, 3.2.1 a policy): every request at the Metadata level, which logs
 * who did what to which object and never a request or response body, so no
 * Secret, token or key reaches the log.
 */
export const AUDIT_POLICY: GeneratedEntry = { name: 'audit-policy.yaml', file: 'audit-policy.yaml', root: 'flags', format: 'audit-policy', component: 'kube-apiserver', scope: 'control-plane', flag: '--audit-policy-file' };

/**
 * The API server's audit log (CIS 1.2.16-1.2.19: a path, 30 days, 10 files,
 * 100 MB each); its folder is made 0700 by the unit before the API server starts.
 */
export const AUDIT_LOG = { path: '/var/log/kubernetes/audit/audit.log', maxAge: 30, maxBackup: 10, maxSize: 100, dirMode: 0o700 } as const;

/**
 * Where kubeadm puts what kubepki's flag files hold, read by kubepki audit on
 * a node kubeadm set up: the static pods' manifests (under the kubeconfig
 * dir), the kubelet's flags and configuration (under /var/lib/kubelet) and the
 * systemd drop-in that starts it (kubeadm-facts.md §4.6).
 */
export const KUBEADM_LAYOUT = {
  manifests: 'manifests',
  kubeletDir: '/var/lib/kubelet',
  kubeletFlagsEnv: 'kubeadm-flags.env',
  kubeletFlagsVariable: 'KUBELET_KUBEADM_ARGS',
  kubeletConfig: 'config.yaml',
  kubeletDropIn: 'kubelet.service.d/10-kubeadm.conf',
} as const;

/** An etcd data dir: etcd's alone (CIS 1.1.11), made so by the etcd unit before etcd starts. */
export const ETCD_DATA_DIR_MODE = 0o700;

/** The flags dir: per component its flags, one per line (.flags) and as a systemd EnvironmentFile (.env); the kubelet's config; etcdctl's environment. */
export const FLAG_FILES: readonly GeneratedEntry[] = [
  ...SERVICES.flatMap((s): GeneratedEntry[] => (['args', 'env'] as const).map((format) => ({
    name: `${s.name}.${format === 'args' ? 'flags' : 'env'}`,
    file: `${s.name}.${format === 'args' ? 'flags' : 'env'}`,
    root: 'flags', format, component: s.name, scope: scopeOf(s.name), ...('etcd' in s ? { etcd: true as const } : {}),
  }))),
  KUBELET_CONFIG,
  AUDIT_POLICY,
  { name: 'etcdctl.env', file: 'etcdctl.env', root: 'flags', format: 'etcdctl-env', component: 'etcdctl', scope: 'control-plane', etcd: true },
];

/** The flag file of one component in one format. */
export function flagFile(component: ServiceComponent, format: 'args' | 'env'): GeneratedEntry {
  return FLAG_FILES.find((f) => f.component === component && f.format === format)!;
}

/** systemd units (render systemd), one per service, each reading its component's env file. */
export const UNITS: readonly GeneratedEntry[] = SERVICES.map((s) => ({
  name: `${s.name}.service`, file: `${s.name}.service`, root: 'units', format: 'unit', component: s.name, scope: scopeOf(s.name),
  ...('etcd' in s ? { etcd: true as const } : {}),
}));

/**
 * Scheduled renewal (render systemd): a oneshot service that runs `kubepki
 * certs renew --expiring-within WINDOW --restart`, and the daily timer that
 * starts it, each node at a random time within DELAY of midnight (so that the
 * control-plane nodes never restart together); Persistent: a run missed while
 * the node was off happens at boot.
 */
export const RENEW_UNITS: readonly GeneratedEntry[] = [
  { name: 'kubepki-renew.service', file: 'kubepki-renew.service', root: 'units', format: 'renew-unit', scope: 'control-plane' },
  { name: 'kubepki-renew.timer', file: 'kubepki-renew.timer', root: 'units', format: 'renew-unit', scope: 'control-plane' },
];
export const SCHEDULED_RENEWAL = { window: '30d', randomizedDelay: '4h' } as const;

/** The RBAC manifest of kubelet TLS bootstrap (render rbac). */
export const RBAC_MANIFEST: GeneratedEntry = { name: 'kubelet-bootstrap-rbac.yaml', file: 'kubelet-bootstrap-rbac.yaml', root: 'manifests', format: 'rbac', scope: 'cluster' };

/** Files of a generated kind that this cluster has (etcd's only with local etcd). */
export const generatedFor = (entries: readonly GeneratedEntry[], externalEtcd: boolean) => entries.filter((e) => !(e.etcd && externalEtcd));

// ------------------------------------------------------------------ credentials, requests, bundles, backups

/**
 * Token files. The static token file (token-file bootstrap) defaults to
 * <cert dir>/tokens.csv; bootstrap token Secrets go to <kubeconfig dir>/bootstrap/.
 */
export const TOKEN_FILE = { file: 'tokens.csv', role: 'secret' as const };
export const BOOTSTRAP_TOKEN_SECRETS = { dir: 'bootstrap', file: (tokenId: string) => `bootstrap-token-${tokenId}.yaml`, role: 'secret' as const };

/**
 * A key and a CSR for an external CA, and where the certificate it signs
 * goes: named after the certificate (renew --csr-only: etcd-server.key,
 * etcd-server.csr; certs generate-csr: etcd/server.key, .csr and .crt in the
 * cert dir, admin.conf.key, .csr and .crt in the kubeconfig dir).
 */
export const csrFiles = (name: string) => ({ key: `${name}.key`, csr: `${name}.csr`, cert: `${name}.crt` });

/** certs sign: the certificate is written beside its CSR (or in --out-dir), <name>.csr → <name>.crt. */
export const signedCertificateFile = (csrFile: string) => `${csrFile.replace(/\.csr$/, '')}.crt`;

/** Node bundles (nodes issue): <kubeconfig dir>/nodes/<node name>/ by default. */
export const NODE_BUNDLES = { dir: 'nodes' };

/** What a node's bundle holds: its own certificates and kubeconfigs (scope control-plane or node), and the public certificates of their CAs. */
export function bundleEntries(spec: Pick<ClusterSpec, 'etcd'>, role: 'control-plane' | 'worker') {
  const scopes: readonly Scope[] = role === 'control-plane' ? ['control-plane', 'node'] : ['node'];
  const certificates = certificatesFor(spec).filter((e) => e.ca && scopes.includes(e.scope));
  const kubeconfigs = KUBECONFIGS.filter((k) => scopes.includes(k.scope));
  const cas = [...new Set<CAName>([...certificates.map((e) => e.ca!), ...kubeconfigs.map((k) => k.signer)])]
    .sort((a, b) => CA_NAMES.indexOf(a) - CA_NAMES.indexOf(b));
  return { certificates, kubeconfigs, cas };
}

/** Where renew copies the files it replaces: <kubeconfig dir>/kubepki-backups/<UTC time>/. */
export const BACKUPS = { dir: 'kubepki-backups', stamp: (now: number) => new Date(now).toISOString().replace(/[-:]/g, '').replace(/\.\d+Z$/, 'Z') };
