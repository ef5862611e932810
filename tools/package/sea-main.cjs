// Entry of the standalone executable (a Node single-executable application): one binary is both
// the agent and, when invoked as `qga-client`, the client. Bundled with dist/agent.js and
// dist/client.js by tools/package/sea.mjs.
'use strict';
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');
const sea = require('node:sea');

/** Writes koffi's native module to a private directory, loads it, and removes the file again. */
function loadKoffi() {
  const bytes = new Uint8Array(sea.getRawAsset('koffi.node'));
  // /tmp may be mounted noexec, which dlopen refuses: try the next place then.
  const places = [os.tmpdir(), '/run', '/dev/shm', '/var/tmp'];
  let lastError;
  for (const place of places) {
    let dir;
    try {
      dir = fs.mkdtempSync(path.join(place, 'qga-ts-koffi-'));
      const file = path.join(dir, 'koffi.node');
      fs.writeFileSync(file, bytes, { mode: 0o500, flag: 'wx' });
      const mod = { exports: {} };
      process.dlopen(mod, file);
      return mod.exports;
    } catch (e) {
      lastError = e;
    } finally {
      if (dir !== undefined) fs.rmSync(dir, { recursive: true, force: true });
    }
  }
  throw new Error(`cannot load the FFI module (koffi) from this executable: ${lastError && lastError.message}`);
}

globalThis.qgaStandalone = { koffi: loadKoffi };
// A single-executable application sees itself as argv[1]; name the program as it was invoked instead.
process.argv[1] = process.argv0;

if (path.basename(process.argv0) === 'qga-client') {
  require('../../dist/client.js');
} else {
  // As tools/loader.cjs does: a blocking virtio-serial read and a hung statfs each hold a pool thread.
  if (process.env.UV_THREADPOOL_SIZE === undefined) {
    process.env.UV_THREADPOOL_SIZE = '8';
    fs.access(__filename, () => {});
    delete process.env.UV_THREADPOOL_SIZE;
  }
  require('../../dist/agent.js');
}
