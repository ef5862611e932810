// The fast paths of the request/reply path, each checked against the general path it shortcuts:
// the streamer's long-run string scan and WireStrings, toJsonParts/ReplyBytes against toJson,
// the dispatcher's envelope fast path against qemu-ga's hash-ordered examination, and streamed
// replies through paced writers (slow, synchronous, vanishing clients).
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { JsonStreamer } from '../../src/json/streamer.ts';
import { ReplyBytes, toJson, toJsonParts } from '../../src/json/serialize.ts';
import { qdictOrderedKeys } from '../../src/json/qdict-order.ts';
import { Base64Bytes, WIRE_STRING_MIN, WireString, type JsonValue, type OutValue, type WireValue } from '../../src/json/value.ts';
import { commandTable } from '../../src/generated/qapi-commands.ts';
import { CommandFilter } from '../../src/protocol/command-filter.ts';
import { Dispatcher, takesWireStrings, type AnyHandler } from '../../src/protocol/dispatcher.ts';
import { Session, type PacedWriter } from '../../src/protocol/session.ts';

/** A small deterministic PRNG (xorshift32), so failures reproduce. */
function rng(seed: number): (n: number) => number {
  let x = seed >>> 0 || 1;
  return (n: number) => {
    x ^= x << 13;
    x >>>= 0;
    x ^= x >>> 17;
    x ^= x << 5;
    x >>>= 0;
    return x % n;
  };
}

type Ev = ['m', string] | ['e', string];

/** Events of a streamer fed `input` cut at `cuts`; values as toJson text (WireStrings checked, then printed). */
function events(input: Buffer, cuts: number[], wire: boolean): Ev[] {
  const evs: Ev[] = [];
  const s = new JsonStreamer<WireValue>(
    {
      message: (v) => {
        checkWire(v, false);
        evs.push(['m', toJson(v)]);
      },
      error: (d) => evs.push(['e', d]),
    },
    { wireStrings: wire },
  );
  let at = 0;
  for (const c of [...cuts, input.length]) {
    // fresh copies: a wire-string streamer keeps what it is given
    s.feed(Buffer.from(input.subarray(at, c)));
    at = c;
  }
  return evs;
}

/** WireStrings only where allowed, with the promised content and classification. */
function checkWire(v: WireValue, key: boolean): void {
  if (v instanceof WireString) {
    assert.ok(!key);
    assert.ok(v.length >= WIRE_STRING_MIN);
    const text = v.toString();
    assert.equal(text.length, v.length);
    assert.ok(/^[\x20-\x21\x23-\x5b\x5d-\x7e]*$/.test(text), 'printable ASCII without " and \\');
    assert.equal(v.base64, /^[A-Za-z0-9+/=]*$/.test(text));
    return;
  }
  if (v instanceof Map) {
    for (const [k, x] of v) {
      assert.equal(typeof k, 'string');
      checkWire(x, false);
    }
  } else if (Array.isArray(v)) for (const x of v) checkWire(x, false);
}

const B64 = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/';

/** Long string content made of runs of one kind of byte each (the kinds the scan tells apart). */
function content(r: (n: number) => number, q: string): string {
  const runs = 1 + r(6);
  let s = '';
  for (let k = 0; k < runs; k++) {
    const len = r(4) === 0 ? r(8) : r(3) === 0 ? 20000 + r(60000) : 200 + r(2000);
    let run = '';
    switch (r(12)) {
      case 0:
        run = ' .,:;!#$%&()*-<>?@[]^_`{|}~';
        break;
      case 1:
        run = '\x7f'; // DEL
        break;
      case 2:
        run = '\xc3\xa9\xe2\x82\xac'; // valid UTF-8 bytes
        break;
      case 3:
        run = q === '"' ? "'" : '"'; // the other quote
        break;
      case 4:
        run = '\\n\\u00e9\\"'; // escapes
        break;
      case 5:
        run = r(3) === 0 ? '\x01' : r(2) ? '\xff' : '\x80'; // stray bytes and invalid UTF-8
        break;
      case 6:
        run = '=';
        break;
      default:
        run = B64;
    }
    let t: string;
    if (run.includes('\\')) t = run.repeat(Math.max(1, Math.floor(len / run.length))); // escapes stay whole
    else if (run.length === 1) t = run.repeat(len);
    else {
      let block = '';
      for (let i = 0; i < 97; i++) block += run[r(run.length)];
      t = block.repeat(Math.ceil(len / 97)).slice(0, len);
    }
    s += t;
  }
  return s;
}

