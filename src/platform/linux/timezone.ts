// guest-get-timezone's data source: GLib's local time zone, reproduced without GLib.
//
// qemu-ga does g_time_zone_new_local(), g_time_zone_find_interval(UNIVERSAL, now) and then
// g_time_zone_get_offset()/g_time_zone_get_abbreviation() on that interval. This module
// re-implements exactly that path of GLib 2.74 (gtimezone.c, the GLib that Debian bookworm's
// qemu-ga 7.2 links against), including its quirks:
//
// - TZ (even empty) is the identifier; unset TZ means "/etc/localtime". An identifier is tried
//   as (1) a constant offset ("UTC", "Z", "+05:30", "5", "-03": the abbreviation is the
//   identifier itself and digits without a sign mean *east*), then (2) a POSIX TZ rule
//   string, then (3) a TZif file: a leading ':' is dropped, an absolute path is used as is,
//   anything else is looked up under $TZDIR or /usr/share/zoneinfo. If all fail, UTC
//   ("UTC", 0).
// - A POSIX string naming a DST zone without rules ("EST5EDT") is not a rule on Unix, so
//   only the zoneinfo file of that name can match.
// - Rule-based zones get explicit transitions for the years 1916..2998, computed in GLib's
//   way: Jn and n dates are mapped through a non-leap year (so "J60" is 2 March and leap
//   days are never counted), a DST part with offset 0 or none means std - 1 h (so the
//   footer "IST-1GMT0,M10.5.0,M3.5.0/1" of Europe/Dublin gives GMT = UTC+2 after the last
//   explicit transition), abbreviations are alphabetic or <quoted>, at least 3 characters
//   and truncated to 32.
// - TZif: the 64-bit block is used when the version is >= '2'; the footer rule is appended
//   after the last explicit transition; a footer GLib cannot parse makes the whole file
//   unusable (UTC). Before the first transition the first non-DST type applies.
// - Without TZ, /etc/localtime is used only when GLib 2.74 can name it: it must be a symlink
//   to a regular file, or (if it is not a symlink, or a symlink to a symlink)
//   /var/db/zoneinfo or /etc/timezone must be readable. Otherwise UTC.
//
// Everything is computed on demand; importing this module does no work.

import { lstatSync, readFileSync, readlinkSync, statSync } from 'node:fs';

export interface LocalTimezone {
  /** The abbreviation in effect (GLib's g_time_zone_get_abbreviation). */
  zone?: string;
  /** Seconds east of UTC. */
  offset: number;
}

type Env = NodeJS.ProcessEnv | Record<string, string | undefined>;

interface TransitionInfo {
  offset: number;
  isDst: boolean;
  abbrev: string;
}

interface Transition {
  time: number;
  index: number;
}

interface Zone {
  infos: TransitionInfo[];
  /** null for constant-offset zones (GLib's NULL array); may be empty for rule zones. */
  transitions: Transition[] | null;
}

/** GLib's TimeZoneDate. year is always 0 here (POSIX rules are yearly). */
interface TzDate {
  mon: number;
  mday: number;
  wday: number; // 1 = Monday .. 7 = Sunday; 0 for fixed (Julian) dates
  week: number;
  offset: number; // local time of day of the change, seconds
}

interface TzRule {
  startYear: number;
  stdOffset: number;
  dltOffset: number;
  dltStart: TzDate;
  dltEnd: TzDate;
  stdName: string;
  dltName: string;
}

const MIN_TZYEAR = 1916;
const MAX_TZYEAR = 2999;
const NAME_SIZE = 33;

/**
 * The local time zone as qemu-ga reports it: the interval containing `nowSeconds` (seconds
 * since the epoch, UTC) of GLib's g_time_zone_new_local(). `root` prefixes every absolute
 * path that is read (for tests and containers).
 */
export function localTimezone(
  env: Env,
  nowSeconds: number,
  root = '/',
): LocalTimezone {
  const identifier = env.TZ;
  const zone = newIdentifier(identifier, env, root) ?? utcZone();
  const info = intervalInfo(zone, findInterval(zone, Math.trunc(nowSeconds)));
  return { zone: info.abbrev, offset: info.offset === 0 ? 0 : info.offset };
}

// ---------------------------------------------------------------------------------------
// Zone construction (g_time_zone_new_identifier)

function utcZone(): Zone {
  return { infos: [{ offset: 0, isDst: false, abbrev: 'UTC' }], transitions: null };
}

