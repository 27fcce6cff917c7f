#!/usr/bin/env node
// The keygen floor for `kubepki nodes issue`: a bare node start-up plus
// generating COUNT key pairs (two per worker node: kubelet serving and kubelet
// client) with node:crypto's async generateKeyPair, all started at once so they
// run in parallel on the libuv thread pool, each exported to PEM so the work is
// real. No certificates are signed and nothing is written to disk, so no tool
// that makes those keys can be faster. Like scripts/bench/floor.mjs (12 keys
// for `kubepki init`), with a count.
//
// usage: node keygen-floor.mjs COUNT RSA-2048|ECDSA-P256
//
// libuv's thread pool has 4 threads unless UV_THREADPOOL_SIZE says otherwise,
// and node has started it before this module runs, so scripts/bench-fleet sets
// it to the number of cores when there are more than 4.
import { generateKeyPair } from 'node:crypto';
import { promisify } from 'node:util';

const algorithms = {
  'RSA-2048': ['rsa', { modulusLength: 2048 }],
  'ECDSA-P256': ['ec', { namedCurve: 'P-256' }],
};
const [countArg, alg] = process.argv.slice(2);
const count = Number(countArg);
if (!/^[0-9]+$/.test(countArg ?? '') || count < 1 || !(alg in algorithms)) {
  console.error('usage: node keygen-floor.mjs COUNT RSA-2048|ECDSA-P256');
  process.exit(2);
}
const [type, options] = algorithms[alg];
const generate = promisify(generateKeyPair);
const pairs = await Promise.all(
  Array.from({ length: count }, () =>
    generate(type, {
      ...options,
      publicKeyEncoding: { type: 'spki', format: 'pem' },
      privateKeyEncoding: { type: 'pkcs8', format: 'pem' },
    }),
  ),
);
if (pairs.length !== count || !pairs.every((p) => p.privateKey.startsWith('-----BEGIN PRIVATE KEY-----'))) {
  throw new Error('key generation produced unexpected output');
}
