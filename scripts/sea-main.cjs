// The single executable's entry (scripts/build-binary.mjs): as bin/kubepki.cjs,
// the bundle run with the V8 code cache the build made after its warm-up runs,
// both read from the executable's assets instead of dist/. (Node's own SEA code
// cache holds only what compiling the bundle compiles eagerly, not what running
// the commands compiles: init started ~30 ms slower with it.)
'use strict';
const { getAsset } = require('node:sea');
const Module = require('node:module');
const path = require('node:path');
const { Script } = require('node:vm');

let cachedData;
try {
  cachedData = Buffer.from(getAsset('kubepki.cjs.cache'));
} catch {
  // no cache: compile as usual
}
// The same label as bin/kubepki.cjs: the cache was made under it.
const script = new Script(Module.wrap(getAsset('kubepki.cjs', 'utf8')), { filename: 'kubepki/dist/bundle/kubepki.cjs', cachedData });
const bundle = { exports: {} };
const file = process.execPath;
script.runInThisContext().call(bundle.exports, bundle.exports, Module.createRequire(file), bundle, file, path.dirname(file));
