// The command line, read with node:util parseArgs: global options, the verb, then the verb's
// options and operands. Global options may come before or after the verb; after it, a verb's
// own option of the same name wins (exec --timeout). Help texts are built from the same tables.

import { parseArgs, type ParseArgsConfig } from 'node:util';
import { PROG, UsageError, type OptionSpec, type Values, type Verb } from './verb.ts';

export const DEFAULT_TIMEOUT = 10;

export const GLOBAL_OPTIONS: Record<string, OptionSpec> = {
  socket: { type: 'string', short: 's', value: 'PATH', help: "the agent's socket: a unix socket path, or host:port (default: $QGA_CLIENT_ADDRESS)" },
  json: { type: 'boolean', help: 'print the raw return value as JSON' },
  timeout: { type: 'string', short: 't', value: 'S', help: `seconds to wait for each answer (default ${DEFAULT_TIMEOUT}; 0: forever)` },
  debug: { type: 'boolean', help: 'trace the wire traffic on standard error' },
  help: { type: 'boolean', short: 'h', help: 'show this help' },
  version: { type: 'boolean', short: 'V', help: "print qga-client's version" },
};

const HELP_OPTION: OptionSpec = { type: 'boolean', short: 'h', help: 'show this help' };

export type CommandLine =
  /** `usage`: no verb was given, so the help goes to standard error with status 2. */
  | { kind: 'help'; verb?: Verb; globals: Values; usage?: boolean }
  | { kind: 'version' }
  | { kind: 'run'; verb: Verb; globals: Values; values: Values; operands: string[] };

/** The options a verb takes after its name: its own, then the global ones it does not shadow. */
function verbSpec(verb: Verb): Record<string, OptionSpec> {
  const own = { ...(verb.options ?? {}), help: HELP_OPTION };
  const shorts = new Set(Object.values(own).map((o) => o.short));
  const spec: Record<string, OptionSpec> = { ...own };
  for (const [name, o] of Object.entries(GLOBAL_OPTIONS)) {
    if (name in spec) continue;
    spec[name] = o.short !== undefined && shorts.has(o.short) ? { ...o, short: undefined } : o;
  }
  return spec;
}

/**
 * Reads options up to the first operand (`stop`) or all of them, and the operands verbatim
 * (everything after `--` is an operand). Mistakes become UsageErrors in words.
 */
function scan(args: string[], spec: Record<string, OptionSpec>, stop: boolean): { values: Values; operands: string[] } {
  const options: NonNullable<ParseArgsConfig['options']> = {};
  for (const [k, o] of Object.entries(spec)) options[k] = { type: o.type, ...(o.short === undefined ? {} : { short: o.short }) };
  const { tokens } = parseArgs({ args, options, strict: false, allowPositionals: true, tokens: true });
  const values: Values = {};
  const operands: string[] = [];
  for (const t of tokens) {
    if (t.kind === 'option-terminator') return { values, operands: [...operands, ...args.slice(t.index + 1)] };
    if (t.kind === 'positional') {
      if (stop) return { values, operands: args.slice(t.index) };
      operands.push(t.value);
      continue;
    }
    const o = spec[t.name];
    if (o === undefined) throw new UsageError(`unknown option '${t.rawName}'`);
    let value: string | boolean;
    if (o.type === 'boolean') {
      if (t.inlineValue) throw new UsageError(`option '${t.rawName}' takes no value`);
      value = true;
    } else {
      if (t.value === undefined || (!t.inlineValue && t.value.startsWith('-') && t.value.length > 1)) {
        throw new UsageError(`option '${t.rawName}' needs a value (${o.value ?? 'VALUE'})`);
      }
      value = t.value;
    }
    if (o.multiple) values[t.name] = [...((values[t.name] as string[] | undefined) ?? []), value as string];
    else values[t.name] = value;
  }
  return { values, operands };
}

