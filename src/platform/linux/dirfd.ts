// *at() calls Node lacks, through koffi: the ssh-key commands work relative to an open directory so that
// no symbolic link planted in ~/.ssh is ever followed. Every function throws an Error carrying errno.
import * as fs from 'node:fs';
import { errnoError, lazyBinding } from './ffi.ts';

export const O_NOFOLLOW = fs.constants.O_NOFOLLOW;
export const O_DIRECTORY = fs.constants.O_DIRECTORY;
const O_CLOEXEC = 0o2000000;

interface Fns {
  openat(dirfd: number, path: string, flags: number, ...mode: unknown[]): number;
  mkdirat(dirfd: number, path: string, mode: number): number;
  renameat(olddirfd: number, oldpath: string, newdirfd: number, newpath: string): number;
  unlinkat(dirfd: number, path: string, flags: number): number;
  errno(): number;
}

const load = lazyBinding((koffi, libc): Fns => ({
  openat: libc.func('int openat(int dirfd, const char *path, int flags, ...)'),
  mkdirat: libc.func('int mkdirat(int dirfd, const char *path, uint32_t mode)'),
  renameat: libc.func('int renameat(int olddirfd, const char *oldpath, int newdirfd, const char *newpath)'),
  unlinkat: libc.func('int unlinkat(int dirfd, const char *path, int flags)'),
  errno: () => koffi.errno() as number,
}));

/** openat(dirfd, name, flags | O_CLOEXEC, mode). */
export function openat(dirfd: number, name: string, flags: number, mode = 0): number {
  const f = load();
  const fd = f.openat(dirfd, name, flags | O_CLOEXEC, 'uint32_t', mode);
  if (fd < 0) throw errnoError(`openat ${name}`, f.errno());
  return fd;
}

export function mkdirat(dirfd: number, name: string, mode: number): void {
  const f = load();
  if (f.mkdirat(dirfd, name, mode) !== 0) throw errnoError(`mkdirat ${name}`, f.errno());
}

export function renameat(dirfd: number, from: string, to: string): void {
  const f = load();
  if (f.renameat(dirfd, from, dirfd, to) !== 0) throw errnoError(`renameat ${from}`, f.errno());
}

export function unlinkat(dirfd: number, name: string): void {
  const f = load();
  if (f.unlinkat(dirfd, name, 0) !== 0) throw errnoError(`unlinkat ${name}`, f.errno());
}
