// sysconf(_SC_CLK_TCK), cached. glibc answers it from the AT_CLKTCK entry the kernel puts in the process's
// auxiliary vector (100 when absent); /proc/self/auxv holds that vector, so koffi is only loaded when it
// cannot be read.
import * as fs from 'node:fs';
import { ffi } from './ffi.ts';

const AT_CLKTCK = 17n;
const _SC_CLK_TCK = 2;

let clkTck: number | undefined;

function fromAuxv(): number | undefined {
  let buf: Buffer;
  try {
    buf = fs.readFileSync('/proc/self/auxv');
  } catch {
    return undefined;
  }
  // Pairs of unsigned longs (LP64), ended by AT_NULL.
  for (let off = 0; off + 16 <= buf.length; off += 16) {
    const type = buf.readBigUInt64LE(off);
    if (type === 0n) break;
    if (type === AT_CLKTCK) return Number(buf.readBigUInt64LE(off + 8));
  }
  return 100;
}

export function clockTicksPerSecond(): number {
  if (clkTck === undefined) {
    const v = fromAuxv() ?? (ffi().libc.func('long sysconf(int name)')(_SC_CLK_TCK) as number);
    clkTck = v > 0 ? v : 100;
  }
  return clkTck;
}
