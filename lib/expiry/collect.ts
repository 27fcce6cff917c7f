/**
 * What check-expiration looks at: the catalog's certificates and CAs, the
 * kubeconfigs' embedded client certificates, and any extra paths. Reading uses
 * kubepki's light DER reader (lib/pki/certificate.ts), which takes out of a
 * certificate only what this command shows (validity, issuer): ~10x faster than
 * having OpenSSL decode every field (Node's X509Certificate), which counts for
 * tens of thousands of files. A file that is missing, unreadable or corrupt
 * becomes a row that says so: never a crash.
 */
import { Certificate } from '../pki/certificate.js';
import { lstatSync, readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import type { ClusterSpec } from '../config/spec.js';
import { describeSystemError } from '../errors.js';
import { parseKubeconfig } from '../kubeconfig/kubeconfig.js';
import { KUBECONFIGS, certPath, certificatesFor, type CAName } from '../pki/catalog.js';
import { externalCAs } from '../plan/inspect.js';

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
}

function firstCertificate(pem: string): Certificate {
  const block = /-----BEGIN CERTIFICATE-----[\s\S]*?-----END CERTIFICATE-----/.exec(pem);
  if (!block) throw new Error('holds no PEM certificate');
  try {
    return Certificate.fromPem(block[0]);
  } catch {
    throw new Error('holds a PEM certificate that does not parse');
  }
}

function readRow(row: Omit<Row, 'notAfter' | 'problem' | 'reason'>, read: () => Certificate): Row {
  try {
    const cert = read();
    const issuerCN = row.kind === 'extra' ? cert.issuerCommonName : undefined;
    return { ...row, ...(issuerCN ? { caName: issuerCN } : {}), notAfter: cert.notAfter };
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    if (code === 'ENOENT') return { ...row, problem: 'missing' };
    return { ...row, problem: 'invalid', reason: code ? describeSystemError(e) : (e as Error).message };
  }
}

const readRegular = (file: string) => {
  const st = lstatSync(file);
  if (!st.isFile()) throw new Error(st.isDirectory() ? 'is a directory' : st.isSymbolicLink() ? 'is a symbolic link' : 'is not a regular file');
  return readFileSync(file, 'utf8');
};

export function collectRows(spec: ClusterSpec): { certificates: Row[]; authorities: Row[] } {
  const certDir = path.resolve(spec.certificatesDir);
  const external = externalCAs(certDir, spec);
  const certificates: Row[] = [];
  const authorities: Row[] = [];
  for (const e of certificatesFor(spec)) {
    const file = path.join(certDir, certPath(e));
    const caName = e.ca ?? e.name;
    const row = readRow(
      { name: e.name, kind: e.ca ? 'certificate' : 'ca', path: file, ...(e.ca ? { caName: e.ca } : {}), externallyManaged: external.has(caName as CAName) },
      () => firstCertificate(readRegular(file)),
    );
    (e.ca ? certificates : authorities).push(row);
  }
  for (const k of KUBECONFIGS) {
    const file = path.join(path.resolve(spec.kubeconfigDir), k.file);
    certificates.push(readRow({ name: k.name, kind: 'kubeconfig', path: file, caName: 'ca', externallyManaged: external.has('ca') }, () => {
      const kc = parseKubeconfig(readRegular(file));
      if (kc.certPem) return firstCertificate(kc.certPem);
      if (kc.certFile) return firstCertificate(readRegular(path.resolve(path.dirname(file), kc.certFile)));
      throw new Error('has no client certificate for its current user');
    }));
  }
  const byName = (a: Row, b: Row) => a.name.localeCompare(b.name);
  return { certificates: certificates.sort(byName), authorities: authorities.sort(byName) };
}

const CERT_FILE = /\.(crt|pem|cer)$/;

/** Rows for extra paths: files as given, folders walked for *.crt, *.pem and *.cer. */
export function collectExtra(paths: readonly string[]): Row[] {
  const rows: Row[] = [];
  const visit = (file: string, explicit: boolean) => {
    let st;
    try {
      st = lstatSync(file);
    } catch (e) {
      rows.push({ name: file, kind: 'extra', path: file, externallyManaged: false, problem: 'missing', ...((e as NodeJS.ErrnoException).code === 'ENOENT' ? {} : { problem: 'invalid' as const, reason: describeSystemError(e) }) });
      return;
    }
    if (st.isDirectory()) {
      let names: string[];
      try {
        names = readdirSync(file).sort();
      } catch (e) {
        rows.push({ name: file, kind: 'extra', path: file, externallyManaged: false, problem: 'invalid', reason: describeSystemError(e) });
        return;
      }
      for (const n of names) visit(path.join(file, n), false);
      return;
    }
    if (!explicit && !CERT_FILE.test(file)) return;
    rows.push(readRow({ name: file, kind: 'extra', path: file, externallyManaged: false }, () => firstCertificate(readRegular(file))));
  };
  for (const p of paths) visit(path.resolve(p), true);
  return rows;
}
