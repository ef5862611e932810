// guest-fsfreeze-status / -freeze / -freeze-list / -thaw (docs/compatibility.md §Commands, §Agent), in qemu-ga 10.2's order:
//   freeze: audit `guest-fsfreeze called`, hook `freeze` (a failure aborts, nothing frozen), the mount
//           list (mounts.ts), enter the frozen state, FIFREEZE in reverse mount order (EOPNOTSUPP and
//           EBUSY ignored, not counted); any other failure thaws everything again (thaw hook included,
//           its error ignored) and is returned; 0 frozen leaves the frozen state at once, no thaw hook;
//   thaw:   the mount list (a failure is returned, still frozen), FITHAW on every mount in mount order
//           until it fails (counted once if it worked at least once), leave the frozen state, audit
//           `guest-fsthaw called`, hook `thaw` (its failure is returned, the thaw stands).
// Which filesystems: exactly mounts.ts's list, as qemu-ga's build_fs_mount_list(). Network and pseudo
// filesystems (NFS, CIFS, 9p, virtiofs, FUSE, tmpfs, overlay…) sit on anonymous devices (major 0) and are
// never in it; btrfs is taken by its source device. No extra type list, so the count matches qemu-ga's.
//
// The thaw watchdog (`fsfreeze-timeout`, qga-ts only): when the agent has been frozen that long (counted
// from the freeze, or from startup for an agent that starts frozen), it thaws exactly as
// guest-fsfreeze-thaw does, thaw hook included, and logs a warning plus an audit line. The next
// guest-fsfreeze-thaw then behaves as qemu-ga's after any external thaw: FITHAW finds nothing frozen and
// it returns 0 — the count mismatch the schema documents as "filesystems were unfrozen before this call,
// their state may have changed" — and it logs that the watchdog had thawed them.
import * as fs from 'node:fs';
import type { GuestFsfreezeFreezeListArgs, GuestFsfreezeStatus } from '../generated/qapi-types.ts';
import { genericError, QgaError } from '../protocol/errors.ts';
import { buildFsMountList, type FsMount } from '../platform/linux/mounts.ts';
import { rooted } from '../platform/linux/paths.ts';
import { strerror } from '../platform/linux/strerror.ts';
import type { AgentContext, SystemServices } from './context.ts';
import { withErrno } from './inventory-common.ts';
import { services } from './services.ts';

const EBUSY = 16;
const EOPNOTSUPP = 95;
/** qemu-ga repeats FITHAW until it fails; the kernel fails the second one. A bound against endless loops. */
const MAX_THAWS_PER_MOUNT = 4096;

function closeQuietly(fd: number): void {
  try {
    fs.closeSync(fd);
  } catch {
    // nothing to do
  }
}

async function runHook(ctx: AgentContext, sys: SystemServices, arg: 'freeze' | 'thaw'): Promise<void> {
  const hook = sys.freeze.hook;
  if (hook === null) return;
  ctx.log.audit(`executing fsfreeze hook with arg '${arg}'`);
  await sys.runner.run([hook, arg], { action: 'execute fsfreeze hook' });
}

/** qmp_guest_fsfreeze_do_freeze_list(): the count frozen, or a QgaError. */
function freezeMounts(ctx: AgentContext, sys: SystemServices, mounts: readonly FsMount[], wanted: readonly string[] | undefined): number {
  let count = 0;
  for (let i = mounts.length - 1; i >= 0; i--) {
    const dir = mounts[i].dirname;
    if (wanted !== undefined && !wanted.includes(dir)) continue;
    let fd: number;
    try {
      fd = fs.openSync(rooted(ctx.root, dir), fs.constants.O_RDONLY);
    } catch (err) {
      throw genericError(withErrno(`failed to open ${dir}`, err));
    }
    try {
      const e = sys.fs.freeze(fd);
      if (e === 0) count++;
      else if (e !== EOPNOTSUPP && e !== EBUSY) throw genericError(`failed to freeze ${dir}: ${strerror(e)}`);
    } finally {
      closeQuietly(fd);
    }
  }
  return count;
}

/** qmp_guest_fsfreeze_do_thaw(): the count thawed; throws the mount-list error. */
function thawMounts(ctx: AgentContext, sys: SystemServices): number {
  const mounts = buildFsMountList(ctx.root);
  let count = 0;
  for (const m of mounts) {
    let fd: number;
    try {
      fd = fs.openSync(rooted(ctx.root, m.dirname), fs.constants.O_RDONLY);
    } catch {
      continue;
    }
    try {
      let thawed = false;
      for (let i = 0; i < MAX_THAWS_PER_MOUNT && sys.fs.thaw(fd) === 0; i++) thawed = true;
      if (thawed) count++;
    } finally {
      closeQuietly(fd);
    }
  }
  return count;
}

