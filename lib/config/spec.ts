/**
 * The cluster description every command works from, whatever file it came
 * from (kubepki's own YAML, or kubeadm's Init/ClusterConfiguration) and after
 * command-line overrides. Values here are validated and normalised.
 */
import type { AlgorithmName } from '../pki/algorithms.js';

export interface ClusterSpec {
  clusterName: string;
  /** The node's name: the etcd server/peer CN and a SAN of the apiserver certificate. */
  nodeName: string;
  /** The address the API server and etcd advertise on this node. */
  advertiseAddress: string;
  /** All of this node's addresses, the advertise address first: SANs of its serving certificates. */
  nodeAddresses: string[];
  /** Other nodes of the cluster (kubepki nodes issue). */
  nodes: NodeSpec[];
  bindPort: number;
  /** "host" or "host:port"; empty when the cluster has none. */
  controlPlaneEndpoint?: string;
  /** One CIDR, or two for dual-stack (one per family). */
  serviceSubnets: string[];
  dnsDomain: string;
  apiServerCertSANs: string[];
  etcd: {
    /** External etcd: kubepki makes no etcd certificates. */
    external: boolean;
    /** External etcd's client endpoints and the files the API server authenticates to it with (kubeadm's etcd.external). */
    client?: { endpoints: string[]; caFile?: string; certFile?: string; keyFile?: string };
    serverCertSANs: string[];
    peerCertSANs: string[];
    /** The members of the etcd cluster (this node among them); by default this node alone. */
    members: EtcdMember[];
  };
  /** Where kubeconfig files live; by default the cert dir's parent (kubeadm: /etc/kubernetes). */
  kubeconfigDir: string;
  /** Where component flag files live; by default <kubeconfigDir>/flags. */
  flagsDir: string;
  /** How kubelets authenticate to ask for their first certificate (kubelet TLS bootstrap). */
  bootstrap: { method: 'bootstrap-token' | 'token-file' | 'none'; tokenAuthFile: string };
  /** Absolute, as are all directories of a resolved spec. */
  certificatesDir: string;
  encryptionAlgorithm: AlgorithmName;
  /** Leaf validity, milliseconds. */
  certificateValidity: number;
  /** CA validity, milliseconds. */
  caCertificateValidity: number;
  /** CAs whose key lives in a PKCS#11 token, by name: the URI (RFC 7512; it holds no PIN). */
  caKeys: Partial<Record<'ca' | 'front-proxy-ca' | 'etcd-ca', string>>;
  /** What the user adds to each component (extraArgs, extraEnvs, the kubelet's settings), checked by components/hardening.ts. */
  components: {
    /** By component, in the order written; each names the field it came from. */
    args: Partial<Record<UserComponent, UserArg[]>>;
    envs: Partial<Record<UserComponent, UserArg[]>>;
    /** The user's KubeletConfiguration fields (kubepki's settings go over them). */
    kubeletConfig: Record<string, unknown>;
    kubeletConfigOrigin: string;
    criSocket?: string;
    /** Flags and kubelet settings whose weakening values the user accepts (allowInsecure), without dashes. */
    allowInsecure: string[];
  };
  /** The pod network (networking.podSubnet): one CIDR, or one per family. */
  podSubnets: string[];
  /** Bootstrap tokens the description lists (InitConfiguration.bootstrapTokens): init writes their Secrets. */
  bootstrapTokens: BootstrapTokenSpec[];
}

export type UserComponent = 'kube-apiserver' | 'kube-controller-manager' | 'kube-scheduler' | 'etcd' | 'kubelet';

export interface UserArg {
  name: string;
  value: string;
  /** The field it was written in ("ClusterConfiguration.apiServer.extraArgs"). */
  field: string;
}

export interface BootstrapTokenSpec {
  token: string;
  description?: string;
  /** Milliseconds; 0: never expires. Exclusive with expires. */
  ttl?: number;
  expires?: string;
  usages: ('signing' | 'authentication')[];
  groups: string[];
  field: string;
}

export interface NodeSpec {
  name: string;
  addresses: string[];
  role: 'control-plane' | 'worker';
}

export interface EtcdMember {
  name: string;
  address: string;
  clientPort: number;
  peerPort: number;
  dataDir: string;
}

export const HOUR = 3_600_000;

export const DEFAULTS = {
  clusterName: 'kubernetes',
  bindPort: 6443,
  serviceSubnet: '10.96.0.0/12',
  dnsDomain: 'cluster.local',
  certificatesDir: '/etc/kubernetes/pki',
  etcdDataDir: '/var/lib/etcd',
  etcdClientPort: 2379,
  etcdPeerPort: 2380,
  certificateValidity: 8760 * HOUR,
  caCertificateValidity: 87600 * HOUR,
} as const;
