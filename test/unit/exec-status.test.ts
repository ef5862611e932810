// guest-exec capture modes, guest-exec-status, truncation, many children, reaping.
import { b64Text } from '../../src/commands/file.ts';
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import { randomBytes } from 'node:crypto';
import { Base64Bytes, type OutValue } from '../../src/json/value.ts';
import { ReplyBytes, toJsonParts } from '../../src/json/serialize.ts';
import { createExecHandlers, EXEC_MAX_OUTPUT, type GuestExecArgs, type GuestExecStatus } from '../../src/commands/exec.ts';
import { waitExited } from '../support/exec.ts';
import { errorOf, fakeContext, tempDir, type FakeContext } from '../support/handler-context.ts';
import type { AgentContext } from '../../src/commands/context.ts';
import type { Handlers as HandlerTable } from '../../src/generated/qapi-commands.ts';

type Handlers = ReturnType<typeof createExecHandlers>;

async function run(h: Handlers, ctx: FakeContext, args: GuestExecArgs): Promise<GuestExecStatus> {
  const { pid } = await h['guest-exec'](args, ctx);
  return waitExited(h, ctx, pid);
}

const b64 = (s: string) => Buffer.from(s).toString('base64');
const SCRIPT = ['-c', 'printf out; printf err >&2; printf more; exit 3'];

test('capture-output: absent, false, none, true, separated, stdout, stderr, merged', async () => {
  const h = createExecHandlers();
  const ctx = fakeContext();
  const cases: [GuestExecArgs['capture-output'], GuestExecStatus][] = [
    [undefined, { exited: true, exitcode: 3 }],
    [false, { exited: true, exitcode: 3 }],
    ['none', { exited: true, exitcode: 3 }],
    [true, { exited: true, exitcode: 3, 'out-data': b64('outmore'), 'err-data': b64('err'), 'out-truncated': false, 'err-truncated': false }],
    ['separated', { exited: true, exitcode: 3, 'out-data': b64('outmore'), 'err-data': b64('err'), 'out-truncated': false, 'err-truncated': false }],
    ['stdout', { exited: true, exitcode: 3, 'out-data': b64('outmore'), 'out-truncated': false }],
    ['stderr', { exited: true, exitcode: 3, 'err-data': b64('err'), 'err-truncated': false }],
    ['merged', { exited: true, exitcode: 3, 'out-data': b64('outerrmore'), 'out-truncated': false }],
  ];
  for (const [capture, want] of cases) {
    const st = await run(h, ctx, { path: '/bin/sh', arg: SCRIPT, 'capture-output': capture });
    assert.deepEqual(st, want, JSON.stringify(capture));
  }
});

test('empty streams leave out-data/err-data (and their truncated flags) out', async () => {
  const h = createExecHandlers();
  const ctx = fakeContext();
  assert.deepEqual(await run(h, ctx, { path: '/bin/true', 'capture-output': true }), { exited: true, exitcode: 0 });
  assert.deepEqual(await run(h, ctx, { path: '/bin/sh', arg: ['-c', 'echo e >&2'], 'capture-output': true }), {
    exited: true,
    exitcode: 0,
    'err-data': b64('e\n'),
    'err-truncated': false,
  });
  // Uncaptured streams go to /dev/null: nothing leaks into the agent's own output either.
  assert.deepEqual(await run(h, ctx, { path: '/bin/sh', arg: ['-c', 'echo hidden; echo hidden >&2'], 'capture-output': 'stderr' }), {
    exited: true,
    exitcode: 0,
    'err-data': b64('hidden\n'),
    'err-truncated': false,
  });
});

