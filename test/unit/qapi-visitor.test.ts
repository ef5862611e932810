// The generated argument visitors + src/protocol/input-visitor.ts: qemu-ga's argument
// validation texts (docs/protocol.md §Argument errors).  Every expected text below was produced by Debian's
// qemu-ga 7.2 for the same arguments, except where marked "10.2" (capture-output became an
// alternate in 8.0) and the unit-level checks of the runtime visitor at the end.
import { strict as assert } from 'node:assert';
import { describe, it } from 'node:test';
import { commandTable } from '../../src/generated/qapi-commands.ts';
import { GHashTableReplay, InputVisitor, gStrHash, qtypeOf } from '../../src/protocol/input-visitor.ts';
import { QgaError } from '../../src/protocol/errors.ts';
import type { JsonObject, JsonValue } from '../../src/json/value.ts';

/** Plain test data → the agent's value model: objects become Maps; bigint = JSON integer, number = JSON double. */
type Plain = null | boolean | number | bigint | string | Plain[] | { [k: string]: Plain };
function v(x: Plain): JsonValue {
  if (Array.isArray(x)) return x.map(v);
  if (x !== null && typeof x === 'object') return new Map(Object.entries(x).map(([k, y]) => [k, v(y)]));
  return x;
}
/** Builds a Map with keys in exactly the given order (plain objects reorder integer-like keys). */
function ordered(entries: [string, Plain][]): JsonObject {
  return new Map(entries.map(([k, y]) => [k, v(y)]));
}

function visit(command: string, args: JsonObject | Plain | undefined): unknown {
  const desc = commandTable.get(command);
  assert.ok(desc, `no command ${command}`);
  return desc.visitArgs(args === undefined || args instanceof Map ? args : (v(args) as JsonObject));
}

/** The GenericError text visiting `args` produces. */
function error(command: string, args: JsonObject | Plain | undefined): string {
  try {
    visit(command, args);
  } catch (e) {
    assert.ok(e instanceof QgaError, `expected QgaError, got ${String(e)}`);
    assert.equal(e.errorClass, 'GenericError');
    return e.desc;
  }
  assert.fail(`${command} accepted ${JSON.stringify(args, (_, x) => (typeof x === 'bigint' ? `${x}n` : x))}`);
}

const I64_MAX = 9223372036854775807n;
const I64_MIN = -9223372036854775808n;
const U64_MAX = 18446744073709551615n;

describe('argument visitor: missing members', () => {
  it('reports a missing required member by its bare name', () => {
    assert.equal(error('guest-sync', {}), "Parameter 'id' is missing");
    assert.equal(error('guest-sync', undefined), "Parameter 'id' is missing");
    assert.equal(error('guest-file-open', { mode: 'r' }), "Parameter 'path' is missing");
    assert.equal(error('guest-exec-status', {}), "Parameter 'pid' is missing");
  });

  it('visits members in schema order: the first missing one is reported', () => {
    assert.equal(error('guest-file-seek', { whence: 'bogus', zz: 1n }), "Parameter 'handle' is missing");
    assert.equal(error('guest-file-seek', { handle: 1n, whence: 'bogus' }), "Parameter 'offset' is missing");
    assert.equal(error('guest-file-seek', { handle: 1n, offset: 0n }), "Parameter 'whence' is missing");
  });

  it('uses dotted paths with list indexes inside nested structs', () => {
    assert.equal(error('guest-set-vcpus', { vcpus: [{ zz: 1n }] }), "Parameter 'vcpus[0].logical-id' is missing");
    assert.equal(error('guest-set-vcpus', { vcpus: [{ 'logical-id': 1n, zz: 1n }] }), "Parameter 'vcpus[0].online' is missing");
    assert.equal(
      error('guest-set-vcpus', { vcpus: [{ 'logical-id': 1n, online: true }, { online: true }] }),
      "Parameter 'vcpus[1].logical-id' is missing",
    );
    assert.equal(error('guest-set-memory-blocks', { 'mem-blks': [{ 'phys-index': -1n, zz: true }] }), "Parameter 'mem-blks[0].online' is missing");
  });
});

