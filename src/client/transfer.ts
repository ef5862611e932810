// File transfer over guest-file-open/read/write/close: big chunks (1 MiB by default: its
// base64 answer, about 1.4 MB, stays far below libvirt's 4 MiB string cap and 10 MiB reply
// buffer); optionally with a few requests in flight, so that the agent reads or writes the next
// chunk while this side decodes or encodes the previous one (see DEFAULT_WINDOW).
//
// Verification: the SHA-256 of what was sent or received is compared with the guest's own
// `sha256sum` of the file, run through guest-exec when the agent allows it; otherwise, for
// put, the guest file is read back and hashed here (twice the traffic, but it needs nothing
// but the file commands).

import { createHash, randomBytes } from 'node:crypto';
import { open as openLocal, rename, stat, unlink, type FileHandle } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import type { QgaClient, CallOptions } from './client.ts';
import { QgaClientError, QgaCommandError, QgaProtocolError } from './errors.ts';
import { runGuestCommand } from './exec.ts';
import { replyFromWire } from './convert.ts';
import { Base64Bytes } from '../json/value.ts';
import type { GuestFileWrite } from '../generated/qapi-client.ts';

export const DEFAULT_CHUNK = 1024 * 1024;
/** qemu-ga refuses a read count above 48 MB. */
export const MAX_CHUNK = 48 * 1024 * 1024;
/**
 * One request at a time by default: qemu-ga on virtio-serial (every real guest) fails to write a
 * reply while the next request already sits in its GLib read buffer ("error writing to channel:
 * Illegal seek": GLib seeks on a character device) and the reply is lost. qga-ts takes any window.
 */
export const DEFAULT_WINDOW = 1;

export interface TransferOptions {
  /** Bytes per guest-file-read / guest-file-write (default 1 MiB). */
  chunkSize?: number;
  /** Requests in flight at once (default 1; more only for agents that take pipelined requests). */
  window?: number;
  /** Called after each chunk with the bytes done so far and the total, when known. */
  onProgress?: (done: number, total: number | undefined) => void;
  /** Per-call options (timeout). */
  call?: CallOptions;
  /** Stops the transfer (the guest file is closed first); it then rejects with the signal's reason. */
  signal?: AbortSignal;
  /** Called once the guest file is open. */
  onOpen?: () => void;
}

export interface TransferResult {
  bytes: number;
  /** SHA-256 (hex) of the bytes transferred. */
  sha256: string;
}

function checkChunk(n: number | undefined): number {
  const c = n ?? DEFAULT_CHUNK;
  if (!Number.isSafeInteger(c) || c < 1 || c > MAX_CHUNK) throw new RangeError(`chunk size must be an integer from 1 to ${MAX_CHUNK}`);
  return c;
}

/** `p`, or the signal's reason as soon as it is aborted (`p` itself is left to settle). */
function abortable<T>(p: Promise<T>, signal: AbortSignal | undefined): Promise<T> {
  if (signal === undefined) return p;
  if (signal.aborted) return Promise.reject(signal.reason);
  return new Promise<T>((resolve, reject) => {
    const onAbort = () => reject(signal.reason);
    signal.addEventListener('abort', onAbort, { once: true });
    p.then(
      (v) => (signal.removeEventListener('abort', onAbort), resolve(v)),
      (e) => (signal.removeEventListener('abort', onAbort), reject(e)),
    );
  });
}

/**
 * Runs `fn` with a guest file handle, closing it afterwards, also when `fn` fails or is
 * interrupted (errors of that close are secondary).
 */
async function withGuestFile<T>(
  client: QgaClient,
  path: string,
  mode: string,
  options: TransferOptions,
  fn: (handle: bigint) => Promise<T>,
): Promise<T> {
  const call = options.call;
  const handle = await client.guestFileOpen({ path, mode }, call);
  options.onOpen?.();
  let result: T;
  try {
    result = await fn(handle);
  } catch (e) {
    await client.guestFileClose({ handle }, call).catch(() => {});
    throw e;
  }
  await client.guestFileClose({ handle }, call);
  return result;
}

/** Keeps a promise's rejection from counting as unhandled while it waits in a queue. */
function quiet<T>(p: Promise<T>): Promise<T> {
  p.catch(() => {});
  return p;
}

