/** Loading a CA (certificate and key) from the cert dir, to sign with it. */
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { describeSystemError, UserError } from '../errors.js';
import { caEntry, certPath, keyPath, type CAName } from './catalog.js';
import { parsePrivateKeyPem, spkiDer } from './keys.js';
import { Certificate } from './certificate.js';
import type { Signer } from './issue.js';
import { certificateFacts, parseCertificatePem } from './x509.js';

/** The CA's certificate is here but its key is not: the CA is managed outside kubepki. */
export class ExternalCAError extends UserError {}

export function loadSigner(certDir: string, name: CAName): Signer {
  const entry = caEntry(name);
  const crt = path.join(certDir, certPath(entry));
  const key = path.join(certDir, keyPath(entry));
  const read = (file: string, what: string) => {
    try {
      return readFileSync(file);
    } catch (e) {
      const missing = (e as NodeJS.ErrnoException).code === 'ENOENT';
      const message = `${file}: cannot read the ${name} ${what}: ${describeSystemError(e)}`;
      if (missing && what === 'key') throw new ExternalCAError(`${message} (is this CA managed outside kubepki?)`);
      throw new UserError(message);
    }
  };
  let certificate;
  try {
    certificate = parseCertificatePem(read(crt, 'certificate'));
  } catch (e) {
    if (e instanceof UserError) throw e;
    throw new UserError(`${crt} ${(e as Error).message}`);
  }
  let parsed;
  try {
    parsed = parsePrivateKeyPem(read(key, 'key'));
  } catch (e) {
    if (e instanceof UserError) throw e;
    throw new UserError(`${key} ${(e as Error).message}`);
  }
  if (!certificateFacts(certificate).isCA) throw new UserError(`${crt} is not a CA certificate`);
  if (!spkiDer(parsed.key).equals(certificateFacts(certificate).spki)) throw new UserError(`${key} does not match ${crt}`);
  return { certificate: Certificate.fromDer(Buffer.from(certificate.rawData)), key: parsed.key, algorithm: parsed.algorithm };
}
