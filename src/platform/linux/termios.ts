// Raw termios for isa-serial, as qemu-ga sets it (docs/compatibility.md §Agent); Node has no tcsetattr, so koffi calls libc.
import { lazyBinding } from './ffi.ts';


// struct termios on Linux: 4 × tcflag_t, c_line, c_cc[32], c_ispeed, c_ospeed.
const TERMIOS_SIZE = 60;
const C_IFLAG = 0;
const C_OFLAG = 4;
const C_CFLAG = 8;
const C_LFLAG = 12;
const C_CC = 17;
const VTIME = 5;
const VMIN = 6;
const CLEARED_IFLAGS = 0x1 | 0x2 | 0x4 | 0x8 | 0x10 | 0x20 | 0x40 | 0x80 | 0x100 | 0x400 | 0x1000 | 0x800 | 0x2000;
const B38400 = 0o17;
const TCSANOW = 0;
const TCIFLUSH = 0;

interface TermiosFns {
  tcgetattr(fd: number, buf: Buffer): number;
  tcsetattr(fd: number, action: number, buf: Buffer): number;
  tcflush(fd: number, queue: number): number;
  errno(): number;
}

const load = lazyBinding((koffi, libc): TermiosFns => ({
  tcgetattr: libc.func('int tcgetattr(int fd, _Out_ uint8_t *t)'),
  tcsetattr: libc.func('int tcsetattr(int fd, int act, const uint8_t *t)'),
  tcflush: libc.func('int tcflush(int fd, int q)'),
  errno: () => koffi.errno(),
}));

export function makeRaw(fd: number): void {
  const f = load();
  const t = Buffer.alloc(TERMIOS_SIZE);
  if (f.tcgetattr(fd, t) !== 0) throw Object.assign(new Error('tcgetattr'), { errno: f.errno() });
  t.writeUInt32LE((t.readUInt32LE(C_IFLAG) & ~CLEARED_IFLAGS) >>> 0, C_IFLAG);
  t.writeUInt32LE(0, C_OFLAG);
  t.writeUInt32LE(0, C_LFLAG);
  t.writeUInt32LE((t.readUInt32LE(C_CFLAG) | B38400) >>> 0, C_CFLAG);
  t[C_CC + VMIN] = 1;
  t[C_CC + VTIME] = 0;
  f.tcflush(fd, TCIFLUSH);
  if (f.tcsetattr(fd, TCSANOW, t) !== 0) throw Object.assign(new Error('tcsetattr'), { errno: f.errno() });
}
