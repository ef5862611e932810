// One QEMU process of the e2e tests and what every guest shares: its run directory and sockets (the
// agent's chardev, QMP, the control port), the accelerator, the console log, connecting to the agent,
// and a stop that always leaves no QEMU behind (QEMU runs under setpriv --pdeathsig KILL).
import { spawn, type ChildProcess } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { RawClient } from '../support/agent.ts';
import { Qmp } from './qmp.ts';

export const AGENT_PORT = 'org.qemu.guest_agent.0';
export const CONTROL_PORT = 'qga-e2e.control';

export const shq = (s: string): string => `'${s.replace(/'/g, `'\\''`)}'`;
/** A value inside a QEMU option string: commas are doubled. */
export const qemuEsc = (s: string): string => s.replace(/,/g, ',,');
export const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

export function onPath(cmd: string): boolean {
  const dirs = (process.env.PATH ?? '').split(':').concat(['/usr/sbin', '/sbin']);
  return dirs.some((d) => d !== '' && isExecutable(path.join(d, cmd)));
}

export function isExecutable(p: string): boolean {
  try {
    fs.accessSync(p, fs.constants.X_OK);
    return fs.statSync(p).isFile();
  } catch {
    return false;
  }
}

export function readIfExists(file: string): string {
  try {
    return fs.readFileSync(file, 'utf8');
  } catch {
    return '';
  }
}

/** The PATH plus the sbin directories, for mkfs.ext4 and modprobe when run by a user without them. */
export const sbinEnv = (): NodeJS.ProcessEnv => ({ ...process.env, PATH: `${process.env.PATH}:/usr/sbin:/sbin` });

const live = new Set<ChildProcess>();
let exitHookInstalled = false;

function installExitHook(): void {
  if (exitHookInstalled) return;
  exitHookInstalled = true;
  // Whatever happens to the test process, no QEMU outlives it.
  process.on('exit', () => {
    for (const child of live) {
      try {
        child.kill('SIGKILL');
      } catch {
        // already gone
      }
    }
  });
  for (const sig of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) {
    process.once(sig, () => process.exit(128 + (sig === 'SIGINT' ? 2 : sig === 'SIGTERM' ? 15 : 1)));
  }
}

function kvmUsable(): boolean {
  try {
    fs.accessSync('/dev/kvm', fs.constants.R_OK | fs.constants.W_OK);
    return fs.existsSync('/sys/module/kvm_intel') || fs.existsSync('/sys/module/kvm_amd');
  } catch {
    return false;
  }
}

export class QemuVm {
  readonly dir: string;
  readonly agentSock: string;
  readonly qmpSock: string;
  /** The guest's control port, for what the agent cannot do itself. */
  readonly controlSock: string;
  readonly consoleLog: string;
  readonly qemuLog: string;
  readonly accel: 'kvm' | 'tcg';
  qmp: Qmp | undefined;
  /** When the current QEMU process was started (Date.now()). */
  startedAt = 0;
  private child: ChildProcess | undefined;
  private exited: Promise<void> = Promise.resolve();

  constructor(readonly name: string, rundir: string) {
    this.dir = path.join(rundir, name);
    fs.mkdirSync(this.dir, { recursive: true });
    this.agentSock = path.join(this.dir, 'qga.sock');
    this.qmpSock = path.join(this.dir, 'qmp.sock');
    this.controlSock = path.join(this.dir, 'ctl.sock');
    this.consoleLog = path.join(this.dir, 'console.log');
    this.qemuLog = path.join(this.dir, 'qemu.log');
    if (this.agentSock.length >= 100) throw new Error(`socket path too long for AF_UNIX: ${this.agentSock}`);
    const want = process.env.QGA_E2E_ACCEL;
    this.accel = want === 'kvm' || want === 'tcg' ? want : kvmUsable() ? 'kvm' : 'tcg';
  }

  /** The accelerator's QEMU options. */
  accelArgs(): string[] {
    return this.accel === 'kvm' ? ['-accel', 'kvm', '-cpu', 'host'] : ['-accel', 'tcg,thread=multi', '-cpu', 'max'];
  }

  /** The QMP monitor's QEMU options. */
  qmpArgs(): string[] {
    return ['-chardev', `socket,id=qmp0,path=${qemuEsc(this.qmpSock)},server=on,wait=off`, '-mon', 'chardev=qmp0,mode=control'];
  }

  /** Starts QEMU with `args` (sockets of an earlier run are removed first); its output goes to qemu.log. */
  protected spawnQemu(args: string[]): void {
    installExitHook();
    for (const f of [this.agentSock, this.qmpSock, this.controlSock]) fs.rmSync(f, { force: true });
    fs.writeFileSync(path.join(this.dir, 'qemu.cmdline'), ['qemu-system-x86_64', ...args].map(shq).join(' ') + '\n');
    const log = fs.openSync(this.qemuLog, 'a');
    // setpriv --pdeathsig: QEMU dies with the test process even if that one is SIGKILLed.
    const [cmd, argv] = isExecutable('/usr/bin/setpriv')
      ? ['/usr/bin/setpriv', ['--pdeathsig', 'KILL', '--', 'qemu-system-x86_64', ...args]]
      : ['qemu-system-x86_64', args];
    this.startedAt = Date.now();
    const child = spawn(cmd, argv, { stdio: ['ignore', log, log] });
    fs.closeSync(log);
    this.child = child;
    live.add(child);
    this.exited = new Promise<void>((resolve) => {
      child.once('exit', () => {
        live.delete(child);
        resolve();
      });
      child.once('error', () => {
        live.delete(child);
        resolve();
      });
    });
  }

  get running(): boolean {
    return this.child !== undefined && this.child.exitCode === null && this.child.signalCode === null && live.has(this.child);
  }

  /** QEMU's exit status or signal, for messages. */
  protected exitStatus(): string {
    return String(this.child?.exitCode ?? this.child?.signalCode);
  }

  consoleText(): string {
    return readIfExists(this.consoleLog);
  }

  /** Waits for a console line; fails at once if QEMU exits or the guest reports a boot failure. */
  async waitForConsole(re: RegExp, timeoutMs: number, afterOffset = 0): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const text = this.consoleText().slice(afterOffset);
      if (re.test(text)) return;
      if (!this.running) throw new Error(`QEMU exited (${this.exitStatus()}) before the console showed ${re}: ${readIfExists(this.qemuLog).trim()}`);
      const failed = /QGA-E2E-FAIL.*|Kernel panic.*/.exec(text);
      if (failed) throw new Error(`guest boot failed: ${failed[0]}`);
      if (Date.now() > deadline) throw new Error(`the console did not show ${re} within ${timeoutMs} ms`);
      await sleep(100);
    }
  }

  /** A QMP session on the VM's monitor socket (opened on first use). */
  async monitor(): Promise<Qmp> {
    this.qmp ??= await Qmp.connect(this.qmpSock);
    return this.qmp;
  }

  /**
   * Connects to the agent channel and resyncs (0xFF + guest-sync-delimited) until the agent answers;
   * everything before its answer (replies meant for an earlier connection) is dropped.
   */
  async connectAgent(timeoutMs: number): Promise<RawClient> {
    const deadline = Date.now() + timeoutMs;
    let last: unknown;
    for (let attempt = 1; ; attempt++) {
      if (!this.running) throw new Error(`QEMU exited while connecting to the agent: ${readIfExists(this.qemuLog).trim()}`);
      let client: RawClient | undefined;
      try {
        client = await RawClient.connect(this.agentSock);
        // One connection, a fresh sync id every few seconds until one is answered.
        while (Date.now() < deadline && !client.closed) {
          try {
            await client.resync(BigInt(Date.now()) * 1000n + BigInt(attempt));
            return client;
          } catch (err) {
            last = err;
            if (!this.running) break;
          }
        }
        client.close();
      } catch (err) {
        last = err;
        client?.close();
      }
      if (Date.now() > deadline) throw new Error(`the agent did not answer guest-sync-delimited within ${timeoutMs} ms (${String(last)})`);
      await sleep(200);
    }
  }

  /** Logs printed when something fails, besides the console and QEMU's output: [title, file]. */
  protected extraLogs(): [string, string][] {
    return [];
  }

  /** Last lines of the console, the guest's other logs and QEMU's own output: printed when something fails. */
  diagnostics(lines = 80): string {
    const tail = (s: string): string => s.split('\n').slice(-lines).join('\n');
    const logs: [string, string][] = [['guest console', this.consoleLog], ...this.extraLogs()];
    return [
      ...logs.flatMap(([title, file]) => [`---- ${this.name}: ${title} (${file}, last ${lines} lines) ----`, tail(readIfExists(file))]),
      `---- ${this.name}: QEMU output ----`,
      tail(readIfExists(this.qemuLog)),
    ].join('\n');
  }

  /** Resolves true once QEMU has exited, false after `ms`. */
  exitedWithin(ms: number): Promise<boolean> {
    return Promise.race([this.exited.then(() => true), sleep(ms).then(() => false)]);
  }

  /** QMP quit, then SIGTERM, then SIGKILL: the VM is gone when this returns. */
  async stop(): Promise<void> {
    const child = this.child;
    if (child && this.running) {
      try {
        const qmp = await Promise.race([this.monitor(), sleep(3000).then(() => undefined)]);
        await qmp?.execute('quit', undefined, 3000).catch(() => {});
      } catch {
        // the monitor is unreachable: signals below
      }
      if (!(await this.exitedWithin(5000))) {
        child.kill('SIGTERM');
        if (!(await this.exitedWithin(3000))) {
          child.kill('SIGKILL');
          await this.exited;
        }
      }
    }
    this.qmp?.close();
    this.qmp = undefined;
  }
}
