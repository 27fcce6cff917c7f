#!/usr/bin/env node
// The floor for `kubepki init`: a bare node start-up plus generating the same
// 12 key pairs (3 CAs, 8 leaves, sa) with node:crypto's async generateKeyPair,
// all started at once so they run in parallel on the libuv thread pool, each
// exported to PEM so the work is real. Nothing is written to disk.
//
// usage: node floor.mjs RSA-2048|ECDSA-P256
//
// libuv's thread pool has 4 threads unless UV_THREADPOOL_SIZE says otherwise,
// and node has started it before this module runs (setting the variable here has
// no effect), so scripts/bench-init sets it to the number of cores when there
// are more than 4.
import { generateKeyPair } from 'node:crypto';
import { promisify } from 'node:util';

const KEYS = 12;
const algorithms = {
  'RSA-2048': ['rsa', { modulusLength: 2048 }],
  'ECDSA-P256': ['ec', { namedCurve: 'P-256' }],
};
const alg = process.argv[2];
if (!(alg in algorithms)) {
  console.error('usage: node floor.mjs RSA-2048|ECDSA-P256');
  process.exit(2);
}
const [type, options] = algorithms[alg];
const pairs = await Promise.all(
  Array.from({ length: KEYS }, () =>
    promisify(generateKeyPair)(type, {
      ...options,
      publicKeyEncoding: { type: 'spki', format: 'pem' },
      privateKeyEncoding: { type: 'pkcs8', format: 'pem' },
    }),
  ),
);
if (pairs.length !== KEYS || !pairs.every((p) => p.privateKey.startsWith('-----BEGIN PRIVATE KEY-----'))) {
  throw new Error('key generation produced unexpected output');
}
