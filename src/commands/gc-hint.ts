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
import { fixMallocTrimThreshold, mallocTrim } from '../platform/linux/fdops.ts';

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

/** What the idle reclaim does; a seam for tests. */
export interface ReclaimHooks {
  /** One full collection. */
  collect(): void;
  /** Hands glibc's free heap pages back to the kernel. */
  trim(): void;
  /** Sets V8 flags (v8.setFlagsFromString). */
  setFlags(flags: string): void;
  /** Fixes glibc's trim threshold at `bytes` (mallopt M_TRIM_THRESHOLD). */
  fixTrimThreshold(bytes: number): void;
}

/**
 * V8 grows its young generation (2 MiB at start) up to 32 MiB under a busy client and, in Node
 * 18 to 22, never shrinks it back from JavaScript: no collection an embedder can ask for reduces
 * it. With growth factor 1 it stays at its start size; the agent's requests are small and short-lived
 * (allocation-heavy floods pay for it: docs/limits.md §Memory that comes back).
 */
export const YOUNG_GENERATION_FLAGS = '--semi-space-growth-factor=1';

/**
 * glibc's default trim threshold, fixed from the first request on. By default glibc raises it to
 * twice each large block freed (to 64 MiB), and V8's worker threads each keep their own arena,
 * whose free top malloc_trim() does not shrink: after a fuzzing run, 4 arenas held ~2.5 MB each.
 */
export const MALLOC_TRIM_THRESHOLD = 128 * 1024;

/**
 * Runs the idle reclaim: IDLE_RECLAIM_MS after the last request, drops the buffers kept for the
 * next request (whenIdle), collects, and TRIM_DELAY_MS later collects again and trims glibc's heap.
 */
export class IdleReclaimer {
  private active = false;
  private capped = false;
  private timer: NodeJS.Timeout | null = null;
  private readonly hooks: (() => void)[] = [];

  constructor(
    private readonly reclaim: ReclaimHooks,
    private readonly idleMs = IDLE_RECLAIM_MS,
  ) {}

  /** Registers `drop`, run when the agent goes idle: it lets go of buffers kept for the next request. */
  whenIdle(drop: () => void): void {
    this.hooks.push(drop);
  }

  /** Notes that a request arrived (the first one also caps the young generation and glibc's trim threshold). */
  noteActivity(): void {
    if (!this.capped) {
      this.capped = true;
      // Here, not at startup: loading node:v8 and koffi costs the agent's start a few ms.
      this.reclaim.setFlags(YOUNG_GENERATION_FLAGS);
      this.reclaim.fixTrimThreshold(MALLOC_TRIM_THRESHOLD);
    }
    this.active = true;
    if (this.timer !== null) return;
    this.arm(this.idleMs, () => this.idleCheck());
  }

  private arm(ms: number, fn: () => void): void {
    this.timer = setTimeout(fn, ms);
    // Node 18.19's mocked timers (the tests') have no unref.
    this.timer.unref?.();
  }

  private idleCheck(): void {
    if (this.active) {
      this.active = false;
      this.arm(this.idleMs, () => this.idleCheck());
      return;
    }
    this.timer = null;
    for (const drop of this.hooks) drop();
    this.reclaim.collect();
    // The second collection frees what the first one's finalizers released; then the trim.
    this.arm(TRIM_DELAY_MS, () => {
      this.timer = null;
      // A request came meanwhile (it found this timer armed): wait for the next quiet period.
      if (this.active) return this.arm(this.idleMs, () => this.idleCheck());
      this.reclaim.collect();
      this.reclaim.trim();
    });
  }
}

const reclaimer = new IdleReclaimer({
  collect: () => gc()?.(),
  trim: mallocTrim,
  fixTrimThreshold: fixMallocTrimThreshold,
  setFlags: (flags) => {
    try {
      (createRequire(import.meta.url)('node:v8') as typeof import('node:v8')).setFlagsFromString(flags);
    } catch {
      // an engine without the flag: the young generation grows as V8 sees fit
    }
  },
});

/** Registers `drop`, run when the agent goes idle: it lets go of buffers kept for the next request. */
export function whenIdle(drop: () => void): void {
  reclaimer.whenIdle(drop);
}

/**
 * Notes that a request arrived. Once IDLE_RECLAIM_MS pass without one, the agent collects and
 * trims glibc's heap: RSS returns to near its start figure.
 */
export function noteActivity(): void {
  reclaimer.noteActivity();
}