function newIdentifier(identifier: string | undefined, env: Env, root: string): Zone | null {
  if (identifier !== undefined) {
    const constant = zoneForConstantOffset(identifier);
    if (constant) return constant;
    const rules = rulesFromIdentifier(identifier);
    if (rules) return zoneFromRules(rules);
    const data = readZoneinfoFile(identifier, env, root);
    return data ? zoneFromTzif(data) : null;
  }
  if (!localtimeIsNameable(root)) return null;
  const data = readLocaltime(root);
  return data ? zoneFromTzif(data) : null;
}

function zoneForConstantOffset(name: string): Zone | null {
  const off = { v: 0 };
  if (!parseConstantOffset(name, off, false)) return null;
  return { infos: [{ offset: off.v, isDst: false, abbrev: name }], transitions: null };
}

// ---------------------------------------------------------------------------------------
// Files

function underRoot(root: string, path: string): string {
  if (root === '/' || root === '' || !path.startsWith('/')) return path;
  return root.replace(/\/+$/, '') + path;
}

function isDir(path: string): boolean {
  try {
    return statSync(path).isDirectory();
  } catch {
    return false;
  }
}

function tryRead(path: string): Buffer | null {
  try {
    return readFileSync(path);
  } catch {
    return null;
  }
}

function zoneinfoDir(env: Env, root: string): string {
  const tzdir = env.TZDIR;
  if (tzdir !== undefined) return underRoot(root, tzdir);
  const main = underRoot(root, '/usr/share/zoneinfo');
  if (isDir(main)) return main;
  const illumos = underRoot(root, '/usr/share/lib/zoneinfo');
  if (isDir(illumos)) return illumos;
  return main;
}

/** zone_info_unix() with an identifier: ':' stripped, absolute or under the zoneinfo dir. */
function readZoneinfoFile(identifier: string, env: Env, root: string): Buffer | null {
  const id = identifier.startsWith(':') ? identifier.slice(1) : identifier;
  let filename: string;
  if (id.startsWith('/')) {
    filename = underRoot(root, id);
  } else {
    const dir = zoneinfoDir(env, root);
    // g_build_filename ignores empty elements
    filename = dir === '' ? id : id === '' ? dir : dir.replace(/\/+$/, '') + '/' + id;
  }
  return tryRead(filename);
}

/** GLib 2.74's zone_identifier_unix() != NULL, i.e. whether /etc/localtime gets loaded. */
function localtimeIsNameable(root: string): boolean {
  let target: string;
  try {
    target = readlinkSync(underRoot(root, '/etc/localtime'));
  } catch (e) {
    // Not a symlink (EINVAL): GLib wants a name from /var/db/zoneinfo or /etc/timezone.
    if ((e as NodeJS.ErrnoException).code !== 'EINVAL') return false;
    return (
      tryRead(underRoot(root, '/var/db/zoneinfo')) !== null ||
      tryRead(underRoot(root, '/etc/timezone')) !== null
    );
  }
  const abs = target.startsWith('/') ? target : '/etc/' + target;
  let regular: boolean;
  try {
    regular = lstatSync(underRoot(root, abs)).isFile();
  } catch {
    return false;
  }
  if (regular) return true;
  // A symlink to a symlink (or to anything not regular): the fallback files decide.
  return (
    tryRead(underRoot(root, '/var/db/zoneinfo')) !== null ||
    tryRead(underRoot(root, '/etc/timezone')) !== null
  );
}

/** Reads /etc/localtime, resolving absolute symlink targets under `root`. */
function readLocaltime(root: string): Buffer | null {
  if (root === '/' || root === '') return tryRead('/etc/localtime');
  let path = '/etc/localtime';
  for (let i = 0; i < 40; i++) {
    let target: string;
    try {
      target = readlinkSync(underRoot(root, path));
    } catch {
      return tryRead(underRoot(root, path));
    }
    path = target.startsWith('/') ? target : path.slice(0, path.lastIndexOf('/') + 1) + target;
  }
  return null;
}

// ---------------------------------------------------------------------------------------
// TZif (init_zone_from_iana_info)

