// GLib's GKeyFile as qemu-ga uses it: load/parse with GLib's error texts, typed getters with GLib's
// value rules, and serialization. API: KeyFile.load(path) / KeyFile.parse(bytes), kf.getString/
// getBoolean/getInteger(group, key) → {value, error?}, escapeKeyFileString(s), keyFileToData(groups).
//
// The parser works on bytes (held as latin1 strings, one char per byte) as the C code does; values
// are decoded as UTF-8 only by getString. Texts are GLib 2.74's (Debian bookworm), checked against
// qemu-ga 7.2 on that system.
import * as fs from 'node:fs';
import { strerror } from '../platform/linux/strerror.ts';

/** A load or parse failure; `message` is GLib's GError message. `code` is the errno name for I/O errors. */
export class KeyFileError extends Error {
  constructor(
    message: string,
    readonly code?: string,
  ) {
    super(message);
  }
}

/** A getter's result. GLib returns a value even when it sets an error (e.g. FALSE, 0, a partly decoded string). */
export interface KeyFileValue<T> {
  value: T;
  error?: string;
}

// g_ascii_isspace(): space, \t, \n, \f, \r; not \v (GLib's table, unlike C's isspace).
const isAsciiSpace = (c: string | undefined): boolean =>
  c === ' ' || c === '\t' || c === '\n' || c === '\r' || c === '\f';

/** JS string (UTF-8 text) → latin1 byte string, for lookups by name. */
const toBytes = (s: string): string => Buffer.from(s, 'utf8').toString('latin1');
/** latin1 byte string → JS string, invalid UTF-8 replaced with U+FFFD (like g_utf8_make_valid). */
const fromBytes = (b: string): string => Buffer.from(b, 'latin1').toString('utf8');

function isValidUtf8(b: string): boolean {
  const buf = Buffer.from(b, 'latin1');
  // Round-trip check: Node replaces invalid sequences, so a lossless round trip means valid UTF-8.
  return Buffer.from(buf.toString('utf8'), 'utf8').equals(buf);
}

export class KeyFile {
  /** group name → key → raw value bytes; both in file order (GLib merges repeated groups, last key wins). */
  private readonly groups = new Map<string, Map<string, string>>();
  private currentGroup: Map<string, string> | null = null;
  private startGroupName: string | null = null;
  private currentGroupName: string | null = null;

  private constructor() {}

  /** g_key_file_load_from_file(): the message of an I/O error is just strerror (GLib's G_FILE_ERROR). */
  static load(path: string): KeyFile {
    let fd: number;
    try {
      fd = fs.openSync(path, 'r');
    } catch (e) {
      throw new KeyFileError(strerror(e), (e as NodeJS.ErrnoException).code);
    }
    try {
      let st: fs.Stats;
      try {
        st = fs.fstatSync(fd);
      } catch (e) {
        throw new KeyFileError(strerror(e), (e as NodeJS.ErrnoException).code);
      }
      if (!st.isFile()) throw new KeyFileError('Not a regular file');
      let data: Buffer;
      try {
        data = fs.readFileSync(fd);
      } catch (e) {
        throw new KeyFileError(strerror(e), (e as NodeJS.ErrnoException).code);
      }
      return KeyFile.parse(data);
    } finally {
      fs.closeSync(fd);
    }
  }

  /** g_key_file_load_from_data(): lines end at LF; a CR right before the LF is dropped. */
  static parse(data: Buffer | string): KeyFile {
    const bytes = typeof data === 'string' ? toBytes(data) : data.toString('latin1');
    const kf = new KeyFile();
    let start = 0;
    while (start < bytes.length) {
      const nl = bytes.indexOf('\n', start);
      if (nl < 0) {
        // The last line without a newline keeps a trailing CR (GLib strips CR only before LF).
        kf.parseLine(bytes.slice(start));
        break;
      }
      let line = bytes.slice(start, nl);
      if (line.endsWith('\r')) line = line.slice(0, -1);
      kf.parseLine(line);
      start = nl + 1;
    }
    return kf;
  }

  private parseLine(rawLine: string): void {
    // The C code handles each line as a C string: a NUL ends it.
    const nul = rawLine.indexOf('\0');
    const line = nul >= 0 ? rawLine.slice(0, nul) : rawLine;
    let i = 0;
    while (i < line.length && isAsciiSpace(line[i])) i++;
    const rest = line.slice(i);
    if (rest === '' || rest[0] === '#') return; // comment or blank line
    if (isGroupLine(rest)) {
      this.parseGroup(rest);
    } else if (isKeyValueLine(rest)) {
      this.parseKeyValue(rest);
    } else {
      throw new KeyFileError(
        `Key file contains line \u201c${fromBytes(line)}\u201d which is not a key-value pair, group, or comment`,
      );
    }
  }

