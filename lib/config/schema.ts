/**
 * The file formats kubepki reads, as valibot schemas: kubepki's own
 * `kubepki.dev/v1alpha1 Cluster`, and kubeadm's InitConfiguration and
 * ClusterConfiguration of kubeadm.k8s.io/v1beta3 and v1beta4. Objects are
 * strict: a key the format does not have is an error naming it. Fields kubeadm
 * has but that do not touch certificates are accepted and not looked into.
 *
 * valibot rather than zod: the same declarative schemas at ~2 ms of start-up
 * instead of ~30 ms (README, start-up), which matters for a CLI that runs in
 * well under a second.
 */
import * as v from 'valibot';
import { rules, type RuleName } from './fields.js';

/**
 * A strict object: like v.strictObject, but every unknown key is reported (not
 * just the first), with its path, as an issue whose message is UNKNOWN_FIELD.
 */
export const UNKNOWN_FIELD = 'unknown field';
function strict<E extends v.ObjectEntries>(entries: E) {
  return v.pipe(v.looseObject(entries), v.rawCheck(({ dataset, addIssue }) => {
    const value = dataset.value as Record<string, unknown>;
    for (const key of Object.keys(value)) {
      if (!Object.hasOwn(entries, key)) {
        addIssue({ message: UNKNOWN_FIELD, path: [{ type: 'object', origin: 'key', input: value, key, value: value[key] }] });
      }
    }
  }));
}

const checked = (rule: RuleName) =>
  v.pipe(v.string(), v.rawCheck(({ dataset, addIssue }) => {
    if (!dataset.typed) return;
    const complaint = rules[rule](dataset.value);
    if (complaint) addIssue({ message: complaint });
  }));

/** Scalars YAML may type as numbers or booleans, taken as their text. */
const text = (rule: RuleName) => v.pipe(v.union([v.string(), v.number()]), v.transform(String), checked(rule));
const list = (rule: RuleName) => v.array(checked(rule));
const port = v.pipe(v.number(), v.integer(), v.minValue(1), v.maxValue(65535));
const anything = v.unknown();

// ---------------------------------------------------------------- kubepki's own

export const KUBEPKI_API_VERSION = 'kubepki.dev/v1alpha1';

export const kubepkiCluster = strict({
  apiVersion: v.literal(KUBEPKI_API_VERSION),
  kind: v.literal('Cluster'),
  clusterName: v.optional(checked('clusterName')),
  node: v.optional(strict({
    name: v.optional(checked('nodeName')),
    advertiseAddress: v.optional(checked('advertiseAddress')),
  })),
  controlPlaneEndpoint: v.optional(text('endpoint')),
  apiServer: v.optional(strict({
    bindPort: v.optional(port),
    certSANs: v.optional(list('san')),
  })),
  networking: v.optional(strict({
    serviceSubnet: v.optional(checked('serviceSubnet')),
    dnsDomain: v.optional(checked('dnsName')),
  })),
  etcd: v.optional(strict({
    external: v.optional(v.boolean()),
    serverCertSANs: v.optional(list('san')),
    peerCertSANs: v.optional(list('san')),
    dataDir: v.optional(checked('path')),
    clientPort: v.optional(port),
    peerPort: v.optional(port),
    members: v.optional(v.array(strict({
      name: checked('nodeName'),
      address: checked('advertiseAddress'),
      clientPort: v.optional(port),
      peerPort: v.optional(port),
      dataDir: v.optional(checked('path')),
    }))),
  })),
  kubeconfigDir: v.optional(checked('path')),
  flagsDir: v.optional(checked('path')),
  nodes: v.optional(v.array(strict({
    name: checked('nodeName'),
    addresses: v.pipe(v.array(checked('advertiseAddress')), v.minLength(1, 'lists no address')),
    role: v.optional(v.picklist(['control-plane', 'worker'])),
  }))),
  bootstrap: v.optional(strict({
    method: v.optional(v.picklist(['bootstrap-token', 'token-file', 'none'])),
    tokenAuthFile: v.optional(checked('path')),
  })),
  certificates: v.optional(strict({
    dir: v.optional(checked('path')),
    encryptionAlgorithm: v.optional(checked('algorithm')),
    validity: v.optional(text('validity')),
    caValidity: v.optional(text('validity')),
  })),
});
export type KubepkiCluster = v.InferOutput<typeof kubepkiCluster>;

// ---------------------------------------------------------------- kubeadm's

export const KUBEADM_API_VERSIONS = ['kubeadm.k8s.io/v1beta3', 'kubeadm.k8s.io/v1beta4'] as const;
export type KubeadmVersion = 'v1beta3' | 'v1beta4';

