// guest-get-disks (docs/compatibility.md §Commands): the disks of /sys/block (readdir order, newest first), each with its
// partitions, dependencies (slaves), device-mapper alias, address and, for NVMe, the SMART log.
import type { GuestDiskInfo, GuestDiskSmart, GuestNVMeSmart } from '../generated/qapi-types.ts';
import * as fs from 'node:fs';
import { genericError } from '../protocol/errors.ts';
import { DT_DIR, DT_LNK, readdirRaw, type RawDirent } from '../platform/linux/dirent.ts';
import { nvmeSmartLog } from '../platform/linux/nvme.ts';
import { rooted } from '../platform/linux/paths.ts';
import { udevDeviceFromSyspath } from '../platform/linux/udev.ts';
import type { AgentContext } from './context.ts';
import { isDiskVirtual, walkDevice, type DeviceWalk } from './disk-address.ts';
import { withErrno } from './inventory-common.ts';

/** Decodes the NVMe SMART / Health Information log page (NVMe base spec, log 02h). */
export function decodeSmartLog(log: Buffer): GuestDiskSmart {
  const u64 = (off: number) => log.readBigUInt64LE(off);
  return {
    type: 'nvme',
    'critical-warning': BigInt(log[0]),
    temperature: BigInt(log.readUInt16LE(1)),
    'available-spare': BigInt(log[3]),
    'available-spare-threshold': BigInt(log[4]),
    'percentage-used': BigInt(log[5]),
    'data-units-read-lo': u64(32),
    'data-units-read-hi': u64(40),
    'data-units-written-lo': u64(48),
    'data-units-written-hi': u64(56),
    'host-read-commands-lo': u64(64),
    'host-read-commands-hi': u64(72),
    'host-write-commands-lo': u64(80),
    'host-write-commands-hi': u64(88),
    'controller-busy-time-lo': u64(96),
    'controller-busy-time-hi': u64(104),
    'power-cycles-lo': u64(112),
    'power-cycles-hi': u64(120),
    'power-on-hours-lo': u64(128),
    'power-on-hours-hi': u64(136),
    'unsafe-shutdowns-lo': u64(144),
    'unsafe-shutdowns-hi': u64(152),
    'media-errors-lo': u64(160),
    'media-errors-hi': u64(168),
    'number-of-error-log-entries-lo': u64(176),
    'number-of-error-log-entries-hi': u64(184),
  };
}

export interface DisksOptions {
  /** The SMART log of an NVMe device node (the path is under the root); defaults to the admin ioctl. */
  smartLog?: (devnode: string) => Buffer | undefined;
}

function devnodeOf(root: string, syspath: string): string | undefined {
  return udevDeviceFromSyspath(root, syspath)?.devnode;
}

/** "<disk><digits…>" or "<disk>p<digit…>". */
function isPartitionName(disk: string, name: string): boolean {
  if (!name.startsWith(disk)) return false;
  const rest = name.slice(disk.length);
  const digit = (c: string | undefined) => c !== undefined && c >= '0' && c <= '9';
  return (rest[0] === 'p' && digit(rest[1])) || digit(rest[0]);
}

export function disks(root: string, opts: DisksOptions = {}): GuestDiskInfo[] {
  let entries;
  try {
    entries = readdirRaw(rooted(root, '/sys/block'));
  } catch (err) {
    throw genericError(withErrno('Can\'t open directory "/sys/block"', err));
  }
  const smartLog = opts.smartLog ?? nvmeSmartLog;
  const result: GuestDiskInfo[] = [];
  for (const de of entries) {
    if (de.type !== DT_LNK) continue;
    let size: string;
    try {
      size = fs.readFileSync(rooted(root, `/sys/block/${de.name}/size`), 'latin1');
    } catch {
      continue;
    }
    if (size === '0\n') continue;
    const diskDir = `/sys/block/${de.name}`;
    const udev = udevDeviceFromSyspath(root, diskDir);
    const devName = udev?.devnode;
    if (udev === null || devName === undefined) continue;
    const disk: GuestDiskInfo = { name: devName, partition: false };
    const alias = udev.property('DM_NAME');
    if (alias) disk.alias = alias;
    result.unshift(disk);
    // Address for non-virtual disks only; a failed realpath counts as virtual, walk errors are ignored.
    if (isDiskVirtual(root, diskDir) === false) {
      const walk: DeviceWalk = { disks: [] };
      walkDevice(root, diskDir, walk);
      if (walk.disks.length > 0) disk.address = walk.disks[0];
    }
    // Dependencies: the devnodes of <disk>/slaves/*, present whenever the directory opens.
    let slaves;
    try {
      slaves = readdirRaw(rooted(root, `${diskDir}/slaves`));
    } catch {
      slaves = undefined;
    }
    if (slaves !== undefined) {
      const deps: string[] = [];
      for (const s of slaves) {
        const dev = devnodeOf(root, `${diskDir}/slaves/${s.name}`);
        if (dev !== undefined) deps.unshift(dev);
      }
      disk.dependencies = deps;
    }
    if (disk.address?.['bus-type'] === 'nvme') {
      const log = smartLog(rooted(root, devName));
      if (log) disk.smart = decodeSmartLog(log);
    }
    // Partitions: subdirectories named after the disk.
    let parts: RawDirent[];
    try {
      parts = readdirRaw(rooted(root, diskDir));
    } catch {
      parts = [];
    }
    for (const p of parts) {
      if ((p.type & DT_DIR) === 0 || !isPartitionName(de.name, p.name)) continue;
      const dev = devnodeOf(root, `${diskDir}/${p.name}`);
      if (dev === undefined) continue;
      result.unshift({ name: dev, partition: true, dependencies: [devName] });
    }
  }
  return result;
}

export function guestGetDisks(_args: unknown, ctx: AgentContext): GuestDiskInfo[] {
  return disks(ctx.root);
}
