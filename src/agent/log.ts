// qemu-ga's logging (docs/compatibility.md §Agent): GLib's default stderr format until install(), then qemu-ga's
// `<sec>.<usec>: <level>: <msg>` lines to stderr or an append-mode file, audit lines ("syslog" domain)
// to syslog, and pause()/resume() for the frozen state. API: new AgentLogger(opts), .install({verbose}),
// .openFile(path) / .deferFile(path), .pause() / .resume(), .error() … .debug(), .audit(msg, level?),
// .record(msg) (the exec audit's copy in the log file).
//
// Writes are synchronous small appends (fs.writeSync of one line), as qemu-ga's fprintf+fflush: lines
// stay ordered and are on disk before a process.exit(). They cannot stall on a frozen filesystem
// because nothing at all is written while paused, and an EAGAIN on a non-blocking stderr pipe hands
// the rest to Node's asynchronous stream instead of spinning.
import * as fs from 'node:fs';
import { realtimeNs } from '../platform/linux/clock.ts';
import { isatty } from '../platform/linux/isatty.ts';
import { LOG_USER, openlog, syslog } from '../platform/linux/libc.ts';
import { strerror } from '../platform/linux/strerror.ts';

export type LogLevel = 'error' | 'critical' | 'warning' | 'message' | 'info' | 'debug';

const LEVELS: readonly LogLevel[] = ['error', 'critical', 'warning', 'message', 'info', 'debug'];

/** syslog(3) priorities for qemu-ga 10.2's glib_log_level_to_system(). */
export const SYSLOG_PRIORITY: Readonly<Record<LogLevel, number>> = {
  error: 3, // LOG_ERR
  critical: 2, // LOG_CRIT
  warning: 4, // LOG_WARNING
  message: 5, // LOG_NOTICE
  info: 6, // LOG_INFO
  debug: 7, // LOG_DEBUG
};

/**
 * Wall-clock time in microseconds since the epoch, as GLib's g_get_real_time(): one
 * clock_gettime(CLOCK_REALTIME). Without koffi (the agent then refuses to start, and says so in
 * the log) the line still gets a time, from Date.now().
 */
export function nowMicros(): bigint {
  try {
    return realtimeNs() / 1000n;
  } catch {
    return BigInt(Date.now()) * 1000n;
  }
}

/** qemu-ga's log line: `g_date_time_format(now_utc, "%s.%f")`, level name, message. */
export function formatLogLine(level: LogLevel, message: string, micros: bigint): string {
  const sec = micros / 1_000_000n;
  const usec = (micros % 1_000_000n).toString().padStart(6, '0');
  return `${sec}.${usec}: ${level}: ${message}\n`;
}

export interface GLibFormatOptions {
  pid: number;
  /** Microseconds since the epoch; shown as local HH:MM:SS.mmm. */
  micros: bigint;
  /** GLib colours the prefix when stderr is a terminal. */
  color: boolean;
  /** Whether GLib thinks the console charset is UTF-8; if not, non-ASCII characters become `?`. */
  utf8: boolean;
  /** Log domain (e.g. `GLib`); undefined for qemu-ga's own messages. */
  domain?: string;
}

const GLIB_NAMES: Record<LogLevel, string> = {
  error: 'ERROR',
  critical: 'CRITICAL',
  warning: 'WARNING',
  message: 'Message',
  info: 'INFO',
  debug: 'DEBUG',
};
const GLIB_COLORS: Record<LogLevel, string> = {
  error: '\x1b[1;31m',
  critical: '\x1b[1;35m',
  warning: '\x1b[1;33m',
  message: '\x1b[1;32m',
  info: '\x1b[1;32m',
  debug: '\x1b[1;32m',
};
const isAlert = (l: LogLevel): boolean => l === 'error' || l === 'critical' || l === 'warning';

/**
 * GLib's default log writer (g_log_writer_format_fields), e.g.
 * `\n** (process:<pid>): CRITICAL **: HH:MM:SS.mmm: <msg>\n`.
 */
export function formatGLibMessage(level: LogLevel, message: string, o: GLibFormatOptions): string {
  let s = isAlert(level) ? '\n' : '';
  if (o.domain === undefined) s += '** ';
  if (level !== 'message' && level !== 'info') s += `(process:${o.pid}): `;
  if (o.domain !== undefined) s += `${o.domain}-`;
  s += o.color ? `${GLIB_COLORS[level]}${GLIB_NAMES[level]}\x1b[0m` : GLIB_NAMES[level];
  if (isAlert(level)) s += ' **';
  const d = new Date(Number(o.micros / 1000n));
  const two = (n: number): string => String(n).padStart(2, '0');
  const time = `${two(d.getHours())}:${two(d.getMinutes())}:${two(d.getSeconds())}.${String(d.getMilliseconds()).padStart(3, '0')}`;
  s += ': ' + (o.color ? `\x1b[34m${time}\x1b[0m` : time) + ': ';
  return s + glibConsoleText(message, o.utf8) + '\n';
}