function zoneFromTzif(buf: Buffer): Zone | null {
  const HEADER = 44;
  if (buf.length < HEADER || buf.toString('latin1', 0, 4) !== 'TZif') return null;
  // tzh_version is a (signed) char compared with '2'
  const version2 = (at: number): boolean => {
    const v = buf[at + 4];
    return v >= 0x32 && v < 0x80;
  };
  const counts = (at: number) => ({
    isut: buf.readUInt32BE(at + 20),
    isstd: buf.readUInt32BE(at + 24),
    leap: buf.readUInt32BE(at + 28),
    time: buf.readUInt32BE(at + 32),
    type: buf.readUInt32BE(at + 36),
    char: buf.readUInt32BE(at + 40),
  });

  let h = 0;
  let timesize = 4;
  if (version2(h)) {
    const c = counts(h);
    h += HEADER + c.isut + c.isstd + 8 * c.leap + 5 * c.time + 6 * c.type + c.char;
    timesize = 8;
    if (h + HEADER > buf.length) return null;
  }
  const c = counts(h);
  const wide = version2(h);

  let footer: Zone | null = null;
  if (wide) {
    const f =
      h + HEADER + c.isut + c.isstd + 12 * c.leap + 9 * c.time + 6 * c.type + c.char;
    if (!(f <= buf.length - 2 && buf[f] === 0x0a)) return null;
    const last = buf.indexOf(0x0a, f + 1);
    if (last < 0) return null;
    if (last + 1 - f !== 2) {
      let tz = buf.toString('latin1', f + 1, last);
      const nul = tz.indexOf('\0');
      if (nul >= 0) tz = tz.slice(0, nul);
      const rules = rulesFromIdentifier(tz);
      if (!rules) return null;
      footer = zoneFromRules(rules);
    }
  }

  const transAt = h + HEADER;
  const indexAt = transAt + timesize * c.time;
  const ttinfoAt = indexAt + c.time;
  const abbrsAt = ttinfoAt + 6 * c.type;
  if (abbrsAt > buf.length) return null;

  const infos: TransitionInfo[] = [];
  for (let i = 0; i < c.type; i++) {
    const at = ttinfoAt + 6 * i;
    const ab = abbrsAt + buf[at + 5];
    let end = buf.indexOf(0, ab);
    if (end < 0) end = buf.length;
    infos.push({
      offset: buf.readInt32BE(at),
      isDst: buf[at + 4] !== 0,
      abbrev: ab < buf.length ? buf.toString('utf8', ab, end) : '',
    });
  }

  const transitions: Transition[] = [];
  let lastExplicit = 0;
  for (let i = 0; i < c.time; i++) {
    const time = wide
      ? Number(buf.readBigInt64BE(transAt + 8 * i))
      : buf.readInt32BE(transAt + 4 * i);
    const index = buf[indexAt + i];
    if (index >= infos.length) return null; // GLib asserts
    lastExplicit = time;
    transitions.push({ time, index });
  }

  if (footer) {
    const base = c.type;
    infos.push(...footer.infos);
    for (const t of footer.transitions ?? []) {
      if (c.time === 0 || lastExplicit < t.time) {
        transitions.push({ time: t.time, index: base + t.index });
      }
    }
  }
  if (infos.length === 0) return null;
  return { infos, transitions };
}

// ---------------------------------------------------------------------------------------
// Interval lookup (g_time_zone_find_interval with G_TIME_TYPE_UNIVERSAL)

function findInterval(zone: Zone, time: number): number {
  const t = zone.transitions;
  if (t === null) return 0;
  let i = 0;
  // interval i ends one second before transition i; GLib scans linearly
  while (i < t.length && time > t[i].time - 1) i++;
  return i;
}

function intervalInfo(zone: Zone, interval: number): TransitionInfo {
  const t = zone.transitions;
  if (interval > 0 && t !== null && interval <= t.length) {
    return zone.infos[t[interval - 1].index];
  }
  return zone.infos.find((info) => !info.isDst) ?? zone.infos[0];
}

// ---------------------------------------------------------------------------------------
// Offsets and times (parse_time / parse_constant_offset)

const ch = (s: string, i: number): number => (i < s.length ? s.charCodeAt(i) : 0);
const isDigit = (c: number): boolean => c >= 0x30 && c <= 0x39;
const isAlpha = (c: number): boolean => (c >= 0x41 && c <= 0x5a) || (c >= 0x61 && c <= 0x7a);
const COLON = 0x3a;

/**
 * h[h][[:]mm[[:]ss]] (hours <= 24), or with rfc8536 [h]h[h][:mm[:ss]] (hours <= 167).
 * Like GLib, `out.v` is updated as digits are read, even when the parse then fails.
 */
