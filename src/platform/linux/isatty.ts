// isatty(3) without loading node:tty (which drags in net and streams at startup): a terminal is a
// character device whose TCGETS ioctl works; Node exposes that check only via tty, so ask /proc.
import * as fs from 'node:fs';

export function isatty(fd: number): boolean {
  try {
    if (!fs.fstatSync(fd).isCharacterDevice()) return false;
    // /proc/self/fd/N of a terminal names a tty or pts device.
    return /^\/dev\/(pts\/\d+|tty|console)/.test(fs.readlinkSync(`/proc/self/fd/${fd}`));
  } catch {
    return false;
  }
}
