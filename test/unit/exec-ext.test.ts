// The qga-ts exec extensions: incremental output with offsets, signals (pid and own process
// group), kept stdin; and the exec policy: allow-list after the PATH search, audit records.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import { createExecHandlers, type GuestExecStatus } from '../../src/commands/exec.ts';
import { EXEC_OUTPUT_MAX_BYTES } from '../../src/commands/exec-ext.ts';
import { parseExecAllow } from '../../src/commands/exec-policy.ts';
import { waitExited } from '../support/exec.ts';
import { errorOf, fakeContext, tempDir, type FakeContext } from '../support/handler-context.ts';
import type { AgentContext } from '../../src/commands/context.ts';
import { commandTable } from '../../src/generated/qapi-commands.ts';
import { CommandFilter } from '../../src/protocol/command-filter.ts';

type Handlers = ReturnType<typeof createExecHandlers>;

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const b64 = (s: string) => Buffer.from(s).toString('base64');
const text = (d: string) => Buffer.from(d, 'base64').toString();

/** Reads `stream` from offset 0 until eof, in pieces of `max` bytes; returns the bytes and the replies. */
async function readAll(h: Handlers, ctx: AgentContext, pid: number, stream: 'stdout' | 'stderr', max?: number) {
  const pieces: Buffer[] = [];
  let offset = 0;
  let replies = 0;
  for (;;) {
    const r = h['__io.qga-ts_guest-exec-output']({ pid: BigInt(pid), stream, offset: BigInt(offset), ...(max ? { 'max-bytes': BigInt(max) } : {}) }, ctx);
    replies++;
    const bytes = Buffer.from(r.data, 'base64');
    assert.equal(r['next-offset'], offset + bytes.length);
    pieces.push(bytes);
    offset = r['next-offset'];
    if (r.eof) return { data: Buffer.concat(pieces), replies, truncated: r.truncated };
    if (bytes.length === 0) await sleep(5);
  }
}

test('output: read while running from offsets, nothing lost or repeated, eof after the exit; status still has it all', async () => {
  const h = createExecHandlers();
  const ctx = fakeContext();
  const { pid } = await h['guest-exec']({ path: '/bin/sh', arg: ['-c', 'echo a; read x; echo b; echo e >&2'], 'input-data': '', 'capture-output': true }, ctx);
  // Read one byte at a time: every offset is asked for once, and the bytes join up exactly.
  const first = await readAll(h, ctx, pid, 'stdout', 1);
  assert.equal(first.data.toString(), 'a\nb\n');
  assert.equal(first.replies >= 4, true);
  assert.equal((await readAll(h, ctx, pid, 'stderr')).data.toString(), 'e\n');
  // Reading again from an offset gives the same bytes: the capture is kept until status collects it.
  const again = h['__io.qga-ts_guest-exec-output']({ pid: BigInt(pid), stream: 'stdout', offset: 2n }, ctx);
  assert.deepEqual(again, { data: b64('b\n'), 'next-offset': 4, eof: true, truncated: false });
  assert.deepEqual(await waitExited(h, ctx, pid), {
    exited: true, exitcode: 0, 'out-data': b64('a\nb\n'), 'err-data': b64('e\n'), 'out-truncated': false, 'err-truncated': false,
  });
  assert.equal(await errorOf(() => h['__io.qga-ts_guest-exec-output']({ pid: BigInt(pid), stream: 'stdout' }, ctx)), `PID ${pid} does not exist`);
});

test('output: a running process shows its first line while it sleeps, eof false until it ends', async () => {
  const h = createExecHandlers();
  const ctx = fakeContext();
  const { pid } = await h['guest-exec']({ path: '/bin/sh', arg: ['-c', 'echo a; sleep 30; echo b'], 'capture-output': 'stdout' }, ctx);
  let r = h['__io.qga-ts_guest-exec-output']({ pid: BigInt(pid), stream: 'stdout' }, ctx);
  for (let i = 0; i < 2000 && r.data === ''; i++) {
    await sleep(2);
    r = h['__io.qga-ts_guest-exec-output']({ pid: BigInt(pid), stream: 'stdout' }, ctx);
  }
  assert.deepEqual(r, { data: b64('a\n'), 'next-offset': 2, eof: false, truncated: false });
  assert.deepEqual(h['__io.qga-ts_guest-exec-output']({ pid: BigInt(pid), stream: 'stdout', offset: 2n }, ctx), { data: '', 'next-offset': 2, eof: false, truncated: false });
  h['__io.qga-ts_guest-exec-signal']({ pid: BigInt(pid), signal: 9n }, ctx);
  await waitExited(h, ctx, pid);
});