test('status: {exited:false} while running, signal instead of exitcode, then the record is gone', async () => {
  const h = createExecHandlers();
  const ctx = fakeContext();
  const { pid } = await h['guest-exec']({ path: '/bin/sh', arg: ['-c', 'read x; exit 7'], 'input-data': '', 'capture-output': true }, ctx);
  const st = await waitExited(h, ctx, pid);
  assert.deepEqual(st, { exited: true, exitcode: 7 });
  assert.equal(await errorOf(() => h['guest-exec-status']({ pid: BigInt(pid) }, ctx)), `PID ${pid} does not exist`);

  const slow = await h['guest-exec']({ path: '/bin/sleep', arg: ['30'], 'capture-output': true }, ctx);
  assert.deepEqual(h['guest-exec-status']({ pid: BigInt(slow.pid) }, ctx), { exited: false });
  assert.deepEqual(h['guest-exec-status']({ pid: BigInt(slow.pid) }, ctx), { exited: false });
  process.kill(slow.pid, 'SIGKILL');
  assert.deepEqual(await waitExited(h, ctx, slow.pid), { exited: true, signal: 9 });
  assert.equal(await errorOf(() => h['guest-exec-status']({ pid: BigInt(slow.pid) }, ctx)), `PID ${slow.pid} does not exist`);

  assert.deepEqual(await run(h, ctx, { path: '/bin/sh', arg: ['-c', 'kill -TERM $$'] }), { exited: true, signal: 15 });
  assert.deepEqual(
    ctx.audits.filter((l) => l.startsWith('guest-exec-status')).slice(0, 1),
    [`guest-exec-status called, pid: ${pid}`],
  );
});

test('unknown pids: PID <pid> does not exist, with the decimal pid', async () => {
  const h = createExecHandlers();
  const ctx = fakeContext();
  for (const pid of [0n, 1n, 2147483647n, -1n, 9223372036854775807n, -9223372036854775808n, BigInt(process.pid)]) {
    assert.equal(await errorOf(() => h['guest-exec-status']({ pid }, ctx)), `PID ${pid} does not exist`);
  }
});

test('exited needs the exit, and EOF on every captured pipe or a short drain after the exit', async () => {
  const h = createExecHandlers();
  const ctx = fakeContext();
  // Pipes closed, child alive: not exited.
  const a = await h['guest-exec']({ path: '/bin/sh', arg: ['-c', 'exec 1>&- 2>&-; exec sleep 30'], 'capture-output': true }, ctx);
  assert.deepEqual(h['guest-exec-status']({ pid: BigInt(a.pid) }, ctx), { exited: false });
  process.kill(a.pid, 'SIGKILL');
  assert.deepEqual(await waitExited(h, ctx, a.pid), { exited: true, signal: 9 });
});

/** The inodes of the pipes among this process's descriptors. */
function ownPipes(): Set<string> {
  const out = new Set<string>();
  for (const fd of fs.readdirSync('/proc/self/fd')) {
    try {
      const link = fs.readlinkSync(`/proc/self/fd/${fd}`);
      if (link.startsWith('pipe:')) out.add(link);
    } catch {
      // closed meanwhile (the readdir's own fd)
    }
  }
  return out;
}

test('a background child holding the pipe does not keep exited false (qemu-ga waits for it): hi within 3 s', async () => {
  const h = createExecHandlers();
  const ctx = fakeContext();
  const { dir, cleanup } = tempDir();
  try {
    const pidFile = `${dir}/grandchild`;
    const started = Date.now();
    const b = await h['guest-exec']({ path: '/bin/sh', arg: ['-c', `sleep 30 & echo $! > ${pidFile}; echo hi`], 'capture-output': true }, ctx);
    const st = await waitExited(h, ctx, b.pid);
    assert.deepEqual(st, { exited: true, exitcode: 0, 'out-data': b64('hi\n'), 'out-truncated': false });
    assert.ok(Date.now() - started < 3000, `exited after ${Date.now() - started} ms`);
    // The sleep is the user's: still running, its stdout a pipe nobody in the agent reads any more.
    const grandchild = Number(fs.readFileSync(pidFile, 'latin1'));
    assert.ok(fs.existsSync(`/proc/${grandchild}`), 'the background child was killed');
    const held = fs.readlinkSync(`/proc/${grandchild}/fd/1`);
    assert.match(held, /^pipe:/);
    assert.equal(ownPipes().has(held), false, 'the agent still has the read end of the pipe open');
    process.kill(grandchild, 'SIGKILL');
  } finally {
    cleanup();
  }
});

