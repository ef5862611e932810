// Exit without waiting for libuv's thread pool: a character-device channel keeps a pool thread
// in a blocking read(), and the exit-time pool shutdown would wait for it forever.
import { ffi } from './ffi.ts';

/** Like process.exit(code), but immediate: callers flush and release what they hold first. */
export function exitNow(code: number): never {
  try {
    (ffi().libc.func('void _exit(int)') as (c: number) => void)(code);
  } catch {
    // koffi unavailable: fall back to Node's exit
  }
  return process.exit(code);
}