function randomInput(r: (n: number) => number): Buffer {
  const q = r(5) === 0 ? "'" : '"';
  const long = () => q + content(r, q) + q;
  const pick = r(6);
  let text: string;
  if (pick === 0) text = `{${long()}:1}`; // a long member name
  else if (pick === 1) text = `[${long()},${long()}]`;
  else if (pick === 2) text = long() + ' '; // a top-level string (completed by the space? no: by its quote)
  else if (pick === 3) text = `{"execute":"guest-ping","id":${long()}}{"execute":"x"}`;
  else if (pick === 4) text = `{"a":{"b":[${long()}]},"c":${long()}} ${q}${content(r, q)}`; // ends inside a string
  else text = `{"execute":"guest-file-write","arguments":{"handle":1,"buf-b64":${long()}}}`;
  return Buffer.from(text, 'latin1');
}

describe('streamer fast paths', () => {
  it('the long-run scan and wire strings change nothing but the representation', () => {
    const r = rng(12345);
    for (let iter = 0; iter < 300; iter++) {
      const input = randomInput(r);
      // Reference: chunks too short for the fast scan, no wire strings.
      const small: number[] = [];
      for (let at = 1 + r(200); at < input.length; at += 1 + r(200)) small.push(at);
      const ref = events(input, small, false);
      const random: number[] = [];
      for (let at = r(70000); at < input.length; at += 1 + r(70000)) random.push(at);
      for (const [cuts, wire] of [
        [[], false],
        [[], true],
        [random, false],
        [random, true],
        [small, true],
      ] as [number[], boolean][]) {
        assert.deepEqual(events(input, cuts, wire), ref, `iteration ${iter}, wire ${wire}, ${cuts.length} cuts`);
      }
    }
  });

  it('makes WireStrings of long plain values only, in any chunking', () => {
    const long = 'QUJD'.repeat(WIRE_STRING_MIN / 4);
    const found: unknown[] = [];
    const s = new JsonStreamer<WireValue>({ message: (v) => found.push(v), error: (d) => found.push(d) }, { wireStrings: true });
    const input = Buffer.from(`{"a":"${long}","b":"${long}!","${long}":1,"c":"${long.slice(1)}AB","d":"${long}\x7f","e":"${long}\\/"}`, 'latin1');
    for (let i = 0; i < input.length; i += 1000) s.feed(Buffer.from(input.subarray(i, i + 1000)));
    assert.equal(found.length, 1);
    const m = found[0] as Map<string, WireValue>;
    const a = m.get('a') as WireString;
    assert.ok(a instanceof WireString);
    assert.equal(a.base64, true);
    assert.equal(a.toString(), long);
    assert.ok(a.chunks.length > 1);
    const b = m.get('b') as WireString;
    assert.ok(b instanceof WireString);
    assert.equal(b.base64, false);
    assert.equal(m.get(long), 1n, 'a long member name stays a string');
    assert.ok(m.get('c') instanceof WireString, 'any length from the minimum on');
    assert.equal(typeof m.get('d'), 'string', 'DEL is printed escaped');
    assert.equal(typeof m.get('e'), 'string', 'escapes');
    // One byte short of the minimum: a string.
    const t: unknown[] = [];
    const s2 = new JsonStreamer<WireValue>({ message: (v) => t.push(v), error: () => {} }, { wireStrings: true });
    s2.feed(Buffer.from(`["${'x'.repeat(WIRE_STRING_MIN - 1)}","${'x'.repeat(WIRE_STRING_MIN)}"]`));
    assert.equal(typeof (t[0] as WireValue[])[0], 'string');
    assert.ok((t[0] as WireValue[])[1] instanceof WireString);
  });
});

