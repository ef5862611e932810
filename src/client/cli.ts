// qga-client: the command line on top of QgaClient.
//
//   qga-client [--socket PATH] [--json] [--timeout S] [--debug] VERB [OPTIONS] [ARGS]
//
// Global options come before the verb; each verb has its own options and --help. Arguments
// are parsed with node:util parseArgs. --json prints the raw return value (exact integers,
// the agent's member order); otherwise people get tables and sentences.
//
// Exit status: 0 success; 1 the agent answered an error, or the client failed (timeout,
// connection, checksum mismatch…); 2 usage error; exec: the guest program's exit code, or
// 128 + the signal number, or 124 when --timeout passed before it exited.

import { parseArgs, type ParseArgsConfig } from 'node:util';
import { existsSync } from 'node:fs';
import { once } from 'node:events';
import { QgaClient } from './client.ts';
import { replyFromWire } from './convert.ts';
import { QgaClientError, QgaCommandError } from './errors.ts';
import { GuestExecTimeoutError, runGuestCommand, shellStatus } from './exec.ts';
import { formatJson, formatNanos, formatSize, formatTable, parseSize } from './format.ts';
import { parseLine } from './framing.ts';
import { createProgress } from './progress.ts';
import { DEFAULT_CHUNK, DEFAULT_WINDOW, MAX_CHUNK, getFile, guestSha256, putFile, readGuestFile, type VerifyMethod } from './transfer.ts';
import type {
  ClientCommandName,
  ClientCommandReplies,
  GuestAgentInfo,
  GuestFilesystemInfo,
  GuestFilesystemTrimResponse,
  GuestLogicalProcessor,
  GuestNetworkInterface,
  GuestOSInfo,
  GuestTimezone,
  GuestUser,
} from '../generated/qapi-client.ts';
import type { JsonValue } from '../json/value.ts';

const PROG = 'qga-client';
const DEFAULT_TIMEOUT = 10;

class UsageError extends Error {}

type OptionSpec = NonNullable<ParseArgsConfig['options']>[string] & { help: string; value?: string };
type Values = Record<string, string | boolean | string[] | undefined>;

interface Ctx {
  readonly json: boolean;
  /** The client, connected on first use. */
  client(): Promise<QgaClient>;
  out(text: string): void;
  err(text: string): void;
  /** Calls a command; the raw value (for --json) and the converted one (for people). */
  fetch<K extends ClientCommandName>(command: K, args?: object): Promise<{ raw: JsonValue | undefined; value: ClientCommandReplies[K] }>;
  printJson(value: unknown): void;
}

interface Verb {
  readonly name: string;
  readonly aliases?: readonly string[];
  readonly synopsis: string;
  readonly summary: string;
  readonly details?: string;
  readonly options?: Record<string, OptionSpec>;
  /** Minimum and maximum number of operands. */
  readonly operands: readonly [number, number];
  /** Options end at the first operand (exec: the program's own options follow). */
  readonly stopAtOperand?: boolean;
  /** Per-call timeout in seconds when --timeout is not given. */
  readonly defaultTimeout?: number;
  /** Never touches the guest's state; the integration tests run these against real agents. */
  run(ctx: Ctx, values: Values, operands: string[]): Promise<number>;
}

// ---- the verbs ----------------------------------------------------------------------------

const VERIFY_HELP = 'how to check the copy: auto, sha256sum (guest-exec sha256sum in the guest), readback, none';

function chunkOption(values: Values): number {
  const text = values['chunk-size'];
  if (text === undefined) return DEFAULT_CHUNK;
  const n = parseSize(String(text));
  if (n === null || n < 1 || n > MAX_CHUNK) throw new UsageError(`invalid --chunk-size '${text}' (1 to ${MAX_CHUNK} bytes; suffixes K, M, G)`);
  return n;
}

const WINDOW_HELP = 'requests in flight (default 1; more only with qga-ts: qemu-ga on virtio-serial loses replies)';

function windowOption(values: Values): number {
  const text = values.window;
  if (text === undefined) return DEFAULT_WINDOW;
  const n = Number(text);
  if (!Number.isSafeInteger(n) || n < 1 || n > 64) throw new UsageError(`invalid --window '${text}' (1 to 64)`);
  return n;
}

