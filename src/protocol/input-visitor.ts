// The runtime input visitor: walks a parsed JSON value the way QEMU's qobject input
// visitor does, so argument errors carry qemu-ga's exact texts (docs/protocol.md §Argument errors).
//
// Generated code (src/generated/qapi-visit.ts) drives it member by member in schema
// order; nothing else parses command arguments.  The model, as in QEMU:
//
//   - A stack of containers being visited.  A struct frame remembers which keys were not
//     visited yet; a list frame remembers the next element and its index.
//   - Members are looked up by name in the innermost struct; list elements are taken in
//     order (their name is null).  Looking a value up "consumes" it.
//   - checkStruct() reports a key nobody consumed: "Parameter '<path>' is unexpected".
//     It runs when a struct's members are done, so inner structs are checked first and
//     missing / wrong-type errors always win over unexpected ones.  With several such keys,
//     QEMU reports the first one its GLib hash table of unvisited keys iterates; that table
//     is replayed here (see UnvisitedKeys) so the same key is named.
//   - Paths: "a.b" for struct members, "a[0]" for list elements; top-level names are bare.
//
// Value model (src/json/value.ts): integers are bigint, doubles are number, objects Map.

import type { JsonObject, JsonValue } from '../json/value.ts';
import { qdictOrderedKeys } from '../json/qdict-order.ts';
import { encodeModUtf8 } from '../json/utf8.ts';
import { QgaError, genericError } from './errors.ts';

/** QEMU's QType of a JSON value, which decides an alternate's branch. */
export type QType = 'qnull' | 'qnum' | 'qstring' | 'qdict' | 'qlist' | 'qbool';

export function qtypeOf(value: JsonValue): QType {
  if (value === null) return 'qnull';
  switch (typeof value) {
    case 'bigint':
    case 'number':
      return 'qnum';
    case 'string':
      return 'qstring';
    case 'boolean':
      return 'qbool';
    default:
      return value instanceof Map ? 'qdict' : 'qlist';
  }
}

const INT64_MIN = -(1n << 63n);
const INT64_MAX = (1n << 63n) - 1n;
const UINT64_MAX = (1n << 64n) - 1n;

interface DictFrame {
  readonly kind: 'dict';
  /** The frame's name in its parent (null for list elements and the root). */
  readonly name: string | null;
  readonly obj: JsonObject;
  /** Keys not visited yet, in arrival order. */
  readonly unvisited: Set<string>;
  /** Keys visited, in visit order (replayed to find which unexpected key QEMU names). */
  readonly consumed: string[];
}

interface ListFrame {
  readonly kind: 'list';
  readonly name: string | null;
  readonly items: readonly JsonValue[];
  /** Position of the next unvisited element. */
  next: number;
  /** Index of the element visited last; -1 before the first (QEMU's so->index). */
  index: number;
}

type Frame = DictFrame | ListFrame;

export class InputVisitor {
  /** Innermost container last. */
  private readonly stack: Frame[] = [];

  constructor(private readonly root: JsonValue) {}

  // ---- names -------------------------------------------------------------------------

  /**
   * The full path of `name` in the current container: QEMU's full_name_nth().
   * With n > 0, the path of the n-th container counting from the innermost.
   */
  fullName(name: string | null, n = 0): string {
    let path = '';
    let cur = name;
    for (let i = this.stack.length - 1; i >= 0; i--) {
      const frame = this.stack[i]!;
      if (n > 0) {
        n--;
      } else if (frame.kind === 'dict') {
        path = `.${cur ?? '<anonymous>'}${path}`;
      } else {
        path = `[${frame.index}]${path}`;
      }
      cur = frame.name;
    }
    if (cur !== null) return cur + path;
    if (path.startsWith('.')) return path.slice(1);
    return path === '' ? '<anonymous>' : path;
  }

  // ---- lookup ------------------------------------------------------------------------

