// Fakes for the system-control unit tests: a recording runner, fake filesystem ioctls keyed by mount
// point, a fixture root with a mount table, a log that honours pause(), and a context wiring them with a
// real CommandFilter and FreezeController. Nothing here can change the machine the tests run on.
import { afterEach } from 'node:test';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import type { AgentContext, AgentLog, SystemServices } from '../../src/commands/context.ts';
import { CommandFilter } from '../../src/protocol/command-filter.ts';
import { FreezeController, type FreezeLog, type WatchdogTimers } from '../../src/agent/freeze.ts';
import { statePaths } from '../../src/agent/state.ts';
import { childVerdict, execFailureOutput, type CommandRunner, type RunOptions } from '../../src/platform/linux/runner.ts';
import type { FsIoctl, TrimResult } from '../../src/platform/linux/fsioctl.ts';
import type { PasswdEntry } from '../../src/platform/linux/passwd.ts';
import { genericError } from '../../src/protocol/errors.ts';
import { startSystemServices } from '../../src/commands/system.ts';

/** How a scripted program ends: an exit code with output, a signal, or an exec failure (errno code). */
export type Outcome = { code: number; output?: string } | { signal: string; output?: string } | { execError: string };

export interface RunRecord {
  kind: 'run' | 'runSync' | 'status';
  argv: string[];
  action?: string;
  input?: string;
}

/** A CommandRunner that runs nothing: it records each call and answers from a script. */
export class RecordingRunner implements CommandRunner {
  readonly calls: RunRecord[] = [];
  /** Paths canExecute() says yes to. */
  executable = new Set<string>();
  /** Script: the outcome for an argv (default: exit 0, no output). */
  script: (argv: string[]) => Outcome = () => ({ code: 0 });
  /** Called while a run is "in progress" (to look at the agent's state then). */
  during?: (rec: RunRecord) => void;

  canExecute(p: string): boolean {
    return this.executable.has(p);
  }

  private verdict(argv: string[], action: string): void {
    const o = this.script(argv);
    if ('execError' in o) {
      childVerdict(action, execFailureOutput(argv[0], { code: o.execError }), 1, null);
      return;
    }
    const out = Buffer.from(o.output ?? '', 'utf8');
    if ('signal' in o) childVerdict(action, out, null, o.signal);
    else childVerdict(action, out, o.code, null);
  }

  async run(argv: readonly string[], opts: RunOptions): Promise<void> {
    const rec: RunRecord = { kind: 'run', argv: [...argv], action: opts.action };
    if (opts.input !== undefined) rec.input = opts.input.toString('latin1');
    this.calls.push(rec);
    this.during?.(rec);
    await Promise.resolve();
    this.verdict([...argv], opts.action);
  }

  runSync(argv: readonly string[], opts: RunOptions): void {
    const rec: RunRecord = { kind: 'runSync', argv: [...argv], action: opts.action };
    this.calls.push(rec);
    this.verdict([...argv], opts.action);
  }

  async status(argv: readonly string[]): Promise<number> {
    this.calls.push({ kind: 'status', argv: [...argv] });
    await Promise.resolve();
    const o = this.script([...argv]);
    if ('execError' in o) {
      if (o.execError === 'ENOENT') return -1;
      throw genericError(`failed to create child process, error 'Failed to execute child process \u201C${argv[0]}\u201D (Permission denied)'`);
    }
    return 'signal' in o ? 0 : o.code;
  }

  argvs(kind: RunRecord['kind'] = 'run'): string[][] {
    return this.calls.filter((c) => c.kind === kind).map((c) => c.argv);
  }
}

/** Fake FIFREEZE/FITHAW/FITRIM: per mount point (found from the fd), with scripted errnos. */
export class FakeFsIoctl implements FsIoctl {
  /** Freeze depth per guest path. */
  readonly depth = new Map<string, number>();
  readonly log: string[] = [];
  freezeErrno = new Map<string, number>();
  trimResult = new Map<string, TrimResult>();
  prepared = 0;

  constructor(private readonly root: string) {}

  /** The guest path of an open fd under the fixture root. */
  pathOf(fd: number): string {
    const real = fs.readlinkSync(`/proc/self/fd/${fd}`);
    const r = fs.realpathSync(this.root);
    return real === r ? '/' : real.startsWith(r + '/') ? real.slice(r.length) : real;
  }

  prepare(): void {
    this.prepared++;
  }

  freeze(fd: number): number {
    const p = this.pathOf(fd);
    this.log.push(`freeze ${p}`);
    const e = this.freezeErrno.get(p);
    if (e !== undefined) return e;
    // The kernel refuses a second userspace freeze of the same superblock with EBUSY.
    if ((this.depth.get(p) ?? 0) > 0) return 16;
    this.depth.set(p, 1);
    return 0;
  }

  thaw(fd: number): number {
    const p = this.pathOf(fd);
    this.log.push(`thaw ${p}`);
    const d = this.depth.get(p) ?? 0;
    if (d === 0) return 22; // EINVAL: not frozen
    this.depth.set(p, d - 1);
    return 0;
  }

  trim(fd: number, minlen: bigint): TrimResult {
    const p = this.pathOf(fd);
    this.log.push(`trim ${p} ${minlen}`);
    return this.trimResult.get(p) ?? { errno: 0, minlen: minlen === 0n ? 4096n : minlen, len: 1000000n };
  }

  frozenPaths(): string[] {
    return [...this.depth].filter(([, d]) => d > 0).map(([p]) => p);
  }
}

