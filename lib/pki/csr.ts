/**
 * PKCS#10 certificate signing requests kubepki writes (renew --csr-only) for
 * an external CA: subject and SANs, no usages (the CA applies its profile, as
 * with kubeadm's CSRs), signed by the new key through the signer interface.
 */
import * as der from './der.js';
import { altNamesExtension, encodeName, hasAltNames } from './encode.js';
import { signStructure } from './issue.js';
import { OID } from './oids.js';
import { pem } from './pem.js';
import type { KeySigner } from './signer.js';
import type { AltNames, Subject } from './catalog.js';

export async function createCsr(req: { subject: Subject; sans: AltNames; spki: Buffer; signer: KeySigner }): Promise<string> {
  const attributes = hasAltNames(req.sans)
    ? [der.sequence(der.oid(OID.extensionRequest), der.set(der.sequence(altNamesExtension(req.sans))))]
    : [];
  // CertificationRequestInfo: version 0, subject, subjectPKInfo, [0] IMPLICIT attributes (a SET).
  const info = der.sequence(der.smallInteger(0), encodeName(req.subject), req.spki, der.tlv(0xa0, ...attributes, Buffer.alloc(0)));
  return pem('CERTIFICATE REQUEST', await signStructure(info, req.signer));
}
