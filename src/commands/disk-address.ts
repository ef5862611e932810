// The disk topology behind guest-get-fsinfo and guest-get-disks (docs/compatibility.md §Commands): a block device's sysfs path
// is resolved; virtual devices (device-mapper, md, loop with slaves) recurse into their slaves, real ones
// become a GuestDiskAddress read from the sysfs path (PCI and its drivers, CCW, non-PCI virtio) plus the
// udev devnode and ID_SERIAL.
import type { GuestCCWAddress, GuestDiskAddress, GuestDiskBusType, GuestPCIAddress } from '../generated/qapi-types.ts';
import * as fs from 'node:fs';
import { DT_LNK, readdirRaw } from '../platform/linux/dirent.ts';
import { basename, rooted, unrooted } from '../platform/linux/paths.ts';
import { sscanf } from '../platform/linux/scanf.ts';
import { udevDeviceFromSyspath } from '../platform/linux/udev.ts';
import { withErrno } from './inventory-common.ts';

/** What a walk fills in: the first name found and the addresses, newest first (qemu-ga prepends). */
export interface DeviceWalk {
  name?: string;
  disks: GuestDiskAddress[];
  /** The first error met (qemu-ga's Error **): guest-get-fsinfo fails with it, guest-get-disks ignores it. */
  error?: string;
}

const PCI_DRIVERS = new Set(['ata_piix', 'sym53c8xx', 'virtio-pci', 'ahci', 'nvme', 'xhci_hcd', 'ehci-pci']);

function setError(walk: DeviceWalk, msg: string): void {
  walk.error ??= msg;
}

/** realpath() under the root, as the guest path; throws the fs error. */
function realpath(root: string, p: string): string {
  const real = fs.realpathSync.native(rooted(root, p));
  return unrooted(root, real) ?? real;
}

/** The basename of the `driver` link of a sysfs device directory, or undefined. */
function pciDriver(root: string, dir: string): string | undefined {
  try {
    return basename(fs.readlinkSync(rooted(root, dir + '/driver')));
  } catch {
    return undefined;
  }
}

/** build_hosts(): the first 8 "ata<N>" (or "host<N>") entries of `dir` in readdir order, sorted. */
function buildHosts(root: string, dir: string, ata: boolean, walk: DeviceWalk): number[] | null {
  let entries;
  try {
    entries = readdirRaw(rooted(root, dir));
  } catch (err) {
    setError(walk, withErrno(`opendir("${dir}")`, err));
    return null;
  }
  const hosts: number[] = [];
  for (const e of entries) {
    if (hosts.length >= 8) break;
    const r = sscanf(e.name, ata ? 'ata%d' : 'host%d');
    if (r.ret === 1) hosts.push(Number(BigInt.asUintN(32, r.values[0] as bigint)));
  }
  return hosts.sort((a, b) => a - b);
}

/** The "<target>/<h>:<channel>:<id>:<lun>" numbers after the first "/target" of the path. */
function targetNumbers(syspath: string): bigint[] | undefined {
  const p = syspath.indexOf('/target');
  if (p < 0) return undefined;
  const r = sscanf(syspath.slice(p + 7), '%*u:%*u:%*u/%*u:%u:%u:%u');
  return r.ret === 3 ? (r.values as bigint[]) : undefined;
}

function pciDevice(root: string, syspath: string, disk: GuestDiskAddress, walk: DeviceWalk): boolean {
  const start = syspath.indexOf('/devices/pci');
  if (start < 0) return false;
  const first = sscanf(syspath.slice(start + 12), '%*x:%*x/%x:%x:%x.%x%n');
  if (first.ret < 4) return false;
  let pci = first.values.slice(0, 4) as bigint[];
  let pos = start + 12 + (first.values[4] as number);
  let driver: string | undefined;
  // Walk down the PCI path (bridges, root ports) to the function bound to a known driver.
  for (;;) {
    driver = pciDriver(root, syspath.slice(0, pos));
    if (driver !== undefined && PCI_DRIVERS.has(driver)) break;
    const next = sscanf(syspath.slice(pos), '/%x:%x:%x.%x%n');
    if (next.ret === 4) {
      pci = next.values.slice(0, 4) as bigint[];
      pos += next.values[4] as number;
      continue;
    }
    return false;
  }
  const tgt = targetNumbers(syspath);
  let hostAt = syspath.indexOf('/ata');
  let offset = 4;
  const hasAta = hostAt >= 0;
  if (!hasAta) {
    hostAt = syspath.indexOf('/host');
    offset = 5;
  }
  let host: number | undefined;
  let hosts: number[] = [];
  if (hostAt >= 0) {
    const r = sscanf(syspath.slice(hostAt + offset), '%u');
    if (r.ret === 1) {
      host = Number(r.values[0]);
      const list = buildHosts(root, syspath.slice(0, hostAt), hasAta, walk);
      if (list === null) return false;
      hosts = list;
    }
  }
  disk['pci-controller'] = { domain: pci[0], bus: pci[1], slot: pci[2], function: pci[3] };
  switch (driver) {
    case 'ata_piix': {
      // One host per IDE bus; target <host>:0:<unit>:0.
      if (host === undefined || tgt === undefined) return false;
      const i = hosts.indexOf(host);
      if (i < 0) return false;
      disk['bus-type'] = 'ide';
      disk.bus = BigInt(i);
      disk.unit = tgt[1];
      return true;
    }
    case 'sym53c8xx':
      if (tgt === undefined) return false;
      disk['bus-type'] = 'scsi';
      disk.unit = tgt[1];
      return true;
    case 'virtio-pci':
      if (tgt !== undefined) {
        // virtio-scsi: the LUN is the unit.
        disk['bus-type'] = 'scsi';
        disk.unit = tgt[2];
      } else {
        disk['bus-type'] = 'virtio';
      }
      return true;
    case 'ahci': {
      // One host per port: the unit is the host's index.
      if (host === undefined || tgt === undefined) return false;
      const i = hosts.indexOf(host);
      if (i < 0) return false;
      disk.unit = BigInt(i);
      disk['bus-type'] = 'sata';
      return true;
    }
    case 'nvme':
      disk['bus-type'] = 'nvme';
      return true;
    default:
      // ehci-pci, xhci_hcd
      disk['bus-type'] = 'usb';
      return true;
  }
}

