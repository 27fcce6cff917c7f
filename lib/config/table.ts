/**
 * The field table: every field of a cluster description, once. Where it sits
 * in kubepki's YAML and in kubeadm's, which rule checks it, the command-line
 * flag that overrides it (kubeadm's name) with its help text and default.
 * The schemas (schema.ts), the adapters from both formats (adapters.ts), the
 * flag overrides (overrides.ts) and the CLI's help (cli.ts) are all derived
 * from it. Plain data: the CLI reads it at start-up for its help text.
 */
import path from 'node:path';
import { DEFAULT_ALGORITHM } from '../pki/algorithms.js';
import type { RuleName } from './fields.js';
import { DEFAULTS } from './spec.js';

/** What a description says, before defaults: every field optional, values validated. */
export interface ClusterInput {
  clusterName?: string;
  nodeName?: string;
  advertiseAddress?: string;
  bindPort?: number;
  controlPlaneEndpoint?: string;
  serviceSubnet?: string;
  dnsDomain?: string;
  apiServerCertSANs?: string[];
  etcdExternal?: boolean;
  etcdEndpoints?: string[];
  etcdCAFile?: string;
  etcdCertFile?: string;
  etcdKeyFile?: string;
  etcdServerCertSANs?: string[];
  etcdPeerCertSANs?: string[];
  etcdDataDir?: string;
  etcdClientPort?: number;
  etcdPeerPort?: number;
  etcdMembers?: { name: string; address: string; clientPort?: number; peerPort?: number; dataDir?: string }[];
  kubeconfigDir?: string;
  flagsDir?: string;
  nodes?: { name: string; addresses: string[]; role?: 'control-plane' | 'worker' }[];
  bootstrapMethod?: 'bootstrap-token' | 'token-file' | 'none';
  tokenAuthFile?: string;
  certificatesDir?: string;
  encryptionAlgorithm?: string;
  certificateValidity?: string;
  caCertificateValidity?: string;
  /** Where CA keys live when not in <cert dir>/<ca>.key: PKCS#11 URIs by CA name. */
  caKeys?: Partial<Record<'ca' | 'front-proxy-ca' | 'etcd-ca', string>>;
  /** The user's component arguments (kubeadm's extraArgs, kubeletExtraArgs), in the order written. */
  apiServerExtraArgs?: Arg[];
  controllerManagerExtraArgs?: Arg[];
  schedulerExtraArgs?: Arg[];
  etcdExtraArgs?: Arg[];
  kubeletExtraArgs?: Arg[];
  /** Extra environment of a component (kubeadm's extraEnvs): written to its env file. */
  apiServerExtraEnvs?: Arg[];
  controllerManagerExtraEnvs?: Arg[];
  schedulerExtraEnvs?: Arg[];
  etcdExtraEnvs?: Arg[];
  podSubnet?: string;
  criSocket?: string;
  /** The user's KubeletConfiguration (its own document in a kubeadm file), merged under kubepki's settings. */
  kubeletConfig?: Record<string, unknown>;
  bootstrapTokens?: BootstrapTokenInput[];
  /** Flags (or kubelet settings) whose weakening values the user accepts. */
  allowInsecure?: string[];
  /** Where each field was found in the file (its dotted path), for messages. */
  origins?: Partial<Record<keyof ClusterInput, string>>;
}

/** One component argument: the flag's name without dashes, and its value. */
export interface Arg {
  name: string;
  value: string;
}

/** A bootstrap token of the description (kubeadm's InitConfiguration.bootstrapTokens). */
export interface BootstrapTokenInput {
  token?: string;
  description?: string;
  ttl?: string;
  expires?: string;
  usages?: string[];
  groups?: string[];
}

/**
 * How a value is written: a string checked by a rule ('string'), a string
 * YAML may type as a number ('scalar'), a list of checked strings, a port, a
 * boolean, or one of the structured values schema.ts knows by name.
 */
export type Kind = 'string' | 'scalar' | 'list' | 'port' | 'boolean' | 'bootstrapMethod' | 'etcdMembers' | 'nodes' | 'externalEtcd' | 'caKeys' | 'anything'
  | 'args' | 'envs' | 'kubeletConfig' | 'bootstrapTokens';