function parseTime(s: string, out: { v: number }, rfc8536: boolean): boolean {
  let i = 0;
  if (!isDigit(ch(s, i))) return false;
  out.v = 3600 * (ch(s, i++) - 0x30);
  if (ch(s, i) === 0) return true;
  if (ch(s, i) !== COLON) {
    if (!isDigit(ch(s, i))) return false;
    out.v = out.v * 10 + 3600 * (ch(s, i++) - 0x30);
    if (rfc8536) {
      if (isDigit(ch(s, i))) out.v = out.v * 10 + 3600 * (ch(s, i++) - 0x30);
      if (out.v > 167 * 3600) return false;
    } else if (out.v > 24 * 3600) {
      return false;
    }
    if (ch(s, i) === 0) return true;
  }
  if (ch(s, i) === COLON) i++;
  else if (rfc8536) return false;
  if (ch(s, i) < 0x30 || ch(s, i) > 0x35) return false;
  out.v += 600 * (ch(s, i++) - 0x30);
  if (!isDigit(ch(s, i))) return false;
  out.v += 60 * (ch(s, i++) - 0x30);
  if (ch(s, i) === 0) return true;
  if (ch(s, i) === COLON) i++;
  else if (rfc8536) return false;
  if (ch(s, i) < 0x30 || ch(s, i) > 0x35) return false;
  out.v += 10 * (ch(s, i++) - 0x30);
  if (!isDigit(ch(s, i))) return false;
  out.v += ch(s, i++) - 0x30;
  return ch(s, i) === 0;
}

function parseConstantOffset(name: string, out: { v: number }, rfc8536: boolean): boolean {
  if (!rfc8536 && name === 'UTC') {
    out.v = 0;
    return true;
  }
  const c0 = ch(name, 0);
  if (isDigit(c0)) return parseTime(name, out, rfc8536);
  switch (c0) {
    case 0x5a: // 'Z'
      out.v = 0;
      return !rfc8536 && name.length === 1;
    case 0x2b: // '+'
      return parseTime(name.slice(1), out, rfc8536);
    case 0x2d: // '-'
      if (parseTime(name.slice(1), out, rfc8536)) {
        out.v = 0 - out.v; // never -0
        return true;
      }
      return false;
    default:
      return false;
  }
}

// ---------------------------------------------------------------------------------------
// POSIX TZ strings (rules_from_identifier)

/** Returns GLib's two-rule set (1916 rule + 2999 terminator), or null. */
function rulesFromIdentifier(identifier: string): TzRule[] | null {
  const s = identifier;
  const emptyDate = (): TzDate => ({ mon: 0, mday: 0, wday: 0, week: 0, offset: 0 });
  const tzr: TzRule = {
    startYear: 0,
    stdOffset: 0,
    dltOffset: 0,
    dltStart: emptyDate(),
    dltEnd: emptyDate(),
    stdName: '',
    dltName: '',
  };
  let pos = 0;

  const std = setTzName(s, pos);
  if (!std) return null;
  pos = std.pos;
  tzr.stdName = std.name;
  const stdOff = { v: 0 };
  const so = parseOffset(s, pos, stdOff);
  pos = so.pos;
  if (!so.ok) return null;
  tzr.stdOffset = stdOff.v;
  if (pos >= s.length) return createRuleset(tzr);

  const dlt = setTzName(s, pos);
  if (!dlt) return null;
  pos = dlt.pos;
  tzr.dltName = dlt.name;
  const dltOff = { v: 0 };
  pos = parseOffset(s, pos, dltOff).pos; // result ignored, partial value kept (as GLib)
  tzr.dltOffset = dltOff.v;
  if (tzr.dltOffset === 0) tzr.dltOffset = tzr.stdOffset - 3600;
  if (pos >= s.length) return null; // no rules: Windows-only default

  if (ch(s, pos++) !== 0x2c) return null;
  const start = parseIdentifierBoundary(s, pos);
  if (!start) return null;
  pos = start.pos;
  if (ch(s, pos++) !== 0x2c) return null;
  const end = parseIdentifierBoundary(s, pos);
  if (!end) return null;
  // anything after the end date (",...") is ignored, as in GLib
  tzr.dltStart = start.date;
  tzr.dltEnd = end.date;
  return createRuleset(tzr);
}

function createRuleset(rule: TzRule): TzRule[] {
  const empty = (): TzDate => ({ mon: 0, mday: 0, wday: 0, week: 0, offset: 0 });
  return [
    {
      startYear: MIN_TZYEAR,
      stdOffset: 0 - rule.stdOffset, // never -0
      dltOffset: 0 - rule.dltOffset,
      dltStart: rule.dltStart,
      dltEnd: rule.dltEnd,
      stdName: rule.stdName,
      dltName: rule.dltName,
    },
    {
      startYear: MAX_TZYEAR,
      stdOffset: 0,
      dltOffset: 0,
      dltStart: empty(),
      dltEnd: empty(),
      stdName: '',
      dltName: '',
    },
  ];
}

