// guest-exec: program lookup, GLib's failure texts, argv/env, the child's environment.
import { b64Text } from '../../src/commands/file.ts';
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { createExecHandlers, searchProgram, type GuestExecArgs, type GuestExecStatus } from '../../src/commands/exec.ts';
import { errorOf, fakeContext, tempDir, type FakeContext } from '../support/handler-context.ts';

const q = (s: string) => `\u201C${s}\u201D`;

async function waitExited(h: ReturnType<typeof createExecHandlers>, ctx: FakeContext, pid: number): Promise<GuestExecStatus> {
  for (let i = 0; i < 20000; i++) {
    const st = h['guest-exec-status']({ pid: BigInt(pid) }, ctx);
    if (st.exited) return st;
    await new Promise((r) => setTimeout(r, 1));
  }
  throw new Error(`pid ${pid} never exited`);
}

async function run(h: ReturnType<typeof createExecHandlers>, ctx: FakeContext, args: GuestExecArgs): Promise<GuestExecStatus & { out: string; err: string }> {
  const { pid } = await h['guest-exec'](args, ctx);
  const st = await waitExited(h, ctx, pid);
  return {
    ...st,
    out: Buffer.from(b64Text(st['out-data'] ?? ''), 'base64').toString('utf8'),
    err: Buffer.from(b64Text(st['err-data'] ?? ''), 'base64').toString('utf8'),
  };
}

test('spawn failures read exactly as GLib: missing, directory, not executable, empty, relative', async () => {
  const { dir, cleanup } = tempDir();
  try {
    const h = createExecHandlers();
    const ctx = fakeContext();
    const noexec = path.join(dir, 'noexec');
    fs.writeFileSync(noexec, 'echo hi\n', { mode: 0o644 });
    const cases: [string, string][] = [
      ['/nonexistent/qga-probe-binary', 'No such file or directory'],
      ['qga-probe-no-such-command', 'No such file or directory'],
      [dir, 'Permission denied'],
      [noexec, 'Permission denied'],
      ['', 'No such file or directory'],
      ['./qga-no-such-relative', 'No such file or directory'],
      [`${noexec}/x`, 'Not a directory'],
      ['/bin/sh\u0000x', 'No such file or directory'],
    ];
    for (const [p, why] of cases) {
      assert.equal(await errorOf(() => h['guest-exec']({ path: p }, ctx)), `Failed to execute child process ${q(p)} (${why})`, p);
    }
  } finally {
    cleanup();
  }
});

test('PATH search follows g_execute: EACCES remembered, ENOTDIR skipped, last errno reported', async () => {
  const { dir, cleanup } = tempDir();
  try {
    const h = createExecHandlers();
    const ctx = fakeContext();
    const bin = path.join(dir, 'bin');
    fs.mkdirSync(bin);
    fs.writeFileSync(path.join(bin, 'noexec'), 'echo hi\n', { mode: 0o644 });
    fs.mkdirSync(path.join(bin, 'adir'));
    fs.writeFileSync(path.join(bin, 'script'), 'echo "script $0 $*"\n', { mode: 0o755 });
    const fail = (p: string, PATH: string) => errorOf(() => h['guest-exec']({ path: p, env: [`PATH=${PATH}`] }, ctx));
    assert.equal(await fail('noexec', bin), `Failed to execute child process ${q('noexec')} (Permission denied)`);
    assert.equal(await fail('noexec', `${bin}:/usr/bin`), `Failed to execute child process ${q('noexec')} (Permission denied)`);
    assert.equal(await fail('adir', bin), `Failed to execute child process ${q('adir')} (Permission denied)`);
    assert.equal(await fail('foo', '/etc/passwd'), `Failed to execute child process ${q('foo')} (Not a directory)`);
    assert.equal(await fail('foo', '/etc/passwd:/nonexistent'), `Failed to execute child process ${q('foo')} (No such file or directory)`);
    assert.equal(await fail('foo', '/nonexistent:/etc/passwd'), `Failed to execute child process ${q('foo')} (Not a directory)`);
    assert.equal(searchProgram('script', `/nonexistent:${bin}`), `${bin}/script`);
    assert.equal(searchProgram('script', `:${bin}`), `${bin}/script`); // "" = the cwd, which has none
    assert.equal((searchProgram('package.json', ':') as NodeJS.ErrnoException).code, 'EACCES'); // found in the cwd, not executable
    assert.equal(searchProgram('sh', '/bin'), '/bin/sh');
    // A text file without "#!" runs through /bin/sh with the found path as $0.
    const r = await run(h, ctx, { path: 'script', arg: ['a', 'b'], env: [`PATH=${bin}`], 'capture-output': true });
    assert.equal(r.out, `script ${bin}/script a b\n`);
    assert.equal(r.exitcode, 0);
  } finally {
    cleanup();
  }
});

