// One request in, at most one reply out: envelope checks, lookup, filter, arguments, handler (facts §1.5–1.7).
import type { JsonObject, JsonValue, OutValue } from '../json/value.ts';
import { qdictOrderedKeys } from '../json/qdict-order.ts';
import { QgaError } from './errors.ts';
import type { CommandFilter } from './command-filter.ts';

export interface CommandDescriptor {
  readonly name: string;
  readonly successResponse: boolean;
  visitArgs(args: JsonObject | undefined): unknown;
}

// eslint-disable-next-line @typescript-eslint/no-explicit-any
export type AnyHandler = (args: any, ctx: any) => unknown;

export interface Reply {
  readonly body: OutValue;
  /** guest-sync-delimited: the reply is preceded by one 0xFF byte. */
  readonly delimit: boolean;
}

export interface DispatchLog {
  /** Unexpected exceptions from handlers (bugs), logged as critical. */
  handlerCrash(command: string, err: unknown): void;
}

const EMPTY: OutValue = {};

function errorReply(err: QgaError, id: JsonValue | undefined): Reply {
  const error = { class: err.errorClass, desc: err.desc };
  return { body: id === undefined ? { error } : { error, id }, delimit: false };
}

export class Dispatcher {
  constructor(
    private readonly table: ReadonlyMap<string, CommandDescriptor>,
    private readonly handlers: Readonly<Record<string, AnyHandler>>,
    private readonly filter: CommandFilter,
    private readonly ctx: unknown,
    private readonly log: DispatchLog,
  ) {}

  /** Returns the reply, null for a successful success-response:false command, or a promise of either. */
  dispatch(request: JsonValue): Reply | null | Promise<Reply | null> {
    if (!(request instanceof Map)) {
      return errorReply(new QgaError('GenericError', 'QMP input must be a JSON object'), undefined);
    }
    const id = request.get('id');
    let name: string | undefined;
    let args: JsonObject | undefined;
    // qemu-ga examines members in its hash-table order; the first bad one decides the error.
    for (const key of qdictOrderedKeys([...request.keys()])) {
      const value = request.get(key) as JsonValue;
      if (key === 'execute') {
        if (typeof value !== 'string') return errorReply(new QgaError('GenericError', "QMP input member 'execute' must be a string"), id);
        name = value;
      } else if (key === 'arguments') {
        if (!(value instanceof Map)) return errorReply(new QgaError('GenericError', "QMP input member 'arguments' must be an object"), id);
        args = value;
      } else if (key !== 'id') {
        return errorReply(new QgaError('GenericError', `QMP input member '${key}' is unexpected`), id);
      }
    }
    if (name === undefined) return errorReply(new QgaError('GenericError', "QMP input lacks member 'execute'"), id);
    const command = this.table.get(name);
    if (command === undefined) return errorReply(new QgaError('CommandNotFound', `The command ${name} has not been found`), id);
    if (!this.filter.isEnabled(name)) {
      return errorReply(new QgaError('CommandNotFound', `Command ${name} has been disabled: the command is not allowed`), id);
    }
    let result: unknown;
    try {
      const typedArgs = command.visitArgs(args);
      result = this.handlers[name](typedArgs, this.ctx);
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

  private success(command: CommandDescriptor, value: unknown, id: JsonValue | undefined): Reply | null {
    if (!command.successResponse) return null;
    const ret = (value === undefined ? EMPTY : value) as OutValue;
    return { body: id === undefined ? { return: ret } : { return: ret, id }, delimit: command.name === 'guest-sync-delimited' };
  }

  private failure(name: string, err: unknown, id: JsonValue | undefined): Reply {
    if (err instanceof QgaError) return errorReply(err, id);
    this.log.handlerCrash(name, err);
    const desc = err instanceof Error ? err.message : String(err);
    return errorReply(new QgaError('GenericError', desc), id);
  }
}