test('output written just before the exit is all there, even when a background child keeps the pipe', async () => {
  const h = createExecHandlers();
  const ctx = fakeContext();
  for (let i = 0; i < 20; i++) {
    const r = await h['guest-exec']({ path: '/bin/sh', arg: ['-c', 'sleep 5 >/dev/null 2>&1 </dev/null & exec 3>&1; sleep 5 >&3 & head -c 200000 /dev/zero; echo end'], 'capture-output': 'stdout' }, ctx);
    const st = await waitExited(h, ctx, r.pid);
    const out = Buffer.from(b64Text(st['out-data'] ?? ''), 'base64');
    assert.equal(out.length, 200004);
    assert.equal(out.subarray(200000).toString(), 'end\n');
  }
});

test('16 MiB cap per stream: excess is read and dropped, the stream marked truncated', async () => {
  const h = createExecHandlers();
  const ctx = fakeContext();
  let st = await run(h, ctx, { path: '/bin/sh', arg: ['-c', 'head -c 17000000 /dev/zero'], 'capture-output': true });
  assert.equal(st['out-truncated'], true);
  assert.equal(st.exitcode, 0);
  const out = Buffer.from(b64Text(st['out-data'] ?? ''), 'base64');
  assert.equal(out.length, EXEC_MAX_OUTPUT);
  assert.ok(out.every((b) => b === 0));
  // Exactly 16 MiB is not truncated.
  st = await run(h, ctx, { path: '/bin/sh', arg: ['-c', `head -c ${EXEC_MAX_OUTPUT} /dev/zero`], 'capture-output': true });
  assert.deepEqual([Buffer.from(b64Text(st['out-data'] ?? ''), 'base64').length, st['out-truncated']], [EXEC_MAX_OUTPUT, false]);
  // stderr has its own cap; the child is never blocked by a full pipe, so 64 MB finish.
  st = await run(h, ctx, { path: '/bin/sh', arg: ['-c', 'head -c 64000000 /dev/zero >&2; echo done'], 'capture-output': 'separated' });
  assert.deepEqual([st['out-data'], st['out-truncated'], st['err-truncated'], Buffer.from(b64Text(st['err-data'] ?? ''), 'base64').length], [b64('done\n'), false, true, EXEC_MAX_OUTPUT]);
  // Merged: both streams count against the single cap.
  st = await run(h, ctx, { path: '/bin/sh', arg: ['-c', 'head -c 10000000 /dev/zero; head -c 10000000 /dev/zero >&2'], 'capture-output': 'merged' });
  assert.deepEqual([Buffer.from(b64Text(st['out-data'] ?? ''), 'base64').length, st['out-truncated'], st['err-data']], [EXEC_MAX_OUTPUT, true, undefined]);
});

test('200 concurrent children with captured output, all tracked, none left a zombie', async () => {
  const h = createExecHandlers();
  const ctx = fakeContext();
  const pids: number[] = [];
  for (let i = 0; i < 200; i++) {
    const { pid } = await h['guest-exec']({ path: '/bin/sh', arg: ['-c', 'sleep 0.2; echo "$0"; echo "e$0" >&2; exit $(($0 % 7))', String(i)], 'capture-output': true }, ctx);
    pids.push(pid);
  }
  assert.equal(new Set(pids).size, 200);
  const results = await Promise.all(pids.map((pid) => waitExited(h, ctx, pid)));
  results.forEach((st, i) => {
    assert.deepEqual(st, { exited: true, exitcode: i % 7, 'out-data': b64(`${i}\n`), 'err-data': b64(`e${i}\n`), 'out-truncated': false, 'err-truncated': false });
  });
  assert.deepEqual(zombieChildren(), []);
});

test('children are reaped as soon as they exit, even when nobody asks for their status', async () => {
  const h = createExecHandlers();
  const ctx = fakeContext();
  const { pid } = await h['guest-exec']({ path: '/bin/true' }, ctx);
  for (let i = 0; i < 5000 && fs.existsSync(`/proc/${pid}`); i++) await new Promise((r) => setTimeout(r, 1));
  assert.equal(fs.existsSync(`/proc/${pid}`), false);
  // The record outlives the process until its status is fetched.
  assert.deepEqual(h['guest-exec-status']({ pid: BigInt(pid) }, ctx), { exited: true, exitcode: 0 });
});

