// guest-get-users from systemd-logind's session records, for guests without utmp logins (Debian 13 has
// no /run/utmp). logind's session_save() writes /run/systemd/sessions/<id> as KEY=value lines (USER=,
// UID=, CLASS=, STATE=, REALTIME=<µs since the epoch>); user_save() writes /run/systemd/users/<uid> (NAME=).
import type { GuestUser } from '../generated/qapi-types.ts';
import * as fs from 'node:fs';
import { decodeCString } from '../json/utf8.ts';
import { rooted } from '../platform/linux/paths.ts';

export const LOGIND_SESSIONS_DIR = '/run/systemd/sessions';
export const LOGIND_USERS_DIR = '/run/systemd/users';

/** At most this many session files are read: logind's own default SessionsMax. */
export const LOGIND_MAX_SESSIONS = 8192;
/** A session or user file larger than this is not logind's and is skipped. */
export const LOGIND_MAX_FILE_BYTES = 64 * 1024;

/** One record's KEY=value pairs (values as raw bytes in a latin1 string), as systemd's env-file reader sees plain lines. */
export function parseLogindRecord(text: string): Map<string, string> {
  const out = new Map<string, string>();
  for (const raw of text.split('\n')) {
    const line = raw.replace(/^[ \t\r]+/, '');
    if (line === '' || line[0] === '#' || line[0] === ';') continue;
    const eq = line.indexOf('=');
    if (eq <= 0) continue;
    const key = line.slice(0, eq).replace(/[ \t\r]+$/, '');
    let value = line.slice(eq + 1).replace(/^[ \t]+|[ \t\r]+$/g, '');
    // env_file_fputs_assignment() quotes values with special characters; logind's names never need it.
    if (value.length >= 2 && (value[0] === '"' || value[0] === "'") && value.endsWith(value[0])) value = value.slice(1, -1);
    out.set(key, value); // a repeated key: the last one wins, as with parse_env_file()
  }
  return out;
}

/**
 * Is this session a login, as utmp's USER_PROCESS records are? Only the "user" classes (user,
 * user-early, user-incomplete, user-light…) are: greeters, lock screens, background jobs (cron) and the
 * per-user service manager are not logins. A session in state "closing" has logged out; its processes linger.
 */
export function isLoginSession(rec: ReadonlyMap<string, string>): boolean {
  const cls = rec.get('CLASS');
  if (cls !== undefined && cls !== 'user' && !cls.startsWith('user-')) return false;
  return rec.get('STATE') !== 'closing';
}

/** REALTIME (µs) as utmp's rule gives it: seconds + microseconds / 1e6, a double; undefined if absent or malformed. */
export function loginTimeOf(realtime: string | undefined): number | undefined {
  if (realtime === undefined || !/^[0-9]{1,20}$/.test(realtime)) return undefined;
  const usec = BigInt(realtime);
  if (usec === 0n || usec >= 1n << 64n) return undefined;
  return Number(usec / 1000000n) + Number(usec % 1000000n) / 1000000;
}

export interface LogindSession {
  id: string;
  /** The user name's raw bytes (latin1 string). */
  user: string;
  loginTime: number;
}

/** One logind record, or undefined when it is not a plain, small regular file (symlinks are not followed). */
function readRecord(path: string): Map<string, string> | undefined {
  let fd: number;
  try {
    fd = fs.openSync(path, fs.constants.O_RDONLY | fs.constants.O_NOFOLLOW | fs.constants.O_NONBLOCK);
  } catch {
    return undefined;
  }
  try {
    const st = fs.fstatSync(fd);
    if (!st.isFile() || st.size > LOGIND_MAX_FILE_BYTES) return undefined;
    const buf = Buffer.alloc(st.size);
    const n = fs.readSync(fd, buf, 0, buf.length, 0);
    return parseLogindRecord(buf.subarray(0, n).toString('latin1'));
  } catch {
    // a record that vanished or cannot be read is skipped, as a session that just ended
    return undefined;
  } finally {
    fs.closeSync(fd);
  }
}

/** The login sessions under `root`, each with its user name (USER=, or NAME= of its user record) and login time. */
export function logindSessions(root: string): LogindSession[] {
  const dir = rooted(root, LOGIND_SESSIONS_DIR);
  let ids: string[];
  try {
    ids = fs.readdirSync(dir);
  } catch {
    return [];
  }
  const names = new Map<string, string | undefined>();
  const nameOf = (uid: string): string | undefined => {
    if (!/^[0-9]{1,10}$/.test(uid)) return undefined;
    if (!names.has(uid)) names.set(uid, readRecord(rooted(root, `${LOGIND_USERS_DIR}/${uid}`))?.get('NAME'));
    return names.get(uid);
  };
  const out: LogindSession[] = [];
  // logind's session ids are alphanumeric (session_id_valid()); anything else, its temporary files included, is not a record.
  for (const id of ids.filter((n) => /^[A-Za-z0-9]+$/.test(n)).slice(0, LOGIND_MAX_SESSIONS)) {
    const rec = readRecord(`${dir}/${id}`);
    if (rec === undefined || !isLoginSession(rec)) continue;
    const loginTime = loginTimeOf(rec.get('REALTIME'));
    if (loginTime === undefined) continue;
    const user = rec.get('USER') || nameOf(rec.get('UID') ?? '');
    if (!user) continue;
    out.push({ id, user, loginTime });
  }
  return out;
}

/**
 * qemu-ga's list rules applied to logind's sessions: one entry per user name with its earliest login
 * time. Sessions are taken oldest first (ties by session id), as utmp lists logins in the order they happened.
 */
export function usersFromLogind(sessions: readonly LogindSession[]): GuestUser[] {
  const sorted = [...sessions].sort((a, b) => a.loginTime - b.loginTime || (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
  const seen = new Set<string>();
  const result: GuestUser[] = [];
  for (const s of sorted) {
    if (seen.has(s.user)) continue;
    seen.add(s.user);
    result.push({ user: decodeCString(Buffer.from(s.user, 'latin1')), 'login-time': s.loginTime });
  }
  return result;
}