function verifyOption(values: Values, allowed: readonly string[]): string {
  const v = String(values.verify ?? 'auto');
  if (!allowed.includes(v)) throw new UsageError(`invalid --verify '${v}' (one of ${allowed.join(', ')})`);
  return v;
}

function yesNo(b: boolean | undefined): string {
  return b === undefined ? '-' : b ? 'yes' : 'no';
}

async function transferSummary(ctx: Ctx, what: string, bytes: number, secs: number, sha256: string, verified: VerifyMethod | null): Promise<void> {
  if (ctx.json) {
    ctx.printJson({ bytes, sha256, seconds: Number(secs.toFixed(3)), verified });
    return;
  }
  const rate = secs > 0 ? `, ${formatSize(bytes / secs)}/s` : '';
  ctx.out(`${what} ${formatSize(bytes)} in ${secs.toFixed(2)} s${rate}; sha256 ${sha256}${verified === null ? ' (not verified)' : `, verified (${verified})`}`);
}

async function noReply(ctx: Ctx, command: ClientCommandName, args?: object): Promise<number> {
  const c = await ctx.client();
  await c.call(command, args);
  if (ctx.json) ctx.printJson({});
  return 0;
}

const VERBS: Verb[] = [
  {
    name: 'ping',
    synopsis: '',
    summary: 'check that the agent answers',
    operands: [0, 0],
    async run(ctx) {
      const { raw } = await ctx.fetch('guest-ping');
      if (ctx.json) ctx.printJson(raw);
      else ctx.out('ok');
      return 0;
    },
  },
  {
    name: 'info',
    synopsis: '',
    summary: "the agent's version and commands (guest-info)",
    operands: [0, 0],
    async run(ctx) {
      const { raw, value } = await ctx.fetch('guest-info');
      if (ctx.json) return ctx.printJson(raw), 0;
      const info = value as GuestAgentInfo;
      ctx.out(`version: ${info.version}`);
      const rows = [...info.supported_commands]
        .sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0))
        .map((c) => [c.name, yesNo(c.enabled), yesNo(c['success-response'])]);
      ctx.out(formatTable(['COMMAND', 'ENABLED', 'SUCCESS-RESPONSE'], rows));
      return 0;
    },
  },
  {
    name: 'exec',
    synopsis: '[OPTIONS] [--] PROGRAM [ARG...]',
    summary: 'run a program in the guest and show its output (guest-exec)',
    details:
      "Runs PROGRAM (searched in the guest's PATH) with output capture, polls guest-exec-status\n" +
      "until it exits, copies its stdout and stderr here, and exits with the program's exit\n" +
      'code (128 + the signal number when a signal ended it). The options end at PROGRAM.',
    options: {
      stdin: { type: 'boolean', help: "pass this command's standard input to the program (input-data)" },
      env: { type: 'string', multiple: true, value: 'NAME=VALUE', help: "an environment entry for the program (repeatable; replaces the agent's environment)" },
      'no-capture': { type: 'boolean', help: 'do not capture the output; only wait for the exit status' },
      timeout: { type: 'string', value: 'S', help: 'stop waiting after S seconds (exit 124; the program keeps running)' },
    },
    operands: [1, Infinity],
    stopAtOperand: true,
    async run(ctx, values, operands) {
      const [program, ...args] = operands as [string, ...string[]];
      let waitTimeout: number | undefined;
      if (values.timeout !== undefined) waitTimeout = secondsOption(String(values.timeout), '--timeout') * 1000;
      const input = values.stdin ? await readAll(process.stdin) : undefined;
      const c = await ctx.client();
      let r;
      try {
        r = await runGuestCommand(c, program, {
          args,
          ...(values.env === undefined ? {} : { env: values.env as string[] }),
          ...(input === undefined ? {} : { input }),
          capture: !values['no-capture'],
          ...(waitTimeout === undefined ? {} : { waitTimeout }),
        });
      } catch (e) {
        if (e instanceof GuestExecTimeoutError) {
          ctx.err(`${PROG}: ${e.message}`);
          return 124;
        }
        throw e;
      }
      if (ctx.json) {
        ctx.printJson(r.rawStatus);
      } else {
        await writeOut(process.stdout, r.stdout);
        await writeOut(process.stderr, r.stderr);
        if (r.outTruncated) ctx.err(`${PROG}: warning: the agent truncated the program's standard output`);
        if (r.errTruncated) ctx.err(`${PROG}: warning: the agent truncated the program's standard error`);
      }
      return shellStatus(r);
    },
  },
  {
    name: 'cat',
    synopsis: 'GUEST_PATH',
    summary: 'write a guest file to standard output',
    details: 'With --json: {"count": N, "buf-b64": "...", "eof": true}, the shape of one guest-file-read answer.',
    options: {
      'chunk-size': { type: 'string', value: 'BYTES', help: 'bytes per guest-file-read (default 1M)' },
      window: { type: 'string', value: 'N', help: WINDOW_HELP },
    },
    operands: [1, 1],
    async run(ctx, values, [path]) {
      const options = { chunkSize: chunkOption(values), window: windowOption(values) };
      const c = await ctx.client();
      const parts: Buffer[] = [];
      const r = await readGuestFile(c, path!, async (b) => (ctx.json ? void parts.push(b) : writeOut(process.stdout, b)), options);
      if (ctx.json) ctx.printJson({ count: r.bytes, 'buf-b64': Buffer.concat(parts).toString('base64'), eof: true });
      return 0;
    },
  },
  {
    name: 'get',
    synopsis: 'GUEST_PATH LOCAL_PATH',
    summary: 'copy a guest file here',
    details:
      "Reads the guest file in chunks into LOCAL_PATH, then (--verify auto) compares its SHA-256\n" +
      "with the guest's sha256sum when guest-exec is allowed.",
    options: {
      'chunk-size': { type: 'string', value: 'BYTES', help: 'bytes per guest-file-read (default 1M; suffixes K, M)' },
      window: { type: 'string', value: 'N', help: WINDOW_HELP },
      verify: { type: 'string', value: 'HOW', help: 'auto (sha256sum when possible), sha256sum, none' },
      'no-progress': { type: 'boolean', help: 'no progress bar' },
    },
    operands: [2, 2],
    async run(ctx, values, [guest, local]) {
      const chunkSize = chunkOption(values);
      const window = windowOption(values);
      const verify = verifyOption(values, ['auto', 'sha256sum', 'none']);
      const c = await ctx.client();
      const bar = createProgress('get', process.stderr, process.stderr.isTTY === true && !values['no-progress'] && !ctx.json);
      const t0 = performance.now();
      let r;
      try {
        r = await getFile(c, guest!, local!, { chunkSize, window, onProgress: (d, t) => bar.update(d, t) });
      } finally {
        bar.finish();
      }
      const secs = (performance.now() - t0) / 1000;
      const check = verify === 'none' ? null : await guestSha256(c, guest!, ['sha256sum']);
      if (check === null && verify === 'sha256sum') throw new QgaClientError('cannot verify: sha256sum did not run in the guest');
      if (check !== null && check.sha256 !== r.sha256) throw new QgaClientError(`checksum mismatch: received ${r.sha256}, the guest file has ${check.sha256}`);
      await transferSummary(ctx, 'received', r.bytes, secs, r.sha256, check?.method ?? null);
      return 0;
    },
  },
  {
    name: 'put',
    synopsis: 'LOCAL_PATH GUEST_PATH',
    summary: 'copy a local file to the guest',
    details:
      'Writes LOCAL_PATH to GUEST_PATH (created or truncated) in chunks, then checks it: --verify\n' +
      "auto runs sha256sum in the guest when guest-exec is allowed and otherwise reads the file\n" +
      'back, comparing SHA-256 sums.',
    options: {
      'chunk-size': { type: 'string', value: 'BYTES', help: 'bytes per guest-file-write (default 1M; suffixes K, M)' },
      window: { type: 'string', value: 'N', help: WINDOW_HELP },
      verify: { type: 'string', value: 'HOW', help: VERIFY_HELP },
      'no-progress': { type: 'boolean', help: 'no progress bar' },
    },
    operands: [2, 2],
    async run(ctx, values, [local, guest]) {
      const chunkSize = chunkOption(values);
      const window = windowOption(values);
      const verify = verifyOption(values, ['auto', 'sha256sum', 'readback', 'none']);
      if (!existsSync(local!)) throw new QgaClientError(`${local}: no such file`);
      const c = await ctx.client();
      const bar = createProgress('put', process.stderr, process.stderr.isTTY === true && !values['no-progress'] && !ctx.json);
      const t0 = performance.now();
      let r;
      try {
        r = await putFile(c, local!, guest!, { chunkSize, window, onProgress: (d, t) => bar.update(d, t) });
      } finally {
        bar.finish();
      }
      const secs = (performance.now() - t0) / 1000;
      const methods: VerifyMethod[] = verify === 'auto' ? ['sha256sum', 'readback'] : verify === 'none' ? [] : [verify as VerifyMethod];
      const check = methods.length === 0 ? null : await guestSha256(c, guest!, methods, { chunkSize });
      if (check === null && methods.length > 0) throw new QgaClientError(`cannot verify: ${verify} did not work in the guest`);
      if (check !== null && check.sha256 !== r.sha256) throw new QgaClientError(`checksum mismatch: sent ${r.sha256}, the guest file has ${check.sha256}`);
      await transferSummary(ctx, 'sent', r.bytes, secs, r.sha256, check?.method ?? null);
      return 0;
    },
  },
  {
    name: 'fsinfo',
    aliases: ['df'],
    synopsis: '',
    summary: 'mounted filesystems, their sizes and disks (guest-get-fsinfo)',
    operands: [0, 0],
    async run(ctx) {
      const { raw, value } = await ctx.fetch('guest-get-fsinfo');
      if (ctx.json) return ctx.printJson(raw), 0;
      const rows = (value as GuestFilesystemInfo[]).map((fs) => {
        const total = fs['total-bytes'];
        const used = fs['used-bytes'];
        const pct = total !== undefined && used !== undefined && total > 0n ? `${Math.ceil((Number(used) * 100) / Number(total))}%` : '-';
        const disks = fs.disk.map((d) => [d['bus-type'], d.dev ?? d.serial].filter((x) => x !== undefined).join(':')).join(',');
        return [fs.name, fs.type, total === undefined ? '-' : formatSize(total), used === undefined ? '-' : formatSize(used), pct, fs.mountpoint, disks || '-'];
      });
      ctx.out(formatTable(['FILESYSTEM', 'TYPE', 'SIZE', 'USED', 'USE%', 'MOUNTED ON', 'DISKS'], rows));
      return 0;
    },
  },
  {
    name: 'ifconfig',
    synopsis: '',
    summary: 'network interfaces and addresses (guest-network-get-interfaces)',
    operands: [0, 0],
    async run(ctx) {
      const { raw, value } = await ctx.fetch('guest-network-get-interfaces');
      if (ctx.json) return ctx.printJson(raw), 0;
      const rows: string[][] = [];
      for (const i of value as GuestNetworkInterface[]) {
        const addrs = i['ip-addresses'] ?? [];
        const hw = i['hardware-address'] ?? '-';
        if (addrs.length === 0) rows.push([i.name, hw, '-', '-']);
        addrs.forEach((a, n) => rows.push([n === 0 ? i.name : '', n === 0 ? hw : '', a['ip-address-type'], `${a['ip-address']}/${a.prefix}`]));
      }
      ctx.out(formatTable(['INTERFACE', 'HWADDR', 'FAMILY', 'ADDRESS'], rows));
      return 0;
    },
  },
  {
    name: 'osinfo',
    synopsis: '',
    summary: 'operating system and kernel (guest-get-osinfo)',
    operands: [0, 0],
    async run(ctx) {
      const { raw, value } = await ctx.fetch('guest-get-osinfo');
      if (ctx.json) return ctx.printJson(raw), 0;
      const entries = Object.entries(value as GuestOSInfo).filter(([, v]) => v !== undefined);
      const w = Math.max(0, ...entries.map(([k]) => k.length));
      ctx.out(entries.map(([k, v]) => `${`${k}:`.padEnd(w + 1)} ${String(v)}`).join('\n'));
      return 0;
    },
  },
  {
    name: 'users',
    synopsis: '',
    summary: 'logged-in users (guest-get-users)',
    operands: [0, 0],
    async run(ctx) {
      const { raw, value } = await ctx.fetch('guest-get-users');
      if (ctx.json) return ctx.printJson(raw), 0;
      const rows = (value as GuestUser[]).map((u) => [u.user, u.domain ?? '-', new Date(u['login-time'] * 1000).toISOString()]);
      ctx.out(formatTable(['USER', 'DOMAIN', 'LOGIN TIME (UTC)'], rows));
      return 0;
    },
  },
  {
    name: 'time',
    synopsis: '',
    summary: "the guest's clock and its difference to this host's (guest-get-time)",
    details: 'With --json: the guest-get-time return value, nanoseconds since the epoch.',
    operands: [0, 0],
    async run(ctx) {
      const before = process.hrtime.bigint();
      const hostBefore = BigInt(Date.now()) * 1_000_000n;
      const { raw, value } = await ctx.fetch('guest-get-time');
      if (ctx.json) return ctx.printJson(raw), 0;
      const rtt = process.hrtime.bigint() - before;
      const guest = value as bigint;
      const host = hostBefore + rtt / 2n;
      const diff = Number(guest - host) / 1e9;
      ctx.out(`guest time: ${formatNanos(guest)} (${guest} ns)`);
      ctx.out(`host time:  ${formatNanos(host)}`);
      ctx.out(`difference: ${diff >= 0 ? '+' : ''}${diff.toFixed(3)} s (guest - host, round trip ${(Number(rtt) / 1e6).toFixed(1)} ms)`);
      try {
        const tz = (await (await ctx.client()).guestGetTimezone()) as GuestTimezone;
        const off = Number(tz.offset);
        const sign = off < 0 ? '-' : '+';
        const a = Math.abs(off);
        ctx.out(`time zone:  ${tz.zone ?? '?'} (UTC${sign}${String(Math.floor(a / 3600)).padStart(2, '0')}:${String(Math.floor((a % 3600) / 60)).padStart(2, '0')})`);
      } catch (e) {
        if (!(e instanceof QgaCommandError)) throw e;
      }
      return 0;
    },
  },
  {
    name: 'vcpus',
    synopsis: '',
    summary: 'virtual CPUs (guest-get-vcpus)',
    operands: [0, 0],
    async run(ctx) {
      const { raw, value } = await ctx.fetch('guest-get-vcpus');
      if (ctx.json) return ctx.printJson(raw), 0;
      const rows = (value as GuestLogicalProcessor[]).map((v) => [String(v['logical-id']), yesNo(v.online), yesNo(v['can-offline'])]);
      ctx.out(formatTable(['LOGICAL-ID', 'ONLINE', 'CAN-OFFLINE'], rows));
      return 0;
    },
  },
  {
    name: 'freeze',
    synopsis: '[MOUNTPOINT...]',
    summary: "freeze the guest's filesystems, or only these (guest-fsfreeze-freeze[-list])",
    details: 'Thaw them with the thaw verb. The per-call timeout defaults to 1 hour here.',
    operands: [0, Infinity],
    defaultTimeout: 3600,
    async run(ctx, _values, mountpoints) {
      const { raw, value } =
        mountpoints.length === 0 ? await ctx.fetch('guest-fsfreeze-freeze') : await ctx.fetch('guest-fsfreeze-freeze-list', { mountpoints });
      if (ctx.json) return ctx.printJson(raw), 0;
      ctx.out(`${value} filesystems frozen`);
      return 0;
    },
  },
  {
    name: 'thaw',
    synopsis: '',
    summary: "thaw the guest's filesystems (guest-fsfreeze-thaw)",
    details: 'The per-call timeout defaults to 3 minutes here.',
    operands: [0, 0],
    defaultTimeout: 180,
    async run(ctx) {
      const { raw, value } = await ctx.fetch('guest-fsfreeze-thaw');
      if (ctx.json) return ctx.printJson(raw), 0;
      ctx.out(`${value} filesystems thawed`);
      return 0;
    },
  },
  {
    name: 'frozen',
    synopsis: '',
    summary: 'whether the filesystems are frozen: prints thawed or frozen (guest-fsfreeze-status)',
    operands: [0, 0],
    async run(ctx) {
      const { raw, value } = await ctx.fetch('guest-fsfreeze-status');
      if (ctx.json) return ctx.printJson(raw), 0;
      ctx.out(String(value));
      return 0;
    },
  },
  {
    name: 'fstrim',
    synopsis: '',
    summary: 'discard unused blocks of the mounted filesystems (guest-fstrim)',
    details: 'The per-call timeout defaults to 10 minutes here.',
    options: { minimum: { type: 'string', value: 'BYTES', help: 'skip free extents smaller than this' } },
    operands: [0, 0],
    defaultTimeout: 600,
    async run(ctx, values) {
      let args: object | undefined;
      if (values.minimum !== undefined) {
        const n = parseSize(String(values.minimum));
        if (n === null) throw new UsageError(`invalid --minimum '${values.minimum}'`);
        args = { minimum: n };
      }
      const { raw, value } = await ctx.fetch('guest-fstrim', args);
      if (ctx.json) return ctx.printJson(raw), 0;
      const rows = (value as GuestFilesystemTrimResponse).paths.map((p) => [
        p.path,
        p.trimmed === undefined ? '-' : formatSize(p.trimmed),
        p.minimum === undefined ? '-' : String(p.minimum),
        p.error ?? '',
      ]);
      ctx.out(formatTable(['PATH', 'TRIMMED', 'MINIMUM', 'ERROR'], rows));
      return 0;
    },
  },
  {
    name: 'shutdown',
    synopsis: '[--mode powerdown|halt|reboot]',
    summary: 'shut the guest down (guest-shutdown; no answer on success)',
    options: { mode: { type: 'string', value: 'MODE', help: 'powerdown (default), halt or reboot' } },
    operands: [0, 0],
    async run(ctx, values) {
      return noReply(ctx, 'guest-shutdown', values.mode === undefined ? undefined : { mode: String(values.mode) });
    },
  },
  {
    name: 'reboot',
    synopsis: '',
    summary: 'reboot the guest (guest-shutdown mode reboot)',
    operands: [0, 0],
    async run(ctx) {
      return noReply(ctx, 'guest-shutdown', { mode: 'reboot' });
    },
  },
  {
    name: 'suspend',
    synopsis: 'disk|ram|hybrid',
    summary: 'suspend the guest (guest-suspend-*; no answer on success)',
    operands: [1, 1],
    async run(ctx, _values, [mode]) {
      if (mode !== 'disk' && mode !== 'ram' && mode !== 'hybrid') throw new UsageError(`invalid suspend mode '${mode}' (disk, ram or hybrid)`);
      return noReply(ctx, `guest-suspend-${mode}`);
    },
  },
  {
    name: 'call',
    synopsis: 'COMMAND [JSON-ARGS]',
    summary: 'send any command; prints its return value as JSON',
    details:
      "JSON-ARGS is the command's arguments object, e.g. '{\"handle\": 1000, \"count\": 4096}'.\n" +
      'Integers are kept exact. Commands that answer nothing on success print {}.',
    operands: [1, 2],
    async run(ctx, _values, [command, argsText]) {
      let args: Map<string, JsonValue> | undefined;
      if (argsText !== undefined) {
        const p = parseLine(Buffer.from(argsText, 'utf8'));
        if (!p.ok) throw new UsageError(`JSON-ARGS is not valid JSON: ${p.error}`);
        if (!(p.value instanceof Map)) throw new UsageError('JSON-ARGS must be a JSON object');
        args = p.value;
      }
      const c = await ctx.client();
      const raw = await c.call(command!, args);
      ctx.printJson(raw === undefined ? {} : raw);
      return 0;
    },
  },
];

