// One captured output stream of a guest-exec process: the bytes read from its pipe (at most
// EXEC_MAX_OUTPUT, then dropped and marked truncated), readable at any offset while the process runs.
//
// The pipe is read as fast as it fills, so a chatty child never blocks on a full pipe. It ends at
// EOF, or, once the process has been reaped, after a short drain (EXEC_DRAIN_MS): a background
// child that inherited the pipe must not keep guest-exec-status at `exited: false` (qemu-ga does).
import * as fs from 'node:fs';
import * as net from 'node:net';

/** qemu-ga's GUEST_EXEC_MAX_OUTPUT: captured bytes kept per stream. */
export const EXEC_MAX_OUTPUT = 16 * 1024 * 1024;

/** How long a captured pipe may stay open after its process was reaped. */
export const EXEC_DRAIN_MS = 50;

// The final drain reads at most this much beyond the capture limit (a writer that never stops).
const DRAIN_READ = 64 * 1024;

const EMPTY = Buffer.alloc(0);

export class Capture {
  /** Bytes kept so far: buf[0, size). */
  private buf: Buffer = EMPTY;
  size = 0;
  truncated = false;
  /** False once the pipe is closed: no byte will be added any more. */
  open = true;
  private readonly sock: net.Socket;
  private readonly fd: number;
  private drainTimer: NodeJS.Timeout | undefined;

  /** Starts reading `fd` (the parent's read end of the pipe); the Capture owns and closes it. */
  constructor(fd: number) {
    this.fd = fd;
    this.sock = new net.Socket({ fd, readable: true, writable: false });
    this.sock.on('data', (chunk: Buffer) => this.append(chunk));
    this.sock.on('error', () => {
      // A read error ends the stream like EOF does (qemu-ga closes the channel either way).
    });
    this.sock.on('close', () => this.closed());
  }

  private append(chunk: Buffer): void {
    const room = EXEC_MAX_OUTPUT - this.size;
    const n = Math.min(room, chunk.length);
    if (n < chunk.length) this.truncated = true;
    if (n === 0) return;
    if (this.size + n > this.buf.length) {
      const grown = Buffer.allocUnsafe(Math.min(EXEC_MAX_OUTPUT, Math.max(this.size + n, this.buf.length * 2, 4096)));
      this.buf.copy(grown, 0, 0, this.size);
      this.buf = grown;
    }
    chunk.copy(this.buf, this.size, 0, n);
    this.size += n;
  }

  private closed(): void {
    if (this.drainTimer !== undefined) clearTimeout(this.drainTimer);
    this.drainTimer = undefined;
    this.open = false;
  }

  /** The process was reaped: close the pipe at EOF or after EXEC_DRAIN_MS, whichever comes first. */
  reaped(): void {
    if (!this.open || this.drainTimer !== undefined) return;
    this.drainTimer = setTimeout(() => this.finish(), EXEC_DRAIN_MS);
  }

  /** Takes what is left in the pipe now (without waiting), then closes it. */
  finish(): void {
    if (this.sock.destroyed) return;
    const chunk = Buffer.allocUnsafe(DRAIN_READ);
    let budget = EXEC_MAX_OUTPUT - this.size + DRAIN_READ;
    while (budget > 0) {
      let n: number;
      try {
        n = fs.readSync(this.fd, chunk, 0, Math.min(DRAIN_READ, budget), null);
      } catch {
        break; // EAGAIN: empty for now (a background child may still hold the write end)
      }
      if (n === 0) break;
      this.append(chunk.subarray(0, n));
      budget -= n;
    }
    this.sock.destroy();
    // 'close' follows asynchronously; the stream is complete now.
    this.closed();
  }

  /** Up to `max` captured bytes from `offset` (a view, valid until the next append). */
  read(offset: number, max: number): Buffer {
    const end = Math.min(this.size, offset + max);
    return offset >= end ? EMPTY : this.buf.subarray(offset, end);
  }

  /** Everything captured, base64. */
  base64(): string {
    return this.buf.toString('base64', 0, this.size);
  }
}
