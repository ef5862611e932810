// What qemu-ga asks libudev about a block device, answered from the same sources libudev reads: the sysfs
// `uevent` file (DEVNAME, MAJOR, MINOR) and the udev database /run/udev/data/b<major>:<minor> (E: lines,
// e.g. ID_SERIAL, DM_NAME). No udev daemon is needed; without a database only uevent properties exist.
import * as fs from 'node:fs';
import { decodeCString } from '../../json/utf8.ts';
import { rooted, unrooted } from './paths.ts';

export interface UdevDevice {
  /** The resolved sysfs path, as the guest sees it (e.g. /sys/devices/pci0000:00/…/block/vda). */
  syspath: string;
  /** udev_device_get_devnode(): "/dev/" + DEVNAME, or undefined. */
  devnode: string | undefined;
  /** udev_device_get_property_value(). */
  property(key: string): string | undefined;
}

/** A file's bytes as a latin1 string, or undefined. */
function readText(p: string): string | undefined {
  try {
    return fs.readFileSync(p, 'latin1');
  } catch {
    return undefined;
  }
}

/** Bytes (latin1 string) as the text qemu-ga prints. */
function text(s: string): string {
  // eslint-disable-next-line no-control-regex
  return /[^\x01-\x7f]/.test(s) ? decodeCString(Buffer.from(s, 'latin1')) : s;
}

/** KEY=VALUE lines of a uevent file. */
function parseUevent(text: string | undefined): Map<string, string> {
  const m = new Map<string, string>();
  if (text === undefined) return m;
  for (const line of text.split('\n')) {
    const eq = line.indexOf('=');
    if (eq > 0) m.set(line.slice(0, eq), line.slice(eq + 1));
  }
  return m;
}

/**
 * udev_device_new_from_syspath(): resolves symlinks (skipped when the caller passes a path realpath()
 * already returned); the result must lie under /sys, and a path under
 * /sys/devices/ must have a `uevent` file (anything else must be a directory). Null otherwise.
 */
export function udevDeviceFromSyspath(root: string, syspath: string, resolvedAlready = false): UdevDevice | null {
  let real: string;
  try {
    real = resolvedAlready ? rooted(root, syspath) : fs.realpathSync.native(rooted(root, syspath));
  } catch {
    return null;
  }
  const resolved = resolvedAlready ? syspath : unrooted(root, real);
  if (resolved === undefined || !(resolved === '/sys' || resolved.startsWith('/sys/'))) return null;
  const uevent = readText(rooted(root, resolved + '/uevent'));
  if (resolved.startsWith('/sys/devices/')) {
    if (uevent === undefined && !fs.existsSync(rooted(root, resolved + '/uevent'))) return null;
  } else {
    try {
      if (!fs.statSync(real).isDirectory()) return null;
    } catch {
      return null;
    }
  }
  const ue = parseUevent(uevent);
  let props: Map<string, string> | undefined;
  const loadProps = (): Map<string, string> => {
    if (props) return props;
    props = new Map(ue);
    const devname = ue.get('DEVNAME');
    if (devname !== undefined) props.set('DEVNAME', devname.startsWith('/') ? devname : '/dev/' + devname);
    const maj = ue.get('MAJOR');
    const min = ue.get('MINOR');
    if (maj !== undefined && min !== undefined && Number(maj) > 0) {
      let subsystem = '';
      try {
        const link = fs.readlinkSync(rooted(root, resolved + '/subsystem'));
        subsystem = link.slice(link.lastIndexOf('/') + 1);
      } catch {
        // no subsystem link: not a block device as far as the database id goes
      }
      const id = `${subsystem === 'block' ? 'b' : 'c'}${Number(maj)}:${Number(min)}`;
      const db = readText(rooted(root, '/run/udev/data/' + id));
      if (db !== undefined) {
        for (const line of db.split('\n')) {
          if (!line.startsWith('E:')) continue;
          const eq = line.indexOf('=', 2);
          if (eq > 2) props.set(line.slice(2, eq), line.slice(eq + 1));
        }
      }
    }
    return props;
  };
  const devname = ue.get('DEVNAME');
  return {
    syspath: resolved,
    devnode: devname === undefined ? undefined : text(devname.startsWith('/') ? devname : '/dev/' + devname),
    property: (key) => {
      const v = loadProps().get(key);
      return v === undefined ? undefined : text(v);
    },
  };
}