describe('argument visitor: wrong JSON types', () => {
  it('int members accept only JSON integers within int64', () => {
    for (const bad of ['x', '1', true, null, 1.0, 1e2, 1.5, [], {}] as Plain[]) {
      assert.equal(error('guest-sync', { id: bad }), "Invalid parameter type for 'id', expected: integer", String(bad));
    }
    // Integers just outside int64 (still exact bigints in the value model) are rejected too.
    assert.equal(error('guest-sync', { id: I64_MAX + 1n }), "Invalid parameter type for 'id', expected: integer");
    assert.equal(error('guest-sync', { id: U64_MAX }), "Invalid parameter type for 'id', expected: integer");
    assert.deepEqual(visit('guest-sync', { id: I64_MAX }), { id: I64_MAX });
    assert.deepEqual(visit('guest-sync', { id: I64_MIN }), { id: I64_MIN });
    assert.deepEqual(visit('guest-sync-delimited', { id: 0n }), { id: 0n });
    assert.equal(error('guest-file-seek', { handle: 1010n, offset: '0', whence: 'set' }), "Invalid parameter type for 'offset', expected: integer");
  });

  it('names the expected type: string, boolean, array, object', () => {
    assert.equal(error('guest-file-open', { path: 5n }), "Invalid parameter type for 'path', expected: string");
    assert.equal(error('guest-set-user-password', { username: 'x', password: 'eA==', crypted: 1n, zz: 1n }), "Invalid parameter type for 'crypted', expected: boolean");
    assert.equal(error('guest-exec', { path: '/bin/sh', arg: '-c' }), "Invalid parameter type for 'arg', expected: array");
    assert.equal(error('guest-exec', { path: '/bin/sh', arg: [1n] }), "Invalid parameter type for 'arg[0]', expected: string");
    assert.equal(error('guest-set-vcpus', { vcpus: {} }), "Invalid parameter type for 'vcpus', expected: array");
    assert.equal(error('guest-set-vcpus', { vcpus: [1n] }), "Invalid parameter type for 'vcpus[0]', expected: object");
    assert.equal(error('guest-set-vcpus', { vcpus: [{ 'logical-id': 1.5, online: true }] }), "Invalid parameter type for 'vcpus[0].logical-id', expected: integer");
    assert.equal(error('guest-ssh-add-authorized-keys', { username: 'x', keys: ['a', 1n] }), "Invalid parameter type for 'keys[1]', expected: string");
    assert.equal(error('guest-fsfreeze-freeze-list', { mountpoints: [null] }), "Invalid parameter type for 'mountpoints[0]', expected: string");
  });

  it('null for an optional member is a type error, not absence', () => {
    assert.equal(error('guest-shutdown', { mode: null }), "Invalid parameter type for 'mode', expected: string");
    assert.equal(error('guest-fsfreeze-freeze-list', { mountpoints: null }), "Invalid parameter type for 'mountpoints', expected: array");
    assert.equal(
      error('guest-set-vcpus', { vcpus: [{ 'logical-id': 1n, online: true, 'can-offline': null }] }),
      "Invalid parameter type for 'vcpus[0].can-offline', expected: boolean",
    );
    assert.equal(error('guest-set-time', { time: null }), "Invalid parameter type for 'time', expected: integer");
  });
});

describe('argument visitor: uint64', () => {
  const blk = (idx: Plain) => ({ 'mem-blks': [{ 'phys-index': idx, online: true }] });

  it('accepts int64 ∪ uint64; negative values wrap modulo 2^64', () => {
    assert.deepEqual(visit('guest-set-memory-blocks', blk(-1n)), { 'mem-blks': [{ 'phys-index': U64_MAX, online: true }] });
    assert.deepEqual(visit('guest-set-memory-blocks', blk(I64_MIN)), { 'mem-blks': [{ 'phys-index': 1n << 63n, online: true }] });
    assert.deepEqual(visit('guest-set-memory-blocks', blk(U64_MAX)), { 'mem-blks': [{ 'phys-index': U64_MAX, online: true }] });
    assert.deepEqual(visit('guest-set-memory-blocks', blk(7n)), { 'mem-blks': [{ 'phys-index': 7n, online: true }] });
  });

  it("rejects everything else with \"expects uint64\" and the full path", () => {
    // (Integers outside int64 ∪ uint64 arrive as doubles; the bigints are a defensive check.)
    for (const bad of [1.5, 1.0, '1', null, true, [], {}, -9223372036854775809, 18446744073709551616, I64_MIN - 1n, U64_MAX + 1n] as Plain[]) {
      assert.equal(error('guest-set-memory-blocks', blk(bad)), "Parameter 'mem-blks[0].phys-index' expects uint64", String(bad));
    }
  });
});

