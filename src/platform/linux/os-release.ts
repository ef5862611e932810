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
  return parseKeyFileGroup('[os-release]\n' + data.toString('utf8'), 'os-release');
}

// g_ascii_isspace: space, \t, \n, \f, \r — not \v (GLib's table, unlike C's isspace)
const isSpace = (c: string | undefined): boolean =>
  c === ' ' || c === '\t' || c === '\n' || c === '\f' || c === '\r';

/**
 * g_key_file_load_from_data(G_KEY_FILE_NONE) reduced to what qemu-ga needs: whether the
 * data parses, and the raw values of one group. The data must start with a group line.
 */
function parseKeyFileGroup(data: string, wanted: string): Map<string, string> | null {
  const groups = new Map<string, Map<string, string>>();
  let startGroup: Map<string, string> | null = null;
  let current: Map<string, string> | null = null;

  const lines = data.split('\n');
  // A trailing "\n" ends the last line; it does not start an empty one.
  const lastTerminated = lines[lines.length - 1] === '';
  if (lastTerminated) lines.pop();

  for (let li = 0; li < lines.length; li++) {
    let line = lines[li];
    // One CR before a LF is dropped; the last line, when unterminated, keeps its CR.
    if ((li < lines.length - 1 || lastTerminated) && line.endsWith('\r')) line = line.slice(0, -1);
    if (line.length === 0) continue;

    let start = 0;
    while (isSpace(line[start])) start++;
    const s = line.slice(start);

    if (s === '' || s[0] === '#') continue; // comment or blank

    if (lineIsGroup(s)) {
      const name = s.slice(1, s.lastIndexOf(']'));
      if (!isGroupName(name)) return null;
      let g = groups.get(name);
      if (!g) {
        g = new Map();
        groups.set(name, g);
        if (startGroup === null) startGroup = g;
      }
      current = g;
      continue;
    }

    const eq = s.indexOf('=');
    if (eq <= 0) return null; // not a key-value pair (or an empty key)
    if (current === null) return null; // no group yet

    let keyEnd = eq - 1;
    while (keyEnd >= 0 && isSpace(s[keyEnd])) keyEnd--;
    const key = s.slice(0, keyEnd + 1);
    if (!isKeyName(key)) return null;

    let vs = eq + 1;
    while (isSpace(s[vs])) vs++;
    const value = s.slice(vs);

    if (current === startGroup && key === 'Encoding' && value.toLowerCase() !== 'utf-8') {
      return null;
    }
    // Translated keys (KEY[locale]) may be dropped by GLib depending on the locale; they
    // can never be one of the keys looked up here, so they are simply stored.
    current.set(key, value);
  }
  return groups.get(wanted) ?? new Map();
}

/** g_key_file_line_is_group: "[...]" with only spaces or tabs after the first ']'. */
function lineIsGroup(s: string): boolean {
  if (s[0] !== '[') return false;
  const close = s.indexOf(']', 1);
  if (close < 0) return false;
  for (let i = close + 1; i < s.length; i++) {
    if (s[i] !== ' ' && s[i] !== '\t') return false;
  }
  return true;
}

/** g_key_file_is_group_name: non-empty, no '[', ']' or ASCII control characters. */
function isGroupName(name: string): boolean {
  if (name.length === 0) return false;
  for (let i = 0; i < name.length; i++) {
    const c = name.charCodeAt(i);
    if (c === 0x5b || c === 0x5d || c < 0x20 || c === 0x7f) return false;
  }
  return true;
}

const LOCALE_CHAR = /^[\p{L}\p{Nd}\p{Nl}\p{No}\-_.@]$/u;

/** g_key_file_is_key_name: KEY or KEY[locale], no edge spaces, no '=', '[' or ']' in KEY. */
function isKeyName(key: string): boolean {
  let q = 0;
  while (q < key.length && key[q] !== '=' && key[q] !== '[' && key[q] !== ']') q++;
  if (q === 0) return false;
  if (key[0] === ' ' || key[q - 1] === ' ') return false;
  if (key[q] === '[') {
    q++;
    while (q < key.length) {
      const cp = key.codePointAt(q)!;
      const c = String.fromCodePoint(cp);
      if (!LOCALE_CHAR.test(c)) break;
      q += c.length;
    }
    if (key[q] !== ']') return false;
    q++;
  }
  return q >= key.length;
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