function nonPciVirtio(syspath: string, disk: GuestDiskAddress): boolean {
  if (!syspath.includes('/virtio') || !syspath.includes('/block')) return false;
  const tgt = targetNumbers(syspath);
  if (tgt !== undefined) {
    disk['bus-type'] = 'scsi';
    disk.bus = tgt[0];
    disk.target = tgt[1];
    disk.unit = tgt[2];
  } else {
    disk['bus-type'] = 'virtio';
  }
  return true;
}

function ccwDevice(syspath: string, disk: GuestDiskAddress): boolean {
  const p = syspath.indexOf('/devices/css');
  const r = sscanf(syspath.slice(p + 12), '%*x/%x.%x.%x/%*x.%*x.%x/');
  if (r.ret < 4) return false;
  const [cssid, ssid, subchno, devno] = r.values as bigint[];
  disk['ccw-address'] = { cssid, ssid, subchno, devno };
  if (syspath.slice(p).includes('/virtio')) nonPciVirtio(syspath, disk);
  return true;
}

function realDevice(root: string, syspath: string, walk: DeviceWalk): void {
  const disk: GuestDiskAddress = {
    'pci-controller': { domain: -1n, bus: -1n, slot: -1n, function: -1n },
    'bus-type': 'unknown',
    bus: 0n,
    target: 0n,
    unit: 0n,
  };
  const udev = udevDeviceFromSyspath(root, syspath, true);
  if (udev) {
    if (udev.devnode !== undefined) disk.dev = udev.devnode;
    const serial = udev.property('ID_SERIAL');
    if (serial) disk.serial = serial;
  }
  let hasHwinf: boolean;
  if (syspath.includes('/devices/pci')) hasHwinf = pciDevice(root, syspath, disk, walk);
  else if (syspath.includes('/devices/css')) hasHwinf = ccwDevice(syspath, disk);
  else if (syspath.includes('/virtio')) hasHwinf = nonPciVirtio(syspath, disk);
  else hasHwinf = false;
  if (hasHwinf || disk.dev !== undefined || disk.serial !== undefined) walk.disks.unshift(disk);
}

function virtualDevice(root: string, syspath: string, walk: DeviceWalk): void {
  const dir = `${syspath}/slaves`;
  let entries;
  try {
    entries = readdirRaw(rooted(root, dir));
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') setError(walk, withErrno(`opendir("${dir}")`, err));
    return;
  }
  for (const e of entries) {
    if (e.type !== DT_LNK) continue;
    walkDevice(root, `${syspath}/slaves/${e.name}`, walk);
    if (walk.error !== undefined) break;
  }
}

/** build_guest_fsinfo_for_device(): `devpath` is a sysfs path such as /sys/dev/block/254:1 or /sys/block/vda. */
export function walkDevice(root: string, devpath: string, walk: DeviceWalk): void {
  let syspath: string;
  try {
    syspath = realpath(root, devpath);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') {
      setError(walk, withErrno(`realpath("${devpath}")`, err));
      return;
    }
    // The device may be missing from sysfs (containers): the name is the path's last component.
    walk.name ??= basename(devpath);
    return;
  }
  walk.name ??= basename(syspath);
  // is_disk_virtual() resolves the already resolved path once more; only a device vanishing in between
  // could make that differ, so the first result is used.
  if (syspath.includes('/devices/virtual/block/')) virtualDevice(root, syspath, walk);
  else realDevice(root, syspath, walk);
}

/** is_disk_virtual(); null when realpath() fails. */
export function isDiskVirtual(root: string, devpath: string): boolean | null {
  try {
    return realpath(root, devpath).includes('/devices/virtual/block/');
  } catch {
    return null;
  }
}
