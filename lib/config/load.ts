/**
 * From a config file (kubepki's or kubeadm's) and command-line overrides to one
 * validated ClusterSpec. Every complaint names the file, line and field, or the
 * flag, with the offending value.
 */
import { readFileSync, statSync } from 'node:fs';
import { hostname, networkInterfaces } from 'node:os';
import path from 'node:path';
import * as v from 'valibot';
import { LineCounter, parseAllDocuments, isMap, isScalar, type Document } from 'yaml';
import { describeSystemError, UserError } from '../errors.js';
import { parseDuration } from '../durations.js';
import { canonicalIP, parseCidr } from '../net.js';
import { DEFAULT_ALGORITHM, type AlgorithmName } from '../pki/algorithms.js';
import { rules, type RuleName } from './fields.js';
import {
  KUBEADM_API_VERSIONS, KUBEADM_IGNORED_KINDS, KUBEPKI_API_VERSION, UNKNOWN_FIELD, kubeadm, kubepkiCluster,
  type KubeadmCluster, type KubeadmInit, type KubeadmVersion, type KubepkiCluster,
} from './schema.js';
import { DEFAULTS, type ClusterSpec, type EtcdMember, type NodeSpec } from './spec.js';

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
}

/** Command-line flags that override the description, by their kubeadm names. */
export const OVERRIDE_FLAGS = {
  'cert-dir': { field: 'certificatesDir', rule: 'path' },
  'kubeconfig-dir': { field: 'kubeconfigDir', rule: 'path' },
  'flags-dir': { field: 'flagsDir', rule: 'path' },
  'node-name': { field: 'nodeName', rule: 'nodeName' },
  'apiserver-advertise-address': { field: 'advertiseAddress', rule: 'advertiseAddress' },
  'apiserver-bind-port': { field: 'bindPort', rule: 'port' },
  'control-plane-endpoint': { field: 'controlPlaneEndpoint', rule: 'endpoint' },
  'service-cidr': { field: 'serviceSubnet', rule: 'serviceSubnet' },
  'service-dns-domain': { field: 'dnsDomain', rule: 'dnsName' },
  'apiserver-cert-extra-sans': { field: 'apiServerCertSANs', rule: 'san' },
  'cluster-name': { field: 'clusterName', rule: 'clusterName' },
  'encryption-algorithm': { field: 'encryptionAlgorithm', rule: 'algorithm' },
  'certificate-validity': { field: 'certificateValidity', rule: 'validity' },
  'ca-certificate-validity': { field: 'caCertificateValidity', rule: 'validity' },
} as const satisfies Record<string, { field: keyof ClusterInput; rule: RuleName }>;
export type OverrideFlag = keyof typeof OVERRIDE_FLAGS;

const quote = (value: unknown) => (typeof value === 'string' ? JSON.stringify(value) : String(value));

// ------------------------------------------------------------------ files

function readText(path: string): string {
  let st;
  try {
    st = statSync(path);
  } catch (e) {
    throw new UserError(`${path}: cannot read the config file: ${describeSystemError(e)}`);
  }
  if (!st.isFile()) throw new UserError(`${path}: the config file is not a regular file`);
  try {
    return readFileSync(path, 'utf8');
  } catch (e) {
    throw new UserError(`${path}: cannot read the config file: ${describeSystemError(e)}`);
  }
}

interface Located {
  doc: Document.Parsed;
  lines: LineCounter;
}

function lineOf(where: Located, path: readonly (string | number)[]): number | undefined {
  // The line of the key itself when the last step is a mapping key (its value may start on the next line).
  const parent = where.doc.getIn(path.slice(0, -1), true);
  if (path.length && isMap(parent)) {
    const pair = parent.items.find((p) => (isScalar(p.key) ? p.key.value : p.key) === path[path.length - 1]);
    const range = (pair?.key as { range?: [number, number, number] } | undefined)?.range;
    if (range) return where.lines.linePos(range[0]).line;
  }
  for (let n = path.length; n >= 0; n--) {
    const node = where.doc.getIn(path.slice(0, n), true) as { range?: [number, number, number] } | undefined;
    if (node && typeof node === 'object' && node.range) return where.lines.linePos(node.range[0]).line;
  }
  return undefined;
}

function issuesToMessages(file: string, where: Located, what: string, issues: v.BaseIssue<unknown>[]): string[] {
  return issues.map((issue) => {
    const path = (issue.path ?? []).map((p) => p.key as string | number);
    const line = lineOf(where, path);
    const field = path.map((p, i) => (typeof p === 'number' ? `[${p}]` : i ? `.${p}` : p)).join('') || '(document)';
    const at = `${file}${line ? `:${line}` : ''}: ${field}`;
    if (issue.message === UNKNOWN_FIELD && path.length) {
      return `${at}: unknown field (${what} has no "${path[path.length - 1]}")`;
    }
    if (issue.type === 'raw_check') return `${at}: ${quote(issue.input)} ${issue.message}`;
    return `${at}: ${issue.message.replace(/^Invalid (type|key): /, '')}`;
  });
}

