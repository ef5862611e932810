// Unit tests for src/json/streamer.ts: qemu-ga 7.2 / 10.2 input behaviour.
// The ORACLE table was recorded from Debian's qemu-ga 7.2.22 (`qemu-ga -m unix-listen`): each
// input was sent after a 0xFF resync, and the lines are its responses, byte for byte.
// Inputs are byte strings: each char is one byte (Latin-1), so UTF-8 appears as its bytes.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { JsonStreamer, MAX_TOKEN_SIZE } from '../../src/json/streamer.ts';
import { toJson } from '../../src/json/serialize.ts';
import { qdictOrder } from '../../src/json/qdict-order.ts';
import type { JsonValue } from '../../src/json/value.ts';

type Ev = { m: JsonValue } | { e: string };

function bytes(s: string): Buffer {
  return Buffer.from(s, 'latin1');
}

/** Feed `input` in chunks of `chunk` bytes to a fresh streamer; return its events. */
function run(input: Uint8Array | string, chunk = Number.MAX_SAFE_INTEGER): Ev[] {
  const buf = typeof input === 'string' ? bytes(input) : input;
  const evs: Ev[] = [];
  const s = new JsonStreamer({ message: (m) => evs.push({ m }), error: (e) => evs.push({ e }) });
  for (let i = 0; i < buf.length; i += chunk) s.feed(buf.subarray(i, Math.min(buf.length, i + chunk)));
  return evs;
}

function errorLine(desc: string, id?: JsonValue): string {
  return toJson({ error: { class: 'GenericError', desc }, id });
}

/**
 * The response qemu-ga writes for one event, for the few request shapes used in the table
 * (a stand-in for the dispatcher: envelope checks and guest-ping only).
 */
function wire(ev: Ev): string {
  if ('e' in ev) return errorLine(ev.e);
  const v = ev.m;
  if (!(v instanceof Map)) return errorLine('QMP input must be a JSON object');
  const keys = [...v.keys()];
  for (const i of qdictOrder(keys)) {
    const k = keys[i];
    if (k === 'execute') {
      if (typeof v.get(k) !== 'string') return errorLine("QMP input member 'execute' must be a string", v.get('id'));
    } else if (k !== 'id') return errorLine(`QMP input member '${k}' is unexpected`, v.get('id'));
  }
  if (!v.has('execute')) return errorLine("QMP input lacks member 'execute'", v.get('id'));
  assert.equal(v.get('execute'), 'guest-ping');
  return toJson({ return: {}, id: v.get('id') });
}

