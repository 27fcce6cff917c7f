#!/usr/bin/env node
// Fixture for scripts/bench-expiry: COUNT distinct certificates under DIR, all
// signed by one throw-away ECDSA-P256 CA, made with kubepki's own certificate
// code (issueCertificate from dist/lib, built by `npm run build`).
//
// usage: node make-certs.mjs DIR COUNT
//
// Layout: DIR/zone-Z/group-GG/node-N.EXT, 1,000 certificates per group and 5
// groups per zone, so the walk goes two folders deep. Most files are .crt; every
// 20th is .pem and every 20th (offset 10) is .cer, so all three extensions that
// `check-expiration --path` looks for are present. Each certificate has its own
// random serial and subject (CN=node-N, O=bench) and its own expiry: 30 + N mod
// 3000 days from now, so dates differ and none is expired or near expiry (the
// command exits 0). One node.key (the shared leaf key) is dropped in each group
// folder to show that the walk skips *.key files; they are not counted.
//
// The CA key and one leaf key are generated once and shared: the benchmark
// measures reading certificates, not making keys. The CA certificate is not
// written under DIR (it would make COUNT + 1 files). The certificates are
// made with kubepki's own issuer (dist/lib/pki/issue.js, signing through dist/lib/pki/signer.js) on one worker thread
// per core, each taking whole groups. Prints one line: what was written and how long generation took.
import { mkdirSync, writeFileSync } from 'node:fs';
import { availableParallelism, cpus } from 'node:os';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { Worker, isMainThread, parentPort, workerData } from 'node:worker_threads';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const lib = path.join(root, 'dist/lib/pki');
const DAY = 86_400_000;
const PER_GROUP = 1000;
const GROUPS_PER_ZONE = 5;
const BATCH = 128; // certificates in flight at once per worker

async function load() {
  try {
    const [issue, certificate, keys, catalog, algorithms, signer] = await Promise.all(
      ['issue.js', 'certificate.js', 'keys.js', 'catalog.js', 'algorithms.js', 'signer.js'].map((f) => import(pathToFileURL(path.join(lib, f)).href)),
    );
    return { ...issue, ...certificate, ...keys, ...signer, PROFILES: catalog.PROFILES, ALG: algorithms.ALGORITHMS['ECDSA-P256'] };
  } catch (e) {
    throw new Error(`cannot load kubepki's modules from ${lib} (run npm run build in ${root}): ${e.message}`);
  }
}

const groupDir = (dir, group) =>
  path.join(dir, `zone-${Math.floor(group / GROUPS_PER_ZONE)}`, `group-${String(group).padStart(2, '0')}`);
const extOf = (i) => (i % 20 === 0 ? 'pem' : i % 20 === 10 ? 'cer' : 'crt');

/** Worker: issue and write certificates `from` to `to - 1` of the groups it was given. */
async function work({ dir, count, groups, now, caCertPem, caKeyPem, leafKeyPem }) {
  const k = await load();
  const caKey = k.parsePrivateKeyPem(caKeyPem).key;
  const leaf = k.parsePrivateKeyPem(leafKeyPem).key;
  const { createPublicKey } = await import('node:crypto');
  const leafPublic = createPublicKey(leaf);
  const issuer = k.withCertificate(k.keySigner(caKey, k.ALG), k.Certificate.fromPem(caCertPem));
  const notBefore = new Date(now - k.BACKDATE_MS);
  for (const group of groups) {
    const folder = groupDir(dir, group);
    mkdirSync(folder, { recursive: true });
    const end = Math.min(count, (group + 1) * PER_GROUP);
    for (let start = group * PER_GROUP; start < end; start += BATCH) {
      const ids = Array.from({ length: Math.min(BATCH, end - start) }, (_, j) => start + j);
      const certs = await Promise.all(
        ids.map((i) =>
          k.issueCertificate({
            subject: { cn: `node-${i}`, o: ['bench'] },
            sans: { dns: [`node-${i}.bench.internal`], ips: [] },
            profile: k.PROFILES.client,
            publicKey: leafPublic,
            publicKeyAlgorithm: k.ALG,
            notBefore,
            notAfter: new Date(now + (30 + (i % 3000)) * DAY),
            issuer,
          }),
        ),
      );
      ids.forEach((i, j) => writeFileSync(path.join(folder, `node-${i}.${extOf(i)}`), certs[j].pem));
    }
    // A private key among the certificates: the walk must skip it.
    writeFileSync(path.join(folder, 'node.key'), leafKeyPem, { mode: 0o600 });
  }
}

async function main() {
  const [dirArg, countArg] = process.argv.slice(2);
  const count = Number(countArg);
  if (!dirArg || !/^[0-9]+$/.test(countArg ?? '') || count < 1) {
    console.error('usage: node make-certs.mjs DIR COUNT   (COUNT a whole number of at least 1)');
    process.exit(2);
  }
  const dir = path.resolve(dirArg);
  const started = performance.now();
  const k = await load();
  const now = Date.now();
  const [caKey, leafKey] = await Promise.all([k.generateKey('ECDSA-P256'), k.generateKey('ECDSA-P256')]);
  const caCert = await k.issueCertificate({
    subject: { cn: 'bench-expiry-ca' },
    sans: { dns: [], ips: [] },
    profile: k.PROFILES.ca,
    publicKey: caKey.spki,
    publicKeyAlgorithm: k.ALG,
    notBefore: new Date(now - k.BACKDATE_MS),
    notAfter: new Date(now + 3650 * DAY),
    selfSigner: k.keySigner(caKey.privateKey, caKey.algorithm),
  });

  const groupCount = Math.ceil(count / PER_GROUP);
  const threads = Math.max(1, Math.min(groupCount, availableParallelism?.() ?? cpus().length));
  const shares = Array.from({ length: threads }, (_, t) =>
    Array.from({ length: groupCount }, (_, g) => g).filter((g) => g % threads === t),
  );
  const shared = {
    dir,
    count,
    now,
    caCertPem: caCert.pem,
    caKeyPem: caKey.privateKeyPem,
    leafKeyPem: leafKey.privateKeyPem,
  };
  await Promise.all(
    shares.map(
      (groups) =>
        new Promise((resolve, reject) => {
          const w = new Worker(new URL(import.meta.url), { workerData: { ...shared, groups } });
          w.on('error', reject);
          w.on('exit', (code) => (code === 0 ? resolve() : reject(new Error(`a worker exited with code ${code}`))));
        }),
    ),
  );
  const seconds = (performance.now() - started) / 1000;
  console.log(
    `${count} certificates (+${groupCount} .key files) in ${groupCount} folders under ${dir}: ` +
      `generated in ${seconds.toFixed(2)} s on ${threads} thread${threads > 1 ? 's' : ''}`,
  );
}

if (isMainThread) {
  main().catch((e) => {
    console.error(`make-certs: ${e.message}`);
    process.exit(1);
  });
} else {
  await work(workerData);
  parentPort?.close();
}
