// The idle reclaim (src/commands/gc-hint.ts): what runs when the agent goes idle, in what order,
// and that each step gives memory back (young generation capped, glibc's free pages trimmed).
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { afterEach, beforeEach, describe, it, mock } from 'node:test';
import { IDLE_RECLAIM_MS, IdleReclaimer, MALLOC_TRIM_THRESHOLD, YOUNG_GENERATION_FLAGS } from '../../src/commands/gc-hint.ts';

const GC_HINT = new URL('../../src/commands/gc-hint.ts', import.meta.url).href;
const FDOPS = new URL('../../src/platform/linux/fdops.ts', import.meta.url).href;

function recorder(): { calls: string[]; reclaimer: IdleReclaimer } {
  const calls: string[] = [];
  const reclaimer = new IdleReclaimer({
    collect: () => calls.push('collect'),
    trim: () => calls.push('trim'),
    setFlags: (f) => calls.push(`flags ${f}`),
    fixTrimThreshold: (n) => calls.push(`trim threshold ${n}`),
  });
  reclaimer.whenIdle(() => calls.push('drop'));
  return { calls, reclaimer };
}

describe('idle reclaim: the sequence', () => {
  // The array form: Node 18.19 knows no other.
  beforeEach(() => mock.timers.enable(['setTimeout']));
  afterEach(() => mock.timers.reset());

  it("the first request caps the young generation and fixes glibc's trim threshold, once", () => {
    const { calls, reclaimer } = recorder();
    reclaimer.noteActivity();
    reclaimer.noteActivity();
    assert.deepEqual(calls, [`flags ${YOUNG_GENERATION_FLAGS}`, `trim threshold ${MALLOC_TRIM_THRESHOLD}`]);
  });

  it('a quiet period drops the kept buffers, collects, then collects again and trims', () => {
    const { calls, reclaimer } = recorder();
    reclaimer.noteActivity();
    calls.length = 0;
    // The request that armed the timer counts as activity in the first period.
    mock.timers.tick(IDLE_RECLAIM_MS);
    assert.deepEqual(calls, []);
    mock.timers.tick(IDLE_RECLAIM_MS);
    assert.deepEqual(calls, ['drop', 'collect']);
    mock.timers.tick(1000);
    assert.deepEqual(calls, ['drop', 'collect', 'collect', 'trim']);
    mock.timers.tick(10 * IDLE_RECLAIM_MS);
    assert.equal(calls.length, 4, 'nothing more while nothing happens');
  });

  it('requests keep postponing it; one arriving between the two collections cancels the trim', () => {
    const { calls, reclaimer } = recorder();
    reclaimer.noteActivity();
    calls.length = 0;
    for (let i = 0; i < 5; i++) {
      mock.timers.tick(IDLE_RECLAIM_MS);
      reclaimer.noteActivity();
    }
    assert.deepEqual(calls, []);
    // (One tick per period: the mock runs a timer armed during a tick at the next tick.)
    mock.timers.tick(IDLE_RECLAIM_MS);
    mock.timers.tick(IDLE_RECLAIM_MS);
    assert.deepEqual(calls, ['drop', 'collect']);
    reclaimer.noteActivity();
    mock.timers.tick(1000);
    assert.deepEqual(calls, ['drop', 'collect']);
    mock.timers.tick(IDLE_RECLAIM_MS);
    mock.timers.tick(IDLE_RECLAIM_MS);
    assert.deepEqual(calls, ['drop', 'collect', 'drop', 'collect']);
  });
});