const ORACLE: [string, string[]][] = [
  ["X", ["{\"error\": {\"class\": \"GenericError\", \"desc\": \"JSON parse error, stray 'X'\"}}"]],
  ["-x", ["{\"error\": {\"class\": \"GenericError\", \"desc\": \"JSON parse error, stray '-x'\"}}"]],
  ["01", ["{\"error\": {\"class\": \"GenericError\", \"desc\": \"JSON parse error, stray '01'\"}}"]],
  ["-01", ["{\"error\": {\"class\": \"GenericError\", \"desc\": \"JSON parse error, stray '-01'\"}}"]],
  ["\"abc\n", ["{\"error\": {\"class\": \"GenericError\", \"desc\": \"JSON parse error, stray '\\\"abc\\n'\"}}"]],
  ["'abc\n", ["{\"error\": {\"class\": \"GenericError\", \"desc\": \"JSON parse error, stray ''abc\\n'\"}}"]],
  ["\"a\\\n", ["{\"error\": {\"class\": \"GenericError\", \"desc\": \"JSON parse error, stray '\\\"a\\\\\\n'\"}}"]],
  ["\u0001", ["{\"error\": {\"class\": \"GenericError\", \"desc\": \"JSON parse error, stray '\\u0001'\"}}"]],
  ["\u0000", ["{\"error\": {\"class\": \"GenericError\", \"desc\": \"JSON parse error, stray ''\"}}"]],
  ["\"ab\u0000", ["{\"error\": {\"class\": \"GenericError\", \"desc\": \"JSON parse error, stray '\\\"ab'\"}}"]],
  ["-\u0000", ["{\"error\": {\"class\": \"GenericError\", \"desc\": \"JSON parse error, stray '-'\"}}"]],
  ["1.\n", ["{\"error\": {\"class\": \"GenericError\", \"desc\": \"JSON parse error, stray '1.\\n'\"}}"]],
  ["1e\n", ["{\"error\": {\"class\": \"GenericError\", \"desc\": \"JSON parse error, stray '1e\\n'\"}}"]],
  ["1e+\n", ["{\"error\": {\"class\": \"GenericError\", \"desc\": \"JSON parse error, stray '1e+\\n'\"}}"]],
  ["1.5.3 ", ["{\"error\": {\"class\": \"GenericError\", \"desc\": \"QMP input must be a JSON object\"}}", "{\"error\": {\"class\": \"GenericError\", \"desc\": \"JSON parse error, stray '.'\"}}"]],
  ["%", ["{\"error\": {\"class\": \"GenericError\", \"desc\": \"JSON parse error, stray '%'\"}}"]],
  ["TRUE", ["{\"error\": {\"class\": \"GenericError\", \"desc\": \"JSON parse error, stray 'T'\"}}"]],
  ["+1 ", ["{\"error\": {\"class\": \"GenericError\", \"desc\": \"JSON parse error, stray '+'\"}}"]],
  [".5 ", ["{\"error\": {\"class\": \"GenericError\", \"desc\": \"JSON parse error, stray '.'\"}}"]],
  ["\"gu\u00ffest\"", ["{\"error\": {\"class\": \"GenericError\", \"desc\": \"JSON parse error, stray '\\\"gu\\uFFFD'\"}}"]],
  ["\u00fe", ["{\"error\": {\"class\": \"GenericError\", \"desc\": \"JSON parse error, stray '\\uFFFD'\"}}"]],
  ["\u00ff", ["{\"error\": {\"class\": \"GenericError\", \"desc\": \"JSON parse error, stray '\\uFFFD'\"}}"]],
  ["\u00ff\u00ff", ["{\"error\": {\"class\": \"GenericError\", \"desc\": \"JSON parse error, stray '\\uFFFD'\"}}", "{\"error\": {\"class\": \"GenericError\", \"desc\": \"JSON parse error, stray '\\uFFFD'\"}}"]],
  ["\"\u00c0\u0081\n", ["{\"error\": {\"class\": \"GenericError\", \"desc\": \"JSON parse error, stray '\\\"\\uFFFD\\n'\"}}"]],
  ["\"\u00e2\u0082\n", ["{\"error\": {\"class\": \"GenericError\", \"desc\": \"JSON parse error, stray '\\\"\\uFFFD\\n'\"}}"]],
  ["\"\u00f0\u0080\u0080\u0080\n", ["{\"error\": {\"class\": \"GenericError\", \"desc\": \"JSON parse error, stray '\\\"\\uFFFD\\n'\"}}"]],
  ["\"\u00ef\u00bf\u00bf\n", ["{\"error\": {\"class\": \"GenericError\", \"desc\": \"JSON parse error, stray '\\\"\\uFFFD\\n'\"}}"]],
  ["\"\u00ed\u00a0\u0080\n", ["{\"error\": {\"class\": \"GenericError\", \"desc\": \"JSON parse error, stray '\\\"\\uFFFD\\n'\"}}"]],
  ["\"\u00c3\n", ["{\"error\": {\"class\": \"GenericError\", \"desc\": \"JSON parse error, stray '\\\"\\uFFFD\\n'\"}}"]],
  ["\"\u00c0\u0080\n", ["{\"error\": {\"class\": \"GenericError\", \"desc\": \"JSON parse error, stray '\\\"\\u0000\\n'\"}}"]],
  ["\"a\tb\"", ["{\"error\": {\"class\": \"GenericError\", \"desc\": \"JSON parse error, stray '\\\"a\\t'\"}}"]],
  ["X\tY\u0002", ["{\"error\": {\"class\": \"GenericError\", \"desc\": \"JSON parse error, stray 'X'\"}}", "{\"error\": {\"class\": \"GenericError\", \"desc\": \"JSON parse error, stray '\\u0002'\"}}"]],
  ["X}", ["{\"error\": {\"class\": \"GenericError\", \"desc\": \"JSON parse error, stray 'X'\"}}", "{\"error\": {\"class\": \"GenericError\", \"desc\": \"JSON parse error, expecting value\"}}"]],
  ["X\u0001", ["{\"error\": {\"class\": \"GenericError\", \"desc\": \"JSON parse error, stray 'X'\"}}", "{\"error\": {\"class\": \"GenericError\", \"desc\": \"JSON parse error, stray '\\u0001'\"}}"]],
  ["Xabc{\"execute\":\"guest-ping\"}", ["{\"error\": {\"class\": \"GenericError\", \"desc\": \"JSON parse error, stray 'X'\"}}", "{\"return\": {}}"]],
  ["\u007f", ["{\"error\": {\"class\": \"GenericError\", \"desc\": \"JSON parse error, stray '\\u007F'\"}}"]],
  ["\u0000\u0001garbage\u007f\n", ["{\"error\": {\"class\": \"GenericError\", \"desc\": \"JSON parse error, stray ''\"}}", "{\"error\": {\"class\": \"GenericError\", \"desc\": \"JSON parse error, stray '\\u0001'\"}}"]],
  ["\"\u00c3\u00a9\u0001", ["{\"error\": {\"class\": \"GenericError\", \"desc\": \"JSON parse error, stray '\\\"\\u00E9\\u0001'\"}}"]],
  ["{\"execute\":\"gu\u00ffest-ping\"}", ["{\"error\": {\"class\": \"GenericError\", \"desc\": \"JSON parse error, stray '\\\"gu\\uFFFD'\"}}", "{\"error\": {\"class\": \"GenericError\", \"desc\": \"JSON parse error, expecting value\"}}"]],
  ["NaN ", ["{\"error\": {\"class\": \"GenericError\", \"desc\": \"JSON parse error, stray 'N'\"}}"]],
  ["{\"execute\":\"guest-sync\",\"arguments\":{\"id\":NaN}}\n", ["{\"error\": {\"class\": \"GenericError\", \"desc\": \"JSON parse error, stray 'N'\"}}", "{\"error\": {\"class\": \"GenericError\", \"desc\": \"JSON parse error, expecting value\"}}", "{\"error\": {\"class\": \"GenericError\", \"desc\": \"JSON parse error, expecting value\"}}"]],
  ["\"a\u00fe", ["{\"error\": {\"class\": \"GenericError\", \"desc\": \"JSON parse error, stray '\\\"a\\uFFFD'\"}}"]],
  ["'\\\u00ff", ["{\"error\": {\"class\": \"GenericError\", \"desc\": \"JSON parse error, stray ''\\\\\\uFFFD'\"}}"]],
  ["0\u00ff", ["{\"error\": {\"class\": \"GenericError\", \"desc\": \"QMP input must be a JSON object\"}}", "{\"error\": {\"class\": \"GenericError\", \"desc\": \"JSON parse error, stray '\\uFFFD'\"}}"]],
  ["1e5\u0000", ["{\"error\": {\"class\": \"GenericError\", \"desc\": \"QMP input must be a JSON object\"}}", "{\"error\": {\"class\": \"GenericError\", \"desc\": \"JSON parse error, stray ''\"}}"]],
  ["}", ["{\"error\": {\"class\": \"GenericError\", \"desc\": \"JSON parse error, expecting value\"}}"]],
  ["]", ["{\"error\": {\"class\": \"GenericError\", \"desc\": \"JSON parse error, expecting value\"}}"]],
  [":", ["{\"error\": {\"class\": \"GenericError\", \"desc\": \"JSON parse error, expecting value\"}}"]],
  [",", ["{\"error\": {\"class\": \"GenericError\", \"desc\": \"JSON parse error, expecting value\"}}"]],
  ["{\"a\":}", ["{\"error\": {\"class\": \"GenericError\", \"desc\": \"JSON parse error, expecting value\"}}"]],
  ["[1,]", ["{\"error\": {\"class\": \"GenericError\", \"desc\": \"JSON parse error, expecting value\"}}"]],
  ["{\"a\":1,}", ["{\"error\": {\"class\": \"GenericError\", \"desc\": \"JSON parse error, expecting value\"}}"]],
  ["{,}", ["{\"error\": {\"class\": \"GenericError\", \"desc\": \"JSON parse error, expecting value\"}}"]],
  ["{\"a\" 1}", ["{\"error\": {\"class\": \"GenericError\", \"desc\": \"JSON parse error, missing : in object pair\"}}"]],
  ["{1:2}", ["{\"error\": {\"class\": \"GenericError\", \"desc\": \"JSON parse error, key is not a string in object\"}}"]],
  ["{\"a\":1 \"b\":2}", ["{\"error\": {\"class\": \"GenericError\", \"desc\": \"JSON parse error, expected separator in dict\"}}"]],
  ["[1 2]", ["{\"error\": {\"class\": \"GenericError\", \"desc\": \"JSON parse error, expected separator in list\"}}"]],
  ["{\"a\":1,\"a\":2}", ["{\"error\": {\"class\": \"GenericError\", \"desc\": \"JSON parse error, duplicate key\"}}"]],
  ["foo\n", ["{\"error\": {\"class\": \"GenericError\", \"desc\": \"JSON parse error, invalid keyword 'foo'\"}}"]],
  ["{\"a\":tru}", ["{\"error\": {\"class\": \"GenericError\", \"desc\": \"JSON parse error, invalid keyword 'tru'\"}}"]],
  ["\"x\\y\"", ["{\"error\": {\"class\": \"GenericError\", \"desc\": \"JSON parse error, invalid escape sequence in string\"}}"]],
  ["[}", ["{\"error\": {\"class\": \"GenericError\", \"desc\": \"JSON parse error, expecting value\"}}"]],
  ["{]", ["{\"error\": {\"class\": \"GenericError\", \"desc\": \"JSON parse error, expecting value\"}}"]],
  ["{\"a\":1]", ["{\"error\": {\"class\": \"GenericError\", \"desc\": \"JSON parse error, expected separator in dict\"}}"]],
  ["{{}:1}", ["{\"error\": {\"class\": \"GenericError\", \"desc\": \"JSON parse error, key is not a string in object\"}}"]],
  ["{[1 2]:3}", ["{\"error\": {\"class\": \"GenericError\", \"desc\": \"JSON parse error, expected separator in list\"}}"]],
  ["{\"a\":[}]}", ["{\"error\": {\"class\": \"GenericError\", \"desc\": \"JSON parse error, expecting value\"}}", "{\"error\": {\"class\": \"GenericError\", \"desc\": \"JSON parse error, expecting value\"}}"]],
  ["[{}}]", ["{\"error\": {\"class\": \"GenericError\", \"desc\": \"JSON parse error, expected separator in list\"}}", "{\"error\": {\"class\": \"GenericError\", \"desc\": \"JSON parse error, expecting value\"}}"]],
  ["{\"a\":1}}", ["{\"error\": {\"class\": \"GenericError\", \"desc\": \"QMP input member 'a' is unexpected\"}}", "{\"error\": {\"class\": \"GenericError\", \"desc\": \"JSON parse error, expecting value\"}}"]],
  ["[[]]]", ["{\"error\": {\"class\": \"GenericError\", \"desc\": \"QMP input must be a JSON object\"}}", "{\"error\": {\"class\": \"GenericError\", \"desc\": \"JSON parse error, expecting value\"}}"]],
  ["{foo:1}", ["{\"error\": {\"class\": \"GenericError\", \"desc\": \"JSON parse error, invalid keyword 'foo'\"}}"]],
  ["{true:1}", ["{\"error\": {\"class\": \"GenericError\", \"desc\": \"JSON parse error, key is not a string in object\"}}"]],
  ["{\"a\":1,\"a\":[1 2]}", ["{\"error\": {\"class\": \"GenericError\", \"desc\": \"JSON parse error, expected separator in list\"}}"]],
  ["{\"a\":1,\"a\":[}", []],
  ["{\"a\":\"\\q\",\"a\":1}", ["{\"error\": {\"class\": \"GenericError\", \"desc\": \"JSON parse error, invalid escape sequence in string\"}}"]],
  ["{\"a\":1 \"b\"}", ["{\"error\": {\"class\": \"GenericError\", \"desc\": \"JSON parse error, expected separator in dict\"}}"]],
  ["[1:2]", ["{\"error\": {\"class\": \"GenericError\", \"desc\": \"JSON parse error, expected separator in list\"}}"]],
  ["{\"a\"}", ["{\"error\": {\"class\": \"GenericError\", \"desc\": \"JSON parse error, missing : in object pair\"}}"]],
  ["{:}", ["{\"error\": {\"class\": \"GenericError\", \"desc\": \"JSON parse error, expecting value\"}}"]],
  ["[,]", ["{\"error\": {\"class\": \"GenericError\", \"desc\": \"JSON parse error, expecting value\"}}"]],
  ["{\"a\":1,,}", ["{\"error\": {\"class\": \"GenericError\", \"desc\": \"JSON parse error, expecting value\"}}"]],
  ["[[1] [2]]", ["{\"error\": {\"class\": \"GenericError\", \"desc\": \"JSON parse error, expected separator in list\"}}"]],
  ["{\"a\":{}}{", ["{\"error\": {\"class\": \"GenericError\", \"desc\": \"QMP input member 'a' is unexpected\"}}"]],
  ["truex ", ["{\"error\": {\"class\": \"GenericError\", \"desc\": \"JSON parse error, invalid keyword 'truex'\"}}"]],
  ["nul ", ["{\"error\": {\"class\": \"GenericError\", \"desc\": \"JSON parse error, invalid keyword 'nul'\"}}"]],
  ["true1 ", ["{\"error\": {\"class\": \"GenericError\", \"desc\": \"QMP input must be a JSON object\"}}", "{\"error\": {\"class\": \"GenericError\", \"desc\": \"QMP input must be a JSON object\"}}"]],
  ["\"\\ud800\"", ["{\"error\": {\"class\": \"GenericError\", \"desc\": \"JSON parse error, \\\\ud800 is not a valid Unicode character\"}}"]],
  ["\"\\u12\"", ["{\"error\": {\"class\": \"GenericError\", \"desc\": \"JSON parse error, \\\\u12\\\" is not a valid Unicode character\"}}"]],
  ["\"\\u\"", ["{\"error\": {\"class\": \"GenericError\", \"desc\": \"JSON parse error, \\\\u\\\" is not a valid Unicode character\"}}"]],
  ["\"\\ud800\\u0041\"", ["{\"error\": {\"class\": \"GenericError\", \"desc\": \"JSON parse error, \\\\ud800 is not a valid Unicode character\"}}"]],
  ["\"\\udc00\"", ["{\"error\": {\"class\": \"GenericError\", \"desc\": \"JSON parse error, \\\\udc00 is not a valid Unicode character\"}}"]],
  ["\"\\ufdd0\"", ["{\"error\": {\"class\": \"GenericError\", \"desc\": \"JSON parse error, \\\\ufdd0 is not a valid Unicode character\"}}"]],
  ["\"\\ufdef\"", ["{\"error\": {\"class\": \"GenericError\", \"desc\": \"JSON parse error, \\\\ufdef is not a valid Unicode character\"}}"]],
  ["\"\\ufffe\"", ["{\"error\": {\"class\": \"GenericError\", \"desc\": \"JSON parse error, \\\\ufffe is not a valid Unicode character\"}}"]],
  ["\"\\uffff\"", ["{\"error\": {\"class\": \"GenericError\", \"desc\": \"JSON parse error, \\\\uffff is not a valid Unicode character\"}}"]],
  ["\"\\uD83F\\uDFFE\"", ["{\"error\": {\"class\": \"GenericError\", \"desc\": \"JSON parse error, \\\\uD83F\\\\uDFFE is not a valid Unicode character\"}}"]],
  ["\"\\udbff\\udfff\"", ["{\"error\": {\"class\": \"GenericError\", \"desc\": \"JSON parse error, \\\\udbff\\\\udfff is not a valid Unicode character\"}}"]],
  ["\"\\u1\u00c3\u00a9xyz\"", ["{\"error\": {\"class\": \"GenericError\", \"desc\": \"JSON parse error, \\\\u1\\u00E9x is not a valid Unicode character\"}}"]],
  ["\"\\u123\u00c3\u00a9\"", ["{\"error\": {\"class\": \"GenericError\", \"desc\": \"JSON parse error, \\\\u123\\uFFFD is not a valid Unicode character\"}}"]],
  ["\"\\ud800\\u12\"", ["{\"error\": {\"class\": \"GenericError\", \"desc\": \"JSON parse error, \\\\ud800 is not a valid Unicode character\"}}"]],
  ["\"\\ud800\\\"", []],
  ["\"\\q\"", ["{\"error\": {\"class\": \"GenericError\", \"desc\": \"JSON parse error, invalid escape sequence in string\"}}"]],
  ["\"\\\u00c3\u00a9\"", ["{\"error\": {\"class\": \"GenericError\", \"desc\": \"JSON parse error, invalid escape sequence in string\"}}"]],
  ["\"\\x41\"", ["{\"error\": {\"class\": \"GenericError\", \"desc\": \"JSON parse error, invalid escape sequence in string\"}}"]],
  ["\"\\U0041\"", ["{\"error\": {\"class\": \"GenericError\", \"desc\": \"JSON parse error, invalid escape sequence in string\"}}"]],
  ["\"\u00c3\u00a9\\u12\"", ["{\"error\": {\"class\": \"GenericError\", \"desc\": \"JSON parse error, \\\\u12\\\" is not a valid Unicode character\"}}"]],
  ["\"\\ud800\u00c3\u00a9\"", ["{\"error\": {\"class\": \"GenericError\", \"desc\": \"JSON parse error, \\\\ud800 is not a valid Unicode character\"}}"]],
  ["\"\\u00e9\\ud800\"", ["{\"error\": {\"class\": \"GenericError\", \"desc\": \"JSON parse error, \\\\ud800 is not a valid Unicode character\"}}"]],
  ["\"\\uZZZZ\"", ["{\"error\": {\"class\": \"GenericError\", \"desc\": \"JSON parse error, \\\\uZZZZ is not a valid Unicode character\"}}"]],
  ["[\"\u00c0\u00af\", \"\\ud800\"]", ["{\"error\": {\"class\": \"GenericError\", \"desc\": \"JSON parse error, invalid UTF-8 sequence in string\"}}"]],
  ["[\"\\ud800\", \"\u00c0\u00af\"]", ["{\"error\": {\"class\": \"GenericError\", \"desc\": \"JSON parse error, \\\\ud800 is not a valid Unicode character\"}}"]],
  ["{\"\u00c0\u00af\":1}", ["{\"error\": {\"class\": \"GenericError\", \"desc\": \"JSON parse error, invalid UTF-8 sequence in string\"}}"]],
  ["{\"\\u12\":1}", ["{\"error\": {\"class\": \"GenericError\", \"desc\": \"JSON parse error, \\\\u12\\\" is not a valid Unicode character\"}}"]],
  ["" + "a".repeat(2000) + " ", ["{\"error\": {\"class\": \"GenericError\", \"desc\": \"JSON parse error, invalid keyword '" + "a".repeat(1006) + "\"}}"]],
  ["{\"a\":" + "b".repeat(1500) + "}", ["{\"error\": {\"class\": \"GenericError\", \"desc\": \"JSON parse error, invalid keyword '" + "b".repeat(1006) + "\"}}"]],
  ["{\"execute\":\"guest-ping\",\"id\":9223372036854775807}", ["{\"return\": {}, \"id\": 9223372036854775807}"]],
  ["{\"execute\":\"guest-ping\",\"id\":-9223372036854775808}", ["{\"return\": {}, \"id\": -9223372036854775808}"]],
  ["{\"execute\":\"guest-ping\",\"id\":9223372036854775808}", ["{\"return\": {}, \"id\": 9223372036854775808}"]],
  ["{\"execute\":\"guest-ping\",\"id\":18446744073709551615}", ["{\"return\": {}, \"id\": 18446744073709551615}"]],
  ["{\"execute\":\"guest-ping\",\"id\":18446744073709551616}", ["{\"return\": {}, \"id\": 1.8446744073709552e+19}"]],
  ["{\"execute\":\"guest-ping\",\"id\":-9223372036854775809}", ["{\"return\": {}, \"id\": -9.2233720368547758e+18}"]],
  ["{\"execute\":\"guest-ping\",\"id\":1.5e3}", ["{\"return\": {}, \"id\": 1500}"]],
  ["{\"execute\":\"guest-ping\",\"id\":-0}", ["{\"return\": {}, \"id\": 0}"]],
  ["{\"execute\":\"guest-ping\",\"id\":-0.0}", ["{\"return\": {}, \"id\": -0}"]],
  ["{\"execute\":\"guest-ping\",\"id\":0.1}", ["{\"return\": {}, \"id\": 0.10000000000000001}"]],
  ["{\"execute\":\"guest-ping\",\"id\":1e-400}", ["{\"return\": {}, \"id\": 0}"]],
  ["{\"execute\":\"guest-ping\",\"id\":2.98023223876953125e-8}", ["{\"return\": {}, \"id\": 2.9802322387695312e-08}"]],
  ["{\"execute\":\"guest-ping\",\"id\":1E2}", ["{\"return\": {}, \"id\": 100}"]],
  ["{\"execute\":\"guest-ping\",\"id\":1e16}", ["{\"return\": {}, \"id\": 10000000000000000}"]],
  ["{\"execute\":\"guest-ping\",\"id\":1e17}", ["{\"return\": {}, \"id\": 1e+17}"]],
  ["{\"execute\":\"guest-ping\",\"id\":1e-5}", ["{\"return\": {}, \"id\": 1.0000000000000001e-05}"]],
  ["{\"execute\":\"guest-ping\",\"id\":0.0001}", ["{\"return\": {}, \"id\": 0.0001}"]],
  ["{\"execute\":\"guest-ping\",\"id\":0.001}", ["{\"return\": {}, \"id\": 0.001}"]],
  ["{\"execute\":\"guest-ping\",\"id\":123456789012345678901234567890}", ["{\"return\": {}, \"id\": 1.2345678901234568e+29}"]],
  ["{\"execute\":\"guest-ping\",\"id\":-0.0015}", ["{\"return\": {}, \"id\": -0.0015}"]],
  ["{\"execute\":\"guest-ping\",\"id\":5e-324}", ["{\"return\": {}, \"id\": 4.9406564584124654e-324}"]],
  ["{\"execute\":\"guest-ping\",\"id\":1.7976931348623157e308}", ["{\"return\": {}, \"id\": 1.7976931348623157e+308}"]],
  ["{\"execute\":\"guest-ping\",\"id\":0.5}", ["{\"return\": {}, \"id\": 0.5}"]],
  ["{\"execute\":\"guest-ping\",\"id\":72057594037927936.0}", ["{\"return\": {}, \"id\": 72057594037927936}"]],
  ["{\"execute\":\"guest-ping\",\"id\":72057594037927937}", ["{\"return\": {}, \"id\": 72057594037927937}"]],
  ["{\"execute\":\"guest-ping\",\"id\":9007199254740993}", ["{\"return\": {}, \"id\": 9007199254740993}"]],
  ["{\"execute\":\"guest-ping\",\"id\":9007199254740993.0}", ["{\"return\": {}, \"id\": 9007199254740992}"]],
  ["{\"execute\":\"guest-ping\",\"id\":1.5}", ["{\"return\": {}, \"id\": 1.5}"]],
  ["{\"execute\":\"guest-ping\",\"id\":-2.5e-3}", ["{\"return\": {}, \"id\": -0.0025000000000000001}"]],
  ["{\"execute\":\"guest-ping\",\"id\":3.14159}", ["{\"return\": {}, \"id\": 3.1415899999999999}"]],
  ["{\"execute\":\"guest-ping\",\"id\":0.30000000000000004}", ["{\"return\": {}, \"id\": 0.30000000000000004}"]],
  ["{\"execute\":\"guest-ping\",\"id\":1e21}", ["{\"return\": {}, \"id\": 1e+21}"]],
  ["{\"execute\":\"guest-ping\",\"id\":1e22}", ["{\"return\": {}, \"id\": 1e+22}"]],
  ["{\"execute\":\"guest-ping\",\"id\":123456.789e3}", ["{\"return\": {}, \"id\": 123456789}"]],
  ["{\"execute\":\"guest-ping\",\"id\":100000000000000000000}", ["{\"return\": {}, \"id\": 1e+20}"]],
  ["{\"execute\":\"guest-ping\",\"id\":0e0}", ["{\"error\": {\"class\": \"GenericError\", \"desc\": \"JSON parse error, expected separator in dict\"}}"]],
  ["{\"execute\":\"guest-ping\",\"id\":0.0}", ["{\"return\": {}, \"id\": 0}"]],
  ["{\"execute\":\"guest-ping\",\"id\":-0e-0}", ["{\"error\": {\"class\": \"GenericError\", \"desc\": \"JSON parse error, expected separator in dict\"}}"]],
  ["{\"execute\":\"guest-ping\",\"id\":4.35}", ["{\"return\": {}, \"id\": 4.3499999999999996}"]],
  ["{\"execute\":\"guest-ping\",\"id\":2.675}", ["{\"return\": {}, \"id\": 2.6749999999999998}"]],
  ["{\"execute\":\"guest-ping\",\"id\":1.0000000000000002}", ["{\"return\": {}, \"id\": 1.0000000000000002}"]],
  ["{\"execute\":\"guest-ping\",\"id\":0.7646484375}", ["{\"return\": {}, \"id\": 0.7646484375}"]],
  ["{\"execute\":\"guest-ping\",\"id\":12345678901234567}", ["{\"return\": {}, \"id\": 12345678901234567}"]],
  ["{\"execute\":\"guest-ping\",\"id\":1.25e-7}", ["{\"return\": {}, \"id\": 1.2499999999999999e-07}"]],
  ["{\"execute\":\"guest-ping\",\"id\":6.103515625e-5}", ["{\"return\": {}, \"id\": 6.103515625e-05}"]],
  ["{\"execute\":\"guest-ping\",\"id\":2e-4}", ["{\"return\": {}, \"id\": 0.00020000000000000001}"]],
  ["{\"execute\":\"guest-ping\",\"id\":{\"x\":1,\"a\":2,\"zz\":3,\"return\":4}}", ["{\"return\": {}, \"id\": {\"x\": 1, \"a\": 2, \"zz\": 3, \"return\": 4}}"]],
  ["{\"execute\":\"guest-ping\",\"id\":{\"execute\":1,\"arguments\":2,\"id\":3,\"exec-oob\":4,\"error\":5,\"class\":6,\"desc\":7}}", ["{\"return\": {}, \"id\": {\"exec-oob\": 4, \"class\": 6, \"execute\": 1, \"desc\": 7, \"arguments\": 2, \"id\": 3, \"error\": 5}}"]],
  ["{\"execute\":\"guest-ping\",\"id\":\"\\u0000\\u001f\\u007f\\u0080/\\b\\f\\n\\r\\t\\\"\\\\\\/\"}", ["{\"return\": {}, \"id\": \"\\u0000\\u001F\\u007F\\u0080/\\b\\f\\n\\r\\t\\\"\\\\/\"}"]],
  ["{\"execute\":\"guest-ping\",\"id\":\"\u00c3\u00bc\u00e2\u0082\u00ac\u00f0\u009f\u0098\u0080\"}", ["{\"return\": {}, \"id\": \"\\u00FC\\u20AC\\uD83D\\uDE00\"}"]],
  ["{\"execute\":\"guest-ping\",\"id\":\"\\u00fc\\ud83d\\ude00\"}", ["{\"return\": {}, \"id\": \"\\u00FC\\uD83D\\uDE00\"}"]],
  ["{\"execute\":\"guest-ping\",\"id\":\"a\\u0000b\"}", ["{\"return\": {}, \"id\": \"a\\u0000b\"}"]],
  ["{\"execute\":\"guest-ping\",\"id\":\"\u00c0\u0080\"}", ["{\"return\": {}, \"id\": \"\\u0000\"}"]],
  ["{\"execute\":\"guest-ping\",\"id\":'it\\'s \"q\"'}", ["{\"return\": {}, \"id\": \"it's \\\"q\\\"\"}"]],
  ["{\"execute\":\"guest-ping\",\"id\":'\\\"'}", ["{\"return\": {}, \"id\": \"\\\"\"}"]],
  ["{\"execute\":\"guest-ping\",\"id\":\"\\'\"}", ["{\"return\": {}, \"id\": \"'\"}"]],
  ["{\"execute\":\"guest-ping\",\"id\":[]}", ["{\"return\": {}, \"id\": []}"]],
  ["{\"execute\":\"guest-ping\",\"id\":{}}", ["{\"return\": {}, \"id\": {}}"]],
  ["{\"execute\":\"guest-ping\",\"id\":[1,[],{}]}", ["{\"return\": {}, \"id\": [1, [], {}]}"]],
  ["{\"execute\":\"guest-ping\",\"id\":[1, 2.5, null, true, false]}", ["{\"return\": {}, \"id\": [1, 2.5, null, true, false]}"]],
  ["{\"execute\":\"guest-ping\",\"id\":{\"a\":[1,2.5,null,true]}}", ["{\"return\": {}, \"id\": {\"a\": [1, 2.5, null, true]}}"]],
  ["{\"execute\":\"guest-ping\",\"id\":\"\u00f4\u008f\u00bf\u00bd\"}", ["{\"return\": {}, \"id\": \"\\uDBFF\\uDFFD\"}"]],
  ["{\"execute\":\"guest-ping\",\"id\":\"\u00ef\u00bf\u00bd\"}", ["{\"return\": {}, \"id\": \"\\uFFFD\"}"]],
  ["{\"execute\":\"guest-ping\",\"id\":\"\\uD800\\uDC00\"}", ["{\"return\": {}, \"id\": \"\\uD800\\uDC00\"}"]],
  ["{\"execute\":\"guest-ping\",\"id\":\"\\uDBFF\\uDFFD\"}", ["{\"return\": {}, \"id\": \"\\uDBFF\\uDFFD\"}"]],
  ["{\"execute\":\"guest-ping\",\"id\":\"\u007f\"}", ["{\"return\": {}, \"id\": \"\\u007F\"}"]],
  ["{\"execute\":\"guest-ping\",\"id\":{\"\":1}}", ["{\"return\": {}, \"id\": {\"\": 1}}"]],
  ["{\"execute\":\"guest-ping\",\"id\":{\"a\\u0000\":1,\"a\":2}}", ["{\"return\": {}, \"id\": {\"a\": 2, \"a\\u0000\": 1}}"]],
  ["{\"execute\":\"guest-ping\",\"id\":{\"\u00c3\u00a9\":1,\"e\":2}}", ["{\"return\": {}, \"id\": {\"\\u00E9\": 1, \"e\": 2}}"]],
  ["{\"execute\":\"guest-ping\",\"id\": \t\r\n 7 \n}", ["{\"return\": {}, \"id\": 7}"]],
  ["42\n", ["{\"error\": {\"class\": \"GenericError\", \"desc\": \"QMP input must be a JSON object\"}}"]],
  ["\"s\"", ["{\"error\": {\"class\": \"GenericError\", \"desc\": \"QMP input must be a JSON object\"}}"]],
  ["null ", ["{\"error\": {\"class\": \"GenericError\", \"desc\": \"QMP input must be a JSON object\"}}"]],
  ["true ", ["{\"error\": {\"class\": \"GenericError\", \"desc\": \"QMP input must be a JSON object\"}}"]],
  ["false ", ["{\"error\": {\"class\": \"GenericError\", \"desc\": \"QMP input must be a JSON object\"}}"]],
  ["[1,2]", ["{\"error\": {\"class\": \"GenericError\", \"desc\": \"QMP input must be a JSON object\"}}"]],
  ["0e5 ", ["{\"error\": {\"class\": \"GenericError\", \"desc\": \"QMP input must be a JSON object\"}}", "{\"error\": {\"class\": \"GenericError\", \"desc\": \"JSON parse error, invalid keyword 'e'\"}}", "{\"error\": {\"class\": \"GenericError\", \"desc\": \"QMP input must be a JSON object\"}}"]],
  ["-0 ", ["{\"error\": {\"class\": \"GenericError\", \"desc\": \"QMP input must be a JSON object\"}}"]],
  ["{}", ["{\"error\": {\"class\": \"GenericError\", \"desc\": \"QMP input lacks member 'execute'\"}}"]],
  ["{\"execute\":\"guest-ping\"}{\"execute\":\"guest-ping\",\"id\":2}", ["{\"return\": {}}", "{\"return\": {}, \"id\": 2}"]],
  ["{'execute':'guest-ping'}", ["{\"return\": {}}"]],
  ["{\n  \"execute\": \"guest-ping\"\r\n}", ["{\"return\": {}}"]],
  ["  \n\n\t\r\n", []],
  ["{\"execute\":\"guest-ping\"} xyz\n", ["{\"return\": {}}", "{\"error\": {\"class\": \"GenericError\", \"desc\": \"JSON parse error, invalid keyword 'xyz'\"}}"]],
];

