// Schema-driven conversion between the client's typed values and the exact JSON model.
//
// Replies (fromWire): the agent's answer, parsed by src/json/streamer.ts into Maps and bigint
// integers, becomes plain objects typed as in src/generated/qapi-client.ts:
//   - integers of 64-bit types (int, int64, uint64, size) stay exact bigints — sync ids,
//     times in nanoseconds, file handles, byte counts, uint64 counters;
//   - integers of types of 32 bits or fewer (int8..int32, uint8..uint32) become numbers;
//   - `number` members become numbers even when the agent printed an integral double
//     without a fraction ("login-time": 1700000000 arrives as an integer literal);
//   - objects get their declared members in schema order; members the schema does not know
//     (a newer agent's additions) follow, converted generically (Maps → objects, bigints
//     kept); enum values are not checked against the schema, for the same reason;
//   - a missing required member or a value of the wrong JSON type is a QgaProtocolError
//     naming the member's path.
//
// Arguments (toWire): integers may be given as number or bigint; numbers must be safe
// integers and become bigints, so toJson prints them as integer literals whatever their
// size. Members whose value is undefined are left out. Anything the schema does not
// describe is passed through unchanged, for the agent to judge.

import type { JsonValue, OutValue } from '../json/value.ts';
import {
  commandShapes,
  typeShapes,
  type ClientCommandName,
  type MemberShape,
  type ShapeRef,
  type TypeShape,
} from '../generated/qapi-client.ts';
import { QgaProtocolError } from './errors.ts';

const SMALL_INTS = new Set(['int8', 'int16', 'int32', 'uint8', 'uint16', 'uint32']);
const BIG_INTS = new Set(['int', 'int64', 'uint64', 'size']);

export function isKnownCommand(command: string): command is ClientCommandName {
  return Object.prototype.hasOwnProperty.call(commandShapes, command);
}

/** Whether the agent answers this command on success (false for guest-shutdown, guest-suspend-*). */
export function expectsReply(command: string): boolean {
  return isKnownCommand(command) ? commandShapes[command].successResponse : true;
}

// ---- replies ------------------------------------------------------------------------------

/**
 * Converts a command's raw return value to its typed form (undefined for commands that
 * return nothing). Unknown commands: the value converted generically (plain()).
 */
export function replyFromWire(command: string, raw: JsonValue | undefined): unknown {
  if (!isKnownCommand(command)) return raw === undefined ? undefined : plain(raw);
  const ret = commandShapes[command].returns;
  if (ret === null || raw === undefined) return undefined;
  return fromWire(ret, raw, 'return', command);
}

/** Converts one value of type `ref`; `path` names it in errors ("return.disk[0].bus"). */
export function fromWire(ref: ShapeRef, v: JsonValue, path: string, command = ''): unknown {
  if (typeof ref !== 'string') {
    if (!Array.isArray(v)) throw mismatch(command, path, 'an array', v);
    const out = new Array<unknown>(v.length);
    for (let i = 0; i < v.length; i++) out[i] = fromWire(ref[0], v[i], `${path}[${i}]`, command);
    return out;
  }
  if (BIG_INTS.has(ref)) {
    if (typeof v !== 'bigint') throw mismatch(command, path, 'an integer', v);
    return v;
  }
  if (SMALL_INTS.has(ref)) {
    if (typeof v !== 'bigint') throw mismatch(command, path, 'an integer', v);
    return Number(v);
  }
  switch (ref) {
    case 'number':
      if (typeof v === 'bigint') return Number(v);
      if (typeof v !== 'number') throw mismatch(command, path, 'a number', v);
      return v;
    case 'str':
      if (typeof v !== 'string') throw mismatch(command, path, 'a string', v);
      return v;
    case 'bool':
      if (typeof v !== 'boolean') throw mismatch(command, path, 'a boolean', v);
      return v;
    case 'null':
      if (v !== null) throw mismatch(command, path, 'null', v);
      return null;
    case 'any':
      return plain(v);
  }
  const shape = typeShapes[ref];
  if (shape === undefined) throw new Error(`internal: no shape for type '${ref}'`);
  return fromWireNamed(ref, shape, v, path, command);
}

function fromWireNamed(name: string, shape: TypeShape, v: JsonValue, path: string, command: string): unknown {
  switch (shape.kind) {
    case 'enum':
      if (typeof v !== 'string') throw mismatch(command, path, `a ${name} string`, v);
      return v;
    case 'struct': {
      if (!(v instanceof Map)) throw mismatch(command, path, 'an object', v);
      return objectFromWire(shape.members, v, path, command);
    }
    case 'union': {
      if (!(v instanceof Map)) throw mismatch(command, path, 'an object', v);
      const tag = v.get(shape.discriminator);
      const branch = typeof tag === 'string' && Object.prototype.hasOwnProperty.call(shape.branches, tag) ? shape.branches[tag] : undefined;
      const branchShape = branch === undefined ? undefined : typeShapes[branch];
      const members = branchShape?.kind === 'struct' ? [...shape.members, ...branchShape.members] : shape.members;
      return objectFromWire(members, v, path, command);
    }
    case 'alternate': {
      for (const br of shape.branches) {
        if (jsonKindMatches(br, v)) return fromWire(br, v, path, command);
      }
      throw mismatch(command, path, `a ${name}`, v);
    }
  }
}

