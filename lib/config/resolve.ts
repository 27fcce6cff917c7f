/**
 * From a ClusterInput to a ClusterSpec: kubeadm's defaults, and what only the
 * host can tell (its name, its address); checks that need the whole
 * description (etcd members, the node inventory, paths flags can carry).
 */
import { hostname, networkInterfaces } from 'node:os';
import path from 'node:path';
import { UserError } from '../errors.js';
import { parseDuration } from '../durations.js';
import { canonicalIP, parseCidr } from '../net.js';
import { DEFAULT_ALGORITHM, type AlgorithmName } from '../pki/algorithms.js';
import { rules } from './fields.js';
import { DEFAULT_GROUP } from '../bootstrap/token.js';
import { checkUserSettings } from '../components/user-config.js';
import { DEFAULTS, HOUR, type BootstrapTokenSpec, type ClusterSpec, type EtcdMember, type NodeSpec, type UserComponent } from './spec.js';
import type { ClusterInput } from './table.js';

const quote = (value: unknown) => (typeof value === 'string' ? JSON.stringify(value) : String(value));


/** The address of the first non-loopback interface, preferring IPv4: what kubeadm would advertise. */
function detectAdvertiseAddress(): string | undefined {
  const all = Object.values(networkInterfaces()).flat().filter((i) => i && !i.internal);
  const pick = all.find((i) => i!.family === 'IPv4') ?? all.find((i) => i!.family === 'IPv6' && !i!.address.startsWith('fe80'));
  return pick?.address;
}

/** The node inventory: names and addresses belong to one node each. */
function checkNodes(nodes: readonly NodeSpec[]): void {
  const names = new Map<string, number>();
  const owners = new Map<string, string>();
  const problems: string[] = [];
  nodes.forEach((n, i) => {
    if (names.has(n.name)) problems.push(`nodes[${i}]: the name ${n.name} is already used by nodes[${names.get(n.name)}]`);
    names.set(n.name, i);
    for (const a of new Set(n.addresses)) {
      const other = owners.get(a);
      if (other !== undefined && other !== n.name) problems.push(`nodes[${i}] (${n.name}): the address ${a} is also given to ${other}`);
      owners.set(a, n.name);
    }
  });
  if (problems.length) {
    throw new UserError(problems.length === 1 ? problems[0]! : `${problems.length} problems in the node inventory:`, { details: problems.length === 1 ? [] : problems });
  }
}

/** Members must have distinct names and endpoints, and this node must be one of them. */
function checkMembers(members: readonly EtcdMember[], nodeName: string, advertiseAddress: string): void {
  const seen = new Map<string, string>();
  for (const m of members) {
    for (const [key, what] of [[`name ${m.name}`, 'name'], [`${m.address}:${m.clientPort}`, 'client endpoint'], [`${m.address}:${m.peerPort}`, 'peer endpoint']] as const) {
      const other = seen.get(key);
      if (other !== undefined) throw new UserError(`etcd.members: ${m.name} and ${other} have the same ${what} (${key.replace(/^name /, '')})`);
      seen.set(key, m.name);
    }
    if (m.clientPort === m.peerPort) throw new UserError(`etcd.members: ${m.name} uses port ${m.clientPort} for both clients and peers`);
  }
  const self = members.find((m) => m.name === nodeName);
  if (!self) throw new UserError(`etcd.members does not list this node (${nodeName}); add it, or set the node name with --node-name`);
  if (self.address !== advertiseAddress) {
    throw new UserError(`etcd.members gives this node (${nodeName}) the address ${self.address}, but it advertises ${advertiseAddress}; make them the same`);
  }
}

/** External etcd over TLS both ways: with endpoints, the API server needs the CA and its client certificate and key. */
function checkExternalEtcd(input: ClusterInput): void {
  if (!input.etcdExternal || !input.etcdEndpoints?.length) return;
  const files = { caFile: input.etcdCAFile, certFile: input.etcdCertFile, keyFile: input.etcdKeyFile };
  const missing = Object.entries(files).filter(([, file]) => !file).map(([name]) => name);
  if (missing.length) {
    throw new UserError(`etcd.external gives endpoints but not ${missing.join(', ')}: kube-apiserver verifies etcd with caFile and authenticates with certFile and keyFile; give all three`);
  }
}

/** Where a field came from, for messages: its path in the file, or the field's kubepki path. */
const originOf = (input: ClusterInput, key: keyof ClusterInput, fallback: string) => input.origins?.[key] ?? fallback;