describe('oracle table (qemu-ga 7.2 responses)', () => {
  for (const [input, expected] of ORACLE) {
    test(JSON.stringify(input.length > 60 ? input.slice(0, 60) + '...' : input), () => {
      assert.deepEqual(run(input).map(wire), expected);
      // the same events whatever the chunking
      assert.deepEqual(run(input, 1).map(wire), expected, 'byte at a time');
      assert.deepEqual(run(input, 3).map(wire), expected, 'three bytes at a time');
    });
  }
});

const PING = '{"execute":"guest-ping"}';
const E = (desc: string): Ev => ({ e: desc });
const EXPECTING = E('JSON parse error, expecting value');

describe('values', () => {
  const value = (text: string): JsonValue => {
    const evs = run(text + ' ');
    assert.equal(evs.length, 1, text);
    assert.ok('m' in evs[0], text);
    return evs[0].m;
  };
  test('integers are bigint when they fit int64 or uint64', () => {
    assert.equal(value('0'), 0n);
    assert.equal(value('-0'), 0n);
    assert.equal(value('42'), 42n);
    assert.equal(value('-17'), -17n);
    assert.equal(value('9223372036854775807'), 9223372036854775807n);
    assert.equal(value('-9223372036854775808'), -9223372036854775808n);
    assert.equal(value('9223372036854775808'), 9223372036854775808n);
    assert.equal(value('18446744073709551615'), 18446744073709551615n);
    assert.equal(value('999999999999999'), 999999999999999n);
    assert.equal(value('-0000'.slice(0, 2)), 0n);
    assert.equal(value('1' + '0'.repeat(20)), 1e20);
    assert.equal(value('-' + '1'.repeat(25)), -1111111111111111111111111);
    assert.equal(value('-99999999999999'), -99999999999999n);
  });
  test('other integers, and any fraction or exponent, are doubles', () => {
    assert.equal(value('18446744073709551616'), 18446744073709551616);
    assert.equal(value('-9223372036854775809'), -9223372036854775809);
    assert.equal(value('1.5e3'), 1500);
    assert.equal(value('1.0'), 1);
    assert.equal(value('1E2'), 100);
    assert.equal(value('0.1'), 0.1);
    assert.equal(value('1e400'), Infinity);
    assert.equal(value('-1e400'), -Infinity);
    assert.ok(Object.is(value('-0.0'), -0));
    assert.equal(value('1e-400'), 0);
    assert.equal(typeof value('1.0'), 'number');
  });
  test('keywords', () => {
    assert.equal(value('true'), true);
    assert.equal(value('false'), false);
    assert.equal(value('null'), null);
  });
  test('strings: escapes, single quotes, U+0000, surrogate pairs, raw UTF-8', () => {
    assert.equal(value('"a\\"b\\\\c\\/d\\b\\f\\n\\r\\t\\\'"'), 'a"b\\c/d\b\f\n\r\t\'');
    assert.equal(value("'say \"hi\"'"), 'say "hi"');
    assert.equal(value("'it\\'s'"), "it's");
    assert.equal(value('"\\u0000"'), '\u0000');
    assert.equal(value('"\xc0\x80"'), '\u0000'); // modified UTF-8 NUL
    assert.equal(value('"x\xc0\x80y\xc3\xa9"'), 'x\u0000y\u00e9');
    assert.equal(value('"\\u00E9\\u00e9"'), '\u00e9\u00e9');
    assert.equal(value('"\\ud83d\\ude00"'), '\u{1F600}');
    assert.equal(value('"\xf0\x9f\x98\x80"'), '\u{1F600}');
    assert.equal(value('"\xe2\x82\xac\\n\xe2\x82\xac"'), '\u20ac\n\u20ac');
    assert.equal(value('"\\uDBFF\\uDFFD"'), '\u{10FFFD}');
    assert.equal(value('""'), '');
    assert.equal(value('"\\n\xc3\xa9\\t\xf0\x9f\x98\x80\xc0\x80"'), '\n\u00e9\t\u{1F600}\u0000');
  });
  test('within one string the first error in byte order wins (live)', () => {
    const err = (text: string): Ev[] => run(text);
    assert.deepEqual(err('"\xc0\xaf\\q"'), [E('JSON parse error, invalid UTF-8 sequence in string')]);
    assert.deepEqual(err('"\\q\xc0\xaf"'), [E('JSON parse error, invalid escape sequence in string')]);
    assert.deepEqual(err('"\\n\xc0\xaf"'), [E('JSON parse error, invalid UTF-8 sequence in string')]);
    assert.deepEqual(err('"\\ud800\xc0\xaf"'), [E('JSON parse error, \\ud800 is not a valid Unicode character')]);
    assert.deepEqual(err('"\xc3\\u00e9"'), [E('JSON parse error, invalid UTF-8 sequence in string')]);
    assert.deepEqual(err('["\\q", "\\ud800"]'), [E('JSON parse error, invalid escape sequence in string')]);
  });
  test('objects are Maps in arrival order; arrays are arrays', () => {
    const v = value('{"x":1,"a":[2,{"b":null}],"zz":"s","return":4}');
    assert.ok(v instanceof Map);
    assert.deepEqual([...(v as Map<string, JsonValue>).keys()], ['x', 'a', 'zz', 'return']);
    assert.deepEqual((v as Map<string, JsonValue>).get('a'), [2n, new Map([['b', null]])]);
    assert.deepEqual(value('[]'), []);
    assert.deepEqual(value('{}'), new Map());
    assert.deepEqual(value('{"a\\u0000":1,"a":2}'), new Map<string, JsonValue>([['a\u0000', 1n], ['a', 2n]]));
  });
});