/** Parses argv; `findVerb` looks a verb up by name or alias. */
export function parseCommandLine(argv: string[], findVerb: (name: string) => Verb | undefined): CommandLine {
  const { values: before, operands: rest } = scan(argv, GLOBAL_OPTIONS, true);
  if (before.version) return { kind: 'version' };
  if (before.help) return { kind: 'help', globals: before };
  if (rest.length === 0) return { kind: 'help', globals: before, usage: true };
  const [name, ...args] = rest as [string, ...string[]];
  if (name === 'help') {
    const v = args[0] === undefined ? undefined : findVerb(args[0]);
    if (args[0] !== undefined && v === undefined) throw new UsageError(`unknown verb '${args[0]}'`);
    return v === undefined ? { kind: 'help', globals: before } : { kind: 'help', verb: v, globals: before };
  }
  const verb = findVerb(name);
  if (verb === undefined) throw new UsageError(`unknown verb '${name}'`);
  try {
    const { values, operands } = scan(args, verbSpec(verb), verb.stopAtOperand ?? false);
    const globals: Values = { ...before };
    for (const k of Object.keys(GLOBAL_OPTIONS)) if (values[k] !== undefined && !(k in (verb.options ?? {}))) globals[k] = values[k];
    if (globals.version) return { kind: 'version' };
    if (values.help) return { kind: 'help', verb, globals };
    const [min, max] = verb.operands;
    if (operands.length < min || operands.length > max) {
      const what = operands.length < min ? 'missing' : 'too many';
      throw new UsageError(`${what} arguments${verb.synopsis ? ` (usage: ${PROG} ${verb.name} ${verb.synopsis})` : ` (${verb.name} takes none)`}`);
    }
    return { kind: 'run', verb, globals, values, operands };
  } catch (e) {
    if (e instanceof UsageError && !(e instanceof VerbUsageError)) throw new VerbUsageError(verb, e.message);
    throw e;
  }
}

/** A usage error of one verb: its help is the one to read. */
export class VerbUsageError extends UsageError {
  constructor(
    readonly verb: Verb,
    message: string,
  ) {
    super(`${verb.name}: ${message}`);
  }
}

/** Where to read about a usage error. */
export function helpHint(e: UsageError, verb?: Verb): string {
  const v = e instanceof VerbUsageError ? e.verb : verb;
  return v === undefined ? `Try '${PROG} --help'.` : `Try '${PROG} ${v.name} --help'.`;
}

function optionsHelp(spec: Record<string, OptionSpec>): string {
  const rows = Object.entries(spec).map(([name, o]) => {
    const left = `${o.short ? `-${o.short}, ` : '    '}--${name}${o.type === 'string' ? ` ${o.value ?? 'VALUE'}` : ''}`;
    return [left, o.help];
  });
  const w = Math.max(...rows.map(([l]) => l!.length));
  return rows.map(([l, h]) => `  ${l!.padEnd(w)}  ${h}`).join('\n');
}

export function mainHelp(verbs: readonly Verb[]): string {
  const names = (v: Verb) => v.name + (v.aliases ? `, ${v.aliases.join(', ')}` : '');
  const w = Math.max(...verbs.map((v) => names(v).length));
  return [
    `Usage: ${PROG} [GLOBAL OPTIONS] VERB [OPTIONS] [ARGS]`,
    '',
    'Talks to a QEMU guest agent (qemu-ga, qga-ts) through its socket on the host, such as the',
    "unix socket of QEMU's chardev for the agent's virtio-serial port.",
    '',
    'Global options (before or after the verb):',
    optionsHelp(GLOBAL_OPTIONS),
    '',
    'Verbs:',
    ...verbs.map((v) => `  ${names(v).padEnd(w)}  ${v.summary}`),
    '',
    `Run '${PROG} VERB --help' for a verb's options and arguments.`,
    "Exit status: 0 success, 1 failure (the agent's error or the client's), 2 usage error,",
    "130 interrupted; exec exits with the guest program's status.",
  ].join('\n');
}

export function verbHelp(v: Verb): string {
  const spec = { ...(v.options ?? {}), help: HELP_OPTION };
  const shadowed = Object.keys(v.options ?? {}).filter((k) => k in GLOBAL_OPTIONS);
  const globals = Object.entries(GLOBAL_OPTIONS)
    .filter(([k]) => k !== 'help' && !shadowed.includes(k))
    .map(([k, o]) => `--${k}${o.type === 'string' ? ` ${o.value}` : ''}`);
  return [
    `Usage: ${PROG} [GLOBAL OPTIONS] ${v.name}${v.options ? ' [OPTIONS]' : ''}${v.synopsis ? ` ${v.synopsis.replace(/^\[OPTIONS\] /, '')}` : ''}`,
    '',
    `${v.summary[0]!.toUpperCase()}${v.summary.slice(1)}.`,
    ...(v.details ? ['', v.details] : []),
    '',
    'Options:',
    optionsHelp(spec),
    '',
    `Global options (${PROG} --help): ${globals.join(', ')}.`,
    ...(shadowed.length > 0 ? [`After the verb, ${shadowed.map((k) => `--${k}`).join(', ')} is this verb's own; give the global one before the verb.`] : []),
  ].join('\n');
}