// ---- argument parsing ---------------------------------------------------------------------

const GLOBAL_OPTIONS: Record<string, OptionSpec> = {
  socket: { type: 'string', short: 's', value: 'PATH', help: 'the agent\'s socket: a unix socket path, or host:port (default: $QGA_CLIENT_ADDRESS)' },
  json: { type: 'boolean', help: 'print the raw return value as JSON' },
  timeout: { type: 'string', short: 't', value: 'S', help: `seconds to wait for each answer (default ${DEFAULT_TIMEOUT}; 0: forever)` },
  debug: { type: 'boolean', help: 'trace the wire traffic on standard error' },
  help: { type: 'boolean', short: 'h', help: 'show this help' },
};

const HELP_OPTION: OptionSpec = { type: 'boolean', short: 'h', help: 'show this help' };

function parserOptions(spec: Record<string, OptionSpec>): NonNullable<ParseArgsConfig['options']> {
  const out: NonNullable<ParseArgsConfig['options']> = {};
  for (const [k, { help: _h, value: _v, ...o }] of Object.entries(spec)) out[k] = o;
  return out;
}

/**
 * Parses options up to the first operand (when `stop`), or all of them; the operands are
 * returned verbatim. Unknown options and missing values are usage errors.
 */
function parseSection(args: string[], spec: Record<string, OptionSpec>, stop: boolean): { values: Values; rest: string[] } {
  const options = parserOptions(spec);
  let head = args;
  let rest: string[] = [];
  if (stop) {
    const { tokens } = parseArgs({ args, options, strict: false, allowPositionals: true, tokens: true });
    const t = tokens.find((x) => x.kind === 'positional' || x.kind === 'option-terminator');
    if (t !== undefined) {
      head = args.slice(0, t.index);
      rest = args.slice(t.kind === 'option-terminator' ? t.index + 1 : t.index);
    }
  }
  try {
    const r = parseArgs({ args: head, options, strict: true, allowPositionals: !stop });
    return { values: r.values as Values, rest: stop ? rest : r.positionals };
  } catch (e) {
    throw new UsageError((e as Error).message);
  }
}

