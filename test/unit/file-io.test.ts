// guest-file-read / -write / -seek / -flush: stdio-equivalent semantics, limits, huge transfers.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { b64Text, createFileHandlers, READ_COUNT_MAX } from '../../src/commands/file.ts';
import { Base64Bytes } from '../../src/json/value.ts';
import { ReplyBytes, toJsonParts } from '../../src/json/serialize.ts';
import { call, errorOf, fakeContext, tempDir } from '../support/handler-context.ts';
import type { GuestFileWhenceInput } from '../../src/generated/qapi-types.ts';

function setup() {
  const { dir, cleanup } = tempDir();
  const h = createFileHandlers();
  const ctx = fakeContext();
  const open = (name: string, mode?: string) => h['guest-file-open']({ path: path.isAbsolute(name) ? name : path.join(dir, name), mode }, ctx);
  return { dir, cleanup, h, ctx, open };
}

test('round trip in w+: write, seek, read, flush, close; the disk holds the data', async () => {
  const { dir, cleanup, h, ctx, open } = setup();
  try {
    const handle = open('rt.txt', 'w+');
    assert.deepEqual(await call(h['guest-file-write']({ handle, 'buf-b64': 'aGVsbG8gd29ybGQK' }, ctx)), { count: 12, eof: false });
    // Reading right after writing starts where the write ended: at the end.
    assert.deepEqual(await call(h['guest-file-read']({ handle, count: 10n }, ctx)), { count: 0, 'buf-b64': '', eof: true });
    assert.deepEqual(await call(h['guest-file-seek']({ handle, offset: 0n, whence: 'set' }, ctx)), { position: 0n, eof: false });
    assert.deepEqual(await call(h['guest-file-read']({ handle, count: 100n }, ctx)), { count: 12, 'buf-b64': 'aGVsbG8gd29ybGQK', eof: true });
    assert.deepEqual(await call(h['guest-file-flush']({ handle }, ctx)), {});
    assert.deepEqual(await call(h['guest-file-close']({ handle }, ctx)), {});
    assert.equal(fs.readFileSync(path.join(dir, 'rt.txt'), 'latin1'), 'hello world\n');
  } finally {
    cleanup();
  }
});

test('default count is 4096; eof only once a read comes up short', async () => {
  const { dir, cleanup, h, ctx, open } = setup();
  try {
    const data = Buffer.from(Array.from({ length: 10000 }, (_, i) => (i * 7 + 3) & 0xff));
    fs.writeFileSync(path.join(dir, 'f'), data);
    const handle = open('f');
    const got: Buffer[] = [];
    const shape: [number, boolean][] = [];
    for (let i = 0; i < 4; i++) {
      const r = await call(h['guest-file-read']({ handle }, ctx));
      shape.push([r.count, r.eof]);
      got.push(Buffer.from(r['buf-b64'], 'base64'));
    }
    assert.deepEqual(shape, [
      [4096, false],
      [4096, false],
      [1808, true],
      [0, true],
    ]);
    assert.ok(Buffer.concat(got).equals(data));
    // Exactly the bytes that are left: no short read, so no eof yet.
    await call(h['guest-file-seek']({ handle, offset: -100n, whence: 'end' }, ctx));
    assert.deepEqual(await call(h['guest-file-read']({ handle, count: 100n }, ctx)), { count: 100, 'buf-b64': data.subarray(9900).toString('base64'), eof: false });
    assert.deepEqual(await call(h['guest-file-read']({ handle, count: 1n }, ctx)), { count: 0, 'buf-b64': '', eof: true });
  } finally {
    cleanup();
  }
});

