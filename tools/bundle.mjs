// Bundles the agent (and the client, once it exists) into single files: one module to load keeps startup fast.
import { existsSync } from 'node:fs';
import { build } from 'esbuild';

const common = {
  bundle: true,
  platform: 'node',
  target: 'node20',
  format: 'esm',
  // koffi ships a native module; it is loaded lazily from node_modules at run time.
  external: ['koffi'],
  banner: { js: '#!/usr/bin/env node' },
  logLevel: 'warning',
};

await build({ ...common, entryPoints: ['src/main.ts'], outfile: 'dist/main.js' });
if (existsSync('src/client/cli.ts')) {
  await build({ ...common, entryPoints: ['src/client/cli.ts'], outfile: 'dist/client.js' });
}
