// The mount list qemu-ga 10.2 builds for guest-get-fsinfo, fsfreeze and fstrim (docs/compatibility.md §Commands): the lines of
// /proc/self/mountinfo backed by a block device (btrfs: the device of its source), first mount of each
// device only; /proc/self/mounts when mountinfo cannot be opened.
import * as fs from 'node:fs';
import { decodeCString } from '../../json/utf8.ts';
import { genericError } from '../../protocol/errors.ts';
import { rooted } from './paths.ts';
import { sscanf } from './scanf.ts';

export interface FsMount {
  /** Mount point, unescaped, as text (what responses show; bytes that are not UTF-8 print as U+FFFD). */
  dirname: string;
  /** The mount point's exact bytes as a latin1 string: use Buffer.from(dirnameBytes, 'latin1') as a path. */
  dirnameBytes: string;
  /** Filesystem type. */
  devtype: string;
  devmajor: number;
  devminor: number;
}

export interface MountListOptions {
  /** Drop a mount whose major:minor is already listed (10.2+; 7.2 keeps bind mounts). Default true. */
  dedup?: boolean;
  /** stat() of a mount source (its bytes as a latin1 string): file type and device numbers. Defaults to
   *  fs.statSync under the root. */
  statSource?: (path: string) => { isDirectory: boolean; isBlockDevice: boolean; rdevMajor: number; rdevMinor: number } | null;
}

/**
 * A latin1 "byte string" (one char per byte, as read from /proc or sysfs) as the text qemu-ga prints:
 * its modified UTF-8 decoding, each rejected sequence one U+FFFD.
 */
export function bytesToText(s: string): string {
  // Fast path: pure ASCII without NUL.
  // eslint-disable-next-line no-control-regex
  if (!/[^\x01-\x7f]/.test(s)) return s;
  return decodeCString(Buffer.from(s, 'latin1'));
}

/** decode_mntname(): \\ and \NNN (first digit 0-3) are unescaped; any other backslash stays. */
export function decodeMntName(s: string): string {
  if (!s.includes('\\')) return s;
  let out = '';
  for (let i = 0; i < s.length; i++) {
    const c = s[i];
    if (c !== '\\') {
      out += c;
    } else if (s[i + 1] === '\\') {
      out += '\\';
      i++;
    } else if (s[i + 1] >= '0' && s[i + 1] <= '3' && s[i + 2] >= '0' && s[i + 2] <= '7' && s[i + 3] >= '0' && s[i + 3] <= '7') {
      out += String.fromCharCode((s.charCodeAt(i + 1) - 48) * 64 + (s.charCodeAt(i + 2) - 48) * 8 + (s.charCodeAt(i + 3) - 48));
      i += 3;
    } else {
      out += c;
    }
  }
  return out;
}

function major(rdev: number): number {
  return ((rdev >>> 8) & 0xfff) | (Math.floor(rdev / 2 ** 32) & ~0xfff);
}

function minor(rdev: number): number {
  return (rdev & 0xff) | ((rdev >>> 12) & ~0xff);
}

function defaultStatSource(root: string) {
  return (p: string) => {
    try {
      const st = fs.statSync(Buffer.from(rooted(root, p), 'latin1'));
      return { isDirectory: st.isDirectory(), isBlockDevice: st.isBlockDevice(), rdevMajor: major(st.rdev), rdevMinor: minor(st.rdev) };
    } catch {
      return null;
    }
  };
}

/** dev_major_minor(): 0 with the numbers of a block device, -2 for a directory (a bind mount), else -1. */
function devMajorMinor(statSource: NonNullable<MountListOptions['statSource']>, p: string): { rc: number; major: number; minor: number } {
  const st = statSource(p);
  if (st === null) return { rc: -1, major: 0, minor: 0 };
  if (st.isDirectory) return { rc: -2, major: 0, minor: 0 };
  if (st.isBlockDevice) return { rc: 0, major: st.rdevMajor, minor: st.rdevMinor };
  return { rc: -1, major: 0, minor: 0 };
}

// The kernel's own layout of a mountinfo line ("ID PARENT MAJ:MIN ROOT POINT …", single spaces, no
// whitespace inside fields). For such lines these patterns find exactly what qemu-ga's sscanf() formats
// find; any other line goes through the sscanf() emulation.
const WS = ' \\t\\n\\v\\f\\r';
const HEAD = new RegExp(`^\\d+ \\d+ (\\d{1,9}):(\\d{1,9}) [^${WS}]+ ([^${WS}]+)[${WS}]`);
const TAIL = new RegExp(`^ -[${WS}]*([^${WS}]+)(?![^${WS}])[${WS}]*([^${WS}]+)[${WS}]`);

/**
 * The fields qemu-ga takes from one line, or null when it skips the line (before the btrfs check).
 * `fast` false skips the patterns (tests check both ways agree).
 */
export function mountinfoFields(line: string, fast = true): { major: number; minor: number; dir: string; type: string; source: string } | null {
  const h = fast ? HEAD.exec(line) : null;
  let major: number;
  let minor: number;
  let dir: string;
  let dirE: number;
  if (h) {
    major = Number(h[1]);
    minor = Number(h[2]);
    dir = h[3];
    dirE = h[0].length - 1;
  } else {
    // "%*u %*u %u:%u %*s %n%*s%n%c": ids, major:minor, root, then the mount point and one more char.
    const head = sscanf(line, '%*u %*u %u:%u %*s %n%*s%n%c');
    if (head.ret < 3) return null;
    major = Number(head.values[0]);
    minor = Number(head.values[1]);
    dirE = head.values[3] as number;
    dir = line.slice(head.values[2] as number, dirE);
  }
  const dash = line.indexOf(' - ', dirE);
  if (dash < 0) return null;
  const rest = line.slice(dash);
  const t = fast ? TAIL.exec(rest) : null;
  if (t) return { major, minor, dir, type: t[1], source: t[2] };
  const tail = sscanf(rest, ' - %n%*s%n %n%*s%n%c');
  if (tail.ret < 1) return null;
  const [typeS, typeE, devS, devE] = tail.values as number[];
  return { major, minor, dir, type: rest.slice(typeS, typeE), source: rest.slice(devS, devE) };
}

