// koffi and libc, loaded on the first FFI call (the daemon makes one at startup, so that a broken
// install stops it there, in words).
import { createRequire } from 'node:module';
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
      const koffi = standalone()?.koffi() ?? createRequire(import.meta.url)('koffi');
      cached = { koffi, libc: koffi.load('libc.so.6') };
    } catch (err) {
      const why = (err instanceof Error ? err.message : String(err)).split('\n')[0];
      failure = new FfiUnavailable(`cannot load koffi, the module qga-ts calls libc through: ${why}`);
      throw failure;
    }
  }
  return cached;
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