test('a child outliving the client that started it is still tracked for the next client', async () => {
  const h = createExecHandlers();
  const first = fakeContext();
  const { pid } = await h['guest-exec']({ path: '/bin/sh', arg: ['-c', 'sleep 0.1; echo hi'], 'capture-output': true }, first);
  const second = fakeContext();
  assert.deepEqual(await waitExited(h, second, pid), { exited: true, exitcode: 0, 'out-data': b64('hi\n'), 'out-truncated': false });
});

function zombieChildren(): number[] {
  const out: number[] = [];
  for (const name of fs.readdirSync('/proc')) {
    if (!/^\d+$/.test(name)) continue;
    let stat: string;
    try {
      stat = fs.readFileSync(`/proc/${name}/stat`, 'latin1');
    } catch {
      continue;
    }
    const f = stat.replace(/^.*\) /, '').split(' ');
    if (f[0] === 'Z' && Number(f[1]) === process.pid) out.push(Number(name));
  }
  return out;
}

test('the factory fits the generated Handlers table', () => {
  type Exec = 'guest-exec' | 'guest-exec-status' | `__io.qga-ts_guest-exec${'' | '-output' | '-signal' | '-input'}`;
  const handlers: Pick<HandlerTable<AgentContext>, Exec> = createExecHandlers();
  assert.deepEqual(Object.keys(handlers).sort(), [
    '__io.qga-ts_guest-exec',
    '__io.qga-ts_guest-exec-input',
    '__io.qga-ts_guest-exec-output',
    '__io.qga-ts_guest-exec-signal',
    'guest-exec',
    'guest-exec-status',
  ]);
});

test('output beyond 64 KiB lives in a memfd: exact bytes in the reply, not inherited by children, closed once the reply is encoded', async () => {
  const h = createExecHandlers();
  const ctx = fakeContext();
  const { dir, cleanup } = tempDir();
  try {
    const data = randomBytes(3 * 1024 * 1024 + 1);
    fs.writeFileSync(`${dir}/data`, data);
    const memfds = () => fs.readdirSync('/proc/self/fd').filter((fd) => { try { return fs.readlinkSync(`/proc/self/fd/${fd}`).startsWith('/memfd:qga-ts'); } catch { return false; } }).length;
    const before = memfds();
    // cat the data, then sleep: its capture is held while another child lists its descriptors.
    const { pid } = await h['guest-exec']({ path: '/bin/sh', arg: ['-c', `cat ${dir}/data; sleep 1`], 'capture-output': 'stdout' }, ctx);
    for (let i = 0; memfds() === before; i++) {
      assert.ok(i < 1000, 'no memfd holds the capture');
      await new Promise((r) => setTimeout(r, 5));
    }
    const ls = await run(h, ctx, { path: '/bin/sh', arg: ['-c', 'ls -l /proc/$$/fd'], 'capture-output': true });
    assert.doesNotMatch(Buffer.from(b64Text(ls['out-data'] ?? ''), 'base64').toString(), /memfd/);
    const st = await waitExited(h, ctx, pid);
    const v = st['out-data'] as unknown;
    assert.ok(v instanceof Base64Bytes && !Buffer.isBuffer(v.bytes), 'a file-backed Base64Bytes');
    const reply = new ReplyBytes(toJsonParts({ return: st as unknown as OutValue }), '', '\n');
    const out = Buffer.alloc(reply.length);
    // In pieces of an odd size, as the session's writes are.
    for (let o = 0; o < out.length; ) o += reply.fill(out.subarray(0, Math.min(out.length, o + 70001)), o);
    assert.equal(out.toString('latin1'), `{"return": {"exitcode": 0, "out-data": "${data.toString('base64')}", "out-truncated": false, "exited": true}}\n`);
    assert.equal(memfds(), before, 'the memfd is closed once encoded');
  } finally {
    cleanup();
  }
});
