// guest-get-time: wall clock in nanoseconds, from a microsecond clock as qemu-ga does (last 3 digits 000).
let baseWallUs = 0n;
let baseMonoUs = 0n;

/** Microseconds since the epoch: Date.now() precision refined with the monotonic clock. */
export function realTimeMicros(): bigint {
  const mono = process.hrtime.bigint() / 1000n;
  const estimate = baseWallUs + (mono - baseMonoUs);
  const wallMs = BigInt(Date.now());
  const diff = estimate / 1000n - wallMs;
  // Re-anchor on first use and whenever the wall clock jumped (e.g. guest-set-time).
  if (baseWallUs === 0n || diff > 1n || diff < -1n) {
    baseWallUs = wallMs * 1000n;
    baseMonoUs = mono;
    return baseWallUs;
  }
  return estimate;
}

export function guestGetTime(): bigint {
  return realTimeMicros() * 1000n;
}