/** qmp_guest_fsfreeze_thaw() up to the hook; `afterLeave` runs once logging is back on. */
async function thawAll(ctx: AgentContext, sys: SystemServices, afterLeave?: (count: number) => void): Promise<number> {
  const count = thawMounts(ctx, sys);
  sys.freeze.leave();
  afterLeave?.(count);
  ctx.log.audit('guest-fsthaw called');
  await runHook(ctx, sys, 'thaw');
  return count;
}

async function freezeList(ctx: AgentContext, sys: SystemServices, wanted: readonly string[] | undefined): Promise<number> {
  ctx.log.audit('guest-fsfreeze called');
  // Load the ioctls first: nothing may fail half-way for want of koffi.
  sys.fs.prepare();
  sys.freeze.clearWatchdogReport();
  await runHook(ctx, sys, 'freeze');
  const mounts = buildFsMountList(ctx.root);
  // From here nothing may be written to disk: no logging until the thaw.
  sys.freeze.enter();
  let count: number;
  try {
    count = freezeMounts(ctx, sys, mounts, wanted);
  } catch (err) {
    try {
      await thawAll(ctx, sys);
    } catch {
      // qemu-ga discards the rollback's own errors and returns the freeze error
    }
    // Still frozen (the mount list vanished): let the watchdog, if any, keep trying.
    if (sys.freeze.frozen) sys.freeze.armWatchdog();
    throw err;
  }
  if (count === 0) sys.freeze.leave();
  else sys.freeze.armWatchdog();
  return count;
}

export function guestFsfreezeStatus(_args: unknown, ctx: AgentContext): GuestFsfreezeStatus {
  const frozen = ctx.sys !== undefined ? ctx.sys.freeze.frozen : ctx.filter.frozen === true;
  return frozen ? 'frozen' : 'thawed';
}

export function guestFsfreezeFreeze(_args: unknown, ctx: AgentContext): Promise<number> {
  const sys = services(ctx);
  return sys.freeze.exclusive(() => freezeList(ctx, sys, undefined));
}

export function guestFsfreezeFreezeList(args: GuestFsfreezeFreezeListArgs, ctx: AgentContext): Promise<number> {
  const sys = services(ctx);
  return sys.freeze.exclusive(() => freezeList(ctx, sys, args.mountpoints));
}

export function guestFsfreezeThaw(_args: unknown, ctx: AgentContext): Promise<number> {
  const sys = services(ctx);
  return sys.freeze.exclusive(() =>
    thawAll(ctx, sys, (count) => {
      const report = sys.freeze.takeWatchdogReport();
      if (report !== null) {
        ctx.log.warning(
          `guest-fsfreeze-thaw: the fsfreeze-timeout watchdog had already thawed ${report.thawed} filesystem(s) ` +
            `after ${report.seconds} s frozen; ${count} thawed now`,
        );
      }
    }),
  );
}

/** Gives the freeze controller its ways to thaw: the watchdog's (asynchronous) and the exit's (blocking). */
export function attachFsfreeze(ctx: AgentContext): void {
  const sys = services(ctx);
  sys.freeze.attach({
    watchdog: async (seconds) => {
      let thawed: number | null = null;
      try {
        await thawAll(ctx, sys, (n) => {
          thawed = n;
          const msg = `fsfreeze-timeout: filesystems frozen for ${seconds} s (limit ${sys.freeze.timeoutSec} s): thawed ${n} filesystem(s)`;
          ctx.log.warning(msg);
          ctx.log.audit(msg);
        });
      } catch (err) {
        if (thawed === null) return null; // no mount list: still frozen
        // Thawed, but the thaw hook failed.
        const desc = err instanceof QgaError ? err.desc : String(err);
        ctx.log.warning(`fsfreeze-timeout: ${desc}`);
        ctx.log.audit(`fsfreeze-timeout: ${desc}`);
      }
      return thawed;
    },
    exit: () => {
      try {
        thawMounts(ctx, sys);
        sys.freeze.leave();
        ctx.log.audit('guest-fsthaw called');
        const hook = sys.freeze.hook;
        if (hook !== null) {
          ctx.log.audit("executing fsfreeze hook with arg 'thaw'");
          sys.runner.runSync([hook, 'thaw'], { action: 'execute fsfreeze hook' });
        }
      } catch (err) {
        ctx.log.audit(`failed to clean up frozen filesystems: ${err instanceof QgaError ? err.desc : String(err)}`);
      }
    },
  });
}
