// guest-set-vcpus and guest-set-memory-blocks on fixture sysfs trees (regular files under a temporary
// root): partial-success rules, qemu-ga's texts, error-code = errno. The real /sys is never written.
import { describe, it } from 'node:test';
import * as assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { guestSetMemoryBlocks, guestSetVcpus } from '../../src/commands/set-cpu-memory.ts';
import { toJson } from '../../src/json/serialize.ts';
import { errorOf, fakeContext } from '../support/handler-context.ts';
import { sysContext, type SysContext, cleanupsAfterEach } from '../support/sysctl.ts';

const cleanups = cleanupsAfterEach();

function tree(files: Record<string, string | null>): SysContext {
  const ctx = sysContext();
  cleanups.push(ctx.cleanup);
  for (const [rel, content] of Object.entries(files)) {
    const p = path.join(ctx.root, rel);
    if (content === null) fs.mkdirSync(p, { recursive: true });
    else {
      fs.mkdirSync(path.dirname(p), { recursive: true });
      fs.writeFileSync(p, content);
    }
  }
  return ctx;
}

const CPU = 'sys/devices/system/cpu';
const MEM = 'sys/devices/system/memory';
const read = (ctx: SysContext, rel: string) => fs.readFileSync(path.join(ctx.root, rel), 'utf8');

function cpus(): SysContext {
  return tree({ [`${CPU}/cpu0`]: null, [`${CPU}/cpu1/online`]: '1\n', [`${CPU}/cpu2/online`]: '0\n', [`${CPU}/cpu3/online`]: '' });
}

describe('guest-set-vcpus', () => {
  it('writes "0"/"1" at offset 0 only when the state differs; returns the count', () => {
    const ctx = cpus();
    const n = guestSetVcpus({ vcpus: [{ 'logical-id': 1n, online: false }, { 'logical-id': 2n, online: true }, { 'logical-id': 0n, online: true }] }, ctx);
    assert.equal(n, 3);
    assert.equal(read(ctx, `${CPU}/cpu1/online`), '0\n');
    assert.equal(read(ctx, `${CPU}/cpu2/online`), '1\n');
    assert.equal(guestSetVcpus({ vcpus: [] }, ctx), 0);
  });

  it('the first element failing is an error (texts keep qemu-ga\'s double slash)', async () => {
    const ctx = cpus();
    assert.equal(await errorOf(() => guestSetVcpus({ vcpus: [{ 'logical-id': 0n, online: false }] }, ctx)), "logical processor #0 can't be offlined");
    assert.equal(
      await errorOf(() => guestSetVcpus({ vcpus: [{ 'logical-id': 99999n, online: true }] }, ctx)),
      'open("/sys/devices/system/cpu/cpu99999/"): No such file or directory',
    );
    assert.equal(
      await errorOf(() => guestSetVcpus({ vcpus: [{ 'logical-id': 3n, online: true }] }, ctx)),
      'pread("/sys/devices/system/cpu/cpu3//online"): unexpected EOF',
    );
    assert.equal(
      await errorOf(() => guestSetVcpus({ vcpus: [{ 'logical-id': -1n, online: true }] }, ctx)),
      'open("/sys/devices/system/cpu/cpu-1/"): No such file or directory',
    );
  });

  it('a later failure ends the walk quietly: the count of leading successes', () => {
    const ctx = cpus();
    const n = guestSetVcpus(
      { vcpus: [{ 'logical-id': 1n, online: false }, { 'logical-id': 0n, online: false }, { 'logical-id': 2n, online: true }] },
      ctx,
    );
    assert.equal(n, 1);
    assert.equal(read(ctx, `${CPU}/cpu2/online`), '0\n', 'elements after the failure are not touched');
  });

  it('without system services: unsupported (the real /sys is never reached)', async () => {
    assert.equal(await errorOf(() => guestSetVcpus({ vcpus: [{ 'logical-id': 1n, online: false }] }, fakeContext())), 'this feature or command is not currently supported');
  });
});

function mem(): SysContext {
  return tree({
    [`${MEM}/memory0/state`]: 'online\n',
    [`${MEM}/memory1/state`]: 'offline\n',
    [`${MEM}/memory2`]: null,
    [`${MEM}/memory3/state`]: '',
  });
}

describe('guest-set-memory-blocks', () => {
  it('success without error-code when the state changes or already matches', () => {
    const ctx = mem();
    const r = guestSetMemoryBlocks(
      { 'mem-blks': [{ 'phys-index': 0n, online: false }, { 'phys-index': 1n, online: true }, { 'phys-index': 1n, online: true }] },
      ctx,
    );
    assert.deepEqual(r, [
      { 'phys-index': 0n, response: 'success' },
      { 'phys-index': 1n, response: 'success' },
      { 'phys-index': 1n, response: 'success' },
    ]);
    assert.equal(read(ctx, `${MEM}/memory0/state`), 'offline', '"offline" written at offset 0 over "online\\n"');
    assert.ok(read(ctx, `${MEM}/memory1/state`).startsWith('online'));
  });

  it('not-found with error-code 2, negative index wraps (observed on qemu-ga 7.2)', () => {
    const ctx = mem();
    const r = guestSetMemoryBlocks({ 'mem-blks': [{ 'phys-index': 999999n, online: true }, { 'phys-index': -1n, online: false }] }, ctx);
    assert.equal(
      toJson(r as never),
      '[{"response": "not-found", "error-code": 2, "phys-index": 999999}, {"response": "not-found", "error-code": 2, "phys-index": 18446744073709551615}]',
    );
  });

  it('no state file: onlining stays success but carries error-code 2; offlining is operation-not-supported', () => {
    const ctx = mem();
    assert.deepEqual(guestSetMemoryBlocks({ 'mem-blks': [{ 'phys-index': 2n, online: true }, { 'phys-index': 2n, online: false }] }, ctx), [
      { 'phys-index': 2n, response: 'success', 'error-code': 2 },
      { 'phys-index': 2n, response: 'operation-not-supported', 'error-code': 2 },
    ]);
  });

  it('an empty state file: operation-failed with errno 0', () => {
    const ctx = mem();
    assert.deepEqual(guestSetMemoryBlocks({ 'mem-blks': [{ 'phys-index': 3n, online: true }] }, ctx), [
      { 'phys-index': 3n, response: 'operation-failed', 'error-code': 0 },
    ]);
  });

  it('no memory directory at all: operation-not-supported (ENOENT) for every block', () => {
    const ctx = tree({});
    assert.deepEqual(guestSetMemoryBlocks({ 'mem-blks': [{ 'phys-index': 0n, online: true }] }, ctx), [
      { 'phys-index': 0n, response: 'operation-not-supported', 'error-code': 2 },
    ]);
    assert.deepEqual(guestSetMemoryBlocks({ 'mem-blks': [] }, ctx), []);
  });

  it('a block that is not a directory: operation-failed with ENOTDIR', () => {
    const ctx = tree({ [`${MEM}/memory7`]: 'file' });
    assert.deepEqual(guestSetMemoryBlocks({ 'mem-blks': [{ 'phys-index': 7n, online: true }] }, ctx), [
      { 'phys-index': 7n, response: 'operation-failed', 'error-code': 20 },
    ]);
  });

  it('without system services: unsupported', async () => {
    assert.equal(await errorOf(() => guestSetMemoryBlocks({ 'mem-blks': [] }, fakeContext())), 'this feature or command is not currently supported');
  });
});
