#!/usr/bin/env node
// kubepki's entry point: run the bundled CLI (dist/bundle/kubepki.cjs, made by
// `npm run build`) with the V8 code cache made for it at build time, so that
// start-up skips compiling what the cache holds. A missing or stale cache (other
// Node.js version) only makes start-up slower. CommonJS on purpose: Node's ES
// module loader costs ~20 ms more to start a one-file program.
'use strict';
const { readFileSync, writeFileSync } = require('node:fs');
const Module = require('node:module');
const path = require('node:path');
const { Script } = require('node:vm');

// KUBEPKI_BUNDLE and KUBEPKI_CODE_CACHE_OUT are for the build, which makes the cache.
const file = process.env.KUBEPKI_BUNDLE || path.join(__dirname, '../dist/bundle/kubepki.cjs');
const cacheOut = process.env.KUBEPKI_CODE_CACHE_OUT;
let cachedData;
if (!cacheOut) {
  try {
    cachedData = readFileSync(`${file}.cache`);
  } catch {
    // no cache: compile as usual
  }
}
// V8 keeps the script name the cache was made under, so both use this label (not
// a path of the build machine) for the bundle in an internal error's trace.
const script = new Script(Module.wrap(readFileSync(file, 'utf8')), { filename: 'kubepki/dist/bundle/kubepki.cjs', cachedData });
if (cacheOut) process.once('exit', () => writeFileSync(cacheOut, script.createCachedData()));
const start = () => {
  const bundle = { exports: {} };
  script.runInThisContext().call(bundle.exports, bundle.exports, Module.createRequire(file), bundle, file, path.dirname(file));
};
start();
// The build's warm-up (KUBEPKI_WARMUP: more command lines, JSON) runs them in turn in this process,
// so that the cache holds what each compiled: the commands that read existing files too, not only init.
const warmups = cacheOut && process.env.KUBEPKI_WARMUP ? JSON.parse(process.env.KUBEPKI_WARMUP) : [];
process.on('beforeExit', () => {
  const next = warmups.shift();
  if (!next) return;
  process.argv = [process.argv[0], process.argv[1], ...next];
  // From a timer: the loop must be alive after this listener for 'beforeExit' to come again.
  setImmediate(start);
});