test('read count limits: 0, negative, 48 MiB and one more, 2^40, int64 extremes', async () => {
  const { dir, cleanup, h, ctx, open } = setup();
  try {
    fs.writeFileSync(path.join(dir, 'small'), '0123456789');
    const handle = open('small');
    assert.deepEqual(await call(h['guest-file-read']({ handle, count: 0n }, ctx)), { count: 0, 'buf-b64': '', eof: false });
    for (const count of [-1n, 50331649n, 1099511627776n, 9223372036854775807n, -9223372036854775808n]) {
      assert.equal(await errorOf(() => h['guest-file-read']({ handle, count }, ctx)), `value '${count}' is invalid for argument count`);
    }
    assert.equal(READ_COUNT_MAX, 50331648);
    assert.deepEqual(await call(h['guest-file-read']({ handle, count: 50331648n }, ctx)), { count: 10, 'buf-b64': 'MDEyMzQ1Njc4OQ==', eof: true });
    assert.deepEqual(await call(h['guest-file-read']({ handle, count: 4n }, ctx)), { count: 0, 'buf-b64': '', eof: true });
    // After eof, count 0 says eof false again (qemu-ga clears the stream flags every call).
    assert.deepEqual(await call(h['guest-file-read']({ handle, count: 0n }, ctx)), { count: 0, 'buf-b64': '', eof: false });
  } finally {
    cleanup();
  }
});

test('write: count default, partial count, count errors, empty buffer, base64 errors, newline, unpadded fix', async () => {
  const { dir, cleanup, h, ctx, open } = setup();
  try {
    const handle = open('w.bin', 'w');
    const w = (b64: string, count?: bigint) => call(h['guest-file-write']({ handle, 'buf-b64': b64, count }, ctx));
    assert.equal(await errorOf(() => w('!!!notbase64')), 'Base64 data contains invalid characters');
    assert.deepEqual(await w('YWJj'), { count: 3, eof: false });
    assert.deepEqual(await w('YWJjZGVm', 2n), { count: 2, eof: false });
    assert.equal(await errorOf(() => w('YWJj', 4n)), "value '4' is invalid for argument count");
    assert.equal(await errorOf(() => w('YWJj', -1n)), "value '-1' is invalid for argument count");
    assert.equal(await errorOf(() => w('', 1n)), "value '1' is invalid for argument count");
    // Invalid base64 is reported before the count is looked at.
    assert.equal(await errorOf(() => w('!!', -1n)), 'Base64 data contains invalid characters');
    assert.deepEqual(await w(''), { count: 0, eof: false });
    assert.deepEqual(await w('YWJ'), { count: 2, eof: false });
    assert.deepEqual(await w('YW\nJj'), { count: 3, eof: false });
    assert.deepEqual(await w('YWJj', 0n), { count: 0, eof: false });
    assert.equal(await errorOf(() => h['guest-file-read']({ handle, count: 3n }, ctx)), 'failed to read file: Bad file descriptor');
    await call(h['guest-file-close']({ handle }, ctx));
    assert.equal(fs.readFileSync(path.join(dir, 'w.bin'), 'latin1'), 'abcabababc');
    assert.deepEqual(
      ctx.audits.filter((l) => l.includes('failed')),
      ['guest-file-read failed, handle: 1000'],
    );
  } finally {
    cleanup();
  }
});

test('wrong direction fails with EBADF, but count 0 makes no system call and succeeds', async () => {
  const { dir, cleanup, h, ctx, open } = setup();
  try {
    fs.writeFileSync(path.join(dir, 'f'), 'abc');
    const r = open('f', 'r');
    assert.equal(await errorOf(() => h['guest-file-write']({ handle: r, 'buf-b64': 'YWJj' }, ctx)), 'failed to write to file: Bad file descriptor');
    assert.deepEqual(await call(h['guest-file-write']({ handle: r, 'buf-b64': '' }, ctx)), { count: 0, eof: false });
    assert.deepEqual(await call(h['guest-file-write']({ handle: r, 'buf-b64': 'YWJj', count: 0n }, ctx)), { count: 0, eof: false });
    const a = open('f', 'a');
    assert.deepEqual(await call(h['guest-file-read']({ handle: a, count: 0n }, ctx)), { count: 0, 'buf-b64': '', eof: false });
    assert.equal(await errorOf(() => h['guest-file-read']({ handle: a, count: 1n }, ctx)), 'failed to read file: Bad file descriptor');
    assert.deepEqual(ctx.audits.filter((l) => l.includes('failed')), ['guest-file-write failed, handle: 1000', 'guest-file-read failed, handle: 1001']);
  } finally {
    cleanup();
  }
});