  private parseGroup(line: string): void {
    const name = line.slice(1, line.lastIndexOf(']'));
    if (!isGroupName(name)) throw new KeyFileError(`Invalid group name: ${fromBytes(name)}`);
    if (this.startGroupName === null) this.startGroupName = name;
    let group = this.groups.get(name);
    if (!group) {
      group = new Map();
      this.groups.set(name, group);
    }
    this.currentGroup = group;
    this.currentGroupName = name;
  }

  private parseKeyValue(line: string): void {
    if (this.currentGroup === null) throw new KeyFileError('Key file does not start with a group');
    const eq = line.indexOf('=');
    let keyEnd = eq - 1;
    while (keyEnd >= 0 && isAsciiSpace(line[keyEnd])) keyEnd--;
    const key = line.slice(0, keyEnd + 1);
    if (!isKeyName(key)) throw new KeyFileError(`Invalid key name: ${fromBytes(key)}`);
    let v = eq + 1;
    while (v < line.length && isAsciiSpace(line[v])) v++;
    const value = line.slice(v);
    if (this.currentGroupName === this.startGroupName && key === 'Encoding' && value.toLowerCase() !== 'utf-8') {
      throw new KeyFileError(`Key file contains unsupported encoding \u201c${fromBytes(value)}\u201d`);
    }
    // Localised keys (`key[xx]`) are kept under their full name: qemu-ga never looks them up.
    this.currentGroup.set(key, value);
  }

  hasKey(group: string, key: string): boolean {
    return this.groups.get(toBytes(group))?.has(toBytes(key)) ?? false;
  }

  /** The raw value bytes (latin1 string), undefined when absent. */
  getRaw(group: string, key: string): string | undefined {
    return this.groups.get(toBytes(group))?.get(toBytes(key));
  }

  /** g_key_file_get_string(): UTF-8 check, then the escapes \s \n \t \r \\. */
  getString(group: string, key: string): KeyFileValue<string> {
    const raw = this.getRaw(group, key);
    if (raw === undefined) return { value: '', error: missing(group, key, this.groups.has(toBytes(group))) };
    if (!isValidUtf8(raw)) {
      return {
        value: '',
        error: `Key file contains key \u201c${key}\u201d with value \u201c${fromBytes(raw)}\u201d which is not UTF-8`,
      };
    }
    const { value, bad } = unescapeValue(raw);
    const out: KeyFileValue<string> = { value: fromBytes(value) };
    if (bad) out.error = `Key file contains key \u201c${key}\u201d which has a value that cannot be interpreted.`;
    return out;
  }

  /** g_key_file_get_boolean(): `true`/`1`/`false`/`0`, trailing whitespace allowed. FALSE on error. */
  getBoolean(group: string, key: string): KeyFileValue<boolean> {
    const raw = this.getRaw(group, key);
    if (raw === undefined) return { value: false, error: missing(group, key, this.groups.has(toBytes(group))) };
    const b = parseBoolean(raw);
    if (b === undefined) {
      return { value: false, error: `Key file contains key \u201c${key}\u201d which has a value that cannot be interpreted.` };
    }
    return { value: b };
  }

  /** g_key_file_get_integer(): strtol base 10 into a C int (32 bits). 0 on error. */
  getInteger(group: string, key: string): KeyFileValue<number> {
    const raw = this.getRaw(group, key);
    if (raw === undefined) return { value: 0, error: missing(group, key, this.groups.has(toBytes(group))) };
    const n = parseInteger(raw);
    if (n === undefined) {
      return {
        value: 0,
        error: `Key file contains key \u201c${key}\u201d in group \u201c${group}\u201d which has a value that cannot be interpreted.`,
      };
    }
    return { value: n };
  }
}

function missing(group: string, key: string, haveGroup: boolean): string {
  return haveGroup
    ? `Key file does not have key \u201c${key}\u201d in group \u201c${group}\u201d`
    : `Key file does not have group \u201c${group}\u201d`;
}

/** g_key_file_line_is_group(): `[`, anything up to the first `]`, then only spaces/tabs. */
function isGroupLine(line: string): boolean {
  if (line[0] !== '[') return false;
  const close = line.indexOf(']', 1);
  if (close < 0) return false;
  for (let i = close + 1; i < line.length; i++) if (line[i] !== ' ' && line[i] !== '\t') return false;
  return true;
}

/** g_key_file_line_is_key_value_pair(): has a `=` that is not the first character. */
function isKeyValueLine(line: string): boolean {
  const eq = line.indexOf('=');
  return eq > 0;
}