function setTzName(s: string, pos: number): { name: string; pos: number } | null {
  const quoted = ch(s, pos) === 0x3c; // '<'
  let namePos = pos;
  if (quoted) {
    namePos++;
    do {
      pos++;
    } while (isAlpha(ch(s, pos)) || isDigit(ch(s, pos)) || ch(s, pos) === 0x2d || ch(s, pos) === 0x2b);
    if (ch(s, pos) !== 0x3e) return null; // '>'
  } else {
    while (isAlpha(ch(s, pos))) pos++;
  }
  const len = pos - namePos;
  if (len < 3) return null;
  const name = s.slice(namePos, namePos + Math.min(len, NAME_SIZE - 1));
  return { name, pos: pos + (quoted ? 1 : 0) };
}

function parseOffset(s: string, pos: number, out: { v: number }): { ok: boolean; pos: number } {
  const start = pos;
  for (;;) {
    const c = ch(s, pos);
    if (c === 0x2b || c === 0x2d || c === COLON || isDigit(c)) pos++;
    else break;
  }
  return { ok: parseConstantOffset(s.slice(start, pos), out, false), pos };
}

function parseIdentifierBoundary(s: string, pos: number): { date: TzDate; pos: number } | null {
  let end = s.indexOf(',', pos);
  if (end < 0) end = s.length;
  const date = parseTzBoundary(s.slice(pos, end));
  return date ? { date, pos: end } : null;
}

function parseTzBoundary(b: string): TzDate | null {
  let pos = 0;
  let date: TzDate | null;
  const c0 = ch(b, 0);
  if (c0 === 0x4d) {
    // 'M'
    const r = parseMwdBoundary(b, 1);
    if (!r) return null;
    [date, pos] = r;
  } else if (c0 === 0x4a) {
    // 'J'
    const r = parseJulianBoundary(b, 1, true);
    if (!r) return null;
    [date, pos] = r;
  } else if (isDigit(c0)) {
    const r = parseJulianBoundary(b, 0, false);
    if (!r) return null;
    [date, pos] = r;
  } else {
    return null;
  }
  if (ch(b, pos) === 0x2f) {
    // '/'
    const off = { v: 0 };
    if (!parseConstantOffset(b.slice(pos + 1), off, true)) return null;
    date.offset = off.v;
    return date;
  }
  date.offset = 2 * 3600;
  return pos >= b.length ? date : null;
}

function parseMwdBoundary(b: string, pos: number): [TzDate, number] | null {
  if (!isDigit(ch(b, pos))) return null;
  let month = ch(b, pos++) - 0x30;
  const c = ch(b, pos);
  if ((month === 1 && c >= 0x30 && c <= 0x32) || (month === 0 && isDigit(c))) {
    month = month * 10 + (c - 0x30);
    pos++;
  }
  if (ch(b, pos++) !== 0x2e || month === 0) return null;
  if (ch(b, pos) < 0x31 || ch(b, pos) > 0x35) return null;
  const week = ch(b, pos++) - 0x30;
  if (ch(b, pos++) !== 0x2e) return null;
  if (ch(b, pos) < 0x30 || ch(b, pos) > 0x36) return null;
  let day = ch(b, pos++) - 0x30;
  if (day === 0) day = 7;
  return [{ mon: month, mday: 0, wday: day, week, offset: 0 }, pos];
}

const DAYS_NONLEAP = [31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31];

function parseJulianBoundary(b: string, pos: number, ignoreLeap: boolean): [TzDate, number] | null {
  let day = 0;
  while (isDigit(ch(b, pos))) day = day * 10 + (ch(b, pos++) - 0x30);
  if (ignoreLeap) {
    if (day < 1 || day > 365) return null;
    if (day >= 59) day++;
  } else {
    if (day < 0 || day > 365) return null;
    day++;
  }
  // GLib feeds this to g_date_set_julian(), whose day 1 is 1 January of year 1 — a
  // non-leap year, so day 366 is 1 January of the following year.
  let mon = 1;
  let mday = day;
  for (const dim of DAYS_NONLEAP) {
    if (mday <= dim) break;
    mday -= dim;
    mon++;
  }
  if (mon > 12) {
    mon = 1;
    mday = 1;
  }
  return [{ mon, mday, wday: 0, week: 0, offset: 0 }, pos];
}