/** A random output value with big parts in it. */
function randomValue(r: (n: number) => number, depth = 0): OutValue {
  switch (depth > 2 ? r(4) : r(7)) {
    case 0:
      return BigInt(r(1000)) - 500n;
    case 1:
      return ['', 'a"b\\c', '\x01\x7f', 'é€😀', 'x'.repeat(r(3000))][r(5)];
    case 2: {
      const n = r(300) === 0 ? 100_000 + r(50) : r(40);
      const bytes = Buffer.alloc(n);
      for (let i = 0; i < n; i++) bytes[i] = r(256);
      return new Base64Bytes(bytes);
    }
    case 3: {
      const text = B64.repeat(1 + r(3)).slice(r(10));
      const chunks: Buffer[] = [];
      for (let i = 0; i < text.length; ) {
        const k = 1 + r(20);
        chunks.push(Buffer.from(text.slice(i, i + k), 'latin1'));
        i += k;
      }
      return new WireString(chunks, true);
    }
    case 4:
      return Array.from({ length: r(4) }, () => randomValue(r, depth + 1));
    case 5:
      return new Map(Array.from({ length: r(4) }, (_, i) => [`k${i}${r(9)}`, randomValue(r, depth + 1)] as [string, OutValue]));
    default: {
      const o: Record<string, OutValue | undefined> = {};
      for (let i = r(4); i > 0; i--) o[['count', 'buf-b64', 'eof', 'return', 'id'][r(5)]] = r(5) === 0 ? undefined : randomValue(r, depth + 1);
      return o;
    }
  }
}

describe('toJsonParts and ReplyBytes', () => {
  it('produce exactly toJson, in pieces of any size, releasing each Base64Bytes once', () => {
    const r = rng(777);
    for (let iter = 0; iter < 400; iter++) {
      const releases = new Map<Base64Bytes, number>();
      const value = randomValue(r);
      // give every Base64Bytes a counting release
      const counted = (v: OutValue): OutValue => {
        if (v instanceof Base64Bytes) {
          const b: Base64Bytes = new Base64Bytes(v.bytes, () => releases.set(b, (releases.get(b) ?? 0) + 1));
          releases.set(b, 0);
          return b;
        }
        if (Array.isArray(v)) return v.map(counted);
        if (v instanceof Map) return new Map([...v].map(([k, x]) => [k, counted(x)]));
        if (typeof v === 'object' && v !== null && !(v instanceof WireString)) {
          return Object.fromEntries(Object.entries(v).map(([k, x]) => [k, x === undefined ? undefined : counted(x)]));
        }
        return v;
      };
      const v = counted(value);
      const want = '\xff' + toJson(v) + '\n';
      const bytes = new ReplyBytes(toJsonParts(v), '\xff', '\n');
      assert.equal(bytes.length, want.length);
      const piece = [4, 5, 7, 64, 1000, 1 << 16][r(6)];
      const out: Buffer[] = [];
      while (!bytes.done) {
        const buf = Buffer.alloc(piece);
        const n = bytes.fill(buf, 0);
        assert.ok(n > 0 || bytes.done);
        out.push(buf.subarray(0, n));
      }
      assert.equal(Buffer.concat(out).toString('latin1'), want);
      bytes.close();
      for (const [, n] of releases) assert.equal(n, 1);
    }
  });

  it('close() before the end releases what was not encoded, once', () => {
    let released = 0;
    const b = new Base64Bytes(Buffer.alloc(100), () => released++);
    const bytes = new ReplyBytes(toJsonParts({ a: b }), '', '');
    bytes.fill(Buffer.alloc(10), 0);
    bytes.close();
    bytes.close();
    assert.equal(released, 1);
    assert.ok(bytes.done);
  });
});

const handlers: Record<string, AnyHandler> = {
  'guest-ping': () => ({}),
  'guest-sync': (a: { id: bigint }) => a.id,
  'guest-sync-delimited': (a: { id: bigint }) => a.id,
  'guest-info': () => ({ version: '1' }),
  'guest-shutdown': () => undefined,
};

/** The dispatcher's envelope rules the slow way (docs/protocol.md §Request envelope): for comparison with the fast path. */
function referenceEnvelope(req: Map<string, JsonValue>): string | { name: string; args: unknown; id: JsonValue | undefined } {
  const id = req.get('id');
  let name: string | undefined;
  let args: unknown;
  const err = (desc: string) => toJson(id === undefined ? { error: { class: 'GenericError', desc } } : { error: { class: 'GenericError', desc }, id });
  for (const key of qdictOrderedKeys([...req.keys()])) {
    const value = req.get(key) as JsonValue;
    if (key === 'execute') {
      if (typeof value !== 'string') return err("QMP input member 'execute' must be a string");
      name = value;
    } else if (key === 'arguments') {
      if (!(value instanceof Map)) return err("QMP input member 'arguments' must be an object");
      args = value;
    } else if (key !== 'id') return err(`QMP input member '${key}' is unexpected`);
  }
  if (name === undefined) return err("QMP input lacks member 'execute'");
  return { name, args, id };
}

