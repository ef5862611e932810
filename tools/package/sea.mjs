// The standalone executable: Node's own binary with the agent and client injected as a
// single-executable application (SEA) blob, and koffi's native module as a SEA asset.
import { spawnSync } from 'node:child_process';
import { chmodSync, copyFileSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { build } from 'esbuild';
import { inject } from 'postject';

/** koffi's prebuilt module for glibc x86-64, the one the executable carries. */
export const KOFFI_NODE = 'node_modules/@koromix/koffi-linux-x64/linux_x64/koffi.node';
const SEA_FUSE = 'NODE_SEA_FUSE_fce680ab2cc467b6e072b8b5df1996b2';

function run(cmd, args) {
  const r = spawnSync(cmd, args, { stdio: ['ignore', 'inherit', 'inherit'] });
  if (r.status !== 0) throw new Error(`${cmd} ${args.join(' ')} failed: ${r.status ?? r.signal}`);
}

/** Builds dist/ first (the bundles this embeds), then writes the executable to `out`. */
export async function buildStandalone(out) {
  const work = mkdtempSync(join(tmpdir(), 'qga-sea-'));
  try {
    const main = join(work, 'sea-main.cjs');
    await build({
      entryPoints: ['tools/package/sea-main.cjs'],
      outfile: main,
      bundle: true,
      platform: 'node',
      format: 'cjs',
      target: 'node20',
      logLevel: 'warning',
    });
    const blob = join(work, 'sea.blob');
    const config = {
      main,
      output: blob,
      disableExperimentalSEAWarning: true,
      // V8's code cache for the main script, made at build time: startup skips compiling it.
      useCodeCache: true,
      assets: { 'koffi.node': resolve(KOFFI_NODE) },
    };
    writeFileSync(join(work, 'sea-config.json'), JSON.stringify(config));
    run(process.execPath, ['--experimental-sea-config', join(work, 'sea-config.json')]);
    copyFileSync(process.execPath, out);
    chmodSync(out, 0o755);
    // Node's own symbols are ~12 MB nobody reads at run time; strip before the blob goes in.
    run('strip', ['--strip-unneeded', out]);
    await inject(out, 'NODE_SEA_BLOB', readFileSync(blob), { sentinelFuse: SEA_FUSE });
  } finally {
    rmSync(work, { recursive: true, force: true });
  }
}

