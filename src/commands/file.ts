// guest-file-open/-close/-read/-write/-seek/-flush (docs/compatibility.md §Commands "Files").
//
// qemu-ga wraps each descriptor in a stdio FILE. We keep the bare descriptor and do what
// stdio would do, which is observably the same:
//   - reads loop read(2) until `count` bytes or a 0-byte read; `eof` is "a read returned 0"
//     (qemu-ga calls clearerr after every command, so the flag never outlives a command);
//   - writes go straight to write(2) at the kernel position (O_APPEND does appending), so
//     no stdio buffer exists and flush has nothing to push; seek/tell are lseek(2);
//   - count 0 reads and writes make no system call at all, like fread/fwrite;
//   - every fd is O_NONBLOCK, so a FIFO read with a live writer but too few bytes fails with
//     EAGAIN and loses what it consumed, exactly like qemu-ga (docs/compatibility.md §Commands).
// Creation follows qemu-ga: O_EXCL first, then a plain open on EEXIST; a file we created is
// fchmod'ed to 0666 whatever the umask. That is qemu-ga's documented, probed behaviour
// (file/modes, "created": 0o666), so it is matched rather than tightened; a host that wants
// private files chmods them or writes into a private directory.
//
// Speed: up to 64 KiB, reads and writes are synchronous (microseconds on a local file, and
// never blocking since the fd is non-blocking or a regular file); above that they run on
// libuv's thread pool into one reusable buffer, so a 48 MiB transfer costs one read(2) and
// one base64 pass, and the event loop keeps serving other work meanwhile.
import * as fs from 'node:fs';
import type { AgentContext } from './context.ts';
import type {
  GuestFileCloseArgs,
  GuestFileOpenArgs,
  GuestFileReadArgs,
  GuestFileSeekArgs,
  GuestFileWhenceInput,
  GuestFileWriteArgs,
} from '../generated/qapi-types.ts';
import { genericError } from '../protocol/errors.ts';
import { decodeBase64, encodeBase64, planBase64, planWireBase64, type PlainBase64 } from '../protocol/base64.ts';
import { takesWireStrings } from '../protocol/dispatcher.ts';
import { Base64Bytes, Base64Text, WireString } from '../json/value.ts';
import { collectGarbage, noteGarbage, whenIdle } from './gc-hint.ts';
import { strerror } from '../platform/linux/strerror.ts';
import { lseek, pageAlignedBuffer, releasePages, SEEK_CUR, SEEK_END, SEEK_SET } from '../platform/linux/fdops.ts';

// ---- argument and result types ---------------------------------------------------------------

export type { GuestFileOpenArgs, GuestFileReadArgs, GuestFileWriteArgs, GuestFileSeekArgs } from '../generated/qapi-types.ts';
/** guest-file-close and guest-file-flush take just a handle. */
export type GuestFileHandleArgs = GuestFileCloseArgs;
/**
 * Results with the integer types this module produces (the schema allows number | bigint).
 * `buf-b64` of a read above 64 KiB is a Base64Bytes (json/value.ts) over the bytes read, which the
 * serializer encodes while the reply is written; it is typed as the schema's string, which it
 * becomes on the wire (b64Text() gives the string).
 */
export interface GuestFileRead {
  count: number;
  'buf-b64': string;
  eof: boolean;
}

/** The base64 text of a read result's `buf-b64`, whichever form it has. */
export function b64Text(v: string | Base64Bytes): string {
  return typeof v === 'string' ? v : v.base64(0, v.bytes.length);
}

/** guest-file-write's arguments as the dispatcher hands them over: a long `buf-b64` may be a WireString. */
export type GuestFileWriteWireArgs = Omit<GuestFileWriteArgs, 'buf-b64'> & { 'buf-b64': string | WireString };
export interface GuestFileWrite {
  count: number;
  eof: boolean;
}
export interface GuestFileSeek {
  position: bigint;
  eof: boolean;
}
type Empty = Record<string, never>;

// ---- constants ------------------------------------------------------------------------------

