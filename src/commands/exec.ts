// guest-exec and guest-exec-status (docs/compatibility.md §Commands; §Intended differences, §Versions).
//
// Spawning: Node's child_process (libuv) does the fork/exec and reaps every child, so no
// zombie ever stays. Around it we reproduce what GLib's spawn does for qemu-ga:
//   - a path without "/" is searched in PATH: the PATH= entry of `env` when `env` has one,
//     else the agent's PATH, else "/bin:/usr/bin:." (GLib's default); an empty element means
//     the current directory. The search mirrors g_execute(): ENOENT/ENOTDIR/ESTALE/ENODEV/
//     ETIMEDOUT go on to the next element, EACCES goes on but is remembered and reported if
//     nothing runs, anything else stops the search;
//   - a file execve rejects with ENOEXEC runs as `/bin/sh file args...` (glibc's execvp
//     inside libuv does that, as GLib does);
//   - failures read `Failed to execute child process “<path>” (<strerror>)`, the path as the
//     client gave it (10.2: no "Guest agent command failed" wrapper);
//   - argv[0] is the path as given; `env` replaces the whole environment; the child stays in
//     the agent's session and process group, has every signal at its default (SIGPIPE too)
//     and unblocked, the agent's cwd and umask, and only fds 0-2;
//   - stdin is /dev/null unless input-data is given; uncaptured output goes to /dev/null.
// Pipes are real pipe2() pipes (Node's own would be socketpairs, which break
// `> /dev/stdout` in the child). "merged" hands one pipe to both fd 1 and fd 2. "stdout" and
// "stderr" pipe only that stream (docs/compatibility.md §Intended differences fixes qemu-ga's uninitialised second fd).
// Output is read as fast as it comes; past 16 MiB per stream it is dropped and the stream
// marked truncated, so a chatty child never blocks on a full pipe (exec-capture.ts).
//
// A record lives until an exited status has been returned, whatever happens to clients.
// `exited` turns true once the child is reaped and every captured pipe is closed: at EOF, or
// EXEC_DRAIN_MS after the reap, when a background child still holds a pipe (qemu-ga waits for
// EOF, i.e. for that background child: a reference bug we fix, docs/files-and-exec.md).
//
// The qga-ts extensions (exec-ext.ts) share the process table; __io.qga-ts_guest-exec adds a
// process group of its own (setsid) and a stdin kept open. exec-policy.ts: allow-list, audit.
import type { ChildProcess, StdioOptions } from 'node:child_process';
import { spawn } from '../platform/linux/lazy-child-process.ts';
import * as fs from 'node:fs';
import * as net from 'node:net';
import { constants as osConstants } from 'node:os';
import type { AgentContext } from './context.ts';
import type {
  GuestExecArgs,
  GuestExecCaptureOutput,
  GuestExecCaptureOutputMode,
  GuestExecStatusArgs,
  IoQgaTsGuestExecArgs,
} from '../generated/qapi-types.ts';
import { Capture } from './exec-capture.ts';
import { ExecTable, type ExecRecord } from './exec-table.ts';
import { argvText, auditExec, checkExecAllowed, secondsSince } from './exec-policy.ts';
import { createExecExtHandlers, type ExecExtHandlers } from './exec-ext.ts';
import { genericError, type QgaError } from '../protocol/errors.ts';
import { decodeBase64 } from '../protocol/base64.ts';
import { strerror } from '../platform/linux/strerror.ts';
import { cloexecInherited, pipeCloexec } from '../platform/linux/fdops.ts';

// ---- argument and result types ---------------------------------------------------------------

export type { GuestExecArgs, GuestExecStatusArgs } from '../generated/qapi-types.ts';
/** Results with the integer types this module produces (the schema allows number | bigint). */
export interface GuestExec {
  pid: number;
}
export interface GuestExecStatus {
  exited: boolean;
  exitcode?: number;
  signal?: number;
  'out-data'?: string;
  'err-data'?: string;
  'out-truncated'?: boolean;
  'err-truncated'?: boolean;
}

