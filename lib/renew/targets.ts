/**
 * What `certs renew` can renew: the catalog's leaf certificates and the
 * kubeconfigs' embedded client certificates, through one interface (as
 * kubeadm's renewal manager treats file and kubeconfig certificates alike).
 */
import { lstatSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { parseDocument } from 'yaml';
import type { ClusterSpec } from '../config/spec.js';
import { describeSystemError } from '../errors.js';
import { parseKubeconfig } from '../kubeconfig/kubeconfig.js';
import {
  KUBECONFIGS, certPath, certificatesFor, keyPath,
  type CAName, type CertEntry, type Component, type Consumer, type KubeconfigEntry,
} from '../pki/catalog.js';
import { KeyPair, parsePrivateKeyPem, spkiDer } from '../pki/keys.js';
import type { Certificate } from '../pki/certificate.js';
import { parseCertificatePem, type X509Certificate } from '../pki/x509.js';

export interface Current {
  certificate: X509Certificate;
  key: KeyPair;
}

export interface RenewTarget {
  name: string;
  longName: string;
  ca: CAName;
  /** The directory its files are in, and the files (relative to it). */
  dir: string;
  files: string[];
  consumers: readonly Consumer[];
  /** Read and check the current certificate and key; throws a message on trouble. */
  read(): Current;
  /** The new files' content, from the new certificate and key. */
  write(certificate: Certificate, key: KeyPair, caPem: string): { rel: string; data: string; mode: number }[];
}

export class RenewError extends Error {
  constructor(message: string, readonly kind: 'missing' | 'invalid') {
    super(message);
  }
}

function readRegular(file: string): string {
  let st;
  try {
    st = lstatSync(file);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') throw new RenewError(`${file} is missing`, 'missing');
    throw new RenewError(`${file} cannot be read: ${describeSystemError(e)}`, 'invalid');
  }
  if (!st.isFile()) throw new RenewError(`${file} is ${st.isDirectory() ? 'a directory' : st.isSymbolicLink() ? 'a symbolic link' : 'not a regular file'}; kubepki renews regular files only`, 'invalid');
  try {
    return readFileSync(file, 'utf8');
  } catch (e) {
    throw new RenewError(`${file} cannot be read: ${describeSystemError(e)}`, 'invalid');
  }
}

function parseBoth(certText: string, keyText: string, where: string, keyWhere: string): Current {
  let certificate;
  try {
    certificate = parseCertificatePem(certText);
  } catch (e) {
    throw new RenewError(`${where} ${(e as Error).message}`, 'invalid');
  }
  let parsed;
  try {
    parsed = parsePrivateKeyPem(keyText);
  } catch (e) {
    throw new RenewError(`${keyWhere} ${(e as Error).message}`, 'invalid');
  }
  if (!spkiDer(parsed.key).equals(Buffer.from(certificate.publicKey.rawData))) {
    throw new RenewError(`${keyWhere} does not match ${where}`, 'invalid');
  }
  return { certificate, key: new KeyPair(parsed.algorithm, { privateKey: parsed.key }) };
}

function fileTarget(entry: CertEntry, certDir: string): RenewTarget {
  const crt = certPath(entry);
  const key = keyPath(entry);
  return {
    name: entry.name,
    longName: entry.longName,
    ca: entry.ca!,
    dir: certDir,
    files: [crt, key],
    consumers: entry.consumers,
    read: () => parseBoth(readRegular(path.join(certDir, crt)), readRegular(path.join(certDir, key)), path.join(certDir, crt), path.join(certDir, key)),
    write: (certificate, pair) => [
      { rel: crt, data: certificate.pem, mode: 0o644 },
      { rel: key, data: pair.privateKeyPem, mode: 0o600 },
    ],
  };
}

function kubeconfigTarget(entry: KubeconfigEntry, kubeconfigDir: string): RenewTarget {
  const file = path.join(kubeconfigDir, entry.file);
  let text = '';
  return {
    name: entry.name,
    longName: entry.longName,
    ca: 'ca',
    dir: kubeconfigDir,
    files: [entry.file],
    consumers: entry.consumers,
    read: () => {
      text = readRegular(file);
      let kc;
      try {
        kc = parseKubeconfig(text);
      } catch (e) {
        throw new RenewError(`${file} ${(e as Error).message}`, 'invalid');
      }
      if (!kc.certPem || !kc.keyPem) {
        throw new RenewError(`${file} has no embedded client certificate and key for its current user${kc.certFile ? ` (it points to ${kc.certFile}, which its owner rotates)` : ''}; kubepki renews embedded ones only`, 'invalid');
      }
      return parseBoth(kc.certPem, kc.keyPem, `${file} (client certificate)`, `${file} (client key)`);
    },
    write: (certificate, pair, caPem) => {
      // Only the current user's certificate and key change (and the CA is re-embedded from disk, as kubeadm does);
      // everything else in the file stays as it was.
      const doc = parseDocument(text);
      const context = (doc.get('contexts') as { items: unknown[] } | undefined)?.items
        .map((c) => (c as { toJSON(): { name: string; context: { cluster: string; user: string } } }).toJSON())
        .find((c) => c.name === doc.get('current-context'));
      const users = doc.get('users') as { items: { get(k: string): unknown; getIn(k: string[]): unknown; setIn(k: string[], v: unknown): void }[] };
      const user = users.items.find((u) => u.get('name') === context?.context.user)!;
      user.setIn(['user', 'client-certificate-data'], Buffer.from(certificate.pem).toString('base64'));
      user.setIn(['user', 'client-key-data'], Buffer.from(pair.privateKeyPem).toString('base64'));
      const clusters = doc.get('clusters') as { items: { get(k: string): unknown; setIn(k: string[], v: unknown): void }[] };
      clusters.items.find((c) => c.get('name') === context?.context.cluster)?.setIn(['cluster', 'certificate-authority-data'], Buffer.from(caPem).toString('base64'));
      return [{ rel: entry.file, data: doc.toString(), mode: 0o600 }];
    },
  };
}

/** Every renewable certificate of this cluster, by name. */
export function renewTargets(spec: ClusterSpec): RenewTarget[] {
  const certDir = path.resolve(spec.certificatesDir);
  const kubeconfigDir = path.resolve(spec.kubeconfigDir);
  return [
    ...certificatesFor(spec).filter((e) => e.ca).map((e) => fileTarget(e, certDir)),
    ...KUBECONFIGS.map((k) => kubeconfigTarget(k, kubeconfigDir)),
  ];
}

/** Components that read a renewed file and must restart to use it. */
export function componentsToRestart(targets: readonly RenewTarget[]): Component[] {
  const order: Component[] = ['etcd', 'kube-apiserver', 'kube-controller-manager', 'kube-scheduler', 'kubelet'];
  const used = new Set(targets.flatMap((t) => t.consumers.map((c) => c.component)));
  return order.filter((c) => used.has(c));
}