/** Documents a kubeadm config file may carry that say nothing about certificates. */
export const KUBEADM_IGNORED_KINDS: Record<string, readonly string[]> = {
  'kubeadm.k8s.io/v1beta3': ['JoinConfiguration'],
  'kubeadm.k8s.io/v1beta4': ['JoinConfiguration', 'ResetConfiguration', 'UpgradeConfiguration'],
  'kubelet.config.k8s.io/v1beta1': ['KubeletConfiguration'],
  'kubeproxy.config.k8s.io/v1alpha1': ['KubeProxyConfiguration'],
};

const componentEntries = {
  extraArgs: v.optional(anything),
  extraVolumes: v.optional(anything),
  extraEnvs: v.optional(anything),
};
const controlPlaneComponent = strict(componentEntries);

const nodeRegistration = {
  name: v.optional(checked('nodeName')),
  criSocket: v.optional(anything),
  taints: v.optional(anything),
  kubeletExtraArgs: v.optional(anything),
  ignorePreflightErrors: v.optional(anything),
  imagePullPolicy: v.optional(anything),
};

const initEntries = {
  kind: v.literal('InitConfiguration'),
  bootstrapTokens: v.optional(anything),
  localAPIEndpoint: v.optional(strict({
    advertiseAddress: v.optional(checked('advertiseAddress')),
    bindPort: v.optional(port),
  })),
  certificateKey: v.optional(anything),
  skipPhases: v.optional(anything),
  patches: v.optional(anything),
};

const localEtcd = {
  imageRepository: v.optional(anything),
  imageTag: v.optional(anything),
  dataDir: v.optional(anything),
  extraArgs: v.optional(anything),
  serverCertSANs: v.optional(list('san')),
  peerCertSANs: v.optional(list('san')),
};

const clusterEntries = {
  kind: v.literal('ClusterConfiguration'),
  networking: v.optional(strict({
    serviceSubnet: v.optional(checked('serviceSubnet')),
    podSubnet: v.optional(anything),
    dnsDomain: v.optional(checked('dnsName')),
  })),
  kubernetesVersion: v.optional(anything),
  controlPlaneEndpoint: v.optional(text('endpoint')),
  controllerManager: v.optional(controlPlaneComponent),
  scheduler: v.optional(controlPlaneComponent),
  dns: v.optional(anything),
  certificatesDir: v.optional(checked('path')),
  imageRepository: v.optional(anything),
  featureGates: v.optional(anything),
  clusterName: v.optional(checked('clusterName')),
};

const externalEtcd = strict({
  endpoints: v.optional(anything),
  caFile: v.optional(anything),
  certFile: v.optional(anything),
  keyFile: v.optional(anything),
});

export const kubeadm = {
  v1beta3: {
    init: strict({
      apiVersion: v.literal('kubeadm.k8s.io/v1beta3'),
      ...initEntries,
      nodeRegistration: v.optional(strict(nodeRegistration)),
    }),
    cluster: strict({
      apiVersion: v.literal('kubeadm.k8s.io/v1beta3'),
      ...clusterEntries,
      etcd: v.optional(strict({ local: v.optional(strict(localEtcd)), external: v.optional(externalEtcd) })),
      apiServer: v.optional(strict({
        ...componentEntries,
        certSANs: v.optional(list('san')),
        timeoutForControlPlane: v.optional(anything),
      })),
    }),
  },
  v1beta4: {
    init: strict({
      apiVersion: v.literal('kubeadm.k8s.io/v1beta4'),
      ...initEntries,
      nodeRegistration: v.optional(strict({ ...nodeRegistration, imagePullSerial: v.optional(anything) })),
      dryRun: v.optional(anything),
      timeouts: v.optional(anything),
    }),
    cluster: strict({
      apiVersion: v.literal('kubeadm.k8s.io/v1beta4'),
      ...clusterEntries,
      etcd: v.optional(strict({
        local: v.optional(strict({ ...localEtcd, extraEnvs: v.optional(anything) })),
        external: v.optional(externalEtcd),
      })),
      apiServer: v.optional(strict({ ...componentEntries, certSANs: v.optional(list('san')) })),
      proxy: v.optional(anything),
      encryptionAlgorithm: v.optional(checked('algorithm')),
      certificateValidityPeriod: v.optional(text('validity')),
      caCertificateValidityPeriod: v.optional(text('validity')),
    }),
  },
};
export type KubeadmInit = v.InferOutput<typeof kubeadm.v1beta4.init> | v.InferOutput<typeof kubeadm.v1beta3.init>;
export type KubeadmCluster = v.InferOutput<typeof kubeadm.v1beta4.cluster> | v.InferOutput<typeof kubeadm.v1beta3.cluster>;
