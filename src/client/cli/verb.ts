// What a verb is, what it gets to work with, and the option checks several verbs share.

import type { ParseArgsConfig } from 'node:util';
import type { QgaClient } from '../client.ts';
import type { ClientCommandName, ClientCommandReplies } from '../../generated/qapi-client.ts';
import type { JsonValue } from '../../json/value.ts';
import { parseSize } from '../format.ts';

export const PROG = 'qga-client';

/** A mistake on the command line: exit status 2, with a pointer to the right help. */
export class UsageError extends Error {}

/** A node:util parseArgs option, plus its help line and the name of its value. */
export type OptionSpec = NonNullable<ParseArgsConfig['options']>[string] & { help: string; value?: string };
export type Values = Record<string, string | boolean | string[] | undefined>;

export interface Ctx {
  readonly json: boolean;
  /** Aborted on SIGINT, SIGTERM or a closed standard output; long verbs stop and clean up. */
  readonly signal: AbortSignal;
  /** The client, connected on first use. */
  client(): Promise<QgaClient>;
  out(text: string): void;
  err(text: string): void;
  /** Calls a command; the raw value (for --json) and the converted one (for people). */
  fetch<K extends ClientCommandName>(command: K, args?: object): Promise<{ raw: JsonValue | undefined; value: ClientCommandReplies[K] }>;
  printJson(value: unknown): void;
  /** Whether progress may be drawn on standard error (a terminal, no --json, no --no-progress). */
  progress(values: Values): boolean;
}

export interface Verb {
  readonly name: string;
  readonly aliases?: readonly string[];
  /** The operands (and [OPTIONS] when they must come first), for the usage line. */
  readonly synopsis: string;
  readonly summary: string;
  readonly details?: string;
  /** The verb's own options; a global option of the same name is then not taken after the verb. */
  readonly options?: Record<string, OptionSpec>;
  /** Minimum and maximum number of operands. */
  readonly operands: readonly [number, number];
  /** Options end at the first operand (exec: the program's own options follow). */
  readonly stopAtOperand?: boolean;
  /** Per-call timeout in seconds when --timeout is not given. */
  readonly defaultTimeout?: number;
  run(ctx: Ctx, values: Values, operands: string[]): Promise<number>;
}

export function secondsOption(text: string, name: string): number {
  const n = Number(text);
  if (text.trim() === '' || !Number.isFinite(n) || n < 0) throw new UsageError(`invalid ${name} '${text}' (seconds, a number >= 0)`);
  return n;
}

export function sizeOption(values: Values, name: string, min: number, max: number): number | undefined {
  const text = values[name];
  if (text === undefined) return undefined;
  const n = parseSize(String(text));
  if (n === null || n < min || n > max) throw new UsageError(`invalid --${name} '${text}' (${min} to ${max} bytes; suffixes K, M, G)`);
  return n;
}

export function yesNo(b: boolean | undefined): string {
  return b === undefined ? '-' : b ? 'yes' : 'no';
}
