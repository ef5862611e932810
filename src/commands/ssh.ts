// guest-ssh-get/add/remove-authorized-keys (docs/compatibility.md §Commands) with qemu-ga's texts and file format:
//   - keys are checked first (no leading `#`, no LF), then the user is looked up (getpwnam_r, NSS);
//   - the file is `<pw_dir>/.ssh/authorized_keys`, split on LF (a C string: it ends at a NUL byte);
//   - get strips each line (GLib whitespace: space \t \n \f \r), skips empty and `#` lines and returns the
//     keys in reverse file order;
//   - add appends keys not already present as whole lines (duplicates in the request too), remove drops
//     every line equal to a given key; both write the lines joined by LF with no trailing newline;
//   - add creates ~/.ssh (0700, owned by the user) when the file could not be read (or with `reset`).
// As qemu-ga 11.1.2 (CVE-2026-12080; docs/compatibility.md §ssh-key commands and the user's identity):
// every file call runs with the user's file-system uid, gid and groups (platform/linux/fsid.ts), so the
// path to `~/.ssh` is reached with the user's rights and what is created is the user's. Besides, the
// home directory is opened once, then `.ssh` and `authorized_keys` are reached with openat(O_NOFOLLOW)
// relative to it, so a symbolic link planted in place of either is never followed; the new file is
// written to a temporary file in `.ssh`, given mode 0600 through its descriptor, synced, and renamed
// over the old one. A `.ssh` that is a symbolic link (or a file) makes add fail as qemu-ga's mkdir
// would, with `failed to create directory '…': File exists`. What the user may reach is refused
// further by ownership (ssh-trust.ts): a `.ssh` of another account, a hard-linked file, or another
// account's file give `failed to read '…': Refusing …` (add and remove too).
import * as fs from 'node:fs';
import type {
  GuestAuthorizedKeys,
  GuestSshAddAuthorizedKeysArgs,
  GuestSshGetAuthorizedKeysArgs,
  GuestSshRemoveAuthorizedKeysArgs,
} from '../generated/qapi-types.ts';
import { genericError } from '../protocol/errors.ts';
import { mkdirat, O_DIRECTORY, O_NOFOLLOW, openat, renameat, unlinkat } from '../platform/linux/dirfd.ts';
import type { PasswdEntry } from '../platform/linux/passwd.ts';
import { cBytes } from '../platform/linux/runner.ts';
import { errnoOf, strerror } from '../platform/linux/strerror.ts';
import type { AgentContext, SystemServices } from './context.ts';
import { services } from './services.ts';
import { refuseKeysFile, refuseNewSshDir, refuseSshDir } from './ssh-trust.ts';
import { asUser } from '../platform/linux/fsid.ts';

const ENOENT = 2;
const ENOTDIR = 20;
const EEXIST = 17;
const EISDIR = 21;
const EINVAL = 22;
const AUTHKEYS = 'authorized_keys';

/** glibc's strerror(), with errno 0 as "Success" (what GLib prints for a user that does not exist). */
function errText(errno: number): string {
  return errno === 0 ? 'Success' : strerror(errno);
}

/** g_build_filename() for an absolute or relative first element and plain names after it. */
export function buildFilename(first: string, ...rest: string[]): string {
  let out = first;
  for (const part of rest) {
    if (out === '') {
      out = part;
      continue;
    }
    out = out.replace(/\/+$/, '') + '/' + part.replace(/^\/+/, '');
  }
  return out;
}

/** check_openssh_pub_key() for each key: no leading '#', no LF. */
function checkKeys(keys: readonly string[]): void {
  for (const k of keys) {
    if (k.startsWith('#') || k.includes('\n')) throw genericError(`invalid OpenSSH public key: '${k}'`);
  }
}

/** Runs `body` with the user's file-system identity (qemu-ga 11.1 switches its effective ids for these commands). */
function actingAs<T>(user: PasswdEntry, body: () => T): T {
  return asUser(user, body, (what, err) => {
    throw genericError(`${what}: ${strerror(err)}`);
  });
}

