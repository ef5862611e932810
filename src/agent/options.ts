// qemu-ga 10.2's command line (docs/compatibility.md §Agent): GNU getopt_long semantics, two passes around the config
// file, and the immediate actions (-h, -V, -b/-a help). API: parseCommandLine(args, ctx) → ParseResult
// ({kind:'run', config} | {kind:'exit', code, stdout, stderr}); getoptLong() and usageText() are exported too.
//
// Hand-written on purpose: the exact getopt_long behaviour (permutation, abbreviations and their
// diagnostics, optional arguments that must be attached, diagnostics printed twice because 10.2
// parses twice) is the product here, and no well-kept npm parser reproduces it.
import { QGA_CONF_DEFAULT, QGA_FSFREEZE_HOOK_DEFAULT, QGA_PIDFILE_DEFAULT, QGA_SERIAL_PATH_DEFAULT,
  QGA_STATEDIR_DEFAULT, QGA_VIRTIO_PATH_DEFAULT, applyDefaults, loadConfigFile, newConfigDraft,
  MAX_CLIENTS_LIMIT, parseMaxClients, parsePatternList, splitRpcList, type AgentConfig } from './config.ts';
import { formatGLibMessage, glibConsoleIsUtf8, nowMicros } from './log.ts';
import { QGA_FULL_VERSION, QGA_VERSION } from './version.ts';
import { parseExecAllow } from '../commands/exec-policy.ts';

/** A struct option entry: has_arg 0 (none), 1 (required), 2 (optional, `--name=value` only). */
export interface LongOption {
  name: string;
  hasArg: 0 | 1 | 2;
  val: string;
  /** qga-ts extensions: matched only when spelled out, so qemu-ga's abbreviations keep working. */
  exactOnly?: boolean;
}

/** qemu-ga 10.2's short option string (Linux). */
export const QGA_SHORT_OPTIONS = 'hVvdc:m:p:l:f:F::b:a:s:t:Dr';

/** qemu-ga 10.2's long options in its table order (the order of "ambiguous" possibilities), plus ours. */
export const QGA_LONG_OPTIONS: readonly LongOption[] = [
  { name: 'help', hasArg: 0, val: 'h' },
  { name: 'version', hasArg: 0, val: 'V' },
  { name: 'config', hasArg: 1, val: 'c' },
  { name: 'dump-conf', hasArg: 0, val: 'D' },
  { name: 'logfile', hasArg: 1, val: 'l' },
  { name: 'pidfile', hasArg: 1, val: 'f' },
  { name: 'fsfreeze-hook', hasArg: 2, val: 'F' },
  { name: 'verbose', hasArg: 0, val: 'v' },
  { name: 'method', hasArg: 1, val: 'm' },
  { name: 'path', hasArg: 1, val: 'p' },
  { name: 'daemonize', hasArg: 0, val: 'd' },
  { name: 'block-rpcs', hasArg: 1, val: 'b' },
  { name: 'allow-rpcs', hasArg: 1, val: 'a' },
  { name: 'statedir', hasArg: 1, val: 't' },
  { name: 'retry-path', hasArg: 0, val: 'r' },
  { name: 'fsfreeze-timeout', hasArg: 1, val: 'fsfreeze-timeout', exactOnly: true },
  { name: 'exec-allow', hasArg: 1, val: 'exec-allow', exactOnly: true },
  { name: 'exec-audit', hasArg: 0, val: 'exec-audit', exactOnly: true },
  { name: 'exclude-interfaces', hasArg: 1, val: 'exclude-interfaces', exactOnly: true },
  { name: 'max-clients', hasArg: 1, val: 'max-clients', exactOnly: true },
];

/** One getopt_long() return: an option (val, optarg) or '?' with the diagnostic getopt printed. */
export type GetoptItem =
  | { opt: string; arg: string | null; diagnostic?: undefined }
  | { opt: '?'; arg?: undefined; diagnostic: string };

/**
 * Every value getopt_long() would return for `args` (argv without argv[0]), in order, with the
 * diagnostics it prints (opterr = 1). Default ordering is PERMUTE (non-options are skipped and
 * parsing goes on); POSIXLY_CORRECT or a leading `+` stops at the first non-option; `--` ends options.
 */
