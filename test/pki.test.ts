/**
 * The PKI kubepki writes, read back by the openssl command line and compared
 * with the catalog: every certificate verifies against its CA; subject, SANs,
 * usages, validity and key type are what the catalog says; every key matches
 * its certificate; modes are 0600/0644. For all five algorithms.
 */
import test from 'ava';
import { readFileSync, statSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { loadSpec } from '../lib/config/load.js';
import { canonicalIP } from '../lib/net.js';
import { ALGORITHMS, ALGORITHM_NAMES, type AlgorithmName } from '../lib/pki/algorithms.js';
import { KEY_PAIRS, PROFILES, certPath, certificatesFor, caEntry, keyPath, keyUsagesFor, type CertEntry } from '../lib/pki/catalog.js';
import { kubepki, openssl, scratch } from './helpers/cli.js';

const KEY_USAGE_TEXT = { digitalSignature: 'Digital Signature', keyEncipherment: 'Key Encipherment', keyCertSign: 'Certificate Sign' };
const EKU_TEXT = { serverAuth: 'TLS Web Server Authentication', clientAuth: 'TLS Web Client Authentication' };
const SIGNATURE_TEXT: Record<AlgorithmName, string> = {
  'RSA-2048': 'sha256WithRSAEncryption',
  'RSA-3072': 'sha256WithRSAEncryption',
  'RSA-4096': 'sha256WithRSAEncryption',
  'ECDSA-P256': 'ecdsa-with-SHA256',
  'ECDSA-P384': 'ecdsa-with-SHA384',
};

const config = (dir: string, algorithm: AlgorithmName) => `
apiVersion: kubepki.dev/v1alpha1
kind: Cluster
clusterName: test-cluster
node: { name: cp-1, advertiseAddress: 192.168.10.11 }
controlPlaneEndpoint: k8s.example.com:6443
apiServer: { certSANs: [192.168.10.100, "*.api.example.com", "2001:db8::10"] }
networking: { serviceSubnet: "10.96.0.0/12,fd00:10:96::/112", dnsDomain: cluster.test }
etcd: { serverCertSANs: [etcd.example.com, 10.0.0.5], peerCertSANs: [peer.example.com] }
certificates:
  dir: ${dir}
  encryptionAlgorithm: ${algorithm}
  validity: 720h
  caValidity: 43800h
`;

/** The extension text blocks of `openssl x509 -noout -text`, by heading. */
function extensions(text: string): Map<string, string> {
  const out = new Map<string, string>();
  const lines = text.split('\n');
  for (let i = 0; i < lines.length; i++) {
    const m = /^\s+X509v3 ([A-Za-z ]+?):( critical)?\s*$/.exec(lines[i]!);
    if (m) out.set(m[1]!, (lines[i + 1] ?? '').trim() + (m[2] ? ' [critical]' : ''));
  }
  return out;
}

function parseSANs(text: string | undefined): { dns: string[]; ips: string[] } {
  const dns: string[] = [];
  const ips: string[] = [];
  for (const part of (text ?? '').split(',').map((s) => s.trim()).filter(Boolean)) {
    if (part.startsWith('DNS:')) dns.push(part.slice(4));
    else if (part.startsWith('IP Address:')) ips.push(canonicalIP(part.slice(11)) ?? part);
  }
  return { dns: dns.sort(), ips: ips.sort() };
}

for (const algorithm of ALGORITHM_NAMES) {
  test(`${algorithm}: every certificate matches the catalog when read by openssl`, async (t) => {
    const root = scratch(t);
    const dir = path.join(root, 'pki');
    const file = path.join(root, 'cluster.yaml');
    writeFileSync(file, config(dir, algorithm));
    const run = await kubepki(['init', '--config', file]);
    t.is(run.exitCode, 0, run.stderr);
    t.notRegex(run.stdout + run.stderr, /PRIVATE KEY/);

    const spec = loadSpec(file, {});
    const alg = ALGORITHMS[algorithm];
    const serials = new Set<string>();
    for (const entry of certificatesFor(spec) as CertEntry[]) {
      const crt = path.join(dir, certPath(entry));
      const key = path.join(dir, keyPath(entry));
      const profile = PROFILES[entry.profile];
      const ca = path.join(dir, certPath(entry.ca ? caEntry(entry.ca) : entry));
      const label = `${entry.name} (${certPath(entry)})`;

      const verify = await openssl(['verify', '-CAfile', ca, crt]);
      t.is(verify.exitCode, 0, `${label}: ${verify.stderr}${verify.stdout}`);
      t.regex(verify.stdout, /: OK$/m, label);

      const info = await openssl(['x509', '-in', crt, '-noout', '-text', '-nameopt', 'RFC2253', '-subject', '-serial']);
      t.is(info.exitCode, 0, label);
      const subject = entry.subject(spec);
      t.regex(info.stdout, new RegExp(`^subject=CN=${subject.cn}${(subject.o ?? []).map((o) => `,O=${o}`).join('')}$`, 'm'), label);
      const ext = extensions(info.stdout);
      t.deepEqual(parseSANs(ext.get('Subject Alternative Name')), (({ dns, ips }) => ({ dns: [...dns].sort(), ips: [...ips].sort() }))(entry.sans(spec)), `${label} SANs`);
      t.is(ext.get('Key Usage'), `${keyUsagesFor(profile, alg.family).map((u) => KEY_USAGE_TEXT[u]).join(', ')} [critical]`, `${label} key usage`);
      t.is(ext.get('Extended Key Usage'), profile.extKeyUsage.length ? profile.extKeyUsage.map((u) => EKU_TEXT[u]).join(', ') : undefined, `${label} EKU`);
      t.is(ext.get('Basic Constraints'), `CA:${profile.isCA ? 'TRUE' : 'FALSE'} [critical]`, `${label} basic constraints`);
      t.regex(info.stdout, new RegExp(`Signature Algorithm: ${SIGNATURE_TEXT[algorithm]}`), `${label} signature`);
      if (!profile.isCA) t.truthy(ext.get('Authority Key Identifier'), `${label} AKI`);
      else t.truthy(ext.get('Subject Key Identifier'), `${label} SKI`);

      const serial = /^serial=([0-9A-F]+)$/m.exec(info.stdout)?.[1] ?? '';
      t.true(serial.length >= 16, `${label}: serial ${serial} has at least 64 bits`);
      serials.add(serial);

      const dates = await openssl(['x509', '-in', crt, '-noout', '-startdate', '-enddate']);
      const [from, to] = [...dates.stdout.matchAll(/=(.+)$/gm)].map((m) => Date.parse(m[1]!));
      const hours = (to! - from!) / 3_600_000;
      t.is(Math.round(hours * 12) / 12, (profile.isCA ? 43800 : 720) + 5 / 60, `${label}: validity plus the 5-minute backdate`);

      const keyText = readFileSync(key, 'utf8');
      t.regex(keyText, alg.family === 'rsa' ? /^-----BEGIN RSA PRIVATE KEY-----/ : /^-----BEGIN EC PRIVATE KEY-----/, `${label}: kubeadm's PEM type`);
      const keyInfo = await openssl(['pkey', '-in', key, '-noout', '-text']);
      t.regex(keyInfo.stdout, alg.family === 'rsa' ? new RegExp(`Private-Key: \\(${alg.modulusLength} bit`) : new RegExp(`ASN1 OID: ${alg.curve!.openssl}`), label);
      const [fromKey, fromCert] = await Promise.all([openssl(['pkey', '-in', key, '-pubout']), openssl(['x509', '-in', crt, '-noout', '-pubkey'])]);
      t.is(fromKey.stdout, fromCert.stdout, `${label}: key matches certificate`);
      t.is(statSync(key).mode & 0o777, 0o600, `${label}: key mode`);
      t.is(statSync(crt).mode & 0o777, 0o644, `${label}: certificate mode`);
    }
    t.is(serials.size, certificatesFor(spec).length, 'serial numbers are distinct');

    for (const pair of KEY_PAIRS) {
      const [priv, pub] = await Promise.all([openssl(['pkey', '-in', path.join(dir, pair.key), '-pubout']), openssl(['pkey', '-pubin', '-in', path.join(dir, pair.pub)])]);
      t.is(priv.exitCode, 0);
      t.is(priv.stdout, pub.stdout, `${pair.key} matches ${pair.pub}`);
      t.is(statSync(path.join(dir, pair.key)).mode & 0o777, 0o600);
    }
  });
}

test('the apiserver certificate carries both service VIPs on dual-stack, the endpoint host and the extra SANs', async (t) => {
  const root = scratch(t);
  const dir = path.join(root, 'pki');
  const file = path.join(root, 'cluster.yaml');
  writeFileSync(file, config(dir, 'ECDSA-P256'));
  t.is((await kubepki(['init', '--config', file])).exitCode, 0);
  const info = await openssl(['x509', '-in', path.join(dir, 'apiserver.crt'), '-noout', '-ext', 'subjectAltName']);
  const sans = parseSANs(info.stdout.split('\n').slice(1).join(','));
  t.deepEqual(sans.dns, ['*.api.example.com', 'cp-1', 'k8s.example.com', 'kubernetes', 'kubernetes.default', 'kubernetes.default.svc', 'kubernetes.default.svc.cluster.test']);
  t.deepEqual(sans.ips, ['10.96.0.1', '192.168.10.100', '192.168.10.11', '2001:db8::10', 'fd00:10:96::1'].sort());
});
