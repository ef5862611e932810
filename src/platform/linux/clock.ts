// settimeofday(2) through koffi, for guest-set-time (qemu-ga 10.2 calls exactly this).
import { lazyBinding } from './ffi.ts';

/** Sets the system clock; 0 or the errno. Injected in tests: never called on the test machine. */
export type SetTimeOfDay = (sec: bigint, usec: bigint) => number;

const HOST_LE = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1;

const load = lazyBinding((koffi, libc): { settimeofday(tv: Buffer, tz: null): number; errno(): number } => ({
  settimeofday: libc.func('int settimeofday(void *tv, void *tz)'),
  errno: () => koffi.errno() as number,
}));

export const settimeofday: SetTimeOfDay = (sec, usec) => {
  const fns = load();
  // struct timeval { time_t tv_sec; suseconds_t tv_usec; }: two longs (64-bit Linux).
  const tv = Buffer.alloc(16);
  const v = new DataView(tv.buffer, tv.byteOffset, 16);
  v.setBigInt64(0, sec, HOST_LE);
  v.setBigInt64(8, usec, HOST_LE);
  return fns.settimeofday(tv, null) === 0 ? 0 : fns.errno();
};
