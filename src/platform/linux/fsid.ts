// File access as another user, on the calling thread only: setfsuid/setfsgid and the raw setgroups
// system call change this thread's credentials (glibc's setgroups() would change every thread's,
// the libuv pool's included). The ssh-key commands make their file calls synchronously on the
// agent's main thread, so the switch covers exactly them.
import { errnoError, lazyBinding } from './ffi.ts';

/** setgroups(2)'s number for 32-bit group ids, per architecture (setgroups32 on arm and ia32). */
const SYS_SETGROUPS: Partial<Record<string, number>> = { x64: 116, arm64: 159, riscv64: 159, loong64: 159, ppc64: 81, s390x: 206, arm: 206, ia32: 206 };
const ENOSYS = 38;
const NGROUPS_MAX = 65536;

interface Fns {
  setfsuid(uid: number): number;
  setfsgid(gid: number): number;
  getgroups(size: number, list: Uint32Array | null): number;
  getgrouplist(user: string, group: number, groups: Uint32Array, ngroups: Int32Array): number;
  syscall(nr: number, ...args: unknown[]): number;
  errno(): number;
}

const load = lazyBinding((koffi, libc): Fns => ({
  setfsuid: libc.func('int setfsuid(uint32_t uid)'),
  setfsgid: libc.func('int setfsgid(uint32_t gid)'),
  getgroups: libc.func('int getgroups(int size, _Out_ uint32_t *list)'),
  getgrouplist: libc.func('int getgrouplist(const char *user, uint32_t group, _Out_ uint32_t *groups, _Inout_ int *ngroups)'),
  syscall: libc.func('long syscall(long nr, ...)'),
  errno: () => koffi.errno() as number,
}));

/** The failures, in qemu-ga 11.1's words for its own switch (initgroups, setegid, seteuid). */
export class IdentityError extends Error {}

function setGroups(f: Fns, groups: Uint32Array): void {
  const nr = SYS_SETGROUPS[process.arch];
  if (nr === undefined) throw errnoError('setgroups', ENOSYS);
  if (f.syscall(nr, 'size_t', groups.length, 'uint32_t *', groups) !== 0) throw errnoError('setgroups', f.errno());
}

/** The user's groups (NSS), as initgroups() would set them. */
function groupsOf(f: Fns, name: string, gid: number): Uint32Array {
  let list = new Uint32Array(64);
  const n = new Int32Array([list.length]);
  if (f.getgrouplist(name, gid, list, n) < 0) {
    list = new Uint32Array(Math.min(n[0], NGROUPS_MAX));
    n[0] = list.length;
    if (f.getgrouplist(name, gid, list, n) < 0) throw errnoError('getgrouplist', f.errno());
  }
  return list.slice(0, n[0]);
}

export interface FsUser {
  name: string;
  uid: number;
  gid: number;
}

/** How `asUser` fails, as qemu-ga 11.1 says it (strerror appended by the caller). */
const WHAT = { groups: 'failed to set group for user', gid: 'failed to set effective group ID for user', uid: 'failed to set effective user ID for user' };

/**
 * Runs `body` with this thread's file-system uid, gid and groups those of `user`: every path it
 * opens is reached with the user's permissions (search rights on each directory included), and what
 * it creates is the user's. The agent's own identity comes back before this returns or throws.
 * An agent that is not root runs `body` as itself: it can reach no more than its own files.
 */
export function asUser<T>(user: FsUser, body: () => T, fail: (what: string, err: unknown) => never): T {
  if (process.geteuid?.() !== 0) return body();
  const f = load();
  const saved = new Uint32Array(Math.max(0, f.getgroups(0, null)));
  if (f.getgroups(saved.length, saved) < 0) fail(`${WHAT.groups} '${user.name}'`, errnoError('getgroups', f.errno()));
  const savedGid = f.setfsgid(-1 >>> 0);
  try {
    setGroups(f, groupsOf(f, user.name, user.gid));
  } catch (err) {
    fail(`${WHAT.groups} '${user.name}'`, err);
  }
  try {
    // setfsgid/setfsuid report no error: the id read back afterwards says whether they took.
    f.setfsgid(user.gid);
    if (f.setfsgid(-1 >>> 0) !== user.gid) fail(`${WHAT.gid} '${user.name}'`, errnoError('setfsgid', 1));
    f.setfsuid(user.uid);
    if (f.setfsuid(-1 >>> 0) !== user.uid) fail(`${WHAT.uid} '${user.name}'`, errnoError('setfsuid', 1));
    return body();
  } finally {
    f.setfsuid(0);
    f.setfsgid(savedGid);
    try {
      setGroups(f, saved);
    } catch (err) {
      // Back as root, this cannot fail; if it did, going on with the user's groups would be wrong.
      throw new IdentityError(`failed to restore the agent's groups: ${String(err)}`);
    }
  }
}

/** This thread's file-system uid and gid now (for tests). */
export function currentFsIds(): { uid: number; gid: number; groups: number[] } {
  const f = load();
  const n = f.getgroups(0, null);
  const list = new Uint32Array(Math.max(0, n));
  f.getgroups(list.length, list);
  return { uid: f.setfsuid(-1 >>> 0), gid: f.setfsgid(-1 >>> 0), groups: [...list] };
}
