/**
 * What each command wants, as targets built from the catalog and the
 * description: the whole control plane (init), the CAs a command signs with,
 * a node's bundle, the certificates to renew. Every path, mode, subject and
 * signer comes from lib/pki/catalog.ts.
 */
import { flagFileContent, type FlagContext } from '../components/flags.js';
import { acceptedKubeletSettings } from '../components/user-config.js';
import type { ClusterSpec, UserArg, UserComponent, NodeSpec } from '../config/spec.js';
import { serverURL } from '../kubeconfig/kubeconfig.js';
import {
  BOOTSTRAP_KUBECONFIG, BOOTSTRAP_TOKEN_SECRETS, FLAG_FILES, KEY_PAIRS, csrFiles, KUBECONFIGS, PROFILES, bundleEntries, caEntry, certPath, certificatesFor, generatedFor, keyPath, rotationFiles, validityFor,
  type CAName, type CertEntry, type KubeconfigEntry, type Root,
} from '../pki/catalog.js';
import { parsePkcs11Uri } from '../pki/pkcs11-uri.js';
import path from 'node:path';
import { parse, stringify } from 'yaml';
import { tokenSecret } from '../bootstrap/token.js';
import type { CertTarget, GeneratedTarget, KeyPairTarget, KubeconfigTarget, KubeletClientTarget, Target } from './targets.js';

/** The description as seen from one node of the inventory. */
export function nodeSpec(spec: ClusterSpec, node: NodeSpec): ClusterSpec {
  return { ...spec, nodeName: node.name, advertiseAddress: node.addresses[0]!, nodeAddresses: node.addresses };
}

export function certTarget(entry: CertEntry, spec: ClusterSpec, o: { policy: CertTarget['policy']; root?: Root; prefix?: string; keepKey?: boolean } ): CertTarget {
  const profile = PROFILES[entry.profile];
  const at = (rel: string) => (o.prefix ? `${o.prefix}/${rel}` : rel);
  return {
    kind: 'certificate',
    id: at(entry.name),
    name: entry.name,
    root: o.root ?? 'certs',
    policy: o.policy,
    isCA: profile.isCA,
    cert: at(certPath(entry)),
    key: at(keyPath(entry)),
    ...(entry.ca ? { ca: entry.ca } : {}),
    ...(o.policy === 'renew' ? {} : { subject: entry.subject(spec), sans: entry.sans(spec) }),
    profile,
    validity: validityFor(profile, spec),
    keyAlgorithm: spec.encryptionAlgorithm,
    consumers: entry.consumers,
    longName: entry.longName,
    ...(o.keepKey ? { keepKey: true } : {}),
    ...(profile.isCA && spec.caKeys[entry.name as CAName] ? { token: parsePkcs11Uri(spec.caKeys[entry.name as CAName]!) } : {}),
    // A CA kubepki holds the key of can be under rotation; its rotation files are read with it (prefixes are node bundles, never rotated in place).
    ...(profile.isCA && !spec.caKeys[entry.name as CAName] && !o.prefix ? { rotation: rotationFiles(entry.name as CAName) as CertTarget['rotation'] & object } : {}),
  };
}

export function kubeconfigTarget(entry: KubeconfigEntry, spec: ClusterSpec, o: { policy: KubeconfigTarget['policy']; root?: Root; prefix?: string; server?: string; keepKey?: boolean; token?: string; file?: string }): KubeconfigTarget {
  const file = o.file ?? (o.prefix ? `${o.prefix}/${entry.file}` : entry.file);
  return {
    kind: 'kubeconfig',
    id: o.prefix ? `${o.prefix}/${entry.name}` : entry.name,
    name: entry.name,
    root: o.root ?? 'kubeconfigs',
    policy: o.policy,
    file,
    signer: entry.signer,
    subject: entry.subject(spec),
    server: o.server ?? serverURL(spec, entry.server),
    clusterName: spec.clusterName,
    credentials: entry.credentials === 'token' ? { kind: 'token', token: o.token! } : { kind: 'client-certificate', validity: spec.certificateValidity },
    keyAlgorithm: spec.encryptionAlgorithm,
    consumers: entry.consumers,
    longName: entry.longName,
    // A kubelet that rotates its own client certificate points kubelet.conf at a file.
    ...(entry.name === 'kubelet.conf' ? { allowCertificateFile: true } : {}),
    ...(entry.credentials === 'client-certificate' ? { signedElsewhere: csrFiles(file) } : {}),
    ...(o.keepKey ? { keepKey: true } : {}),
  };
}

