// guest-get-users (facts §3.20): USER_PROCESS records of utmp, read directly in glibc's x86_64/aarch64
// struct utmp layout (384 bytes per record) instead of getutxent(); one entry per user name in order of
// first appearance, with the earliest login time. qga-ts extension: with no utmp logins (no utmp file, or
// none of its records a login), systemd-logind's session records answer instead (users-logind.ts).
import type { GuestUser } from '../generated/qapi-types.ts';
import * as fs from 'node:fs';
import { decodeCString } from '../json/utf8.ts';
import { rooted } from '../platform/linux/paths.ts';
import type { AgentContext } from './context.ts';
import { logindSessions, usersFromLogind } from './users-logind.ts';

/** glibc's _PATH_UTMP. */
export const UTMP_PATH = '/var/run/utmp';

// struct utmp (x86_64 glibc): ut_type short @0, ut_pid @4, ut_line[32] @8, ut_id[4] @40, ut_user[32] @44,
// ut_host[256] @76, ut_exit @332, ut_session @336, ut_tv {int32 tv_sec; int32 tv_usec} @340, ut_addr_v6 @348.
const UTMP_SIZE = 384;
const UT_USER = 44;
const UT_TV_SEC = 340;
const UT_TV_USEC = 344;
const USER_PROCESS = 7;

/** Parses utmp file contents into qemu-ga's user list. */
export function usersFromUtmp(data: Buffer): GuestUser[] {
  const byName = new Map<string, GuestUser>();
  const result: GuestUser[] = [];
  // getutxent() reads whole records only; a short tail ends the walk.
  for (let off = 0; off + UTMP_SIZE <= data.length; off += UTMP_SIZE) {
    if (data.readInt16LE(off) !== USER_PROCESS) continue;
    // ut_user is copied as a C string: a name that fills all 32 bytes runs on into ut_host.
    let end = data.indexOf(0, off + UT_USER);
    if (end < 0 || end > off + UTMP_SIZE) end = off + UTMP_SIZE;
    const raw = data.subarray(off + UT_USER, end);
    const key = raw.toString('latin1');
    const loginTime = data.readInt32LE(off + UT_TV_SEC) + data.readInt32LE(off + UT_TV_USEC) / 1000000;
    const known = byName.get(key);
    if (known) {
      if (loginTime < known['login-time']) known['login-time'] = loginTime;
      continue;
    }
    const user: GuestUser = { user: decodeCString(raw), 'login-time': loginTime };
    byName.set(key, user);
    result.push(user);
  }
  return result;
}

/** qemu-ga's answer: the users of utmp's login records under `root`. */
export function utmpUsers(root: string): GuestUser[] {
  try {
    return usersFromUtmp(fs.readFileSync(rooted(root, UTMP_PATH)));
  } catch {
    // getutxent() finds no file: no users, no error.
    return [];
  }
}

export function guestGetUsers(_args: unknown, ctx: AgentContext): GuestUser[] {
  const users = utmpUsers(ctx.root);
  return users.length > 0 ? users : usersFromLogind(logindSessions(ctx.root));
}
