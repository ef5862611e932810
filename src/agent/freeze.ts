// The frozen state (docs/compatibility.md §Agent) and its transitions: qemu-ga's ga_set_frozen()/ga_unset_frozen(), plus
// the qga-ts thaw watchdog (`fsfreeze-timeout`). What freezing means for filesystems lives in
// src/commands/fsfreeze.ts; this class only owns the agent's side of it:
//   enter(): disable every command outside the freeze allowlist, log `disabling logging due to filesystem
//            freeze`, pause all logging, create `<statedir>/qga.state.isfrozen` (its warnings are silent:
//            logging is already off, as in qemu-ga);
//   leave(): open a deferred log file and resume logging, log `logging re-enabled due to filesystem
//            unfreeze`, write a deferred pidfile, re-enable commands, delete the marker.
// Both are no-ops when already in the target state. The command filter's `frozen` flag is the state
// itself (main.ts sets it at startup when the marker exists, and ignores SIGTERM/SIGINT while it is set).
//
// exclusive() runs freeze/thaw work one at a time: the watchdog fires from a timer, outside the
// session's request order.
import { logFilterChanges, type CommandFilter } from '../protocol/command-filter.ts';
import { clearFrozenMarker, setFrozenMarker, type StatePaths } from './state.ts';

export interface FreezeLog {
  critical(message: string): void;
  warning(message: string): void;
  /** `-v` lines (`disabling command: …`); optional for loggers that drop them. */
  debug?(message: string): void;
  pause(): void;
  resume(): void;
}

export interface WatchdogTimers {
  set(fn: () => void, ms: number): unknown;
  clear(handle: unknown): void;
}

export interface FreezeOptions {
  filter: Pick<CommandFilter, 'frozen'> & Partial<Pick<CommandFilter, 'isEnabled'>>;
  /** Every command in registration order, for the `disabling`/`enabling command` lines. */
  commandNames?: readonly string[];
  log: FreezeLog;
  paths: StatePaths;
  /** `-F` / `fsfreeze-hook`: the hook run with `freeze` and `thaw`, or null. */
  hook: string | null;
  /** `fsfreeze-timeout` seconds (qga-ts extension): thaw automatically after that long frozen; 0 = never. */
  timeoutSec: number;
  /** Started frozen with -d: writes the pidfile at the first thaw (qemu-ga's deferred pidfile). */
  deferredPidfile?: () => void;
  timers?: WatchdogTimers;
  /** Milliseconds, for the watchdog report (default Date.now). */
  now?: () => number;
}

/** What the watchdog did, for the next guest-fsfreeze-thaw to report. */
export interface WatchdogReport {
  /** Seconds the filesystems had been frozen. */
  seconds: number;
  /** Filesystems its thaw counted. */
  thawed: number;
}

// setTimeout() takes at most 2^31-1 ms; longer timeouts are chained.
const MAX_TIMER_MS = 0x7fffffff;

const defaultTimers: WatchdogTimers = {
  set(fn, ms) {
    const t = setTimeout(fn, ms);
    t.unref();
    return t;
  },
  clear(handle) {
    clearTimeout(handle as ReturnType<typeof setTimeout>);
  },
};

export class FreezeController {
  readonly hook: string | null;
  readonly timeoutSec: number;
  private readonly filter: FreezeOptions['filter'];
  private readonly commandNames: readonly string[] | undefined;
  private readonly log: FreezeLog;
  private readonly paths: StatePaths;
  private readonly timers: WatchdogTimers;
  private readonly now: () => number;
  private deferredPidfile: (() => void) | undefined;
  private chain: Promise<unknown> = Promise.resolve();
  private timer: unknown = undefined;
  private frozenSince = 0;
  private report: WatchdogReport | null = null;
  private watchdogAction: ((seconds: number) => Promise<number | null>) | undefined;
  private exitAction: (() => void) | undefined;

  constructor(opts: FreezeOptions) {
    this.filter = opts.filter;
    this.commandNames = opts.commandNames;
    this.log = opts.log;
    this.paths = opts.paths;
    this.hook = opts.hook;
    this.timeoutSec = opts.timeoutSec > 0 ? opts.timeoutSec : 0;
    this.deferredPidfile = opts.deferredPidfile;
    this.timers = opts.timers ?? defaultTimers;
    this.now = opts.now ?? Date.now;
    if (this.filter.frozen) this.frozenSince = this.now();
  }