function optionsHelp(spec: Record<string, OptionSpec>): string {
  const rows = Object.entries(spec).map(([name, o]) => {
    const left = `${o.short ? `-${o.short}, ` : '    '}--${name}${o.type === 'string' ? ` ${o.value ?? 'VALUE'}` : ''}`;
    return [left, o.help];
  });
  const w = Math.max(...rows.map(([l]) => l!.length));
  return rows.map(([l, h]) => `  ${l!.padEnd(w)}  ${h}`).join('\n');
}

function mainHelp(): string {
  const w = Math.max(...VERBS.map((v) => (v.name + (v.aliases ? `, ${v.aliases.join(', ')}` : '')).length));
  return [
    `Usage: ${PROG} [--socket PATH] [--json] [--timeout S] VERB [OPTIONS] [ARGS]`,
    '',
    'Talks to a QEMU guest agent (qemu-ga, qga-ts) through its socket on the host, such as the',
    "unix socket of QEMU's chardev for the agent's virtio-serial port.",
    '',
    'Global options (before the verb):',
    optionsHelp(GLOBAL_OPTIONS),
    '',
    'Verbs:',
    ...VERBS.map((v) => `  ${(v.name + (v.aliases ? `, ${v.aliases.join(', ')}` : '')).padEnd(w)}  ${v.summary}`),
    '',
    `Run '${PROG} VERB --help' for a verb's options and arguments.`,
    'Exit status: 0 success, 1 failure (the agent\'s error or the client\'s), 2 usage error;',
    "exec exits with the guest program's status.",
  ].join('\n');
}

