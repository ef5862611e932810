// qemu-ga's -d (facts §4.5). API: parent: spawnDaemon(opts) → Promise<exit status>; child:
// takeDaemonMarker() → DaemonChild | null, becomeDaemon() (umask 077, chdir /, stdio on /dev/null),
// notifyParent(child, ok).
//
// Unlike fork(), Node can only re-execute itself: the daemon is a detached (setsid) copy of the same
// command line that redoes the whole startup on its own; the parent keeps nothing and just turns the
// child's "ready"/"failed" byte on an inherited pipe into its exit status (0 / 1).
import { spawn } from '../platform/linux/lazy-child-process.ts';
import * as fs from 'node:fs';
import { dup2 } from '../platform/linux/libc.ts';
import { ownArgs } from '../platform/linux/standalone.ts';

/** Environment marker telling the re-executed process it is the daemon: `<fd>` or `<fd>,socket-activation`. */
export const DAEMON_ENV = 'QGA_TS_DAEMON';

export interface DaemonChild {
  /** The inherited pipe to the waiting parent. */
  readyFd: number;
  /** The parent was socket-activated and passed its listening socket on as fd 3 (LISTEN_PID no longer matches). */
  socketActivation: boolean;
}

/**
 * In the daemon child: reads the marker and removes it from `env` (so guest-exec children never
 * see it). null in an ordinary process.
 */
export function takeDaemonMarker(env: NodeJS.ProcessEnv = process.env): DaemonChild | null {
  const v = env[DAEMON_ENV];
  if (v === undefined) return null;
  delete env[DAEMON_ENV];
  const m = /^(\d+)(,socket-activation)?$/.exec(v);
  if (!m) return null;
  return { readyFd: Number(m[1]), socketActivation: m[2] !== undefined };
}

export interface SpawnDaemonOptions {
  /** Default process.execPath. */
  execPath?: string;
  /** Default: the same command line (ownArgs()). */
  args?: readonly string[];
  /** Default process.env (plus the marker). */
  env?: NodeJS.ProcessEnv;
  /** Pass this process's fd 3 (the socket-activation listening socket) on to the child as fd 3. */
  socketActivation?: boolean;
}

/**
 * The parent side of -d: start the daemon detached in a new session, with stdin/stdout on
 * /dev/null and stderr shared until it detaches (so its startup errors still reach the terminal,
 * as qemu-ga's do before fork()). Resolves 0 once the child reports ready, 1 if it reports failure
 * or exits or closes the pipe first. The caller exits with that status.
 */
export function spawnDaemon(opts: SpawnDaemonOptions = {}): Promise<number> {
  const readyIndex = opts.socketActivation ? 4 : 3;
  const stdio: Array<'ignore' | 'inherit' | 'pipe' | number> = ['ignore', 'ignore', 'inherit'];
  if (opts.socketActivation) stdio.push(3);
  stdio.push('pipe');
  const env = {
    ...(opts.env ?? process.env),
    [DAEMON_ENV]: `${readyIndex}${opts.socketActivation ? ',socket-activation' : ''}`,
  };
  const child = spawn(opts.execPath ?? process.execPath, opts.args ?? ownArgs(), {
    detached: true,
    stdio,
    env,
  });
  return new Promise((resolve) => {
    let settled = false;
    const pipe = child.stdio[readyIndex] as NodeJS.ReadableStream & { destroy(): void };
    const settle = (code: number): void => {
      if (settled) return;
      settled = true;
      pipe.removeAllListeners('data');
      pipe.destroy();
      child.removeAllListeners('exit');
      child.unref();
      resolve(code);
    };
    pipe.on('data', (chunk: Buffer) => settle(chunk[0] === 0x52 /* 'R' */ ? 0 : 1));
    pipe.on('end', () => settle(1));
    pipe.on('error', () => settle(1));
    child.on('error', () => settle(1));
    child.on('exit', () => settle(1));
  });
}

/**
 * The daemonize step in the child, after the pidfile is written: umask(077), chdir("/"), stdin,
 * stdout and stderr reopened on /dev/null (setsid() already happened at spawn). Throws if chdir
 * fails; the caller then unlinks the pidfile, logs `failed to daemonize` and exits 1.
 */
export function becomeDaemon(): void {
  process.umask(0o077);
  process.chdir('/');
  let nullFd: number;
  try {
    nullFd = fs.openSync('/dev/null', 'r+');
  } catch {
    return; // as reopen_fd_to_null(): without /dev/null the descriptors stay as they are
  }
  for (const fd of [0, 1, 2]) dup2(nullFd, fd);
  if (nullFd > 2) fs.closeSync(nullFd);
}

/** Tell the waiting parent to exit 0 (`ok`) or 1, then close the pipe. Safe to call once the parent is gone. */
export function notifyParent(child: DaemonChild, ok: boolean): void {
  try {
    fs.writeSync(child.readyFd, ok ? 'R' : 'F');
  } catch {
    // the parent has already gone
  }
  try {
    fs.closeSync(child.readyFd);
  } catch {
    // already closed
  }
}