describe('dispatcher fast paths', () => {
  const dispatcher = new Dispatcher(commandTable, handlers, new CommandFilter(null, []), {}, { handlerCrash: () => {} });
  const reply = (req: WireValue): string => {
    const r = dispatcher.dispatch(req);
    assert.ok(!(r instanceof Promise));
    return r === null ? '' : (r.line ?? toJson(r.body) + '\n');
  };

  it('envelope errors and ids agree with the hash-ordered examination', () => {
    const r = rng(4242);
    const values: JsonValue[] = ['guest-ping', 'guest-sync', 'nope', 5n, null, true, new Map(), new Map([['id', 3n]]), [], 'x'];
    const keys = ['execute', 'arguments', 'id', 'exec-oob', 'foo', 'control', 'return'];
    for (let iter = 0; iter < 3000; iter++) {
      const req = new Map<string, JsonValue>();
      for (let k = r(5); k > 0; k--) req.set(keys[r(keys.length)], values[r(values.length)]);
      const want = referenceEnvelope(req);
      const got = reply(new Map(req));
      if (typeof want === 'string') {
        assert.equal(got, want + '\n', JSON.stringify([...req.keys()]));
      } else {
        // past the envelope: the same reply as a request built with only those members
        const clean = new Map<string, JsonValue>([['execute', want.name]]);
        if (want.args !== undefined) clean.set('arguments', want.args as JsonValue);
        if (want.id !== undefined) clean.set('id', want.id);
        assert.equal(got, reply(clean));
        assert.ok(!got.includes('QMP input'), got);
      }
    }
  });

  it('argument-less commands: absent arguments every time; required ones still missing every time', () => {
    for (let i = 0; i < 3; i++) {
      assert.equal(reply(new Map([['execute', 'guest-ping']])), '{"return": {}}\n');
      assert.equal(reply(new Map<string, JsonValue>([['execute', 'guest-ping'], ['id', 1n]])), '{"return": {}, "id": 1}\n');
      assert.equal(reply(new Map([['execute', 'guest-sync']])), `{"error": {"class": "GenericError", "desc": "Parameter 'id' is missing"}}\n`);
      assert.equal(reply(new Map<string, JsonValue>([['execute', 'guest-ping'], ['arguments', new Map([['x', 1n]])]])), `{"error": {"class": "GenericError", "desc": "Parameter 'x' is unexpected"}}\n`);
      assert.equal(reply(new Map([['execute', 'guest-info']])), '{"return": {"version": "1"}}\n');
      assert.equal(reply(new Map([['execute', 'guest-shutdown']])), '');
    }
  });

  it('WireStrings reach only the members a handler asks for; elsewhere they are strings', () => {
    const long = 'QUJD'.repeat(WIRE_STRING_MIN / 4);
    const ws = () => new WireString([Buffer.from(long.slice(0, 100)), Buffer.from(long.slice(100))], true);
    const seen: unknown[] = [];
    const d = new Dispatcher(
      commandTable,
      {
        ...handlers,
        'guest-file-write': takesWireStrings((a: Record<string, unknown>) => {
          seen.push(a['buf-b64']);
          return { count: 0, eof: false };
        }, ['buf-b64']),
        'guest-file-open': (a: { path: string }) => {
          seen.push(a.path);
          return 1n;
        },
      },
      new CommandFilter(null, []),
      {},
      { handlerCrash: () => {} },
    );
    const args = (m: [string, WireValue][]) => new Map<string, WireValue>([['execute', 'guest-file-write'], ['arguments', new Map(m)]]);
    d.dispatch(args([['handle', 1n], ['buf-b64', ws()]]));
    assert.ok(seen[0] instanceof WireString);
    d.dispatch(new Map<string, WireValue>([['execute', 'guest-file-open'], ['arguments', new Map([['path', ws()]])]]));
    assert.equal(seen[1], long);
    // Argument errors are the visitor's, as for a string.
    const r = d.dispatch(args([['buf-b64', ws()]]));
    assert.ok(r !== null && !(r instanceof Promise));
    assert.equal(toJson(r.body), `{"error": {"class": "GenericError", "desc": "Parameter 'handle' is missing"}}`);
    // A WireString as the command name, and as an id: a string to qemu-ga.
    const r2 = d.dispatch(new Map<string, WireValue>([['execute', ws()], ['id', ws()]]));
    assert.ok(r2 !== null && !(r2 instanceof Promise));
    assert.equal(toJson(r2.body), `{"id": "${long}", "error": {"class": "CommandNotFound", "desc": "The command ${long} has not been found"}}`);
  });
});