export { EXEC_MAX_OUTPUT, EXEC_DRAIN_MS } from './exec-capture.ts';

/** GLib's search path when neither `env` nor the agent has PATH. */
const DEFAULT_SEARCH_PATH = '/bin:/usr/bin:.';

// ---- helpers --------------------------------------------------------------------------------

/**
 * qemu-ga's argv/envp strings hold a JSON "\u0000" as the bytes C0 80; Node cannot pass those
 * bytes, so the child gets U+FFFD there instead (the nearest valid stand-in).
 */
function argString(s: string): string {
  return s.indexOf('\0') < 0 ? s : s.replaceAll('\0', '\uFFFD');
}

/** GLib's texts for a failed spawn (fork, pipe and exec failures). */
function spawnFailed(path: string, err: unknown): never {
  const code = (err as NodeJS.ErrnoException | undefined)?.code;
  // libuv's own pipes: GLib reports a failed pipe with the bare strerror text.
  if (code === 'EMFILE' || code === 'ENFILE') throw genericError(strerror(err));
  // libuv fails a fork with EAGAIN or ENOMEM.
  if (code === 'EAGAIN' || code === 'ENOMEM') throw genericError(`Failed to fork (${strerror(err)})`);
  throw genericError(`Failed to execute child process \u201C${path}\u201D (${strerror(err)})`);
}

function errnoError(code: string): NodeJS.ErrnoException {
  return Object.assign(new Error(code), { code });
}

/** The capture mode of the GuestExecCaptureOutput alternate (absent = none, true = separated). */
export function captureMode(v: GuestExecCaptureOutput | undefined): GuestExecCaptureOutputMode {
  if (v === undefined || v === false) return 'none';
  if (v === true) return 'separated';
  return v;
}

/** g_environ_getenv(): the value of the first NAME= entry. */
function environGet(env: readonly string[], name: string): string | undefined {
  const prefix = name + '=';
  for (const e of env) if (e.startsWith(prefix)) return e.slice(prefix.length);
  return undefined;
}

/** The client's env list as the object Node wants; getenv() sees the first of duplicates. */
function envObject(env: readonly string[]): Record<string, string> {
  const o: Record<string, string> = Object.create(null) as Record<string, string>;
  for (const e of env) {
    const eq = e.indexOf('=');
    // An entry without "=" is invisible to getenv(); Node cannot pass it verbatim.
    if (eq < 0) continue;
    const k = e.slice(0, eq);
    if (!(k in o)) o[k] = e.slice(eq + 1);
  }
  return o;
}

const SKIP_ERRNO = new Set(['ENOENT', 'ENOTDIR', 'ESTALE', 'ENODEV', 'ETIMEDOUT']);

/**
 * GLib's PATH search for a name without "/": the file to hand to execve, or an error
 * carrying the errno GLib would report.
 */
export function searchProgram(file: string, searchPath: string): string | NodeJS.ErrnoException {
  let gotEacces = false;
  let last: NodeJS.ErrnoException | undefined;
  let lastEnoent = true;
  for (const dir of searchPath.split(':')) {
    // An empty element is the current directory; "./" keeps libuv from searching again.
    const cand = dir === '' ? `./${file}` : `${dir}/${file}`;
    try {
      // Not { throwIfNoEntry: false }: Node 22 makes it hide ENOTDIR too, which GLib reports.
      const st = fs.statSync(cand);
      // execve refuses anything but a regular file with EACCES (directories, devices, FIFOs).
      if (!st.isFile()) throw errnoError('EACCES');
      fs.accessSync(cand, fs.constants.X_OK);
      return cand;
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code ?? '';
      if (code === 'EACCES') gotEacces = true;
      else if (!SKIP_ERRNO.has(code)) return err as NodeJS.ErrnoException;
      last = err as NodeJS.ErrnoException;
      lastEnoent = code === 'ENOENT';
    }
  }
  if (gotEacces) return errnoError('EACCES');
  return lastEnoent || last === undefined ? errnoError('ENOENT') : last;
}

const SIGNALS = osConstants.signals as Record<string, number>;

