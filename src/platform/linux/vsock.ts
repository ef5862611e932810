// AF_VSOCK listening sockets through koffi: Node's net module refuses vsock file descriptors.
import { lazyBinding } from './ffi.ts';


const AF_VSOCK = 40;
const SOCK_STREAM = 1;
const SOCK_CLOEXEC = 0o2000000;

interface VsockFns {
  socket(domain: number, type: number, proto: number): number;
  bind(fd: number, addr: Buffer, len: number): number;
  listen(fd: number, backlog: number): number;
  accept: { async(fd: number, addr: null, len: null, cb: (err: unknown, fd: number) => void): void };
  close(fd: number): number;
  errno(): number;
}

const load = lazyBinding((koffi, libc): VsockFns => ({
  socket: libc.func('int socket(int, int, int)'),
  bind: libc.func('int bind(int, const uint8_t *, uint32_t)'),
  listen: libc.func('int listen(int, int)'),
  accept: libc.func('int accept(int, void *, void *)'),
  close: libc.func('int close(int)'),
  errno: () => koffi.errno(),
}));

function sysError(call: string, errno: number): Error {
  return Object.assign(new Error(call), { errno });
}

/** Parses qemu-ga's `<cid>:<port>` vsock address; undefined when malformed. */
export function parseVsockAddress(text: string): { cid: number; port: number } | undefined {
  const m = /^(\d+):(\d+)$/.exec(text);
  if (!m) return undefined;
  const cid = Number(m[1]);
  const port = Number(m[2]);
  if (cid > 0xffffffff || port > 0xffffffff) return undefined;
  return { cid, port };
}

/** socket + bind + listen(1); throws an Error carrying `errno`. */
export function vsockListen(cid: number, port: number): number {
  const f = load();
  const fd = f.socket(AF_VSOCK, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) throw sysError('socket', f.errno());
  // struct sockaddr_vm: family, reserved, port, cid, flags, zero[3].
  const addr = Buffer.alloc(16);
  addr.writeUInt16LE(AF_VSOCK, 0);
  addr.writeUInt32LE(port, 4);
  addr.writeUInt32LE(cid, 8);
  if (f.bind(fd, addr, addr.length) !== 0 || f.listen(fd, 1) !== 0) {
    const errno = f.errno();
    f.close(fd);
    throw sysError('bind', errno);
  }
  return fd;
}

/** accept() on a worker thread so the event loop never waits for a host. */
export function vsockAccept(listenFd: number): Promise<number> {
  const f = load();
  return new Promise((resolve, reject) => {
    f.accept.async(listenFd, null, null, (err, fd) => {
      if (err) reject(err as Error);
      else if (fd < 0) reject(sysError('accept', f.errno()));
      else resolve(fd);
    });
  });
}
