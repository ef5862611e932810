// koffi and libc, loaded on the first FFI call (the daemon makes one at startup, so that a broken
// install stops it there, in words).
import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';
import { standalone } from './standalone.ts';

// koffi's own declarations are loose (pointers are bigint, values are whatever the prototype says).
// eslint-disable-next-line @typescript-eslint/no-explicit-any
export type Koffi = any;
// eslint-disable-next-line @typescript-eslint/no-explicit-any
export type Lib = any;

let cached: { koffi: Koffi; libc: Lib } | undefined;
let failure: FfiUnavailable | undefined;

/** koffi (or libc through it) could not be loaded: one line that says so, never a stack. */
export class FfiUnavailable extends Error {}

export function ffi(): { koffi: Koffi; libc: Lib } {
  if (cached === undefined) {
    if (failure !== undefined) throw failure;
    try {
      // createRequire is called here, not at import: it costs startup time.
      const koffi = standalone()?.koffi() ?? prebuiltNative() ?? createRequire(import.meta.url)('koffi');
      cached = { koffi, libc: koffi.load('libc.so.6') };
    } catch (err) {
      const why = (err instanceof Error ? err.message : String(err)).split('\n')[0];
      failure = new FfiUnavailable(`cannot load koffi, the module qga-ts calls libc through: ${why}`);
      throw failure;
    }
  }
  return cached;
}

/** Where the bundle's layouts put koffi's prebuilt module: beside dist/agent.js (the .deb), or one level up (npm, the repository). */
const PREBUILT_DIRS = ['node_modules', '../node_modules'];

/**
 * koffi's native module for this machine, loaded straight from the bundle's node_modules: koffi's
 * own JavaScript (platform detection, module resolution, deprecation shims the agent never calls)
 * takes ~30 ms of a Node 18 start, the module itself ~1 ms. Undefined when it is not there or does
 * not load (e.g. musl): then koffi's JavaScript finds the right one or says why not.
 */
function prebuiltNative(): Koffi | undefined {
  const rel = `@koromix/koffi-${process.platform}-${process.arch}/${process.platform}_${process.arch}/koffi.node`;
  for (const dir of PREBUILT_DIRS) {
    const file = fileURLToPath(new URL(`${dir}/${rel}`, import.meta.url));
    if (!existsSync(file)) continue;
    try {
      const mod = { exports: {} as Koffi };
      process.dlopen(mod, file);
      if (typeof mod.exports.load === 'function') return mod.exports;
    } catch {
      // not loadable here: koffi's own loader decides
    }
  }
  return undefined;
}

/**
 * A binding made on first use: `bind` declares the libc functions a module needs, once, when one
 * of them is first called (koffi never loads at agent startup).
 */
export function lazyBinding<T>(bind: (koffi: Koffi, libc: Lib) => T): () => T {
  let bound: T | undefined;
  return () => {
    if (bound === undefined) {
      const { koffi, libc } = ffi();
      bound = bind(koffi, libc);
    }
    return bound;
  };
}

/** An Error carrying `errno` (the shape strerror() in strerror.ts understands). */
export function errnoError(what: string, errno: number): Error {
  return Object.assign(new Error(what), { errno });
}