function lookup(sys: SystemServices, username: string): PasswdEntry {
  const p = sys.getpwnam(username);
  if ('errno' in p) throw genericError(`failed to lookup user '${username}': ${errText(p.errno)}`);
  return p;
}

/** A key as the bytes of a file line (latin1 "byte string"). */
function keyLine(key: string): string {
  return cBytes(key).toString('latin1');
}

const isGSpace = (c: number): boolean => c === 0x20 || c === 0x09 || c === 0x0a || c === 0x0c || c === 0x0d;

/** GLib's g_strstrip(): g_ascii_isspace() is space, \t, \n, \f and \r (not \v). A scan, not a regex: `\s+$` is quadratic on long inner runs. */
function strip(line: string): string {
  let start = 0;
  let end = line.length;
  while (start < end && isGSpace(line.charCodeAt(start))) start++;
  while (end > start && isGSpace(line.charCodeAt(end - 1))) end--;
  return line.slice(start, end);
}

function closeQuietly(fd: number | undefined): void {
  if (fd === undefined || fd < 0) return;
  try {
    fs.closeSync(fd);
  } catch {
    // nothing to do
  }
}

/** A failed step: the errno and the GLib-style message for a failed read of the file; `refused` by ssh-trust.ts. */
class ReadFailure {
  constructor(
    readonly errno: number,
    readonly message: string,
    readonly refused = false,
  ) {}
}

/** The descriptors of `<home>` and `<home>/.ssh` (no symbolic link followed for `.ssh`). */
class SshDir {
  homeFd = -1;
  sshFd = -1;
  homeErr = 0;
  sshErr = 0;
  /** Why the open `.ssh` is not trusted (ssh-trust.ts), or null. */
  sshRefusal: string | null = null;

  constructor(
    readonly user: PasswdEntry,
    readonly sshPath: string,
  ) {
    try {
      this.homeFd = fs.openSync(user.dir, fs.constants.O_RDONLY | fs.constants.O_DIRECTORY);
    } catch (err) {
      this.homeErr = errnoOf(err);
      this.sshErr = this.homeErr;
      return;
    }
    this.openSsh();
  }

  openSsh(): void {
    try {
      this.sshFd = openat(this.homeFd, '.ssh', fs.constants.O_RDONLY | O_DIRECTORY | O_NOFOLLOW);
      this.sshErr = 0;
    } catch (err) {
      this.sshErr = errnoOf(err);
      return;
    }
    this.sshRefusal = refuseSshDir(fs.fstatSync(this.sshFd), this.user, this.sshPath);
  }

  /** Throws `<what> '<path>': Refusing directory …` when `.ssh` is not trusted. */
  trustSsh(what: string, path: string): void {
    if (this.sshRefusal !== null) throw genericError(`${what} '${path}': ${this.sshRefusal}`);
  }

  close(): void {
    closeQuietly(this.sshFd);
    closeQuietly(this.homeFd);
  }

  /** read_authkeys(): the file's lines (latin1), or why it could not be read (GLib's texts). */
  read(path: string): string[] | ReadFailure {
    if (this.sshFd < 0) return new ReadFailure(this.sshErr, `Failed to open file \u201C${path}\u201D: ${strerror(this.sshErr)}`);
    if (this.sshRefusal !== null) return new ReadFailure(0, this.sshRefusal, true);
    let fd: number;
    try {
      // O_NONBLOCK: a FIFO planted there must not hang the agent.
      fd = openat(this.sshFd, AUTHKEYS, fs.constants.O_RDONLY | O_NOFOLLOW | fs.constants.O_NOCTTY | fs.constants.O_NONBLOCK);
    } catch (err) {
      return new ReadFailure(errnoOf(err), `Failed to open file \u201C${path}\u201D: ${strerror(err)}`);
    }
    try {
      const st = fs.fstatSync(fd);
      if (!st.isFile()) {
        const e = st.isDirectory() ? EISDIR : EINVAL;
        return new ReadFailure(e, `Failed to read from file \u201C${path}\u201D: ${strerror(e)}`);
      }
      const refusal = refuseKeysFile(st, this.user, path);
      if (refusal !== null) return new ReadFailure(0, refusal, true);
      let data: Buffer;
      try {
        data = fs.readFileSync(fd);
      } catch (err) {
        return new ReadFailure(errnoOf(err), `Failed to read from file \u201C${path}\u201D: ${strerror(err)}`);
      }
      const nul = data.indexOf(0);
      const text = (nul < 0 ? data : data.subarray(0, nul)).toString('latin1');
      // g_strsplit(): "" has no lines at all; otherwise every LF separates two (maybe empty) lines.
      return text === '' ? [] : text.split('\n');
    } finally {
      closeQuietly(fd);
    }
  }