describe('argument visitor: unexpected members', () => {
  it('rejects members of argument-less commands', () => {
    assert.equal(error('guest-ping', { foo: 42n }), "Parameter 'foo' is unexpected");
    assert.equal(error('guest-info', { x: 1n }), "Parameter 'x' is unexpected");
  });

  it('checks unexpected members only after every declared member validated', () => {
    assert.equal(error('guest-sync', { id: 1n, x: 1n }), "Parameter 'x' is unexpected");
    assert.equal(error('guest-sync', { x: 1n, id: 'x' }), "Invalid parameter type for 'id', expected: integer");
    assert.equal(error('guest-sync', { x: 1n }), "Parameter 'id' is missing");
    assert.equal(error('guest-exec', { zz: 1n, path: '/x', arg: 'no' }), "Invalid parameter type for 'arg', expected: array");
  });

  it('checks each struct when it ends, innermost first', () => {
    assert.equal(error('guest-set-vcpus', { vcpus: [{ 'logical-id': 1n, online: true, zz: 1n }] }), "Parameter 'vcpus[0].zz' is unexpected");
    assert.equal(error('guest-set-vcpus', { vcpus: [{ 'logical-id': 1n, online: true, zz: 1n }], yy: 2n }), "Parameter 'vcpus[0].zz' is unexpected");
    // Element 0's check runs before element 1 is visited.
    assert.equal(error('guest-set-vcpus', { vcpus: [{ 'logical-id': 1n, online: true, zz: 1n }, {}] }), "Parameter 'vcpus[0].zz' is unexpected");
  });

  it('names the same one of several unexpected members as qemu-ga (GLib hash-table order)', () => {
    const keys = (names: string[], extra: [string, Plain][] = []) => ordered([...names.map((n, i): [string, Plain] => [n, BigInt(i)]), ...extra]);
    assert.equal(error('guest-ping', keys(['a', 'b', 'c', 'd', 'e', 'f', 'g', 'h', 'i', 'j'])), "Parameter 'b' is unexpected");
    assert.equal(error('guest-ping', keys(['foo', 'bar'])), "Parameter 'bar' is unexpected");
    assert.equal(error('guest-ping', keys(['bar', 'foo'])), "Parameter 'bar' is unexpected");
    assert.equal(error('guest-ping', keys(['foo', 'zz-bogus'])), "Parameter 'zz-bogus' is unexpected");
    assert.equal(error('guest-ping', keys(['é', 'ü'])), "Parameter 'ü' is unexpected");
    assert.equal(
      error('guest-sync', ordered([['x1', 1n], ['id', 5n], ['x2', 2n], ['x3', 3n], ['x4', 4n], ['x5', 5n], ['x6', 6n], ['x7', 7n]])),
      "Parameter 'x6' is unexpected",
    );
    assert.equal(
      error('guest-set-vcpus', { vcpus: [{ 'logical-id': 0n, online: true, zz: 1n, yy: 2n, xx: 3n }], aa: 1n }),
      "Parameter 'vcpus[0].yy' is unexpected",
    );
  });
});

describe('argument visitor: enums and alternates', () => {
  const seek = (whence: Plain) => ({ handle: 1n, offset: 0n, whence });

  it('GuestFileWhence: integer or QGASeek name', () => {
    assert.deepEqual(visit('guest-file-seek', seek(2n)), { handle: 1n, offset: 0n, whence: 2n });
    assert.deepEqual(visit('guest-file-seek', seek('end')), { handle: 1n, offset: 0n, whence: 'end' });
    assert.equal(error('guest-file-seek', seek('foo')), "Parameter 'whence' does not accept value 'foo'");
    assert.equal(error('guest-file-seek', seek('SET')), "Parameter 'whence' does not accept value 'SET'");
    for (const bad of [null, true, [], {}] as Plain[]) {
      assert.equal(error('guest-file-seek', seek(bad)), "Invalid parameter type for 'whence', expected: GuestFileWhence", String(bad));
    }
    // Any JSON number takes the integer branch, whose own check then fails.
    assert.equal(error('guest-file-seek', seek(1.0)), "Invalid parameter type for 'whence', expected: integer");
    assert.equal(error('guest-file-seek', seek(I64_MAX + 1n)), "Invalid parameter type for 'whence', expected: integer");
  });

  it('GuestExecCaptureOutput (10.2): boolean or GuestExecCaptureOutputMode name', () => {
    const exec = (co: Plain) => ({ path: '/bin/true', 'capture-output': co });
    assert.deepEqual(visit('guest-exec', exec(true)), { path: '/bin/true', 'capture-output': true });
    for (const mode of ['none', 'stdout', 'stderr', 'separated', 'merged']) {
      assert.deepEqual(visit('guest-exec', exec(mode)), { path: '/bin/true', 'capture-output': mode });
    }
    assert.equal(error('guest-exec', exec('bogus')), "Parameter 'capture-output' does not accept value 'bogus'");
    assert.equal(error('guest-exec', exec('true')), "Parameter 'capture-output' does not accept value 'true'");
    for (const bad of [1n, 1.5, null, [], {}] as Plain[]) {
      assert.equal(error('guest-exec', exec(bad)), "Invalid parameter type for 'capture-output', expected: GuestExecCaptureOutput", String(bad));
    }
  });
});

