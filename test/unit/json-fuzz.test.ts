// Property tests for the JSON room: the streamer never throws, its events do not depend on
// how the input is chunked, a 0xFF always resynchronises it, valid JSON parses to the
// expected value model, and the serializer's output is stable ASCII JSON.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { JsonStreamer } from '../../src/json/streamer.ts';
import { toJson } from '../../src/json/serialize.ts';
import type { JsonValue } from '../../src/json/value.ts';

type Ev = { m: JsonValue } | { e: string };

function feedAll(chunks: Uint8Array[]): Ev[] {
  const evs: Ev[] = [];
  const s = new JsonStreamer({ message: (m) => evs.push({ m }), error: (e) => evs.push({ e }) });
  for (const c of chunks) s.feed(c);
  return evs;
}

/** Split `bytes` at the given (unsorted, possibly out of range) cut points. */
function split(bytes: Uint8Array, cuts: number[]): Uint8Array[] {
  const points = [...new Set(cuts.map((c) => c % (bytes.length + 1)))].sort((a, b) => a - b);
  const out: Uint8Array[] = [];
  let prev = 0;
  for (const p of points) {
    out.push(bytes.subarray(prev, p));
    prev = p;
  }
  out.push(bytes.subarray(prev));
  return out;
}

const latin1 = (s: string): Uint8Array => Buffer.from(s, 'latin1');

// Fragments that reach every lexer and parser state, mixed with arbitrary bytes.
const FRAGMENTS = [
  '{', '}', '[', ']', ':', ',', ' ', '\n', '\t', '\r', '"', "'", '\\', '\\u', '\\ud83d', '\\ude00', '\\u0000', '\\ud800',
  '\\ufdd0', '\\u12', '\\q', '"execute"', '"guest-ping"', '"id"', "'k'", '"a"', '"a"', '0', '-', '-0', '1', '12', '.', '5',
  'e', 'E', '+', '1e400', '18446744073709551616', '9223372036854775807', 'true', 'false', 'null', 'tru', 'xyz', 'X', '%',
  '\xff', '\xfe', '\x00', '\x01', '\x7f', '\xc0\x80', '\xc3\xa9', '\xc3', '\xe2\x82\xac', '\xf0\x9f\x98\x80', '\xef\xbf\xbf',
  '\xed\xa0\x80', '\xc0\xaf', '\x80', '{"execute":"guest-ping"}', '{"execute":"guest-ping","id":', '{"a":{"b":[1,2,{',
];
const fragmentBytes = fc
  .array(fc.oneof(fc.constantFrom(...FRAGMENTS), fc.integer({ min: 0, max: 255 }).map((b) => String.fromCharCode(b))), {
    maxLength: 60,
  })
  .map((parts) => latin1(parts.join('')));
const randomBytes = fc.uint8Array({ maxLength: 200 });
const anyInput = fc.oneof(fragmentBytes, randomBytes, fc.json().map((s) => Buffer.from(s, 'utf8')));
const cuts = fc.array(fc.nat(), { maxLength: 20 });

const PING = latin1('\xff{"execute":"guest-ping"}');
const PING_VALUE: JsonValue = new Map([['execute', 'guest-ping']]);

describe('streamer properties', () => {
  test('never throws, and the events do not depend on the chunking', () => {
    fc.assert(
      fc.property(anyInput, cuts, (bytes, cutPoints) => {
        const whole = feedAll([bytes]);
        assert.deepStrictEqual(feedAll(split(bytes, cutPoints)), whole);
      }),
      { numRuns: 1500 },
    );
  });

  test('byte-at-a-time feeding gives the same events', () => {
    fc.assert(
      fc.property(anyInput, (bytes) => {
        const single = [...bytes].map((b) => Uint8Array.of(b));
        assert.deepStrictEqual(feedAll(single), feedAll([bytes]));
      }),
      { numRuns: 500 },
    );
  });

  test('a trailing 0xFF + guest-ping always ends with that request', () => {
    fc.assert(
      fc.property(anyInput, cuts, (bytes, cutPoints) => {
        const all = Buffer.concat([bytes, PING]);
        const evs = feedAll(split(all, cutPoints));
        assert.ok(evs.length >= 2, 'at least the 0xFF error and the message');
        assert.deepStrictEqual(evs[evs.length - 1], { m: PING_VALUE });
        // the 0xFF is reported as (the end of) a stray token: any pending token text comes first
        const err = evs[evs.length - 2];
        assert.ok('e' in err && err.e.startsWith("JSON parse error, stray '") && err.e.endsWith("\ufffd'"), JSON.stringify(err));
      }),
      { numRuns: 1500 },
    );
  });

  test('state carries across streams: two inputs fed to one streamer = their concatenation', () => {
    fc.assert(
      fc.property(anyInput, anyInput, (a, b) => {
        assert.deepStrictEqual(feedAll([a, b]), feedAll([Buffer.concat([a, b])]));
      }),
      { numRuns: 500 },
    );
  });
});