describe('streamed replies', () => {
  /** A handler returning a Base64Bytes of `n` bytes, counting releases. */
  function setup(mode: 'async' | 'sync' | 'none', closeAfter = Infinity) {
    let releases = 0;
    const payloads: Buffer[] = [];
    const d = new Dispatcher(
      commandTable,
      {
        ...handlers,
        'guest-file-read': (a: { handle: bigint; count?: bigint }) => {
          const bytes = Buffer.alloc(Number(a.count ?? 0n));
          for (let i = 0; i < bytes.length; i++) bytes[i] = (i * 31 + Number(a.handle)) & 0xff;
          payloads.push(bytes);
          return { count: bytes.length, 'buf-b64': new Base64Bytes(bytes, () => releases++), eof: false };
        },
      },
      new CommandFilter(null, []),
      {},
      { handlerCrash: () => {} },
    );
    const out: Buffer[] = [];
    let pieces = 0;
    let open = true;
    const writer: PacedWriter = {
      get open() {
        return open;
      },
      write(data, done) {
        if (open) out.push(Buffer.from(data));
        if (++pieces >= closeAfter) open = false;
        if (mode === 'sync') done();
        else setImmediate(done);
      },
    };
    const session = new Session(d, {
      write: (b) => {
        if (open) out.push(typeof b === 'string' ? Buffer.from(b, 'latin1') : Buffer.from(b));
      },
      pause: () => {},
      resume: () => {},
      ...(mode === 'none' ? {} : { writer: () => writer }),
    });
    const settle = async () => {
      for (let i = 0; i < 200; i++) await new Promise((r) => setImmediate(r));
    };
    return { session, out, settle, releases: () => releases, payloads };
  }

  const req = (handle: number, count: number, id?: string) =>
    `{"execute":"guest-file-read","arguments":{"handle":${handle},"count":${count}}${id === undefined ? '' : `,"id":${id}`}}`;
  const expected = (handle: number, count: number, id?: string) => {
    const bytes = Buffer.alloc(count);
    for (let i = 0; i < count; i++) bytes[i] = (i * 31 + handle) & 0xff;
    return `{"return": {"count": ${count}, "buf-b64": "${bytes.toString('base64')}", "eof": false}${id === undefined ? '' : `, "id": ${id}`}}\n`;
  };

  for (const mode of ['async', 'sync', 'none'] as const) {
    it(`keeps replies whole and in order (${mode} writer)`, async () => {
      const t = setup(mode);
      const input =
        '{"execute":"guest-ping"}' + req(1, 3_000_000, '"a"') + '{"execute":"guest-ping","id":2}' + req(2, 7) + req(3, 2_500_001) + 'X' + '{"execute":"guest-sync","arguments":{"id":5}}';
      t.session.feed(Buffer.from(input));
      await t.settle();
      const want =
        '{"return": {}}\n' +
        expected(1, 3_000_000, '"a"') +
        '{"return": {}, "id": 2}\n' +
        expected(2, 7) +
        expected(3, 2_500_001) +
        `{"error": {"class": "GenericError", "desc": "JSON parse error, stray 'X'"}}\n` +
        '{"return": 5}\n';
      assert.equal(Buffer.concat(t.out).toString('latin1'), want);
      assert.equal(t.releases(), 3);
    });
  }

  it('a client that leaves mid-reply gets no more of it; the buffers are released and the session goes on', async () => {
    const t = setup('async', 2);
    t.session.feed(Buffer.from(req(1, 6_000_000) + '{"execute":"guest-ping"}'));
    await t.settle();
    assert.equal(t.releases(), 1);
    const text = Buffer.concat(t.out).toString('latin1');
    assert.ok(expected(1, 6_000_000).startsWith(text));
    assert.ok(text.length < 6_000_000);
  });
});
