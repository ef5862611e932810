// External programs for the system-control commands, behind CommandRunner so that unit tests can put a
// recording runner in its place and never touch the machine they run on.
//
// ChildRunner.run() is qemu-ga 10.2's child helper (docs/compatibility.md §Commands): the program is found as execvp() finds
// it, the child gets its own session (setsid), stdin is /dev/null or a pipe carrying `input`, and stdout
// plus stderr share one pipe that is read to EOF before the child is waited for. Failures carry 10.2's
// texts; when exec itself fails, the output is what 10.2's child prints before exiting 1:
// `failed to exec '<argv0>': <strerror>\n`.
//
// ChildRunner.status() is qemu-ga's run_process_child() for the suspend helpers (g_spawn_sync with a
// PATH search, output to /dev/null): the exit status, -1 when the program was not found.
//
// node:child_process and node:net are loaded on first use: most agent runs never spawn anything.
import type * as ChildProcessModule from 'node:child_process';
import type * as NetModule from 'node:net';
import * as fs from 'node:fs';
import { createRequire } from 'node:module';
import { genericError } from '../../protocol/errors.ts';
import { cloexecInherited, pipeCloexec } from './fdops.ts';
import { errnoOf, strerror } from './strerror.ts';

export interface RunOptions {
  /** What the helper is for, in qemu-ga's words: `shutdown`, `set user password`, … (used in errors). */
  readonly action: string;
  /** Bytes written to the child's stdin (a pipe); without it stdin is /dev/null. */
  readonly input?: Buffer;
}

export interface CommandRunner {
  /**
   * The 10.2 child helper: resolves when the program exits 0, rejects with a QgaError carrying 10.2's
   * text otherwise (`child process has failed to <action>: <output>`, …).
   */
  run(argv: readonly string[], opts: RunOptions): Promise<void>;
  /** The same, blocking, for the agent's last moments (the thaw at exit); no own session. */
  runSync(argv: readonly string[], opts: RunOptions): void;
  /**
   * run_process_child(): g_spawn_sync with a PATH search and output to /dev/null. The exit status
   * (0 when killed by a signal, as WEXITSTATUS reads it), or -1 when the program does not exist.
   * Other spawn failures reject with `failed to create child process, error '<GLib message>'`.
   */
  status(argv: readonly string[]): Promise<number>;
  /** access(path, X_OK) == 0. */
  canExecute(path: string): boolean;
}

let cp: typeof ChildProcessModule | undefined;
let net: typeof NetModule | undefined;

// createRequire is called on first use, not at import: it costs startup time.
function childProcess(): typeof ChildProcessModule {
  cp ??= createRequire(import.meta.url)('node:child_process') as typeof ChildProcessModule;
  return cp;
}

function netModule(): typeof NetModule {
  net ??= createRequire(import.meta.url)('node:net') as typeof NetModule;
  return net;
}

/** Errors of fork() itself (libuv reports them like exec failures; these cannot come from execve). */
const FORK_ERRNO = new Set(['EAGAIN', 'ENOMEM']);

function closeQuietly(fd: number | undefined): void {
  if (fd === undefined) return;
  try {
    fs.closeSync(fd);
  } catch {
    // already closed
  }
}

/** The captured output as qemu-ga prints it with %s: up to the first NUL, invalid UTF-8 replaced. */
export function outputText(out: Buffer): string {
  const nul = out.indexOf(0);
  return (nul < 0 ? out : out.subarray(0, nul)).toString('utf8');
}

/** ga_run_command()'s verdict on a finished child. */
export function childVerdict(action: string, out: Buffer, code: number | null, signal: string | null): void {
  const text = outputText(out);
  if (code === null || signal !== null) {
    throw genericError(out.length > 0 ? `child process has terminated abnormally: ${text}` : 'child process has terminated abnormally');
  }
  if (code !== 0) {
    throw genericError(out.length > 0 ? `child process has failed to ${action}: ${text}` : `child process has failed to ${action}: exit status ${code}`);
  }
}

/** What 10.2's child writes to the output pipe when execvp() fails (perror), before `_exit(1)`. */
export function execFailureOutput(argv0: string, err: unknown): Buffer {
  return Buffer.from(`failed to exec '${argv0}': ${strerror(err)}\n`, 'utf8');
}

/** GLib's message for a failed g_spawn (exec errors; fork failures have their own wording). */
export function glibSpawnMessage(argv0: string, err: unknown): string {
  const code = (err as NodeJS.ErrnoException | undefined)?.code;
  if (code !== undefined && FORK_ERRNO.has(code)) return `Failed to fork (${strerror(err)})`;
  return `Failed to execute child process \u201C${argv0}\u201D (${strerror(err)})`;
}

/** A JS string as the bytes qemu-ga's C string holds (a JSON \u0000 is stored as C0 80). */
export function cBytes(s: string): Buffer {
  const b = Buffer.from(s, 'utf8');
  if (b.indexOf(0) < 0) return b;
  const parts: Buffer[] = [];
  let start = 0;
  for (let i = b.indexOf(0); i >= 0; i = b.indexOf(0, start)) {
    parts.push(b.subarray(start, i), Buffer.from([0xc0, 0x80]));
    start = i + 1;
  }
  parts.push(b.subarray(start));
  return Buffer.concat(parts);
}

/** Node cannot pass a NUL in argv; U+FFFD stands in (the program could not have received it either). */
function argString(s: string): string {
  return s.indexOf('\0') < 0 ? s : s.replaceAll('\0', '\uFFFD');
}

