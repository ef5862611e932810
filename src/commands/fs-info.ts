// guest-get-fsinfo (docs/compatibility.md §Commands): every mount of the mount list (docs/compatibility.md §Commands, 10.2 dedup), newest first, with its
// device name, the disks under it, and statvfs() sizes.
//
// statvfs() of a dead mount (a stuck FUSE daemon, a hung block device) can block for ever. The calls run
// on the libuv threadpool, all of one request within one time limit (STATVFS_TIMEOUT_MS); a mount whose
// call does not answer in time is reported as qemu-ga reports a failed statvfs(): without used-bytes,
// total-bytes and total-bytes-privileged, the mount itself still listed. (Network filesystems and
// other anonymous-device mounts never reach statvfs: the mount list keeps block-device mounts only.)
import type { GuestFilesystemInfo } from '../generated/qapi-types.ts';
import { genericError } from '../protocol/errors.ts';
import { buildFsMountList, type FsMount } from '../platform/linux/mounts.ts';
import { rooted } from '../platform/linux/paths.ts';
import { statvfsMany, type Statvfs } from '../platform/linux/statvfs.ts';
import type { AgentContext } from './context.ts';
import { walkDevice, type DeviceWalk } from './disk-address.ts';

export interface FsinfoOptions {
  /** statvfs() of the mount points (latin1 byte strings, already under the root); defaults to the bounded
   *  threadpool calls. */
  statvfs?: (paths: readonly string[]) => Promise<(Statvfs | null)[]>;
  /** Keep only the first mount of each device (10.2+). Default true. */
  dedup?: boolean;
}

const U64 = (v: bigint) => BigInt.asUintN(64, v);

/** used-bytes, total-bytes and total-bytes-privileged, in qemu-ga's unsigned long arithmetic. */
function sizeMembers(sv: Statvfs): Pick<GuestFilesystemInfo, 'used-bytes' | 'total-bytes' | 'total-bytes-privileged'> {
  const used = U64(sv.blocks - sv.bfree);
  const nonrootTotal = U64(used + sv.bavail);
  return {
    'used-bytes': U64(used * sv.frsize),
    'total-bytes': U64(nonrootTotal * sv.frsize),
    'total-bytes-privileged': U64(sv.blocks * sv.frsize),
  };
}

export function fsinfoEntry(root: string, mount: FsMount, sv: Statvfs | null): { info: GuestFilesystemInfo; error?: string } {
  const walk: DeviceWalk = { disks: [] };
  walkDevice(root, `/sys/dev/block/${mount.devmajor}:${mount.devminor}`, walk);
  const info: GuestFilesystemInfo = { name: walk.name ?? '', mountpoint: mount.dirname, type: mount.devtype, disk: walk.disks };
  if (sv) Object.assign(info, sizeMembers(sv));
  return walk.error === undefined ? { info } : { info, error: walk.error };
}

export async function fsinfo(root: string, opts: FsinfoOptions = {}): Promise<GuestFilesystemInfo[]> {
  const mounts = buildFsMountList(root, { dedup: opts.dedup ?? true });
  const stat = opts.statvfs ?? statvfsMany;
  // The statvfs() calls run on the threadpool while the sysfs walks run here.
  const sizes = mounts.length === 0 ? Promise.resolve([]) : stat(mounts.map((m) => rooted(root, m.dirnameBytes)));
  const entries = mounts.map((m) => fsinfoEntry(root, m, null));
  const failed = entries.find((e) => e.error !== undefined);
  const got = await sizes;
  if (failed) throw genericError(failed.error as string);
  const result: GuestFilesystemInfo[] = [];
  for (let i = 0; i < entries.length; i++) {
    const info = entries[i].info;
    const sv = got[i];
    if (sv) Object.assign(info, sizeMembers(sv));
    result.unshift(info);
  }
  return result;
}

export function guestGetFsinfo(_args: unknown, ctx: AgentContext): Promise<GuestFilesystemInfo[]> {
  return fsinfo(ctx.root);
}
