// getpwnam_r() through koffi, as GLib's g_unix_get_passwd_entry() calls it for qemu-ga's ssh-key commands:
// NSS is honoured (LDAP, sssd, …), the buffer grows on ERANGE, and a missing user is errno 0 ("Success").
import { lazyBinding } from './ffi.ts';
import { cBytes } from './runner.ts';

export interface PasswdEntry {
  name: string;
  uid: number;
  gid: number;
  /** pw_dir */
  dir: string;
}

/** The entry, or the errno getpwnam_r() reported (0 when the user simply does not exist). */
export type PasswdLookup = (name: string) => PasswdEntry | { errno: number };

type GetpwnamR = (name: Buffer, pwd: Record<string, unknown>, buf: Buffer, len: number, result: unknown[]) => number;

const load = lazyBinding((koffi, libc): GetpwnamR => {
  // Anonymous struct: koffi's type names are process-global.
  const passwd = koffi.struct({
    pw_name: 'char *',
    pw_passwd: 'char *',
    pw_uid: 'uint32_t',
    pw_gid: 'uint32_t',
    pw_gecos: 'char *',
    pw_dir: 'char *',
    pw_shell: 'char *',
  });
  return libc.func('getpwnam_r', 'int', ['uint8_t *', koffi.out(koffi.pointer(passwd)), 'uint8_t *', 'size_t', koffi.out(koffi.pointer('void *'))]);
});

const ERANGE = 34;

export const getpwnam: PasswdLookup = (name) => {
  const f = load();
  const cname = Buffer.concat([cBytes(name), Buffer.from([0])]);
  for (let size = 1024; ; size *= 2) {
    const pwd: Record<string, unknown> = {};
    const result: unknown[] = [null];
    const buf = Buffer.alloc(size);
    const rc = f(cname, pwd, buf, size, result);
    if (rc === ERANGE && size < 1 << 24) continue;
    if (result[0] === null || result[0] === undefined) return { errno: rc };
    return { name: String(pwd.pw_name ?? ''), uid: Number(pwd.pw_uid), gid: Number(pwd.pw_gid), dir: String(pwd.pw_dir ?? '') };
  }
};