function closeQuietly(fd: number | undefined): void {
  if (fd === undefined) return;
  try {
    fs.closeSync(fd);
  } catch {
    // already closed
  }
}

/** Feeds `data` to the child's stdin pipe without blocking, then closes it unless `keep`. */
function stdinSocket(fd: number, data: Buffer | undefined, keep: boolean): net.Socket {
  const sock = new net.Socket({ fd, readable: false, writable: true });
  sock.on('error', () => {
    // EPIPE: the child stopped reading; qemu-ga closes the pipe on any write error too.
    sock.destroy();
  });
  if (keep) {
    if (data !== undefined && data.length > 0) sock.write(data);
  } else {
    sock.end(data ?? Buffer.alloc(0), () => sock.destroy());
  }
  return sock;
}

/** How a process is started: guest-exec's way, or with the extension's choices. */
interface StartOptions {
  /** setsid(): a session and process group of its own. */
  processGroup: boolean;
  /** stdin stays an open pipe for __io.qga-ts_guest-exec-input. */
  keepStdin: boolean;
}

const STANDARD: StartOptions = { processGroup: false, keepStdin: false };

// ---- the handlers ---------------------------------------------------------------------------

export interface ExecHandlers extends ExecExtHandlers {
  'guest-exec'(args: GuestExecArgs, ctx: AgentContext): GuestExec | Promise<GuestExec>;
  'guest-exec-status'(args: GuestExecStatusArgs, ctx: AgentContext): GuestExecStatus;
  '__io.qga-ts_guest-exec'(args: IoQgaTsGuestExecArgs, ctx: AgentContext): GuestExec | Promise<GuestExec>;
}