  private tryGet(name: string | null, consume: boolean): JsonValue | undefined {
    const top = this.stack[this.stack.length - 1];
    if (top === undefined) return this.root; // the root: its name is ignored
    if (top.kind === 'dict') {
      if (name === null) throw new Error('input visitor: struct member without a name');
      if (!top.obj.has(name)) return undefined;
      if (consume && top.unvisited.delete(name)) top.consumed.push(name);
      return top.obj.get(name);
    }
    let value: JsonValue | undefined;
    if (top.next < top.items.length) {
      value = top.items[top.next];
      if (consume) top.next++;
    }
    if (consume) top.index++;
    return value;
  }

  private get(name: string | null, consume: boolean): JsonValue {
    const value = this.tryGet(name, consume);
    if (value === undefined) throw genericError(`Parameter '${this.fullName(name)}' is missing`);
    return value;
  }

  /** The "Invalid parameter type" error; generated alternates use it for unmatched types. */
  invalidType(name: string | null, expected: string): QgaError {
    return genericError(`Invalid parameter type for '${this.fullName(name)}', expected: ${expected}`);
  }

  private invalidValue(name: string, expected: string): QgaError {
    return genericError(`Parameter '${name}' expects ${expected}`);
  }

  // ---- structs -----------------------------------------------------------------------

  startStruct(name: string | null): void {
    const value = this.get(name, true);
    if (!(value instanceof Map)) throw this.invalidType(name, 'object');
    this.stack.push({ kind: 'dict', name, obj: value, unvisited: new Set(value.keys()), consumed: [] });
  }

  /** Fails on the first member no visit consumed. */
  checkStruct(): void {
    const top = this.stack[this.stack.length - 1];
    if (top?.kind !== 'dict') throw new Error('input visitor: checkStruct outside a struct');
    if (top.unvisited.size === 0) return;
    const key = top.unvisited.size === 1 ? top.unvisited.values().next().value! : firstUnvisitedKey(top);
    throw genericError(`Parameter '${this.fullName(key)}' is unexpected`);
  }

  endStruct(): void {
    const top = this.stack.pop();
    if (top?.kind !== 'dict') throw new Error('input visitor: endStruct outside a struct');
  }

  /** Whether an optional member is present (a JSON null counts as present). */
  optional(name: string): boolean {
    return this.tryGet(name, false) !== undefined;
  }

  // ---- lists -------------------------------------------------------------------------

  startList(name: string | null): void {
    const value = this.get(name, true);
    if (!Array.isArray(value)) throw this.invalidType(name, 'array');
    this.stack.push({ kind: 'list', name, items: value, next: 0, index: -1 });
  }

  /** Whether the current list has an element left to visit. */
  hasNextElement(): boolean {
    const top = this.stack[this.stack.length - 1];
    if (top?.kind !== 'list') throw new Error('input visitor: hasNextElement outside a list');
    return top.next < top.items.length;
  }

  endList(): void {
    const top = this.stack.pop();
    if (top?.kind !== 'list') throw new Error('input visitor: endList outside a list');
  }

  /** Visits a whole list; `element` visits one element (with name null). */
  list<T>(name: string | null, element: () => T): T[] {
    this.startList(name);
    const out: T[] = [];
    while (this.hasNextElement()) out.push(element());
    this.endList();
    return out;
  }

  // ---- alternates --------------------------------------------------------------------

  /** The QType of an alternate's value, without consuming it; the branch visit consumes. */
  startAlternate(name: string | null): QType {
    return qtypeOf(this.get(name, false));
  }

  // ---- scalars -----------------------------------------------------------------------

  /** 'int' / 'int64': a JSON integer within int64. */
  typeInt(name: string | null): bigint {
    const value = this.get(name, true);
    if (typeof value !== 'bigint' || value < INT64_MIN || value > INT64_MAX) {
      throw this.invalidType(name, 'integer');
    }
    return value;
  }

  /** 'int8', 'int16', 'int32': int64 first, then the range (the error names the bare member). */
  typeIntN(name: string | null, bits: 8 | 16 | 32): bigint {
    const value = this.typeInt(name);
    const max = (1n << BigInt(bits - 1)) - 1n;
    if (value < -max - 1n || value > max) throw this.invalidValue(name ?? 'null', `int${bits}_t`);
    return value;
  }