test('append modes: a writes at the end; a+ reads from 0, writes at the end, position follows', async () => {
  const { dir, cleanup, h, ctx, open } = setup();
  try {
    const p = path.join(dir, 'm.txt');
    fs.writeFileSync(p, 'abc');
    let handle = open('m.txt', 'a');
    assert.deepEqual(await call(h['guest-file-write']({ handle, 'buf-b64': 'ZGVm' }, ctx)), { count: 3, eof: false });
    await call(h['guest-file-close']({ handle }, ctx));
    assert.equal(fs.readFileSync(p, 'latin1'), 'abcdef');
    handle = open('m.txt', 'a+');
    assert.deepEqual(await call(h['guest-file-read']({ handle, count: 3n }, ctx)), { count: 3, 'buf-b64': 'YWJj', eof: false });
    assert.deepEqual(await call(h['guest-file-write']({ handle, 'buf-b64': 'MTI=' }, ctx)), { count: 2, eof: false });
    assert.deepEqual(await call(h['guest-file-seek']({ handle, offset: 0n, whence: 'cur' }, ctx)), { position: 8n, eof: false });
    assert.deepEqual(await call(h['guest-file-seek']({ handle, offset: 1n, whence: 'set' }, ctx)), { position: 1n, eof: false });
    await call(h['guest-file-write']({ handle, 'buf-b64': 'MzQ=' }, ctx));
    assert.deepEqual(await call(h['guest-file-seek']({ handle, offset: 0n, whence: 1n }, ctx)), { position: 10n, eof: false });
    await call(h['guest-file-close']({ handle }, ctx));
    assert.equal(fs.readFileSync(p, 'latin1'), 'abcdef1234');
    handle = open('m.txt', 'r+');
    await call(h['guest-file-write']({ handle, 'buf-b64': 'WFk=' }, ctx));
    await call(h['guest-file-close']({ handle }, ctx));
    assert.equal(fs.readFileSync(p, 'latin1'), 'XYcdef1234');
    handle = open('m.txt', 'w');
    await call(h['guest-file-close']({ handle }, ctx));
    assert.equal(fs.statSync(p).size, 0);
  } finally {
    cleanup();
  }
});

test('seek: integer and named whence, relative and end offsets, past the end, errors', async () => {
  const { dir, cleanup, h, ctx, open } = setup();
  try {
    fs.writeFileSync(path.join(dir, 's.bin'), 'a'.repeat(99) + 'c');
    const handle = open('s.bin');
    const seek = (offset: bigint, whence: GuestFileWhenceInput) => call(h['guest-file-seek']({ handle, offset, whence }, ctx));
    assert.deepEqual(await seek(10n, 0n), { position: 10n, eof: false });
    assert.deepEqual(await seek(5n, 1n), { position: 15n, eof: false });
    assert.deepEqual(await seek(-10n, 2n), { position: 90n, eof: false });
    assert.deepEqual(await seek(20n, 'set'), { position: 20n, eof: false });
    assert.deepEqual(await seek(5n, 'cur'), { position: 25n, eof: false });
    assert.deepEqual(await seek(0n, 'end'), { position: 100n, eof: false });
    assert.deepEqual(await seek(-1n, 'end'), { position: 99n, eof: false });
    assert.deepEqual(await call(h['guest-file-read']({ handle, count: 10n }, ctx)), { count: 1, 'buf-b64': 'Yw==', eof: true });
    assert.deepEqual(await seek(200n, 'set'), { position: 200n, eof: false });
    assert.deepEqual(await call(h['guest-file-read']({ handle, count: 10n }, ctx)), { count: 0, 'buf-b64': '', eof: true });
    assert.deepEqual(await seek(1n << 40n, 'set'), { position: 1n << 40n, eof: false });
    for (const [offset, whence] of [
      [-1n, 'set'],
      [-101n, 'end'],
      [-9223372036854775808n, 'end'],
      [9223372036854775807n, 'set'],
    ] as const) {
      assert.equal(await errorOf(() => seek(offset, whence)), 'failed to seek file: Invalid argument');
    }
    await seek(3n, 'set');
    assert.equal(await errorOf(() => seek(-4n, 'cur')), 'failed to seek file: Invalid argument');
    // A failed seek leaves the position alone.
    assert.deepEqual(await seek(0n, 'cur'), { position: 3n, eof: false });
    for (const w of [3n, -1n, 9223372036854775807n]) assert.equal(await errorOf(() => seek(0n, w)), `invalid whence code ${w}`);
  } finally {
    cleanup();
  }
});