/** The exec commands with their process table (global to the agent). Call once per agent. */
export function createExecHandlers(): ExecHandlers {
  const table = new ExecTable();
  let fdsChecked = false;

  function start(args: GuestExecArgs, opts: StartOptions, ctx: AgentContext): GuestExec | Promise<GuestExec> {
    const path = args.path;
    const argv = [path, ...(args.arg ?? []).map(argString)];
    ctx.log.audit(`guest-exec called: "${argv.join(' ')}"`);
    const input = args['input-data'] === undefined ? undefined : decodeBase64(args['input-data']);
    const mode = captureMode(args['capture-output']);
    const envList = args.env?.map(argString);
    function fail(err: unknown): never {
      try {
        return spawnFailed(path, err);
      } catch (e) {
        auditExec(ctx, `guest-exec failed: ${(e as QgaError).desc}: ${argvText(argv)}`);
        throw e;
      }
    }

    // Which file to execve.
    let file = path;
    // GLib: an empty name is ENOENT; a name holding C0 80 bytes names no file in practice.
    if (path === '' || path.includes('\0')) fail(errnoError('ENOENT'));
    if (!path.includes('/')) {
      const searchPath = (envList && environGet(envList, 'PATH')) ?? ctx.env.PATH ?? DEFAULT_SEARCH_PATH;
      const found = searchProgram(path, searchPath);
      if (typeof found !== 'string') fail(found);
      file = found;
    }
    checkExecAllowed(ctx, file, argv);

    if (!fdsChecked) {
      fdsChecked = true;
      try {
        cloexecInherited();
      } catch {
        // best effort: without koffi, inherited descriptors stay as they are
      }
    }

    // Pipes: [parent end, child end] per stream.
    let stdin: [number, number] | undefined;
    let stdout: [number, number] | undefined;
    let stderr: [number, number] | undefined;
    const opened: number[] = [];
    try {
      if (input !== undefined || opts.keepStdin) {
        const [r, w] = pipeCloexec();
        opened.push(r, w);
        stdin = [w, r];
      }
      if (mode !== 'none' && mode !== 'stderr') {
        const [r, w] = pipeCloexec();
        opened.push(r, w);
        stdout = [r, w];
      }
      if (mode === 'stderr' || mode === 'separated') {
        const [r, w] = pipeCloexec();
        opened.push(r, w);
        stderr = [r, w];
      }
    } catch (err) {
      for (const fd of opened) closeQuietly(fd);
      throw genericError(strerror(err));
    }
    const stdio: StdioOptions = [
      stdin ? stdin[1] : 'ignore',
      stdout ? stdout[1] : 'ignore',
      mode === 'merged' && stdout ? stdout[1] : stderr ? stderr[1] : 'ignore',
    ];

    let child: ChildProcess;
    try {
      child = spawn(file, argv.slice(1), {
        argv0: path,
        env: envList ? envObject(envList) : ctx.env,
        stdio,
        // libuv calls setsid() in the child before exec.
        detached: opts.processGroup,
      });
    } catch (err) {
      for (const fd of opened) closeQuietly(fd);
      fail(err);
    }
    // The child has its copies (or never started): drop ours of the child ends.
    closeQuietly(stdin?.[1]);
    closeQuietly(stdout?.[1]);
    closeQuietly(stderr?.[1]);

    const pid = child.pid;
    if (pid === undefined) {
      // libuv reports ENOENT, EACCES, EAGAIN, EMFILE and ENFILE through the 'error' event.
      closeQuietly(stdin?.[0]);
      closeQuietly(stdout?.[0]);
      closeQuietly(stderr?.[0]);
      return new Promise<GuestExec>((_resolve, reject) => {
        child.once('error', (err) => {
          try {
            fail(err);
          } catch (e) {
            reject(e);
          }
        });
      });
    }

    const startedNs = process.hrtime.bigint();
    const rec: ExecRecord = {
      pid,
      reaped: false,
      group: opts.processGroup,
      out: stdout ? new Capture(stdout[0]) : undefined,
      err: stderr ? new Capture(stderr[0]) : undefined,
      stdinKept: opts.keepStdin,
    };
    table.add(rec);
    auditExec(ctx, `guest-exec: pid ${pid} started: ${argvText(argv)}`);
    child.on('error', () => {
      // Only kill() failures arrive here once the child runs; nothing to record.
    });
    child.once('exit', (code, signal) => {
      rec.reaped = true;
      if (signal !== null) rec.signal = SIGNALS[signal] ?? 0;
      else rec.exitcode = code ?? 0;
      rec.out?.reaped();
      rec.err?.reaped();
      rec.stdin?.destroy();
      rec.stdin = undefined;
      const how = rec.signal !== undefined ? `killed by signal ${rec.signal}` : `exited with status ${rec.exitcode}`;
      auditExec(ctx, `guest-exec: pid ${pid} ${how} after ${secondsSince(startedNs)} s: ${argvText(argv)}`);
    });
    if (stdin) {
      const sock = stdinSocket(stdin[0], input, opts.keepStdin);
      if (opts.keepStdin) rec.stdin = sock;
    }
    return { pid };
  }

  return {
    'guest-exec'(args, ctx) {
      return start(args, STANDARD, ctx);
    },

    '__io.qga-ts_guest-exec'(args, ctx) {
      return start(args, { processGroup: args['process-group'] ?? false, keepStdin: args['keep-stdin'] ?? false }, ctx);
    },

    'guest-exec-status'(args, ctx) {
      ctx.log.audit(`guest-exec-status called, pid: ${args.pid}`);
      const rec = table.get(args.pid);
      if (!table.finished(rec)) return { exited: false };
      table.forget(rec);
      const st: GuestExecStatus = { exited: true };
      if (rec.signal !== undefined) st.signal = rec.signal;
      else st.exitcode = rec.exitcode;
      const outData = rec.out && rec.out.size > 0 ? rec.out.takeBase64() : undefined;
      const errData = rec.err && rec.err.size > 0 ? rec.err.takeBase64() : undefined;
      if (outData !== undefined) st['out-data'] = outData;
      if (errData !== undefined) st['err-data'] = errData;
      if (outData !== undefined) st['out-truncated'] = rec.out?.truncated ?? false;
      if (errData !== undefined) st['err-truncated'] = rec.err?.truncated ?? false;
      return st;
    },

    ...createExecExtHandlers(table),
  };
}
