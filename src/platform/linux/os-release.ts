// guest-get-osinfo's data sources: os-release (read the way qemu-ga reads it) and uname.
//
// qemu-ga (qga/commands-posix.c, ga_parse_osrelease + ga_osrelease_replace_special):
// - The file is $QGA_OS_RELEASE if that is set (even to ""; no fallback then), else
//   /etc/os-release, else /usr/lib/os-release when the first cannot be read, is not valid
//   UTF-8 or does not parse.
// - The content is cut at its first NUL byte (C strings), must be valid UTF-8 up to there,
//   and is parsed as a GLib key file after "[os-release]\n" is prepended. Any line that is
//   not a comment, blank, a valid [group] or a valid KEY=VALUE makes the whole file
//   unusable. Later [groups] are allowed (their keys are not os-release's); a repeated
//   key replaces the earlier one; "Encoding=" other than UTF-8 in the first group is an
//   error.
// - Values are GLib's raw values (leading whitespace dropped, trailing kept, no escape
//   processing), then "unquoted" by qemu-ga: a value not starting with '"' is cut at its
//   first ' ' and then at its first ';' (single quotes are ordinary characters); a value
//   starting with '"' runs to the next unescaped '"', and a backslash is dropped before
//   one of $ ' " \ ` only. With no closing quote qemu-ga never terminates the shifted
//   copy, so the last bytes of the raw text appear twice ("\"abc" gives "abcc").
//
// GLib rules followed here are those of GLib 2.74 (gkeyfile.c); they are unchanged in
// current GLib.

import { isUtf8 } from 'node:buffer';
import { readFileSync } from 'node:fs';
import { machine, release, version } from 'node:os';
import { KeyFile, KeyFileError } from '../../keyfile/keyfile.ts';

export type OsReleaseField =
  | 'id'
  | 'name'
  | 'pretty-name'
  | 'version'
  | 'version-id'
  | 'variant'
  | 'variant-id';

export type OsRelease = Partial<Record<OsReleaseField, string>>;

type Env = NodeJS.ProcessEnv | Record<string, string | undefined>;

/** os-release keys in the order qemu-ga reads them, with their GuestOSInfo member names. */
const FIELDS: readonly (readonly [string, OsReleaseField])[] = [
  ['ID', 'id'],
  ['NAME', 'name'],
  ['PRETTY_NAME', 'pretty-name'],
  ['VERSION', 'version'],
  ['VERSION_ID', 'version-id'],
  ['VARIANT', 'variant'],
  ['VARIANT_ID', 'variant-id'],
];

/**
 * The os-release members of guest-get-osinfo. `root` prefixes absolute paths (for tests and
 * containers); a relative QGA_OS_RELEASE is relative to the current directory, as in
 * qemu-ga.
 */
export function readOsRelease(env: Env, root = '/'): OsRelease {
  let keys: Map<string, string> | null;
  const override = env.QGA_OS_RELEASE;
  if (override !== undefined) {
    keys = parseOsReleaseFile(underRoot(root, override));
  } else {
    keys =
      parseOsReleaseFile(underRoot(root, '/etc/os-release')) ??
      parseOsReleaseFile(underRoot(root, '/usr/lib/os-release'));
  }
  const out: OsRelease = {};
  if (!keys) return out;
  for (const [key, member] of FIELDS) {
    const raw = keys.get(key);
    if (raw !== undefined) out[member] = unquoteOsReleaseValue(raw);
  }
  return out;
}

/** uname(2)'s release, version and machine fields. */
export function unameInfo(): { 'kernel-release': string; 'kernel-version': string; machine: string } {
  return { 'kernel-release': release(), 'kernel-version': version(), machine: machine() };
}

function underRoot(root: string, path: string): string {
  if (root === '/' || root === '' || !path.startsWith('/')) return path;
  return root.replace(/\/+$/, '') + path;
}

/** ga_parse_osrelease(): the [os-release] group's raw values, or null if unusable. */
function parseOsReleaseFile(path: string): Map<string, string> | null {
  let data: Buffer;
  try {
    data = readFileSync(path);
  } catch {
    return null;
  }
  const nul = data.indexOf(0);
  if (nul >= 0) data = data.subarray(0, nul);
  if (!isUtf8(data)) return null;
  // qemu-ga hands GLib the file behind a "[os-release]" line.
  let kf: KeyFile;
  try {
    kf = KeyFile.parse(Buffer.concat([Buffer.from('[os-release]\n'), data]));
  } catch (e) {
    if (e instanceof KeyFileError) return null;
    throw e;
  }
  const keys = new Map<string, string>();
  for (const [key] of FIELDS) {
    const raw = kf.getRaw('os-release', key);
    if (raw !== undefined) keys.set(key, Buffer.from(raw, 'latin1').toString('utf8'));
  }
  return keys;
}

/** ga_osrelease_replace_special(), on the value's UTF-8 bytes. */
function unquoteOsReleaseValue(raw: string): string {
  if (raw[0] !== '"') {
    let end = raw.length;
    const sp = raw.indexOf(' ');
    if (sp >= 0) end = sp;
    const semi = raw.slice(0, end).indexOf(';');
    if (semi >= 0) end = semi;
    return raw.slice(0, end);
  }
  const b = Buffer.from(raw, 'utf8');
  let p2 = 0;
  let p = 1;
  while (p < b.length) {
    if (b[p] === 0x5c) {
      // '\\': dropped before $ ' " \ `, kept before anything else
      p++;
      const c = b[p];
      if (!(c === 0x24 || c === 0x27 || c === 0x22 || c === 0x5c || c === 0x60)) p--;
    } else if (b[p] === 0x22) {
      return b.toString('utf8', 0, p2);
    }
    b[p2++] = b[p++];
  }
  // No closing quote: qemu-ga leaves the shifted copy unterminated, so the original tail
  // after the copied bytes is still there. Invalid UTF-8 this creates becomes U+FFFD.
  return b.toString('utf8');
}