/** Records log lines; like the real logger, nothing is recorded while paused. */
export class MemoryLog implements AgentLog, FreezeLog {
  readonly lines: string[] = [];
  paused = false;

  private add(level: string, m: string): void {
    if (!this.paused) this.lines.push(`${level}: ${m}`);
  }
  error(m: string): void {
    this.add('error', m);
  }
  critical(m: string): void {
    this.add('critical', m);
  }
  warning(m: string): void {
    this.add('warning', m);
  }
  info(m: string): void {
    this.add('info', m);
  }
  debug(m: string): void {
    this.add('debug', m);
  }
  audit(m: string): void {
    this.add('audit', m);
  }
  pause(): void {
    this.paused = true;
  }
  resume(): void {
    this.paused = false;
  }
}

/** Timers that fire only when the test says so. */
export class ManualTimers implements WatchdogTimers {
  now = 0;
  private next = 1;
  readonly pending = new Map<number, { fn: () => void; at: number }>();

  set(fn: () => void, ms: number): unknown {
    const id = this.next++;
    this.pending.set(id, { fn, at: this.now + ms });
    return id;
  }
  clear(handle: unknown): void {
    this.pending.delete(handle as number);
  }
  /** Moves the clock and runs every timer that is due. */
  advance(ms: number): void {
    this.now += ms;
    for (const [id, t] of [...this.pending]) {
      if (t.at <= this.now) {
        this.pending.delete(id);
        t.fn();
      }
    }
  }
}

export interface Mount {
  dir: string;
  type?: string;
  dev: string; // "maj:min"
}

/** A fixture root: proc/self/mountinfo listing `mounts` (in order), and a directory for each mount point. */
export function mountRoot(mounts: Mount[], extra: string[] = []): { root: string; cleanup: () => void } {
  const root = fs.mkdtempSync(path.join(os.tmpdir(), 'qga-sysctl-'));
  fs.mkdirSync(path.join(root, 'proc/self'), { recursive: true });
  const lines = mounts.map((m, i) => `${20 + i} 1 ${m.dev} / ${m.dir.replaceAll(' ', '\\040')} rw,relatime shared:${i} - ${m.type ?? 'ext4'} /dev/x${i} rw`);
  fs.writeFileSync(path.join(root, 'proc/self/mountinfo'), [...lines, ...extra].join('\n') + '\n');
  for (const m of mounts) fs.mkdirSync(path.join(root, m.dir), { recursive: true });
  return { root, cleanup: () => fs.rmSync(root, { recursive: true, force: true }) };
}

export interface SysContext extends AgentContext {
  readonly sys: SystemServices;
  readonly filter: CommandFilter;
  readonly log: MemoryLog;
  readonly runner: RecordingRunner;
  readonly fsops: FakeFsIoctl;
  readonly freeze: FreezeController;
  readonly timers: ManualTimers;
  readonly stateDir: string;
  readonly setTimeCalls: [bigint, bigint][];
  setTimeErrno: number;
  users: Map<string, PasswdEntry>;
  pidfileWrites: number;
  cleanup(): void;
}

export interface SysContextOptions {
  root?: string;
  hook?: string | null;
  timeoutSec?: number;
  /** Start frozen, as main.ts does when the marker exists. */
  frozen?: boolean;
  deferredPidfile?: boolean;
}

/** A context with every system service faked; root defaults to an empty temporary directory. */
export function sysContext(opts: SysContextOptions = {}): SysContext {
  const stateDir = fs.mkdtempSync(path.join(os.tmpdir(), 'qga-sysctl-state-'));
  const root = opts.root ?? stateDir;
  const log = new MemoryLog();
  const filter = new CommandFilter(null, []);
  filter.frozen = opts.frozen === true;
  if (filter.frozen) log.pause();
  const timers = new ManualTimers();
  const runner = new RecordingRunner();
  const fsops = new FakeFsIoctl(root);
  const setTimeCalls: [bigint, bigint][] = [];
  const users = new Map<string, PasswdEntry>();
  // eslint-disable-next-line prefer-const
  let ctx: SysContext;
  const freeze = new FreezeController({
    filter,
    log,
    paths: statePaths(stateDir),
    hook: opts.hook ?? null,
    timeoutSec: opts.timeoutSec ?? 0,
    timers,
    now: () => timers.now,
    deferredPidfile: opts.deferredPidfile
      ? () => {
          ctx.pidfileWrites++;
        }
      : undefined,
  });
  const sys: SystemServices = {
    runner,
    freeze,
    fs: fsops,
    setTimeOfDay: (sec, usec) => {
      setTimeCalls.push([sec, usec]);
      return ctx.setTimeErrno;
    },
    getpwnam: (name) => users.get(name) ?? { errno: 0 },
  };
  ctx = {
    commands: new Map(),
    filter,
    log,
    allocateHandle: () => 1000n,
    env: {},
    root,
    sys,
    runner,
    fsops,
    freeze,
    timers,
    stateDir,
    setTimeCalls,
    setTimeErrno: 0,
    users,
    pidfileWrites: 0,
    cleanup: () => fs.rmSync(stateDir, { recursive: true, force: true }),
  };
  startSystemServices(ctx);
  return ctx;
}

/** Lets queued promise work (the freeze mutex, fake runs) finish. */
export async function settle(): Promise<void> {
  for (let i = 0; i < 10; i++) await new Promise((r) => setImmediate(r));
}

/** A list of clean-ups the calling test file fills; each test's are run after it (an afterEach hook). */
export function cleanupsAfterEach(): (() => void)[] {
  const list: (() => void)[] = [];
  afterEach(() => {
    for (const c of list.splice(0)) c();
  });
  return list;
}
