/**
 * The file formats kubepki reads, as valibot schemas built from the field
 * table (table.ts): kubepki's own `kubepki.dev/v1alpha1 Cluster`, and kubeadm's
 * InitConfiguration and ClusterConfiguration of kubeadm.k8s.io/v1beta3 and
 * v1beta4. Objects are strict: a key the format does not have is an error
 * naming it. kubeadm fields that do not touch certificates are accepted and not
 * looked into (KUBEADM_IGNORED).
 *
 * valibot rather than zod: the same declarative schemas at ~2 ms of start-up
 * instead of ~30 ms (README, start-up), which matters for a CLI that runs in
 * well under a second.
 */
import * as v from 'valibot';
import { rules, type RuleName } from './fields.js';
import { FIELDS, KUBEADM_IGNORED, type Field, type Kind } from './table.js';

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

/** External etcd, in kubeadm's shape: its client endpoints, and the files the API server authenticates to it with. */
const externalEtcd = strict({
  endpoints: v.optional(list('etcdEndpoint')),
  caFile: v.optional(checked('path')),
  certFile: v.optional(checked('path')),
  keyFile: v.optional(checked('path')),
});

/** A scalar taken as its text (kubeadm's v1beta3 maps may carry numbers and booleans: "v: 4"). */
const scalarText = (rule: RuleName) => v.pipe(v.union([v.string(), v.number(), v.boolean()]), v.transform(String), checked(rule));

/**
 * Component arguments in both of kubeadm's shapes: v1beta3's map of name to
 * value, v1beta4's list of name/value pairs (a name may repeat); both become
 * the list, in the order written.
 */
const argList = v.pipe(v.array(strict({ name: checked('argName'), value: scalarText('argValue') })), v.transform((list) => list.map(({ name, value }) => ({ name, value }))));
const argMap = v.pipe(v.record(v.pipe(v.string(), checked('argName')), scalarText('argValue')), v.transform((map) => Object.entries(map).map(([name, value]) => ({ name, value }))));
const notArgs = v.custom<never>(() => false, 'is neither a list of name/value pairs nor a map of flag names to values');
// By the value's shape, so that a complaint about one item (a value with a space) reaches the user as itself.
const args = v.lazy((input) => (Array.isArray(input) ? argList : typeof input === 'object' && input !== null ? argMap : notArgs));
const envs = v.array(strict({ name: checked('envName'), value: scalarText('envValue') }));
const bootstrapTokens = v.array(strict({
  token: v.optional(checked('bootstrapToken')),
  description: v.optional(v.pipe(v.string(), checked('envValue'))),
  ttl: v.optional(text('tokenTTL')),
  expires: v.optional(checked('timestamp')),
  usages: v.optional(v.array(v.picklist(['signing', 'authentication']))),
  groups: v.optional(list('tokenGroup')),
}));
/** A KubeletConfiguration's fields, not looked into here (hardening.ts judges the ones kubepki secures). */
const kubeletConfig = v.record(v.string(), v.unknown());

function valueSchema(kind: Kind, rule: RuleName | undefined, format: 'kubepki' | 'kubeadm'): v.GenericSchema {
  switch (kind) {
    case 'string': return checked(rule!);
    case 'scalar': return text(rule!);
    case 'list': return list(rule!);
    case 'port': return port;
    case 'boolean': return v.boolean();
    case 'anything': return anything;
    case 'args': return args;
    case 'envs': return envs;
    case 'bootstrapTokens': return bootstrapTokens;
    case 'kubeletConfig': return kubeletConfig;
    case 'bootstrapMethod': return v.picklist(['bootstrap-token', 'token-file', 'none']);
    // kubeadm: etcd.external is an object; kubepki also takes `true` (no endpoints: none in the API server's flags).
    case 'externalEtcd': return format === 'kubeadm' ? externalEtcd : v.union([v.boolean(), externalEtcd]);
    case 'caKeys': return strict({ ca: v.optional(checked('pkcs11Uri')), 'front-proxy-ca': v.optional(checked('pkcs11Uri')), 'etcd-ca': v.optional(checked('pkcs11Uri')) });
    case 'etcdMembers': return v.array(strict({
      name: checked('nodeName'),
      address: checked('advertiseAddress'),
      clientPort: v.optional(port),
      peerPort: v.optional(port),
      dataDir: v.optional(checked('path')),
    }));
    case 'nodes': return v.array(strict({
      name: checked('nodeName'),
      addresses: v.pipe(v.array(checked('advertiseAddress')), v.minLength(1, 'lists no address')),
      role: v.optional(v.picklist(['control-plane', 'worker'])),
    }));
  }
}

