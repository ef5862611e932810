// One request in, at most one reply out: envelope checks, lookup, filter, arguments, handler (docs/protocol.md §Request envelope, §Argument errors, §Responses).
import { WireString, type JsonObject, type JsonValue, type OutValue, type WireObject, type WireValue } from '../json/value.ts';
import { qdictOrderedKeys } from '../json/qdict-order.ts';
import { QgaError } from './errors.ts';
import type { CommandFilter } from './command-filter.ts';
import type { CommandGate } from './command-gate.ts';

export interface CommandDescriptor {
  readonly name: string;
  readonly successResponse: boolean;
  /** Changes nothing in the guest: never waits for the gate. */
  readonly readOnly?: boolean;
  visitArgs(args: JsonObject | undefined): unknown;
}

// eslint-disable-next-line @typescript-eslint/no-explicit-any
export type AnyHandler = (args: any, ctx: any) => unknown;

export interface Reply {
  readonly body: OutValue;
  /** guest-sync-delimited: the reply is preceded by one 0xFF byte. */
  readonly delimit: boolean;
  /** The whole line (body serialized, newline included), when it is known in advance. */
  readonly line?: string;
}

export interface DispatchLog {
  /** Unexpected exceptions from handlers (bugs), logged as critical. */
  handlerCrash(command: string, err: unknown): void;
}

const EMPTY: OutValue = {};

/** The most common reply of all (guest-ping, file close/flush, …), serialized once. */
const EMPTY_RETURN: Reply = { body: { return: EMPTY }, delimit: false, line: '{"return": {}}\n' };

const WIRE_MEMBERS = Symbol('wireMembers');

/**
 * Marks `handler` as taking the named top-level string arguments as they arrived: a long plain
 * string stays a WireString (value.ts) instead of being made into a JS string. The handler must
 * accept `string | WireString` there. Other arguments, and every argument of unmarked handlers,
 * are JS strings as always.
 */
export function takesWireStrings<H extends AnyHandler>(handler: H, members: readonly string[]): H {
  (handler as H & { [WIRE_MEMBERS]?: readonly string[] })[WIRE_MEMBERS] = members;
  return handler;
}

function wireMembersOf(handler: AnyHandler): readonly string[] | undefined {
  return (handler as AnyHandler & { [WIRE_MEMBERS]?: readonly string[] })[WIRE_MEMBERS];
}

function errorReply(err: QgaError, id: WireValue | undefined): Reply {
  const error = { class: err.errorClass, desc: err.desc };
  return { body: id === undefined ? { error } : { error, id }, delimit: false };
}

/** A plain object without members: serializes as `{}`. */
function isEmptyPlainObject(v: unknown): boolean {
  if (typeof v !== 'object' || v === null || Object.getPrototypeOf(v) !== Object.prototype) return false;
  for (const _ in v) return false;
  return true;
}

/** Makes every WireString inside `v` a JS string (in place); returns the value to use. */
function materialize(v: WireValue): JsonValue {
  if (v instanceof WireString) return v.toString();
  if (v instanceof Map) {
    for (const [k, x] of v) {
      if (typeof x === 'object' && x !== null) {
        const y = materialize(x);
        if (y !== x) v.set(k, y);
      }
    }
    return v as JsonObject;
  }
  if (Array.isArray(v)) {
    for (let i = 0; i < v.length; i++) {
      const x = v[i];
      if (typeof x === 'object' && x !== null) v[i] = materialize(x);
    }
    return v as JsonValue[];
  }
  return v;
}

export class Dispatcher {
  /** Commands whose absent arguments are known to visit as `{}` (argument-less ones, mostly). */
  private readonly emptyArgs = new Set<string>();

  constructor(
    private readonly table: ReadonlyMap<string, CommandDescriptor>,
    private readonly handlers: Readonly<Record<string, AnyHandler>>,
    private readonly filter: CommandFilter,
    private readonly ctx: unknown,
    private readonly log: DispatchLog,
    /** Several connections (--max-clients): commands that are not read-only pass it one at a time. */
    private readonly gate?: CommandGate,
  ) {}

