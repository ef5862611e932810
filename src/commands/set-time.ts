// guest-set-time (docs/compatibility.md §Commands, 10.2): with `time`, check the local calendar year (1970 ≤ year < 2070), set the
// clock with settimeofday(2), then copy it to the RTC with `/sbin/hwclock -w`; without `time`, set the clock
// from the RTC with `/sbin/hwclock -s`. The helper runs through the 10.2 child helper, so its output ends
// up in the error text.
import type { GuestSetTimeArgs } from '../generated/qapi-types.ts';
import { genericError } from '../protocol/errors.ts';
import { strerror } from '../platform/linux/strerror.ts';
import type { AgentContext } from './context.ts';
import { services } from './services.ts';

const NS_PER_SEC = 1_000_000_000n;

/** g_date_set_time_t(): the calendar year of `sec` in local time (TZ as the agent sees it). */
function localYear(sec: bigint): number {
  return new Date(Number(sec) * 1000).getFullYear();
}

export async function guestSetTime(args: GuestSetTimeArgs, ctx: AgentContext): Promise<Record<string, never>> {
  const sys = services(ctx);
  if (args.time !== undefined) {
    // C division: both parts truncate toward zero (a negative remainder makes settimeofday fail with EINVAL).
    const sec = args.time / NS_PER_SEC;
    const usec = (args.time % NS_PER_SEC) / 1000n;
    const year = localYear(sec);
    // qemu-ga appends strerror(errno) of whatever failed earlier, normally nothing: errno 0, no suffix.
    if (!(year >= 1970 && year < 2070)) throw genericError('Invalid time');
    const e = sys.setTimeOfDay(sec, usec);
    if (e !== 0) throw genericError(`Failed to set time to guest: ${strerror(e)}`);
  }
  await sys.runner.run(['/sbin/hwclock', args.time !== undefined ? '-w' : '-s'], { action: 'set hardware clock to system time' });
  return {};
}