/** g_key_file_is_group_name(): non-empty, no `[`, `]` or ASCII control characters. */
function isGroupName(name: string): boolean {
  if (name === '') return false;
  for (const c of name) {
    const code = c.charCodeAt(0);
    if (c === '[' || c === ']' || code < 0x20 || code === 0x7f) return false;
  }
  return true;
}

/** g_key_file_is_key_name(): no `=`/`[`/`]`, no edge spaces, optional `[locale]` suffix. */
function isKeyName(key: string): boolean {
  let q = 0;
  while (q < key.length && key[q] !== '=' && key[q] !== '[' && key[q] !== ']') q++;
  if (q === 0) return false;
  if (key[0] === ' ' || key[q - 1] === ' ') return false;
  if (key[q] === '[') {
    q++;
    const locale = fromBytes(key.slice(q));
    let j = 0;
    const chars = [...locale];
    while (j < chars.length && /^[\p{L}\p{N}\-_.@]$/u.test(chars[j])) j++;
    if (chars[j] !== ']') return false;
    return j + 1 === chars.length;
  }
  return q === key.length;
}

/** g_key_file_parse_value_as_string() without list handling; `bad` when GLib would set an error. */
function unescapeValue(raw: string): { value: string; bad: boolean } {
  let out = '';
  let bad = false;
  for (let i = 0; i < raw.length; i++) {
    const c = raw[i];
    if (c !== '\\') {
      out += c;
      continue;
    }
    i++;
    if (i >= raw.length) {
      bad = true; // escape character at end of line
      break;
    }
    const e = raw[i];
    switch (e) {
      case 's':
        out += ' ';
        break;
      case 'n':
        out += '\n';
        break;
      case 't':
        out += '\t';
        break;
      case 'r':
        out += '\r';
        break;
      case '\\':
        out += '\\';
        break;
      default:
        out += '\\' + e; // kept as is, but it is an "invalid escape sequence"
        bad = true;
    }
  }
  return { value: out, bad };
}

/** g_key_file_parse_value_as_boolean(). */
export function parseBoolean(raw: string): boolean | undefined {
  let length = 0;
  for (let i = 0; i < raw.length; i++) if (!isAsciiSpace(raw[i])) length = i + 1;
  // strncmp(value, literal, MAX(length, strlen(literal))) == 0
  const eq = (lit: string): boolean => {
    const n = Math.max(length, lit.length);
    return raw.slice(0, n) === lit.slice(0, n);
  };
  if (eq('true') || eq('1')) return true;
  if (eq('false') || eq('0')) return false;
  return undefined;
}

/** g_key_file_parse_value_as_integer(): strtol(value, 10) checked the GLib way, into a C int. */
export function parseInteger(raw: string): number | undefined {
  if (raw === '') return undefined;
  let i = 0;
  while (i < raw.length && (isAsciiSpace(raw[i]) || raw[i] === '\v')) i++; // strtol: C isspace
  let neg = false;
  if (raw[i] === '+' || raw[i] === '-') {
    neg = raw[i] === '-';
    i++;
  }
  const digitsStart = i;
  while (i < raw.length && raw[i] >= '0' && raw[i] <= '9') i++;
  // No digits: strtol leaves its end pointer at the start of the string.
  const end = i === digitsStart ? 0 : i;
  if (end < raw.length && !isAsciiSpace(raw[end])) return undefined;
  if (i === digitsStart) return 0;
  const big = BigInt(raw.slice(digitsStart, i)) * (neg ? -1n : 1n);
  if (big < -2147483648n || big > 2147483647n) return undefined; // "Integer value … out of range"
  return Number(big);
}

/**
 * g_key_file_parse_string_as_value() as g_key_file_set_string() calls it: `\n` `\r` `\\` always
 * escaped, spaces and tabs only while still in the leading run (as `\s` and `\t`).
 */
export function escapeKeyFileString(s: string): string {
  let out = '';
  let leading = true;
  for (const c of s) {
    switch (c) {
      case ' ':
        out += leading ? '\\s' : ' ';
        break;
      case '\t':
        out += leading ? '\\t' : '\t';
        break;
      case '\n':
        out += '\\n';
        break;
      case '\r':
        out += '\\r';
        break;
      case '\\':
        out += '\\\\';
        leading = false;
        break;
      default:
        out += c;
        leading = false;
    }
  }
  return out;
}

export interface KeyFileGroup {
  name: string;
  /** [key, already-serialized value] in order (use escapeKeyFileString for strings). */
  entries: ReadonlyArray<readonly [string, string]>;
}

/** g_key_file_to_data() for files built with set_*: `[group]` then `key=value`, a blank line between groups. */
export function keyFileToData(groups: readonly KeyFileGroup[]): string {
  return groups
    .map((g) => `[${g.name}]\n` + g.entries.map(([k, v]) => `${k}=${v}\n`).join(''))
    .join('\n');
}