test('output: errors for uncaptured streams, offsets outside the capture, bad max-bytes', async () => {
  const h = createExecHandlers();
  const ctx = fakeContext();
  const { pid } = await h['guest-exec']({ path: '/bin/sh', arg: ['-c', 'echo abc'], 'capture-output': 'stdout' }, ctx);
  await readAll(h, ctx, pid, 'stdout');
  const out = (args: object) => errorOf(() => h['__io.qga-ts_guest-exec-output']({ pid: BigInt(pid), stream: 'stdout', ...args }, ctx));
  assert.equal(await errorOf(() => h['__io.qga-ts_guest-exec-output']({ pid: BigInt(pid), stream: 'stderr' }, ctx)), `PID ${pid}: its stderr is not captured (see capture-output)`);
  assert.equal(await out({ offset: 5n }), `PID ${pid}: offset 5 is outside the 4 bytes of stdout captured so far`);
  assert.equal(await out({ offset: -1n }), `PID ${pid}: offset -1 is outside the 4 bytes of stdout captured so far`);
  assert.equal(await out({ 'max-bytes': 0n }), `max-bytes must be between 1 and ${EXEC_OUTPUT_MAX_BYTES}, not 0`);
  assert.equal(await out({ 'max-bytes': BigInt(EXEC_OUTPUT_MAX_BYTES + 1) }), `max-bytes must be between 1 and ${EXEC_OUTPUT_MAX_BYTES}, not ${EXEC_OUTPUT_MAX_BYTES + 1}`);
  assert.equal(await errorOf(() => h['__io.qga-ts_guest-exec-output']({ pid: 1n, stream: 'stdout' }, ctx)), 'PID 1 does not exist');
  await waitExited(h, ctx, pid);
});

test('output: past the 16 MiB capture limit, truncated is true and eof still comes; replies are at most 1 MiB', async () => {
  const h = createExecHandlers();
  const ctx = fakeContext();
  const { pid } = await h['guest-exec']({ path: '/bin/sh', arg: ['-c', 'head -c 17000000 /dev/zero'], 'capture-output': 'stdout' }, ctx);
  const all = await readAll(h, ctx, pid, 'stdout');
  assert.equal(all.data.length, 16 * 1024 * 1024);
  assert.equal(all.truncated, true);
  assert.ok(all.replies >= 16);
  await waitExited(h, ctx, pid);
});

test('signal: only to processes we started and that have not been reaped; group only for a process group of its own', async () => {
  const h = createExecHandlers();
  const ctx = fakeContext();
  const sig = (pid: number, extra: object = {}) => h['__io.qga-ts_guest-exec-signal']({ pid: BigInt(pid), ...extra }, ctx);
  assert.equal(await errorOf(() => sig(process.pid)), `PID ${process.pid} does not exist`);
  const plain = await h['guest-exec']({ path: '/bin/sleep', arg: ['30'] }, ctx);
  assert.equal(
    await errorOf(() => sig(plain.pid, { group: true })),
    `PID ${plain.pid} shares the agent's process group: only processes started by __io.qga-ts_guest-exec with process-group can be signalled as a group`,
  );
  assert.equal(await errorOf(() => sig(plain.pid, { signal: 65n })), '65 is not a signal number (0 to 64)');
  assert.equal(await errorOf(() => sig(plain.pid, { signal: -1n })), '-1 is not a signal number (0 to 64)');
  assert.deepEqual(sig(plain.pid, { signal: 0n }), {});
  assert.deepEqual(sig(plain.pid), {});
  // Reaped but not yet collected: the pid may be someone else's now.
  while (fs.existsSync(`/proc/${plain.pid}`)) await sleep(2);
  await sleep(20);
  assert.equal(await errorOf(() => sig(plain.pid)), `PID ${plain.pid} has already exited`);
  assert.deepEqual(await waitExited(h, ctx, plain.pid), { exited: true, signal: 15 });
});