/** qemu-ga's QGA_READ_COUNT_DEFAULT and GUEST_FILE_READ_COUNT_MAX. */
export const READ_COUNT_DEFAULT = 4096;
export const READ_COUNT_MAX = 48 * 1024 * 1024;
/** Transfers up to this size are done synchronously. */
const SYNC_LIMIT = 64 * 1024;
/** Large writes are decoded and written in pieces of this many base64 characters (3 MiB). */
const WRITE_SLICE_CHARS = 4 * 1024 * 1024;

const { O_RDONLY, O_WRONLY, O_RDWR, O_CREAT, O_TRUNC, O_APPEND, O_EXCL, O_NOCTTY, O_NONBLOCK } = fs.constants;

/** The fopen() modes qemu-ga accepts and their open(2) flags (O_CLOEXEC is added by libuv). */
const OPEN_MODES: ReadonlyMap<string, number> = new Map([
  ['r', O_RDONLY],
  ['rb', O_RDONLY],
  ['w', O_WRONLY | O_CREAT | O_TRUNC],
  ['wb', O_WRONLY | O_CREAT | O_TRUNC],
  ['a', O_WRONLY | O_CREAT | O_APPEND],
  ['ab', O_WRONLY | O_CREAT | O_APPEND],
  ['r+', O_RDWR],
  ['rb+', O_RDWR],
  ['r+b', O_RDWR],
  ['w+', O_RDWR | O_CREAT | O_TRUNC],
  ['wb+', O_RDWR | O_CREAT | O_TRUNC],
  ['w+b', O_RDWR | O_CREAT | O_TRUNC],
  ['a+', O_RDWR | O_CREAT | O_APPEND],
  ['ab+', O_RDWR | O_CREAT | O_APPEND],
  ['a+b', O_RDWR | O_CREAT | O_APPEND],
]);

const NEW_FILE_MODE = 0o666;

// ---- helpers --------------------------------------------------------------------------------

/**
 * The bytes qemu-ga would hand to open(2): QEMU's JSON parser stores U+0000 as the overlong
 * pair C0 80 (so the C string goes on), and that is the name the kernel sees.
 */
export function osPath(s: string): string | Buffer {
  if (s.indexOf('\0') < 0) return s;
  const parts = s.split('\0').map((p) => Buffer.from(p, 'utf8'));
  const sep = Buffer.from([0xc0, 0x80]);
  const out: Buffer[] = [];
  parts.forEach((p, i) => {
    if (i > 0) out.push(sep);
    out.push(p);
  });
  return Buffer.concat(out);
}

function countError(count: bigint): never {
  throw genericError(`value '${count}' is invalid for argument count`);
}

interface OpenFile {
  readonly handle: bigint;
  readonly fd: number;
  closed: boolean;
  /** The last queued asynchronous operation, or null when the handle is idle. */
  tail: Promise<unknown> | null;
}

/** Runs `op` after the handle's pending asynchronous operations; synchronously when idle. */
function onHandle<T>(f: OpenFile, op: () => T | Promise<T>): T | Promise<T> {
  const guarded = (): T | Promise<T> => {
    if (f.closed) throw genericError(`handle '${f.handle}' has not been found`);
    return op();
  };
  const result = f.tail === null ? guarded() : f.tail.then(guarded, guarded);
  if (result instanceof Promise) {
    const settled: Promise<unknown> = result.then(
      () => undefined,
      () => undefined,
    );
    f.tail = settled;
    void settled.then(() => {
      if (f.tail === settled) f.tail = null;
    });
  }
  return result;
}

/**
 * The buffer for large reads: 48 MiB of address space, kept for the agent's lifetime. A read's
 * bytes stay in it until the reply has encoded them (Base64Bytes), and its pages are handed back
 * to the kernel (madvise) once no read has wanted it for PAGES_IDLE_MS: back-to-back transfers
 * reuse resident pages instead of faulting 12288 of them in again, and an idle agent keeps none.
 * The reply itself never sits in RSS whole (it is streamed through a few 1 MiB pieces).
 */
const PAGES_IDLE_MS = 1000;

class ReadBuffer {
  private buf: Buffer | null | undefined;
  private busy = false;
  /** Bytes touched since the pages were last released. */
  private dirty = 0;
  private timer: NodeJS.Timeout | null = null;