export function getoptLong(
  argv0: string,
  args: readonly string[],
  shortopts: string,
  longopts: readonly LongOption[],
  posixlyCorrect = false,
): GetoptItem[] {
  let spec = shortopts;
  let requireOrder = posixlyCorrect;
  if (spec[0] === '+' || spec[0] === '-') {
    requireOrder = spec[0] === '+';
    spec = spec.slice(1);
  }
  const shortArgs = new Map<string, 0 | 1 | 2>();
  for (let i = 0; i < spec.length; i++) {
    const c = spec[i];
    if (c === ':') continue;
    const n = spec[i + 1] === ':' ? (spec[i + 2] === ':' ? 2 : 1) : 0;
    shortArgs.set(c, n);
    i += n;
  }

  const out: GetoptItem[] = [];
  for (let i = 0; i < args.length; i++) {
    const a = args[i];
    if (a === '--') break;
    if (a[0] !== '-' || a.length === 1) {
      if (requireOrder) break;
      continue; // a stray non-option: permuted to the end, i.e. ignored
    }
    if (a[1] === '-') {
      const r = longOption(argv0, a.slice(2), longopts, args, i);
      out.push(r.item);
      i = r.next;
      continue;
    }
    // A cluster of short options: -vd, -p/path, -F/hook.
    const chars = [...a.slice(1)];
    for (let j = 0; j < chars.length; j++) {
      const c = chars[j];
      const n = c === ':' || c === ';' ? undefined : shortArgs.get(c);
      if (n === undefined) {
        out.push({ opt: '?', diagnostic: `${argv0}: invalid option -- '${c}'\n` });
        continue;
      }
      if (n === 0) {
        out.push({ opt: c, arg: null });
        continue;
      }
      const rest = chars.slice(j + 1).join('');
      if (n === 2) {
        out.push({ opt: c, arg: rest === '' ? null : rest });
      } else if (rest !== '') {
        out.push({ opt: c, arg: rest });
      } else if (i + 1 < args.length) {
        out.push({ opt: c, arg: args[++i] });
      } else {
        out.push({ opt: '?', diagnostic: `${argv0}: option requires an argument -- '${c}'\n` });
      }
      break;
    }
  }
  return out;
}

function longOption(
  argv0: string,
  nextchar: string,
  longopts: readonly LongOption[],
  args: readonly string[],
  i: number,
): { item: GetoptItem; next: number } {
  const eq = nextchar.indexOf('=');
  const name = eq < 0 ? nextchar : nextchar.slice(0, eq);
  let found = longopts.find((o) => o.name === name);
  if (!found) {
    const prefixed = longopts.filter((o) => !o.exactOnly && o.name.startsWith(name));
    if (prefixed.length > 1) {
      const first = prefixed[0];
      const differing = prefixed.filter((o) => o === first || o.hasArg !== first.hasArg || o.val !== first.val);
      if (differing.length > 1) {
        const list = differing.map((o) => ` '--${o.name}'`).join('');
        return {
          item: { opt: '?', diagnostic: `${argv0}: option '--${nextchar}' is ambiguous; possibilities:${list}\n` },
          next: i,
        };
      }
    }
    found = prefixed[0];
  }
  if (!found) return { item: { opt: '?', diagnostic: `${argv0}: unrecognized option '--${nextchar}'\n` }, next: i };
  if (eq >= 0) {
    if (found.hasArg === 0) {
      return { item: { opt: '?', diagnostic: `${argv0}: option '--${found.name}' doesn't allow an argument\n` }, next: i };
    }
    return { item: { opt: found.val, arg: nextchar.slice(eq + 1) }, next: i };
  }
  if (found.hasArg === 1) {
    if (i + 1 < args.length) return { item: { opt: found.val, arg: args[i + 1] }, next: i + 1 };
    return { item: { opt: '?', diagnostic: `${argv0}: option '--${found.name}' requires an argument\n` }, next: i };
  }
  return { item: { opt: found.val, arg: null }, next: i };
}

