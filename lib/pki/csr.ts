/**
 * PKCS#10 certificate signing requests kubepki writes for an external CA
 * (renew --csr-only, certs generate-csr): subject, SANs and (generate-csr)
 * the extended key usages the catalog gives, signed by the new key through the
 * signer interface.
 */
import * as der from './der.js';
import { altNamesExtension, encodeName, extension, hasAltNames, keyUsageExtension } from './encode.js';
import { signStructure } from './issue.js';
import { EKU_OID, OID } from './oids.js';
import { pem } from './pem.js';
import type { KeySigner } from './signer.js';
import type { AltNames, ExtKeyUsage, KeyUsage, Subject } from './catalog.js';

export async function createCsr(req: { subject: Subject; sans: AltNames; spki: Buffer; signer: KeySigner; usages?: { keyUsage: readonly KeyUsage[]; extKeyUsage: readonly ExtKeyUsage[] } }): Promise<string> {
  // The usages the certificate needs, asked for (an external CA applies its own profile, or copies them: openssl -copy_extensions).
  const extensions = [
    ...(hasAltNames(req.sans) ? [altNamesExtension(req.sans)] : []),
    ...(req.usages ? [keyUsageExtension(req.usages.keyUsage)] : []),
    ...(req.usages?.extKeyUsage.length ? [extension(OID.extKeyUsage, false, der.sequence(...req.usages.extKeyUsage.map((u) => der.oid(EKU_OID[u]))))] : []),
  ];
  const attributes = extensions.length ? [der.sequence(der.oid(OID.extensionRequest), der.set(der.sequence(...extensions)))] : [];
  // CertificationRequestInfo: version 0, subject, subjectPKInfo, [0] IMPLICIT attributes (a SET).
  const info = der.sequence(der.smallInteger(0), encodeName(req.subject), req.spki, der.tlv(0xa0, ...attributes, Buffer.alloc(0)));
  return pem('CERTIFICATE REQUEST', await signStructure(info, req.signer));
}
