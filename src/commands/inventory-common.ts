// Small pieces shared by the read-only information commands (net, cpu, memory, users, fs-info, disks, stats).
import * as fs from 'node:fs';
import { errnoOf, strerror } from '../platform/linux/strerror.ts';

/** error_setg_errno(): "<msg>: <strerror>" when the error carries an errno, else "<msg>". */
export function withErrno(msg: string, err: unknown): string {
  return errnoOf(err) !== 0 ? `${msg}: ${strerror(err)}` : msg;
}

/** Reads a whole file as a byte string (latin1), or throws the fs error. */
export function readBytes(path: string): string {
  return fs.readFileSync(path, 'latin1');
}

/** Splits text into getline() lines: each keeps its newline; a last line without one is kept too. */
export function getlines(text: string): string[] {
  const out: string[] = [];
  let start = 0;
  for (let nl = text.indexOf('\n'); nl >= 0; nl = text.indexOf('\n', start)) {
    out.push(text.slice(start, nl + 1));
    start = nl + 1;
  }
  if (start < text.length) out.push(text.slice(start));
  return out;
}

/** pread(fd, buf, n, 0) on a freshly opened file: the bytes read (maybe fewer), or throws the open/read error. */
export function openAndPread(path: string, n: number, onOpenError: (err: unknown) => never, onReadError: (err: unknown) => never): Buffer {
  let fd: number;
  try {
    fd = fs.openSync(path, fs.constants.O_RDONLY);
  } catch (err) {
    onOpenError(err);
  }
  try {
    const buf = Buffer.alloc(n);
    let got: number;
    try {
      got = fs.readSync(fd, buf, 0, n, 0);
    } catch (err) {
      onReadError(err);
    }
    return buf.subarray(0, got);
  } finally {
    fs.closeSync(fd);
  }
}

/** open(path, O_RDONLY | O_DIRECTORY) and close it again; throws the open error. */
export function checkDirOpens(path: string): void {
  fs.closeSync(fs.openSync(path, fs.constants.O_RDONLY | fs.constants.O_DIRECTORY));
}