test('directories open for reading; reads fail with EISDIR, seek and flush work', async () => {
  const { dir, cleanup, h, ctx, open } = setup();
  try {
    const handle = open(dir, 'r');
    assert.equal(await errorOf(() => h['guest-file-read']({ handle }, ctx)), 'failed to read file: Is a directory');
    assert.equal(await errorOf(() => h['guest-file-read']({ handle, count: 48n << 20n }, ctx)), 'failed to read file: Is a directory');
    assert.deepEqual(await call(h['guest-file-read']({ handle, count: 0n }, ctx)), { count: 0, 'buf-b64': '', eof: false });
    assert.deepEqual(await call(h['guest-file-flush']({ handle }, ctx)), {});
    assert.deepEqual(await call(h['guest-file-close']({ handle }, ctx)), {});
  } finally {
    cleanup();
  }
});

test('FIFOs: w without reader is ENXIO; r without writer reads eof; seek is ESPIPE; data from a writer', async () => {
  const { dir, cleanup, h, ctx, open } = setup();
  try {
    const fifo = path.join(dir, 'fifo');
    const mk = spawn('mkfifo', [fifo]);
    await new Promise((r) => mk.on('exit', r));
    assert.equal(await errorOf(() => open(fifo, 'w')), `failed to open file '${fifo}' (mode: 'w'): No such device or address`);
    const handle = open(fifo, 'r');
    assert.deepEqual(await call(h['guest-file-read']({ handle }, ctx)), { count: 0, 'buf-b64': '', eof: true });
    assert.equal(await errorOf(() => h['guest-file-seek']({ handle, offset: 0n, whence: 'cur' }, ctx)), 'failed to seek file: Illegal seek');
    assert.equal(await errorOf(() => h['guest-file-seek']({ handle, offset: 0n, whence: 'set' }, ctx)), 'failed to seek file: Illegal seek');
    // A writer sends 3 bytes and closes: all of them, then eof.
    const wfd = fs.openSync(fifo, fs.constants.O_WRONLY | fs.constants.O_NONBLOCK);
    fs.writeSync(wfd, 'xyz');
    fs.closeSync(wfd);
    assert.deepEqual(await call(h['guest-file-read']({ handle, count: 3n }, ctx)), { count: 3, 'buf-b64': 'eHl6', eof: false });
    assert.deepEqual(await call(h['guest-file-read']({ handle }, ctx)), { count: 0, 'buf-b64': '', eof: true });
    // A live writer with too few bytes: EAGAIN and the bytes are gone, exactly as qemu-ga.
    const wfd2 = fs.openSync(fifo, fs.constants.O_WRONLY | fs.constants.O_NONBLOCK);
    fs.writeSync(wfd2, 'abc');
    assert.equal(await errorOf(() => h['guest-file-read']({ handle }, ctx)), 'failed to read file: Resource temporarily unavailable');
    fs.closeSync(wfd2);
    assert.deepEqual(await call(h['guest-file-read']({ handle }, ctx)), { count: 0, 'buf-b64': '', eof: true });
    await call(h['guest-file-close']({ handle }, ctx));
  } finally {
    cleanup();
  }
});

test('character devices: /dev/null and /dev/zero behave as through stdio', async () => {
  const { cleanup, h, ctx, open } = setup();
  try {
    const n = open('/dev/null', 'r+');
    assert.deepEqual(await call(h['guest-file-seek']({ handle: n, offset: 100n, whence: 'set' }, ctx)), { position: 0n, eof: false });
    assert.deepEqual(await call(h['guest-file-read']({ handle: n, count: 5n }, ctx)), { count: 0, 'buf-b64': '', eof: true });
    assert.deepEqual(await call(h['guest-file-write']({ handle: n, 'buf-b64': 'YWJj' }, ctx)), { count: 3, eof: false });
    const z = open('/dev/zero', 'r');
    const r = await call(h['guest-file-read']({ handle: z, count: 100000n }, ctx));
    assert.equal(r.count, 100000);
    assert.equal(r.eof, false);
    assert.ok(Buffer.from(b64Text(r['buf-b64']), 'base64').equals(Buffer.alloc(100000)));
  } finally {
    cleanup();
  }
});

