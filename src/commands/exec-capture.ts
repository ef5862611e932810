// One captured output stream of a guest-exec process: the bytes read from its pipe (at most
// EXEC_MAX_OUTPUT, then dropped and marked truncated), readable at any offset while the process runs.
//
// The pipe is read as fast as it fills, so a chatty child never blocks on a full pipe. It ends at
// EOF, or, once the process has been reaped, after a short drain (EXEC_DRAIN_MS): a background
// child that inherited the pipe must not keep guest-exec-status at `exited: false` (qemu-ga does).
//
// The first 64 KiB stay in a buffer; beyond that the bytes go to a memfd, read back piece by piece
// while guest-exec-status's reply is encoded. They are still RAM (shared memory, charged to the
// agent's cgroup), but never in the agent's heap: a 16 MiB capture no longer adds 16 MiB to its RSS
// on top of Node's baseline, and nothing of it stays behind once the reply is out.
import * as fs from 'node:fs';
import * as net from 'node:net';
import { constants } from 'node:os';
import { Base64Bytes, type ByteFile } from '../json/value.ts';
import { memfdCloexec } from '../platform/linux/fdops.ts';
import { errnoOf } from '../platform/linux/strerror.ts';

/** qemu-ga's GUEST_EXEC_MAX_OUTPUT: captured bytes kept per stream. */
export const EXEC_MAX_OUTPUT = 16 * 1024 * 1024;

/** How long a captured pipe may stay open after its process was reaped. */
export const EXEC_DRAIN_MS = 50;

// The final drain reads at most this much beyond the capture limit (a writer that never stops).
const DRAIN_READ = 64 * 1024;

const EMPTY = Buffer.alloc(0);

/** A capture's first buffer; only output beyond it takes the EXEC_MAX_OUTPUT one. */
const SMALL_CAPTURE = 64 * 1024;

/** Above this, captured output is encoded while the status reply is written (Base64Bytes). */
const SYNC_B64_LIMIT = 64 * 1024;

/** memfd_create failed other than for want of descriptors: this system makes none. */
let memfdUnavailable = false;

/** Where every capture's pipe reads land before being copied: reads are handled one at a time. */
let readArea: Buffer | undefined;

/** A memfd's bytes [0, length), for the serializer. */
class MemfdBytes implements ByteFile {
  constructor(
    private readonly fd: number,
    readonly length: number,
  ) {}

  readAt(pos: number, into: Buffer): void {
    readFully(this.fd, into, pos);
  }
}

function readFully(fd: number, into: Buffer, pos: number): void {
  for (let done = 0; done < into.length; ) {
    const n = fs.readSync(fd, into, done, into.length - done, pos + done);
    if (n === 0) throw new Error('exec capture: the output file is shorter than its size');
    done += n;
  }
}

function writeFully(fd: number, bytes: Uint8Array, pos: number): void {
  for (let done = 0; done < bytes.length; ) done += fs.writeSync(fd, bytes, done, bytes.length - done, pos + done);
}

export class Capture {
  /** Bytes kept so far: buf[0, size) while they fit SMALL_CAPTURE (or memfds cannot be made), else memfd[0, size). */
  private buf: Buffer = EMPTY;
  private memfd = -1;
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
    // onread: one reused read buffer, instead of a fresh 64 KiB Buffer per read left to the GC.
    this.sock = new net.Socket({
      fd,
      readable: true,
      writable: false,
      onread: {
        buffer: () => (readArea ??= Buffer.allocUnsafeSlow(SMALL_CAPTURE)),
        callback: (got: number, chunk: Uint8Array) => {
          this.append(chunk.subarray(0, got));
          return true;
        },
      },
    } as net.SocketConstructorOpts);
    this.sock.on('error', () => {
      // A read error ends the stream like EOF does (qemu-ga closes the channel either way).
    });
    this.sock.on('close', () => this.closed());
  }

  private append(chunk: Uint8Array): void {
    const room = EXEC_MAX_OUTPUT - this.size;
    const n = Math.min(room, chunk.length);
    if (n < chunk.length) this.truncated = true;
    if (n === 0) return;
    if (this.memfd < 0 && this.size + n > SMALL_CAPTURE && !memfdUnavailable) this.spill();
    if (this.memfd >= 0) {
      try {
        writeFully(this.memfd, chunk.subarray(0, n), this.size);
      } catch {
        // Out of memory for the memfd: keep what is there, as a capture at its limit does.
        this.truncated = true;
        this.size = fs.fstatSync(this.memfd).size;
        return;
      }
      this.size += n;
      return;
    }
    if (this.size + n > this.buf.length) {
      // 64 KiB, then EXEC_MAX_OUTPUT of address space whose pages become resident only as output fills them.
      const grown = Buffer.allocUnsafeSlow(this.size + n <= SMALL_CAPTURE ? SMALL_CAPTURE : EXEC_MAX_OUTPUT);
      this.buf.copy(grown, 0, 0, this.size);
      this.buf = grown;
    }
    this.buf.set(chunk.subarray(0, n), this.size);
    this.size += n;
  }

  /** Moves the bytes so far into a new memfd; where none can be made, the buffer grows instead. */
  private spill(): void {
    let fd: number;
    try {
      fd = memfdCloexec('qga-ts guest-exec output');
    } catch (err) {
      // Out of descriptors passes; no koffi or no memfd_create (kernel < 3.17): buffers from now on.
      const errno = errnoOf(err);
      if (errno !== constants.errno.EMFILE && errno !== constants.errno.ENFILE) memfdUnavailable = true;
      return;
    }
    try {
      writeFully(fd, this.buf.subarray(0, this.size), 0);
    } catch {
      fs.closeSync(fd);
      return;
    }
    this.memfd = fd;
    this.buf = EMPTY;
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
    if (offset >= end) return EMPTY;
    if (this.memfd < 0) return this.buf.subarray(offset, end);
    const out = Buffer.allocUnsafe(end - offset);
    readFully(this.memfd, out, offset);
    return out;
  }

  /**
   * Everything captured, base64, typed as the schema's string: above SYNC_B64_LIMIT a Base64Bytes,
   * encoded while the reply is written. The capture lets go of its buffer: call it once, at the end.
   */
  takeBase64(): string {
    if (this.memfd >= 0) {
      const fd = this.memfd;
      this.memfd = -1;
      // Closed once the reply has encoded it, or when a reply that is never written is dropped;
      // only once: a second close could hit a descriptor that reused the number.
      let open = true;
      const release = () => {
        if (open) fs.closeSync(fd);
        open = false;
      };
      return new Base64Bytes(new MemfdBytes(fd, this.size), release) as unknown as string;
    }
    const bytes = this.buf.subarray(0, this.size);
    this.buf = EMPTY;
    return this.size <= SYNC_B64_LIMIT ? bytes.toString('base64') : (new Base64Bytes(bytes) as unknown as string);
  }
}