  acquire(size: number): { buf: Buffer; pooled: boolean } {
    if (this.buf === undefined) this.buf = pageAlignedBuffer(READ_COUNT_MAX);
    if (this.busy || this.buf === null || size > this.buf.length) return { buf: Buffer.allocUnsafeSlow(size), pooled: false };
    this.busy = true;
    if (this.timer !== null) {
      clearTimeout(this.timer);
      this.timer = null;
    }
    return { buf: this.buf, pooled: true };
  }

  release(buf: Buffer, used: number): void {
    if (buf !== this.buf) return;
    this.busy = false;
    this.dirty = Math.max(this.dirty, used);
    if (this.timer !== null) clearTimeout(this.timer);
    this.timer = setTimeout(() => {
      this.timer = null;
      if (this.busy || this.buf == null) return;
      releasePages(this.buf, this.dirty);
      this.dirty = 0;
    }, PAGES_IDLE_MS);
    this.timer.unref();
  }
}

function fsRead(fd: number, buf: Buffer, offset: number, length: number): Promise<number> {
  return new Promise((resolve, reject) => {
    fs.read(fd, buf, offset, length, null, (err, n) => (err ? reject(err) : resolve(n)));
  });
}

function fsWrite(fd: number, buf: Buffer, offset: number, length: number): Promise<number> {
  return new Promise((resolve, reject) => {
    fs.write(fd, buf, offset, length, null, (err, n) => (err ? reject(err) : resolve(n)));
  });
}

/** A small read's base64, typed as the reply's string member (the serializer prints it unscanned). */
function base64Text(buf: Buffer, n: number): string {
  return new Base64Text(encodeBase64(buf, n)) as unknown as string;
}

// ---- the handlers ---------------------------------------------------------------------------

export interface FileHandlers {
  'guest-file-open'(args: GuestFileOpenArgs, ctx: AgentContext): bigint;
  'guest-file-close'(args: GuestFileHandleArgs, ctx: AgentContext): Empty | Promise<Empty>;
  'guest-file-read'(args: GuestFileReadArgs, ctx: AgentContext): GuestFileRead | Promise<GuestFileRead>;
  'guest-file-write'(args: GuestFileWriteWireArgs, ctx: AgentContext): GuestFileWrite | Promise<GuestFileWrite>;
  'guest-file-seek'(args: GuestFileSeekArgs, ctx: AgentContext): GuestFileSeek | Promise<GuestFileSeek>;
  'guest-file-flush'(args: GuestFileHandleArgs, ctx: AgentContext): Empty | Promise<Empty>;
}

/**
 * The file commands with their handle table. Handles are global to the agent: they survive
 * client reconnects and live until closed or the agent exits. Call once per agent.
 */
