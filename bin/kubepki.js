#!/usr/bin/env node
// kubepki's entry point: run the bundled CLI (dist/bundle/kubepki.cjs, made by
// `npm run build`) with the V8 code cache made for it at build time, so that
// start-up skips compiling what the cache holds. A missing or stale cache (other
// Node.js version) only makes start-up slower.
import { readFileSync, writeFileSync } from 'node:fs';
import Module, { createRequire } from 'node:module';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { Script } from 'node:vm';

// KUBEPKI_BUNDLE and KUBEPKI_CODE_CACHE_OUT are for the build, which makes the cache.
const file = process.env.KUBEPKI_BUNDLE ?? fileURLToPath(new URL('../dist/bundle/kubepki.cjs', import.meta.url));
const cacheOut = process.env.KUBEPKI_CODE_CACHE_OUT;
let cachedData;
if (!cacheOut) {
  try {
    cachedData = readFileSync(`${file}.cache`);
  } catch {
    // no cache: compile as usual
  }
}
const script = new Script(Module.wrap(readFileSync(file, 'utf8')), { filename: file, cachedData });
if (cacheOut) process.once('exit', () => writeFileSync(cacheOut, script.createCachedData()));
const module = { exports: {} };
script.runInThisContext().call(module.exports, module.exports, createRequire(file), module, file, path.dirname(file));