/** `--help`: qemu-ga 10.2's layout and defaults, in our words. */
export function usageText(argv0: string): string {
  return `Usage: ${argv0} [-m <method> -p <path>] [<options>]
QEMU Guest Agent ${QGA_FULL_VERSION}
qga-ts, a reimplementation of the QEMU Guest Agent for Node.js

  -c, --config=PATH configuration file to read (default is
                    ${QGA_CONF_DEFAULT},
                    or the QGA_CONF environment variable when it is set)
  -m, --method      how to reach the host: unix-listen, virtio-serial,
                    isa-serial or vsock-listen (virtio-serial by default)
  -p, --path        device or socket path (for virtio-serial the default is
                    ${QGA_VIRTIO_PATH_DEFAULT},
                    for isa-serial it is
                    ${QGA_SERIAL_PATH_DEFAULT}).
                    For vsock-listen the address is written
                    <cid>:<port>.
  -l, --logfile     log file path (the log goes to stderr by default)
  -f, --pidfile     pid file used with -d (default is ${QGA_PIDFILE_DEFAULT})
  -F, --fsfreeze-hook
                    run a hook script around filesystem freeze and thaw,
                    with the argument 'freeze' or 'thaw'. The script path
                    is optional (default is ${QGA_FSFREEZE_HOOK_DEFAULT});
                    when given it must be attached to -F, with no space
                    between them (for example: -F/var/run/fsfreezehook.sh)
      --fsfreeze-timeout=SECONDS
                    qga-ts only: thaw automatically when filesystems stay
                    frozen longer than SECONDS (default is 0: never)
      --exec-allow=PATHS
                    qga-ts only: comma-separated absolute paths of the only
                    programs guest-exec may start, compared after the PATH
                    search (default: any program)
      --exec-audit  qga-ts only: log every guest-exec (argv, pid, exit status
                    or signal, duration) to syslog and the log file
      --exclude-interfaces=PATTERNS
                    qga-ts only: comma-separated glob patterns of interface
                    names that guest-network-get-interfaces leaves out (for
                    example: --exclude-interfaces='veth*,docker*,br-*')
      --max-clients=N
                    qga-ts only: with unix-listen or vsock-listen, serve up to
                    N connections at once (1 to ${MAX_CLIENTS_LIMIT}, default 1: one at a
                    time, as qemu-ga). Commands that change the guest still
                    run one at a time. N above 1 is refused with virtio-serial
                    and isa-serial, which are a single stream
  -t, --statedir    directory for the agent's state files (absolute path,
                    default is ${QGA_STATEDIR_DEFAULT})
  -v, --verbose     log everything, debugging messages included
  -V, --version     print the version and exit
  -d, --daemonize   run in the background as a daemon
  -b, --block-rpcs  comma-separated RPCs to disable, with no spaces
                    ("--block-rpcs=help" lists the RPCs)
  -a, --allow-rpcs  comma-separated RPCs to enable, all others disabled,
                    with no spaces ("--allow-rpcs=help" lists the RPCs)
  -D, --dump-conf   print the effective configuration (config file and
                    command line) in qemu-ga.conf format and exit
  -r, --retry-path  when the channel is missing or fails, retry it every few
                    seconds (driver reload, device hot-plug and so on)
  -h, --help        print this help and exit

qga-ts behaves as qemu-ga ${QGA_VERSION}; report differences to the qga-ts project.
`;
}

/** QEMU's is_help_option(). */
const isHelpOption = (s: string): boolean => s === '?' || s === 'help';

export interface ParseContext {
  /** argv[0] as qemu-ga prints it in diagnostics and usage. */
  argv0: string;
  /** For QGA_CONF, POSIXLY_CORRECT and GLib's CHARSET. */
  env: NodeJS.ProcessEnv;
  /** Command names in registration order, for `-b help` / `-a help`. */
  commandNames: readonly string[];
  /** For GLib-format messages (defaults: process.pid, stderr is not a tty, the real clock). */
  pid?: number;
  isatty?: boolean;
  clock?: () => bigint;
}

export type ParseResult =
  | { kind: 'run'; config: AgentConfig }
  | { kind: 'exit'; code: number; stdout: string; stderr: string };

/**
 * qemu-ga 10.2's config_parse() and the defaults of main(): pass 1 finds -c (getopt's diagnostics
 * are printed), the config file is loaded, pass 2 applies the options in order (diagnostics again,
 * then the "Unknown option" hint and exit 1 at the first bad one). Nothing is written or exited
 * here: the caller prints `stdout`/`stderr` and exits with `code`.
 */