  /**
   * 'uint64': any JSON integer in int64 ∪ uint64; negative values wrap modulo 2^64
   * (QEMU accepts them for backward compatibility).
   */
  typeUint64(name: string | null): bigint {
    const value = this.get(name, true);
    if (typeof value === 'bigint') {
      if (value >= 0n && value <= UINT64_MAX) return value;
      if (value >= INT64_MIN && value < 0n) return value + UINT64_MAX + 1n;
    }
    throw this.invalidValue(this.fullName(name), 'uint64');
  }

  /** 'uint8', 'uint16', 'uint32': uint64 first, then the range (the error names the bare member). */
  typeUintN(name: string | null, bits: 8 | 16 | 32): bigint {
    const value = this.typeUint64(name);
    if (value > (1n << BigInt(bits)) - 1n) throw this.invalidValue(name ?? 'null', `uint${bits}_t`);
    return value;
  }

  /** 'size': the JSON input visitor treats it as uint64. */
  typeSize(name: string | null): bigint {
    return this.typeUint64(name);
  }

  /** 'number': any JSON number; integers are converted to double. */
  typeNumber(name: string | null): number {
    const value = this.get(name, true);
    if (typeof value === 'number') return value;
    if (typeof value === 'bigint') return Number(value);
    throw this.invalidType(name, 'number');
  }

  typeBool(name: string | null): boolean {
    const value = this.get(name, true);
    if (typeof value !== 'boolean') throw this.invalidType(name, 'boolean');
    return value;
  }

  typeStr(name: string | null): string {
    const value = this.get(name, true);
    if (typeof value !== 'string') throw this.invalidType(name, 'string');
    return value;
  }

  typeNull(name: string | null): null {
    const value = this.get(name, true);
    if (value !== null) throw this.invalidType(name, 'null');
    return null;
  }

  /** 'any': whatever JSON value is there. */
  typeAny(name: string | null): JsonValue {
    return this.get(name, true);
  }

  /** An enum member: a string first, then one of `values` (the error names the bare member). */
  typeEnum<T extends string>(name: string | null, values: readonly T[]): T {
    const value = this.typeStr(name);
    if (!(values as readonly string[]).includes(value)) {
      throw genericError(`Parameter '${name ?? 'null'}' does not accept value '${value}'`);
    }
    return value as T;
  }
}

// ---- which unexpected key QEMU names ----------------------------------------------------
//
// qobject_input_push() copies the object's keys into a GHashTable (g_str_hash), in the
// QDict's iteration order (qdict-order.ts); every visited key is removed from it, and
// check_struct names the first key g_hash_table_iter_next() returns.  GHashTable is open
// addressing with quadratic probing, tombstones, and resizes on insert and remove; this
// replays exactly that (GLib >= 2.60, whose index is (hash * 11) % prime_mod[shift]).

const PRIME_MOD = [
  1, 2, 3, 7, 13, 31, 61, 127, 251, 509, 1021, 2039, 4093, 8191, 16381, 32749, 65521, 131071, 262139, 524287,
  1048573, 2097143, 4194301, 8388593, 16777213, 33554393, 67108859, 134217689, 268435399, 536870909, 1073741789,
  2147483647,
];
const MIN_SHIFT = 3;
const UNUSED = 0;
const TOMBSTONE = 1;

/** GLib's g_str_hash: djb2 over the key's bytes taken as signed chars. */
export function gStrHash(key: string): number {
  let h = 5381;
  let ascii = true;
  for (let i = 0; i < key.length; i++) {
    const c = key.charCodeAt(i);
    if (c === 0 || c >= 0x80) {
      ascii = false;
      break;
    }
    h = (Math.imul(h, 33) + c) >>> 0;
  }
  if (ascii) return h;
  h = 5381;
  for (const b of encodeModUtf8(key)) h = (Math.imul(h, 33) + (b >= 0x80 ? b - 256 : b)) >>> 0;
  return h;
}

/** A replay of a GHashTable used as a set of strings. */
export class GHashTableReplay {
  private size = 0;
  private mod = 0;
  private mask = 0;
  private nnodes = 0;
  private noccupied = 0;
  private hashes: number[] = [];
  private keys: (string | null)[] = [];

