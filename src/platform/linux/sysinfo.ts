// getloadavg() as glibc computes it: sysinfo()'s fixed-point loads / 65536 (Node's os.loadavg() rounds
// /proc/loadavg to two decimals instead). koffi is loaded on first use only.
import { lazyBinding } from './ffi.ts';

const SI_LOAD_SCALE = 65536;
// struct sysinfo: long uptime; unsigned long loads[3]; … (112 bytes on x86_64 and aarch64).
const SYSINFO_SIZE = 128;

const load = lazyBinding((koffi, libc): { sysinfo(buf: Buffer): number; errno(): number } => ({
  sysinfo: libc.func('int sysinfo(_Out_ uint8_t *info)'),
  errno: () => koffi.errno() as number,
}));

export function getloadavg(): [number, number, number] {
  const f = load();
  const buf = Buffer.alloc(SYSINFO_SIZE);
  if (f.sysinfo(buf) !== 0) throw Object.assign(new Error('sysinfo'), { errno: f.errno() });
  return [8, 16, 24].map((off) => Number(buf.readBigUInt64LE(off)) / SI_LOAD_SCALE) as [number, number, number];
}
