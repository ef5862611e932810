// The client's pure parts: the answer framer, line parsing, schema-driven conversion, output
// formatting, and the generated typed surface.

import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { ReplyFramer, parseLine } from '../../src/client/framing.ts';
import { argsToWire, fromWire, plain, replyFromWire, expectsReply } from '../../src/client/convert.ts';
import { formatJson, formatNanos, formatSize, formatTable, parseSize } from '../../src/client/format.ts';
import { commandShapes, QgaCommands } from '../../src/generated/qapi-client.ts';
import { commandTable } from '../../src/generated/qapi-commands.ts';
import { toJson } from '../../src/json/serialize.ts';
import { loadSchemaText } from '../../tools/qapi/schema.ts';
import { LINUX_TARGET, clientMethodName, generate } from '../../tools/qapi/gen.ts';
import type { JsonValue } from '../../src/json/value.ts';

function frame(chunks: (string | Buffer)[], skipFirst = false): [string, boolean][] {
  const out: [string, boolean][] = [];
  const f = new ReplyFramer({ line: (l, d) => void out.push([l.toString('latin1'), d]), overflow: () => void out.push(['<overflow>', false]) }, 64);
  if (skipFirst) f.skipToDelimiter();
  for (const c of chunks) f.feed(typeof c === 'string' ? Buffer.from(c, 'latin1') : c);
  return out;
}

function parse(text: string): JsonValue {
  const p = parseLine(Buffer.from(text));
  if (!p.ok) throw new Error(p.error);
  return p.value;
}

describe('client framer', () => {
  it('splits lines and marks the one after a 0xFF', () => {
    assert.deepEqual(frame(['a\nb\n\xffc\nd']), [
      ['a', false],
      ['b', false],
      ['c', true],
    ]);
  });

  it('drops a fragment cut short by a 0xFF', () => {
    assert.deepEqual(frame(['{"ret', '\xff{"return": 1}\n']), [['{"return": 1}', true]]);
  });

  it('skipping discards everything up to the next 0xFF, across chunks', () => {
    assert.deepEqual(frame(['stale\nmore', ' stale\n', 'x\xff', '{"return": 5}', '\nnext\n'], true), [
      ['{"return": 5}', true],
      ['next', false],
    ]);
  });

  it('gives the same lines however the bytes are split', () => {
    const text = 'junk\n\xff{"return": 1}\n{"return": {}, "id": 2}\nab\xffcd\n';
    const whole = frame([text]);
    for (let i = 0; i <= text.length; i++) {
      for (let j = i; j <= text.length; j += 3) assert.deepEqual(frame([text.slice(0, i), text.slice(i, j), text.slice(j)]), whole, `${i},${j}`);
    }
    assert.deepEqual(frame(text.split('')), whole);
  });

  it('reports a line longer than the limit and drops it up to its newline', () => {
    assert.deepEqual(frame(['x'.repeat(40), 'y'.repeat(40), 'z\nok\n']), [
      ['<overflow>', false],
      ['ok', false],
    ]);
  });
});

describe('client line parser', () => {
  it('parses exactly: bigints, Maps in order, doubles', () => {
    const v = parse('{"return": 18446744073709551615, "id": 9223372036854775807, "d": 1.5, "z": -0}');
    assert.ok(v instanceof Map);
    assert.deepEqual([...v.keys()], ['return', 'id', 'd', 'z']);
    assert.equal(v.get('return'), 18446744073709551615n);
    assert.equal(v.get('id'), 9223372036854775807n);
    assert.equal(v.get('d'), 1.5);
    assert.equal(v.get('z'), 0n);
  });

  it('a scalar line is one value', () => {
    assert.equal(parse('42'), 42n);
  });

  it('rejects garbage, two values, and nothing', () => {
    assert.equal(parseLine(Buffer.from('{"a": 1}{"b": 2}')).ok, false);
    assert.equal(parseLine(Buffer.from('')).ok, false);
    const bad = parseLine(Buffer.from('{"a": tru}'));
    assert.deepEqual(bad, { ok: false, error: "JSON parse error, invalid keyword 'tru'" });
  });
});