function parse<S extends v.GenericSchema>(schema: S, value: unknown, file: string, where: Located, what: string): v.InferOutput<S> {
  const result = v.safeParse(schema, value, { abortEarly: false });
  if (result.success) return result.output;
  const messages = issuesToMessages(file, where, what, result.issues);
  throw new UserError(messages.length === 1 ? messages[0]! : `${file}: ${messages.length} problems in ${what}`, {
    details: messages.length === 1 ? [] : messages,
  });
}

/** Read a description file: kubepki's own, or kubeadm's (multi-document). */
export function readConfigFile(file: string): ClusterInput {
  const lines = new LineCounter();
  const docs = parseAllDocuments(readText(file), { lineCounter: lines, uniqueKeys: true, prettyErrors: false });
  if (!Array.isArray(docs)) throw new UserError(`${file}: the config file holds no YAML document`);
  const found: { kubepki?: KubepkiCluster; version?: KubeadmVersion; init?: KubeadmInit; cluster?: KubeadmCluster } = {};
  let index = 0;
  for (const doc of docs) {
    index++;
    const error = doc.errors[0];
    if (error) {
      const pos = error.linePos?.[0] ?? lines.linePos(error.pos[0]);
      throw new UserError(`${file}:${pos.line}:${pos.col}: malformed YAML: ${error.message.split('\n')[0]}`);
    }
    // An empty document (a trailing "---") is allowed.
    if (doc.contents === null || (isScalar(doc.contents) && doc.contents.value === null)) continue;
    const where: Located = { doc, lines };
    let value: unknown;
    try {
      value = doc.toJS({ maxAliasCount: 100 });
    } catch (e) {
      throw new UserError(`${file}: ${(e as Error).message.split('\n')[0]} (too many or circular YAML aliases)`);
    }
    const docName = docs.length > 1 ? `document ${index}` : 'the document';
    if (!isMap(doc.contents) || typeof value !== 'object' || value === null) {
      throw new UserError(`${file}: ${docName} is not a YAML mapping with apiVersion and kind`);
    }
    const { apiVersion, kind } = value as { apiVersion?: unknown; kind?: unknown };
    if (typeof apiVersion !== 'string' || typeof kind !== 'string') {
      throw new UserError(`${file}: ${docName} has no apiVersion and kind (expected ${KUBEPKI_API_VERSION} Cluster, or kubeadm's InitConfiguration/ClusterConfiguration)`);
    }
    const what = `${apiVersion} ${kind}`;
    if (apiVersion === KUBEPKI_API_VERSION) {
      if (kind !== 'Cluster') throw new UserError(`${file}: ${docName}: kind "${kind}" is not part of ${KUBEPKI_API_VERSION} (expected Cluster)`);
      if (found.kubepki) throw new UserError(`${file}: more than one ${what} document`);
      found.kubepki = parse(kubepkiCluster, value, file, where, what);
    } else if ((KUBEADM_API_VERSIONS as readonly string[]).includes(apiVersion)) {
      const version = apiVersion.slice('kubeadm.k8s.io/'.length) as KubeadmVersion;
      if (found.version && found.version !== version) {
        throw new UserError(`${file}: mixes kubeadm.k8s.io/${found.version} and ${apiVersion}; use one version`);
      }
      found.version = version;
      if (kind === 'InitConfiguration' || kind === 'ClusterConfiguration') {
        const key = kind === 'InitConfiguration' ? 'init' : 'cluster';
        if (found[key]) throw new UserError(`${file}: more than one ${kind} document`);
        const schema = kubeadm[version][key];
        (found as Record<string, unknown>)[key] = parse(schema as v.GenericSchema, value, file, where, what);
      } else if (!KUBEADM_IGNORED_KINDS[apiVersion]?.includes(kind)) {
        throw new UserError(`${file}: ${docName}: kind "${kind}" is not part of ${apiVersion}`);
      }
    } else if (KUBEADM_IGNORED_KINDS[apiVersion]) {
      if (!KUBEADM_IGNORED_KINDS[apiVersion]!.includes(kind)) throw new UserError(`${file}: ${docName}: kind "${kind}" is not part of ${apiVersion}`);
    } else if (apiVersion.startsWith('kubeadm.k8s.io/')) {
      throw new UserError(`${file}: ${docName}: apiVersion "${apiVersion}" is not supported; kubepki reads kubeadm.k8s.io/v1beta3 and v1beta4 (migrate older files with "kubeadm config migrate")`);
    } else {
      throw new UserError(`${file}: ${docName}: apiVersion "${apiVersion}" is not supported (expected ${KUBEPKI_API_VERSION}, or kubeadm.k8s.io/v1beta3 or v1beta4)`);
    }
  }
  if (found.kubepki && found.version) throw new UserError(`${file}: mixes kubepki and kubeadm documents; use one format`);
  const input = found.kubepki ? fromKubepki(found.kubepki) : found.init || found.cluster ? fromKubeadm(found.init, found.cluster) : undefined;
  if (!input) throw new UserError(`${file}: holds no ${KUBEPKI_API_VERSION} Cluster, InitConfiguration or ClusterConfiguration`);
  // A relative path in a file is relative to that file, not to wherever kubepki runs.
  const resolve = (p: string | undefined) => (p === undefined ? undefined : path.resolve(path.dirname(file), p));
  input.certificatesDir = resolve(input.certificatesDir);
  input.kubeconfigDir = resolve(input.kubeconfigDir);
  input.flagsDir = resolve(input.flagsDir);
  input.tokenAuthFile = resolve(input.tokenAuthFile);
  input.etcdDataDir = resolve(input.etcdDataDir);
  for (const m of input.etcdMembers ?? []) m.dataDir = resolve(m.dataDir);
  return input;
}

