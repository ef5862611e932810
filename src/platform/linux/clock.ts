// The wall clock through koffi: clock_gettime(CLOCK_REALTIME) for guest-get-time and the log (one
// read, nanoseconds; Node has only Date.now()'s milliseconds), and settimeofday(2) for guest-set-time.
import { lazyBinding } from './ffi.ts';

/** Sets the system clock; 0 or the errno. Injected in tests: never called on the test machine. */
export type SetTimeOfDay = (sec: bigint, usec: bigint) => number;

const HOST_LE = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1;
const CLOCK_REALTIME = 0;

const load = lazyBinding(
  (koffi, libc): { settimeofday(tv: Buffer, tz: null): number; clockGettime(clk: number, ts: Buffer): number; errno(): number } => ({
    settimeofday: libc.func('int settimeofday(void *tv, void *tz)'),
    clockGettime: libc.func('int clock_gettime(int clk, void *tp)'),
    errno: () => koffi.errno() as number,
  }),
);

export const settimeofday: SetTimeOfDay = (sec, usec) => {
  const fns = load();
  // struct timeval { time_t tv_sec; suseconds_t tv_usec; }: two longs (64-bit Linux).
  const tv = Buffer.alloc(16);
  const v = new DataView(tv.buffer, tv.byteOffset, 16);
  v.setBigInt64(0, sec, HOST_LE);
  v.setBigInt64(8, usec, HOST_LE);
  return fns.settimeofday(tv, null) === 0 ? 0 : fns.errno();
};

// struct timespec { time_t tv_sec; long tv_nsec; }: reused, the call is synchronous.
const ts = Buffer.alloc(16);
const tsView = new DataView(ts.buffer, ts.byteOffset, 16);

/** clock_gettime(CLOCK_REALTIME) in nanoseconds since the epoch. */
export function realtimeNs(): bigint {
  const fns = load();
  if (fns.clockGettime(CLOCK_REALTIME, ts) !== 0) throw Object.assign(new Error('clock_gettime(CLOCK_REALTIME)'), { errno: fns.errno() });
  return tsView.getBigInt64(0, HOST_LE) * 1_000_000_000n + tsView.getBigInt64(8, HOST_LE);
}