test('process-group: setsid, so a group signal reaches background children too; the agent keeps its group', async () => {
  const h = createExecHandlers();
  const ctx = fakeContext();
  const { dir, cleanup } = tempDir();
  try {
    const pidFile = `${dir}/bg`;
    const { pid } = await h['__io.qga-ts_guest-exec']({ path: '/bin/sh', arg: ['-c', `sleep 30 & echo $! > ${pidFile}; wait`], 'process-group': true }, ctx);
    while (!fs.existsSync(pidFile) || fs.readFileSync(pidFile, 'latin1').trim() === '') await sleep(2);
    const bg = Number(fs.readFileSync(pidFile, 'latin1'));
    const stat = (p: number) => fs.readFileSync(`/proc/${p}/stat`, 'latin1').split(') ')[1]!.split(' ');
    // Fields after the name: state, ppid, pgrp, session.
    assert.deepEqual([stat(pid)[2], stat(pid)[3]], [String(pid), String(pid)]);
    assert.equal(stat(bg)[2], String(pid));
    assert.notEqual(stat(process.pid)[2], String(pid));
    h['__io.qga-ts_guest-exec-signal']({ pid: BigInt(pid), signal: 9n, group: true }, ctx);
    assert.deepEqual(await waitExited(h, ctx, pid), { exited: true, signal: 9 });
    for (let i = 0; i < 1000 && fs.existsSync(`/proc/${bg}`) && stat(bg)[0] !== 'Z'; i++) await sleep(2);
    assert.ok(!fs.existsSync(`/proc/${bg}`) || stat(bg)[0] === 'Z', 'the background child survived the group signal');
  } finally {
    cleanup();
  }
});

test('input: keep-stdin takes more bytes, then close ends the stream; refused without keep-stdin or once closed', async () => {
  const h = createExecHandlers();
  const ctx = fakeContext();
  const { pid } = await h['__io.qga-ts_guest-exec']({ path: '/bin/cat', 'input-data': b64('one\n'), 'keep-stdin': true, 'capture-output': 'stdout' }, ctx);
  const input = (extra: object) => h['__io.qga-ts_guest-exec-input']({ pid: BigInt(pid), ...extra }, ctx);
  assert.deepEqual(input({ data: b64('two\n') }), {});
  await sleep(50);
  assert.deepEqual(h['guest-exec-status']({ pid: BigInt(pid) }, ctx), { exited: false });
  assert.deepEqual(input({ data: b64('three\n'), close: true }), {});
  assert.equal(await errorOf(() => input({ data: b64('x') })), `the standard input of PID ${pid} is closed`);
  assert.deepEqual(await waitExited(h, ctx, pid), { exited: true, exitcode: 0, 'out-data': b64('one\ntwo\nthree\n'), 'out-truncated': false });

  const plain = await h['guest-exec']({ path: '/bin/cat', 'input-data': '' }, ctx);
  assert.equal(await errorOf(() => h['__io.qga-ts_guest-exec-input']({ pid: BigInt(plain.pid), data: '' }, ctx)), `PID ${plain.pid} was not started with keep-stdin`);
  await waitExited(h, ctx, plain.pid);
});

test('input: at most 1 MiB may wait unread; more is refused with the count', async () => {
  const h = createExecHandlers();
  const ctx = fakeContext();
  const { pid } = await h['__io.qga-ts_guest-exec']({ path: '/bin/sleep', arg: ['30'], 'keep-stdin': true }, ctx);
  const chunk = Buffer.alloc(512 * 1024).toString('base64');
  let refused = '';
  for (let i = 0; i < 8 && refused === ''; i++) {
    try {
      h['__io.qga-ts_guest-exec-input']({ pid: BigInt(pid), data: chunk }, ctx);
    } catch (e) {
      refused = (e as { desc: string }).desc;
    }
  }
  assert.match(refused, new RegExp(`^PID ${pid} has \\d+ bytes of standard input not read yet; at most 1048576 may wait$`));
  h['__io.qga-ts_guest-exec-signal']({ pid: BigInt(pid), signal: 9n }, ctx);
  await waitExited(h, ctx, pid);
});

function policyContext(allow: string[] | null, audit: boolean): FakeContext & { records: string[] } {
  const ctx = fakeContext();
  const records: string[] = [];
  return Object.assign(ctx, { execPolicy: { allow, audit }, records, log: { ...ctx.log, record: (m: string) => records.push(m) } });
}

test('exec-allow: matched on the file after the PATH search, literally (no symlink resolution); refusal is a GenericError', async () => {
  const h = createExecHandlers();
  const ctx = policyContext(['/bin/sh'], false);
  const ok = await h['guest-exec']({ path: '/bin/sh', arg: ['-c', 'exit 4'] }, ctx);
  assert.deepEqual(await waitExited(h, ctx, ok.pid), { exited: true, exitcode: 4 });
  // Found by the PATH search in /usr/bin: not the listed /bin/sh, even if the same file.
  const viaPath = { ...ctx, env: { PATH: '/usr/bin:/bin' } };
  assert.equal(await errorOf(() => h['guest-exec']({ path: 'sh' }, viaPath)), "guest-exec refused: /usr/bin/sh is not in the agent's exec-allow list");
  assert.equal(await errorOf(() => h['__io.qga-ts_guest-exec']({ path: '/bin/../bin/true' }, ctx)), "guest-exec refused: /bin/true is not in the agent's exec-allow list");
  // A missing program is still reported as missing, not as refused.
  assert.equal(await errorOf(() => h['guest-exec']({ path: 'no-such-program-qga' }, viaPath)), 'Failed to execute child process \u201Cno-such-program-qga\u201D (No such file or directory)');
  // Normalised before the match.
  const ctx2 = policyContext(parseExecAllow('/usr/bin/../bin/true') as string[], false);
  const t = await h['guest-exec']({ path: 'true' }, { ...ctx2, env: { PATH: '/usr/bin' } });
  assert.deepEqual(await waitExited(h, ctx2, t.pid), { exited: true, exitcode: 0 });
});

