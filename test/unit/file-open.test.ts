// guest-file-open / -close: modes, creation, errors, handles.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { createFileHandlers } from '../../src/commands/file.ts';
import type { AgentContext } from '../../src/commands/context.ts';
import type { Handlers } from '../../src/generated/qapi-commands.ts';
import { call, errorOf, fakeContext, tempDir } from '../support/handler-context.ts';

const ALL_MODES = ['r', 'rb', 'w', 'wb', 'a', 'ab', 'r+', 'rb+', 'r+b', 'w+', 'wb+', 'w+b', 'a+', 'ab+', 'a+b'];

function openFds(): number {
  return fs.readdirSync('/proc/self/fd').length;
}

test('every accepted fopen mode opens; anything else is an invalid mode', async () => {
  const { dir, cleanup } = tempDir();
  try {
    const h = createFileHandlers();
    const ctx = fakeContext();
    const file = path.join(dir, 'm');
    fs.writeFileSync(file, 'x');
    for (const mode of ALL_MODES) {
      const handle = h['guest-file-open']({ path: file, mode }, ctx);
      assert.equal(typeof handle, 'bigint');
      await call(h['guest-file-close']({ handle }, ctx));
    }
    for (const mode of ['', 'z', 'wx', 'rw', 'br', 'R', 'r ', ' r', 'rb+x', 'a+bb', 'r\u0000', 'wbx', '+r']) {
      assert.equal(await errorOf(() => h['guest-file-open']({ path: file, mode }, ctx)), `invalid file open mode '${mode}'`);
    }
  } finally {
    cleanup();
  }
});

test('default mode is r: the file must exist and is read-only', async () => {
  const { dir, cleanup } = tempDir();
  try {
    const h = createFileHandlers();
    const ctx = fakeContext();
    const missing = path.join(dir, 'nope');
    assert.equal(await errorOf(() => h['guest-file-open']({ path: missing }, ctx)), `failed to open file '${missing}' (mode: 'r'): No such file or directory`);
    fs.writeFileSync(missing, 'abc');
    const handle = h['guest-file-open']({ path: missing }, ctx);
    assert.equal(await errorOf(() => h['guest-file-write']({ handle, 'buf-b64': 'YWJj' }, ctx)), 'failed to write to file: Bad file descriptor');
    assert.deepEqual(await call(h['guest-file-read']({ handle }, ctx)), { count: 3, 'buf-b64': 'YWJj', eof: true });
  } finally {
    cleanup();
  }
});

test('open errors carry path, mode and strerror', async () => {
  const { dir, cleanup } = tempDir();
  try {
    const h = createFileHandlers();
    const ctx = fakeContext();
    const nodir = path.join(dir, 'nodir', 'x');
    assert.equal(await errorOf(() => h['guest-file-open']({ path: nodir, mode: 'w' }, ctx)), `failed to open file '${nodir}' (mode: 'w'): No such file or directory`);
    assert.equal(await errorOf(() => h['guest-file-open']({ path: '', mode: 'r' }, ctx)), "failed to open file '' (mode: 'r'): No such file or directory");
    for (const mode of ['w', 'r+', 'a']) {
      assert.equal(await errorOf(() => h['guest-file-open']({ path: dir, mode }, ctx)), `failed to open file '${dir}' (mode: '${mode}'): Is a directory`);
    }
    const notdir = path.join(dir, 'plain');
    fs.writeFileSync(notdir, '');
    assert.equal(
      await errorOf(() => h['guest-file-open']({ path: `${notdir}/x`, mode: 'r' }, ctx)),
      `failed to open file '${notdir}/x' (mode: 'r'): Not a directory`,
    );
    // A failed open takes no handle.
    assert.equal(ctx.nextHandle, 1000n);
  } finally {
    cleanup();
  }
});