describe('streaming', () => {
  test('a top-level number or keyword completes only when the next byte arrives', () => {
    const evs: Ev[] = [];
    const s = new JsonStreamer({ message: (m) => evs.push({ m }), error: (e) => evs.push({ e }) });
    s.feed(bytes('123'));
    assert.deepEqual(evs, []);
    s.feed(bytes('\n'));
    assert.deepEqual(evs, [{ m: 123n }]);
    s.feed(bytes('tru'));
    s.feed(bytes('e'));
    assert.equal(evs.length, 1);
    s.feed(bytes('"s"'));
    assert.deepEqual(evs, [{ m: 123n }, { m: true }, { m: 's' }]);
  });
  test('a top-level string or container completes at its last byte', () => {
    assert.deepEqual(run('"abc"'), [{ m: 'abc' }]);
    assert.deepEqual(run('[1]'), [{ m: [1n] }]);
    assert.deepEqual(run(PING).map(wire), ['{"return": {}}']);
  });
  test('state persists across feeds (a request split anywhere)', () => {
    const text = '{"execute":"guest-ping","id":["\xc3\xa9\\u00e9",1.5e3,-0,"\xf0\x9f\x98\x80"]}';
    const whole = run(text);
    for (let cut = 0; cut <= text.length; cut++) {
      const evs: Ev[] = [];
      const s = new JsonStreamer({ message: (m) => evs.push({ m }), error: (e) => evs.push({ e }) });
      s.feed(bytes(text.slice(0, cut)));
      s.feed(bytes(text.slice(cut)));
      assert.deepEqual(evs, whole, `cut at ${cut}`);
    }
    assert.equal(wire(whole[0]), '{"return": {}, "id": ["\\u00E9\\u00E9", 1500, 0, "\\uD83D\\uDE00"]}');
  });
  test('a partial request swallows the next one until 0xFF (state is never reset)', () => {
    const evs: Ev[] = [];
    const s = new JsonStreamer({ message: (m) => evs.push({ m }), error: (e) => evs.push({ e }) });
    s.feed(bytes('{"execute":"guest-ping"'));
    s.feed(bytes(PING + '\n'));
    assert.deepEqual(evs, []);
    s.feed(bytes('\xff' + PING));
    assert.deepEqual(evs.map(wire), [
      '{"error": {"class": "GenericError", "desc": "JSON parse error, stray \'\\uFFFD\'"}}',
      '{"return": {}}',
    ]);
  });
  test('connection A sends half a request, connection B the rest', () => {
    assert.deepEqual(run('{"execute":' + '"guest-ping"}').map(wire), ['{"return": {}}']);
  });
  test('a grammar error is reported once, when the message completes', () => {
    const evs: Ev[] = [];
    const s = new JsonStreamer({ message: (m) => evs.push({ m }), error: (e) => evs.push({ e }) });
    s.feed(bytes('{"a" 1, "b" 2, [{'));
    assert.deepEqual(evs, []);
    s.feed(bytes('}] }'));
    assert.deepEqual(evs, [E('JSON parse error, missing : in object pair')]);
  });
  test('a lexical error before completion discards a pending grammar error', () => {
    assert.deepEqual(run('{"a" 1 X}'), [E("JSON parse error, stray 'X'"), EXPECTING]);
    assert.deepEqual(run('{"a":1,"a":2 \xff' + PING).map(wire), [
      '{"error": {"class": "GenericError", "desc": "JSON parse error, stray \'\\uFFFD\'"}}',
      '{"return": {}}',
    ]);
  });
  test('every 0xFF or 0xFE gives exactly one error, wherever it comes', () => {
    const stray = E("JSON parse error, stray '\ufffd'");
    assert.deepEqual(run('\xff'), [stray]);
    assert.deepEqual(run('\xff\xfe\xff'), [stray, stray, stray]);
    assert.deepEqual(run('X\xff'), [E("JSON parse error, stray 'X'"), stray]);
    assert.deepEqual(run('"abc\xff'), [E('JSON parse error, stray \'"abc\ufffd\'')]);
    assert.deepEqual(run('"abc\\\xff'), [E('JSON parse error, stray \'"abc\\\ufffd\'')]);
    assert.deepEqual(run('-\xff'), [E("JSON parse error, stray '-\ufffd'")]);
    assert.deepEqual(run('12\xff'), [{ m: 12n }, stray]);
    assert.deepEqual(run('tru\xff'), [E("JSON parse error, invalid keyword 'tru'"), stray]);
  });
  test('recovery skips to a structural character, a control byte but TAB, 0xFE or 0xFF', () => {
    assert.deepEqual(run('X"]}'), [E("JSON parse error, stray 'X'"), EXPECTING, EXPECTING]);
    assert.deepEqual(run('X \t"abc[1]'), [E("JSON parse error, stray 'X'"), { m: [1n] }]);
    assert.deepEqual(run('X abc\r5 '), [E("JSON parse error, stray 'X'"), { m: 5n }]);
    assert.deepEqual(run('X\x00'), [E("JSON parse error, stray 'X'"), E("JSON parse error, stray ''")]);
  });
  test('a raw LF or TAB inside a string is a stray error that includes it', () => {
    assert.deepEqual(run('"a\nb"'), [E('JSON parse error, stray \'"a\n\'')]);
    assert.deepEqual(run('"a\tb"'), [E('JSON parse error, stray \'"a\t\'')]);
    assert.deepEqual(run('"a\n').map(wire), ['{"error": {"class": "GenericError", "desc": "JSON parse error, stray \'\\"a\\n\'"}}']);
  });
  test('messages complete when a count goes negative', () => {
    assert.deepEqual(run('[}'), [EXPECTING]);
    assert.deepEqual(run('{]'), [EXPECTING]);
    assert.deepEqual(run('{"a":[}]}'), [EXPECTING, EXPECTING]);
    assert.deepEqual(run('[[]]]'), [{ m: [[]] }, EXPECTING]);
  });
  test('accepts non-Buffer Uint8Arrays, and chunks may be reused after feed returns', () => {
    const evs: Ev[] = [];
    const s = new JsonStreamer({ message: (m) => evs.push({ m }), error: (e) => evs.push({ e }) });
    const text = bytes('{"execute":"guest-ping","id":"0123456789abcdef\xc3\xa9"}');
    const chunk = new Uint8Array(7);
    for (let i = 0; i < text.length; i += 7) {
      const part = text.subarray(i, i + 7);
      chunk.set(part);
      s.feed(chunk.subarray(0, part.length));
      chunk.fill(0x58); // scribble over the caller's buffer
    }
    assert.deepEqual(evs.map(wire), ['{"return": {}, "id": "0123456789abcdef\\u00E9"}']);
  });
  test('feed() from inside a sink callback is refused', () => {
    const s: JsonStreamer = new JsonStreamer({ message: () => s.feed(bytes('1')), error: () => {} });
    assert.throws(() => s.feed(bytes('[]')), /sink callback/);
  });
});