test('PATH: from env when it has PATH=, else the agent PATH, else /bin:/usr/bin:.', async () => {
  const h = createExecHandlers();
  // env without PATH: the agent's PATH finds `env`; the child sees only FOO.
  let r = await run(h, fakeContext({ PATH: '/usr/bin:/bin' }), { path: 'env', env: ['FOO=bar baz'], 'capture-output': true });
  assert.equal(r.out, 'FOO=bar baz\n');
  // The agent has no PATH at all: GLib's default path still finds sh.
  r = await run(h, fakeContext({}), { path: 'sh', arg: ['-c', 'printf ok'], 'capture-output': true });
  assert.equal(r.out, 'ok');
  // env's PATH wins over the agent's.
  assert.equal(
    await errorOf(() => h['guest-exec']({ path: 'sh', env: ['PATH=/nonexistent'] }, fakeContext({ PATH: '/bin' }))),
    `Failed to execute child process ${q('sh')} (No such file or directory)`,
  );
  // The first PATH= entry counts.
  r = await run(h, fakeContext({}), { path: 'sh', arg: ['-c', 'printf "$PATH"'], env: ['PATH=/bin', 'PATH=/nonexistent'], 'capture-output': true });
  assert.equal(r.out, '/bin');
});

test('env replaces the environment; without env the child inherits the agent environment', async () => {
  const h = createExecHandlers();
  const ctx = fakeContext({ ...process.env, QGA_UNIT_MARKER: '1' });
  const script = 'printf "%s|%s" "$FOO" "${QGA_UNIT_MARKER-unset}"';
  let r = await run(h, ctx, { path: '/bin/sh', arg: ['-c', script], env: ['FOO=bar baz'], 'capture-output': true });
  assert.equal(r.out, 'bar baz|unset');
  r = await run(h, ctx, { path: '/bin/sh', arg: ['-c', script], 'capture-output': true });
  assert.equal(r.out, '|1');
  r = await run(h, ctx, { path: '/usr/bin/env', env: [], 'capture-output': true });
  assert.deepEqual([r.exitcode, r['out-data']], [0, undefined]);
  r = await run(h, ctx, { path: '/usr/bin/env', env: ['A=1=2', 'B=', 'A=dup'], 'capture-output': true });
  assert.equal(r.out, 'A=1=2\nB=\n');
});

test('argv: path is argv[0], arguments verbatim (spaces, unicode, empty, globs)', async () => {
  const h = createExecHandlers();
  const ctx = fakeContext();
  let r = await run(h, ctx, { path: '/bin/sh', arg: ['-c', 'printf "[%s]" "$@"', 'sh', 'a b', 'ünï', '', '*'], 'capture-output': true });
  assert.equal(r.out, '[a b][ünï][][*]');
  r = await run(h, ctx, { path: '/bin/sh', arg: ['-c', 'printf %s "$0"'], 'capture-output': true });
  assert.equal(r.out, '/bin/sh');
  r = await run(h, ctx, { path: 'sh', arg: ['-c', 'printf %s "$0"'], 'capture-output': true });
  assert.equal(r.out, 'sh');
  assert.deepEqual(ctx.audits.filter((l) => l.startsWith('guest-exec called')).slice(0, 1), ['guest-exec called: "/bin/sh -c printf "[%s]" "$@" sh a b ünï  *"']);
});