function verbHelp(v: Verb): string {
  const spec = { ...(v.options ?? {}), help: HELP_OPTION };
  return [
    `Usage: ${PROG} [GLOBAL OPTIONS] ${v.name}${v.options ? ' [OPTIONS]' : ''}${v.synopsis ? ` ${v.synopsis.replace(/^\[OPTIONS\] /, '')}` : ''}`,
    '',
    `${v.summary[0]!.toUpperCase()}${v.summary.slice(1)}.`,
    ...(v.details ? ['', v.details] : []),
    '',
    'Options:',
    optionsHelp(spec),
    '',
    `Global options (${PROG} --help): --socket PATH, --json, --timeout S, --debug.`,
  ].join('\n');
}

function secondsOption(text: string, name: string): number {
  const n = Number(text);
  if (text.trim() === '' || !Number.isFinite(n) || n < 0) throw new UsageError(`invalid ${name} '${text}' (seconds, a number >= 0)`);
  return n;
}

function findVerb(name: string): Verb | undefined {
  return VERBS.find((v) => v.name === name || v.aliases?.includes(name));
}

// ---- I/O ----------------------------------------------------------------------------------

async function writeOut(stream: NodeJS.WritableStream, data: Buffer | string): Promise<void> {
  if (data.length === 0) return;
  if (!stream.write(data)) await once(stream, 'drain');
}

