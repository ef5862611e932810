#!/usr/bin/env node
// dist/main.js: runs the bundled agent (dist/agent.js) with V8's code cache (dist/agent.js.cache),
// so startup skips compiling ~130 KB of JavaScript. The cache is written only by the build
// (QGA_TS_WRITE_CODE_CACHE), never at run time; a missing or rejected cache just means a compile.
// The npm package leaves the cache out ("files"): V8 accepts it only from the same Node release.
'use strict';
const fs = require('fs');
const path = require('path');
const vm = require('vm');
const { createRequire, wrap } = require('module');

// A blocking virtio-serial read and a hung statfs each hold a libuv pool thread: start with 8, not 4.
// libuv reads the variable when the first job is queued; children must not inherit it.
if (process.env.UV_THREADPOOL_SIZE === undefined) {
  process.env.UV_THREADPOOL_SIZE = '8';
  fs.access(__filename, () => {});
  delete process.env.UV_THREADPOOL_SIZE;
}

const file = path.join(__dirname, 'agent.js');
const cacheFile = `${file}.cache`;
let cachedData;
try {
  cachedData = fs.readFileSync(cacheFile);
} catch {
  cachedData = undefined;
}
const script = new vm.Script(wrap(fs.readFileSync(file, 'utf8')), { filename: file, cachedData });
const agentModule = { exports: {} };
script.runInThisContext()(agentModule.exports, createRequire(file), agentModule, file, __dirname);

const out = process.env.QGA_TS_WRITE_CODE_CACHE;
if (out) {
  // Build step: let startup run (so lazily compiled functions are in the cache), then save it.
  delete process.env.QGA_TS_WRITE_CODE_CACHE;
  setTimeout(() => {
    fs.writeFileSync(out, script.createCachedData());
    process.exit(0);
  }, 500);
}
