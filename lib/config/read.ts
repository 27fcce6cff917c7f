/**
 * Reading a description file: YAML documents with their line positions,
 * checked against the schemas, every complaint naming the file, line, field
 * and value. Which document is which (kubepki's Cluster, kubeadm's
 * Init/ClusterConfiguration) is decided here; what they mean is adapters.ts's.
 */
import { statSync } from 'node:fs';
import { UnreadableFileError, readFileBounded } from '../read-file.js';
import path from 'node:path';
import * as v from 'valibot';
import { LineCounter, parseAllDocuments, isMap, isScalar, type Document } from 'yaml';
import { describeSystemError, UserError } from '../errors.js';
import { redactPin } from '../pki/pkcs11-uri.js';
import { fromKubeadm, fromKubepki } from './adapters.js';
import { KUBEADM_API_VERSIONS, KUBELET_API_VERSION, KUBEADM_IGNORED_KINDS, KUBEPKI_API_VERSION, UNKNOWN_FIELD, kubeadm, kubepkiCluster, type KubeadmVersion, type Parsed } from './schema.js';
import { FIELDS, type ClusterInput, type Field } from './table.js';

/** A value as an error message quotes it (a PIN in a PKCS#11 URI hidden). */
const quote = (value: unknown) => (typeof value === 'string' ? JSON.stringify(redactPin(value)) : String(value));

function readText(file: string): string {
  let st;
  try {
    st = statSync(file);
  } catch (e) {
    throw new UserError(`${file}: cannot read the config file: ${describeSystemError(e)}`);
  }
  if (!st.isFile()) throw new UserError(`${file}: the config file is not a regular file`);
  try {
    return readFileBounded(file).toString('utf8');
  } catch (e) {
    if (e instanceof UnreadableFileError) throw new UserError(`${file}: the config file ${e.message}`);
    throw new UserError(`${file}: cannot read the config file: ${describeSystemError(e)}`);
  }
}

interface Located {
  doc: Document.Parsed;
  lines: LineCounter;
}

function lineOf(where: Located, at: readonly (string | number)[]): number | undefined {
  // The line of the key itself when the last step is a mapping key (its value may start on the next line).
  const parent = where.doc.getIn(at.slice(0, -1), true);
  if (at.length && isMap(parent)) {
    const pair = parent.items.find((p) => (isScalar(p.key) ? p.key.value : p.key) === at[at.length - 1]);
    const range = (pair?.key as { range?: [number, number, number] } | undefined)?.range;
    if (range) return where.lines.linePos(range[0]).line;
  }
  for (let n = at.length; n >= 0; n--) {
    const node = where.doc.getIn(at.slice(0, n), true) as { range?: [number, number, number] } | undefined;
    if (node && typeof node === 'object' && node.range) return where.lines.linePos(node.range[0]).line;
  }
  return undefined;
}

function issuesToMessages(file: string, where: Located, what: string, issues: v.BaseIssue<unknown>[]): string[] {
  return issues.map((issue) => {
    const keys = (issue.path ?? []).map((p) => p.key as string | number);
    const line = lineOf(where, keys);
    const field = keys.map((p, i) => (typeof p === 'number' ? `[${p}]` : i ? `.${p}` : p)).join('') || '(document)';
    const at = `${file}${line ? `:${line}` : ''}: ${field}`;
    if (issue.message === UNKNOWN_FIELD && keys.length) {
      return `${at}: unknown field (${what} has no "${keys[keys.length - 1]}")`;
    }
    // A bootstrap token is a credential: never quoted, even a malformed one.
    if (issue.type === 'raw_check') return keys[keys.length - 1] === 'token' ? `${at}: ${issue.message}` : `${at}: ${quote(issue.input)} ${issue.message}`;
    return `${at}: ${issue.message.replace(/^Invalid (type|key): /, '')}`;
  });
}

function parse(schema: v.GenericSchema, value: unknown, file: string, where: Located, what: string): Parsed {
  const result = v.safeParse(schema, value, { abortEarly: false });
  if (result.success) return result.output as Parsed;
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
  const found: { kubepki?: Parsed; version?: KubeadmVersion; init?: Parsed; cluster?: Parsed; kubelet?: Parsed } = {};
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
    if (apiVersion === KUBELET_API_VERSION && kind === 'KubeletConfiguration') {
      // The kubelet's own settings, merged under kubepki's (components/flags.ts, kubeletConfiguration).
      if (found.kubelet) throw new UserError(`${file}: more than one ${what} document`);
      const { apiVersion: _a, kind: _k, ...settings } = value as Record<string, unknown>;
      found.kubelet = settings;
      continue;
    }
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
        found[key] = parse(kubeadm[version][key], value, file, where, what);
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
  if (found.kubelet) {
    if (input.kubeletConfig) throw new UserError(`${file}: gives the kubelet's settings twice (kubelet.config and a KubeletConfiguration document); use one`);
    input.kubeletConfig = found.kubelet;
    (input.origins ??= {}).kubeletConfig = 'KubeletConfiguration';
  }
  // A relative path in a file is relative to that file, not to wherever kubepki runs.
  const resolve = (p: string | undefined) => (p === undefined ? undefined : path.resolve(path.dirname(file), p));
  const record = input as Record<string, unknown>;
  for (const f of FIELDS as readonly Field[]) if (f.path && typeof record[f.input] === 'string') record[f.input] = resolve(record[f.input] as string);
  for (const key of ['etcdCAFile', 'etcdCertFile', 'etcdKeyFile'] as const) input[key] = resolve(input[key]);
  for (const m of input.etcdMembers ?? []) m.dataDir = resolve(m.dataDir);
  return input;
}