async function readAll(stream: NodeJS.ReadableStream): Promise<Buffer> {
  const parts: Buffer[] = [];
  for await (const chunk of stream) parts.push(typeof chunk === 'string' ? Buffer.from(chunk) : (chunk as Buffer));
  return Buffer.concat(parts);
}

// ---- main ---------------------------------------------------------------------------------

export async function main(argv: string[]): Promise<number> {
  const out = (t: string) => void process.stdout.write(`${t}\n`);
  const err = (t: string) => void process.stderr.write(`${t}\n`);
  let client: QgaClient | null = null;
  try {
    const { values: g, rest } = parseSection(argv, GLOBAL_OPTIONS, true);
    if (g.help || rest.length === 0) {
      if (!g.help) {
        err(mainHelp());
        return 2;
      }
      out(mainHelp());
      return 0;
    }
    let [verbName, ...verbArgs] = rest as [string, ...string[]];
    if (verbName === 'help') {
      const v = verbArgs[0] === undefined ? undefined : findVerb(verbArgs[0]);
      if (verbArgs[0] !== undefined && v === undefined) throw new UsageError(`unknown verb '${verbArgs[0]}'`);
      out(v === undefined ? mainHelp() : verbHelp(v));
      return 0;
    }
    const verb = findVerb(verbName);
    if (verb === undefined) throw new UsageError(`unknown verb '${verbName}'`);
    const spec = { ...(verb.options ?? {}), help: HELP_OPTION };
    const { values, rest: operands } = parseSection(verbArgs, spec, verb.stopAtOperand ?? false);
    if (values.help) {
      out(verbHelp(verb));
      return 0;
    }
    const [min, max] = verb.operands;
    if (operands.length < min || operands.length > max) {
      throw new UsageError(
        `${verb.name}: ${operands.length < min ? 'missing' : 'too many'} arguments${verb.synopsis ? ` (usage: ${verb.name} ${verb.synopsis})` : ''}`,
      );
    }
    const address = (g.socket as string | undefined) ?? process.env.QGA_CLIENT_ADDRESS;
    const timeoutS = g.timeout === undefined ? (verb.defaultTimeout ?? DEFAULT_TIMEOUT) : secondsOption(String(g.timeout), '--timeout');
    const json = g.json === true;
    const ctx: Ctx = {
      json,
      out,
      err,
      async client() {
        if (client !== null) return client;
        if (address === undefined || address === '') throw new UsageError('no agent socket: give --socket PATH or set QGA_CLIENT_ADDRESS');
        client = new QgaClient({
          address,
          timeout: timeoutS * 1000,
          syncTimeout: Math.min(timeoutS === 0 ? 10_000 : timeoutS * 1000, 10_000),
          ...(g.debug ? { trace: (ev: string, text: string) => err(`[${ev}] ${JSON.stringify(text)}`) } : {}),
        });
        await client.open();
        return client;
      },
      async fetch(command, args) {
        const c = await ctx.client();
        const raw = await c.call(command, args);
        return { raw, value: replyFromWire(command, raw) as never };
      },
      printJson(value) {
        out(formatJson(value));
      },
    };
    return await verb.run(ctx, values, operands);
  } catch (e) {
    if (e instanceof UsageError) {
      err(`${PROG}: ${e.message}`);
      err(`Try '${PROG} --help'.`);
      return 2;
    }
    if (e instanceof QgaCommandError) {
      err(`${PROG}: ${e.command === null ? '' : `${e.command}: `}${e.desc}`);
      return 1;
    }
    if (e instanceof QgaClientError) {
      err(`${PROG}: ${e.message}`);
      return 1;
    }
    const code = (e as NodeJS.ErrnoException).code;
    if (typeof code === 'string' && e instanceof Error) {
      err(`${PROG}: ${e.message}`);
      return 1;
    }
    throw e;
  } finally {
    await (client as QgaClient | null)?.close();
  }
}

function isEntryPoint(): boolean {
  const script = process.argv[1];
  if (script === undefined) return false;
  return /(?:^|[\\/])(?:cli\.ts|client\.js|qga-client)$/.test(script);
}

if (isEntryPoint()) {
  process.stdout.on('error', (e: NodeJS.ErrnoException) => {
    if (e.code === 'EPIPE') process.exit(process.exitCode ?? 0);
    throw e;
  });
  main(process.argv.slice(2)).then(
    (code) => {
      process.exitCode = code;
    },
    (e: unknown) => {
      process.stderr.write(`${PROG}: ${e instanceof Error ? (e.stack ?? e.message) : String(e)}\n`);
      process.exitCode = 1;
    },
  );
}

export { VERBS };
