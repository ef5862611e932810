// qga-ts extensions __io.qga-ts_guest-file-stat and __io.qga-ts_guest-dir-list (docs/extensions.md):
// describe a path without opening it, and list a directory a page at a time. Paths are absolute and
// reach the kernel as qemu-ga's guest-file-open would hand them over (osPath); names come back as bytes
// decoded the way every other qemu-ga string is (decodeCString).
import * as fs from 'node:fs';
import type {
  __io_qga_ts_GuestDirEntry as GuestDirEntry,
  __io_qga_ts_GuestDirList as GuestDirList,
  __io_qga_ts_GuestFileStat as GuestFileStat,
  __io_qga_ts_GuestFileType as GuestFileType,
  IoQgaTsGuestDirListArgs,
  IoQgaTsGuestFileStatArgs,
} from '../generated/qapi-types.ts';
import { genericError } from '../protocol/errors.ts';
import { decodeCString } from '../json/utf8.ts';
import { toJson } from '../json/serialize.ts';
import { strerror } from '../platform/linux/strerror.ts';
import { osPath } from './file.ts';
import type { AgentContext } from './context.ts';

/** A listing page stops before its entries' JSON would pass this many bytes (libvirt refuses replies above 4 MiB). */
export const DIR_LIST_REPLY_BUDGET = 1024 * 1024 - 4096;
export const DIR_LIST_DEFAULT_ENTRIES = 1000;
export const DIR_LIST_MAX_ENTRIES = 100000;

const S_IFMT = 0o170000n;
const TYPES = new Map<bigint, GuestFileType>([
  [0o100000n, 'file'],
  [0o040000n, 'directory'],
  [0o120000n, 'symlink'],
  [0o020000n, 'char-device'],
  [0o060000n, 'block-device'],
  [0o010000n, 'fifo'],
  [0o140000n, 'socket'],
]);

/** The reply for one stat(2)/lstat(2) result; `path` is read for a symlink's target. */
export function describeStats(st: fs.BigIntStats, path: string | Buffer): GuestFileStat {
  const type = TYPES.get(st.mode & S_IFMT) ?? 'unknown';
  const out: GuestFileStat = {
    type,
    size: st.size,
    mode: Number(st.mode & 0o7777n),
    uid: st.uid,
    gid: st.gid,
    nlink: st.nlink,
    'atime-ns': st.atimeNs,
    'mtime-ns': st.mtimeNs,
    'ctime-ns': st.ctimeNs,
  };
  if (type === 'symlink') {
    try {
      out['link-target'] = decodeCString(fs.readlinkSync(path, { encoding: 'buffer' }));
    } catch {
      // replaced by something else since the lstat: no target to report
    }
  }
  return out;
}

function absolute(command: string, path: string): string | Buffer {
  if (!path.startsWith('/')) throw genericError(`${command}: path '${path}' is not absolute`);
  return osPath(path);
}

/** An optional integer argument within [min, max], or the words saying it is not. */
function intArg(name: string, v: number | bigint | undefined, dflt: number, min: number, max: number): number {
  if (v === undefined) return dflt;
  if (v < min || v > max) throw genericError(`value '${v}' is invalid for argument ${name} (${min} to ${max})`);
  return Number(v);
}

export function guestFileStat(args: IoQgaTsGuestFileStatArgs, ctx: AgentContext): GuestFileStat {
  const follow = args['follow-symlinks'] ?? false;
  ctx.log.audit(`__io.qga-ts_guest-file-stat called, path: ${args.path}, follow-symlinks: ${follow}`);
  const path = absolute('__io.qga-ts_guest-file-stat', args.path);
  let st: fs.BigIntStats;
  try {
    st = follow ? fs.statSync(path, { bigint: true }) : fs.lstatSync(path, { bigint: true });
  } catch (err) {
    throw genericError(`failed to stat '${args.path}': ${strerror(err)}`);
  }
  return describeStats(st, path);
}

function entryOf(dir: Buffer, name: Buffer): GuestDirEntry {
  const full = Buffer.concat([dir, dir[dir.length - 1] === 0x2f ? Buffer.alloc(0) : Buffer.from('/'), name]);
  const entry: GuestDirEntry = { name: decodeCString(name) };
  let st: fs.BigIntStats | undefined;
  try {
    st = fs.lstatSync(full, { bigint: true, throwIfNoEntry: false });
  } catch {
    // unreadable since the readdir (e.g. EACCES on a racing chmod): the name alone
  }
  if (st !== undefined) entry.stat = describeStats(st, full);
  return entry;
}

export async function guestDirList(args: IoQgaTsGuestDirListArgs, ctx: AgentContext): Promise<GuestDirList> {
  ctx.log.audit(`__io.qga-ts_guest-dir-list called, path: ${args.path}`);
  const offset = intArg('offset', args.offset, 0, 0, Number.MAX_SAFE_INTEGER);
  const max = intArg('max-entries', args['max-entries'], DIR_LIST_DEFAULT_ENTRIES, 1, DIR_LIST_MAX_ENTRIES);
  const path = absolute('__io.qga-ts_guest-dir-list', args.path);
  let dir: fs.Dir;
  let fd: number | undefined;
  try {
    // Node 18's Dir joins its path and each name as strings: a path that is not UTF-8 goes through its descriptor.
    if (typeof path !== 'string') fd = fs.openSync(path, fs.constants.O_RDONLY | fs.constants.O_DIRECTORY);
    const dirPath = fd === undefined ? path : `/proc/self/fd/${fd}`;
    // latin1 maps each byte to one character, so the names keep the kernel's bytes.
    dir = await fs.promises.opendir(dirPath as string, { encoding: 'latin1', bufferSize: 256 });
  } catch (err) {
    throw genericError(`failed to open directory '${args.path}': ${strerror(err)}`);
  } finally {
    if (fd !== undefined) fs.closeSync(fd);
  }
  const dirBytes = typeof path === 'string' ? Buffer.from(path) : path;
  const entries: GuestDirEntry[] = [];
  let bytes = 0;
  let index = 0;
  try {
    for (;;) {
      let d: fs.Dirent | null;
      try {
        d = await dir.read();
      } catch (err) {
        throw genericError(`failed to read directory '${args.path}': ${strerror(err)}`);
      }
      if (d === null) return { entries };
      if (index++ < offset) continue;
      // One entry past a full page only proves that there is a next page.
      if (entries.length === max) return { entries, 'next-offset': offset + entries.length };
      const entry = entryOf(dirBytes, Buffer.from(d.name, 'latin1'));
      // ASCII JSON: characters are bytes; 2 more for the ", " between entries.
      const size = toJson(entry as never).length + 2;
      if (bytes + size > DIR_LIST_REPLY_BUDGET && entries.length > 0) return { entries, 'next-offset': offset + entries.length };
      bytes += size;
      entries.push(entry);
    }
  } finally {
    await dir.close().catch(() => {});
  }
}
