// The -d pidfile as QEMU's qemu_write_pidfile() does it (docs/compatibility.md §Agent): open/create 0600, whole-file
// fcntl write lock held for the process lifetime, re-checked against races, truncated, `<pid>\n`.
// API: Pidfile.acquire(path, pid?) → Pidfile (throws PidfileError with QEMU's text), .release().
//
// The lock is a POSIX record lock: it belongs to the process and is released when ANY fd of the
// file is closed by this process, so nothing else in the agent may open and close the pidfile.
import * as fs from 'node:fs';
import { fcntlLock } from '../platform/linux/libc.ts';
import { strerror } from '../platform/linux/strerror.ts';

function unlinkQuietly(path: string): void {
  try {
    fs.unlinkSync(path);
  } catch {
    // unlink(2)'s result is ignored, as in QEMU
  }
}

/** `message` is QEMU's Error text, e.g. `Cannot lock pid file: Resource temporarily unavailable`. */
export class PidfileError extends Error {}

export class Pidfile {
  private released = false;

  private constructor(
    readonly path: string,
    readonly fd: number,
  ) {}

  /**
   * Create or open `path`, lock it, make sure the locked inode is still the one at `path` (another
   * instance may have unlinked or replaced it meanwhile: retry), truncate it and write `<pid>\n`.
   */
  static acquire(path: string, pid: number = process.pid): Pidfile {
    for (;;) {
      let fd: number;
      try {
        fd = fs.openSync(path, fs.constants.O_CREAT | fs.constants.O_WRONLY, 0o600);
      } catch (e) {
        throw new PidfileError(`Could not create '${path}': ${strerror(e)}`);
      }
      let opened: fs.Stats;
      try {
        opened = fs.fstatSync(fd);
      } catch (e) {
        fs.closeSync(fd);
        throw new PidfileError(`Cannot stat file: ${strerror(e)}`);
      }
      const errno = fcntlLock(fd, 'write');
      if (errno !== 0) {
        fs.closeSync(fd);
        throw new PidfileError(`Cannot lock pid file: ${strerror(errno)}`);
      }
      let current: fs.Stats;
      try {
        current = fs.statSync(path);
      } catch {
        fs.closeSync(fd); // the file vanished under us: someone is racing, try again
        continue;
      }
      if (current.ino !== opened.ino) {
        fs.closeSync(fd); // replaced by another instance: try again
        continue;
      }
      try {
        fs.ftruncateSync(fd, 0);
      } catch (e) {
        unlinkQuietly(path);
        fs.closeSync(fd);
        throw new PidfileError(`Failed to truncate pid file: ${strerror(e)}`);
      }
      const text = Buffer.from(`${pid}\n`);
      try {
        if (fs.writeSync(fd, text, 0, text.length, 0) !== text.length) throw new Error('short write');
      } catch {
        unlinkQuietly(path);
        fs.closeSync(fd);
        throw new PidfileError('Failed to write pid file');
      }
      return new Pidfile(path, fd);
    }
  }

  /** At exit (-d only): unlink the file, then close it (which drops the lock). Idempotent. */
  release(): void {
    if (this.released) return;
    this.released = true;
    unlinkQuietly(this.path);
    try {
      fs.closeSync(this.fd);
    } catch {
      // already closed
    }
  }
}
