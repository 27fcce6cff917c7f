/**
 * Kubeconfig files as kubeadm writes them: one cluster (named after the
 * cluster) with the CA embedded, one user named after the client certificate's
 * CN with certificate and key embedded, and the context "<user>@<cluster>".
 */
import { readPlainYaml } from './fast-yaml.js';
import { parseDocument, stringify, type Document } from 'yaml';
import type { ClusterSpec } from '../config/spec.js';
import { joinHostPort, splitHostPort } from '../net.js';
import type { ServerAddress } from '../pki/catalog.js';

/** The API server URL a kubeconfig uses (kubeadm's GetControlPlaneEndpoint / GetLocalAPIEndpoint). */
export function serverURL(spec: ClusterSpec, which: ServerAddress): string {
  if (which === 'endpoint' && spec.controlPlaneEndpoint) {
    const { host, port } = splitHostPort(spec.controlPlaneEndpoint)!;
    return `https://${joinHostPort(host, port ?? spec.bindPort)}`;
  }
  return `https://${joinHostPort(spec.advertiseAddress, spec.bindPort)}`;
}

const b64 = (pem: string) => Buffer.from(pem).toString('base64');

export interface KubeconfigParts {
  clusterName: string;
  server: string;
  caPem: string;
  user: string;
  /** The user's credentials: an embedded client certificate and key, or a bearer token (TLS bootstrap). */
  credentials: { certPem: string; keyPem: string } | { token: string };
}

export function buildKubeconfig(p: KubeconfigParts): string {
  const context = `${p.user}@${p.clusterName}`;
  const user = 'token' in p.credentials
    ? { token: p.credentials.token }
    : { 'client-certificate-data': b64(p.credentials.certPem), 'client-key-data': b64(p.credentials.keyPem) };
  return stringify({
    apiVersion: 'v1',
    kind: 'Config',
    clusters: [{ name: p.clusterName, cluster: { 'certificate-authority-data': b64(p.caPem), server: p.server } }],
    contexts: [{ name: context, context: { cluster: p.clusterName, user: p.user } }],
    'current-context': context,
    preferences: {},
    users: [{ name: p.user, user }],
  });
}

export class KubeconfigError extends Error {}

export interface ParsedKubeconfig {
  server?: string;
  /** PEM text of the embedded CA, if any. */
  caPem?: string;
  /** A CA given as a file path instead. */
  caFile?: string;
  userName?: string;
  certPem?: string;
  certFile?: string;
  keyPem?: string;
  keyFile?: string;
  /** The YAML document it was read from, when the yaml library read it: replaceClientCredentials edits it without parsing the text again. */
  document?: Document;
}

type Named<T> = { name?: unknown } & Record<string, T | unknown>;
const decode = (v: unknown) => (typeof v === 'string' ? Buffer.from(v, 'base64').toString('utf8') : undefined);
const str = (v: unknown) => (typeof v === 'string' ? v : undefined);

/** The current context's cluster and user of a kubeconfig file. */
export function parseKubeconfig(text: string): ParsedKubeconfig {
  // The plain shape kubeconfigs are written in is read directly (fast-yaml.ts); anything else by the yaml library.
  let doc: unknown = readPlainYaml(text);
  let document: Document | undefined;
  if (doc === undefined) {
    try {
      document = parseDocument(text);
      if (document.errors.length) throw document.errors[0]!;
      doc = document.toJS();
    } catch (e) {
      throw new KubeconfigError(`is not valid YAML (${(e as Error).message.split('\n')[0]})`);
    }
  }
  if (typeof doc !== 'object' || doc === null) throw new KubeconfigError('is not a kubeconfig (no YAML mapping)');
  const d = doc as Record<string, unknown>;
  const currentContext = str(d['current-context']);
  if (!currentContext) throw new KubeconfigError('has no current-context');
  const find = (list: unknown, name: string | undefined) =>
    Array.isArray(list) ? (list as Named<unknown>[]).find((x) => x && x.name === name) : undefined;
  const context = find(d.contexts, currentContext)?.context as Record<string, unknown> | undefined;
  if (!context) throw new KubeconfigError(`has no context named "${currentContext}" (its current-context)`);
  const cluster = find(d.clusters, str(context.cluster))?.cluster as Record<string, unknown> | undefined;
  const user = find(d.users, str(context.user))?.user as Record<string, unknown> | undefined;
  const out: ParsedKubeconfig = {};
  if (document) Object.defineProperty(out, 'document', { value: document, enumerable: false });
  if (cluster) {
    out.server = str(cluster.server);
    out.caPem = decode(cluster['certificate-authority-data']);
    out.caFile = str(cluster['certificate-authority']);
  }
  out.userName = str(context.user);
  if (user) {
    out.certPem = decode(user['client-certificate-data']);
    out.certFile = str(user['client-certificate']);
    out.keyPem = decode(user['client-key-data']);
    out.keyFile = str(user['client-key']);
  }
  return out;
}

/**
 * A kubeconfig with its current user's client certificate and key replaced
 * and its cluster's CA re-embedded (as kubeadm's renewal does), and its
 * server when one is given (reconcile); everything else in the file stays as
 * it was.
 */
export function replaceClientCredentials(source: string | Document, c: { certPem?: string; keyPem?: string; caPem: string; server?: string }): string {
  // A document already read (the observer's) is edited in a copy; a text is parsed.
  const doc = typeof source === 'string' ? parseDocument(source) : source.clone();
  const context = (doc.get('contexts') as { items: unknown[] } | undefined)?.items
    .map((x) => (x as { toJSON(): { name: string; context: { cluster: string; user: string } } }).toJSON())
    .find((x) => x.name === doc.get('current-context'));
  const users = doc.get('users') as { items: { get(k: string): unknown; setIn(k: string[], v: unknown): void }[] };
  const user = users.items.find((u) => u.get('name') === context?.context.user);
  if (!user) throw new KubeconfigError('has no user for its current context');
  // Without a certificate and key, only the CA changes (a CA renewed, or a rotation's trust).
  if (c.certPem !== undefined) user.setIn(['user', 'client-certificate-data'], b64(c.certPem));
  if (c.keyPem !== undefined) user.setIn(['user', 'client-key-data'], b64(c.keyPem));
  const clusters = doc.get('clusters') as { items: { get(k: string): unknown; setIn(k: string[], v: unknown): void }[] };
  const cluster = clusters.items.find((x) => x.get('name') === context?.context.cluster);
  cluster?.setIn(['cluster', 'certificate-authority-data'], b64(c.caPem));
  if (c.server !== undefined) cluster?.setIn(['cluster', 'server'], c.server);
  return doc.toString();
}