test('parseExecAllow: absolute paths, normalised; empty allows nothing; relative entries are refused', () => {
  assert.deepEqual(parseExecAllow('/usr/bin/uname,/bin//sh'), ['/usr/bin/uname', '/bin/sh']);
  assert.deepEqual(parseExecAllow(''), []);
  assert.deepEqual(parseExecAllow('/bin/sh,uname'), { error: "exec-allow entries must be absolute paths, not 'uname'" });
});

test('exec-audit: start, end (status or signal, duration), refusals, failures and signals, to syslog and the log file', async () => {
  const h = createExecHandlers();
  const ctx = policyContext(['/bin/sh', '/bin/sleep', '/nonexistent/x'], true);
  const a = await h['guest-exec']({ path: '/bin/sh', arg: ['-c', 'exit 3', 'a "b"\n'] }, ctx);
  await waitExited(h, ctx, a.pid);
  const b = await h['guest-exec']({ path: '/bin/sleep', arg: ['30'] }, ctx);
  h['__io.qga-ts_guest-exec-signal']({ pid: BigInt(b.pid), signal: 9n }, ctx);
  await waitExited(h, ctx, b.pid);
  await errorOf(() => h['guest-exec']({ path: '/bin/true' }, ctx));
  await errorOf(() => h['guest-exec']({ path: '/nonexistent/x' }, ctx));
  const argvA = '["/bin/sh","-c","exit 3","a \\"b\\"\\n"]';
  const want = [
    `guest-exec: pid ${a.pid} started: ${argvA}`,
    new RegExp(`^guest-exec: pid ${a.pid} exited with status 3 after \\d+\\.\\d{3} s: ${argvA.replace(/[[\]\\]/g, '\\$&')}$`),
    `guest-exec: pid ${b.pid} started: ["/bin/sleep","30"]`,
    `guest-exec: signal 9 sent to pid ${b.pid}`,
    new RegExp(`^guest-exec: pid ${b.pid} killed by signal 9 after \\d+\\.\\d{3} s: \\["/bin/sleep","30"\\]$`),
    'guest-exec refused: /bin/true is not in exec-allow: ["/bin/true"]',
    'guest-exec failed: Failed to execute child process \u201C/nonexistent/x\u201D (No such file or directory): ["/nonexistent/x"]',
  ];
  assert.equal(ctx.records.length, want.length, ctx.records.join('\n'));
  want.forEach((w, i) => (typeof w === 'string' ? assert.equal(ctx.records[i], w) : assert.match(ctx.records[i]!, w)));
  // The same records went to syslog, after qemu-ga's own `guest-exec called` lines.
  assert.deepEqual(ctx.audits.filter((l) => !l.startsWith('guest-exec called') && !l.startsWith('guest-exec-status called')), ctx.records);
  // Without exec-audit: only qemu-ga's lines.
  const quiet = policyContext(null, false);
  const c = await h['guest-exec']({ path: '/bin/true' }, quiet);
  await waitExited(h, quiet, c.pid);
  assert.deepEqual(quiet.records, []);
  assert.equal(quiet.audits[0], 'guest-exec called: "/bin/true"');
  assert.ok(quiet.audits.slice(1).every((l) => l === `guest-exec-status called, pid: ${c.pid}`), quiet.audits.join('\n'));
});

test('the exec extensions are in the command table, enabled by default, disabled while frozen and by -b', () => {
  const ext = [...commandTable.keys()].filter((n) => n.startsWith('__io.qga-ts_guest-exec'));
  assert.deepEqual(ext, ['__io.qga-ts_guest-exec', '__io.qga-ts_guest-exec-output', '__io.qga-ts_guest-exec-signal', '__io.qga-ts_guest-exec-input']);
  const filter = new CommandFilter(null, ['__io.qga-ts_guest-exec-signal']);
  assert.deepEqual(ext.map((n) => filter.isEnabled(n)), [true, true, false, true]);
  filter.frozen = true;
  assert.deepEqual(ext.map((n) => filter.isEnabled(n)), [false, false, false, false]);
});
