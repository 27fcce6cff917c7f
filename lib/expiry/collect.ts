/**
 * What check-expiration looks at: the catalog's certificates and CAs, the
 * kubeconfigs' embedded client certificates, and any extra paths. Files are
 * read by the engine's one reader (engine/observe.ts: regular files only,
 * links never followed) and certificates by kubepki's light DER reader
 * (lib/pki/certificate.ts), which takes out only what this command shows:
 * ~10x faster than having OpenSSL decode every field, which counts for tens
 * of thousands of files. A file that is missing, unreadable or corrupt becomes
 * a row that says so: never a crash.
 */
import { readdirSync } from 'node:fs';
import path from 'node:path';
import type { ClusterSpec } from '../config/spec.js';
import { DISK, Observer, externalCAsOnDisk, readRegular, troubleDetail } from '../engine/observe.js';
import { describeSystemError } from '../errors.js';
import { parseKubeconfig } from '../kubeconfig/kubeconfig.js';
import { Certificate } from '../pki/certificate.js';
import { KUBECONFIGS, certPath, certificatesFor, keyPath, type CAName } from '../pki/catalog.js';
import { PemError, type CertificateRole } from '../pki/pem.js';

export interface Row {
  name: string;
  kind: 'certificate' | 'kubeconfig' | 'ca' | 'extra';
  path: string;
  caName?: string;
  externallyManaged: boolean;
  notAfter?: Date;
  /** Why there is no date. */
  problem?: 'missing' | 'invalid';
  reason?: string;
  /** CAs: where the key is (a file, a PKCS#11 URI), or undefined when it is not here (managed elsewhere). */
  keyLocation?: string;
  /** A further certificate of a file ("ca#2": an issuer, or the other CA of a rotation): the name of the file's first. */
  partOf?: string;
}

/** The text of a regular file; a missing one is undefined, anything else that cannot be read an error in the one reader's words. */
function text(file: string): string | undefined {
  const st = readRegular(file);
  if (st.state === 'missing') return undefined;
  // The row already names the file: its reason is what is wrong with it.
  if (st.state === 'refused') throw new Error(troubleDetail(st.trouble));
  return st.data.toString();
}

/** Certificates of a PEM text by the file's role; a PEM that does not parse says so. */
function certificates(pem: string, role: CertificateRole): Certificate[] {
  try {
    return Certificate.allFromPem(pem, role);
  } catch (e) {
    if (e instanceof PemError) throw e;
    throw new PemError('holds a PEM certificate that does not parse');
  }
}

/** One row per certificate the file holds (a bundle's further ones as "<file>#2", ...). */
function readRows(row: Omit<Row, 'notAfter' | 'problem' | 'reason'>, read: () => Certificate[] | undefined): Row[] {
  try {
    const certs = read();
    if (!certs) return [{ ...row, problem: 'missing' }];
    return certs.map((cert, i) => {
      const issuerCN = row.kind === 'extra' ? cert.issuerCommonName : undefined;
      // Only a file's first certificate goes with the key beside it.
      const { keyLocation: _key, ...rest } = row;
      return { ...(i ? { ...rest, name: `${row.name}#${i + 1}`, partOf: row.name } : row), ...(issuerCN ? { caName: issuerCN } : {}), notAfter: cert.notAfter };
    });
  } catch (e) {
    return [{ ...row, problem: 'invalid', reason: (e as Error).message }];
  }
}

const single = (file: string) => () => {
  const t = text(file);
  return t === undefined ? undefined : certificates(t, 'single');
};

const bundle = (file: string) => () => {
  const t = text(file);
  return t === undefined ? undefined : certificates(t, 'bundle');
};

export function collectRows(spec: ClusterSpec): { certificates: Row[]; authorities: Row[] } {
  const certDir = path.resolve(spec.certificatesDir);
  const external = externalCAsOnDisk(spec);
  const certs: Row[] = [];
  const authorities: Row[] = [];
  for (const e of certificatesFor(spec)) {
    const file = path.join(certDir, certPath(e));
    const caName = e.ca ?? e.name;
    const keyLocation = e.ca ? undefined : spec.caKeys[e.name as CAName] ?? (external.has(e.name as CAName) ? undefined : path.join(certDir, keyPath(e)));
    const rows = readRows({
      name: e.name, kind: e.ca ? 'certificate' : 'ca', path: file, ...(e.ca ? { caName: e.ca } : {}), externallyManaged: external.has(caName as CAName),
      ...(keyLocation ? { keyLocation } : {}),
    }, e.ca ? single(file) : bundle(file)); // a CA file may hold its issuers, or during a rotation the other CA: one row each
    (e.ca ? certs : authorities).push(...rows);
  }
  for (const k of KUBECONFIGS) {
    const file = path.join(path.resolve(spec.kubeconfigDir), k.file);
    certs.push(...readRows({ name: k.name, kind: 'kubeconfig', path: file, caName: k.signer, externallyManaged: external.has(k.signer) }, () => {
      const t = text(file);
      if (t === undefined) return undefined;
      const kc = parseKubeconfig(t);
      if (kc.certPem) return certificates(kc.certPem, 'single');
      // A kubelet that rotates its own client certificate: the file its kubeconfig names, read through its link as renew reads it.
      if (kc.certFile) {
        const own = path.resolve(path.dirname(file), kc.certFile);
        const r = new Observer({ kubelet: path.dirname(own) }).kubeletClient('kubelet', path.basename(own));
        if (r.state === 'missing') throw new Error(`its client certificate ${own} is missing`);
        if (r.state === 'refused') throw new Error(`its client certificate ${own} ${troubleDetail(r.trouble)}`);
        return [r.value.certificate.certificate];
      }
      throw new Error('has no client certificate for its current user');
    }));
  }
  // Byte order, as kubeadm (Go) sorts; localeCompare would load ICU's collation (~10 ms of start-up) for the same order.
  const byName = (a: Row, b: Row) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0);
  return { certificates: certs.sort(byName), authorities: authorities.sort(byName) };
}

const CERT_FILE = /\.(crt|pem|cer)$/;

/** Rows for extra paths: files as given, folders walked for *.crt, *.pem and *.cer; a file may hold several certificates. */
export function collectExtra(paths: readonly string[]): Row[] {
  const rows: Row[] = [];
  const visit = (file: string, explicit: boolean) => {
    const row = { name: file, kind: 'extra' as const, path: file, externallyManaged: false };
    let kind;
    try {
      kind = DISK.stat(file);
    } catch (e) {
      rows.push({ ...row, problem: 'invalid', reason: describeSystemError(e) });
      return;
    }
    if (!kind) {
      rows.push({ ...row, problem: 'missing' });
      return;
    }
    if (kind.type === 'dir') {
      let names: string[];
      try {
        names = readdirSync(file).sort();
      } catch (e) {
        rows.push({ ...row, problem: 'invalid', reason: describeSystemError(e) });
        return;
      }
      for (const n of names) visit(path.join(file, n), false);
      return;
    }
    if (!explicit && !CERT_FILE.test(file)) return;
    rows.push(...readRows(row, () => {
      const t = text(file);
      return t === undefined ? undefined : certificates(t, 'bundle');
    }));
  };
  for (const p of paths) visit(path.resolve(p), true);
  return rows;
}