describe('limits', () => {
  const NESTING = E('JSON nesting depth limit exceeded');
  const SIZE = E('JSON token size limit exceeded');
  const COUNT = E('JSON token count limit exceeded');
  const count = (evs: Ev[], ev: Ev): number => evs.filter((x) => JSON.stringify(x, (_k, v) => (typeof v === 'bigint' ? `${v}n` : v)) === JSON.stringify(ev)).length;

  test('depth 1024 is accepted, 1025 is not (then each ] is its own message)', () => {
    const ok = run('['.repeat(1024) + ']'.repeat(1024));
    assert.equal(ok.length, 1);
    assert.ok('m' in ok[0]);
    const bad = run('['.repeat(1025) + ']'.repeat(1025));
    assert.deepEqual(bad[0], NESTING);
    assert.equal(bad.length, 1026);
    assert.equal(count(bad, EXPECTING), 1025);
  });
  test('objects 1025 deep: the rest of the message is lexed as new input', () => {
    const evs = run('{"a":'.repeat(1025) + '1' + '}'.repeat(1025));
    assert.deepEqual(evs.slice(0, 3), [NESTING, { m: 'a' }, EXPECTING]);
    assert.deepEqual(evs[3], { m: 1n });
    assert.equal(evs.length, 1 + 2 + 1026);
    assert.equal(count(evs, EXPECTING), 1026);
  });
  test('reference probe deep-nesting-2000', () => {
    const evs = run('{"execute":"guest-ping","arguments":{"a":' + '['.repeat(2000) + ']'.repeat(2000) + '}}\n');
    assert.deepEqual(evs[0], NESTING);
    assert.ok('m' in evs[1] && Array.isArray(evs[1].m));
    assert.equal(evs.length, 2 + 1025);
    assert.equal(count(evs, EXPECTING), 1025);
  });
  test('reference probe many-tokens: 2 Mi tokens per message', () => {
    const text = '{"execute":"guest-ping","arguments":{"a":[' + '0,'.repeat(1048600) + '0]}}\n';
    const evs = run(text, 65536);
    const expected: Ev[] = [COUNT];
    for (let i = 0; i < 30; i++) expected.push({ m: 0n }, EXPECTING);
    expected.push(EXPECTING, EXPECTING);
    assert.deepEqual(evs, expected);
  });
  test('token count boundary: 2097152 tokens pass, 2097153 do not', () => {
    // [ + n elements + (n - 1) commas + ] = 2n + 1 tokens
    const ok = run('[' + '0,'.repeat(1048574) + '0]', 65536); // 2097151 tokens
    assert.equal(ok.length, 1);
    assert.ok('m' in ok[0] && Array.isArray(ok[0].m) && ok[0].m.length === 1048575);
    const ok2 = run('[' + '0,'.repeat(1048575) + ']', 65536); // 2097152 tokens, then a grammar error
    assert.deepEqual(ok2, [EXPECTING]);
    const bad = run('[' + '0,'.repeat(1048575) + '0]', 65536); // 2097153 tokens: the ] is one too many
    assert.deepEqual(bad, [COUNT]);
  });

  const M = MAX_TOKEN_SIZE;
  const SYNC = '{"execute":"guest-sync","arguments":{"id":"';
  const big = (parts: (string | [number, number])[]): Buffer => {
    const bufs = parts.map((p) => (typeof p === 'string' ? bytes(p) : Buffer.alloc(p[1], p[0])));
    return Buffer.concat(bufs);
  };
  test('total token size: 64 MiB - 47 bytes of id string pass, - 46 do not', () => {
    const ok = run(big([SYNC, [0x41, M - 47], '"}}']), 1 << 20);
    assert.equal(ok.length, 1);
    assert.ok('m' in ok[0]);
    const s = ((ok[0].m as Map<string, JsonValue>).get('arguments') as Map<string, JsonValue>).get('id') as string;
    assert.equal(s.length, M - 47);
    assert.deepEqual(run(big([SYNC, [0x41, M - 46], '"}}']), 1 << 20), [SIZE]);
  });
  test('single tokens at the 64 MiB boundary', () => {
    assert.deepEqual(run(big(['"', [0x61, M - 3], '"']), 1 << 20).map((e) => ('m' in e ? 'msg' : e.e)), ['msg']);
    assert.deepEqual(run(big(['"', [0x61, M - 2], '"']), 1 << 20), [SIZE]);
    // the token grows past 64 MiB inside the string: lexing restarts after that byte
    assert.deepEqual(run(big(['"', [0x61, M], 'bc"]']), 1 << 20), [SIZE, E("JSON parse error, invalid keyword 'bc'")]);
    assert.deepEqual(run(big([[0x31, M + 3], ' ']), 1 << 20), [SIZE, { m: 11n }]);
    const long = run(big([[0x31, M - 1], ' ']), 1 << 20); // 64 MiB - 1 digits: a double
    assert.equal(long.length, 1);
    assert.ok('m' in long[0] && long[0].m === Infinity);
    assert.deepEqual(run(big([[0x61, M + 3], ' ']), 1 << 20), [SIZE, E("JSON parse error, invalid keyword 'aa'")]);
    assert.deepEqual(run(big(['"', [0x61, M - 1], '\\"aa]']), 1 << 20), [SIZE]);
    assert.deepEqual(run(big(['"', [0x61, M - 2], '\\"aa]']), 1 << 20), [SIZE, E("JSON parse error, invalid keyword 'aa'"), EXPECTING]);
  });
  test('reference probe huge-string-65mib', () => {
    const evs = run(big([SYNC, [0x41, 65 << 20], '"}}\n']), 4096);
    assert.deepEqual(evs, [SIZE, E("JSON parse error, stray 'A'"), EXPECTING, EXPECTING]);
  });
});