describe('client conversion', () => {
  it('replies: 64-bit integers stay bigint, number members become numbers, schema member order', () => {
    const raw = parse('{"eof": true, "buf-b64": "", "count": 0}');
    assert.deepEqual(replyFromWire('guest-file-read', raw), { count: 0n, 'buf-b64': '', eof: true });
    assert.deepEqual(Object.keys(replyFromWire('guest-file-read', raw) as object), ['count', 'buf-b64', 'eof']);
    assert.equal(replyFromWire('guest-get-time', parse('1795599553948000123')), 1795599553948000123n);
    assert.deepEqual(replyFromWire('guest-get-load', parse('{"load1m": 0, "load5m": 1, "load15m": 0.25}')), { load1m: 0, load5m: 1, load15m: 0.25 });
    assert.equal(replyFromWire('guest-ping', parse('{}')), undefined);
    assert.equal(replyFromWire('guest-fsfreeze-status', parse('"frozen"')), 'frozen');
  });

  it('replies: 32-bit and smaller integer types become numbers', () => {
    assert.equal(fromWire('uint16', 65535n, 'x'), 65535);
    assert.equal(fromWire('int32', -5n, 'x'), -5);
    assert.equal(fromWire('uint64', 18446744073709551615n, 'x'), 18446744073709551615n);
  });

  it('replies: unions by discriminator, nested lists, optional members', () => {
    const raw = parse(
      '[{"name": "nvme0n1", "partition": false, "smart": {"type": "nvme", "critical-warning": 0, "temperature": 300, "available-spare": 100, ' +
        '"available-spare-threshold": 10, "percentage-used": 1' +
        ['data-units-read', 'data-units-written', 'host-read-commands', 'host-write-commands', 'controller-busy-time', 'power-cycles', 'power-on-hours', 'unsafe-shutdowns', 'media-errors', 'number-of-error-log-entries']
          .map((k) => `, "${k}-lo": 1, "${k}-hi": 0`)
          .join('') +
        '}}]',
    );
    const disks = replyFromWire('guest-get-disks', raw) as { smart: Record<string, unknown> }[];
    assert.equal(disks[0]!.smart.type, 'nvme');
    assert.equal(disks[0]!.smart.temperature, 300n);
    assert.equal(disks[0]!.smart['media-errors-lo'], 1n);
  });

  it('replies: wrong types and missing members name the path', () => {
    assert.throws(() => replyFromWire('guest-get-vcpus', parse('[{"logical-id": "0", "online": true}]')), {
      name: 'QgaProtocolError',
      message: "guest-get-vcpus: the agent's answer has a string at 'return[0].logical-id', expected an integer",
    });
    assert.throws(() => replyFromWire('guest-get-vcpus', parse('[{"logical-id": 0}]')), {
      message: "guest-get-vcpus: the agent's answer lacks 'return[0].online'",
    });
    assert.throws(() => replyFromWire('guest-get-time', parse('1.5')), /has the number 1.5 at 'return', expected an integer/);
  });

  it('replies: unknown members and unknown commands pass through, keeping bigints', () => {
    assert.deepEqual(replyFromWire('guest-get-host-name', parse('{"host-name": "vm", "new": [1]}')), { 'host-name': 'vm', new: [1n] });
    assert.deepEqual(replyFromWire('guest-future', parse('{"a": {"b": 1}}')), { a: { b: 1n } });
    const o = plain(parse('{"__proto__": {"x": 1}}')) as Record<string, unknown>;
    assert.ok(Object.prototype.hasOwnProperty.call(o, '__proto__'));
    assert.equal(({} as Record<string, unknown>).x, undefined);
  });

  it('arguments: numbers become bigints where the schema says integer, nested and in alternates', () => {
    const w = argsToWire('guest-set-vcpus', { vcpus: [{ 'logical-id': 1, online: false }] });
    assert.equal(toJson(w!), '{"vcpus": [{"online": false, "logical-id": 1}]}');
    assert.deepEqual(argsToWire('guest-file-seek', { handle: 7, offset: -1, whence: 2 }), { handle: 7n, offset: -1n, whence: 2n });
    assert.deepEqual(argsToWire('guest-file-seek', { handle: 7n, offset: 0, whence: 'end' }), { handle: 7n, offset: 0n, whence: 'end' });
    assert.deepEqual(argsToWire('guest-exec', { path: 'ls', 'capture-output': true, env: undefined }), { path: 'ls', 'capture-output': true });
    assert.equal(toJson(argsToWire('guest-sync', { id: 2n ** 63n - 1n })!), '{"id": 9223372036854775807}');
    assert.throws(() => argsToWire('guest-file-read', { handle: 1, count: 0.5 }), TypeError);
    assert.deepEqual(argsToWire('guest-unknown', { a: 1 }), { a: 1 });
  });

  it('knows which commands answer nothing on success', () => {
    const silent = Object.entries(commandShapes).filter(([, s]) => !s.successResponse).map(([n]) => n);
    assert.deepEqual(silent, ['guest-shutdown', 'guest-suspend-disk', 'guest-suspend-ram', 'guest-suspend-hybrid']);
    assert.equal(expectsReply('guest-shutdown'), false);
    assert.equal(expectsReply('guest-anything-else'), true);
  });
});