  constructor() {
    this.setShift(MIN_SHIFT);
    this.hashes = new Array<number>(this.size).fill(UNUSED);
    this.keys = new Array<string | null>(this.size).fill(null);
  }

  private setShift(shift: number): void {
    this.size = 1 << shift;
    this.mod = PRIME_MOD[shift]!;
    this.mask = this.size - 1;
  }

  private toIndex(hash: number): number {
    return (Math.imul(hash, 11) >>> 0) % this.mod;
  }

  private static hashOf(key: string): number {
    const h = gStrHash(key);
    return h < 2 ? 2 : h; // 0 and 1 mark unused and deleted slots
  }

  private lookup(key: string, hash: number): number {
    let index = this.toIndex(hash);
    let nodeHash = this.hashes[index]!;
    let tombstone = -1;
    let step = 0;
    while (nodeHash !== UNUSED) {
      if (nodeHash === hash && this.keys[index] === key) return index;
      if (nodeHash === TOMBSTONE && tombstone < 0) tombstone = index;
      step++;
      index = (index + step) & this.mask;
      nodeHash = this.hashes[index]!;
    }
    return tombstone >= 0 ? tombstone : index;
  }

  insert(key: string): void {
    const hash = GHashTableReplay.hashOf(key);
    const index = this.lookup(key, hash);
    const old = this.hashes[index]!;
    if (old >= 2) return; // already present
    this.hashes[index] = hash;
    this.keys[index] = key;
    this.nnodes++;
    if (old === UNUSED) {
      this.noccupied++;
      this.maybeResize();
    }
  }

  remove(key: string): void {
    const hash = GHashTableReplay.hashOf(key);
    const index = this.lookup(key, hash);
    if (this.hashes[index]! < 2) return;
    this.hashes[index] = TOMBSTONE;
    this.keys[index] = null;
    this.nnodes--;
    this.maybeResize();
  }

  /** The first key g_hash_table_iter_next() returns. */
  first(): string | undefined {
    for (let i = 0; i < this.size; i++) if (this.hashes[i]! >= 2) return this.keys[i]!;
    return undefined;
  }

  private maybeResize(): void {
    const { size, noccupied } = this;
    if ((size > this.nnodes * 4 && size > 1 << MIN_SHIFT) || size <= noccupied + Math.trunc(noccupied / 16)) {
      this.resize();
    }
  }

  private resize(): void {
    const oldSize = this.size;
    let n = Math.trunc(this.nnodes * 1.333);
    let shift = 0;
    while (n) {
      n >>= 1;
      shift++;
    }
    this.setShift(Math.max(shift, MIN_SHIFT));
    const span = Math.max(oldSize, this.size);
    while (this.hashes.length < span) {
      this.hashes.push(UNUSED);
      this.keys.push(null);
    }
    // In-place rehash (GLib's resize_map): evict each live entry and re-place it, chaining
    // through entries it displaces; a bitmap marks slots already holding relocated entries.
    const placed = new Array<boolean>(span).fill(false);
    for (let i = 0; i < oldSize; i++) {
      let nodeHash = this.hashes[i]!;
      if (nodeHash < 2) {
        this.hashes[i] = UNUSED;
        continue;
      }
      if (placed[i]) continue;
      this.hashes[i] = UNUSED;
      let key = this.keys[i]!;
      this.keys[i] = null;
      for (;;) {
        let index = this.toIndex(nodeHash);
        let step = 0;
        while (placed[index]) {
          step++;
          index = (index + step) & this.mask;
        }
        placed[index] = true;
        const replacedHash = this.hashes[index]!;
        const replacedKey = this.keys[index]!;
        this.hashes[index] = nodeHash;
        this.keys[index] = key;
        if (replacedHash < 2) break;
        nodeHash = replacedHash;
        key = replacedKey;
      }
    }
    this.hashes.length = this.size;
    this.keys.length = this.size;
    this.noccupied = this.nnodes;
  }
}

function firstUnvisitedKey(frame: DictFrame): string {
  const table = new GHashTableReplay();
  for (const key of qdictOrderedKeys([...frame.obj.keys()])) table.insert(key);
  for (const key of frame.consumed) table.remove(key);
  return table.first() ?? frame.unvisited.values().next().value!;
}