// ---- valid JSON against the value model -----------------------------------------------

/** Strings qemu-ga rejects: lone surrogates and noncharacters. */
function hasBadChar(s: string): boolean {
  for (const ch of s) {
    const cp = ch.codePointAt(0) as number;
    if (cp >= 0xd800 && cp <= 0xdfff) return true;
    if ((cp >= 0xfdd0 && cp <= 0xfdef) || (cp & 0xfffe) === 0xfffe) return true;
  }
  return false;
}
function acceptable(v: unknown): boolean {
  if (typeof v === 'string') return !hasBadChar(v);
  if (Array.isArray(v)) return v.every(acceptable);
  if (v !== null && typeof v === 'object') return Object.entries(v).every(([k, x]) => !hasBadChar(k) && acceptable(x));
  return true;
}
const INT64_MIN = -(2n ** 63n);
const UINT64_MAX = 2n ** 64n - 1n;
/** What the streamer must produce for the text JSON.stringify(v). */
function model(v: unknown): JsonValue {
  if (typeof v === 'number') {
    const text = JSON.stringify(v);
    if (/[.eE]/.test(text)) return Number(text);
    const b = BigInt(text);
    return b >= INT64_MIN && b <= UINT64_MAX ? b : Number(text);
  }
  if (Array.isArray(v)) return v.map(model);
  if (v !== null && typeof v === 'object') return new Map(Object.entries(v).map(([k, x]) => [k, model(x)]));
  return v as JsonValue;
}

/** Maps with their members sorted, for comparisons that ignore member order. */
function canonical(v: JsonValue): unknown {
  if (v instanceof Map) return [...v.entries()].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)).map(([k, x]) => [k, canonical(x)]);
  if (Array.isArray(v)) return v.map(canonical);
  return v;
}

const jsonValues = fc.jsonValue({ maxDepth: 5 }).filter(acceptable);
const unicodeJsonValues = fc.jsonValue({ maxDepth: 3, stringUnit: 'grapheme' }).filter(acceptable);

describe('valid JSON', () => {
  test('parses to the value model (compact and pretty-printed, any chunking)', () => {
    fc.assert(
      fc.property(fc.oneof(jsonValues, unicodeJsonValues), cuts, (v, cutPoints) => {
        const expected = model(v);
        for (const text of [JSON.stringify(v), JSON.stringify(v, null, 2)]) {
          const bytes = Buffer.from(text + ' ', 'utf8'); // a space completes a top-level number
          assert.deepStrictEqual(feedAll(split(bytes, cutPoints)), [{ m: expected }]);
        }
      }),
      { numRuns: 1000 },
    );
  });

  test('serializer output is 7-bit ASCII and parses back to the same value', () => {
    fc.assert(
      fc.property(fc.oneof(jsonValues, unicodeJsonValues), (v) => {
        const expected = model(v);
        const text = toJson(expected);
        assert.match(text, /^[\x20-\x7e]*$/);
        const evs = feedAll([Buffer.from(text + ' ', 'latin1')]);
        assert.equal(evs.length, 1);
        assert.ok('m' in evs[0]);
        // member order differs: printing reverses members that share a QDict bucket
        assert.deepStrictEqual(canonical(evs[0].m), canonical(expected));
      }),
      { numRuns: 1000 },
    );
  });

  test('doubles survive print and parse exactly (%.17g round-trips)', () => {
    fc.assert(
      fc.property(fc.double({ noNaN: true }), (x) => {
        const text = toJson(x);
        const evs = feedAll([latin1(text + ' ')]);
        assert.equal(evs.length, 1);
        const back = (evs[0] as { m: JsonValue }).m;
        // integral values print without a fraction and come back as integers; -0 as 0
        const num = typeof back === 'bigint' ? Number(back) : back;
        assert.ok(Object.is(num, x) || (back === 0n && x === 0), `${x} -> ${text}`);
      }),
      { numRuns: 2000 },
    );
  });
});