test('48 MiB read in one call, and a 48 MiB write (64 MiB of base64) in one call', async () => {
  const { dir, cleanup, h, ctx, open } = setup();
  try {
    const data = randomBytes(READ_COUNT_MAX + 1000);
    fs.writeFileSync(path.join(dir, 'big'), data);
    const handle = open('big');
    let ticks = 0;
    const ticker = setInterval(() => ticks++, 0);
    const r = await call(h['guest-file-read']({ handle, count: BigInt(READ_COUNT_MAX) }, ctx));
    clearInterval(ticker);
    assert.equal(r.count, READ_COUNT_MAX);
    assert.equal(r.eof, false);
    assert.ok(Buffer.from(b64Text(r['buf-b64']), 'base64').equals(data.subarray(0, READ_COUNT_MAX)));
    const rest = await call(h['guest-file-read']({ handle, count: BigInt(READ_COUNT_MAX) }, ctx));
    assert.deepEqual([rest.count, rest.eof], [1000, true]);
    assert.ok(Buffer.from(b64Text(rest['buf-b64']), 'base64').equals(data.subarray(READ_COUNT_MAX)));
    // The big read ran off the event loop: timers kept firing meanwhile (an ordering fact, not a timing one).
    assert.ok(ticks > 0);

    const out = open('out', 'wb');
    const payload = data.subarray(0, READ_COUNT_MAX);
    const w = await call(h['guest-file-write']({ handle: out, 'buf-b64': payload.toString('base64') }, ctx));
    assert.deepEqual(w, { count: READ_COUNT_MAX, eof: false });
    await call(h['guest-file-close']({ handle: out }, ctx));
    assert.ok(fs.readFileSync(path.join(dir, 'out')).equals(payload));
  } finally {
    cleanup();
  }
});

test('operations on one handle run in order even when a large one is still in flight', async () => {
  const { dir, cleanup, h, ctx, open } = setup();
  try {
    const data = randomBytes(8 << 20);
    fs.writeFileSync(path.join(dir, 'big'), data);
    const handle = open('big', 'r+');
    const big = h['guest-file-read']({ handle, count: BigInt(4 << 20) }, ctx);
    const small = h['guest-file-read']({ handle, count: 3n }, ctx);
    const tell = h['guest-file-seek']({ handle, offset: 0n, whence: 'cur' }, ctx);
    const close = h['guest-file-close']({ handle }, ctx);
    const after = h['guest-file-read']({ handle: handle, count: 1n }, ctx);
    assert.equal((await big).count, 4 << 20);
    assert.equal((await call(small))['buf-b64'], data.subarray(4 << 20, (4 << 20) + 3).toString('base64'));
    assert.deepEqual(await tell, { position: BigInt((4 << 20) + 3), eof: false });
    assert.deepEqual(await close, {});
    assert.equal(await errorOf(() => after), `handle '${handle}' has not been found`);
  } finally {
    cleanup();
  }
});

test('4 KiB chunks: 1 MiB written and read back chunk by chunk', async () => {
  const { dir, cleanup, h, ctx, open } = setup();
  try {
    const data = randomBytes(1 << 20);
    const w = open('c', 'w');
    for (let i = 0; i < data.length; i += 4096) {
      assert.equal((await call(h['guest-file-write']({ handle: w, 'buf-b64': data.subarray(i, i + 4096).toString('base64') }, ctx))).count, 4096);
    }
    await call(h['guest-file-close']({ handle: w }, ctx));
    const r = open('c', 'r');
    const parts: Buffer[] = [];
    for (;;) {
      const x = await call(h['guest-file-read']({ handle: r }, ctx));
      parts.push(Buffer.from(x['buf-b64'], 'base64'));
      if (x.eof) break;
    }
    assert.ok(Buffer.concat(parts).equals(data));
    assert.ok(fs.readFileSync(path.join(dir, 'c')).equals(data));
  } finally {
    cleanup();
  }
});