/** Parses mountinfo text (latin1) into the mount list. */
export function parseMountinfo(text: string, opts: MountListOptions & { root?: string } = {}): FsMount[] {
  const dedup = opts.dedup ?? true;
  const statSource = opts.statSource ?? defaultStatSource(opts.root ?? '/');
  const mounts: FsMount[] = [];
  const seen = new Set<string>();
  // Lines are walked in place (no array of lines): a busy mount table has thousands.
  const MAJMIN = /\d+ \d+ (\d{1,9}):(\d{1,9}) /y;
  for (let start = 0; start < text.length; ) {
    const nl = text.indexOf('\n', start);
    const end = nl < 0 ? text.length : nl + 1;
    if (dedup) {
      // A device already listed skips the line whatever the rest holds (qemu-ga skips malformed lines
      // too): only its numbers need reading.
      MAJMIN.lastIndex = start;
      const mm = MAJMIN.exec(text);
      if (mm && mm.index === start && mm[1] !== '0' && seen.has(`${mm[1]}:${mm[2]}`)) {
        start = end;
        continue;
      }
    }
    const line = text.slice(start, end);
    start = end;
    const f = mountinfoFields(line);
    if (f === null) continue;
    let devmajor = f.major;
    let devminor = f.minor;
    const devtype = f.type;
    if (devmajor === 0) {
      // btrfs reports major 0: take the numbers of its source device.
      if (devtype !== 'btrfs') continue;
      const d = devMajorMinor(statSource, decodeMntName(f.source));
      if (d.rc < 0) continue;
      devmajor = d.major;
      devminor = d.minor;
    }
    const key = `${devmajor}:${devminor}`;
    if (dedup && seen.has(key)) continue;
    seen.add(key);
    const dir = decodeMntName(f.dir);
    mounts.push({ dirname: bytesToText(dir), dirnameBytes: dir, devtype: bytesToText(devtype), devmajor, devminor });
  }
  return mounts;
}

/** glibc getmntent()'s unescaping: \040 \011 \012 \134 and \\ only. */
function decodeMntent(s: string): string {
  if (!s.includes('\\')) return s;
  return s.replace(/\\(040|011|012|134|\\)/g, (_m, code: string) =>
    code === '040' ? ' ' : code === '011' ? '\t' : code === '012' ? '\n' : '\\',
  );
}

/** Parses /proc/self/mounts text (latin1) the way the getmntent() fallback does. */
export function parseMounts(text: string, opts: MountListOptions & { root?: string } = {}): FsMount[] {
  const dedup = opts.dedup ?? true;
  const statSource = opts.statSource ?? defaultStatSource(opts.root ?? '/');
  const mounts: FsMount[] = [];
  const seen = new Set<string>();
  for (let line of text.split('\n')) {
    line = line.replace(/^[ \t]+/, '');
    if (line === '' || line.startsWith('#')) continue;
    const fields = line.split(/[ \t]+/);
    const fsname = decodeMntent(fields[0] ?? '');
    const dir = decodeMntent(fields[1] ?? '');
    const type = decodeMntent(fields[2] ?? '');
    if (!fsname.startsWith('/') || type === 'smbfs' || type === 'cifs') continue;
    const d = devMajorMinor(statSource, fsname);
    if (d.rc === -2) continue;
    const key = `${d.major}:${d.minor}`;
    if (dedup && seen.has(key)) continue;
    seen.add(key);
    mounts.push({ dirname: bytesToText(dir), dirnameBytes: dir, devtype: bytesToText(type), devmajor: d.major, devminor: d.minor });
  }
  return mounts;
}

let readBuf = Buffer.allocUnsafe(256 * 1024);

/** A whole /proc file as a byte string: one reusable buffer, read until EOF (procfs reports size 0). */
export function readProcText(path: string): string {
  const fd = fs.openSync(path, fs.constants.O_RDONLY);
  let n = 0;
  try {
    for (;;) {
      if (n === readBuf.length) {
        const bigger = Buffer.allocUnsafe(readBuf.length * 2);
        readBuf.copy(bigger, 0, 0, n);
        readBuf = bigger;
      }
      // 16 KiB per read(): procfs seq files generate faster in small pieces than into one large buffer.
      const got = fs.readSync(fd, readBuf, n, Math.min(16384, readBuf.length - n), null);
      if (got === 0) break;
      n += got;
    }
  } finally {
    fs.closeSync(fd);
  }
  return readBuf.toString('latin1', 0, n);
}

/**
 * build_fs_mount_list(): the local filesystems in mount order. Throws qemu-ga's GenericError when neither
 * /proc/self/mountinfo nor /proc/self/mounts can be opened.
 */
export function buildFsMountList(root: string, opts: MountListOptions = {}): FsMount[] {
  let text: string;
  try {
    text = readProcText(rooted(root, '/proc/self/mountinfo'));
  } catch {
    try {
      text = readProcText(rooted(root, '/proc/self/mounts'));
    } catch {
      throw genericError("failed to open mtab file: '/proc/self/mounts'");
    }
    return parseMounts(text, { ...opts, root });
  }
  return parseMountinfo(text, { ...opts, root });
}