/** The CAs a command signs with: they must exist here with their keys (policy require). */
export function authorityTargets(spec: ClusterSpec, names: readonly CAName[]): CertTarget[] {
  return names.map((n) => certTarget(caEntry(n), spec, { policy: 'require' }));
}

/** What the plan says of a component's flags: the user's arguments, environment and settings in them, and which were accepted as insecure. */
function userNotes(spec: ClusterSpec, component: string): string[] {
  const { args, envs, kubeletConfig, kubeletConfigOrigin, allowInsecure } = spec.components;
  const notes: string[] = [];
  const insecure = (a: { name: string }) => allowInsecure.includes(a.name);
  const mine = args[component as UserComponent] ?? [];
  const byField = (list: readonly UserArg[]) => [...new Set(list.map((a) => a.field))].map((field) => [field, list.filter((a) => a.field === field)] as const);
  for (const [field, list] of byField(mine.filter((a) => !insecure(a)))) notes.push(`the user's arguments (${field}): ${list.map((a) => `--${a.name}=${a.value}`).join(' ')}`);
  for (const [field, list] of byField(mine.filter(insecure))) notes.push(`WARNING: accepted as insecure (allowInsecure), from ${field}: ${list.map((a) => `--${a.name}=${a.value}`).join(' ')}`);
  for (const [field, list] of byField(envs[component as UserComponent] ?? [])) notes.push(`the user's environment (${field}): ${list.map((a) => a.name).join(' ')}`);
  if (component === 'kubelet' && Object.keys(kubeletConfig).length) {
    notes.push(`the user's settings (${kubeletConfigOrigin}), under kubepki's: ${Object.keys(kubeletConfig).join(', ')}`);
    const accepted = acceptedKubeletSettings(spec);
    if (accepted.length) notes.push(`WARNING: accepted as insecure (allowInsecure), from ${kubeletConfigOrigin}: ${accepted.join(' ')}`);
  }
  return notes;
}

/** A component's flag files (flags, env, and the kubelet's config or etcdctl's env), grouped as plans show them. */
export function flagTargets(spec: ClusterSpec, externalCAs: () => ReadonlySet<CAName>, rotations?: () => FlagContext['rotations']): GeneratedTarget[] {
  const ctx = (): FlagContext => ({ spec, externalCAs: externalCAs(), ...(rotations ? { rotations: rotations() } : {}) });
  const groups = new Map<string, GeneratedTarget>();
  for (const entry of generatedFor(FLAG_FILES, spec.etcd.external)) {
    const name = entry.component!;
    let g = groups.get(name);
    if (!g) {
      g = { kind: 'generated', shownAs: 'flags', id: `flags/${name}`, name, root: 'flags', policy: 'generated', files: [], consumers: [], notes: userNotes(spec, name) };
      groups.set(name, g);
    }
    let memo: string | undefined;
    g.files.push({ rel: entry.file, role: 'generated', data: () => (memo ??= flagFileContent(entry, ctx())) });
  }
  return [...groups.values()];
}

/**
 * Everything init writes: the certificates (CAs first), the key pairs, the
 * kubeconfigs and the flag files. The flag files' content depends on which
 * CAs are managed elsewhere, known once the CAs are decided.
 */