/** Runs `body` in a fresh Node (its own heap and flags); returns its stdout as JSON. */
function inChild(body: string): Record<string, number> {
  const script = `import * as v8 from 'node:v8';\n${body}`;
  return JSON.parse(execFileSync(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', script], { encoding: 'utf8' })) as Record<string, number>;
}

const CHURN = `
const newSpace = () => v8.getHeapSpaceStatistics().find((s) => s.space_name === 'new_space').space_size;
const start = newSpace();
let keep = [];
for (let i = 0; i < 3e6; i++) { keep.push({ i, s: 'x' + i }); if (keep.length > 200000) keep = []; }
console.log(JSON.stringify({ start, after: newSpace() }));`;

describe('idle reclaim: memory comes back', () => {
  it('after the first request, a burst of allocation leaves the young generation at its start size', () => {
    const control = inChild(CHURN);
    assert.ok(control.after >= 4 * control.start, `without the cap V8 grows it (${control.start} -> ${control.after})`);
    const capped = inChild(`import { noteActivity } from ${JSON.stringify(GC_HINT)};\nnoteActivity();\n${CHURN}`);
    assert.ok(capped.after <= capped.start, `capped: ${capped.start} -> ${capped.after}`);
  });

  it("the trim hands glibc's free heap pages back", () => {
    // 64 KiB buffers come from malloc's heap (below its mmap threshold); one kept behind them
    // stops free() from shrinking the heap by itself, as the agent's long-lived allocations do.
    const r = inChild(`
import * as vm from 'node:vm';
import { mallocTrim } from ${JSON.stringify(FDOPS)};
v8.setFlagsFromString('--expose-gc');
const gc = vm.runInNewContext('gc');
const rss = () => process.memoryUsage.rss();
let bufs = Array.from({ length: 800 }, () => Buffer.alloc(64 * 1024, 1));
const pin = Buffer.alloc(64 * 1024, 2);
bufs = null;
gc(); gc();
await new Promise((r) => setTimeout(r, 200));
const before = rss();
mallocTrim();
console.log(JSON.stringify({ before, after: rss(), pin: pin[0] }));`);
    assert.ok(r.before - r.after > 20 * 1024 * 1024, `trim released ${((r.before - r.after) / 1048576).toFixed(1)} MiB`);
  });

  it("a thread's arena gives its freed top back once the trim threshold is fixed", () => {
    // A worker thread mallocs 8 MiB in 64 KiB blocks (its own arena, as V8's worker threads have)
    // and frees them, after an 8 MiB block freed on the main thread has raised glibc's dynamic
    // threshold; then malloc_trim(). The arena's RSS is read from smaps.
    const run = (fix: boolean) =>
      inChild(`
import * as fs from 'node:fs';
import { Worker } from 'node:worker_threads';
import koffi from 'koffi';
import { fixMallocTrimThreshold, mallocTrim } from ${JSON.stringify(FDOPS)};
const libc = koffi.load('libc.so.6');
const malloc = libc.func('void *malloc(size_t)');
const free = libc.func('void free(void *)');
const memset = libc.func('void *memset(void *, int, size_t)');
if (${fix}) fixMallocTrimThreshold(${MALLOC_TRIM_THRESHOLD});
const big = malloc(8 << 20); memset(big, 1, 8 << 20); free(big);
const mappingKiB = (base) => {
  let hit = false;
  for (const l of fs.readFileSync('/proc/self/smaps', 'utf8').split('\\n')) {
    const m = /^([0-9a-f]+)-/.exec(l);
    if (m) { hit = BigInt('0x' + m[1]) === base; continue; }
    const r = /^Rss:\\s+(\\d+) kB/.exec(l);
    if (r && hit) return Number(r[1]);
  }
  return -1;
};
const w = new Worker(\`
const { parentPort } = require('node:worker_threads');
const koffi = require('koffi');
const libc = koffi.load('libc.so.6');
const malloc = libc.func('void *malloc(size_t)');
const free = libc.func('void free(void *)');
const memset = libc.func('void *memset(void *, int, size_t)');
const ptrs = [];
for (let i = 0; i < 128; i++) { const p = malloc(65536); memset(p, 1, 65536); ptrs.push(p); }
parentPort.postMessage(koffi.address(ptrs[0]));
parentPort.once('message', () => { for (const p of ptrs) free(p); parentPort.postMessage('freed'); });
\`, { eval: true, execArgv: [] });
const next = () => new Promise((r) => w.once('message', r));
const base = (await next()) & ~BigInt((64 << 20) - 1);
const full = mappingKiB(base);
w.postMessage('free');
await next();
mallocTrim();
console.log(JSON.stringify({ full, after: mappingKiB(base) }));
await w.terminate();`);
    const control = run(false);
    assert.ok(control.full >= 8192 && control.after >= control.full - 2048, `glibc's default keeps it: ${control.full} -> ${control.after} KiB`);
    const fixed = run(true);
    assert.ok(fixed.full >= 8192 && fixed.after <= 2048, `fixed threshold: ${fixed.full} -> ${fixed.after} KiB`);
  });
});