export class ChildRunner implements CommandRunner {
  private fdsChecked = false;

  constructor(private readonly env: NodeJS.ProcessEnv = process.env) {}

  canExecute(path: string): boolean {
    try {
      fs.accessSync(path, fs.constants.X_OK);
      return true;
    } catch {
      return false;
    }
  }

  private closeInheritedOnce(): void {
    if (this.fdsChecked) return;
    this.fdsChecked = true;
    try {
      cloexecInherited();
    } catch {
      // best effort: without koffi the children may inherit the agent's own inherited fds
    }
  }

  run(argv: readonly string[], opts: RunOptions): Promise<void> {
    const { action, input } = opts;
    this.closeInheritedOnce();
    let out: [number, number];
    let inp: [number, number] | undefined;
    try {
      out = pipeCloexec();
    } catch {
      return Promise.reject(genericError('cannot create pipe FDs'));
    }
    if (input !== undefined) {
      try {
        inp = pipeCloexec();
      } catch {
        closeQuietly(out[0]);
        closeQuietly(out[1]);
        return Promise.reject(genericError('cannot create pipe FDs'));
      }
    }
    const args = argv.map(argString);
    let child: ChildProcessModule.ChildProcess;
    try {
      child = childProcess().spawn(args[0], args.slice(1), {
        env: this.env,
        detached: true, // setsid()
        stdio: [inp ? inp[0] : 'ignore', out[1], out[1]],
      });
    } catch (err) {
      closeQuietly(out[0]);
      closeQuietly(out[1]);
      closeQuietly(inp?.[0]);
      closeQuietly(inp?.[1]);
      return Promise.reject(this.spawnError(args[0], action, err));
    }
    closeQuietly(out[1]);
    closeQuietly(inp?.[0]);
    if (child.pid === undefined) {
      closeQuietly(out[0]);
      closeQuietly(inp?.[1]);
      return new Promise((_resolve, reject) => {
        child.once('error', (err) => reject(this.spawnError(args[0], action, err)));
      });
    }
    return new Promise<void>((resolve, reject) => {
      let exit: { code: number | null; signal: string | null } | undefined;
      let output: Buffer | undefined;
      let failed = false;
      const settle = (): void => {
        if (failed || exit === undefined || output === undefined) return;
        try {
          childVerdict(action, output, exit.code, exit.signal);
          resolve();
        } catch (e) {
          reject(e);
        }
      };
      const fail = (e: unknown): void => {
        if (failed) return;
        failed = true;
        reject(e);
      };
      child.on('error', () => {
        // only kill() failures arrive once the child runs
      });
      child.once('exit', (code, signal) => {
        exit = { code, signal };
        settle();
      });
      const chunks: Buffer[] = [];
      const reader = new (netModule().Socket)({ fd: out[0], readable: true, writable: false });
      reader.on('data', (c: Buffer) => chunks.push(c));
      reader.on('error', (err) => {
        fail(genericError(`${action}: cannot read from stdout/stderr pipe: ${strerror(err)}`));
        reader.destroy();
      });
      reader.on('close', () => {
        output = Buffer.concat(chunks);
        settle();
      });
      if (inp !== undefined && input !== undefined) {
        const writer = new (netModule().Socket)({ fd: inp[1], readable: false, writable: true });
        writer.on('error', (err) => {
          fail(genericError(`${action}: cannot write to stdin pipe: ${strerror(err)}`));
          writer.destroy();
        });
        writer.end(input, () => writer.destroy());
      }
    });
  }

  runSync(argv: readonly string[], opts: RunOptions): void {
    const args = argv.map(argString);
    const r = childProcess().spawnSync(args[0], args.slice(1), {
      env: this.env,
      input: opts.input,
      stdio: [opts.input !== undefined ? 'pipe' : 'ignore', 'pipe', 'pipe'],
      maxBuffer: 1 << 20,
    });
    if (r.error !== undefined) throw this.spawnError(args[0], opts.action, r.error);
    childVerdict(opts.action, Buffer.concat([r.stdout ?? Buffer.alloc(0), r.stderr ?? Buffer.alloc(0)]), r.status, r.signal);
  }

  /** A spawn that never ran the program: fork failures, else 10.2's exec-failure output. */
  private spawnError(argv0: string, action: string, err: unknown): Error {
    const code = (err as NodeJS.ErrnoException | undefined)?.code;
    if (code === 'EMFILE' || code === 'ENFILE') return genericError('cannot create pipe FDs');
    if (code !== undefined && FORK_ERRNO.has(code)) return genericError(`failed to create child process: ${strerror(err)}`);
    if (errnoOf(err) === 0) return err instanceof Error ? err : new Error(String(err));
    return genericError(`child process has failed to ${action}: ${execFailureOutput(argv0, err).toString('utf8')}`);
  }

  status(argv: readonly string[]): Promise<number> {
    const args = argv.map(argString);
    this.closeInheritedOnce();
    return new Promise((resolve, reject) => {
      let child: ChildProcessModule.ChildProcess;
      const failed = (err: unknown): void => {
        if ((err as NodeJS.ErrnoException).code === 'ENOENT') resolve(-1);
        else reject(genericError(`failed to create child process, error '${glibSpawnMessage(args[0], err)}'`));
      };
      try {
        child = childProcess().spawn(args[0], args.slice(1), { env: this.env, stdio: 'ignore' });
      } catch (err) {
        failed(err);
        return;
      }
      child.once('error', failed);
      // WEXITSTATUS() of a status that is not an exit: 0.
      child.once('exit', (code) => resolve(code ?? 0));
    });
  }
}