test('new files get 0666 whatever the umask (qemu-ga behaviour, kept on purpose); existing files keep their mode', async () => {
  const { dir, cleanup } = tempDir();
  const oldUmask = process.umask(0o077);
  try {
    const h = createFileHandlers();
    const ctx = fakeContext();
    for (const mode of ['w', 'wb', 'a', 'ab', 'w+', 'wb+', 'w+b', 'a+', 'ab+', 'a+b']) {
      const p = path.join(dir, `new-${mode}`);
      const handle = h['guest-file-open']({ path: p, mode }, ctx);
      await call(h['guest-file-close']({ handle }, ctx));
      assert.equal(fs.statSync(p).mode & 0o7777, 0o666, mode);
    }
    const existing = path.join(dir, 'existing');
    fs.writeFileSync(existing, 'keep me?', { mode: 0o640 });
    fs.chmodSync(existing, 0o640);
    for (const mode of ['a', 'w']) {
      const handle = h['guest-file-open']({ path: existing, mode }, ctx);
      await call(h['guest-file-close']({ handle }, ctx));
      assert.equal(fs.statSync(existing).mode & 0o7777, 0o640, mode);
    }
    // 'w' on an existing file truncates it (O_EXCL failed with EEXIST, reopened without O_CREAT).
    assert.equal(fs.statSync(existing).size, 0);
  } finally {
    process.umask(oldUmask);
    cleanup();
  }
});

test('handles come from allocateHandle, are global to the factory and die on close', async () => {
  const { dir, cleanup } = tempDir();
  try {
    const h = createFileHandlers();
    const ctx = fakeContext();
    ctx.nextHandle = 1015n;
    const p = path.join(dir, 'h.txt');
    fs.writeFileSync(p, 'hello');
    const a = h['guest-file-open']({ path: p }, ctx);
    const b = h['guest-file-open']({ path: p }, ctx);
    assert.deepEqual([a, b], [1015n, 1016n]);
    // A second "client" (another context object, same agent) sees the same handles.
    const ctx2 = fakeContext();
    assert.deepEqual(await call(h['guest-file-read']({ handle: a, count: 2n }, ctx2)), { count: 2, 'buf-b64': 'aGU=', eof: false });
    assert.deepEqual(await call(h['guest-file-close']({ handle: a }, ctx2)), {});
    for (const cmd of ['guest-file-read', 'guest-file-close', 'guest-file-flush'] as const) {
      assert.equal(await errorOf(() => h[cmd]({ handle: a }, ctx)), "handle '1015' has not been found", cmd);
    }
    assert.equal(await errorOf(() => h['guest-file-write']({ handle: a, 'buf-b64': 'YQ==' }, ctx)), "handle '1015' has not been found");
    assert.equal(await errorOf(() => h['guest-file-seek']({ handle: a, offset: 0n, whence: 'set' }, ctx)), "handle '1015' has not been found");
    // Another factory (another agent) has its own table.
    assert.equal(await errorOf(() => createFileHandlers()['guest-file-read']({ handle: b }, ctx)), "handle '1016' has not been found");
    await call(h['guest-file-close']({ handle: b }, ctx));
    assert.deepEqual(ctx.audits, [
      `guest-file-open called, filepath: ${p}, mode: r`,
      'guest-file-open, handle: 1015',
      `guest-file-open called, filepath: ${p}, mode: r`,
      'guest-file-open, handle: 1016',
      'guest-file-close called, handle: 1015',
      'guest-file-close called, handle: 1016',
    ]);
  } finally {
    cleanup();
  }
});

test('unknown handles: every command, negative and huge values; the handle check comes first', async () => {
  const h = createFileHandlers();
  const ctx = fakeContext();
  for (const handle of [999999n, -1n, 0n, 9223372036854775807n, -9223372036854775808n]) {
    const want = `handle '${handle}' has not been found`;
    assert.equal(await errorOf(() => h['guest-file-read']({ handle, count: -1n }, ctx)), want);
    assert.equal(await errorOf(() => h['guest-file-write']({ handle, 'buf-b64': '!!!', count: -1n }, ctx)), want);
    assert.equal(await errorOf(() => h['guest-file-seek']({ handle, offset: 0n, whence: 7n }, ctx)), want);
    assert.equal(await errorOf(() => h['guest-file-flush']({ handle }, ctx)), want);
    assert.equal(await errorOf(() => h['guest-file-close']({ handle }, ctx)), want);
  }
});

