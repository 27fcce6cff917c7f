/**
 * The certificate writer (lib/pki/der.ts, lib/pki/issue.ts) against two
 * independent readers: OpenSSL (the command line and Node's X509Certificate)
 * and @peculiar/x509. And the light reader (Certificate.fromDer) against
 * certificates OpenSSL made.
 */
import test from 'ava';
import fc from 'fast-check';
import { X509Certificate as NativeX509, generateKeyPairSync } from 'node:crypto';
import { readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { ALGORITHMS } from '../lib/pki/algorithms.js';
import { PROFILES, altNames } from '../lib/pki/catalog.js';
import { Certificate, isSignedBy } from '../lib/pki/certificate.js';
import { DerError } from '../lib/pki/der.js';
import { issueCertificate } from '../lib/pki/issue.js';
import { keySigner, withCertificate, type Signer } from '../lib/pki/signer.js';
import { generateKey } from '../lib/pki/keys.js';
import 'reflect-metadata';
import * as peculiar from '@peculiar/x509';
import { webcrypto } from 'node:crypto';
import { kubepki, openssl, scratch } from './helpers/cli.js';

const DAY = 86_400_000;

peculiar.cryptoProvider.set(webcrypto as never);
/** The independent reader: what @peculiar/x509 says a certificate holds, in the catalog's terms. */
function peculiarFacts(der: Buffer) {
  const cert = new peculiar.X509Certificate(der);
  const names = cert.getExtension(peculiar.SubjectAlternativeNameExtension)?.names.items ?? [];
  const o = cert.subjectName.getField('2.5.4.10');
  const eku = cert.getExtension(peculiar.ExtendedKeyUsageExtension);
  const EKU: Record<string, string> = { '1.3.6.1.5.5.7.3.1': 'serverAuth', '1.3.6.1.5.5.7.3.2': 'clientAuth' };
  return {
    subject: { cn: cert.subjectName.getField('2.5.4.3')[0] ?? '', ...(o.length ? { o } : {}) },
    sans: altNames(names.filter((n) => n.type === 'dns').map((n) => n.value), names.filter((n) => n.type === 'ip').map((n) => n.value)),
    isCA: cert.getExtension(peculiar.BasicConstraintsExtension)?.ca ?? false,
    extKeyUsage: Array.from(eku?.usages ?? [], (u) => EKU[String(u)] ?? String(u)),
    spki: Buffer.from(cert.publicKey.rawData),
  };
}

async function selfSignedCA(cn: string): Promise<Signer> {
  const key = await generateKey('ECDSA-P256');
  const now = Date.now();
  const certificate = await issueCertificate({
    subject: { cn }, sans: { dns: [], ips: [] }, profile: PROFILES.ca, publicKey: key.spki, publicKeyAlgorithm: key.algorithm,
    notBefore: new Date(now - DAY), notAfter: new Date(now + 3650 * DAY), selfSigner: keySigner(key.privateKey, key.algorithm),
  });
  return withCertificate(keySigner(key.privateKey, key.algorithm), certificate);
}

test('random subjects (any Unicode) and SANs read back unchanged with @peculiar/x509 and with the small reader (Certificate.facts), and the signature verifies', async (t) => {
  const ca = await selfSignedCA('property-ca');
  const label = fc.stringMatching(/^[a-z0-9]([a-z0-9-]{0,10}[a-z0-9])?$/);
  const dns = fc.array(label, { minLength: 1, maxLength: 3 }).map((parts) => parts.join('.'));
  const ipv4 = fc.ipV4();
  const ipv6 = fc.ipV6();
  const text = fc.string({ unit: 'binary', minLength: 1, maxLength: 40 }).filter((s) => s.trim() === s && !s.includes('\0'));
  await fc.assert(
    fc.asyncProperty(
      text, fc.array(text, { maxLength: 3 }), fc.uniqueArray(dns, { maxLength: 4 }), fc.uniqueArray(fc.oneof(ipv4, ipv6), { maxLength: 3 }),
      fc.constantFrom('server', 'client', 'peer') as fc.Arbitrary<'server' | 'client' | 'peer'>,
      async (cn, o, dnsNames, ips, profile) => {
        const key = await generateKey('ECDSA-P256');
        const sans = altNames(dnsNames, ips);
        const cert = await issueCertificate({
          subject: { cn, ...(o.length ? { o } : {}) }, sans, profile: PROFILES[profile], publicKey: key.spki, publicKeyAlgorithm: key.algorithm,
          notBefore: new Date(), notAfter: new Date(Date.now() + DAY), issuer: ca,
        });
        const facts = peculiarFacts(cert.der);
        t.deepEqual(facts.subject, { cn, ...(o.length ? { o } : {}) });
        t.deepEqual(facts.sans, sans);
        t.deepEqual([...facts.extKeyUsage], [...PROFILES[profile].extKeyUsage]);
        t.false(facts.isCA);
        t.true(facts.spki.equals(key.spki));
        const light = Certificate.fromDer(cert.der).facts;
        t.deepEqual({ subject: light.subject, sans: light.sans, isCA: light.isCA, extKeyUsage: light.extKeyUsage }, { subject: facts.subject, sans: facts.sans, isCA: facts.isCA, extKeyUsage: facts.extKeyUsage });
        t.true(light.spki.equals(key.spki));
        t.true(isSignedBy(cert.der, ca.certificate));
        t.true(new NativeX509(cert.der).verify(new NativeX509(ca.certificate.der).publicKey));
      },
    ),
    { numRuns: 60 },
  );
});

test('every algorithm signs: openssl verify accepts the chain, and the signature algorithm is the one kubeadm uses', async (t) => {
  const dir = scratch(t);
  const expected = { 'RSA-2048': 'sha256WithRSAEncryption', 'RSA-3072': 'sha256WithRSAEncryption', 'RSA-4096': 'sha256WithRSAEncryption', 'ECDSA-P256': 'ecdsa-with-SHA256', 'ECDSA-P384': 'ecdsa-with-SHA384' } as const;
  for (const name of Object.keys(ALGORITHMS) as (keyof typeof ALGORITHMS)[]) {
    const caKey = await generateKey(name);
    const now = Date.now();
    const ca = await issueCertificate({
      subject: { cn: `ca-${name}` }, sans: { dns: [], ips: [] }, profile: PROFILES.ca, publicKey: caKey.spki, publicKeyAlgorithm: caKey.algorithm,
      notBefore: new Date(now - DAY), notAfter: new Date(now + DAY * 10), selfSigner: keySigner(caKey.privateKey, caKey.algorithm),
    });
    const leafKey = await generateKey(name);
    const leaf = await issueCertificate({
      subject: { cn: 'leaf', o: ['system:masters'] }, sans: altNames(['leaf.example'], ['10.0.0.1', 'fd00::1']), profile: PROFILES.server,
      publicKey: leafKey.spki, publicKeyAlgorithm: leafKey.algorithm, notBefore: new Date(now - DAY), notAfter: new Date(now + DAY),
      issuer: withCertificate(keySigner(caKey.privateKey, caKey.algorithm), ca),
    });
    writeFileSync(path.join(dir, 'ca.crt'), ca.pem);
    writeFileSync(path.join(dir, 'leaf.crt'), leaf.pem);
    const verify = await openssl(['verify', '-x509_strict', '-CAfile', path.join(dir, 'ca.crt'), path.join(dir, 'leaf.crt')]);
    t.is(verify.exitCode, 0, `${name}: ${verify.stderr}`);
    const text = (await openssl(['x509', '-in', path.join(dir, 'leaf.crt'), '-noout', '-text'])).stdout;
    t.regex(text, new RegExp(`Signature Algorithm: ${expected[name]}`), name);
    t.regex(text, /Subject: O = system:masters, CN = leaf/, name);
    t.regex(text, /DNS:leaf\.example, IP Address:10\.0\.0\.1, IP Address:FD00:0:0:0:0:0:0:1/, name);
    t.regex(text, /X509v3 Key Usage: critical\n\s+Digital Signature(, Key Encipherment)?\n/, name);
    t.is(/Key Encipherment/.test(text), name.startsWith('RSA'), `${name}: key encipherment only for RSA keys, as kubeadm`);
  }
});

test('dates from 2050 on are GeneralizedTime, earlier ones UTCTime; both read back to the second', async (t) => {
  const dir = scratch(t);
  const key = await generateKey('ECDSA-P256');
  const notBefore = new Date('2049-12-31T23:59:59.900Z');
  const notAfter = new Date('2050-01-01T00:00:00.000Z');
  // Self-signed: a CA-signed certificate would be cut to its CA's NotAfter.
  const cert = await issueCertificate({
    subject: { cn: 'time' }, sans: { dns: [], ips: [] }, profile: PROFILES.ca, publicKey: key.spki, publicKeyAlgorithm: key.algorithm,
    notBefore, notAfter, selfSigner: keySigner(key.privateKey, key.algorithm),
  });
  writeFileSync(path.join(dir, 'c.crt'), cert.pem);
  const asn1 = (await openssl(['asn1parse', '-in', path.join(dir, 'c.crt')])).stdout;
  t.regex(asn1, /UTCTIME\s+:491231235959Z/);
  t.regex(asn1, /GENERALIZEDTIME\s+:20500101000000Z/);
  t.is(cert.notBefore.toISOString(), '2049-12-31T23:59:59.000Z', 'milliseconds dropped, as the certificate carries whole seconds');
  t.is(cert.notAfter.toISOString(), '2050-01-01T00:00:00.000Z');
  t.is(new Date(new NativeX509(cert.der).validTo).toISOString(), '2050-01-01T00:00:00.000Z');
});

test('Certificate.fromDer reads an OpenSSL-made certificate: subject bytes, key identifier, serial and validity', async (t) => {
  const dir = scratch(t);
  const crt = path.join(dir, 'o.crt');
  const key = path.join(dir, 'o.key');
  const made = await openssl(['req', '-utf8', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-keyout', key, '-out', crt,
    '-subj', '/O=system:masters/O=second org/CN=Ünïcödé CA', '-days', '30', '-set_serial', '0x00ff00112233']);
  t.is(made.exitCode, 0, made.stderr);
  const pem = readFileSync(crt, 'utf8');
  const cert = Certificate.fromPem(pem);
  const native = new NativeX509(pem);
  t.is(cert.serialNumber.replace(/^0+/, ''), native.serialNumber.toLowerCase().replace(/^0+/, ''));
  t.is(cert.notAfter.getTime(), new Date(native.validTo).getTime());
  t.is(cert.notBefore.getTime(), new Date(native.validFrom).getTime());
  const ski = (await openssl(['x509', '-in', crt, '-noout', '-ext', 'subjectKeyIdentifier'])).stdout.split('\n')[1]!.trim().replace(/:/g, '').toLowerCase();
  t.is(cert.keyId?.toString('hex'), ski);
  // The subject bytes are the issuer bytes of anything it signs: sign a leaf with it and let OpenSSL check the chain.
  const leafKey = await generateKey('ECDSA-P256');
  const { createPrivateKey } = await import('node:crypto');
  const leaf = await issueCertificate({
    subject: { cn: 'leaf' }, sans: { dns: [], ips: [] }, profile: PROFILES.client, publicKey: leafKey.spki, publicKeyAlgorithm: leafKey.algorithm,
    notBefore: new Date(Date.now() - DAY), notAfter: new Date(Date.now() + DAY),
    issuer: withCertificate(keySigner(createPrivateKey(readFileSync(key)), ALGORITHMS['ECDSA-P256']), cert),
  });
  writeFileSync(path.join(dir, 'leaf.crt'), leaf.pem);
  const verify = await openssl(['verify', '-CAfile', crt, path.join(dir, 'leaf.crt')]);
  t.is(verify.exitCode, 0, verify.stderr);
  const issuer = (await openssl(['x509', '-in', path.join(dir, 'leaf.crt'), '-noout', '-issuer', '-nameopt', 'utf8'])).stdout;
  t.regex(issuer, /O ?= ?system:masters, O ?= ?second org, CN ?= ?Ünïcödé CA/);
  // The small reader's facts of OpenSSL's certificate: what openssl's own text says it holds.
  t.deepEqual(cert.facts.subject, { cn: 'Ünïcödé CA', o: ['system:masters', 'second org'] });
  t.true(cert.facts.isCA, 'openssl req -x509 makes a CA (basicConstraints CA:TRUE)');
  t.deepEqual(cert.facts.extKeyUsage, []);
  t.deepEqual(cert.facts, { ...cert.facts, ...peculiarFacts(cert.der) });
});

test('Certificate.facts of an OpenSSL-made leaf with SANs (DNS, IPv4, IPv6) and both usages agrees with openssl x509 -text', async (t) => {
  const dir = scratch(t);
  const crt = path.join(dir, 'l.crt');
  const made = await openssl(['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-keyout', path.join(dir, 'l.key'), '-out', crt,
    '-subj', '/CN=kube-apiserver', '-days', '1', '-addext', 'subjectAltName=DNS:kubernetes,DNS:kubernetes.default,IP:10.96.0.1,IP:2001:db8:0:0:0:0:0:1',
    '-addext', 'extendedKeyUsage=serverAuth,clientAuth', '-addext', 'basicConstraints=critical,CA:FALSE']);
  t.is(made.exitCode, 0, made.stderr);
  const facts = Certificate.fromPem(readFileSync(crt)).facts;
  t.deepEqual(facts.subject, { cn: 'kube-apiserver' });
  t.deepEqual(facts.sans, { dns: ['kubernetes', 'kubernetes.default'], ips: ['10.96.0.1', '2001:db8::1'] });
  t.deepEqual(facts.extKeyUsage, ['serverAuth', 'clientAuth']);
  t.false(facts.isCA);
});

test('isSignedBy checks the signature, not only the name: a CA of the same name with another key is refused', async (t) => {
  const real = await selfSignedCA('same-name');
  const impostor = await selfSignedCA('same-name');
  const key = await generateKey('ECDSA-P256');
  const leaf = await issueCertificate({
    subject: { cn: 'leaf' }, sans: { dns: [], ips: [] }, profile: PROFILES.client, publicKey: key.spki, publicKeyAlgorithm: key.algorithm,
    notBefore: new Date(), notAfter: new Date(Date.now() + DAY), issuer: real,
  });
  t.true(isSignedBy(leaf.der, real.certificate));
  t.false(isSignedBy(leaf.der, impostor.certificate));
  t.false(isSignedBy(Buffer.from('not a certificate'), real.certificate));
});

test('hostile bytes: Certificate.fromDer throws DerError and nothing else, whatever it is given', (t) => {
  const { publicKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
  const spki = publicKey.export({ type: 'spki', format: 'der' });
  fc.assert(
    fc.property(fc.oneof(fc.uint8Array({ maxLength: 300 }), fc.constant(new Uint8Array(spki)), fc.uint8Array({ minLength: 2, maxLength: 64 }).map((b) => Uint8Array.from([0x30, 0x84, 0xff, 0xff, 0xff, 0xff, ...b]))), (bytes) => {
      try {
        Certificate.fromDer(Buffer.from(bytes));
      } catch (e) {
        t.true(e instanceof DerError, String(e));
      }
    }),
    { numRuns: 500 },
  );
  t.throws(() => Certificate.fromPem('no pem here'), { instanceOf: DerError });
});

test('a certificate never outlives the CA that signs it: NotAfter is cut to the CA\'s, in the issuer and through init', async (t) => {
  const caKey = await generateKey('ECDSA-P256');
  const now = Date.now();
  const ca = await issueCertificate({
    subject: { cn: 'short-ca' }, sans: { dns: [], ips: [] }, profile: PROFILES.ca, publicKey: caKey.spki, publicKeyAlgorithm: caKey.algorithm,
    notBefore: new Date(now - DAY), notAfter: new Date(now + 10 * DAY), selfSigner: keySigner(caKey.privateKey, caKey.algorithm),
  });
  const key = await generateKey('ECDSA-P256');
  const leaf = await issueCertificate({
    subject: { cn: 'leaf' }, sans: { dns: [], ips: [] }, profile: PROFILES.client, publicKey: key.spki, publicKeyAlgorithm: key.algorithm,
    notBefore: new Date(now - DAY), notAfter: new Date(now + 365 * DAY), issuer: withCertificate(keySigner(caKey.privateKey, caKey.algorithm), ca),
  });
  t.is(leaf.notAfter.getTime(), ca.notAfter.getTime());

  const dir = path.join(scratch(t), 'pki');
  const run = await kubepki(['init', '--cert-dir', dir, '--node-name', 'cp-1', '--apiserver-advertise-address', '10.0.0.1', '--encryption-algorithm', 'ECDSA-P256',
    '--ca-certificate-validity', '48h', '--certificate-validity', '8760h', '--skip-phases', 'kubeconfig,flags']);
  t.is(run.exitCode, 0, run.stderr);
  const end = async (f: string) => (await openssl(['x509', '-in', path.join(dir, f), '-noout', '-enddate'])).stdout.trim();
  t.is(await end('apiserver.crt'), await end('ca.crt'));
  t.is(await end('etcd/server.crt'), await end('etcd/ca.crt'));
});
