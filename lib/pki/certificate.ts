/**
 * A certificate as kubepki holds one to sign with or to write: its DER, and the
 * few fields issuing needs, read once. Light on purpose (no ASN.1 library):
 * `kubepki init` on an empty folder never loads more than this. Reading every
 * field of a certificate of unknown shape is x509.ts's job.
 */
import { X509Certificate as NativeX509 } from 'node:crypto';
import { children, commonName, contents, DerError, pem, readNode, readOid, readTime, whole } from './der.js';

const OID_SUBJECT_KEY_IDENTIFIER = '2.5.29.14';

export class Certificate {
  private constructor(
    readonly der: Buffer,
    /** The subject Name, as its DER bytes: a leaf's issuer must repeat them exactly. */
    readonly subjectDer: Buffer,
    /** The issuer Name, as its DER bytes. */
    readonly issuerDer: Buffer,
    readonly notBefore: Date,
    readonly notAfter: Date,
    /** Lower-case hex of the serial number's octets. */
    readonly serialNumber: string,
    /** Subject key identifier, when the certificate has one. */
    readonly keyId: Buffer | undefined,
  ) {}

  /** Read the fields issuing needs; throws DerError when `der` is not an X.509 certificate. */
  static fromDer(der: Buffer): Certificate {
    try {
      return Certificate.read(der);
    } catch (e) {
      if (e instanceof DerError) throw e;
      throw new DerError('not a DER certificate'); // a structure that is not the one expected
    }
  }

  private static read(der: Buffer): Certificate {
    const cert = readNode(der, 0);
    if (cert.tag !== 0x30 || cert.end !== der.length) throw new DerError('not a DER certificate');
    const tbs = children(der, cert)[0];
    if (!tbs || tbs.tag !== 0x30) throw new DerError('not a DER certificate');
    const fields = children(der, tbs);
    const at = fields[0]?.tag === 0xa0 ? 1 : 0; // version is optional (v1)
    const [serial, , issuer, validity, subject] = fields.slice(at);
    if (!serial || !issuer || !validity || !subject || serial.tag !== 0x02 || issuer.tag !== 0x30 || validity.tag !== 0x30 || subject.tag !== 0x30) {
      throw new DerError('not a DER certificate');
    }
    const [notBefore, notAfter] = children(der, validity);
    if (!notBefore || !notAfter) throw new DerError('a certificate without a validity period');
    let keyId: Buffer | undefined;
    const extensions = fields.find((f) => f.tag === 0xa3);
    if (extensions) {
      for (const ext of children(der, children(der, extensions)[0]!)) {
        const parts = children(der, ext);
        if (readOid(der, parts[0]!) !== OID_SUBJECT_KEY_IDENTIFIER) continue;
        const value = parts[parts.length - 1]!; // OCTET STRING holding an OCTET STRING
        keyId = Buffer.from(contents(der, readNode(der, value.contentStart)));
      }
    }
    return new Certificate(
      der,
      Buffer.from(whole(der, subject)),
      Buffer.from(whole(der, issuer)),
      readTime(der, notBefore),
      readTime(der, notAfter),
      contents(der, serial).toString('hex'),
      keyId,
    );
  }

  /** The first certificate in a PEM text. */
  static fromPem(pem: string): Certificate {
    const m = /-----BEGIN CERTIFICATE-----([\s\S]*?)-----END CERTIFICATE-----/.exec(pem);
    if (!m) throw new DerError('no PEM certificate');
    return Certificate.fromDer(Buffer.from(m[1]!.replace(/\s+/g, ''), 'base64'));
  }

  /** The issuer's common name (CN), when it has one. */
  get issuerCommonName(): string | undefined {
    try {
      return commonName(this.issuerDer);
    } catch {
      return undefined;
    }
  }

  /** PEM, 64 columns, with a final newline (as kubeadm writes it). */
  get pem(): string {
    return pem('CERTIFICATE', this.der);
  }
}

/**
 * Whether the certificate `der` was issued by `issuer`: its issuer name and
 * key identifier fit (OpenSSL's X509_check_issued) and `issuer`'s key made its
 * signature. On Node's built-in X509Certificate, so no ASN.1 code is loaded.
 */
export function isSignedBy(der: Buffer | Uint8Array | ArrayBuffer, issuer: Certificate): boolean {
  try {
    const cert = new NativeX509(Buffer.from(der as Uint8Array));
    const ca = new NativeX509(issuer.der);
    return cert.checkIssued(ca) && cert.verify(ca.publicKey);
  } catch {
    return false;
  }
}