interface Tree {
  [key: string]: Tree | v.GenericSchema;
}

/** Nested strict objects from dotted paths; every field and every object is optional. */
function build(leaves: readonly { path: string; schema: v.GenericSchema }[], objects: readonly string[] = []): v.ObjectEntries {
  const root: Tree = {};
  const at = (path: string): Tree => path.split('.').reduce((node, key) => (node[key] ??= {}) as Tree, root);
  for (const o of objects) at(o);
  for (const leaf of leaves) {
    const keys = leaf.path.split('.');
    const parent = keys.length > 1 ? at(keys.slice(0, -1).join('.')) : root;
    parent[keys[keys.length - 1]!] = leaf.schema;
  }
  const toEntries = (node: Tree): v.ObjectEntries =>
    Object.fromEntries(Object.entries(node).map(([k, x]) => [k, v.optional(isSchema(x) ? x : strict(toEntries(x)))]));
  return toEntries(root);
}
const isSchema = (x: unknown): x is v.GenericSchema => typeof x === 'object' && x !== null && 'kind' in x && (x as { kind: unknown }).kind === 'schema';

// ---------------------------------------------------------------- kubepki's own

export const KUBEPKI_API_VERSION = 'kubepki.dev/v1alpha1';

const kubepkiFields = (FIELDS as readonly Field[]).filter((f) => f.kubepki);
export const kubepkiCluster = strict({
  apiVersion: v.literal(KUBEPKI_API_VERSION),
  kind: v.literal('Cluster'),
  ...build(kubepkiFields.map((f) => ({ path: f.kubepki!, schema: valueSchema(f.kind, f.rule, 'kubepki') }))),
});

// ---------------------------------------------------------------- kubeadm's

export const KUBEADM_API_VERSIONS = ['kubeadm.k8s.io/v1beta3', 'kubeadm.k8s.io/v1beta4'] as const;
export type KubeadmVersion = 'v1beta3' | 'v1beta4';

/** The kubelet's configuration document, which a kubeadm config file (or kubepki's) may carry. */
export const KUBELET_API_VERSION = 'kubelet.config.k8s.io/v1beta1';

/** Documents a kubeadm config file may carry that say nothing about certificates. */
export const KUBEADM_IGNORED_KINDS: Record<string, readonly string[]> = {
  'kubeadm.k8s.io/v1beta3': ['JoinConfiguration'],
  'kubeadm.k8s.io/v1beta4': ['JoinConfiguration', 'ResetConfiguration', 'UpgradeConfiguration'],
  'kubeproxy.config.k8s.io/v1alpha1': ['KubeProxyConfiguration'],
};

function kubeadmDocument(version: KubeadmVersion, doc: 'init' | 'cluster') {
  const kept = (FIELDS as readonly Field[]).filter((f) => f.kubeadm?.doc === doc && (!f.kubeadm.only || f.kubeadm.only === version));
  const ignored = KUBEADM_IGNORED[doc].filter((i) => !i.only || i.only === version);
  return strict({
    apiVersion: v.literal(`kubeadm.k8s.io/${version}`),
    kind: v.literal(doc === 'init' ? 'InitConfiguration' : 'ClusterConfiguration'),
    ...build(
      [...kept.map((f) => ({ path: f.kubeadm!.path, schema: valueSchema(f.kind, f.rule, 'kubeadm') })), ...ignored.filter((i) => !i.object).map((i) => ({ path: i.path, schema: anything }))],
      ignored.filter((i) => i.object).map((i) => i.path),
    ),
  });
}

export const kubeadm = {
  v1beta3: { init: kubeadmDocument('v1beta3', 'init'), cluster: kubeadmDocument('v1beta3', 'cluster') },
  v1beta4: { init: kubeadmDocument('v1beta4', 'init'), cluster: kubeadmDocument('v1beta4', 'cluster') },
};

/** A document as parsed: nested objects of the table's paths. */
export type Parsed = Record<string, unknown>;