test('1000 handles open at once, all distinct and usable, then all closed', async () => {
  const { dir, cleanup } = tempDir();
  try {
    const h = createFileHandlers();
    const ctx = fakeContext();
    const before = openFds();
    const handles: bigint[] = [];
    for (let i = 0; i < 1000; i++) {
      const p = path.join(dir, `f${i % 10}`);
      handles.push(h['guest-file-open']({ path: p, mode: 'a+' }, ctx));
    }
    assert.equal(new Set(handles).size, 1000);
    assert.equal(handles[999], 1999n);
    assert.equal(openFds(), before + 1000);
    for (let i = 0; i < 1000; i++) {
      assert.equal((await call(h['guest-file-write']({ handle: handles[i], 'buf-b64': 'eA==' }, ctx))).count, 1);
    }
    for (const handle of handles) await call(h['guest-file-close']({ handle }, ctx));
    assert.equal(openFds(), before);
    for (let i = 0; i < 10; i++) assert.equal(fs.readFileSync(path.join(dir, `f${i}`), 'latin1'), 'x'.repeat(100));
  } finally {
    cleanup();
  }
});

test('a failed handle allocation reports the error and closes the file', async () => {
  const { dir, cleanup } = tempDir();
  try {
    const h = createFileHandlers();
    const ctx = fakeContext();
    ctx.failAllocation = true;
    const before = openFds();
    assert.equal(await errorOf(() => h['guest-file-open']({ path: path.join(dir, 'x'), mode: 'w' }, ctx)), 'failed to commit persistent state to disk');
    assert.equal(openFds(), before);
  } finally {
    cleanup();
  }
});

test('a negative counter gives -1 without error and keeps nothing open (qemu-ga edge case)', async () => {
  const { dir, cleanup } = tempDir();
  try {
    const h = createFileHandlers();
    const ctx = fakeContext();
    ctx.nextHandle = -3n;
    const before = openFds();
    assert.equal(h['guest-file-open']({ path: path.join(dir, 'x'), mode: 'w' }, ctx), -1n);
    assert.equal(openFds(), before);
    assert.equal(await errorOf(() => h['guest-file-read']({ handle: -1n }, ctx)), "handle '-1' has not been found");
  } finally {
    cleanup();
  }
});

test('a NUL in the path reaches the kernel as the bytes C0 80, as in qemu-ga', async () => {
  const { dir, cleanup } = tempDir();
  try {
    const h = createFileHandlers();
    const ctx = fakeContext();
    const handle = h['guest-file-open']({ path: `${dir}/new\u0000junk`, mode: 'w+' }, ctx);
    await call(h['guest-file-close']({ handle }, ctx));
    assert.deepEqual(fs.readdirSync(Buffer.from(dir), { encoding: 'buffer' }), [Buffer.from('new\xc0\x80junk', 'latin1')]);
    assert.equal(
      await errorOf(() => h['guest-file-open']({ path: `${dir}/missing\u0000`, mode: 'r' }, ctx)),
      `failed to open file '${dir}/missing\u0000' (mode: 'r'): No such file or directory`,
    );
  } finally {
    cleanup();
  }
});

test('the factory fits the generated Handlers table', () => {
  const handlers: Pick<
    Handlers<AgentContext>,
    'guest-file-open' | 'guest-file-close' | 'guest-file-read' | 'guest-file-write' | 'guest-file-seek' | 'guest-file-flush'
  > = createFileHandlers();
  assert.equal(Object.keys(handlers).length, 6);
});