function fromKubepki(c: KubepkiCluster): ClusterInput {
  return {
    clusterName: c.clusterName,
    nodeName: c.node?.name,
    advertiseAddress: c.node?.advertiseAddress,
    bindPort: c.apiServer?.bindPort,
    controlPlaneEndpoint: c.controlPlaneEndpoint,
    serviceSubnet: c.networking?.serviceSubnet,
    dnsDomain: c.networking?.dnsDomain,
    apiServerCertSANs: c.apiServer?.certSANs,
    etcdExternal: c.etcd?.external,
    etcdServerCertSANs: c.etcd?.serverCertSANs,
    etcdPeerCertSANs: c.etcd?.peerCertSANs,
    etcdDataDir: c.etcd?.dataDir,
    etcdClientPort: c.etcd?.clientPort,
    etcdPeerPort: c.etcd?.peerPort,
    etcdMembers: c.etcd?.members,
    kubeconfigDir: c.kubeconfigDir,
    flagsDir: c.flagsDir,
    nodes: c.nodes,
    bootstrapMethod: c.bootstrap?.method,
    tokenAuthFile: c.bootstrap?.tokenAuthFile,
    certificatesDir: c.certificates?.dir,
    encryptionAlgorithm: c.certificates?.encryptionAlgorithm,
    certificateValidity: c.certificates?.validity,
    caCertificateValidity: c.certificates?.caValidity,
  };
}

function fromKubeadm(init: KubeadmInit | undefined, cluster: KubeadmCluster | undefined): ClusterInput {
  const c = cluster as Partial<v.InferOutput<typeof kubeadm.v1beta4.cluster>> | undefined;
  return {
    clusterName: c?.clusterName,
    nodeName: init?.nodeRegistration?.name,
    advertiseAddress: init?.localAPIEndpoint?.advertiseAddress,
    bindPort: init?.localAPIEndpoint?.bindPort,
    controlPlaneEndpoint: c?.controlPlaneEndpoint,
    serviceSubnet: c?.networking?.serviceSubnet,
    dnsDomain: c?.networking?.dnsDomain,
    apiServerCertSANs: c?.apiServer?.certSANs,
    etcdExternal: c?.etcd?.external !== undefined ? true : undefined,
    etcdServerCertSANs: c?.etcd?.local?.serverCertSANs,
    etcdPeerCertSANs: c?.etcd?.local?.peerCertSANs,
    etcdDataDir: typeof c?.etcd?.local?.dataDir === 'string' ? c.etcd.local.dataDir : undefined,
    certificatesDir: c?.certificatesDir,
    encryptionAlgorithm: c?.encryptionAlgorithm,
    certificateValidity: c?.certificateValidityPeriod,
    caCertificateValidity: c?.caCertificateValidityPeriod,
  };
}

// ------------------------------------------------------------------ flags

/** Validate flag values (named by their flag) and lay them over the file's. */
export function applyOverrides(input: ClusterInput, flags: Partial<Record<OverrideFlag, unknown>>): ClusterInput {
  const out: Record<string, unknown> = { ...input };
  const problems: string[] = [];
  for (const [flag, { field, rule }] of Object.entries(OVERRIDE_FLAGS) as [OverrideFlag, (typeof OVERRIDE_FLAGS)[OverrideFlag]][]) {
    const raw = flags[flag];
    if (raw === undefined) continue;
    const values = field === 'apiServerCertSANs'
      ? [raw].flat().flatMap((s) => String(s).split(',')).map((s) => s.trim()).filter(Boolean)
      : [String(raw)];
    for (const value of values) {
      const complaint = rules[rule](value);
      if (complaint) problems.push(`--${flag}: ${quote(value)} ${complaint}`);
    }
    out[field] = field === 'apiServerCertSANs' ? values : field === 'bindPort' ? Number(values[0]) : values[0];
  }
  if (problems.length) {
    throw new UserError(problems.length === 1 ? problems[0]! : `${problems.length} problems on the command line`, {
      details: problems.length === 1 ? [] : problems,
    });
  }
  return out as ClusterInput;
}

// ------------------------------------------------------------------ defaults

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

export function resolveSpec(input: ClusterInput): ClusterSpec {
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
  return {
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
  };
}

/** The whole path from an optional file and flags to a ClusterSpec. */
export function loadSpec(configFile: string | undefined, flags: Partial<Record<OverrideFlag, unknown>>): ClusterSpec {
  const fromFile = configFile ? readConfigFile(configFile) : {};
  return resolveSpec(applyOverrides(fromFile, flags));
}
