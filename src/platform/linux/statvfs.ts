// statvfs() that cannot hang the agent. glibc's statvfs (through koffi, so f_frsize is exact; Node's
// fs.statfs has no f_frsize, which FUSE may set apart from f_bsize) runs on the libuv threadpool; one
// request's calls share one time limit, and a call that has not answered by then counts as failed. A
// mount point whose earlier call is still stuck is not asked again until that call returns, so one dead
// mount pins at most one pool thread however often it is queried.
import { ffi } from './ffi.ts';

export interface Statvfs {
  frsize: bigint;
  blocks: bigint;
  bfree: bigint;
  bavail: bigint;
}

/** The default time limit of one statvfs() call. */
export const STATVFS_TIMEOUT_MS = 1500;
/** At most this many calls are queued at once (koffi refuses more than 256 pending async calls). */
const MAX_IN_FLIGHT = 64;
/** sizeof(struct statvfs) on LP64 (x86_64, aarch64). */
const STATVFS_SIZE = 112;

/** One asynchronous statvfs() of a path given as a latin1 byte string: calls back once with the result,
 *  or null when it failed. */
export type StatvfsImpl = (path: string, done: (result: Statvfs | null) => void) => void;

type AsyncFn = (path: Buffer, buf: Buffer, cb: (err: unknown, res: number) => void) => void;
let statvfsAsync: AsyncFn | undefined;

/** glibc's statvfs() through koffi's asynchronous call (libuv threadpool). */
export const koffiStatvfs: StatvfsImpl = (path, done) => {
  if (statvfsAsync === undefined) {
    const fn = ffi().libc.func('int statvfs(const uint8_t *path, _Out_ uint8_t *buf)');
    statvfsAsync = fn.async as AsyncFn;
  }
  const buf = Buffer.alloc(STATVFS_SIZE);
  // The exact bytes of the path, NUL-terminated (a JS string would be re-encoded as UTF-8).
  statvfsAsync(Buffer.from(path + '\0', 'latin1'), buf, (err, res) => {
    if (err || res !== 0) return done(null);
    // f_bsize, f_frsize, f_blocks, f_bfree, f_bavail: unsigned longs from offset 0.
    done({
      frsize: buf.readBigUInt64LE(8),
      blocks: buf.readBigUInt64LE(16),
      bfree: buf.readBigUInt64LE(24),
      bavail: buf.readBigUInt64LE(32),
    });
  });
};

/** Mount points whose statvfs() is still running after its caller gave up on it. */
const stuck = new Map<string, Promise<unknown>>();

function callOnce(impl: StatvfsImpl, path: string, deadline: number): Promise<Statvfs | null> {
  const left = deadline - Date.now();
  if (left <= 0 || stuck.has(path)) return Promise.resolve(null);
  const call = new Promise<Statvfs | null>((resolve) => impl(path, resolve));
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<'timeout'>((resolve) => {
    timer = setTimeout(() => resolve('timeout'), left);
  });
  return Promise.race([call, timeout]).then((r) => {
    clearTimeout(timer);
    if (r !== 'timeout') return r;
    stuck.set(
      path,
      call.finally(() => stuck.delete(path)),
    );
    return null;
  });
}

/**
 * statvfs() of every path (latin1 byte strings), concurrently, all within one time limit: null where the call failed, did
 * not answer in time, or is still stuck from an earlier request. Results are in the order of `paths`.
 */
export async function statvfsMany(
  paths: readonly string[],
  timeoutMs = STATVFS_TIMEOUT_MS,
  impl: StatvfsImpl = koffiStatvfs,
): Promise<(Statvfs | null)[]> {
  const results: (Statvfs | null)[] = new Array(paths.length).fill(null);
  const deadline = Date.now() + timeoutMs;
  let next = 0;
  const worker = async (): Promise<void> => {
    while (next < paths.length) {
      const i = next++;
      results[i] = await callOnce(impl, paths[i], deadline);
    }
  };
  await Promise.all(Array.from({ length: Math.min(MAX_IN_FLIGHT, paths.length) }, worker));
  return results;
}

/** Mount points with a statvfs() call still outstanding (for tests and diagnostics). */
export function stuckStatvfsCount(): number {
  return stuck.size;
}