/** GLib's escape_string() (control characters as \u00XX) and the conversion to the console charset. */
function glibConsoleText(message: string, utf8: boolean): string {
  let out = '';
  const chars = [...message];
  for (let i = 0; i < chars.length; i++) {
    const c = chars[i];
    const cp = c.codePointAt(0)!;
    const safe =
      cp === 0x0d
        ? chars[i + 1] === '\n'
        : !((cp < 0x20 && cp !== 0x09 && cp !== 0x0a) || cp === 0x7f || (cp >= 0x80 && cp < 0xa0));
    if (!safe) out += `\\u${cp.toString(16).padStart(4, '0')}`;
    else if (!utf8 && cp >= 0x80) out += '?';
    else out += c;
  }
  return out;
}

/**
 * GLib decides the console charset from $CHARSET first, then nl_langinfo(CODESET). qemu-ga never
 * calls setlocale(), so it runs in the C locale (ASCII): only CHARSET=…UTF-8… gives curly quotes.
 */
export function glibConsoleIsUtf8(env: NodeJS.ProcessEnv): boolean {
  const cs = env.CHARSET;
  return cs !== undefined && cs !== '' && cs.includes('UTF-8');
}

export class LogFileError extends Error {}

export interface LoggerOptions {
  pid?: number;
  /** Where "stderr" is (default 2). */
  stderrFd?: number;
  /** Whether stderr is a terminal, for GLib's colours (default: tty.isatty(stderrFd)). */
  isatty?: boolean;
  /** For $CHARSET (default process.env). */
  env?: NodeJS.ProcessEnv;
  /** Microseconds since the epoch (default nowMicros). */
  clock?: () => bigint;
  /** Audit sink (default: libc syslog with ident `qemu-ga`; koffi is loaded on the first audit line). */
  syslog?: (priority: number, line: string) => void;
}

/** glibc's _PATH_LOG. */
export const PATH_LOG = '/dev/log';

export interface SyslogDeps {
  /** fs.statSync(path, { throwIfNoEntry: false }): undefined when the path does not resolve. */
  stat(path: string): unknown;
  openlog(): void;
  syslog(priority: number, line: string): void;
  /** Runs `fn` once the current synchronous run is over (queueMicrotask). */
  defer(fn: () => void): void;
}

/**
 * libc syslog(3) as qemu-ga uses it, minus the calls that cannot deliver anything.
 *
 * Without a /dev/log to connect to, glibc's syslog() opens a socket, fails to connect it, closes it
 * and drops the line (qemu-ga sets no LOG_CONS): three system calls for every audit line, most of
 * what a guest-ping costs. Dropping the line here when /dev/log does not resolve is
 * indistinguishable, with two conditions:
 *  - glibc holds no connection from an earlier call (a connected socket outlives an unlinked
 *    /dev/log), so the shortcut only applies until the first real call;
 *  - one stat() answers for the rest of the current synchronous run: the lines of a batch of
 *    pipelined requests are then all dropped at the instant of that stat, and nothing the run does
 *    (its replies are written after it) can tell them apart from lines logged at that instant.
 * Any other stat outcome (present, or an error other than "does not resolve") makes the real call.
 */
export function gatedSyslog(deps: SyslogDeps): (priority: number, line: string) => void {
  let real = false; // a real syslog() was made: glibc may be connected from now on
  let absent = false; // /dev/log did not resolve at the stat of the current synchronous run
  const forget = (): void => {
    absent = false;
  };
  return (priority, line) => {
    if (!real) {
      if (absent) return;
      let missing = false;
      try {
        missing = deps.stat(PATH_LOG) === undefined;
      } catch {
        missing = false;
      }
      if (missing) {
        absent = true;
        deps.defer(forget);
        return;
      }
      real = true;
      deps.openlog();
    }
    deps.syslog(priority, line);
  };
}

/** Facility LOG_USER; ident `qemu-ga`, not `node` (openlog() before the first real call). */
const defaultSyslog = gatedSyslog({
  stat: (path) => fs.statSync(path, { throwIfNoEntry: false }),
  openlog: () => openlog('qemu-ga', 0, LOG_USER),
  syslog,
  defer: queueMicrotask,
});

export class AgentLogger {
  private readonly pid: number;
  private readonly stderrFd: number;
  private readonly color: boolean;
  private readonly utf8: boolean;
  private readonly clock: () => bigint;
  private readonly syslogSink: (priority: number, line: string) => void;

  private installed = false;
  private mask = new Set<LogLevel>(['error', 'critical']);
  private targetFd: number;
  private fileFd: number | null = null;
  private deferredPath: string | null = null;
  private enabled = true;

  constructor(opts: LoggerOptions = {}) {
    this.pid = opts.pid ?? process.pid;
    this.stderrFd = opts.stderrFd ?? 2;
    this.color = opts.isatty ?? isatty(this.stderrFd);
    this.utf8 = glibConsoleIsUtf8(opts.env ?? process.env);
    this.clock = opts.clock ?? nowMicros;
    this.syslogSink = opts.syslog ?? defaultSyslog;
    this.targetFd = this.stderrFd;
  }