describe('argument visitor: results', () => {
  it('returns members in schema order with absent optional members left out', () => {
    const r = visit('guest-exec', ordered([['input-data', 'eA=='], ['arg', ['-c', 'x']], ['path', '/bin/sh']]));
    assert.deepEqual(r, { path: '/bin/sh', arg: ['-c', 'x'], 'input-data': 'eA==' });
    assert.deepEqual(Object.keys(r as object), ['path', 'arg', 'input-data']);
    assert.deepEqual(visit('guest-file-open', { path: '/x' }), { path: '/x' });
    assert.equal('mode' in (visit('guest-file-open', { path: '/x' }) as object), false);
    assert.deepEqual(visit('guest-ping', {}), {});
    assert.deepEqual(visit('guest-ping', undefined), {});
    assert.deepEqual(visit('guest-file-read', { handle: 3n, count: 10n }), { handle: 3n, count: 10n });
    assert.deepEqual(visit('guest-ssh-add-authorized-keys', { username: 'u', keys: [], reset: false }), { username: 'u', keys: [], reset: false });
  });
});

describe('InputVisitor runtime', () => {
  it('number accepts any JSON number; integers become doubles', () => {
    const iv = new InputVisitor(v({ a: 2n, b: 1.5, c: U64_MAX, d: 'x' }));
    iv.startStruct(null);
    assert.equal(iv.typeNumber('a'), 2);
    assert.equal(iv.typeNumber('b'), 1.5);
    assert.equal(iv.typeNumber('c'), 18446744073709551615);
    assert.throws(() => iv.typeNumber('d'), { desc: "Invalid parameter type for 'd', expected: number" });
  });

  it('sized integers check int64/uint64 first, then the range by bare name', () => {
    const iv = new InputVisitor(v({ l: [{ a: 128n, b: -129n, c: 127n, d: 256n, e: 'x', f: -1n }] }));
    iv.startStruct(null);
    iv.startList('l');
    iv.startStruct(null);
    assert.throws(() => iv.typeIntN('a', 8), { desc: "Parameter 'a' expects int8_t" });
    assert.throws(() => iv.typeIntN('b', 8), { desc: "Parameter 'b' expects int8_t" });
    assert.equal(iv.typeIntN('c', 8), 127n);
    assert.throws(() => iv.typeUintN('d', 8), { desc: "Parameter 'd' expects uint8_t" });
    assert.throws(() => iv.typeUintN('e', 16), { desc: "Parameter 'l[0].e' expects uint64" });
    assert.throws(() => iv.typeUintN('f', 32), { desc: "Parameter 'f' expects uint32_t" });
  });

  it('enum values inside a list are named "null", as QEMU does', () => {
    const iv = new InputVisitor(v({ l: ['set', 'zz'] }));
    iv.startStruct(null);
    assert.throws(() => iv.list('l', () => iv.typeEnum(null, ['set', 'cur'])), { desc: "Parameter 'null' does not accept value 'zz'" });
  });

  it('null and any', () => {
    const iv = new InputVisitor(v({ n: null, m: 1n, a: { x: [true] } }));
    iv.startStruct(null);
    assert.equal(iv.typeNull('n'), null);
    assert.throws(() => iv.typeNull('m'), { desc: "Invalid parameter type for 'm', expected: null" });
    assert.deepEqual(iv.typeAny('a'), v({ x: [true] }));
    iv.checkStruct();
    iv.endStruct();
  });

  it('qtypes', () => {
    assert.deepEqual(
      [null, 1n, 1.5, 's', true, [], new Map()].map((x) => qtypeOf(x as JsonValue)),
      ['qnull', 'qnum', 'qnum', 'qstring', 'qbool', 'qlist', 'qdict'],
    );
  });

  it('GLib replay: g_str_hash and iteration after growth and shrinking', () => {
    assert.equal(gStrHash(''), 5381);
    assert.equal(gStrHash('a'), (5381 * 33 + 97) >>> 0);
    // Bytes >= 0x80 count as signed chars: 'é' is C3 A9.
    assert.equal(gStrHash('é'), (((5381 * 33 + (0xc3 - 256)) >>> 0) * 33 + (0xa9 - 256)) >>> 0);
    const t = new GHashTableReplay();
    const names = Array.from({ length: 40 }, (_, i) => `k${i}`);
    for (const n of names) t.insert(n);
    for (const n of names.slice(0, 38)) t.remove(n);
    assert.ok(['k38', 'k39'].includes(t.first()!));
    t.remove('k38');
    t.remove('k39');
    assert.equal(t.first(), undefined);
  });
});
