// The runtime input visitor: walks a parsed JSON value the way QEMU's qobject input
// visitor does, so argument errors carry qemu-ga's exact texts (facts §1.6).
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
//     missing / wrong-type errors always win over unexpected ones.
//   - Paths: "a.b" for struct members, "a[0]" for list elements; top-level names are bare.
//
// Value model (src/json/value.ts): integers are bigint, doubles are number, objects Map.

import type { JsonObject, JsonValue } from '../json/value.ts';
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
      if (consume) top.unvisited.delete(name);
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
    this.stack.push({ kind: 'dict', name, obj: value, unvisited: new Set(value.keys()) });
  }

  /** Fails on the first member no visit consumed. */
  checkStruct(): void {
    const top = this.stack[this.stack.length - 1];
    if (top?.kind !== 'dict') throw new Error('input visitor: checkStruct outside a struct');
    for (const key of top.unvisited) {
      throw genericError(`Parameter '${this.fullName(key)}' is unexpected`);
    }
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
