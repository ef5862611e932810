// libc calls Node lacks (fcntl record locks, syslog, dup2, strerror), through koffi, loaded on first use
// so that agent startup never pays for it. API: fcntlLock(fd, type, wait?) → errno, fcntlGetLock(fd),
// dup2(a, b) → errno, strerror(n), openlog(ident, option, facility), syslog(priority, message).
import { lazyBinding } from './ffi.ts';


// <fcntl.h> on Linux (x86_64 and the asm-generic architectures alike).
export const F_GETLK = 5;
export const F_SETLK = 6;
export const F_SETLKW = 7;
export const F_RDLCK = 0;
export const F_WRLCK = 1;
export const F_UNLCK = 2;

// <syslog.h>
export const LOG_EMERG = 0;
export const LOG_ALERT = 1;
export const LOG_CRIT = 2;
export const LOG_ERR = 3;
export const LOG_WARNING = 4;
export const LOG_NOTICE = 5;
export const LOG_INFO = 6;
export const LOG_DEBUG = 7;
export const LOG_PID = 0x01;
export const LOG_USER = 1 << 3;
export const LOG_DAEMON = 3 << 3;

/** struct flock as the C side sees it (koffi lays out the padding: 32 bytes on LP64). */
export interface Flock {
  l_type: number;
  l_whence: number;
  l_start: number | bigint;
  l_len: number | bigint;
  l_pid: number;
}

interface Libc {
  fcntlSet(fd: number, cmd: number, lock: Flock): number;
  fcntlGet(fd: number, cmd: number, lock: Flock): number;
  dup2(oldfd: number, newfd: number): number;
  strerror(errnum: number): string;
  openlog(ident: Buffer, option: number, facility: number): void;
  syslog(priority: number, fmt: string, ...rest: unknown[]): void;
  errno(): number;
}

const load = lazyBinding((koffi, lib): Libc => {
  // Anonymous struct: koffi's type names are process-global and other modules may declare their own.
  const flock = koffi.struct({ l_type: 'short', l_whence: 'short', l_start: 'long', l_len: 'long', l_pid: 'int' });
  const flockIn = koffi.pointer(flock);
  const flockInOut = koffi.inout(koffi.pointer(flock));
  // fcntl is variadic in C: koffi's variadic calls take (type, value) pairs for the extra arguments.
  const fcntl = lib.func('int fcntl(int fd, int cmd, ...)');
  const strerrorFn = lib.func('const char *strerror(int errnum)');
  return {
    fcntlSet: (fd, cmd, lock) => fcntl(fd, cmd, flockIn, lock),
    fcntlGet: (fd, cmd, lock) => fcntl(fd, cmd, flockInOut, lock),
    dup2: lib.func('int dup2(int oldfd, int newfd)'),
    strerror: (n) => strerrorFn(n) as string,
    openlog: lib.func('void openlog(void *ident, int option, int facility)'),
    syslog: lib.func('void syslog(int priority, const char *format, ...)'),
    errno: () => koffi.errno() as number,
  };
});

export type LockType = 'read' | 'write' | 'unlock';

const LOCK_TYPES: Record<LockType, number> = { read: F_RDLCK, write: F_WRLCK, unlock: F_UNLCK };

/**
 * fcntl(fd, F_SETLK or F_SETLKW, {type, SEEK_SET, 0, 0}): a POSIX record lock over the whole file.
 * Returns 0 on success, else the errno (EAGAIN or EACCES when another process holds a conflicting
 * lock). The lock belongs to the process and is dropped when ANY fd of that file is closed by it.
 */
export function fcntlLock(fd: number, type: LockType, wait = false): number {
  const c = load();
  const rc = c.fcntlSet(fd, wait ? F_SETLKW : F_SETLK, { l_type: LOCK_TYPES[type], l_whence: 0, l_start: 0, l_len: 0, l_pid: 0 });
  return rc === 0 ? 0 : c.errno();
}

/** fcntl(F_GETLK) for a whole-file write lock: the pid of a process holding a conflicting lock, or null. */
export function fcntlGetLock(fd: number): { type: LockType; pid: number } | null {
  const c = load();
  const lock: Flock = { l_type: F_WRLCK, l_whence: 0, l_start: 0, l_len: 0, l_pid: 0 };
  // koffi copies the struct back into `lock` (inout pointer).
  const rc = c.fcntlGet(fd, F_GETLK, lock);
  if (rc !== 0) throw Object.assign(new Error('fcntl(F_GETLK)'), { errno: -c.errno() });
  if (lock.l_type === F_UNLCK) return null;
  return { type: lock.l_type === F_RDLCK ? 'read' : 'write', pid: lock.l_pid };
}

/** dup2(); 0 on success, else the errno. */
export function dup2(oldfd: number, newfd: number): number {
  const c = load();
  return c.dup2(oldfd, newfd) < 0 ? c.errno() : 0;
}

/** glibc's strerror() (prefer platform/linux/strerror.ts, which needs no FFI, for common errnos). */
export function strerror(errnum: number): string {
  return load().strerror(errnum);
}

// openlog() keeps the ident pointer: the buffer must stay alive as long as syslog may be called.
let identBuffer: Buffer | undefined;

/** openlog(ident, option, facility). */
export function openlog(ident: string, option: number, facility: number): void {
  identBuffer = Buffer.from(ident + '\0', 'utf8');
  load().openlog(identBuffer, option, facility);
}

/** syslog(priority, "%s", message): the message is never used as a format string. */
export function syslog(priority: number, message: string): void {
  load().syslog(priority, '%s', 'const char *', message);
}
