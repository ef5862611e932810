// Descriptor calls Node lacks: lseek (stdio-style seek/tell on guest-file handles) and
// pipe2 (real pipes for guest-exec; Node's own stdio "pipes" are socketpairs, on which a
// child's `echo x > /dev/stdout` fails with ENXIO). koffi is loaded on first use only.
import { readdirSync } from 'node:fs';
import { lazyBinding } from './ffi.ts';


export const SEEK_SET = 0;
export const SEEK_CUR = 1;
export const SEEK_END = 2;
const O_CLOEXEC = 0o2000000;

interface Fns {
  lseek(fd: number, offset: bigint, whence: number): number | bigint;
  pipe2(fds: Int32Array, flags: number): number;
  fcntl(fd: number, cmd: number, arg: number): number;
  malloc_trim(pad: number): number;
  mallopt(param: number, value: number): number;
  memfd_create(name: string, flags: number): number;
  madvise(addr: Buffer, len: number, advice: number): number;
  sysconf(name: number): number;
  address(buf: Buffer): bigint;
  errno(): number;
}

const load = lazyBinding((koffi, libc): Fns => ({
  lseek: libc.func('int64_t lseek(int, int64_t, int)'),
  pipe2: libc.func('int pipe2(_Out_ int *fds, int flags)'),
  fcntl: libc.func('int fcntl(int, int, int)'),
  malloc_trim: libc.func('int malloc_trim(size_t)'),
  mallopt: libc.func('int mallopt(int, int)'),
  memfd_create: libc.func('int memfd_create(const char *, unsigned int)'),
  madvise: libc.func('int madvise(void *addr, size_t len, int advice)'),
  sysconf: libc.func('long sysconf(int)'),
  address: (buf: Buffer) => koffi.address(buf) as bigint,
  errno: () => koffi.errno() as number,
}));

/** An Error carrying `errno` (positive), as strerror()/errnoOf() expect. */
export function sysError(call: string, errno: number): NodeJS.ErrnoException {
  return Object.assign(new Error(`${call} failed: errno ${errno}`), { errno });
}

/** lseek(2): the new offset, or throws an Error carrying errno. */
export function lseek(fd: number, offset: bigint, whence: number): bigint {
  const f = load();
  const r = f.lseek(fd, offset, whence);
  if (r === -1 || r === -1n) throw sysError('lseek', f.errno());
  return BigInt(r);
}

/** pipe2(O_CLOEXEC): [readEnd, writeEnd]; throws an Error carrying errno. */
export function pipeCloexec(): [number, number] {
  const f = load();
  const fds = new Int32Array(2);
  if (f.pipe2(fds, O_CLOEXEC) !== 0) throw sysError('pipe2', f.errno());
  return [fds[0], fds[1]];
}

const MFD_CLOEXEC = 1;

/** memfd_create(MFD_CLOEXEC): an anonymous file in RAM, never inherited by children; throws an Error carrying errno. */
export function memfdCloexec(name: string): number {
  const f = load();
  const fd = f.memfd_create(name, MFD_CLOEXEC);
  if (fd < 0) throw sysError('memfd_create', f.errno());
  return fd;
}

const F_GETFD = 1;
const F_SETFD = 2;
const FD_CLOEXEC = 1;

/**
 * Marks every open descriptor above 2 close-on-exec. Node opens everything with O_CLOEXEC;
 * this catches descriptors the agent inherited from whoever started it, so that children
 * get only fds 0-2, as GLib's spawn guarantees for qemu-ga's children.
 */
export function cloexecInherited(fdDir = '/proc/self/fd'): void {
  let names: string[];
  try {
    names = readdirSync(fdDir);
  } catch {
    return;
  }
  const f = load();
  for (const name of names) {
    const fd = Number(name);
    if (!(fd > 2)) continue;
    const flags = f.fcntl(fd, F_GETFD, 0);
    if (flags >= 0 && (flags & FD_CLOEXEC) === 0) f.fcntl(fd, F_SETFD, flags | FD_CLOEXEC);
  }
}

/** glibc malloc_trim(0): returns free heap memory to the kernel. */
export function mallocTrim(): void {
  try {
    load().malloc_trim(0);
  } catch {
    // not glibc, or koffi unavailable: nothing to trim
  }
}

const M_TRIM_THRESHOLD = -1;

/**
 * glibc mallopt(M_TRIM_THRESHOLD, bytes): a fixed threshold, which also stops glibc raising it
 * after each large free (up to 64 MiB). Freed memory above it at the top of a thread's arena goes
 * back to the kernel at free(); malloc_trim() never shrinks those tops (only the main arena's).
 */
export function fixMallocTrimThreshold(bytes: number): void {
  try {
    load().mallopt(M_TRIM_THRESHOLD, bytes);
  } catch {
    // not glibc, or koffi unavailable: glibc's dynamic threshold stays
  }
}

const _SC_PAGESIZE = 30;
const MADV_DONTNEED = 4;

/**
 * A Buffer of `size` bytes starting on a page boundary, whose pages releasePages() can give
 * back to the kernel without freeing the buffer. Null if koffi is unavailable.
 */
export function pageAlignedBuffer(size: number): Buffer | null {
  try {
    const f = load();
    const page = f.sysconf(_SC_PAGESIZE);
    const raw = Buffer.allocUnsafeSlow(size + page);
    const off = (page - Number(f.address(raw) % BigInt(page))) % page;
    return raw.subarray(off, off + size);
  } catch {
    return null;
  }
}

/**
 * madvise(MADV_DONTNEED) over the first `length` bytes (rounded up to whole pages) of a buffer
 * from pageAlignedBuffer(): RSS drops at once, and the pages read back as zeros when touched.
 */
export function releasePages(buf: Buffer, length: number): void {
  const f = load();
  const page = f.sysconf(_SC_PAGESIZE);
  const len = Math.min(buf.length - (buf.length % page), Math.ceil(length / page) * page);
  if (len > 0) f.madvise(buf, len, MADV_DONTNEED);
}