/** The size of a guest file (seek to its end), or undefined when seeking fails (a pipe, say). */
async function guestSize(client: QgaClient, handle: bigint, call: CallOptions | undefined): Promise<number | undefined> {
  try {
    const end = await client.guestFileSeek({ handle, offset: 0, whence: 'end' }, call);
    await client.guestFileSeek({ handle, offset: 0, whence: 'set' }, call);
    return Number(end.position);
  } catch (e) {
    if (e instanceof QgaCommandError) return undefined;
    throw e;
  }
}

/**
 * Reads a guest file from its start to its end, handing each chunk to `sink` in order.
 * `sink` may return a promise (a local write), awaited before the next chunk is handled.
 */
export async function readGuestFile(
  client: QgaClient,
  path: string,
  sink: (chunk: Buffer) => void | Promise<void>,
  options: TransferOptions = {},
): Promise<TransferResult> {
  const count = checkChunk(options.chunkSize);
  const window = Math.max(1, options.window ?? DEFAULT_WINDOW);
  const call = options.call;
  const signal = options.signal;
  return withGuestFile(client, path, 'r', options, async (handle) => {
    const total = options.onProgress ? await abortable(guestSize(client, handle, call), signal) : undefined;
    const hash = createHash('sha256');
    const inflight: Promise<{ count: bigint; 'buf-b64': string; eof: boolean }>[] = [];
    let done = 0;
    let eof = false;
    try {
      const refill = (): void => {
        while (inflight.length < window) inflight.push(quiet(client.guestFileRead({ handle, count }, call)));
      };
      refill();
      while (!eof) {
        const r = await abortable(inflight.shift()!, signal);
        eof = r.eof;
        // The next request goes out before this chunk is decoded, hashed and stored: the agent
        // reads while this side works, even with one request in flight.
        if (!eof) refill();
        const buf = Buffer.from(r['buf-b64'], 'base64');
        if (BigInt(buf.length) !== r.count) {
          throw new QgaProtocolError(`guest-file-read: ${r.count} bytes announced, ${buf.length} bytes of base64 data received`);
        }
        if (buf.length > 0) {
          hash.update(buf);
          done += buf.length;
          await abortable(Promise.resolve(sink(buf)), signal);
        }
        options.onProgress?.(done, total);
      }
    } finally {
      // Reads sent past the end answer {count: 0, eof: true}; wait for them, errors and all.
      await Promise.allSettled(inflight);
    }
    return { bytes: done, sha256: hash.digest('hex') };
  });
}

/** Reads a guest file into memory. */
export async function readGuestFileToBuffer(client: QgaClient, path: string, options: TransferOptions = {}): Promise<Buffer> {
  const parts: Buffer[] = [];
  await readGuestFile(client, path, (b) => void parts.push(b), options);
  return Buffer.concat(parts);
}

/**
 * Writes `source` (a local file handle, read from its current position to its end, or a
 * buffer) to a guest file opened with `mode` ("w" truncates; "a" appends).
 */
export async function writeGuestFile(
  client: QgaClient,
  path: string,
  source: FileHandle | Buffer,
  options: TransferOptions & { mode?: string } = {},
): Promise<TransferResult> {
  const size = checkChunk(options.chunkSize);
  const window = Math.max(1, options.window ?? DEFAULT_WINDOW);
  const call = options.call;
  const total = Buffer.isBuffer(source) ? source.length : (await source.stat()).size;
  let offset = 0;
  const next = async (): Promise<Buffer | null> => {
    if (Buffer.isBuffer(source)) {
      if (offset >= source.length) return null;
      const b = source.subarray(offset, offset + size);
      offset += b.length;
      return b;
    }
    const b = Buffer.allocUnsafe(size);
    let n = 0;
    while (n < size) {
      const { bytesRead } = await source.read(b, n, size - n, null);
      if (bytesRead === 0) break;
      n += bytesRead;
    }
    return n === 0 ? null : b.subarray(0, n);
  };
  const signal = options.signal;
  return withGuestFile(client, path, options.mode ?? 'w', options, async (handle) => {
    const hash = createHash('sha256');
    const inflight: { len: number; p: Promise<{ count: bigint; eof: boolean }> }[] = [];
    let done = 0;
    let more = true;
    let ahead = quiet(next());
    try {
      for (;;) {
        while (more && inflight.length < window) {
          const b = await abortable(ahead, signal);
          if (b === null) {
            more = false;
            break;
          }
          inflight.push({ len: b.length, p: quiet(writeChunk(client, handle, b, call)) });
          // The next chunk is read and this one hashed while the agent writes.
          ahead = quiet(next());
          hash.update(b);
        }
        const w = inflight.shift();
        if (w === undefined) break;
        const r = await abortable(w.p, signal);
        if (r.count !== BigInt(w.len)) {
          throw new QgaClientError(`guest-file-write: short write (${r.count} of ${w.len} bytes) at offset ${done}`);
        }
        done += w.len;
        options.onProgress?.(done, total);
      }
    } finally {
      await Promise.allSettled([ahead, ...inflight.map((w) => w.p)]);
    }
    return { bytes: done, sha256: hash.digest('hex') };
  });
}