const ARG_FIELDS = [
  ['kube-apiserver', 'apiServerExtraArgs', 'apiServerExtraEnvs', 'apiServer'],
  ['kube-controller-manager', 'controllerManagerExtraArgs', 'controllerManagerExtraEnvs', 'controllerManager'],
  ['kube-scheduler', 'schedulerExtraArgs', 'schedulerExtraEnvs', 'scheduler'],
  ['etcd', 'etcdExtraArgs', 'etcdExtraEnvs', 'etcd'],
  ['kubelet', 'kubeletExtraArgs', undefined, 'kubelet'],
] as const satisfies readonly (readonly [UserComponent, keyof ClusterInput, keyof ClusterInput | undefined, string])[];

function userComponents(input: ClusterInput): ClusterSpec['components'] {
  const args: ClusterSpec['components']['args'] = {};
  const envs: ClusterSpec['components']['envs'] = {};
  for (const [component, argKey, envKey, prefix] of ARG_FIELDS) {
    const a = input[argKey] as { name: string; value: string }[] | undefined;
    if (a?.length) args[component] = a.map((x) => ({ name: x.name, value: x.value, field: originOf(input, argKey, `${prefix}.extraArgs`) }));
    const e = envKey ? input[envKey] as { name: string; value: string }[] | undefined : undefined;
    if (e?.length) envs[component] = e.map((x) => ({ name: x.name, value: x.value, field: originOf(input, envKey!, `${prefix}.extraEnvs`) }));
  }
  return {
    args, envs,
    kubeletConfig: input.kubeletConfig ?? {},
    kubeletConfigOrigin: originOf(input, 'kubeletConfig', 'kubelet.config'),
    ...(input.criSocket ? { criSocket: input.criSocket.startsWith('unix://') ? input.criSocket : `unix://${input.criSocket}` } : {}),
    allowInsecure: [...new Set((input.allowInsecure ?? []).map((n) => n.replace(/^--?/, '')))],
  };
}

/** The description's bootstrap tokens, with kubeadm's defaults (24h, both usages, the default node group). */
function bootstrapTokens(input: ClusterInput): BootstrapTokenSpec[] {
  const field = originOf(input, 'bootstrapTokens', 'bootstrap.tokens');
  const seen = new Map<string, number>();
  return (input.bootstrapTokens ?? []).map((b, i) => {
    const at = `${field}[${i}]`;
    if (!b.token) throw new UserError(`${at}: gives no token; kubepki writes only tokens the description names (make one with "kubepki token create")`);
    const id = b.token.slice(0, 6);
    if (seen.has(id)) throw new UserError(`${at}: the token id ${id} is already used by ${field}[${seen.get(id)}]`);
    seen.set(id, i);
    if (b.ttl !== undefined && b.expires !== undefined) throw new UserError(`${at}: gives both ttl and expires; give one`);
    const usages = (b.usages ?? ['signing', 'authentication']) as BootstrapTokenSpec['usages'];
    const groups = b.groups ?? (usages.includes('authentication') ? [DEFAULT_GROUP] : []);
    if (groups.length && !usages.includes('authentication')) throw new UserError(`${at}: groups only mean something with the "authentication" usage`);
    return {
      token: b.token, usages, groups, field: at,
      ...(b.description ? { description: b.description } : {}),
      ...(b.expires ? { expires: new Date(b.expires).toISOString().replace(/\.\d+Z$/, 'Z') } : { ttl: b.ttl === undefined ? 24 * HOUR : parseDuration(b.ttl)! }),
    };
  });
}