export interface Field {
  input: keyof ClusterInput;
  kind: Kind;
  rule?: RuleName;
  /** Dotted path in kubepki's Cluster. */
  kubepki?: string;
  /** Dotted path in kubeadm's InitConfiguration or ClusterConfiguration (only in v1beta4 when so marked). */
  kubeadm?: { doc: 'init' | 'cluster'; path: string; only?: 'v1beta4' };
  /** A path in a file is relative to that file. */
  path?: true;
  /** The command-line flag that overrides it. */
  flag?: { name: string; alias?: string; describe: string; default?: string; list?: true; repeat?: true };
}

export const FIELDS = [
  { input: 'certificatesDir', kind: 'string', rule: 'path', kubepki: 'certificates.dir', kubeadm: { doc: 'cluster', path: 'certificatesDir' }, path: true,
    flag: { name: 'cert-dir', describe: 'Where certificates and keys live', default: DEFAULTS.certificatesDir } },
  { input: 'kubeconfigDir', kind: 'string', rule: 'path', kubepki: 'kubeconfigDir', path: true,
    flag: { name: 'kubeconfig-dir', describe: 'Where kubeconfig files live', default: path.dirname(DEFAULTS.certificatesDir) } },
  { input: 'flagsDir', kind: 'string', rule: 'path', kubepki: 'flagsDir', path: true,
    flag: { name: 'flags-dir', describe: 'Where component flag files live', default: path.join(path.dirname(DEFAULTS.certificatesDir), 'flags') } },
  { input: 'nodeName', kind: 'string', rule: 'nodeName', kubepki: 'node.name', kubeadm: { doc: 'init', path: 'nodeRegistration.name' },
    flag: { name: 'node-name', describe: "This node's name", default: 'the hostname' } },
  { input: 'advertiseAddress', kind: 'string', rule: 'advertiseAddress', kubepki: 'node.advertiseAddress', kubeadm: { doc: 'init', path: 'localAPIEndpoint.advertiseAddress' },
    flag: { name: 'apiserver-advertise-address', alias: 'advertise-address', describe: 'The address the API server and etcd advertise', default: 'first non-loopback address' } },
  { input: 'bindPort', kind: 'port', rule: 'port', kubepki: 'apiServer.bindPort', kubeadm: { doc: 'init', path: 'localAPIEndpoint.bindPort' },
    flag: { name: 'apiserver-bind-port', describe: 'The API server port', default: String(DEFAULTS.bindPort) } },
  { input: 'controlPlaneEndpoint', kind: 'scalar', rule: 'endpoint', kubepki: 'controlPlaneEndpoint', kubeadm: { doc: 'cluster', path: 'controlPlaneEndpoint' },
    flag: { name: 'control-plane-endpoint', describe: 'Stable address of the control plane: host or host:port' } },
  { input: 'serviceSubnet', kind: 'string', rule: 'serviceSubnet', kubepki: 'networking.serviceSubnet', kubeadm: { doc: 'cluster', path: 'networking.serviceSubnet' },
    flag: { name: 'service-cidr', describe: 'Service network(s), comma-separated for dual-stack', default: DEFAULTS.serviceSubnet } },
  { input: 'dnsDomain', kind: 'string', rule: 'dnsName', kubepki: 'networking.dnsDomain', kubeadm: { doc: 'cluster', path: 'networking.dnsDomain' },
    flag: { name: 'service-dns-domain', alias: 'dns-domain', describe: 'Cluster DNS domain', default: DEFAULTS.dnsDomain } },
  { input: 'apiServerCertSANs', kind: 'list', rule: 'san', kubepki: 'apiServer.certSANs', kubeadm: { doc: 'cluster', path: 'apiServer.certSANs' },
    flag: { name: 'apiserver-cert-extra-sans', describe: 'Extra SANs for the API server certificate: IPs and DNS names, comma-separated or repeated', list: true } },
  { input: 'clusterName', kind: 'string', rule: 'clusterName', kubepki: 'clusterName', kubeadm: { doc: 'cluster', path: 'clusterName' },
    flag: { name: 'cluster-name', describe: 'Cluster name', default: DEFAULTS.clusterName } },
  { input: 'encryptionAlgorithm', kind: 'string', rule: 'algorithm', kubepki: 'certificates.encryptionAlgorithm', kubeadm: { doc: 'cluster', path: 'encryptionAlgorithm', only: 'v1beta4' },
    flag: { name: 'encryption-algorithm', describe: 'Key algorithm', default: DEFAULT_ALGORITHM } },
  { input: 'certificateValidity', kind: 'scalar', rule: 'validity', kubepki: 'certificates.validity', kubeadm: { doc: 'cluster', path: 'certificateValidityPeriod', only: 'v1beta4' },
    flag: { name: 'certificate-validity', describe: 'Validity of leaf certificates', default: `${DEFAULTS.certificateValidity / 3_600_000}h` } },
  { input: 'caCertificateValidity', kind: 'scalar', rule: 'validity', kubepki: 'certificates.caValidity', kubeadm: { doc: 'cluster', path: 'caCertificateValidityPeriod', only: 'v1beta4' },
    flag: { name: 'ca-certificate-validity', describe: 'Validity of CA certificates', default: `${DEFAULTS.caCertificateValidity / 3_600_000}h` } },
  { input: 'caKeys', kind: 'caKeys', rule: 'caKey', kubepki: 'certificates.caKeys',
    flag: { name: 'ca-key', describe: 'Keep a CA\'s key in a PKCS#11 token: NAME=URI (ca, front-proxy-ca, etcd-ca; RFC 7512 URI with module-path and pin-source), repeatable', list: true, repeat: true } },
  // etcd
  { input: 'etcdExternal', kind: 'externalEtcd', kubepki: 'etcd.external', kubeadm: { doc: 'cluster', path: 'etcd.external' } },
  { input: 'etcdServerCertSANs', kind: 'list', rule: 'san', kubepki: 'etcd.serverCertSANs', kubeadm: { doc: 'cluster', path: 'etcd.local.serverCertSANs' } },
  { input: 'etcdPeerCertSANs', kind: 'list', rule: 'san', kubepki: 'etcd.peerCertSANs', kubeadm: { doc: 'cluster', path: 'etcd.local.peerCertSANs' } },
  // kubeadm's dataDir is taken when it is a string; kubepki's is checked as a path.
  { input: 'etcdDataDir', kind: 'string', rule: 'path', kubepki: 'etcd.dataDir', path: true },
  { input: 'etcdDataDir', kind: 'anything', kubeadm: { doc: 'cluster', path: 'etcd.local.dataDir' }, path: true },
  { input: 'etcdClientPort', kind: 'port', kubepki: 'etcd.clientPort' },
  { input: 'etcdPeerPort', kind: 'port', kubepki: 'etcd.peerPort' },
  { input: 'etcdMembers', kind: 'etcdMembers', kubepki: 'etcd.members' },
  // the inventory and kubelet TLS bootstrap
  { input: 'nodes', kind: 'nodes', kubepki: 'nodes' },
  { input: 'bootstrapMethod', kind: 'bootstrapMethod', kubepki: 'bootstrap.method' },
  { input: 'tokenAuthFile', kind: 'string', rule: 'path', kubepki: 'bootstrap.tokenAuthFile', path: true },
  { input: 'bootstrapTokens', kind: 'bootstrapTokens', kubepki: 'bootstrap.tokens', kubeadm: { doc: 'init', path: 'bootstrapTokens' } },
  // component configuration: the user's arguments, environment, pod network, kubelet settings
  { input: 'apiServerExtraArgs', kind: 'args', kubepki: 'apiServer.extraArgs', kubeadm: { doc: 'cluster', path: 'apiServer.extraArgs' } },
  { input: 'controllerManagerExtraArgs', kind: 'args', kubepki: 'controllerManager.extraArgs', kubeadm: { doc: 'cluster', path: 'controllerManager.extraArgs' } },
  { input: 'schedulerExtraArgs', kind: 'args', kubepki: 'scheduler.extraArgs', kubeadm: { doc: 'cluster', path: 'scheduler.extraArgs' } },
  { input: 'etcdExtraArgs', kind: 'args', kubepki: 'etcd.extraArgs', kubeadm: { doc: 'cluster', path: 'etcd.local.extraArgs' } },
  { input: 'kubeletExtraArgs', kind: 'args', kubepki: 'kubelet.extraArgs', kubeadm: { doc: 'init', path: 'nodeRegistration.kubeletExtraArgs' } },
  { input: 'apiServerExtraEnvs', kind: 'envs', kubepki: 'apiServer.extraEnvs', kubeadm: { doc: 'cluster', path: 'apiServer.extraEnvs', only: 'v1beta4' } },
  { input: 'controllerManagerExtraEnvs', kind: 'envs', kubepki: 'controllerManager.extraEnvs', kubeadm: { doc: 'cluster', path: 'controllerManager.extraEnvs', only: 'v1beta4' } },
  { input: 'schedulerExtraEnvs', kind: 'envs', kubepki: 'scheduler.extraEnvs', kubeadm: { doc: 'cluster', path: 'scheduler.extraEnvs', only: 'v1beta4' } },
  { input: 'etcdExtraEnvs', kind: 'envs', kubepki: 'etcd.extraEnvs', kubeadm: { doc: 'cluster', path: 'etcd.local.extraEnvs', only: 'v1beta4' } },
  { input: 'podSubnet', kind: 'string', rule: 'podSubnet', kubepki: 'networking.podSubnet', kubeadm: { doc: 'cluster', path: 'networking.podSubnet' },
    flag: { name: 'pod-network-cidr', describe: 'Pod network(s), comma-separated for dual-stack: the controller-manager allocates node CIDRs from it' } },
  { input: 'criSocket', kind: 'string', rule: 'criSocket', kubepki: 'kubelet.criSocket', kubeadm: { doc: 'init', path: 'nodeRegistration.criSocket' },
    flag: { name: 'cri-socket', describe: "The container runtime's socket: the kubelet's --container-runtime-endpoint" } },
  // kubeadm's KubeletConfiguration is a document of its own (read.ts).
  { input: 'kubeletConfig', kind: 'kubeletConfig', kubepki: 'kubelet.config' },
  { input: 'allowInsecure', kind: 'list', rule: 'flagName', kubepki: 'allowInsecure',
    flag: { name: 'allow-insecure', describe: 'Accept a user argument that weakens what kubepki secures: the flag (or kubelet setting) name, repeatable', list: true, repeat: true } },
] as const satisfies readonly Field[];