/** guest-file-write of `bytes`, base64-encoded as the request is built (no big string). */
async function writeChunk(client: QgaClient, handle: bigint, bytes: Buffer, call: CallOptions | undefined): Promise<GuestFileWrite> {
  const raw = await client.call('guest-file-write', { handle, 'buf-b64': new Base64Bytes(bytes) }, call);
  return replyFromWire('guest-file-write', raw) as GuestFileWrite;
}

export type VerifyMethod = 'sha256sum' | 'readback';

/**
 * The SHA-256 of a guest file: `sha256sum` in the guest through guest-exec when `methods`
 * allows it and it works, else (if allowed) reading the file back. Null when no allowed
 * method works.
 */
export async function guestSha256(
  client: QgaClient,
  path: string,
  methods: readonly VerifyMethod[],
  options: TransferOptions = {},
): Promise<{ sha256: string; method: VerifyMethod } | null> {
  if (methods.includes('sha256sum')) {
    try {
      const r = await abortable(runGuestCommand(client, 'sha256sum', { args: ['--', path], call: options.call, waitTimeout: 600_000 }), options.signal);
      const m = /^\\?([0-9a-f]{64})\s/.exec(r.stdout.toString('latin1'));
      if (r.exitcode === 0 && m !== null) return { sha256: m[1]!, method: 'sha256sum' };
    } catch (e) {
      if (!(e instanceof QgaCommandError)) throw e;
    }
  }
  if (methods.includes('readback')) {
    const r = await readGuestFile(client, path, () => {}, { ...options, onProgress: undefined });
    return { sha256: r.sha256, method: 'readback' };
  }
  return null;
}

/**
 * Removes a guest file with `rm -f -- PATH` through guest-exec (an argument vector: no shell).
 * False when the agent does not allow guest-exec or rm failed.
 */
export async function removeGuestFile(client: QgaClient, path: string, call?: CallOptions): Promise<boolean> {
  try {
    const r = await runGuestCommand(client, 'rm', { args: ['-f', '--', path], call, waitTimeout: 30_000 });
    return r.exitcode === 0;
  } catch (e) {
    if (e instanceof QgaCommandError) return false;
    throw e;
  }
}

/** Copies a local file to the guest. */
export async function putFile(client: QgaClient, localPath: string, guestPath: string, options: TransferOptions & { mode?: string } = {}): Promise<TransferResult> {
  const fh = await openLocal(localPath, 'r');
  try {
    return await writeGuestFile(client, guestPath, fh, options);
  } finally {
    await fh.close();
  }
}

/**
 * Copies a guest file to a local file. The bytes go to a temporary file beside it
 * (`.NAME.part-XXXXXXXX`), which replaces LOCAL only once `verify` (if given) accepted the
 * copy; on any failure or interruption it is removed, so LOCAL is never left half-written.
 */
export async function getFile(
  client: QgaClient,
  guestPath: string,
  localPath: string,
  options: TransferOptions & { verify?: (result: TransferResult) => Promise<void> } = {},
): Promise<TransferResult> {
  const st = await stat(localPath).catch(() => null);
  if (st?.isDirectory()) throw new QgaClientError(`${localPath}: is a directory (give a file name, e.g. ${join(localPath, basename(guestPath))})`);
  const temp = join(dirname(localPath), `.${basename(localPath)}.part-${randomBytes(4).toString('hex')}`);
  const fh = await openLocal(temp, 'wx');
  let renamed = false;
  try {
    let result: TransferResult;
    try {
      result = await readGuestFile(
        client,
        guestPath,
        async (b) => {
          for (let off = 0; off < b.length; ) off += (await fh.write(b, off, b.length - off)).bytesWritten;
        },
        options,
      );
    } finally {
      await fh.close();
    }
    await options.verify?.(result);
    await rename(temp, localPath);
    renamed = true;
    return result;
  } finally {
    if (!renamed) await unlink(temp).catch(() => {});
  }
}