export function clusterTargets(spec: ClusterSpec, o: { now: number; kubeconfigs: boolean; flags: boolean; externalCAs: () => ReadonlySet<CAName>; rotations?: () => FlagContext['rotations'] }): Target[] {
  const targets: Target[] = certificatesFor(spec).map((e) => certTarget(e, spec, { policy: 'init' }));
  for (const pair of KEY_PAIRS) {
    const t: KeyPairTarget = {
      kind: 'key-pair', id: pair.name, name: pair.name, root: 'certs', policy: 'init', key: pair.key, pub: pair.pub,
      keyAlgorithm: spec.encryptionAlgorithm, consumers: pair.consumers, longName: pair.longName,
    };
    targets.push(t);
  }
  if (o.kubeconfigs) targets.push(...KUBECONFIGS.map((k) => kubeconfigTarget(k, spec, { policy: 'init' })), ...bootstrapTokenTargets(spec, o.now));
  if (o.flags) targets.push(...flagTargets(spec, o.externalCAs, o.rotations));
  return targets;
}

/**
 * The description's bootstrap tokens (InitConfiguration.bootstrapTokens), as
 * kubepki token create writes them: a kube-system Secret each, 0600, in
 * <kubeconfig dir>/bootstrap/. One that is there with the same token is kept
 * (its expiry was written when it was made).
 */
export function bootstrapTokenTargets(spec: ClusterSpec, now: number): GeneratedTarget[] {
  return spec.bootstrapTokens.map((b): GeneratedTarget => {
    const [id, secret] = b.token.split('.') as [string, string];
    const expiration = b.expires ? new Date(b.expires) : b.ttl ? new Date(now + b.ttl) : undefined;
    return {
      kind: 'generated', shownAs: 'generated', id: `bootstrap-token-${id}`, name: `bootstrap token ${id}`, root: 'kubeconfigs', policy: 'generated', consumers: [],
      files: [{
        rel: path.join(BOOTSTRAP_TOKEN_SECRETS.dir, BOOTSTRAP_TOKEN_SECRETS.file(id)), role: BOOTSTRAP_TOKEN_SECRETS.role,
        data: () => stringify(tokenSecret({ token: { id, secret, token: b.token }, usages: b.usages, groups: b.groups, ...(expiration ? { expiration } : {}), ...(b.description ? { description: b.description } : {}) })),
      }],
      same: (existing) => {
        try {
          const data = (parse(existing) as { stringData?: Record<string, unknown> } | null)?.stringData;
          return data?.['token-id'] === id && data['token-secret'] === secret;
        } catch {
          return false;
        }
      },
    };
  });
}

/**
 * One node's bundle under the bundles root: its own certificates and
 * kubeconfigs, and its CAs' certificates. reconcile: what differs from the
 * description is re-issued, and the CA copies follow the CAs.
 */
export function bundleTargets(cluster: ClusterSpec, node: NodeSpec, caPem: (name: CAName) => string, policy: 'init' | 'reconcile' = 'init'): Target[] {
  const spec = nodeSpec(cluster, node);
  const { certificates, kubeconfigs, cas } = bundleEntries(cluster, node.role);
  const copies: GeneratedTarget[] = cas.map((name) => ({
    kind: 'generated', shownAs: 'generated', id: `${node.name}/${name}.crt`, name: `${name} certificate`, root: 'nodes', policy: policy === 'init' ? 'generated' : 'replace',
    files: [{ rel: `${node.name}/${certPath(caEntry(name))}`, role: 'cert', data: () => caPem(name) }], consumers: [], ...(policy === 'init' ? {} : { settled: true }),
  }));
  return [
    ...copies,
    ...certificates.map((e) => certTarget(e, spec, { policy, root: 'nodes', prefix: node.name })),
    // The kubelet's server is the cluster's endpoint, not the node's own address.
    ...kubeconfigs.map((k) => kubeconfigTarget(k, spec, { policy, root: 'nodes', prefix: node.name, server: serverURL(cluster, 'endpoint') })),
  ];
}

/**
 * What reconcile compares with the description on this node: every
 * certificate (the CAs kept unless includeCAs), the key pairs (kept: the
 * service-account key is rotation's), every kubeconfig, and each flag file on
 * its own (one that differs is replaced, one that is missing is written;
 * none when flags is false: a layout whose flag files kubepki never wrote).
 */