  /** mkdir_for_user(): `.ssh` with mode 0700, owned by the user. */
  create(sshPath: string): void {
    const fail = (what: string, err: unknown): never => {
      throw genericError(`${what} '${sshPath}': ${strerror(err)}`);
    };
    if (this.homeFd < 0) fail('failed to create directory', this.homeErr);
    try {
      mkdirat(this.homeFd, '.ssh', 0o700);
    } catch (err) {
      fail('failed to create directory', err);
    }
    this.openSsh();
    if (this.sshFd < 0) fail('failed to create directory', this.sshErr);
    // A directory swapped in between mkdirat and openat (the user owns the home) is not given to the user.
    const entries = fs.readdirSync(`/proc/self/fd/${this.sshFd}`).length;
    const why = refuseNewSshDir(fs.fstatSync(this.sshFd), entries, this.user, process.geteuid?.() ?? 0, sshPath);
    if (why !== null) throw genericError(`failed to create directory '${sshPath}': ${why}`);
    try {
      fs.fchownSync(this.sshFd, this.user.uid, this.user.gid);
    } catch (err) {
      fail('failed to set ownership of directory', err);
    }
    try {
      fs.fchmodSync(this.sshFd, 0o700);
    } catch (err) {
      fail('failed to set permissions of directory', err);
    }
  }

  /** write_authkeys(): lines joined by LF, no trailing newline; owner and mode 0600 set before it appears. */
  write(path: string, lines: readonly string[]): void {
    const data = Buffer.from(lines.join('\n'), 'latin1');
    let tmp = '';
    let fd = -1;
    for (let attempt = 0; attempt < 100 && fd < 0; attempt++) {
      tmp = `${AUTHKEYS}.${randomSuffix()}`;
      try {
        fd = openat(this.sshFd, tmp, fs.constants.O_WRONLY | fs.constants.O_CREAT | fs.constants.O_EXCL | O_NOFOLLOW, 0o600);
      } catch (err) {
        if (errnoOf(err) === EEXIST && attempt < 99) continue;
        throw genericError(`failed to write to '${path}': Failed to create file \u201C${path}.${tmp.slice(AUTHKEYS.length + 1)}\u201D: ${strerror(err)}`);
      }
    }
    const tmpPath = `${path}.${tmp.slice(AUTHKEYS.length + 1)}`;
    let renamed = false;
    try {
      try {
        let off = 0;
        while (off < data.length) off += fs.writeSync(fd, data, off);
      } catch (err) {
        throw genericError(`failed to write to '${path}': Failed to write file \u201C${tmpPath}\u201D: write() failed: ${strerror(err)}`);
      }
      try {
        fs.fchownSync(fd, this.user.uid, this.user.gid);
      } catch (err) {
        // qemu-ga's wording, "directory" included.
        throw genericError(`failed to set ownership of directory '${path}': ${strerror(err)}`);
      }
      try {
        fs.fchmodSync(fd, 0o600);
      } catch (err) {
        throw genericError(`failed to set permissions of '${path}': ${strerror(err)}`);
      }
      try {
        fs.fsyncSync(fd);
      } catch (err) {
        throw genericError(`failed to write to '${path}': Failed to write file \u201C${tmpPath}\u201D: fsync() failed: ${strerror(err)}`);
      }
      try {
        renameat(this.sshFd, tmp, AUTHKEYS);
        renamed = true;
      } catch (err) {
        throw genericError(
          `failed to write to '${path}': Failed to rename file \u201C${tmpPath}\u201D to \u201C${path}\u201D: g_rename() failed: ${strerror(err)}`,
        );
      }
    } finally {
      closeQuietly(fd);
      if (!renamed) {
        try {
          unlinkat(this.sshFd, tmp);
        } catch {
          // best effort, as GLib's g_unlink() of its temporary file
        }
      }
    }
  }
}