export function parseCommandLine(args: readonly string[], ctx: ParseContext): ParseResult {
  const posixly = ctx.env.POSIXLY_CORRECT !== undefined;
  const items = getoptLong(ctx.argv0, args, QGA_SHORT_OPTIONS, QGA_LONG_OPTIONS, posixly);
  let stdout = '';
  let stderr = '';
  const exit = (code: number): ParseResult => ({ kind: 'exit', code, stdout, stderr });

  // Pass 1: only -c matters, but getopt prints every diagnostic on the way.
  let confPath = ctx.env.QGA_CONF ?? QGA_CONF_DEFAULT;
  let confRequired = false;
  for (const it of items) {
    if (it.diagnostic !== undefined) stderr += it.diagnostic;
    else if (it.opt === 'c') {
      confPath = it.arg!;
      confRequired = true;
    }
  }

  const draft = newConfigDraft();
  const loaded = loadConfigFile(draft, confPath, confRequired);
  for (const m of loaded.messages) {
    stderr += formatGLibMessage(m.level, m.text, {
      pid: ctx.pid ?? process.pid,
      micros: (ctx.clock ?? nowMicros)(),
      color: ctx.isatty ?? false,
      utf8: glibConsoleIsUtf8(ctx.env),
      domain: m.domain,
    });
  }
  if (!loaded.ok) return exit(1);

  // Pass 2: the command line overrides scalars; lists accumulate after the config's items.
  for (const it of items) {
    if (it.diagnostic !== undefined) {
      stderr += it.diagnostic;
      stdout += `Unknown option, try '${ctx.argv0} --help' for more information.\n`;
      return exit(1);
    }
    const arg = it.arg;
    switch (it.opt) {
      case 'm':
        draft.method = arg!;
        break;
      case 'p':
        draft.channelPath = arg!;
        break;
      case 'l':
        draft.logFile = arg!;
        break;
      case 'f':
        draft.pidFile = arg!;
        break;
      case 'F':
        draft.fsfreezeHook = arg ?? QGA_FSFREEZE_HOOK_DEFAULT;
        break;
      case 't':
        draft.stateDir = arg!;
        break;
      case 'v':
        draft.verbose = true;
        break;
      case 'V':
        stdout += `QEMU Guest Agent ${QGA_VERSION}\n`;
        return exit(0);
      case 'd':
        draft.daemonize = true;
        break;
      case 'D':
        draft.dumpConf = true;
        break;
      case 'r':
        draft.retryPath = true;
        break;
      case 'b':
      case 'a':
        if (isHelpOption(arg!)) {
          stdout += ctx.commandNames.map((n) => `${n}\n`).join('');
          return exit(0);
        }
        (it.opt === 'b' ? draft.blockRpcs : draft.allowRpcs).push(...splitRpcList(arg!));
        break;
      case 'h':
        stdout += usageText(ctx.argv0);
        return exit(0);
      case 'fsfreeze-timeout': {
        if (!/^[0-9]+$/.test(arg!) || Number(arg) > 2147483647) {
          stderr += `${ctx.argv0}: option '--fsfreeze-timeout' needs a number of seconds, not '${arg}'\n`;
          return exit(1);
        }
        draft.fsfreezeTimeout = Number(arg);
        break;
      }
      case 'exec-allow': {
        const list = parseExecAllow(arg!);
        if ('error' in list) {
          stderr += `${ctx.argv0}: option '--exec-allow': ${list.error}\n`;
          return exit(1);
        }
        // Several --exec-allow options add up.
        draft.execAllow = [...(draft.execAllow ?? []), ...list];
        break;
      }
      case 'exec-audit':
        draft.execAudit = true;
        break;
      case 'exclude-interfaces': {
        const r = parsePatternList(arg!);
        if ('error' in r) {
          stderr += `${ctx.argv0}: option '--exclude-interfaces': ${r.error}\n`;
          return exit(1);
        }
        draft.excludeInterfaces.push(...r.patterns);
        break;
      }
      case 'max-clients': {
        const n = parseMaxClients(arg!);
        if (typeof n !== 'number') {
          stderr += `${ctx.argv0}: option '--max-clients' ${n.error}\n`;
          return exit(1);
        }
        draft.maxClients = n;
        break;
      }
      default:
        // -c was pass 1's; -s (Windows service control) is accepted and ignored on Linux.
        break;
    }
  }
  return { kind: 'run', config: applyDefaults(draft) };
}
