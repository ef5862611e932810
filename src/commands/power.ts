// guest-shutdown (docs/compatibility.md §Commands) and guest-suspend-disk/-ram/-hybrid (docs/compatibility.md §Commands), qemu-ga 10.2's way, with
// The fix of docs/compatibility.md §Intended differences: the invalid-mode text gets its closing parenthesis. Both are success-response:false:
// on success the dispatcher sends nothing.
import * as fs from 'node:fs';
import type { GuestShutdownArgs } from '../generated/qapi-types.ts';
import { genericError, QgaError } from '../protocol/errors.ts';
import { rooted } from '../platform/linux/paths.ts';
import { strerror } from '../platform/linux/strerror.ts';
import type { AgentContext, SystemServices } from './context.ts';
import { services } from './services.ts';

const SHUTDOWN_MODES: Readonly<Record<string, { cmd: string; flag: string }>> = {
  powerdown: { cmd: '/sbin/poweroff', flag: '-P' },
  halt: { cmd: '/sbin/halt', flag: '-H' },
  reboot: { cmd: '/sbin/reboot', flag: '-r' },
};

/** The argv 10.2 runs for a mode: the dedicated program when executable, else /sbin/shutdown. */
export function shutdownArgv(mode: string | undefined, canExecute: (path: string) => boolean): string[] {
  const m = SHUTDOWN_MODES[mode ?? 'powerdown'];
  if (m === undefined || !Object.hasOwn(SHUTDOWN_MODES, mode ?? 'powerdown')) {
    throw genericError('mode is invalid (valid values are: halt|powerdown|reboot)');
  }
  if (canExecute(m.cmd)) return [m.cmd];
  return ['/sbin/shutdown', '-h', m.flag, '+0', 'hypervisor initiated shutdown'];
}

export async function guestShutdown(args: GuestShutdownArgs, ctx: AgentContext): Promise<Record<string, never>> {
  const sys = services(ctx);
  ctx.log.audit(`guest-shutdown called, mode: ${args.mode ?? '(null)'}`);
  const argv = shutdownArgv(args.mode, (p) => sys.runner.canExecute(p));
  await sys.runner.run(argv, { action: 'shutdown' });
  return {};
}

// ---- suspend ----------------------------------------------------------------------------------

type SuspendMode = 0 | 1 | 2; // disk, ram, hybrid

const SYSTEMD_UNITS = ['systemd-hibernate', 'systemd-suspend', 'systemd-hybrid-sleep'];
const SYSTEMD_VERBS = ['hibernate', 'suspend', 'hybrid-sleep'];
const PM_ARGS = ['--hibernate', '--suspend', '--suspend-hybrid'];
const PM_PROGRAMS = ['pm-hibernate', 'pm-suspend', 'pm-suspend-hybrid'];
const SYSFS_WORDS = ['disk', 'mem', null];
const SYS_POWER_STATE = '/sys/power/state';

/** Carries a strategy's error so the next strategy can discard it. */
type Step<T> = { value: T; error: QgaError | null };

async function statusOf(sys: SystemServices, argv: string[]): Promise<Step<number>> {
  try {
    return { value: await sys.runner.status(argv), error: null };
  } catch (err) {
    if (err instanceof QgaError) return { value: -1, error: err };
    throw err;
  }
}

async function systemdSupports(sys: SystemServices, mode: SuspendMode): Promise<boolean> {
  const r = await statusOf(sys, ['systemctl', 'status', SYSTEMD_UNITS[mode]]);
  // LSB status codes: 1-3 mean the unit exists (3: not running); 4 means no such unit.
  return r.value > 0 && r.value < 4;
}

async function systemdSuspend(sys: SystemServices, mode: SuspendMode): Promise<QgaError | null> {
  const verb = SYSTEMD_VERBS[mode];
  const r = await statusOf(sys, ['systemctl', verb]);
  if (r.value === 0) return null;
  if (r.error !== null) return r.error;
  if (r.value === -1) return genericError(`the helper program 'systemctl ${verb}' was not found`);
  return genericError(`the helper program 'systemctl ${verb}' returned an unexpected exit status code (${r.value})`);
}

