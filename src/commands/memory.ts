// guest-get-memory-blocks and guest-get-memory-block-info (docs/compatibility.md §Commands): /sys/devices/system/memory.
import type { GuestMemoryBlock, GuestMemoryBlockInfo } from '../generated/qapi-types.ts';
import { genericError } from '../protocol/errors.ts';
import { DT_DIR, readdirRaw } from '../platform/linux/dirent.ts';
import { rooted } from '../platform/linux/paths.ts';
import { strtol, strtoul } from '../platform/linux/scanf.ts';
import type { AgentContext } from './context.ts';
import { checkDirOpens, openAndPread, withErrno } from './inventory-common.ts';

const MEMORY_DIR = '/sys/devices/system/memory/';

/**
 * ga_read_sysfs_file(): up to `size` bytes of `<dir><name>`. Failures carry qemu-ga's text and whether
 * errno was ENOENT at that point (only an open can fail that way; an empty file leaves errno 0).
 */
function readSysfsFile(root: string, dir: string, name: string, size: number): Buffer | { error: string; enoent: boolean } {
  try {
    const data = openAndPread(
      rooted(root, dir + name),
      size,
      (err) => {
        throw new SysfsError(withErrno(`open sysfs file "${name}"`, err), (err as NodeJS.ErrnoException).code === 'ENOENT');
      },
      (err) => {
        throw new SysfsError(withErrno(`pread sysfs file "${name}"`, err), (err as NodeJS.ErrnoException).code === 'ENOENT');
      },
    );
    if (data.length === 0) return { error: `pread sysfs file "${name}": unexpected EOF`, enoent: false };
    return data;
  } catch (err) {
    if (err instanceof SysfsError) return { error: err.message, enoent: err.enoent };
    throw err;
  }
}

class SysfsError extends Error {
  constructor(
    message: string,
    readonly enoent: boolean,
  ) {
    super(message);
  }
}

export function guestGetMemoryBlocks(_args: unknown, ctx: AgentContext): GuestMemoryBlock[] {
  let entries;
  try {
    entries = readdirRaw(rooted(ctx.root, MEMORY_DIR));
  } catch (err) {
    // No memory directory in sysfs: no blocks to report, and no error.
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return [];
    throw genericError(withErrno(`Can't open directory"${MEMORY_DIR}"`, err));
  }
  const result: GuestMemoryBlock[] = [];
  for (const entry of entries) {
    // d_type & DT_DIR, as qemu-ga tests it.
    if (!entry.name.startsWith('memory') || (entry.type & DT_DIR) === 0) continue;
    const physIndex = strtoul(entry.name.slice(6), 10).value;
    // The directory is opened by the parsed number ("memory%" PRId64), not by the entry's name.
    const dir = `${MEMORY_DIR}memory${BigInt.asIntN(64, physIndex)}/`;
    try {
      checkDirOpens(rooted(ctx.root, dir));
    } catch (err) {
      throw genericError(withErrno(`open("${dir}")`, err));
    }
    const state = readSysfsFile(ctx.root, dir, 'state', 10);
    if (!Buffer.isBuffer(state)) {
      // No "state" file (old kernels): online, and it cannot be offlined.
      if (state.enoent) {
        result.push({ 'phys-index': physIndex, online: true, 'can-offline': false });
        continue;
      }
      throw genericError(state.error);
    }
    const online = state.subarray(0, 6).toString('latin1') === 'online';
    let canOffline: boolean;
    const removable = readSysfsFile(ctx.root, dir, 'removable', 1);
    if (!Buffer.isBuffer(removable)) {
      if (!removable.enoent) throw genericError(removable.error);
      canOffline = false;
    } else {
      canOffline = removable[0] !== 0x30;
    }
    result.push({ 'phys-index': physIndex, online, 'can-offline': canOffline });
  }
  if (result.length === 0) throw genericError('guest reported zero memory blocks!');
  return result;
}

export function guestGetMemoryBlockInfo(_args: unknown, ctx: AgentContext): GuestMemoryBlockInfo {
  try {
    checkDirOpens(rooted(ctx.root, MEMORY_DIR));
  } catch (err) {
    throw genericError(withErrno(`open("${MEMORY_DIR}")`, err));
  }
  const data = readSysfsFile(ctx.root, MEMORY_DIR, 'block_size_bytes', 20);
  if (!Buffer.isBuffer(data)) throw genericError(data.error);
  // strtol(buf, NULL, 16) into a uint64.
  return { size: BigInt.asUintN(64, strtol(data.toString('latin1'), 16).value) };
}