  get frozen(): boolean {
    return this.filter.frozen;
  }

  /** ga_set_frozen(). */
  enter(): void {
    if (this.filter.frozen) return;
    this.log.warning('disabling logging due to filesystem freeze');
    // 10.2 logs the commands it disables before it turns logging off.
    this.changeFilter(() => {
      this.filter.frozen = true;
    });
    this.log.pause();
    this.frozenSince = this.now();
    setFrozenMarker(this.paths, this.log);
  }

  /** ga_unset_frozen(); also stops the watchdog. */
  leave(): void {
    this.disarmWatchdog();
    if (!this.filter.frozen) return;
    this.log.resume();
    this.log.warning('logging re-enabled due to filesystem unfreeze');
    const pidfile = this.deferredPidfile;
    this.deferredPidfile = undefined;
    pidfile?.();
    this.changeFilter(() => {
      this.filter.frozen = false;
      clearFrozenMarker(this.paths, this.log);
    });
  }

  /** Runs `change` and logs each command it enabled or disabled (when names and a debug log are known). */
  private changeFilter(change: () => void): void {
    const { filter, commandNames } = this;
    const debug = this.log.debug?.bind(this.log);
    if (filter.isEnabled === undefined || commandNames === undefined || debug === undefined) change();
    else logFilterChanges(filter as Pick<CommandFilter, 'isEnabled'>, commandNames, change, debug);
  }

  /** Runs `fn` after every freeze/thaw operation started before it has finished. */
  exclusive<T>(fn: () => T | Promise<T>): Promise<T> {
    const run = this.chain.then(fn, fn);
    this.chain = run.then(
      () => undefined,
      () => undefined,
    );
    return run;
  }

  /**
   * How fsfreeze.ts thaws: `watchdog` for the timer (given the seconds frozen; returns the count thawed, or null when the filesystems
   * could not be thawed and the agent is still frozen), `exit` for the agent's last moments
   * (synchronous). Set once at startup; arms the watchdog if the agent started frozen.
   */
  attach(actions: { watchdog: (seconds: number) => Promise<number | null>; exit: () => void }): void {
    this.watchdogAction = actions.watchdog;
    this.exitAction = actions.exit;
    if (this.filter.frozen) this.armWatchdog();
  }

  /** Starts the watchdog: `fsfreeze-timeout` seconds after the freeze (no-op when the option is off). */
  armWatchdog(): void {
    this.schedule(this.frozenSince + this.timeoutSec * 1000);
  }

  disarmWatchdog(): void {
    if (this.timer !== undefined) this.timers.clear(this.timer);
    this.timer = undefined;
  }

  private schedule(due: number): void {
    this.disarmWatchdog();
    if (this.timeoutSec === 0 || this.watchdogAction === undefined) return;
    const left = due - this.now();
    if (left > MAX_TIMER_MS) {
      this.timer = this.timers.set(() => this.schedule(due), MAX_TIMER_MS);
      return;
    }
    this.timer = this.timers.set(() => {
      this.timer = undefined;
      void this.fire();
    }, Math.max(0, left));
  }

  private async fire(): Promise<void> {
    const action = this.watchdogAction;
    if (action === undefined) return;
    const since = this.frozenSince;
    await this.exclusive(async () => {
      // A thaw (or a thaw and a new freeze) may have happened while this waited its turn.
      if (!this.filter.frozen || this.frozenSince !== since) return;
      const seconds = Math.round((this.now() - since) / 1000);
      const thawed = await action(seconds);
      if (thawed === null) {
        // Still frozen (no mount list): try again one period later.
        if (this.filter.frozen) this.schedule(this.now() + this.timeoutSec * 1000);
        return;
      }
      this.report = { seconds, thawed };
    });
  }

  /** The watchdog's report, once: the next guest-fsfreeze-thaw takes it. */
  takeWatchdogReport(): WatchdogReport | null {
    const r = this.report;
    this.report = null;
    return r;
  }

  /** A new freeze makes an older report meaningless. */
  clearWatchdogReport(): void {
    this.report = null;
  }

  /** qemu-ga's cleanup at exit: thaw if frozen (the agent must not leave filesystems frozen behind it). */
  beforeExit(): void {
    this.disarmWatchdog();
    if (this.filter.frozen) this.exitAction?.();
  }
}
