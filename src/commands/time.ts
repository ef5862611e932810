// guest-get-time: qemu-ga's g_get_real_time() * 1000, i.e. one CLOCK_REALTIME read at microsecond precision.
import { realtimeNs } from '../platform/linux/clock.ts';

export function guestGetTime(): bigint {
  return (realtimeNs() / 1000n) * 1000n;
}
