// guest-get-diskstats (docs/compatibility.md §Commands) and guest-get-cpustats (docs/compatibility.md §Commands): /proc/diskstats and /proc/stat, parsed
// with qemu-ga's sscanf formats so field counts decide member presence exactly as there.
import type { GuestCpuStats, GuestDiskStats, GuestDiskStatsInfo } from '../generated/qapi-types.ts';
import { genericError } from '../protocol/errors.ts';
import { rooted } from '../platform/linux/paths.ts';
import { EOF, atoi, sscanf } from '../platform/linux/scanf.ts';
import { clockTicksPerSecond } from '../platform/linux/sysconf.ts';
import { bytesToText } from '../platform/linux/mounts.ts';
import type { AgentContext } from './context.ts';
import { getlines, readBytes, withErrno } from './inventory-common.ts';

const DISKSTATS_FORMAT =
  '%u %u %s %lu %lu %lu' + '%lu %lu %lu %lu %u %u %u %u' + '%lu %lu %lu %u %lu %u';

/** One /proc/diskstats line; null when qemu-ga skips it (fewer than 4 counters). */
export function parseDiskstatsLine(line: string): GuestDiskStatsInfo | null {
  const { ret, values: v } = sscanf(line, DISKSTATS_FORMAT);
  if (ret < 7) return null;
  const n = (i: number) => v[i] as bigint;
  const stats: GuestDiskStats = {};
  if (ret === 7) {
    // The 4-field layout of old kernels' partitions: ios and sectors, read then write.
    stats['read-ios'] = n(3);
    stats['read-sectors'] = n(4);
    stats['write-ios'] = n(5);
    stats['write-sectors'] = n(6);
  }
  if (ret >= 14) {
    stats['read-ios'] = n(3);
    stats['read-merges'] = n(4);
    stats['read-sectors'] = n(5);
    stats['read-ticks'] = n(6);
    stats['write-ios'] = n(7);
    stats['write-merges'] = n(8);
    stats['write-sectors'] = n(9);
    stats['write-ticks'] = n(10);
    stats['ios-pgr'] = n(11);
    stats['total-ticks'] = n(12);
    stats['weight-ticks'] = n(13);
  }
  if (ret >= 18) {
    stats['discard-ios'] = n(14);
    stats['discard-merges'] = n(15);
    stats['discard-sectors'] = n(16);
    stats['discard-ticks'] = n(17);
  }
  if (ret >= 20) {
    stats['flush-ios'] = n(18);
    stats['flush-ticks'] = n(19);
  }
  return { name: bytesToText(v[2] as string), major: n(0), minor: n(1), stats };
}

export function guestGetDiskstats(_args: unknown, ctx: AgentContext): GuestDiskStatsInfo[] {
  const path = '/proc/diskstats';
  let text: string;
  try {
    text = readBytes(rooted(ctx.root, path));
  } catch (err) {
    throw genericError(withErrno(`open("${path}")`, err));
  }
  const result: GuestDiskStatsInfo[] = [];
  for (const line of getlines(text)) {
    const info = parseDiskstatsLine(line);
    if (info) result.push(info);
  }
  return result;
}

/** The cpu<N> lines of /proc/stat in milliseconds; parsing stops at a cpu line with fewer than 4 values. */
export function parseCpuStats(text: string, clkTck: number): GuestCpuStats[] {
  const tck = BigInt(clkTck);
  const ms = (x: bigint) => BigInt.asUintN(64, x * 1000n) / tck;
  const result: GuestCpuStats[] = [];
  for (const line of getlines(text)) {
    const { ret, values: v } = sscanf(line, '%s %lu %lu %lu %lu %lu %lu %lu %lu %lu %lu');
    if (ret === EOF) continue;
    const name = v[0] as string;
    // Only "cpu<N>" lines; the aggregate "cpu" line is dropped.
    if (!name.startsWith('cpu') || name.length === 3) continue;
    if (ret < 5) break;
    const n = (i: number) => ms(v[i] as bigint);
    const s: GuestCpuStats = { type: 'linux', cpu: BigInt(atoi(name.slice(3))), user: n(1), nice: n(2), system: n(3), idle: n(4) };
    if (ret > 5) s.iowait = n(5);
    if (ret > 6) {
      s.irq = n(6);
      // With exactly 6 values qemu-ga reports an unparsed (uninitialised) softirq; 0 here.
      s.softirq = ret > 7 ? n(7) : 0n;
    }
    if (ret > 8) s.steal = n(8);
    if (ret > 9) s.guest = n(9);
    if (ret > 10) s.guestnice = n(10);
    result.push(s);
  }
  return result;
}

export function guestGetCpustats(_args: unknown, ctx: AgentContext): GuestCpuStats[] {
  const path = '/proc/stat';
  let text: string;
  try {
    text = readBytes(rooted(ctx.root, path));
  } catch (err) {
    throw genericError(withErrno(`open("${path}")`, err));
  }
  return parseCpuStats(text, clockTicksPerSecond());
}
