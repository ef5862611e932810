// Bundles the agent and the client command line into single minified CommonJS files (one module to
// compile, and no ESM facades for Node's built-ins, keeps agent startup fast), and the client
// library into dist/index.js, the package's entry point, with its declarations in dist/types.
import { spawnSync } from 'node:child_process';
import { chmodSync, copyFileSync, existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { createRequire } from 'node:module';
import { join } from 'node:path';
import { build, transform } from 'esbuild';

const common = {
  bundle: true,
  platform: 'node',
  target: 'node18',
  format: 'cjs',
  write: false,
  // koffi ships a native module; it is loaded lazily from node_modules at run time.
  external: ['koffi'],
  // Sources are ES modules; in the CommonJS bundle import.meta.url becomes this file's URL.
  define: { 'import.meta.url': '__qgaModuleUrl' },
  banner: { js: '#!/usr/bin/env node\nvar __qgaModuleUrl=require("url").pathToFileURL(__filename).href;' },
  logLevel: 'warning',
};

/** Starts the agent once on a throwaway socket so the loader can save V8's code cache for it. */
function writeCodeCache() {
  const dir = mkdtempSync(join(tmpdir(), 'qga-cache-'));
  const r = spawnSync(process.execPath, ['dist/main.js', '-m', 'unix-listen', '-p', join(dir, 's'), '-t', dir], {
    env: { ...process.env, QGA_TS_WRITE_CODE_CACHE: 'dist/agent.js.cache' },
    stdio: 'inherit',
    timeout: 10_000,
  });
  rmSync(dir, { recursive: true, force: true });
  if (r.status !== 0) throw new Error(`writing the code cache failed: ${r.status ?? r.signal}`);
}

mkdirSync('dist', { recursive: true });
// dist/ holds CommonJS while the package itself is "type": "module".
writeFileSync('dist/package.json', '{ "type": "commonjs" }\n');
/**
 * esbuild wraps every `import * as fs from 'node:fs'` in __toESM(), which copies each built-in's
 * properties once per importing module; for Node's built-ins the module object itself serves as
 * the namespace, so the wrapper is dropped, then the result is minified.
 */
async function bundle(entry, outfile, banner, minify = true) {
  const result = await build({ ...common, entryPoints: [entry], outfile, banner: { js: banner } });
  const text = result.outputFiles[0].text.replace(/__toESM\((require\("node:[a-z_/]+"\))(?:, 1)?\)/g, '$1');
  const out = !minify || process.env.QGA_NO_MINIFY ? { code: text } : await transform(text, { minify: true, loader: 'js', target: 'node18' });
  writeFileSync(outfile, out.code);
}

await bundle('src/main.ts', 'dist/agent.js', common.banner.js.replace('#!/usr/bin/env node\n', ''));
copyFileSync('tools/loader.cjs', 'dist/main.js');
chmodSync('dist/main.js', 0o755);
writeCodeCache();
if (existsSync('src/client/cli.ts')) {
  await bundle('src/client/cli.ts', 'dist/client.js', common.banner.js);
  chmodSync('dist/client.js', 0o755);
}
// The library stays readable and keeps esbuild's export-name annotation, which lets `import` of
// this CommonJS file see named exports; one format only, so there is a single QgaClientError class.
await bundle('src/client/index.ts', 'dist/index.js', '', false);
rmSync('dist/types', { recursive: true, force: true });
const tsc = spawnSync(process.execPath, [createRequire(import.meta.url).resolve('typescript/bin/tsc'), '-p', 'tsconfig.types.json'], { stdio: 'inherit' });
if (tsc.status !== 0) throw new Error(`emitting the client library's declarations failed: ${tsc.status ?? tsc.signal}`);