const TMP_CHARS = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789';

function randomSuffix(): string {
  let s = '';
  for (let i = 0; i < 6; i++) s += TMP_CHARS[Math.floor(Math.random() * TMP_CHARS.length)];
  return s;
}

export function guestSshGetAuthorizedKeys(args: GuestSshGetAuthorizedKeysArgs, ctx: AgentContext): GuestAuthorizedKeys {
  const sys = services(ctx);
  const user = lookup(sys, args.username);
  const path = buildFilename(user.dir, '.ssh', AUTHKEYS);
  return actingAs(user, () => {
    const dir = new SshDir(user, buildFilename(user.dir, '.ssh'));
    try {
      const lines = dir.read(path);
      if (lines instanceof ReadFailure) throw genericError(`failed to read '${path}': ${lines.message}`);
      const keys: string[] = [];
      for (const line of lines) {
        const k = strip(line);
        if (k === '' || k.startsWith('#')) continue;
        keys.push(Buffer.from(k, 'latin1').toString('utf8'));
      }
      // qemu-ga prepends each key (QAPI_LIST_PREPEND); one reverse keeps that order in linear time.
      return { keys: keys.reverse() };
    } finally {
      dir.close();
    }
  });
}

export function guestSshAddAuthorizedKeys(args: GuestSshAddAuthorizedKeysArgs, ctx: AgentContext): Record<string, never> {
  const sys = services(ctx);
  checkKeys(args.keys);
  const user = lookup(sys, args.username);
  const sshPath = buildFilename(user.dir, '.ssh');
  const path = buildFilename(sshPath, AUTHKEYS);
  return actingAs(user, () => {
    const dir = new SshDir(user, sshPath);
    try {
      let lines: string[] | null = null;
      if (args.reset !== true) {
        const r = dir.read(path);
        // Unreadable is absent, as for qemu-ga; untrusted is an error, never a silent replacement.
        if (r instanceof ReadFailure && r.refused) throw genericError(`failed to read '${path}': ${r.message}`);
        if (!(r instanceof ReadFailure)) lines = r;
      }
      dir.trustSsh('failed to write to', path);
      if (lines === null) {
        if (dir.sshFd < 0) dir.create(sshPath);
        lines = [];
      }
      const present = new Set(lines);
      for (const key of args.keys) {
        const line = keyLine(key);
        if (present.has(line)) continue;
        present.add(line);
        lines.push(line);
      }
      dir.write(path, lines);
      return {};
    } finally {
      dir.close();
    }
  });
}

export function guestSshRemoveAuthorizedKeys(args: GuestSshRemoveAuthorizedKeysArgs, ctx: AgentContext): Record<string, never> {
  const sys = services(ctx);
  checkKeys(args.keys);
  const user = lookup(sys, args.username);
  const path = buildFilename(user.dir, '.ssh', AUTHKEYS);
  return actingAs(user, () => {
    const dir = new SshDir(user, buildFilename(user.dir, '.ssh'));
    try {
      const lines = dir.read(path);
      if (lines instanceof ReadFailure) {
        // No file (or no home, no .ssh): nothing to remove, as qemu-ga's g_file_test(EXISTS) check.
        if (lines.errno === ENOENT || lines.errno === ENOTDIR) return {};
        throw genericError(`failed to read '${path}': ${lines.message}`);
      }
      const drop = new Set(args.keys.map(keyLine));
      dir.write(
        path,
        lines.filter((l) => !drop.has(l)),
      );
      return {};
    } finally {
      dir.close();
    }
  });
}
