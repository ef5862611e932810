// Transports' paced writers (the pieces of a streamed reply): bytes arrive whole and in order, every
// `done` runs exactly once, and a client that goes away ends its writer, never the next client's.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as net from 'node:net';
import * as os from 'node:os';
import * as path from 'node:path';
import { UnixListenTransport } from '../../src/transport/unix-listen.ts';
import { FdChannel } from '../../src/transport/fd-channel.ts';

const log = { warning: () => {}, debug: () => {} };
const tick = () => new Promise((r) => setTimeout(r, 20));

async function listening() {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'qga-paced-'));
  const sock = path.join(dir, 's');
  const t = new UnixListenTransport(sock, log);
  await t.open({ data: () => {}, stopped: () => {} });
  const connect = async () => {
    const c = net.connect(sock);
    await new Promise((r) => c.once('connect', r));
    const got: Buffer[] = [];
    c.on('data', (d: Buffer) => got.push(d));
    return { c, got };
  };
  return { t, connect, cleanup: () => (t.close(), fs.rmSync(dir, { recursive: true, force: true })) };
}

describe('unix-listen writer()', () => {
  it('delivers pieces in order to the client of the moment, one done per piece', async () => {
    const { t, connect, cleanup } = await listening();
    try {
      assert.equal(t.writer(), undefined, 'no client yet');
      const { c, got } = await connect();
      for (let i = 0; i < 50 && t.writer() === undefined; i++) await tick();
      const w = t.writer();
      assert.ok(w?.open);
      const pieces = Array.from({ length: 20 }, (_, i) => Buffer.alloc(300_000 + i, 0x41 + i));
      let dones = 0;
      for (const p of pieces) w.write(p, () => dones++);
      t.write(Buffer.from('tail\n'));
      const total = pieces.reduce((n, p) => n + p.length, 0) + 5;
      for (let i = 0; i < 200 && got.reduce((n, b) => n + b.length, 0) < total; i++) await tick();
      assert.ok(Buffer.concat(got).equals(Buffer.concat([...pieces, Buffer.from('tail\n')])));
      assert.equal(dones, pieces.length);
      c.destroy();
    } finally {
      cleanup();
    }
  });

  it('runs every done once when the client leaves mid-way; the next client gets a new writer', async () => {
    const { t, connect, cleanup } = await listening();
    try {
      const first = await connect();
      first.c.pause(); // reads nothing: the pieces pile up
      for (let i = 0; i < 50 && t.writer() === undefined; i++) await tick();
      const w = t.writer();
      assert.ok(w);
      const counts: number[] = [];
      for (let i = 0; i < 8; i++) {
        counts.push(0);
        w.write(Buffer.alloc(4 << 20), () => counts[i]++);
      }
      first.c.destroy();
      for (let i = 0; i < 100 && counts.some((n) => n === 0); i++) await tick();
      assert.deepEqual(counts, Array(8).fill(1));
      assert.equal(w.open, false);
      let late = 0;
      w.write(Buffer.from('late'), () => late++);
      await tick();
      assert.equal(late, 1, 'a write after the client left is dropped, with its done');
      const second = await connect();
      for (let i = 0; i < 50 && t.writer() === undefined; i++) await tick();
      const w2 = t.writer();
      assert.ok(w2 && w2 !== w && w2.open);
      assert.equal(w.open, false, 'the old writer stays closed');
      await tick();
      assert.equal(second.got.length, 0, 'nothing of the old reply reached the new client');
      second.c.destroy();
    } finally {
      cleanup();
    }
  });
});

describe('FdChannel as a paced writer', () => {
  it('writes in order and runs each done once; close() drops what is queued, with its dones', async () => {
    const [rfd, wfd] = (() => {
      const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'qga-paced-'));
      const f = path.join(dir, 'out');
      return [f, fs.openSync(f, 'w')];
    })();
    const ch = new FdChannel(wfd, { data() {}, eof() {}, failed() {} }, log);
    assert.equal(ch.open, true);
    const dones: number[] = [];
    const pieces = Array.from({ length: 10 }, (_, i) => Buffer.alloc(100_000, 0x30 + i));
    pieces.forEach((p, i) => ch.write(p, () => dones.push(i)));
    for (let i = 0; i < 100 && dones.length < pieces.length; i++) await tick();
    assert.deepEqual(dones, [...pieces.keys()]);
    assert.ok(fs.readFileSync(rfd).equals(Buffer.concat(pieces)));
    // Queued behind an in-flight write, then closed: every done still runs once.
    const late: number[] = [];
    for (let i = 0; i < 5; i++) ch.write(Buffer.alloc(1 << 20), () => late.push(i));
    ch.close();
    assert.equal(ch.open, false);
    for (let i = 0; i < 100 && late.length < 5; i++) await tick();
    assert.deepEqual(late.sort(), [0, 1, 2, 3, 4]);
    let after = 0;
    ch.write(Buffer.from('x'), () => after++);
    await tick();
    assert.equal(after, 1);
    fs.rmSync(path.dirname(rfd), { recursive: true, force: true });
  });
});