describe('performance', () => {
  test('100k pipelined guest-ping requests', () => {
    const N = 100000;
    const all = Buffer.concat(Array(N).fill(bytes(PING + '\n')));
    let n = 0;
    const s = new JsonStreamer({ message: () => { n++; }, error: () => assert.fail('unexpected error') });
    const t0 = process.hrtime.bigint();
    for (let i = 0; i < all.length; i += 4096) s.feed(all.subarray(i, i + 4096));
    const ms = Number(process.hrtime.bigint() - t0) / 1e6;
    assert.equal(n, N);
    console.log(`# 100k pings parsed in ${ms.toFixed(1)} ms (${Math.round((N / ms) * 1000)} req/s)`);
    assert.ok(ms < 1000, `too slow: ${ms} ms`);
  });
  test('a 60 MiB string streamed in 64 KiB chunks', () => {
    const L = 60 << 20;
    const msg = Buffer.concat([bytes('{"execute":"guest-file-write","arguments":{"handle":1,"buf-b64":"'), Buffer.alloc(L, 0x51), bytes('"}}')]);
    let got: JsonValue = null;
    const s = new JsonStreamer({ message: (m) => { got = m; }, error: (e) => assert.fail(e) });
    const t0 = process.hrtime.bigint();
    for (let i = 0; i < msg.length; i += 65536) s.feed(msg.subarray(i, i + 65536));
    const ms = Number(process.hrtime.bigint() - t0) / 1e6;
    const str = (((got as unknown as Map<string, JsonValue>).get('arguments') as Map<string, JsonValue>).get('buf-b64')) as string;
    assert.equal(str.length, L);
    assert.equal(str.charCodeAt(0), 0x51);
    assert.equal(str.charCodeAt(L - 1), 0x51);
    console.log(`# 60 MiB string in ${ms.toFixed(0)} ms (${Math.round(((msg.length / 1048576) / ms) * 1000)} MiB/s)`);
    assert.ok(ms < 3000, `too slow: ${ms} ms`);
  });
});
