// guest-get-vcpus (docs/compatibility.md §Commands): the cpu<N> entries of /sys/devices/system/cpu in readdir order.
import type { GuestLogicalProcessor } from '../generated/qapi-types.ts';
import { QgaError, genericError } from '../protocol/errors.ts';
import { readdirRaw } from '../platform/linux/dirent.ts';
import { rooted } from '../platform/linux/paths.ts';
import { sscanf } from '../platform/linux/scanf.ts';
import type { AgentContext } from './context.ts';
import { checkDirOpens, openAndPread, withErrno } from './inventory-common.ts';

const CPU_DIR = '/sys/devices/system/cpu';

export function guestGetVcpus(_args: unknown, ctx: AgentContext): GuestLogicalProcessor[] {
  let entries;
  try {
    entries = readdirRaw(rooted(ctx.root, CPU_DIR));
  } catch (err) {
    throw genericError(withErrno(`failed to list entries: ${CPU_DIR}`, err));
  }
  const result: GuestLogicalProcessor[] = [];
  for (const entry of entries) {
    // sscanf("cpu%ld") == 1. (EOF, for a name that ends inside "cpu", makes qemu-ga read an
    // uninitialised id; such names do not occur in sysfs and are skipped here.)
    const m = sscanf(entry.name, 'cpu%ld');
    if (m.ret !== 1) continue;
    const id = m.values[0] as bigint;
    const dir = `${CPU_DIR}/cpu${id}/`;
    try {
      checkDirOpens(rooted(ctx.root, dir));
    } catch (err) {
      throw genericError(withErrno(`open("${dir}")`, err));
    }
    const online = `${dir}/online`;
    let byte: Buffer;
    try {
      byte = openAndPread(
        rooted(ctx.root, online),
        1,
        (err) => {
          throw err;
        },
        (err) => {
          throw genericError(withErrno(`pread("${online}")`, err));
        },
      );
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') {
        // No "online" file (typically cpu0): always online, cannot be offlined.
        result.push({ 'logical-id': id, online: true, 'can-offline': false });
        continue;
      }
      if (err instanceof QgaError) throw err;
      throw genericError(withErrno(`open("${online}")`, err));
    }
    if (byte.length === 0) throw genericError(`pread("${online}"): unexpected EOF`);
    result.push({ 'logical-id': id, online: byte[0] !== 0x30, 'can-offline': true });
  }
  return result;
}