/**
 * kubeadm fields kubepki accepts and does not use (yet): they say nothing
 * about certificates. Anything not here nor in FIELDS is an unknown field.
 */
export const KUBEADM_IGNORED: Readonly<Record<'init' | 'cluster', readonly { path: string; only?: 'v1beta3' | 'v1beta4'; object?: true }[]>> = {
  init: [
    { path: 'certificateKey' }, { path: 'skipPhases' }, { path: 'patches' },
    { path: 'nodeRegistration', object: true }, { path: 'localAPIEndpoint', object: true },
    { path: 'nodeRegistration.taints' }, { path: 'nodeRegistration.ignorePreflightErrors' }, { path: 'nodeRegistration.imagePullPolicy' },
    { path: 'nodeRegistration.imagePullSerial', only: 'v1beta4' }, { path: 'dryRun', only: 'v1beta4' }, { path: 'timeouts', only: 'v1beta4' },
  ],
  cluster: [
    { path: 'networking', object: true }, { path: 'kubernetesVersion' }, { path: 'dns' },
    { path: 'imageRepository' }, { path: 'featureGates' }, { path: 'proxy', only: 'v1beta4' },
    { path: 'apiServer', object: true }, { path: 'apiServer.extraVolumes' },
    { path: 'apiServer.timeoutForControlPlane', only: 'v1beta3' },
    { path: 'controllerManager', object: true }, { path: 'controllerManager.extraVolumes' },
    { path: 'scheduler', object: true }, { path: 'scheduler.extraVolumes' },
    { path: 'etcd', object: true }, { path: 'etcd.local', object: true }, { path: 'etcd.local.imageRepository' }, { path: 'etcd.local.imageTag' },
  ],
};

type WithFlag = Extract<(typeof FIELDS)[number], { flag: unknown }>;
/** The command-line flags that override the description (kubeadm's names). */
export type OverrideFlag = WithFlag['flag']['name'];
/** Fields a command-line flag overrides. */
export const FLAG_FIELDS = FIELDS.filter((f): f is WithFlag => 'flag' in f);