  /**
   * g_log_set_default_handler(ga_log): from now on lines use qemu-ga's format. `verbose` logs every
   * level; otherwise only error and critical. Logging starts enabled.
   */
  install(opts: { verbose: boolean }): void {
    this.installed = true;
    this.enabled = true;
    this.mask = new Set(opts.verbose ? LEVELS : ['error', 'critical']);
  }

  get isInstalled(): boolean {
    return this.installed;
  }

  /** Log to `path` (fopen "a") instead of stderr. Throws LogFileError(`unable to open specified log file: …`). */
  openFile(path: string): void {
    let fd: number;
    try {
      fd = fs.openSync(path, 'a');
    } catch (e) {
      throw new LogFileError(`unable to open specified log file: ${strerror(e)}`);
    }
    this.closeFile();
    this.fileFd = fd;
    this.targetFd = fd;
  }

  /** Frozen at startup: remember the log file; resume() opens it (falling back to stderr). */
  deferFile(path: string): void {
    this.deferredPath = path;
  }

  /** Filesystems frozen: nothing is written anywhere (file, stderr, syslog) until resume(). */
  pause(): void {
    this.enabled = false;
  }

  /** Thawed: open a deferred log file (stderr if that fails), then re-enable logging. */
  resume(): void {
    if (this.deferredPath !== null) {
      const path = this.deferredPath;
      this.deferredPath = null;
      try {
        this.openFile(path);
      } catch {
        this.closeFile();
        this.targetFd = this.stderrFd;
      }
    }
    this.enabled = true;
  }

  get paused(): boolean {
    return !this.enabled;
  }

  log(level: LogLevel, message: string): void {
    if (!this.enabled) return;
    if (!this.installed) {
      // GLib's default handler: info and debug are dropped (no G_MESSAGES_DEBUG support).
      if (level === 'info' || level === 'debug') return;
      this.glib(level, message);
      return;
    }
    if (!this.mask.has(level)) return;
    this.write(this.targetFd, formatLogLine(level, message, this.clock()));
  }

  /** A debug line whose end is raw bytes (qemu-ga's `%s` of the data it read): written as they are, not as text. */
  debugBytes(prefix: string, data: Uint8Array): void {
    if (!this.enabled || !this.installed || !this.mask.has('debug')) return;
    const head = formatLogLine('debug', prefix, this.clock());
    const line = Buffer.allocUnsafe(Buffer.byteLength(head) + data.length);
    const n = line.write(head.slice(0, -1), 0, 'utf8');
    line.set(data, n);
    line[n + data.length] = 0x0a;
    this.writeBytes(this.targetFd, line);
  }

  /** A message in GLib's default format on stderr, whatever the state (GLib's own warnings). */
  glib(level: LogLevel, message: string, domain?: string): void {
    if (!this.enabled) return;
    const text = formatGLibMessage(level, message, {
      pid: this.pid,
      micros: this.clock(),
      color: this.color,
      utf8: this.utf8,
      domain,
    });
    this.write(this.stderrFd, text);
  }

  error(message: string): void {
    this.log('error', message);
  }
  critical(message: string): void {
    this.log('critical', message);
  }
  warning(message: string): void {
    this.log('warning', message);
  }
  message(message: string): void {
    this.log('message', message);
  }
  info(message: string): void {
    this.log('info', message);
  }
  debug(message: string): void {
    this.log('debug', message);
  }

  /** qemu-ga's slog(): the "syslog" domain, sent to syslog as `<level>: <msg>` whatever -v says. */
  audit(message: string, level: LogLevel = 'info'): void {
    if (!this.enabled || !this.installed) return;
    try {
      this.syslogSink(SYSLOG_PRIORITY[level], `${level}: ${message}`);
    } catch {
      // syslog(3) reports nothing either.
    }
  }

  /** qga-ts exec audit: a `message` line in the log file whatever -v says; nothing without a log file. */
  record(message: string): void {
    if (!this.enabled || !this.installed || this.fileFd === null) return;
    this.write(this.fileFd, formatLogLine('message', message, this.clock()));
  }

  /** Close the log file, if any (at exit). */
  close(): void {
    this.closeFile();
    this.targetFd = this.stderrFd;
  }

  private closeFile(): void {
    if (this.fileFd !== null) {
      try {
        fs.closeSync(this.fileFd);
      } catch {
        // already gone
      }
      this.fileFd = null;
    }
  }

  private write(fd: number, text: string): void {
    this.writeBytes(fd, Buffer.from(text, 'utf8'));
  }

  private writeBytes(fd: number, buf: Buffer): void {
    let off = 0;
    while (off < buf.length) {
      try {
        off += fs.writeSync(fd, buf, off);
      } catch (e) {
        if ((e as NodeJS.ErrnoException).code === 'EAGAIN' && fd === 2) {
          process.stderr.write(buf.subarray(off));
        }
        // Other errors lose the line, as fprintf() to a broken stream does.
        return;
      }
    }
  }
}
