// Prompt collection of the garbage that big transfers leave behind.
//
// A 48 MiB guest-file-read leaves a 64 MiB base64 string, the serialized reply and its Buffer;
// a 64 MiB guest-file-write leaves the argument string and the parser's copies of it. V8
// collects such large objects lazily, so back-to-back transfers would pile two or three
// generations of them up in RSS, and every fork() for guest-exec would then copy the page
// tables of that garbage. Handlers note the tens of megabytes they leave behind here; they are
// collected right after the reply has gone out (setImmediate), and once things are quiet,
// glibc's freed heap is handed back to the kernel. A full collection of the agent's small
// live heap takes a few milliseconds, against ~100 ms for the transfer itself.
import { createRequire } from 'node:module';
import { mallocTrim } from '../platform/linux/fdops.ts';

/** Below this much garbage, leave collection to V8. */
const THRESHOLD = 8 * 1024 * 1024;
/** Smaller pieces (a stream of 1 MiB writes) are left to V8's own external-memory accounting. */
const LARGE = 4 * 1024 * 1024;
/** Quiet time after a collection before the final collection and trim. */
const QUIET_MS = 300;
/** Time for V8's background threads to free what that collection found dead. */
const TRIM_DELAY_MS = 100;

/** Quiet time after the last request before the agent gives back what its work left. */
export const IDLE_RECLAIM_MS = 5000;

let gcFn: (() => void) | null | undefined;
let debt = 0;
let scheduled = false;
let trimTimer: NodeJS.Timeout | null = null;

function gc(): (() => void) | null {
  if (gcFn === undefined) {
    try {
      // node:v8 and node:vm load on first use only: importing them costs agent startup time.
      const require = createRequire(import.meta.url);
      (require('node:v8') as typeof import('node:v8')).setFlagsFromString('--expose-gc');
      gcFn = (require('node:vm') as typeof import('node:vm')).runInNewContext('gc') as () => void;
    } catch {
      gcFn = null;
    }
  }
  return gcFn;
}

/** Records `bytes` of large objects that are garbage now or once the current reply is out. */
export function noteGarbage(bytes: number): void {
  if (bytes < LARGE) return;
  debt += bytes;
  if (debt < THRESHOLD || scheduled) return;
  scheduled = true;
  setImmediate(() => {
    scheduled = false;
    collectGarbage();
  });
}

/** Collects now if enough large garbage was noted since the last collection. */
export function collectGarbage(): void {
  if (debt < THRESHOLD) return;
  debt = 0;
  gc()?.();
  // Once things are quiet: collect what the last reply left (its Buffer was still being
  // written a moment ago), let V8's background threads free it, then trim glibc's heap.
  if (trimTimer !== null) clearTimeout(trimTimer);
  trimTimer = setTimeout(() => {
    gc()?.();
    trimTimer = setTimeout(() => {
      trimTimer = null;
      mallocTrim();
    }, TRIM_DELAY_MS);
    trimTimer.unref();
  }, QUIET_MS);
  trimTimer.unref();
}

let active = false;
let idleTimer: NodeJS.Timeout | null = null;
const idleHooks: (() => void)[] = [];

/** Registers `drop`, run when the agent goes idle: it lets go of buffers kept for the next request. */
export function whenIdle(drop: () => void): void {
  idleHooks.push(drop);
}

/**
 * Notes that a request arrived. Once IDLE_RECLAIM_MS pass without one, the agent collects
 * (V8 shrinks its young generation, grown to 32 MiB by a busy client, only in a collection made
 * while allocation is slow), then trims glibc's heap: RSS returns to near its start figure.
 */
export function noteActivity(): void {
  active = true;
  if (idleTimer !== null) return;
  idleTimer = setTimeout(idleCheck, IDLE_RECLAIM_MS);
  idleTimer.unref();
}

function idleCheck(): void {
  if (active) {
    active = false;
    idleTimer = setTimeout(idleCheck, IDLE_RECLAIM_MS);
    idleTimer.unref();
    return;
  }
  idleTimer = null;
  for (const drop of idleHooks) drop();
  gc()?.();
  // The second collection frees what the first one's finalizers released; then the trim.
  idleTimer = setTimeout(() => {
    idleTimer = null;
    if (active) return;
    gc()?.();
    mallocTrim();
  }, TRIM_DELAY_MS);
  idleTimer.unref();
}
