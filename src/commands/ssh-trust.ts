// Which `~/.ssh` and `authorized_keys` the ssh-key commands trust, decided on fstat() of descriptors
// already open (no window between the check and the use). The rule is what the user could reach
// alone, as qemu-ga 11.1 gets by acting as the user, within sshd's StrictModes ownership rule
// (owned by the user or root): a hard link or another account's file would copy into the reply, or
// into a user-owned file, contents the user may not read.
import type { PasswdEntry } from '../platform/linux/passwd.ts';

/** The owner, links and mode of an open file (fs.Stats has them). */
export interface StatLike {
  uid: number;
  nlink: number;
  mode: number;
}

const whose = (user: PasswdEntry): string => `'${user.name}' (uid ${user.uid})`;

/** Why `.ssh` is not trusted, or null: it must belong to the user or to root. */
export function refuseSshDir(st: StatLike, user: PasswdEntry, sshPath: string): string | null {
  if (st.uid === user.uid || st.uid === 0) return null;
  return `Refusing directory \u201C${sshPath}\u201D: it belongs to uid ${st.uid}, not to ${whose(user)} or root`;
}

/** Why `authorized_keys` is not trusted, or null: one link, owned by the user (or root's, readable by all). */
export function refuseKeysFile(st: StatLike, user: PasswdEntry, path: string): string | null {
  if (st.nlink > 1) return `Refusing file \u201C${path}\u201D: it has ${st.nlink} hard links`;
  if (st.uid === user.uid) return null;
  if (st.uid === 0) return (st.mode & 0o004) !== 0 ? null : `Refusing file \u201C${path}\u201D: it belongs to root and ${whose(user)} may not read it`;
  return `Refusing file \u201C${path}\u201D: it belongs to uid ${st.uid}, not to ${whose(user)}`;
}

/**
 * Why the `.ssh` just made (mkdirat, then openat) is not the one to give to the user, or null: a
 * directory swapped in between the two calls is not empty, or belongs to neither the agent nor the user.
 */
export function refuseNewSshDir(st: StatLike, entries: number, user: PasswdEntry, agentUid: number, sshPath: string): string | null {
  if (st.uid !== agentUid && st.uid !== user.uid) return refuseSshDir(st, user, sshPath) ?? `Refusing directory \u201C${sshPath}\u201D: it belongs to uid ${st.uid}`;
  return entries === 0 ? null : `Refusing directory \u201C${sshPath}\u201D: it was replaced while it was being created`;
}
