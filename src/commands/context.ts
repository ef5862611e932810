// What every handler may use: the command filter, logs, persistent state and the OS door.
import type { CommandFilter } from '../protocol/command-filter.ts';
import type { CommandDescriptor } from '../protocol/dispatcher.ts';
import type { FreezeController } from '../agent/freeze.ts';
import type { CommandRunner } from '../platform/linux/runner.ts';
import type { FsIoctl } from '../platform/linux/fsioctl.ts';
import type { SetTimeOfDay } from '../platform/linux/clock.ts';
import type { PasswdLookup } from '../platform/linux/passwd.ts';
import type { ExecPolicy } from './exec-policy.ts';
import type { GlobList } from './fnmatch.ts';

export interface AgentLog {
  error(message: string): void;
  warning(message: string): void;
  info(message: string): void;
  debug(message: string): void;
  /** qemu-ga's "syslog" domain: audit lines such as `guest-ping called` (silent while frozen). */
  audit(message: string): void;
  /** qga-ts exec audit: a line in the log file whatever -v says (nothing without -l). */
  record?(message: string): void;
}

export interface AgentContext {
  /** The schema's commands in registration order. */
  readonly commands: ReadonlyMap<string, CommandDescriptor>;
  readonly filter: CommandFilter;
  readonly log: AgentLog;
  /** Takes the next file handle from the persistent counter, saved before it is returned. */
  allocateHandle(): bigint;
  /** Environment seen by the commands (TZ, QGA_OS_RELEASE, PATH). */
  readonly env: NodeJS.ProcessEnv;
  /** Root under which /proc, /sys, /etc, /dev and /run are read (tests point it at fixtures). */
  readonly root: string;
  /** qga-ts extension (`exclude-interfaces`): interfaces guest-network-get-interfaces leaves out; none when absent. */
  readonly excludeInterfaces?: GlobList;
  /**
   * The system-control services (fsfreeze, fstrim, power, clock, vCPUs, memory, accounts, ssh keys).
   * Without them those commands answer qemu-ga's unsupported error: a context that was not given the
   * real ones (e.g. in a unit test) can never touch the machine.
   */
  readonly sys?: SystemServices;
  /** exec-allow and exec-audit (qga-ts extensions); absent: any program, no audit. */
  readonly execPolicy?: ExecPolicy;
}

export interface SystemServices {
  /** External programs: hooks, shutdown, hwclock, chpasswd, suspend helpers (tests: a recording runner). */
  readonly runner: CommandRunner;
  /** The frozen state, its transitions, the fsfreeze hook and the thaw watchdog. */
  readonly freeze: FreezeController;
  /** FIFREEZE / FITHAW / FITRIM (tests: fakes). */
  readonly fs: FsIoctl;
  /** settimeofday(2) (tests: a recording fake). */
  readonly setTimeOfDay: SetTimeOfDay;
  /** getpwnam_r(3) (tests: an entry with a temporary home). */
  readonly getpwnam: PasswdLookup;
}
