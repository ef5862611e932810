// The host's CLOCK_REALTIME in nanoseconds, read by the test itself (its own koffi binding, not the
// agent's code), to check the times the agent reports against.
import { createRequire } from 'node:module';

const koffi = createRequire(import.meta.url)('koffi');
const clockGettime = koffi.load('libc.so.6').func('int clock_gettime(int clk, _Out_ int64_t *tp)') as (clk: number, out: BigInt64Array) => number;
const ts = new BigInt64Array(2);

export function hostRealtimeNs(): bigint {
  if (clockGettime(0, ts) !== 0) throw new Error('clock_gettime failed');
  return ts[0] * 1_000_000_000n + ts[1];
}