function objectFromWire(members: readonly MemberShape[], m: Map<string, JsonValue>, path: string, command: string): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [name, type, optional] of members) {
    const v = m.get(name);
    const at = `${path}.${name}`;
    if (v === undefined) {
      if (!optional) throw new QgaProtocolError(`${prefix(command)}the agent's answer lacks '${at}'`);
      continue;
    }
    setMember(out, name, fromWire(type, v, at, command));
  }
  if (m.size > members.length || members.some(([n]) => !m.has(n))) {
    const declared = new Set(members.map(([n]) => n));
    for (const [k, v] of m) if (!declared.has(k)) setMember(out, k, plain(v));
  }
  return out;
}

/** Which JSON kind a type reference takes (QEMU's alternate dispatch, on parsed values). */
function jsonKindMatches(ref: ShapeRef, v: JsonValue): boolean {
  if (typeof ref !== 'string') return Array.isArray(v);
  if (BIG_INTS.has(ref) || SMALL_INTS.has(ref)) return typeof v === 'bigint';
  switch (ref) {
    case 'number':
      return typeof v === 'number' || typeof v === 'bigint';
    case 'str':
      return typeof v === 'string';
    case 'bool':
      return typeof v === 'boolean';
    case 'null':
      return v === null;
    case 'any':
      return true;
  }
  const shape = typeShapes[ref];
  if (shape === undefined) return false;
  if (shape.kind === 'enum') return typeof v === 'string';
  if (shape.kind === 'alternate') return shape.branches.some((b) => jsonKindMatches(b, v));
  return v instanceof Map;
}

/** Maps to plain objects (arrival order), everything else as it is: bigints stay bigints. */
export function plain(v: JsonValue): unknown {
  if (v instanceof Map) {
    const out: Record<string, unknown> = {};
    for (const [k, x] of v) setMember(out, k, plain(x));
    return out;
  }
  if (Array.isArray(v)) return v.map(plain);
  return v;
}

function setMember(o: Record<string, unknown>, k: string, v: unknown): void {
  if (k === '__proto__') Object.defineProperty(o, k, { value: v, enumerable: true, writable: true, configurable: true });
  else o[k] = v;
}

function prefix(command: string): string {
  return command === '' ? '' : `${command}: `;
}

function mismatch(command: string, path: string, expected: string, v: JsonValue): QgaProtocolError {
  return new QgaProtocolError(`${prefix(command)}the agent's answer has ${describeValue(v)} at '${path}', expected ${expected}`);
}

function describeValue(v: JsonValue): string {
  if (v === null) return 'null';
  if (Array.isArray(v)) return 'an array';
  if (v instanceof Map) return 'an object';
  switch (typeof v) {
    case 'bigint':
      return `the integer ${v}`;
    case 'number':
      return `the number ${v}`;
    case 'string':
      return 'a string';
    default:
      return `${v}`;
  }
}

// ---- arguments ----------------------------------------------------------------------------

/**
 * Converts a command's arguments for toJson. Unknown commands and values the schema does
 * not describe pass through unchanged. Throws TypeError for an integer argument that is not
 * a safe integer.
 */
export function argsToWire(command: string, args: object | undefined): OutValue | undefined {
  if (args === undefined || args === null) return undefined;
  if (args instanceof Map) return args as ReadonlyMap<string, OutValue>;
  const members = isKnownCommand(command) ? commandShapes[command].args : null;
  return objectToWire(members ?? [], args as Record<string, unknown>, '', command);
}

function objectToWire(members: readonly MemberShape[], o: Record<string, unknown>, path: string, command: string): OutValue {
  const out: Record<string, OutValue> = {};
  const types = new Map<string, ShapeRef>(members.map(([n, t]) => [n, t]));
  for (const k of Object.keys(o)) {
    const v = o[k];
    if (v === undefined) continue;
    const t = types.get(k);
    setMember(out, k, t === undefined ? (v as OutValue) : toWire(t, v, path === '' ? k : `${path}.${k}`, command));
  }
  return out;
}

/** Converts one argument value of type `ref`. */
export function toWire(ref: ShapeRef, v: unknown, path: string, command = ''): OutValue {
  if (typeof ref !== 'string') {
    if (!Array.isArray(v)) return v as OutValue;
    return v.map((x, i) => toWire(ref[0], x, `${path}[${i}]`, command));
  }
  if (BIG_INTS.has(ref) || SMALL_INTS.has(ref)) return intToWire(v, path, command);
  const shape = typeShapes[ref];
  if (shape === undefined) return v as OutValue;
  switch (shape.kind) {
    case 'enum':
      return v as OutValue;
    case 'struct':
      return isPlainObject(v) ? objectToWire(shape.members, v, path, command) : (v as OutValue);
    case 'union': {
      if (!isPlainObject(v)) return v as OutValue;
      const tag = v[shape.discriminator];
      const branch = typeof tag === 'string' && Object.prototype.hasOwnProperty.call(shape.branches, tag) ? typeShapes[shape.branches[tag]!] : undefined;
      return objectToWire(branch?.kind === 'struct' ? [...shape.members, ...branch.members] : shape.members, v, path, command);
    }
    case 'alternate': {
      if (typeof v === 'number' || typeof v === 'bigint') {
        const intBranch = shape.branches.find((b) => typeof b === 'string' && (BIG_INTS.has(b) || SMALL_INTS.has(b)));
        if (intBranch !== undefined) return intToWire(v, path, command);
      }
      return v as OutValue;
    }
  }
}

function intToWire(v: unknown, path: string, command: string): OutValue {
  if (typeof v === 'bigint') return v;
  if (typeof v === 'number') {
    if (!Number.isSafeInteger(v)) throw new TypeError(`${prefix(command)}argument '${path}' must be an integer given as a bigint or a safe integer number, not ${v}`);
    return BigInt(v);
  }
  return v as OutValue;
}

function isPlainObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v) && !(v instanceof Map);
}
