// A small QMP client for the e2e tests: the greeting, qmp_capabilities, commands and recorded events.
import * as net from 'node:net';

export interface QmpEvent {
  event: string;
  data?: Record<string, unknown>;
  timestamp: { seconds: number; microseconds: number };
}

export class QmpError extends Error {
  constructor(
    readonly command: string,
    readonly errorClass: string,
    readonly desc: string,
  ) {
    super(`QMP ${command}: ${errorClass}: ${desc}`);
  }
}

interface Pending {
  command: string;
  resolve: (value: unknown) => void;
  reject: (err: Error) => void;
}

export class Qmp {
  /** Every event seen on this connection, in arrival order. */
  readonly events: QmpEvent[] = [];
  private buf = '';
  private readonly pending: Pending[] = [];
  private eventWaiters: (() => void)[] = [];
  private closed = false;

  private constructor(private readonly socket: net.Socket) {
    socket.setEncoding('utf8');
    socket.on('data', (d: string) => this.onData(d));
    socket.on('close', () => {
      this.closed = true;
      for (const p of this.pending.splice(0)) p.reject(new Error(`QMP connection closed during ${p.command}`));
      this.wakeEventWaiters();
    });
    socket.on('error', () => {});
  }

  /** Connects, reads the greeting and enters command mode. */
  static async connect(path: string, timeoutMs = 10_000): Promise<Qmp> {
    const socket = await new Promise<net.Socket>((resolve, reject) => {
      const s = net.connect(path);
      s.once('connect', () => resolve(s));
      s.once('error', reject);
    });
    const qmp = new Qmp(socket);
    // The greeting is the first line; qmp_capabilities is only answered after it.
    const greeting = new Promise<void>((resolve, reject) => {
      qmp.pending.push({ command: '(greeting)', resolve: () => resolve(), reject });
    });
    await withTimeout(greeting, timeoutMs, 'QMP greeting');
    await qmp.execute('qmp_capabilities');
    return qmp;
  }

  private onData(d: string): void {
    this.buf += d;
    for (let nl = this.buf.indexOf('\n'); nl >= 0; nl = this.buf.indexOf('\n')) {
      const line = this.buf.slice(0, nl).trim();
      this.buf = this.buf.slice(nl + 1);
      if (line === '') continue;
      const msg = JSON.parse(line) as Record<string, unknown>;
      if ('event' in msg) {
        this.events.push(msg as unknown as QmpEvent);
        this.wakeEventWaiters();
      } else if ('QMP' in msg || 'return' in msg || 'error' in msg) {
        const p = this.pending.shift();
        if (!p) continue;
        if ('error' in msg) {
          const e = msg.error as { class: string; desc: string };
          p.reject(new QmpError(p.command, e.class, e.desc));
        } else {
          p.resolve(msg.return);
        }
      }
    }
  }

  private wakeEventWaiters(): void {
    for (const w of this.eventWaiters.splice(0)) w();
  }

  execute(command: string, args?: Record<string, unknown>, timeoutMs = 30_000): Promise<unknown> {
    if (this.closed) return Promise.reject(new Error(`QMP connection closed before ${command}`));
    const request = JSON.stringify(args === undefined ? { execute: command } : { execute: command, arguments: args });
    const reply = new Promise<unknown>((resolve, reject) => this.pending.push({ command, resolve, reject }));
    this.socket.write(request + '\n');
    return withTimeout(reply, timeoutMs, `QMP ${command}`);
  }

  /** The first event named `name` at index `from` or later in `events`; waits for it if needed. */
  async waitEvent(name: string, timeoutMs: number, from = 0): Promise<QmpEvent> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const found = this.events.slice(from).find((e) => e.event === name);
      if (found) return found;
      const left = deadline - Date.now();
      if (left <= 0 || this.closed) {
        const seen = this.events.slice(from).map((e) => e.event).join(', ') || 'none';
        throw new Error(`no QMP ${name} event within ${timeoutMs} ms (events seen: ${seen})`);
      }
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, left);
        this.eventWaiters.push(() => {
          clearTimeout(timer);
          resolve();
        });
      });
    }
  }

  close(): void {
    this.socket.destroy();
  }
}

export async function withTimeout<T>(p: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what}: no answer within ${ms} ms`)), ms);
  });
  try {
    return await Promise.race([p, timeout]);
  } finally {
    clearTimeout(timer);
  }
}
