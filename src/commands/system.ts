// The system-control services (AgentContext.sys): the real ones for the daemon, and the guard every
// system-control handler starts with.
import type { CommandFilter } from '../protocol/command-filter.ts';
import { FreezeController, type FreezeLog } from '../agent/freeze.ts';
import type { StatePaths } from '../agent/state.ts';
import { ChildRunner } from '../platform/linux/runner.ts';
import { linuxFsIoctl } from '../platform/linux/fsioctl.ts';
import { settimeofday } from '../platform/linux/clock.ts';
import { getpwnam } from '../platform/linux/passwd.ts';
import type { AgentContext, SystemServices } from './context.ts';
import { attachFsfreeze } from './fsfreeze.ts';

export interface SystemServiceOptions {
  filter: CommandFilter;
  /** Every command in registration order (for the `-v` lines of the freeze filter). */
  commandNames: readonly string[];
  log: FreezeLog;
  paths: StatePaths;
  config: { fsfreezeHook: string | null; fsfreezeTimeout: number };
  env: NodeJS.ProcessEnv;
  /** Started frozen with -d: writes the pidfile at the first thaw. */
  deferredPidfile?: () => void;
}

/** The daemon's services: child processes, the real ioctls, settimeofday and getpwnam_r. */
export function createSystemServices(opts: SystemServiceOptions): SystemServices {
  return {
    runner: new ChildRunner(opts.env),
    freeze: new FreezeController({
      filter: opts.filter,
      commandNames: opts.commandNames,
      log: opts.log,
      paths: opts.paths,
      hook: opts.config.fsfreezeHook,
      timeoutSec: opts.config.fsfreezeTimeout,
      deferredPidfile: opts.deferredPidfile,
    }),
    fs: linuxFsIoctl,
    setTimeOfDay: settimeofday,
    getpwnam,
  };
}

/** Once the context exists: the watchdog and the thaw at exit get their way to thaw (and a frozen start arms the watchdog). */
export function startSystemServices(ctx: AgentContext): void {
  if (ctx.sys !== undefined) attachFsfreeze(ctx);
}