test('large writes: piecewise decoding honours count, LF-wrapped input, and errors', async () => {
  const { dir, cleanup, h, ctx, open } = setup();
  try {
    const data = randomBytes(10 * 1024 * 1024 + 1);
    let handle = open('a', 'w');
    const count = 7 * 1024 * 1024 + 5;
    assert.deepEqual(await call(h['guest-file-write']({ handle, 'buf-b64': data.toString('base64'), count: BigInt(count) }, ctx)), { count, eof: false });
    assert.equal(await errorOf(() => h['guest-file-write']({ handle, 'buf-b64': data.toString('base64'), count: BigInt(data.length + 1) }, ctx)), `value '${data.length + 1}' is invalid for argument count`);
    assert.equal(await errorOf(() => h['guest-file-write']({ handle, 'buf-b64': data.toString('base64') + '!' }, ctx)), 'Base64 data contains invalid characters');
    // Unpadded final group (the fix) on the piecewise path too.
    const unpadded = data.subarray(0, 1_000_000).toString('base64').replace(/=+$/, '');
    assert.deepEqual(await call(h['guest-file-write']({ handle, 'buf-b64': unpadded }, ctx)), { count: 1_000_000, eof: false });
    await call(h['guest-file-close']({ handle }, ctx));
    assert.ok(fs.readFileSync(path.join(dir, 'a')).equals(Buffer.concat([data.subarray(0, count), data.subarray(0, 1_000_000)])));
    handle = open('b', 'w');
    const wrapped = data.toString('base64').replace(/(.{76})/g, '$1\n');
    assert.deepEqual(await call(h['guest-file-write']({ handle, 'buf-b64': wrapped }, ctx)), { count: data.length, eof: false });
    await call(h['guest-file-close']({ handle }, ctx));
    assert.ok(fs.readFileSync(path.join(dir, 'b')).equals(data));
    const r = open('b', 'r');
    assert.equal(await errorOf(() => h['guest-file-write']({ handle: r, 'buf-b64': data.toString('base64') }, ctx)), 'failed to write to file: Bad file descriptor');
  } finally {
    cleanup();
  }
});

test('large reads hand their bytes to the serializer; the read buffer is reused only once they are encoded', async () => {
  const { dir, cleanup, h, ctx, open } = setup();
  try {
    const data = randomBytes(3 << 20);
    fs.writeFileSync(path.join(dir, 'big'), data);
    const handle = open('big');
    const read = async (count: number) => (await call(h['guest-file-read']({ handle, count: BigInt(count) }, ctx)))['buf-b64'] as unknown;
    // Up to 64 KiB the result is a plain string, even when the read was asked for more.
    fs.writeFileSync(path.join(dir, 'small'), data.subarray(0, 65536));
    const small = open('small');
    const s = (await call(h['guest-file-read']({ handle: small, count: 1n << 20n }, ctx)))['buf-b64'] as unknown;
    assert.equal(s, data.subarray(0, 65536).toString('base64'));
    // A read above 64 KiB is a Base64Bytes over a Buffer (encoded while the reply is written).
    const held = (v: unknown): Buffer => {
      assert.ok(v instanceof Base64Bytes && Buffer.isBuffer(v.bytes));
      return v.bytes as Buffer;
    };
    const a = await read(1 << 20);
    assert.ok(held(a).equals(data.subarray(0, 1 << 20)));
    // Not encoded yet: the next read must not land in the same memory.
    const b = await read(1 << 20);
    assert.notEqual(held(a).buffer, held(b).buffer);
    assert.ok(held(a).equals(data.subarray(0, 1 << 20)));
    assert.ok(held(b).equals(data.subarray(1 << 20, 2 << 20)));
    // Encoding the first reply releases its buffer, and the serializer prints the right text.
    const parts = toJsonParts({ return: { count: 1 << 20, 'buf-b64': a as Base64Bytes, eof: false } });
    const bytes = new ReplyBytes(parts, '', '\n');
    const out = Buffer.alloc(bytes.length);
    assert.equal(bytes.fill(out, 0), out.length);
    assert.equal(out.toString('latin1'), `{"return": {"count": ${1 << 20}, "buf-b64": "${data.subarray(0, 1 << 20).toString('base64')}", "eof": false}}\n`);
    const c = await read(1 << 20);
    assert.equal(held(c).buffer, held(a).buffer);
    assert.ok(held(c).equals(data.subarray(2 << 20, 3 << 20)));
    bytes.close();
    new ReplyBytes(toJsonParts(c as Base64Bytes), '', '').close();
  } finally {
    cleanup();
  }
});
