// What every handler may use: the command filter, logs, persistent state and the OS door.
import type { CommandFilter } from '../protocol/command-filter.ts';
import type { CommandDescriptor } from '../protocol/dispatcher.ts';

export interface AgentLog {
  error(message: string): void;
  warning(message: string): void;
  info(message: string): void;
  debug(message: string): void;
  /** qemu-ga's "syslog" domain: audit lines such as `guest-ping called` (silent while frozen). */
  audit(message: string): void;
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
}