describe('generated client surface', () => {
  it('has one typed method per command of the schema', () => {
    const methods = Object.getOwnPropertyNames(QgaCommands.prototype).filter((m) => m !== 'constructor');
    assert.equal(methods.length, commandTable.size);
    assert.deepEqual(Object.keys(commandShapes), [...commandTable.keys()]);
    for (const name of commandTable.keys()) {
      // Downstream names (__io.qga-ts_x-y) drop the prefix's punctuation: ioQgaTsXY.
      const method = name.startsWith('__') ? clientMethodName(name) : name.replace(/-([a-z])/g, (_, c: string) => c.toUpperCase());
      assert.ok(methods.includes(method), method);
      assert.equal(commandShapes[name as keyof typeof commandShapes].successResponse, commandTable.get(name)!.successResponse);
    }
    assert.ok(methods.includes('ioQgaTsGuestExecOutput'));
  });

  it('methods pass command, args and options to invoke', async () => {
    const seen: unknown[] = [];
    class Recorder extends QgaCommands<{ t: number }> {
      protected override async invoke(command: string, args: object | undefined, options: { t: number } | undefined): Promise<unknown> {
        seen.push([command, args, options]);
        return 1n;
      }
    }
    const r = new Recorder();
    assert.equal(await r.guestFileOpen({ path: '/x' }, { t: 1 }), 1n);
    await r.guestPing();
    assert.deepEqual(seen, [
      ['guest-file-open', { path: '/x' }, { t: 1 }],
      ['guest-ping', undefined, undefined],
    ]);
  });
});

describe('generator: qapi-client.ts', () => {
  const schema = loadSchemaText(
    [
      "{ 'enum': 'K', 'data': [ 'a', 'b' ] }",
      "{ 'struct': 'Base', 'data': { 'n': 'int32', 'u': 'uint64' } }",
      "{ 'struct': 'A', 'base': 'Base', 'data': { 'x': 'number', '*s': 'size' } }",
      "{ 'union': 'U', 'base': { 'kind': 'K' }, 'discriminator': 'kind', 'data': { 'a': 'A' } }",
      "{ 'alternate': 'Alt', 'data': { 'i': 'int', 'k': 'K' } }",
      "{ 'command': 'x-get', 'data': { 'h': 'int', '*w': 'Alt' }, 'returns': ['U'] }",
      "{ 'command': 'x-opt', 'data': { '*m': 'str' }, 'success-response': false }",
      "{ 'command': 'x-none', 'returns': 'A' }",
    ].join('\n'),
    't.json',
  );
  const text = generate(schema, LINUX_TARGET, 't.json').files.find((f) => f.name === 'qapi-client.ts')!.text;

  it('reply types: 64-bit integers bigint, smaller ones number, number members number', () => {
    assert.match(text, /export type A = \{\n {2}n: number;\n {2}u: bigint;\n {2}x: number;\n {2}s\?: bigint;\n\};/);
    assert.match(text, /export type U =\n {2}\| \(\{ kind: 'a' \} & A\)\n {2}\| \(\{ kind: 'b' \}\);/);
    assert.match(text, /export type K = T\.K;/);
  });

  it('argument types take number | bigint; alternates use the qapi-types form', () => {
    assert.match(text, /export type XGetArgs = \{\n {2}h: number \| bigint;\n {2}w\?: T\.Alt;\n\};/);
  });

  it('methods: required, optional and absent arguments; void for no return value', () => {
    assert.match(text, /  xGet\(args: XGetArgs, options\?: O\): Promise<U\[\]> \{\n {4}return this\.invoke\('x-get', args, options\) as Promise<U\[\]>;/);
    assert.match(text, /  xOpt\(args\?: XOptArgs, options\?: O\): Promise<void> \{/);
    assert.match(text, /  xNone\(options\?: O\): Promise<A> \{\n {4}return this\.invoke\('x-none', undefined, options\)/);
    assert.match(text, /'x-opt': \{ args: \[\['m', 'str', true\]\], returns: null, successResponse: false \}/);
    assert.match(text, /U: \{ kind: 'union', members: \[\['kind', 'K', false\]\], discriminator: 'kind', branches: \{ a: 'A' \} \}/);
    assert.equal(clientMethodName('guest-get-fsinfo'), 'guestGetFsinfo');
    assert.equal(clientMethodName('guest_x.y'), 'guestXY');
  });
});

describe('client output formatting', () => {
  it('JSON keeps bigints exact and member order', () => {
    const v = parse('{"z": 18446744073709551615, "a": [1.5, "é\\u0001", null, true], "m": {}}');
    assert.equal(formatJson(v, 0), '{"z":18446744073709551615,"a":[1.5,"é\\u0001",null,true],"m":{}}');
    assert.equal(formatJson({ a: 1n, b: undefined, c: [] }), '{\n  "a": 1,\n  "c": []\n}');
    assert.deepEqual(JSON.parse(formatJson(v)), { z: 18446744073709552000, a: [1.5, 'é\u0001', null, true], m: {} });
  });

  it('tables, sizes, times', () => {
    assert.equal(formatTable(['A', 'BB'], [['xxx', 'y'], ['', 'zz']]), 'A    BB\nxxx  y\n     zz');
    assert.equal(formatSize(512), '512 B');
    assert.equal(formatSize(1536), '1.5 KiB');
    assert.equal(formatSize(2n ** 40n), '1.0 TiB');
    assert.equal(parseSize('1M'), 1048576);
    assert.equal(parseSize('64KiB'), 65536);
    assert.equal(parseSize('100'), 100);
    assert.equal(parseSize('x'), null);
    assert.equal(formatNanos(1795599553948000123n), '2026-11-25T09:39:13.948000123Z');
    assert.equal(formatNanos(-1n), '1969-12-31T23:59:59.999999999Z');
  });
});
