// A byte stream over a raw fd (character device or socket): blocking reads and writes on
// libuv's thread pool, so a host that stops reading can never block the event loop.
import * as fs from 'node:fs';
import { strerror } from '../platform/linux/strerror.ts';
import type { ChannelLog } from './transport.ts';

const READ_SIZE = 65536;

export interface FdChannelHooks {
  data(chunk: Buffer): void;
  /** read() returned 0. */
  eof(): void;
  /** read() failed. */
  failed(message: string): void;
}

export class FdChannel {
  private reading = false;
  private paused = false;
  private closed = false;
  private readonly writes: Buffer[] = [];
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
    setTimeout(() => this.readNext(), ms).unref();
  }

  pause(): void {
    this.paused = true;
  }

  resume(): void {
    if (!this.paused) return;
    this.paused = false;
    this.readNext();
  }

  write(data: Buffer): void {
    if (this.closed) return;
    this.writes.push(data);
    if (!this.writing) this.writeNext();
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
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
    const data = this.writes.shift();
    if (data === undefined || this.closed) {
      this.writing = false;
      return;
    }
    this.writing = true;
    fs.write(this.fd, data, 0, data.length, null, (err, written) => {
      if (err) {
        if (err.code === 'EAGAIN' || err.code === 'EINTR') {
          this.writes.unshift(data);
          setTimeout(() => this.writeNext(), 10).unref();
          return;
        }
        this.log.warning(`error writing to channel: ${strerror(err)}`);
        this.writing = false;
        this.writes.length = 0;
        return;
      }
      // Finish partial writes: a reply is never truncated.
      if (written < data.length) this.writes.unshift(data.subarray(written));
      this.writeNext();
    });
  }
}