  /** Returns the reply, null for a successful success-response:false command, or a promise of either. */
  dispatch(request: WireValue): Reply | null | Promise<Reply | null> {
    if (!(request instanceof Map)) {
      return errorReply(new QgaError('GenericError', 'QMP input must be a JSON object'), undefined);
    }
    let name: string | undefined;
    let args: WireObject | undefined;
    // Fast path: only the three known members, each of the right type. Then the order in which
    // qemu-ga examines them cannot matter: none of them is an error.
    const execute = request.get('execute');
    const argsValue = request.get('arguments');
    const id = request.get('id');
    const known = (execute === undefined ? 0 : 1) + (argsValue === undefined ? 0 : 1) + (id === undefined ? 0 : 1);
    if (known === request.size && typeof execute === 'string' && (argsValue === undefined || argsValue instanceof Map)) {
      name = execute;
      args = argsValue;
    } else {
      // qemu-ga examines members in its hash-table order; the first bad one decides the error.
      for (const key of qdictOrderedKeys([...request.keys()])) {
        const value = request.get(key) as WireValue;
        if (key === 'execute') {
          if (typeof value === 'string') name = value;
          else if (value instanceof WireString) name = value.toString();
          else return errorReply(new QgaError('GenericError', "QMP input member 'execute' must be a string"), id);
        } else if (key === 'arguments') {
          if (!(value instanceof Map)) return errorReply(new QgaError('GenericError', "QMP input member 'arguments' must be an object"), id);
          args = value;
        } else if (key !== 'id') {
          return errorReply(new QgaError('GenericError', `QMP input member '${key}' is unexpected`), id);
        }
      }
    }
    if (name === undefined) return errorReply(new QgaError('GenericError', "QMP input lacks member 'execute'"), id);
    const command = this.table.get(name);
    if (command === undefined) return errorReply(new QgaError('CommandNotFound', `The command ${name} has not been found`), id);
    if (this.gate !== undefined && !command.readOnly) {
      // The filter (frozen state included) is consulted when the command's turn comes, not before.
      const gatedName = name;
      const gatedArgs = args;
      return this.gate.run(() => this.execute(command, gatedName, gatedArgs, id));
    }
    return this.execute(command, name, args, id);
  }

  /** The filter, the arguments and the handler, once the command may run. */
  private execute(command: CommandDescriptor, name: string, args: WireObject | undefined, id: WireValue | undefined): Reply | null | Promise<Reply | null> {
    if (!this.filter.isEnabled(name)) {
      return errorReply(new QgaError('CommandNotFound', `Command ${name} has been disabled: the command is not allowed`), id);
    }
    let result: unknown;
    try {
      const handler = this.handlers[name];
      let typedArgs: unknown;
      if (args === undefined) {
        if (this.emptyArgs.has(name)) typedArgs = {};
        else {
          typedArgs = command.visitArgs(undefined);
          // The visit of nothing gives the same result every time: remember an empty one.
          if (isEmptyPlainObject(typedArgs)) this.emptyArgs.add(name);
        }
      } else {
        typedArgs = this.visitWithWireStrings(command, args, wireMembersOf(handler));
      }
      result = handler(typedArgs, this.ctx);
    } catch (err) {
      return this.failure(name, err, id);
    }
    if (result instanceof Promise) {
      return result.then(
        (value) => this.success(command, value, id),
        (err: unknown) => this.failure(name as string, err, id),
      );
    }
    return this.success(command, result, id);
  }

  /**
   * Visits `args` with every WireString made a JS string, except those of the handler's wire
   * members: the visitor sees an empty string in their place (it checks only the type of a str
   * member, never its text), and the typed result gets the WireString back.
   */
  private visitWithWireStrings(command: CommandDescriptor, args: WireObject, wire: readonly string[] | undefined): unknown {
    let kept: [string, WireString][] | undefined;
    for (const [k, v] of args) {
      if (typeof v !== 'object' || v === null) continue;
      if (v instanceof WireString && wire !== undefined && wire.includes(k)) {
        (kept ??= []).push([k, v]);
        args.set(k, '');
      } else {
        const m = materialize(v);
        if (m !== v) args.set(k, m);
      }
    }
    const typed = command.visitArgs(args as JsonObject);
    if (kept !== undefined) for (const [k, v] of kept) (typed as Record<string, unknown>)[k] = v;
    return typed;
  }

  private success(command: CommandDescriptor, value: unknown, id: WireValue | undefined): Reply | null {
    if (!command.successResponse) return null;
    if (id === undefined && (value === undefined || isEmptyPlainObject(value)) && command.name !== 'guest-sync-delimited') return EMPTY_RETURN;
    const ret = (value === undefined ? EMPTY : value) as OutValue;
    return { body: id === undefined ? { return: ret } : { return: ret, id }, delimit: command.name === 'guest-sync-delimited' };
  }

  private failure(name: string, err: unknown, id: WireValue | undefined): Reply {
    if (err instanceof QgaError) return errorReply(err, id);
    this.log.handlerCrash(name, err);
    const desc = err instanceof Error ? err.message : String(err);
    return errorReply(new QgaError('GenericError', desc), id);
  }
}