export function reconcileTargets(spec: ClusterSpec, o: { now: number; includeCAs: boolean; flags?: boolean; externalCAs: () => ReadonlySet<CAName> }): Target[] {
  const targets = clusterTargets(spec, { now: o.now, kubeconfigs: true, flags: false, externalCAs: o.externalCAs });
  const out: Target[] = targets.map((t) => {
    if (t.kind === 'certificate') return { ...t, policy: 'reconcile' as const, ...(t.isCA && o.includeCAs ? { includeCA: true } : {}) };
    if (t.kind === 'kubeconfig') return { ...t, policy: 'reconcile' as const };
    return t;
  });
  for (const g of o.flags === false ? [] : flagTargets(spec, o.externalCAs)) {
    for (const f of g.files) out.push({ ...g, id: `${g.id}/${f.rel}`, policy: 'replace', settled: true, files: [f] });
  }
  return out;
}

/** Every renewable certificate of this cluster: the leaves, and the kubeconfigs' embedded client certificates. */
export function renewableTargets(spec: ClusterSpec, keepKey: boolean): (CertTarget | KubeconfigTarget)[] {
  return [
    ...certificatesFor(spec).filter((e) => e.ca).map((e) => certTarget(e, spec, { policy: 'renew', keepKey })),
    ...KUBECONFIGS.map((k) => kubeconfigTarget(k, spec, { policy: 'renew', keepKey })),
  ];
}

/**
 * The client certificate the kubelet rotates itself, when kubelet.conf points
 * at it (`certFile`, absolute, certificate and key in one file): renewed into
 * kubelet-client-<time>.pem beside it, named as the kubelet names them.
 */
export function kubeletClientTarget(spec: ClusterSpec, certFile: string, now: number): KubeletClientTarget {
  const entry = KUBECONFIGS.find((k) => k.name === 'kubelet.conf')!;
  const dir = path.dirname(certFile);
  const d = new Date(now);
  const p2 = (n: number) => String(n).padStart(2, '0');
  const fresh = `kubelet-client-${d.getUTCFullYear()}-${p2(d.getUTCMonth() + 1)}-${p2(d.getUTCDate())}-${p2(d.getUTCHours())}-${p2(d.getUTCMinutes())}-${p2(d.getUTCSeconds())}.pem`;
  return {
    kind: 'kubelet-client', id: 'kubelet.conf/client-file', name: entry.name, root: `dir:${dir}`, policy: 'renew',
    current: path.basename(certFile), fresh, linkTo: path.join(dir, fresh), signer: entry.signer,
    validity: spec.certificateValidity, keyAlgorithm: spec.encryptionAlgorithm, consumers: entry.consumers,
    longName: `client certificate the kubelet rotates (${certFile})`,
  };
}

/**
 * Where a CA is held as trust besides its own file, on this node: the
 * kubeconfigs it signs (and the bootstrap kubeconfig) embed it as
 * certificate-authority-data. Only their CA certificates change, to `pem`;
 * one that is not there is left alone.
 */
export function trustTargets(spec: ClusterSpec, name: CAName, pem: () => string): KubeconfigTarget[] {
  return [...KUBECONFIGS, BOOTSTRAP_KUBECONFIG].filter((k) => k.signer === name)
    .map((k) => ({ ...kubeconfigTarget(k, spec, { policy: 'trust', token: '' }), trustPem: pem }));
}

/** The same in a node's bundle: its copy of the CA's certificate, and its kubeconfigs. */
export function nodeTrustTargets(spec: ClusterSpec, node: NodeSpec, name: CAName, pem: () => string): Target[] {
  const { cas, kubeconfigs } = bundleEntries(spec, node.role);
  if (!cas.includes(name)) return [];
  const copy: GeneratedTarget = {
    kind: 'generated', shownAs: 'generated', id: `${node.name}/${name}.crt`, name: `${name} certificate`, root: 'nodes', policy: 'replace',
    files: [{ rel: `${node.name}/${certPath(caEntry(name))}`, role: 'cert', data: pem }], consumers: [],
  };
  return [copy, ...kubeconfigs.filter((k) => k.signer === name).map((k) => ({ ...kubeconfigTarget(k, spec, { policy: 'trust', root: 'nodes', prefix: node.name }), trustPem: pem }))];
}
