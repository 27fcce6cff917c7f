/**
 * A certificate as kubepki holds one to sign with, to write or to check: its
 * DER, and the few fields issuing, verifying and check-expiration need, read
 * once with the small DER reader. Light on purpose (no ASN.1 library): `kubepki
 * init` on an empty folder and check-expiration over thousands of files never
 * load more than this. Reading every field of a certificate of unknown shape
 * is x509.ts's job.
 */
import { createPublicKey, verify, type KeyObject } from 'node:crypto';
import ipaddr from 'ipaddr.js';
import { altNames, type AltNames, type Subject } from './catalog.js';
import { children, commonName, contents, DerError, readDirectoryString, readNode, readOid, readTime, whole, type Node } from './der.js';
import { ekuName, OID } from './oids.js';
import { certificateBlocks, pem, type CertificateRole } from './pem.js';

/** What a certificate says, in the catalog's terms, for comparing against a plan. */
export interface CertificateFacts {
  subject: Subject;
  sans: AltNames;
  isCA: boolean;
  extKeyUsage: string[];
  notBefore: Date;
  notAfter: Date;
  serial: string;
  /** DER SubjectPublicKeyInfo. */
  spki: Buffer;
}

const DIGEST_OF_SIGNATURE: Record<string, string> = { [OID.sha256WithRSA]: 'sha256', [OID.ecdsaWithSHA256]: 'sha256', [OID.ecdsaWithSHA384]: 'sha384' };

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
    /** Authority key identifier (its keyIdentifier field), when it has one. */
    readonly authorityKeyId: Buffer | undefined,
    /** Where the SubjectPublicKeyInfo, the signed part and the signature are in `der`: read when asked for (check-expiration never does). */
    private readonly at: { spki: Node; tbs: Node; algorithm: Node; value: Node; subject: Node; extensions: Map<string, Node> },
  ) {}

  private known?: CertificateFacts;

  /**
   * The subject (CN and O), SANs, CA flag and extended key usages, read from
   * the DER when first asked for (the planner compares them with the
   * description). Throws DerError for an extension that is not what its OID says.
   */
  get facts(): CertificateFacts {
    if (this.known) return this.known;
    const der = this.der;
    const inner = (id: string) => {
      const ext = this.at.extensions.get(id);
      return ext ? readNode(der, ext.contentStart) : undefined;
    };
    const cn: string[] = [];
    const o: string[] = [];
    for (const rdn of children(der, this.at.subject)) {
      for (const atv of children(der, rdn)) {
        const [type, value] = children(der, atv);
        if (!type || !value) throw new DerError('a name attribute without a value');
        const id = readOid(der, type);
        const text = id === OID.commonName || id === OID.organization ? readDirectoryString(der, value) : undefined;
        if (text !== undefined) (id === OID.commonName ? cn : o).push(text);
      }
    }
    const dns: string[] = [];
    const ips: string[] = [];
    const san = inner(OID.subjectAltName);
    for (const name of san ? children(der, san) : []) {
      if (name.tag === 0x82) dns.push(contents(der, name).toString('latin1'));
      else if (name.tag === 0x87) ips.push(ipaddr.fromByteArray([...contents(der, name)]).toString());
    }
    const bc = inner(OID.basicConstraints);
    const first = bc ? children(der, bc)[0] : undefined;
    const eku = inner(OID.extKeyUsage);
    this.known = {
      subject: { cn: cn[0] ?? '', ...(o.length ? { o } : {}) },
      sans: altNames(dns, ips),
      isCA: first?.tag === 0x01 && contents(der, first)[0] !== 0,
      extKeyUsage: eku ? children(der, eku).map((n) => ekuName(readOid(der, n))) : [],
      notBefore: this.notBefore,
      notAfter: this.notAfter,
      serial: this.serialNumber,
      spki: this.spki,
    };
    return this.known;
  }

  /** DER SubjectPublicKeyInfo. */
  get spki(): Buffer {
    return Buffer.from(whole(this.der, this.at.spki));
  }

  /** Read the fields kubepki needs; throws DerError when `der` is not an X.509 certificate. */
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
    const [tbs, algorithm, value] = children(der, cert);
    if (!tbs || tbs.tag !== 0x30 || !algorithm || algorithm.tag !== 0x30 || !value || value.tag !== 0x03) throw new DerError('not a DER certificate');
    const fields = children(der, tbs);
    const at = fields[0]?.tag === 0xa0 ? 1 : 0; // version is optional (v1)
    const [serial, , issuer, validity, subject, spki] = fields.slice(at);
    if (!serial || !issuer || !validity || !subject || !spki || serial.tag !== 0x02 || issuer.tag !== 0x30 || validity.tag !== 0x30 || subject.tag !== 0x30 || spki.tag !== 0x30) {
      throw new DerError('not a DER certificate');
    }
    const [notBefore, notAfter] = children(der, validity);
    if (!notBefore || !notAfter) throw new DerError('a certificate without a validity period');
    let keyId: Buffer | undefined;
    let authorityKeyId: Buffer | undefined;
    const byId = new Map<string, Node>();
    const extensions = fields.find((f) => f.tag === 0xa3);
    if (extensions) {
      for (const ext of children(der, children(der, extensions)[0]!)) {
        const parts = children(der, ext);
        const id = readOid(der, parts[0]!);
        const octets = parts[parts.length - 1]!; // OCTET STRING holding the extension's DER
        if (octets.tag !== 0x04) throw new DerError('an extension without its value');
        byId.set(id, octets);
        if (id === OID.subjectKeyIdentifier) keyId = Buffer.from(contents(der, readNode(der, octets.contentStart)));
        if (id === OID.authorityKeyIdentifier) {
          const first = children(der, readNode(der, octets.contentStart))[0];
          if (first?.tag === 0x80) authorityKeyId = Buffer.from(contents(der, first));
        }
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
      authorityKeyId,
      { spki, tbs, algorithm, value, subject, extensions: byId },
    );
  }

  /** The certificate of a PEM text that holds exactly one (pem.ts's rule for a certificate file). */
  static fromPem(text: string | Buffer): Certificate {
    return Certificate.fromDer(certificateBlocks(text, 'single')[0]!);
  }

  /** Every certificate of a PEM text, by the file's role (pem.ts). */
  static allFromPem(text: string | Buffer, role: CertificateRole): Certificate[] {
    return certificateBlocks(text, role).map((b) => Certificate.fromDer(b));
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

  /**
   * Whether `issuer` issued this certificate: its issuer name is the issuer's
   * subject, the key identifiers agree where both are present (as OpenSSL's
   * X509_check_issued), and the issuer's key made the signature.
   */
  isSignedBy(issuer: Certificate): boolean {
    // A plan asks this of the same pair more than once (is it the new CA's, or the old one's?): verified once.
    let verdict = this.#verdicts?.get(issuer);
    if (verdict === undefined) (this.#verdicts ??= new WeakMap()).set(issuer, (verdict = this.#verify(issuer)));
    return verdict;
  }

  #verdicts?: WeakMap<Certificate, boolean>;
  #publicKey?: KeyObject;

  /** Its public key, made once (every certificate a CA signed is checked with it). */
  get publicKey(): KeyObject {
    return (this.#publicKey ??= createPublicKey({ key: this.spki, format: 'der', type: 'spki' }));
  }

  #verify(issuer: Certificate): boolean {
    if (!this.issuerDer.equals(issuer.subjectDer)) return false;
    if (this.authorityKeyId && issuer.keyId && !this.authorityKeyId.equals(issuer.keyId)) return false;
    try {
      const digest = DIGEST_OF_SIGNATURE[readOid(this.der, children(this.der, this.at.algorithm)[0]!)];
      if (!digest) return false;
      const signature = contents(this.der, this.at.value).subarray(1); // the BIT STRING's unused-bits octet first
      return verify(digest, whole(this.der, this.at.tbs), issuer.publicKey, signature);
    } catch {
      return false;
    }
  }
}

/** Whether the certificate `der` was issued by `issuer` (Certificate.isSignedBy on DER bytes). */
export function isSignedBy(der: Buffer | Uint8Array | ArrayBuffer, issuer: Certificate): boolean {
  try {
    return Certificate.fromDer(Buffer.from(der as Uint8Array)).isSignedBy(issuer);
  } catch {
    return false;
  }
}
