// A byte stream over a raw fd (character device or socket): blocking reads and writes on
// libuv's thread pool, so a host that stops reading can never block the event loop.
import * as fs from 'node:fs';
import { strerror } from '../platform/linux/strerror.ts';
import type { ChannelLog, PacedWriter } from './transport.ts';

const READ_SIZE = 65536;

export interface FdChannelHooks {
  data(chunk: Buffer): void;
  /** read() returned 0. */
  eof(): void;
  /** read() failed. */
  failed(message: string): void;
}

export class FdChannel implements PacedWriter {
  private reading = false;
  private paused = false;
  private closed = false;
  private readonly writes: Buffer[] = [];
  /** For each queued buffer: what to call once it is written or dropped. */
  private readonly dones: ((() => void) | undefined)[] = [];
  private writing = false;
  private readonly buf = Buffer.allocUnsafe(READ_SIZE);

  constructor(
    readonly fd: number,
    private readonly hooks: FdChannelHooks,
    private readonly log: ChannelLog,
  ) {}

  start(): void {
    this.readNext();
  }

  /** Schedules the next read after `ms` (virtio-serial's 100 ms back-off while no host is attached). */
  readLater(ms: number): void {
    // Not unref(): while no host is attached this timer is all that keeps the agent alive.
    setTimeout(() => this.readNext(), ms);
  }

  pause(): void {
    this.paused = true;
  }

  resume(): void {
    if (!this.paused) return;
    this.paused = false;
    this.readNext();
  }

  /** Queues bytes (a string: latin1); `done` runs once they are written, or dropped (error, close). */
  write(data: Buffer | string, done?: () => void): void {
    if (this.closed) {
      if (done !== undefined) queueMicrotask(done);
      return;
    }
    this.writes.push(typeof data === 'string' ? Buffer.from(data, 'latin1') : data);
    this.dones.push(done);
    if (!this.writing) this.writeNext();
  }

  /** As a PacedWriter: open until closed. */
  get open(): boolean {
    return !this.closed;
  }

  /** Drops every queued buffer, calling their `done`s. */
  private dropWrites(): void {
    this.writes.length = 0;
    const dones = this.dones.splice(0);
    for (const d of dones) d?.();
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    if (!this.writing) this.dropWrites();
    // An in-flight blocking read keeps the fd busy; closing it is safe once the read returns.
    if (!this.reading) fs.close(this.fd, () => {});
  }

  private readNext(): void {
    if (this.reading || this.paused || this.closed) return;
    this.reading = true;
    fs.read(this.fd, this.buf, 0, READ_SIZE, null, (err, n) => {
      this.reading = false;
      if (this.closed) {
        fs.close(this.fd, () => {});
        return;
      }
      if (err) {
        if (err.code === 'EAGAIN' || err.code === 'EINTR') return this.readLater(100);
        return this.hooks.failed(strerror(err));
      }
      if (n === 0) return this.hooks.eof();
      this.hooks.data(Buffer.from(this.buf.subarray(0, n)));
      this.readNext();
    });
  }

  private writeNext(): void {
    if (this.closed) this.dropWrites();
    const data = this.writes[0];
    if (data === undefined) {
      this.writing = false;
      return;
    }
    this.writing = true;
    fs.write(this.fd, data, 0, data.length, null, (err, written) => {
      if (err) {
        if (err.code === 'EAGAIN' || err.code === 'EINTR') {
          setTimeout(() => this.writeNext(), 10).unref();
          return;
        }
        this.log.warning(`error writing to channel: ${strerror(err)}`);
        this.writing = false;
        this.dropWrites();
        return;
      }
      // Finish partial writes: a reply is never truncated.
      if (written < data.length) this.writes[0] = data.subarray(written);
      else {
        this.writes.shift();
        this.dones.shift()?.();
      }
      this.writeNext();
    });
  }
}

