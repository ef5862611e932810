// The filesystem ioctls of guest-fsfreeze-* and guest-fstrim (<linux/fs.h>), through koffi, behind FsIoctl
// so that tests inject fakes: nothing in a unit test may freeze or trim the machine it runs on.
import { lazyBinding } from './ffi.ts';

/** _IOWR('X', 119, int), _IOWR('X', 120, int), _IOWR('X', 121, struct fstrim_range): the same numbers on every Linux architecture. */
export const FIFREEZE = 0xc0045877;
export const FITHAW = 0xc0045878;
export const FITRIM = 0xc0185879;

export type TrimResult = { errno: number } | { errno: 0; minlen: bigint; len: bigint };

export interface FsIoctl {
  /** Loads what the calls need, so that a failure happens before anything is frozen. */
  prepare(): void;
  /** ioctl(fd, FIFREEZE): 0 or the errno. */
  freeze(fd: number): number;
  /** ioctl(fd, FITHAW): 0 or the errno. */
  thaw(fd: number): number;
  /** ioctl(fd, FITRIM, {start 0, len UINT64_MAX, minlen}): the range the kernel wrote back, or the errno. */
  trim(fd: number, minlen: bigint): TrimResult;
}

const HOST_LE = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1;

const load = lazyBinding((koffi, libc): { ioctl(fd: number, req: number, arg: Buffer | null): number; errno(): number } => ({
  ioctl: libc.func('int ioctl(int fd, unsigned long request, void *arg)'),
  errno: () => koffi.errno() as number,
}));

export const linuxFsIoctl: FsIoctl = {
  prepare() {
    load();
  },
  freeze(fd) {
    const f = load();
    return f.ioctl(fd, FIFREEZE, null) === 0 ? 0 : f.errno();
  },
  thaw(fd) {
    const f = load();
    return f.ioctl(fd, FITHAW, null) === 0 ? 0 : f.errno();
  },
  trim(fd, minlen) {
    const f = load();
    // struct fstrim_range { __u64 start; __u64 len; __u64 minlen; }, host byte order.
    const range = Buffer.alloc(24);
    const v = new DataView(range.buffer, range.byteOffset, 24);
    v.setBigUint64(0, 0n, HOST_LE);
    v.setBigUint64(8, 0xffffffffffffffffn, HOST_LE);
    v.setBigUint64(16, BigInt.asUintN(64, minlen), HOST_LE);
    if (f.ioctl(fd, FITRIM, range) !== 0) return { errno: f.errno() };
    return { errno: 0, len: v.getBigUint64(8, HOST_LE), minlen: v.getBigUint64(16, HOST_LE) };
  },
};
