// Test support: start an agent on a unix socket in a temp dir, and talk raw bytes to it.
import { spawn, type ChildProcess } from 'node:child_process';
import * as fs from 'node:fs';
import * as net from 'node:net';
import * as os from 'node:os';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';

export const REPO = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
export const QGA_TS = [process.execPath, path.join(REPO, 'dist/main.js')];
export const QEMU_GA = '/usr/sbin/qemu-ga';
export const haveQemuGa = fs.existsSync(QEMU_GA);

/** Commands that change the machine: blocked in both agents, never sent on purpose. */
export const DANGEROUS_COMMANDS = [
  'guest-shutdown',
  'guest-suspend-disk',
  'guest-suspend-ram',
  'guest-suspend-hybrid',
  'guest-fsfreeze-freeze',
  'guest-fsfreeze-freeze-list',
  'guest-fsfreeze-thaw',
  'guest-fstrim',
  'guest-set-time',
  'guest-set-vcpus',
  'guest-set-memory-blocks',
  'guest-set-user-password',
  'guest-ssh-add-authorized-keys',
  'guest-ssh-remove-authorized-keys',
];

export interface StartOptions {
  args?: string[];
  env?: NodeJS.ProcessEnv;
  /** Reuse a state directory (e.g. to test restarts). */
  dir?: string;
}

export class Agent {
  private constructor(
    readonly child: ChildProcess,
    readonly dir: string,
    readonly sock: string,
    readonly output: { text: string },
  ) {}

  static async start(command: readonly string[], opts: StartOptions = {}): Promise<Agent> {
    const dir = opts.dir ?? fs.mkdtempSync(path.join(os.tmpdir(), 'qga-test-'));
    const sock = path.join(dir, 'qga.sock');
    const extra = command[0] === QEMU_GA ? ['-f', path.join(dir, 'qemu-ga.pid')] : [];
    const child = spawn(command[0], [...command.slice(1), ...extra, '-m', 'unix-listen', '-p', sock, '-t', dir, ...(opts.args ?? [])], {
      cwd: dir,
      env: { ...process.env, ...opts.env },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    const output = { text: '' };
    child.stdout?.on('data', (d: Buffer) => (output.text += d.toString()));
    child.stderr?.on('data', (d: Buffer) => (output.text += d.toString()));
    const agent = new Agent(child, dir, sock, output);
    await agent.waitReady();
    return agent;
  }

  private async waitReady(): Promise<void> {
    const deadline = Date.now() + 10_000;
    for (;;) {
      if (this.child.exitCode !== null) throw new Error(`agent exited ${this.child.exitCode}: ${this.output.text}`);
      try {
        const c = await RawClient.connect(this.sock);
        c.close();
        return;
      } catch {
        if (Date.now() > deadline) throw new Error(`agent not ready: ${this.output.text}`);
        await new Promise((r) => setTimeout(r, 10));
      }
    }
  }

  connect(): Promise<RawClient> {
    return RawClient.connect(this.sock);
  }

  /** SIGTERM, then the exit code (SIGKILL after 5 s). */
  async stop(): Promise<number | null> {
    if (this.child.exitCode !== null) return this.child.exitCode;
    const exited = new Promise<number | null>((r) => this.child.once('exit', (code) => r(code)));
    this.child.kill('SIGTERM');
    const timer = setTimeout(() => this.child.kill('SIGKILL'), 5000);
    const code = await exited;
    clearTimeout(timer);
    return code;
  }

  cleanup(): void {
    fs.rmSync(this.dir, { recursive: true, force: true });
  }
}

export class RawClient {
  private buf = Buffer.alloc(0);
  private waiter: (() => void) | undefined;
  private ended = false;

  private constructor(private readonly socket: net.Socket) {
    socket.on('data', (d: Buffer) => {
      this.buf = Buffer.concat([this.buf, d]);
      this.waiter?.();
    });
    socket.on('close', () => {
      this.ended = true;
      this.waiter?.();
    });
    socket.on('error', () => {});
  }

  /** Connects, retrying while the listen backlog is full (EAGAIN), as a real client would. */
  static async connect(sock: string): Promise<RawClient> {
    for (let attempt = 0; ; attempt++) {
      try {
        return await new Promise((resolve, reject) => {
          const s = net.connect(sock);
          s.once('connect', () => resolve(new RawClient(s)));
          s.once('error', reject);
        });
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code !== 'EAGAIN' || attempt >= 200) throw err;
        await new Promise((r) => setTimeout(r, 10));
      }
    }
  }

  send(data: string | Uint8Array): void {
    this.socket.write(typeof data === 'string' ? Buffer.from(data, 'latin1') : data);
  }

  /** Waits until `pred(buffer)` holds or the timeout passes; returns the buffer. */
  async waitFor(pred: (b: Buffer) => boolean, timeoutMs = 5000): Promise<Buffer> {
    const deadline = Date.now() + timeoutMs;
    while (!pred(this.buf) && !this.ended) {
      const left = deadline - Date.now();
      if (left <= 0) break;
      await new Promise<void>((r) => {
        const t = setTimeout(r, left);
        this.waiter = () => {
          clearTimeout(t);
          r();
        };
      });
      this.waiter = undefined;
    }
    return this.buf;
  }

  /** Reads n complete lines (or what came within the timeout). */
  async lines(n: number, timeoutMs = 5000): Promise<string[]> {
    const b = await this.waitFor((x) => countNewlines(x) >= n, timeoutMs);
    const text = b.toString('latin1');
    const all = text.split('\n');
    const got = all.slice(0, Math.min(n, all.length - 1));
    this.buf = Buffer.from(all.slice(got.length).join('\n'), 'latin1');
    return got;
  }

  /** Sends a marker guest-sync and returns every byte received before its reply (raw, latin1). */
  async untilMarker(id: bigint, timeoutMs = 10_000): Promise<string> {
    const marker = `{"return": ${id}}\n`;
    this.send(`{"execute":"guest-sync","arguments":{"id":${id}}}`);
    const b = await this.waitFor((x) => x.toString('latin1').includes(marker), timeoutMs);
    const text = b.toString('latin1');
    const at = text.indexOf(marker);
    if (at < 0) throw new Error(`marker ${id} not answered; got ${JSON.stringify(text.slice(0, 500))}`);
    this.buf = Buffer.from(text.slice(at + marker.length), 'latin1');
    return text.slice(0, at);
  }

  /** 0xFF + guest-sync-delimited, discarding everything up to its reply (the harness's resync). */
  async resync(id = 4242424242n): Promise<void> {
    this.send(Buffer.from([0xff]));
    this.send(`{"execute":"guest-sync-delimited","arguments":{"id":${id}}}`);
    const want = `\xff{"return": ${id}}\n`;
    const b = await this.waitFor((x) => x.toString('latin1').includes(want));
    const text = b.toString('latin1');
    const at = text.indexOf(want);
    if (at < 0) throw new Error('resync failed');
    this.buf = Buffer.from(text.slice(at + want.length), 'latin1');
  }

  get closed(): boolean {
    return this.ended;
  }

  close(): void {
    this.socket.destroy();
  }
}

function countNewlines(b: Buffer): number {
  let n = 0;
  for (let i = b.indexOf(10); i >= 0; i = b.indexOf(10, i + 1)) n++;
  return n;
}