// ---------------------------------------------------------------------------------------
// Rules to transitions (init_zone_from_rules)

function isLeap(y: number): boolean {
  return (y % 4 === 0 && y % 100 !== 0) || y % 400 === 0;
}

function daysInMonth(mon: number, year: number): number {
  return mon === 2 && isLeap(year) ? 29 : DAYS_NONLEAP[mon - 1];
}

/** Days since 1970-01-01 of a proleptic Gregorian date. */
function daysFromCivil(y: number, m: number, d: number): number {
  y -= m <= 2 ? 1 : 0;
  const era = Math.floor(y / 400);
  const yoe = y - era * 400;
  const doy = Math.floor((153 * (m + (m > 2 ? -3 : 9)) + 2) / 5) + d - 1;
  const doe = yoe * 365 + Math.floor(yoe / 4) - Math.floor(yoe / 100) + doy;
  return era * 146097 + doe - 719468;
}

/** GDate weekday: 1 = Monday .. 7 = Sunday. */
function weekday(y: number, m: number, d: number): number {
  const days = daysFromCivil(y, m, d);
  return ((((days + 3) % 7) + 7) % 7) + 1;
}

function boundaryForYear(boundary: TzDate, year: number, offset: number): number {
  if (!boundary.mon) return 0;
  let mday = boundary.mday;
  if (boundary.wday) {
    // find_relative_date, M.w.d form
    const dim = daysInMonth(boundary.mon, year);
    const first = weekday(year, boundary.mon, 1);
    let week = boundary.week;
    if (first > boundary.wday) week++;
    let days = 7 * (week - 1) + boundary.wday - first;
    while (days >= dim) days -= 7;
    mday = 1 + days;
  }
  return daysFromCivil(year, boundary.mon, mday) * 86400 + boundary.offset - offset;
}

function infoFromRule(rule: TzRule, isDst: boolean): TransitionInfo {
  return {
    offset: isDst ? rule.dltOffset : rule.stdOffset,
    isDst,
    abbrev: isDst ? rule.dltName : rule.stdName,
  };
}

function zoneFromRules(rules: TzRule[]): Zone {
  const infos: TransitionInfo[] = [];
  const transitions: Transition[] = [];
  let infoIndex = 0;
  let skipFirstStdTrans = true;
  let lastOffset = rules[0].stdOffset;
  const southern = (r: TzRule): boolean => r.dltStart.mon > r.dltEnd.mon;

  let ri = 0;
  for (; ri < rules.length - 1; ri++) {
    const r = rules[ri];
    if ((r.stdOffset || r.dltOffset) && r.dltStart.mon === 0 && r.dltEnd.mon === 0) {
      infos.push(infoFromRule(r, false));
      if (ri > 0 && southern(rules[ri - 1])) {
        const stdTime = boundaryForYear(rules[ri].dltEnd, r.startYear, lastOffset);
        transitions.push({ time: stdTime, index: infoIndex });
      }
      lastOffset = r.stdOffset;
      infoIndex++;
      skipFirstStdTrans = true;
    } else {
      const dltFirst = southern(r);
      infos.push(infoFromRule(r, false), infoFromRule(r, true));
      for (let year = r.startYear; year < rules[ri + 1].startYear; year++) {
        const dltOffset = dltFirst ? lastOffset : r.dltOffset;
        const stdOffset = dltFirst ? r.stdOffset : lastOffset;
        const stdTime = boundaryForYear(r.dltEnd, year, dltOffset);
        const dltTime = boundaryForYear(r.dltStart, year, stdOffset);
        lastOffset = dltFirst ? r.dltOffset : r.stdOffset;
        if (dltFirst) {
          if (skipFirstStdTrans) skipFirstStdTrans = false;
          else if (stdTime) transitions.push({ time: stdTime, index: infoIndex });
          if (dltTime) transitions.push({ time: dltTime, index: infoIndex + 1 });
        } else {
          if (dltTime) transitions.push({ time: dltTime, index: infoIndex + 1 });
          if (stdTime) transitions.push({ time: stdTime, index: infoIndex });
        }
      }
      infoIndex += 2;
    }
  }
  if (ri > 0 && southern(rules[ri - 1])) {
    infos.push(infoFromRule(rules[ri - 1], false));
    const time = boundaryForYear(rules[ri - 1].dltEnd, rules[ri].startYear, lastOffset);
    transitions.push({ time, index: infoIndex });
  }
  return { infos, transitions };
}