async function pmutilsSupports(sys: SystemServices, mode: SuspendMode): Promise<boolean> {
  // Its error (an unexpected status) is discarded by guest_suspend() like any strategy error.
  const r = await statusOf(sys, ['pm-is-supported', PM_ARGS[mode]]);
  return r.value === 0;
}

async function pmutilsSuspend(sys: SystemServices, mode: SuspendMode): Promise<QgaError | null> {
  const prog = PM_PROGRAMS[mode];
  const r = await statusOf(sys, [prog]);
  if (r.value === 0) return null;
  if (r.error !== null) return r.error;
  if (r.value === -1) return genericError(`the helper program '${prog}' was not found`);
  return genericError(`the helper program '${prog}' returned an unexpected exit status code (${r.value})`);
}

function sysfsSupports(ctx: AgentContext, mode: SuspendMode): boolean {
  const word = SYSFS_WORDS[mode];
  if (word === null) return false; // "unknown guest suspend mode", discarded
  let text: string;
  try {
    const fd = fs.openSync(rooted(ctx.root, SYS_POWER_STATE), fs.constants.O_RDONLY);
    try {
      const buf = Buffer.alloc(31);
      const n = fs.readSync(fd, buf, 0, 31, null);
      if (n <= 0) return false;
      text = buf.toString('latin1', 0, n);
    } finally {
      fs.closeSync(fd);
    }
  } catch {
    return false;
  }
  // strstr() on a C string: the text ends at its first NUL.
  const nul = text.indexOf('\0');
  return (nul < 0 ? text : text.slice(0, nul)).includes(word);
}

function sysfsSuspend(ctx: AgentContext, mode: SuspendMode): QgaError | null {
  const word = SYSFS_WORDS[mode];
  if (word === null) return genericError('unknown guest suspend mode');
  try {
    const fd = fs.openSync(rooted(ctx.root, SYS_POWER_STATE), fs.constants.O_WRONLY);
    try {
      fs.writeSync(fd, word);
    } finally {
      fs.closeSync(fd);
    }
  } catch (err) {
    return genericError(`suspend: cannot write to '${SYS_POWER_STATE}': ${strerror(err)}`);
  }
  return null;
}

/**
 * guest_suspend(): systemd, then pm-utils, then sysfs; the first strategy that supports the mode and
 * succeeds ends it. When strategies supported the mode but failed, the last one's error is returned.
 * (qemu-ga 10.2 drops a systemd or pm-utils failure when no later strategy supports the mode: it then
 * answers nothing, as for a success, or `unknown guest suspend mode` for hybrid. qga-ts reports the
 * failing helper instead; see docs/system-control.md.)
 */
async function guestSuspend(ctx: AgentContext, mode: SuspendMode): Promise<void> {
  const sys = services(ctx);
  let supported = false;
  let last: QgaError | null = null;
  if (await systemdSupports(sys, mode)) {
    supported = true;
    last = await systemdSuspend(sys, mode);
    if (last === null) return;
  }
  if (await pmutilsSupports(sys, mode)) {
    supported = true;
    last = await pmutilsSuspend(sys, mode);
    if (last === null) return;
  }
  if (sysfsSupports(ctx, mode)) {
    supported = true;
    last = sysfsSuspend(ctx, mode);
    if (last === null) return;
  }
  if (!supported) throw genericError('the requested suspend mode is not supported by the guest');
  if (last !== null) throw last;
}

export async function guestSuspendDisk(_args: unknown, ctx: AgentContext): Promise<Record<string, never>> {
  await guestSuspend(ctx, 0);
  return {};
}

export async function guestSuspendRam(_args: unknown, ctx: AgentContext): Promise<Record<string, never>> {
  await guestSuspend(ctx, 1);
  return {};
}

export async function guestSuspendHybrid(_args: unknown, ctx: AgentContext): Promise<Record<string, never>> {
  await guestSuspend(ctx, 2);
  return {};
}
