// koffi and libc, loaded on the first FFI call only: agent startup never pays for them.
import { createRequire } from 'node:module';
import { standalone } from './standalone.ts';

// koffi's own declarations are loose (pointers are bigint, values are whatever the prototype says).
// eslint-disable-next-line @typescript-eslint/no-explicit-any
export type Koffi = any;
// eslint-disable-next-line @typescript-eslint/no-explicit-any
export type Lib = any;

let cached: { koffi: Koffi; libc: Lib } | undefined;

export function ffi(): { koffi: Koffi; libc: Lib } {
  if (cached === undefined) {
    // createRequire is called here, not at import: it costs startup time.
    const koffi = standalone()?.koffi() ?? createRequire(import.meta.url)('koffi');
    cached = { koffi, libc: koffi.load('libc.so.6') };
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
