// The descriptor and memory helpers behind the file and exec commands.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import { createRequire } from 'node:module';
import { cloexecInherited, lseek, pageAlignedBuffer, pipeCloexec, releasePages, SEEK_CUR, SEEK_END } from '../../src/platform/linux/fdops.ts';

const koffi = createRequire(import.meta.url)('koffi');

function cloexec(fd: number): boolean {
  const flags = /flags:\s+([0-7]+)/.exec(fs.readFileSync(`/proc/self/fdinfo/${fd}`, 'latin1'))?.[1] ?? '0';
  return (parseInt(flags, 8) & 0o2000000) !== 0;
}

function rssKiB(): number {
  return Number(/VmRSS:\s+(\d+)/.exec(fs.readFileSync('/proc/self/status', 'latin1'))?.[1]);
}

test('releasePages gives a page-aligned buffer back to the kernel: RSS drops, contents read as zero', () => {
  const size = 32 * 1024 * 1024;
  const buf = pageAlignedBuffer(size);
  assert.ok(buf);
  assert.equal(Number(koffi.address(buf) % 4096n), 0);
  buf.fill(0xab);
  const touched = rssKiB();
  releasePages(buf, size - 100);
  const released = rssKiB();
  assert.ok(touched - released > 30 * 1024, `${touched} -> ${released}`);
  assert.equal(buf[0], 0);
  assert.equal(buf[size - 200], 0);
});

test('lseek returns bigint offsets and throws errno errors; pipes are close-on-exec', () => {
  const file = `${fs.mkdtempSync('/tmp/qga-fdops-')}/f`;
  fs.writeFileSync(file, 'x'.repeat(100));
  const fd = fs.openSync(file, 'r');
  try {
    assert.equal(lseek(fd, 5n, 0), 5n);
    assert.equal(lseek(fd, 0n, SEEK_CUR), 5n);
    assert.throws(() => lseek(fd, -10n, 0), (e: NodeJS.ErrnoException) => e.errno === 22);
    assert.equal(lseek(fd, -1n, SEEK_END), 99n);
  } finally {
    fs.closeSync(fd);
    fs.rmSync(file.replace(/\/f$/, ''), { recursive: true });
  }
  const [r, w] = pipeCloexec();
  try {
    for (const fd of [r, w]) assert.ok(cloexec(fd));
    fs.writeSync(w, 'x');
    const b = Buffer.alloc(1);
    assert.equal(fs.readSync(r, b), 1);
  } finally {
    fs.closeSync(r);
    fs.closeSync(w);
  }
});

test('cloexecInherited marks descriptors without FD_CLOEXEC', () => {
  const [r, w] = pipeCloexec();
  const F_SETFD = 2;
  const libc = koffi.load('libc.so.6');
  const fcntl = libc.func('int fcntl(int, int, int)');
  try {
    assert.equal(fcntl(r, F_SETFD, 0), 0);
    assert.equal(cloexec(r), false);
    cloexecInherited();
    assert.equal(cloexec(r), true);
  } finally {
    fs.closeSync(r);
    fs.closeSync(w);
  }
});