export function resolveSpec(input: ClusterInput): ClusterSpec {
  checkExternalEtcd(input);
  let nodeName = input.nodeName;
  if (nodeName === undefined) {
    nodeName = hostname().toLowerCase();
    if (rules.nodeName(nodeName)) {
      throw new UserError(`this machine's hostname ${quote(nodeName)} is not a valid node name; set one with --node-name or nodeRegistration.name`);
    }
  }
  const advertiseAddress = input.advertiseAddress ?? detectAdvertiseAddress();
  if (advertiseAddress === undefined) {
    throw new UserError('found no network address to advertise; set one with --apiserver-advertise-address or localAPIEndpoint.advertiseAddress');
  }
  const etcdDefaults = {
    clientPort: input.etcdClientPort ?? DEFAULTS.etcdClientPort,
    peerPort: input.etcdPeerPort ?? DEFAULTS.etcdPeerPort,
    dataDir: input.etcdDataDir ?? DEFAULTS.etcdDataDir,
  };
  const members: EtcdMember[] = (input.etcdMembers ?? [{ name: nodeName, address: advertiseAddress }]).map((m) => ({
    ...etcdDefaults,
    ...Object.fromEntries(Object.entries(m).filter(([, value]) => value !== undefined)),
    address: canonicalIP(m.address)!,
  }) as EtcdMember).map((m) => ({ ...m, dataDir: path.resolve(m.dataDir) }));
  checkMembers(members, nodeName, canonicalIP(advertiseAddress)!);
  // Directories are absolute from here on: they end up in flags and kubeconfigs read from anywhere.
  const certificatesDir = path.resolve(input.certificatesDir ?? DEFAULTS.certificatesDir);
  // kubeadm's layout: kubeconfigs in the cert dir's parent (/etc/kubernetes), flag files beside them.
  const kubeconfigDir = path.resolve(input.kubeconfigDir ?? path.dirname(certificatesDir));
  const serviceSubnets = (input.serviceSubnet ?? DEFAULTS.serviceSubnet).split(',').map((s) => parseCidr(s.trim())!.text);
  const flagsDir = path.resolve(input.flagsDir ?? path.join(kubeconfigDir, 'flags'));
  // Relative paths resolve against the working folder, which may hold characters flags cannot carry.
  for (const [what, dir] of [['cert dir', certificatesDir], ['kubeconfig dir', kubeconfigDir], ['flags dir', flagsDir], ...members.map((m) => [`etcd data dir of ${m.name}`, m.dataDir])] as const) {
    const complaint = rules.path(path.resolve(dir));
    if (complaint) throw new UserError(`the ${what} ${JSON.stringify(path.resolve(dir))} ${complaint}; choose another`);
  }
  const nodes = (input.nodes ?? []).map((n) => ({ name: n.name, addresses: n.addresses.map((a) => canonicalIP(a)!), role: n.role ?? 'worker' as const }));
  checkNodes(nodes);
  const spec: ClusterSpec = {
    clusterName: input.clusterName ?? DEFAULTS.clusterName,
    nodeName,
    advertiseAddress: canonicalIP(advertiseAddress)!,
    nodeAddresses: [canonicalIP(advertiseAddress)!],
    nodes,
    bindPort: input.bindPort ?? DEFAULTS.bindPort,
    ...(input.controlPlaneEndpoint ? { controlPlaneEndpoint: input.controlPlaneEndpoint } : {}),
    serviceSubnets,
    dnsDomain: input.dnsDomain ?? DEFAULTS.dnsDomain,
    apiServerCertSANs: input.apiServerCertSANs ?? [],
    etcd: {
      external: input.etcdExternal ?? false,
      ...(input.etcdExternal && (input.etcdEndpoints || input.etcdCAFile || input.etcdCertFile || input.etcdKeyFile) ? {
        client: {
          endpoints: input.etcdEndpoints ?? [],
          ...(input.etcdCAFile ? { caFile: path.resolve(input.etcdCAFile) } : {}),
          ...(input.etcdCertFile ? { certFile: path.resolve(input.etcdCertFile) } : {}),
          ...(input.etcdKeyFile ? { keyFile: path.resolve(input.etcdKeyFile) } : {}),
        },
      } : {}),
      serverCertSANs: input.etcdServerCertSANs ?? [],
      peerCertSANs: input.etcdPeerCertSANs ?? [],
      members,
    },
    kubeconfigDir,
    flagsDir,
    bootstrap: {
      method: input.bootstrapMethod ?? 'bootstrap-token',
      tokenAuthFile: path.resolve(input.tokenAuthFile ?? path.join(certificatesDir, 'tokens.csv')),
    },
    certificatesDir,
    encryptionAlgorithm: (input.encryptionAlgorithm ?? DEFAULT_ALGORITHM) as AlgorithmName,
    certificateValidity: input.certificateValidity ? parseDuration(input.certificateValidity)! : DEFAULTS.certificateValidity,
    caCertificateValidity: input.caCertificateValidity ? parseDuration(input.caCertificateValidity)! : DEFAULTS.caCertificateValidity,
    caKeys: { ...input.caKeys },
    components: userComponents(input),
    podSubnets: input.podSubnet ? input.podSubnet.split(',').map((s) => parseCidr(s.trim())!.text) : [],
    bootstrapTokens: bootstrapTokens(input),
  };
  checkUserSettings(spec);
  return spec;
}

