// Hostile-client helpers shared by the bounded tests and bench/hostile.ts: a process's RSS and
// descriptors from /proc, and a writer that measures how much of a flood the agent takes in.
import * as fs from 'node:fs';
import * as net from 'node:net';

/** VmRSS of `pid`, in kB (0 once it is gone). */
export function rssKiB(pid: number): number {
  try {
    const m = /^VmRSS:\s+(\d+) kB$/m.exec(fs.readFileSync(`/proc/${pid}/status`, 'utf8'));
    return m ? Number(m[1]) : 0;
  } catch {
    return 0;
  }
}

/** Number of open descriptors of `pid`. */
export function openFds(pid: number): number {
  return fs.readdirSync(`/proc/${pid}/fd`).length;
}

/** user + system CPU time of `pid` so far, in ms. */
export function cpuMs(pid: number): number {
  const stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  // Fields 14 and 15 of stat(5) (utime, stime), counted from the state field (3).
  return ((Number(fields[11]) + Number(fields[12])) * 1000) / 100;
}

export function connectRaw(sock: string): Promise<net.Socket> {
  return new Promise((resolve, reject) => {
    const s = net.connect(sock);
    s.once('connect', () => {
      s.off('error', reject);
      s.on('error', () => {});
      resolve(s);
    });
    s.once('error', reject);
  });
}

const PIECE = 64 * 1024;
const IN_FLIGHT = 1024 * 1024;

export interface FloodOptions {
  /** Stop after this long (default: when `next` runs out). */
  forMs?: number;
  /** Stop once the agent has taken nothing for this long (default 1000). */
  stallMs?: number;
}

/**
 * Writes the buffers `next()` gives (until it returns undefined) without reading anything back,
 * and returns how many bytes the kernel took from this socket: what the agent read, plus what
 * the socket buffers hold. Counted in 64 KiB pieces, so it is exact to within 64 KiB.
 */
export async function writeUntilStalled(
  s: net.Socket,
  next: () => Buffer | undefined,
  opts: FloodOptions = {},
): Promise<number> {
  const stallMs = opts.stallMs ?? 1000;
  const end = opts.forMs === undefined ? Infinity : Date.now() + opts.forMs;
  let taken = 0;
  let lastProgress = Date.now();
  let current: Buffer | undefined = next();
  let at = 0;
  let failed = false;
  s.once('error', () => (failed = true));
  for (;;) {
    const now = Date.now();
    if (failed || s.destroyed || now >= end) break;
    if (current === undefined && s.writableLength === 0) break;
    if (opts.forMs === undefined && now - lastProgress >= stallMs) break;
    if (current !== undefined && s.writableLength < IN_FLIGHT) {
      const piece = current.subarray(at, at + PIECE);
      at += piece.length;
      if (at >= current.length) {
        current = next();
        at = 0;
      }
      s.write(piece, (err) => {
        if (err) return;
        taken += piece.length;
        lastProgress = Date.now();
      });
      continue;
    }
    await new Promise((r) => setTimeout(r, 20));
  }
  return taken;
}

/**
 * A client that reads replies as lines without re-concatenating its input (a 64 MiB reply costs
 * one copy), for workloads with big replies.
 */
export class LineClient {
  private parts: Buffer[] = [];
  private readonly lines: string[] = [];
  private waiter: (() => void) | undefined;
  private closed = false;

  private constructor(readonly socket: net.Socket) {
    socket.on('data', (d: Buffer) => {
      let at = 0;
      for (let nl = d.indexOf(10); nl >= 0; nl = d.indexOf(10, at)) {
        this.parts.push(d.subarray(at, nl));
        this.lines.push(Buffer.concat(this.parts).toString('latin1'));
        this.parts = [];
        at = nl + 1;
      }
      if (at < d.length) this.parts.push(d.subarray(at));
      this.waiter?.();
    });
    socket.on('close', () => {
      this.closed = true;
      this.waiter?.();
    });
  }

  static async connect(sock: string): Promise<LineClient> {
    return new LineClient(await connectRaw(sock));
  }

  /** Sends `request` and returns the next reply line. */
  async call(request: string): Promise<string> {
    this.socket.write(request);
    return this.next();
  }

  async next(timeoutMs = 60_000): Promise<string> {
    const deadline = Date.now() + timeoutMs;
    while (this.lines.length === 0) {
      if (this.closed) throw new Error('connection closed');
      if (Date.now() > deadline) throw new Error('no reply');
      await new Promise<void>((r) => {
        const t = setTimeout(r, 100);
        this.waiter = () => {
          clearTimeout(t);
          r();
        };
      });
      this.waiter = undefined;
    }
    return this.lines.shift() as string;
  }

  close(): void {
    this.socket.destroy();
  }
}