test('the child: own pipes, fds 0-2 only, default signals, agent process group and session, agent cwd', async () => {
  const h = createExecHandlers();
  const ctx = fakeContext();
  // /dev/stdout and /dev/stderr work (real pipes, not socketpairs).
  let r = await run(h, ctx, { path: '/bin/sh', arg: ['-c', 'echo out > /dev/stdout; echo err > /dev/stderr'], 'capture-output': true });
  assert.deepEqual([r.out, r.err], ['out\n', 'err\n']);
  r = await run(h, ctx, { path: '/bin/ls', arg: ['/proc/self/fd'], 'capture-output': true });
  assert.equal(r.out, '0\n1\n2\n3\n'); // 3 is ls's own directory stream
  r = await run(h, ctx, { path: '/bin/grep', arg: ['-E', '^Sig(Ign|Blk):', '/proc/self/status'], 'capture-output': true });
  assert.equal(r.out, 'SigBlk:\t0000000000000000\nSigIgn:\t0000000000000000\n');
  r = await run(h, ctx, { path: '/bin/sh', arg: ['-c', 'cut -d" " -f5,6 /proc/$$/stat; pwd'], 'capture-output': true });
  const mine = fs.readFileSync('/proc/self/stat', 'latin1').replace(/^.*\) /, '').split(' ');
  assert.equal(r.out, `${mine[2]} ${mine[3]}\n${process.cwd()}\n`);
});

test('input-data is decoded before spawning and fed to stdin, then stdin is closed', async () => {
  const h = createExecHandlers();
  const ctx = fakeContext();
  let r = await run(h, ctx, { path: '/bin/cat', 'input-data': 'aGVsbG8Kd8O2cmxkCg==', 'capture-output': true });
  assert.equal(r.out, 'hello\nwörld\n');
  r = await run(h, ctx, { path: '/bin/cat', 'input-data': '', 'capture-output': true });
  assert.deepEqual([r.exitcode, r['out-data']], [0, undefined]);
  r = await run(h, ctx, { path: '/bin/cat', 'input-data': 'YWJ', 'capture-output': true });
  assert.equal(r.out, 'ab'); // the unpadded-base64 fix reaches input-data too
  const mib = Buffer.alloc(1 << 20, 'x').toString('base64');
  r = await run(h, ctx, { path: '/bin/sh', arg: ['-c', 'wc -c'], 'input-data': mib, 'capture-output': true });
  assert.equal(r.out.trim(), '1048576');
  // A child that never reads its input does not hang anything.
  r = await run(h, ctx, { path: '/bin/true', 'input-data': Buffer.alloc(4 << 20).toString('base64') });
  assert.equal(r.exitcode, 0);
  // Without input-data, stdin is /dev/null.
  r = await run(h, ctx, { path: '/bin/sh', arg: ['-c', 'readlink /proc/self/fd/0; cat'], 'capture-output': true });
  assert.equal(r.out, '/dev/null\n');
  const before = ctx.audits.length;
  assert.equal(await errorOf(() => h['guest-exec']({ path: '/bin/cat', 'input-data': '!!!', 'capture-output': true }, ctx)), 'Base64 data contains invalid characters');
  assert.equal(ctx.audits.length, before + 1); // logged, but nothing spawned: no pid to query
});

test('a NUL in an argument arrives as U+FFFD (qemu-ga passes C0 80, which Node cannot)', async () => {
  const h = createExecHandlers();
  const r = await run(h, fakeContext(), { path: '/bin/sh', arg: ['-c', 'printf %s "$1"', 'x', 'a\u0000b'], 'capture-output': true });
  assert.equal(r.out, 'a\uFFFDb');
});