export function createFileHandlers(): FileHandlers {
  const files = new Map<bigint, OpenFile>();
  const small = Buffer.allocUnsafeSlow(SYNC_LIMIT);
  const big = new ReadBuffer();
  // The decode buffers of the last streamed write, for the next one (a stream of 1 MiB writes).
  const slices: Buffer[] = [];
  const newSlice = (): Buffer => Buffer.allocUnsafeSlow((WRITE_SLICE_CHARS / 4) * 3);
  whenIdle(() => (slices.length = 0));

  function find(handle: bigint): OpenFile {
    const f = files.get(handle);
    if (f === undefined) throw genericError(`handle '${handle}' has not been found`);
    return f;
  }

  function readFailed(ctx: AgentContext, f: OpenFile, err: unknown): never {
    ctx.log.audit(`guest-file-read failed, handle: ${f.handle}`);
    throw genericError(`failed to read file: ${strerror(err)}`);
  }

  function writeFailed(ctx: AgentContext, f: OpenFile, err: unknown): never {
    ctx.log.audit(`guest-file-write failed, handle: ${f.handle}`);
    throw genericError(`failed to write to file: ${strerror(err)}`);
  }

  function readSync(ctx: AgentContext, f: OpenFile, count: number): GuestFileRead {
    let n = 0;
    let eof = false;
    try {
      while (n < count) {
        const r = fs.readSync(f.fd, small, n, count - n, null);
        if (r === 0) {
          eof = true;
          break;
        }
        n += r;
      }
    } catch (err) {
      readFailed(ctx, f, err);
    }
    return { count: n, 'buf-b64': base64Text(small, n), eof };
  }

  async function readAsync(ctx: AgentContext, f: OpenFile, count: number): Promise<GuestFileRead> {
    collectGarbage(); // whatever earlier transfers left behind
    const { buf, pooled } = big.acquire(count);
    let n = 0;
    let eof = false;
    try {
      while (n < count) {
        const r = await fsRead(f.fd, buf, n, count - n);
        if (r === 0) {
          eof = true;
          break;
        }
        n += r;
      }
    } catch (err) {
      if (pooled) big.release(buf, n);
      readFailed(ctx, f, err);
    }
    if (n <= SYNC_LIMIT) {
      const b64 = base64Text(buf, n);
      if (pooled) big.release(buf, n);
      return { count: n, 'buf-b64': b64, eof };
    }
    // The bytes are encoded as the reply is written (small, short-lived pieces: no big
    // garbage), and the buffer is released after that.
    const bytes = new Base64Bytes(buf.subarray(0, n), () => {
      if (pooled) big.release(buf, n);
    });
    return { count: n, 'buf-b64': bytes as unknown as string, eof };
  }

  function writeSync(ctx: AgentContext, f: OpenFile, data: Buffer, count: number): GuestFileWrite {
    let n = 0;
    try {
      while (n < count) n += fs.writeSync(f.fd, data, n, count - n, null);
    } catch (err) {
      writeFailed(ctx, f, err);
    }
    return { count: n, eof: false };
  }

  async function writeAsync(ctx: AgentContext, f: OpenFile, data: Buffer, count: number): Promise<GuestFileWrite> {
    let n = 0;
    try {
      while (n < count) n += await fsWrite(f.fd, data, n, count - n);
    } catch (err) {
      writeFailed(ctx, f, err);
    }
    return { count: n, eof: false };
  }

  /** Decodes and writes a plain base64 argument piece by piece, decoding the next piece while one is written. */
  async function writeStreamed(ctx: AgentContext, f: OpenFile, b64: PlainBase64, count: number): Promise<GuestFileWrite> {
    collectGarbage();
    const bufs = [slices.pop() ?? newSlice(), slices.pop() ?? newSlice()];
    let written = 0;
    let cur = 0;
    let ready = b64.readInto(bufs[cur]);
    try {
      while (written < count) {
        const want = Math.min(ready, count - written);
        const pending = fsWrite(f.fd, bufs[cur], 0, want);
        let next = 0;
        if (written + want < count) next = b64.readInto(bufs[1 - cur]);
        let done = await pending;
        while (done < want) done += await fsWrite(f.fd, bufs[cur], done, want - done);
        written += want;
        cur = 1 - cur;
        ready = next;
      }
    } catch (err) {
      writeFailed(ctx, f, err);
    }
    if (slices.length === 0) slices.push(...bufs);
    // The argument (a string, or the chunks it came in), once the reply is out.
    noteGarbage(b64.chars);
    return { count: written, eof: false };
  }

  return {
    'guest-file-open'(args, ctx) {
      const path = args.path;
      const mode = args.mode ?? 'r';
      ctx.log.audit(`guest-file-open called, filepath: ${path}, mode: ${mode}`);
      const base = OPEN_MODES.get(mode);
      if (base === undefined) throw genericError(`invalid file open mode '${mode}'`);
      let flags = base | O_NOCTTY | O_NONBLOCK;
      const failure = (what: string, err: unknown) => genericError(`${what} '${path}' (mode: '${mode}'): ${strerror(err)}`);
      const name = osPath(path);
      let fd: number;
      let created = false;
      try {
        if (flags & O_CREAT) {
          try {
            fd = fs.openSync(name, flags | O_EXCL, 0);
            created = true;
          } catch (err) {
            if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
            flags &= ~O_CREAT;
            fd = fs.openSync(name, flags);
          }
        } else {
          fd = fs.openSync(name, flags);
        }
      } catch (err) {
        throw failure('failed to open file', err);
      }
      if (created) {
        try {
          fs.fchmodSync(fd, NEW_FILE_MODE);
        } catch (err) {
          fs.closeSync(fd);
          try {
            fs.unlinkSync(name);
          } catch {
            // qemu-ga ignores the unlink result too
          }
          throw failure('failed to set permission 0666 on new file', err);
        }
      }
      let handle: bigint;
      try {
        handle = ctx.allocateHandle();
      } catch (err) {
        fs.closeSync(fd);
        throw err;
      }
      if (handle < 0n) {
        // qemu-ga: a negative counter yields -1 and no error; the file is closed again.
        fs.closeSync(fd);
        return -1n;
      }
      files.set(handle, { handle, fd, closed: false, tail: null });
      ctx.log.audit(`guest-file-open, handle: ${handle}`);
      return handle;
    },

    'guest-file-close'(args, ctx) {
      ctx.log.audit(`guest-file-close called, handle: ${args.handle}`);
      const f = find(args.handle);
      return onHandle(f, () => {
        f.closed = true;
        files.delete(f.handle);
        try {
          fs.closeSync(f.fd);
        } catch (err) {
          throw genericError(`failed to close handle: ${strerror(err)}`);
        }
        return {};
      });
    },

    'guest-file-read'(args, ctx) {
      const f = find(args.handle);
      let count = READ_COUNT_DEFAULT;
      if (args.count !== undefined) {
        if (args.count < 0n || args.count > BigInt(READ_COUNT_MAX)) countError(args.count);
        count = Number(args.count);
      }
      if (count === 0) return { count: 0, 'buf-b64': '', eof: false };
      return onHandle(f, () => (count <= SYNC_LIMIT ? readSync(ctx, f, count) : readAsync(ctx, f, count)));
    },

    'guest-file-write': takesWireStrings((args: GuestFileWriteWireArgs, ctx: AgentContext) => {
      const f = find(args.handle);
      const arg = args['buf-b64'];
      let text: string;
      let plain: PlainBase64 | null = null;
      if (arg instanceof WireString) {
        // Long and plain ASCII as it arrived: checked and decoded from its chunks.
        plain = planWireBase64(arg);
        text = plain === null ? arg.toString() : '';
      } else {
        text = arg;
        if (text.length > (SYNC_LIMIT / 3) * 4) plain = planBase64(text);
      }
      if (plain !== null) {
        const b64 = plain;
        let count = b64.length;
        if (args.count !== undefined) {
          if (args.count < 0n || args.count > BigInt(b64.length)) countError(args.count);
          count = Number(args.count);
        }
        if (count === 0) return { count: 0, eof: false };
        return onHandle(f, () => writeStreamed(ctx, f, b64, count));
      }
      const data = decodeBase64(text);
      let count = data.length;
      if (args.count !== undefined) {
        if (args.count < 0n || args.count > BigInt(data.length)) countError(args.count);
        count = Number(args.count);
      }
      if (count === 0) return { count: 0, eof: false };
      return onHandle(f, () => (count <= SYNC_LIMIT ? writeSync(ctx, f, data, count) : writeAsync(ctx, f, data, count)));
    }, ['buf-b64']),

    'guest-file-seek'(args) {
      const f = find(args.handle);
      const whence = whenceCode(args.whence);
      return onHandle(f, () => {
        try {
          return { position: lseek(f.fd, args.offset, whence), eof: false };
        } catch (err) {
          throw genericError(`failed to seek file: ${strerror(err)}`);
        }
      });
    },

    'guest-file-flush'(args) {
      const f = find(args.handle);
      // Writes are never buffered here, so there is nothing to push: fflush() succeeds.
      return onHandle(f, () => ({}));
    },
  };
}

/** The GuestFileWhence alternate as a SEEK_* code; `invalid whence code <n>` for other ints. */
export function whenceCode(w: GuestFileWhenceInput): number {
  switch (w) {
    case 'set':
    case 0n:
      return SEEK_SET;
    case 'cur':
    case 1n:
      return SEEK_CUR;
    case 'end':
    case 2n:
      return SEEK_END;
    default:
      throw genericError(`invalid whence code ${w}`);
  }
}
