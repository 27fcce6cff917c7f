/**
 * Per-node bundles for fleets: for each node of the inventory, under
 * <out>/<name>/, what it needs to join with certificates issued by kubepki
 * instead of TLS bootstrap: the kubelet's client identity (kubelet.conf), its
 * serving certificate, and for control-plane nodes their own apiserver and
 * etcd server/peer certificates. Idempotent like init: what exists and still
 * matches is kept; what does not is an error naming it.
 */
import { lstatSync, readFileSync } from 'node:fs';
import path from 'node:path';
import type { ClusterSpec, NodeSpec } from '../config/spec.js';
import { buildKubeconfig, serverURL } from '../kubeconfig/kubeconfig.js';
import { KUBECONFIGS, PROFILES, caEntry, certPath, findEntry, keyPath, validityFor, type CAName, type CertEntry } from '../pki/catalog.js';
import { generateKey, parsePrivateKeyPem, spkiDer } from '../pki/keys.js';
import { issueCertificate, validityFrom, type Signer } from '../pki/issue.js';
import { parseCertificatePem } from '../pki/x509.js';
import { judgeKubeconfig, leafProblem } from '../plan/leaf.js';
import type { NewFile } from '../apply/transaction.js';
import { describeSystemError } from '../errors.js';

/** The description as seen from one node of the inventory. */
export function nodeSpec(spec: ClusterSpec, node: NodeSpec): ClusterSpec {
  return { ...spec, nodeName: node.name, advertiseAddress: node.addresses[0]!, nodeAddresses: node.addresses };
}

const WORKER = ['kubelet-server'];
const CONTROL_PLANE = ['kubelet-server', 'apiserver', 'etcd-server', 'etcd-peer'];
const KUBELET_CONF = KUBECONFIGS.find((k) => k.name === 'kubelet.conf')!;

export function entriesFor(spec: ClusterSpec, node: NodeSpec): CertEntry[] {
  return (node.role === 'control-plane' ? CONTROL_PLANE : WORKER).map((n) => findEntry(n)!).filter((e) => !(e.etcd && spec.etcd.external));
}

export interface NodeResult {
  node: string;
  created: string[];
  kept: string[];
  problems: string[];
  files: NewFile[];
}

type Read = (rel: string) => Buffer | undefined;

/**
 * Reads a file under the bundle folder: undefined when absent; throws a message
 * for anything but a regular file. A node whose folder does not exist yet (a
 * fleet's first run) costs one lstat, not a failed open per file.
 */
export function reader(root: string): Read {
  const absentDirs = new Map<string, boolean>();
  return (rel) => {
    const top = rel.split('/')[0]!;
    let absent = absentDirs.get(top);
    if (absent === undefined) {
      absent = lstatSync(path.join(root, top), { throwIfNoEntry: false }) === undefined;
      absentDirs.set(top, absent);
    }
    if (absent) return undefined;
    const file = path.join(root, rel);
    let st;
    try {
      st = lstatSync(file, { throwIfNoEntry: false });
      if (st === undefined) return undefined;
    } catch (e) {
      throw new Error(`cannot be read: ${describeSystemError(e)}`);
    }
    // As init: kubepki reads and keeps regular files only, never what a link points at.
    if (!st.isFile()) throw new Error(`is ${st.isSymbolicLink() ? 'a symbolic link' : st.isDirectory() ? 'a directory' : 'not a regular file'}; kubepki reads and writes regular files only: move it away`);
    try {
      return readFileSync(file);
    } catch (e) {
      throw new Error(`cannot be read: ${describeSystemError(e)}`);
    }
  };
}

