/**
 * The two formats' adapters: a parsed document (kubepki's Cluster, or
 * kubeadm's InitConfiguration and ClusterConfiguration) to the one
 * ClusterInput, by the paths of the field table.
 */
import type { Parsed } from './schema.js';
import { FIELDS, type ClusterInput, type Field } from './table.js';

const get = (doc: Parsed | undefined, dotted: string): unknown =>
  dotted.split('.').reduce<unknown>((node, key) => (node && typeof node === 'object' ? (node as Record<string, unknown>)[key] : undefined), doc);

type External = boolean | { endpoints?: string[]; caFile?: string; certFile?: string; keyFile?: string } | undefined;

/** Set one field of the input from its value in a document. */
function take(input: ClusterInput, f: Field, value: unknown): void {
  if (value === undefined) return;
  const out = input as Record<string, unknown>;
  if (f.kind === 'externalEtcd') {
    const ext = value as External;
    if (ext === false) return void (input.etcdExternal = false);
    input.etcdExternal = true;
    if (typeof ext === 'object') {
      if (ext.endpoints) input.etcdEndpoints = ext.endpoints;
      if (ext.caFile) input.etcdCAFile = ext.caFile;
      if (ext.certFile) input.etcdCertFile = ext.certFile;
      if (ext.keyFile) input.etcdKeyFile = ext.keyFile;
    }
    return;
  }
  // kubeadm types some fields loosely (etcd.local.dataDir): only a string is taken.
  if (f.kind === 'anything') {
    if (typeof value === 'string') out[f.input] = value;
    return;
  }
  if (f.kind === 'kubeletConfig') {
    out[f.input] = structuredClone(value);
    return;
  }
  // Lists of objects are copied: paths in them are resolved in place later.
  out[f.input] = Array.isArray(value) ? value.map((x) => (typeof x === 'object' && x !== null ? { ...x } : x)) : value;
}

/** Take a field, and remember where it was (messages name the field as the file has it). */
function takeFrom(input: ClusterInput, f: Field, value: unknown, where: string): void {
  if (value === undefined) return;
  take(input, f, value);
  (input.origins ??= {})[f.input] = where;
}

export function fromKubepki(doc: Parsed): ClusterInput {
  const input: ClusterInput = {};
  for (const f of FIELDS as readonly Field[]) if (f.kubepki) takeFrom(input, f, get(doc, f.kubepki), f.kubepki);
  return input;
}

export function fromKubeadm(init: Parsed | undefined, cluster: Parsed | undefined): ClusterInput {
  const input: ClusterInput = {};
  for (const f of FIELDS as readonly Field[]) {
    if (f.kubeadm) takeFrom(input, f, get(f.kubeadm.doc === 'init' ? init : cluster, f.kubeadm.path), `${f.kubeadm.doc === 'init' ? 'InitConfiguration' : 'ClusterConfiguration'}.${f.kubeadm.path}`);
  }
  return input;
}
