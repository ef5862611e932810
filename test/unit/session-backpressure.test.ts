// The session's backpressure, for every transport alike: while replies are not taken by the
// channel (or a command runs), no request is run and the channel is paused; what waits is bounded
// by one slice of input, and everything resumes, in order, once the channel takes the replies.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { commandTable } from '../../src/generated/qapi-commands.ts';
import { CommandFilter } from '../../src/protocol/command-filter.ts';
import { Dispatcher, type AnyHandler } from '../../src/protocol/dispatcher.ts';
import { FEED_SLICE, OUT_HIGH_WATER, Session, type PacedWriter } from '../../src/protocol/session.ts';

const INFO = { version: 'x'.repeat(5000) };
const INFO_LINE = `{"return": {"version": "${INFO.version}"}}\n`;

function setup(handlers: Record<string, AnyHandler>) {
  let dispatched = 0;
  const counted: Record<string, AnyHandler> = {};
  for (const [k, h] of Object.entries(handlers)) {
    counted[k] = (a: unknown, c: unknown) => {
      dispatched++;
      return h(a, c);
    };
  }
  const d = new Dispatcher(commandTable, counted as never, new CommandFilter(null, []), {}, { handlerCrash: () => {} });
  const out: string[] = [];
  let outBytes = 0;
  const dones: (() => void)[] = [];
  let paused = false;
  let pauses = 0;
  const writer: PacedWriter = {
    open: true,
    write(data, done) {
      out.push(typeof data === 'string' ? data : data.toString('latin1'));
      outBytes += data.length;
      dones.push(done);
    },
  };
  const session = new Session(d, {
    write: () => assert.fail('a client is connected'),
    pause: () => {
      paused = true;
      pauses++;
    },
    resume: () => (paused = false),
    writer: () => writer,
  });
  const tick = () => new Promise((r) => setImmediate(r));
  /** The channel takes everything written so far. */
  const take = () => {
    for (const done of dones.splice(0)) done();
  };
  return { session, out, take, tick, get outBytes() { return outBytes; }, get dispatched() { return dispatched; }, get paused() { return paused; }, get pauses() { return pauses; } };
}

describe('session backpressure', () => {
  it('stops running requests and pauses the channel while replies are not taken', async () => {
    const t = setup({ 'guest-info': () => INFO });
    const request = '{"execute":"guest-info"}';
    const n = 5000;
    const input = Buffer.from(request.repeat(n));
    // As a channel delivers it: 64 KiB reads, each only while not paused.
    let at = 0;
    const pump = () => {
      while (!t.paused && at < input.length) {
        t.session.feed(input.subarray(at, at + 65536));
        at += 65536;
      }
    };
    pump();
    await t.tick();
    const limit = Math.ceil(OUT_HIGH_WATER / INFO_LINE.length) + 1;
    assert.ok(t.paused, 'the channel is paused');
    assert.ok(t.dispatched <= limit, `${t.dispatched} requests ran while nothing was taken`);
    assert.ok(at <= 65536, `read on to ${at}`);
    for (let round = 0; round < 10_000 && t.outBytes < n * INFO_LINE.length; round++) {
      t.take();
      await t.tick();
      pump();
      assert.ok(t.session.pendingOutput <= OUT_HIGH_WATER + INFO_LINE.length, `${t.session.pendingOutput} bytes pending`);
    }
    assert.equal(t.dispatched, n);
    assert.equal(t.out.join(''), INFO_LINE.repeat(n));
    t.take();
    await t.tick();
    assert.equal(t.paused, false, 'reading resumes once all is taken');
  });

  it('holds the rest of a chunk, unparsed, while a command runs', async () => {
    let release: () => void = () => {};
    const t = setup({
      'guest-ping': () => ({}),
      'guest-sync': (a: { id: bigint }) => new Promise((r) => (release = () => r(a.id))),
    });
    const pings = '{"execute":"guest-ping"}'.repeat(4 * FEED_SLICE);
    t.session.feed(Buffer.from('{"execute":"guest-sync","arguments":{"id":7}}' + pings));
    await t.tick();
    assert.equal(t.dispatched, 1, 'nothing else runs meanwhile');
    assert.ok(t.paused);
    t.take();
    release();
    const want = 14 + 15 * 4 * FEED_SLICE;
    for (let i = 0; i < 1000 && t.outBytes < want; i++) {
      await t.tick();
      t.take();
    }
    assert.equal(t.out.join(''), '{"return": 7}\n' + '{"return": {}}\n'.repeat(4 * FEED_SLICE));
    assert.equal(t.paused, false);
  });

  it('input delivered while paused is held and parsed in order', async () => {
    const t = setup({ 'guest-info': () => INFO, 'guest-sync': (a: { id: bigint }) => a.id });
    t.session.feed(Buffer.from('{"execute":"guest-info"}'.repeat(100)));
    assert.ok(t.paused);
    t.session.feed(Buffer.from('{"execute":"guest-sync","arguments":{"id":1}}'));
    t.session.feed(Buffer.from('{"execute":"guest-sync","arguments":{"id":2}}'));
    for (let i = 0; i < 100 && t.paused; i++) {
      await t.tick();
      t.take();
    }
    await t.tick();
    assert.equal(t.out.join(''), INFO_LINE.repeat(100) + '{"return": 1}\n{"return": 2}\n');
  });

  it("a client that leaves takes its unanswered requests' replies with it; the next client gets only its own", async () => {
    let release: () => void = () => {};
    const t = setup({
      'guest-info': () => INFO,
      'guest-sync': (a: { id: bigint }) => (a.id === 1n ? new Promise((r) => (release = () => r(a.id))) : a.id),
    });
    // The first client: a slow command, then more requests than the channel takes.
    t.session.feed(Buffer.from('{"execute":"guest-sync","arguments":{"id":1}}' + '{"execute":"guest-info"}'.repeat(2000)));
    assert.ok(t.paused);
    t.session.clientGone();
    t.out.length = 0;
    // The parser is mid-message (as qemu-ga's would be): the new client resyncs with 0xFF.
    t.session.feed(Buffer.from('\xff{"execute":"guest-sync","arguments":{"id":2}}', 'latin1'));
    release();
    for (let i = 0; i < 100 && t.paused; i++) {
      await t.tick();
      t.take();
    }
    await t.tick();
    const text = t.out.join('');
    assert.ok(text.endsWith('{"return": 2}\n'), text);
    assert.ok(!text.includes('"version"') && !text.includes('{"return": 1}'), text);
  });
});