/** Plan and make one node's bundle (new files are returned, not written). */
export async function issueNode(o: { spec: ClusterSpec; node: NodeSpec; signers: ReadonlyMap<CAName, Signer>; read: Read; now: number }): Promise<NodeResult> {
  const { node } = o;
  const spec = nodeSpec(o.spec, node);
  const result: NodeResult = { node: node.name, created: [], kept: [], problems: [], files: [] };
  const at = (rel: string) => `${node.name}/${rel}`;
  const read = (rel: string) => {
    try {
      return o.read(at(rel));
    } catch (e) {
      result.problems.push(`${at(rel)}: ${(e as Error).message}`);
      return null;
    }
  };
  const issue = async (subject: { cn: string; o?: string[] }, sans: { dns: string[]; ips: string[] }, profile: (typeof PROFILES)[keyof typeof PROFILES], ca: Signer) => {
    const key = await generateKey(spec.encryptionAlgorithm);
    const certificate = await issueCertificate({
      subject, sans, profile, publicKey: key.spki, publicKeyAlgorithm: key.algorithm, ...validityFrom(o.now, validityFor(profile, spec)), issuer: ca,
    });
    return { key, certificate };
  };

  // Public CA certificates the node needs.
  const cas: CAName[] = node.role === 'control-plane' && !spec.etcd.external ? ['ca', 'etcd-ca'] : ['ca'];
  for (const name of cas) {
    const rel = certPath(caEntry(name));
    const want = o.signers.get(name)!.certificate.pem;
    const have = read(rel);
    if (have === null) continue;
    if (have === undefined) {
      result.files.push({ rel: at(rel), data: want, mode: 0o644 });
      result.created.push(rel);
    } else if (have.toString() === want) result.kept.push(rel);
    else result.problems.push(`${at(rel)} is not this cluster's ${name} certificate; move it away`);
  }

  for (const entry of entriesFor(spec, node)) {
    const crt = certPath(entry);
    const key = keyPath(entry);
    const ca = o.signers.get(entry.ca!)!;
    const subject = entry.subject(spec);
    const sans = entry.sans(spec);
    const [haveCrt, haveKey] = [read(crt), read(key)];
    if (haveCrt === null || haveKey === null) continue;
    if (haveCrt && haveKey) {
      let problem: string | undefined;
      try {
        const cert = parseCertificatePem(haveCrt);
        if (!spkiDer(parsePrivateKeyPem(haveKey).key).equals(Buffer.from(cert.publicKey.rawData))) problem = `${at(key)} does not match ${at(crt)}`;
        problem ??= await leafProblem({ crt: at(crt), key: at(key), cert, subject, sans, ca: ca.certificate, caName: entry.ca!, caFile: certPath(caEntry(entry.ca!)) });
      } catch (e) {
        problem = `${at(crt)} or ${at(key)}: ${(e as Error).message}; move them away to have them re-created`;
      }
      if (problem) result.problems.push(problem);
      else result.kept.push(crt, key);
      continue;
    }
    if (haveCrt || haveKey) {
      const [present, absent] = haveCrt ? [crt, key] : [key, crt];
      result.problems.push(`${at(present)} exists but ${at(absent)} does not; kubepki will not overwrite half a pair`);
      continue;
    }
    const made = await issue(subject, sans, PROFILES[entry.profile], ca);
    result.files.push({ rel: at(crt), data: made.certificate.pem, mode: 0o644 }, { rel: at(key), data: made.key.privateKeyPem, mode: 0o600 });
    result.created.push(crt, key);
  }

  // The kubelet's client identity, as a kubeconfig pointing at the cluster's endpoint.
  const ca = o.signers.get('ca')!;
  const subject = KUBELET_CONF.subject(spec);
  const have = read(KUBELET_CONF.file);
  if (have === undefined) {
    const made = await issue(subject, { dns: [], ips: [] }, PROFILES.client, ca);
    result.files.push({
      rel: at(KUBELET_CONF.file),
      data: buildKubeconfig({
        clusterName: spec.clusterName, server: serverURL(o.spec, 'endpoint'), caPem: ca.certificate.pem,
        user: subject.cn, credentials: { certPem: made.certificate.pem, keyPem: made.key.privateKeyPem },
      }),
      mode: 0o600,
    });
    result.created.push(KUBELET_CONF.file);
  } else if (have !== null) {
    const verdict = await judgeKubeconfig(have.toString(), { where: at(KUBELET_CONF.file), ca: ca.certificate, subject });
    if (verdict.problem !== undefined) result.problems.push(verdict.problem);
    else result.kept.push(KUBELET_CONF.file);
  }
  return result;
}
