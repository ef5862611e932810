// getifaddrs() and SIOCGIFHWADDR through koffi: the interface walk of guest-network-get-interfaces needs
// libc's exact entry order (links first, then IPv4, then IPv6 addresses) and every interface, also
// those without an address, which os.networkInterfaces() drops.
import { errnoError, lazyBinding, type Koffi } from './ffi.ts';

export const AF_INET = 2;
export const AF_INET6 = 10;
const SOCK_STREAM = 1;
const SIOCGIFHWADDR = 0x8927;
const IF_NAMESIZE = 16;
/** sizeof(struct ifreq) on LP64. */
const IFREQ_SIZE = 40;

export interface IfAddrEntry {
  /** ifa_name (an interface name, or an IPv4 label such as "eth0:1"), its bytes as a latin1 string. */
  name: string;
  /** ifa_addr->sa_family, or -1 when ifa_addr is NULL. */
  family: number;
  /** The address bytes (4 for AF_INET, 16 for AF_INET6); undefined for other families. */
  addr?: Uint8Array;
  /** The netmask bytes of the same length, or undefined when ifa_netmask is NULL. */
  netmask?: Uint8Array;
}

interface Fns {
  koffi: Koffi;
  getifaddrs: (out: [bigint | null]) => number;
  freeifaddrs: (p: bigint) => void;
  socket: (domain: number, type: number, proto: number) => number;
  ioctl: (fd: number, req: number, arg: Buffer) => number;
  close: (fd: number) => number;
  strlen: (p: bigint) => number | bigint;
}

const load = lazyBinding((koffi, libc): Fns => ({
  koffi,
  getifaddrs: libc.func('int getifaddrs(_Out_ void **ifap)'),
  freeifaddrs: libc.func('void freeifaddrs(void *ifa)'),
  socket: libc.func('int socket(int domain, int type, int protocol)'),
  ioctl: libc.func('int ioctl(int fd, unsigned long request, _Inout_ uint8_t *arg)'),
  close: libc.func('int close(int fd)'),
  strlen: libc.func('size_t strlen(const void *s)'),
}));

/** The getifaddrs() list in libc's order; throws an errno Error when getifaddrs() fails. */
export function getIfAddrs(): IfAddrEntry[] {
  const f = load();
  const { koffi } = f;
  const out: [bigint | null] = [null];
  if (f.getifaddrs(out) !== 0) throw errnoError('getifaddrs', koffi.errno());
  const head = out[0] as bigint | null;
  const list: IfAddrEntry[] = [];
  try {
    for (let p = head; p; ) {
      // struct ifaddrs: ifa_next @0, ifa_name @8, ifa_flags @16, ifa_addr @24, ifa_netmask @32 (LP64).
      const node = new DataView(koffi.view(p, 40) as ArrayBuffer);
      const namePtr = node.getBigUint64(8, true);
      const addr = node.getBigUint64(24, true);
      const netmask = node.getBigUint64(32, true);
      let name = '';
      if (namePtr) {
        const len = Number(f.strlen(namePtr));
        name = len === 0 ? '' : Buffer.from(koffi.view(namePtr, len) as ArrayBuffer).toString('latin1');
      }
      const entry: IfAddrEntry = { name, family: -1 };
      if (addr) {
        const sa = new Uint8Array(koffi.view(addr, 24) as ArrayBuffer);
        const family = sa[0] | (sa[1] << 8);
        entry.family = family;
        // struct sockaddr_in: sin_addr at offset 4; struct sockaddr_in6: sin6_addr at offset 8.
        if (family === AF_INET || family === AF_INET6) {
          const at = family === AF_INET ? 4 : 8;
          const len = family === AF_INET ? 4 : 16;
          entry.addr = sa.slice(at, at + len);
          if (netmask) entry.netmask = new Uint8Array(koffi.view(netmask, at + len) as ArrayBuffer).slice(at, at + len);
        }
      }
      list.push(entry);
      p = node.getBigUint64(0, true);
    }
  } finally {
    if (head) f.freeifaddrs(head);
  }
  return list;
}

/** SIOCGIFHWADDR queries on one AF_INET socket. */
export class HwAddrQuery {
  private readonly f: Fns;
  private readonly fd: number;
  private readonly ifr = Buffer.alloc(IFREQ_SIZE);

  /** Throws an errno Error when the socket cannot be created. */
  constructor() {
    this.f = load();
    this.fd = this.f.socket(AF_INET, SOCK_STREAM, 0);
    if (this.fd < 0) throw errnoError('socket', this.f.koffi.errno());
  }

  /** The first 6 bytes of the hardware address of `name` (bytes as a latin1 string), or undefined when
   *  the ioctl fails. */
  get(name: string): Uint8Array | undefined {
    const ifr = this.ifr;
    ifr.fill(0);
    // pstrcpy(ifr_name, IF_NAMESIZE, name): at most 15 bytes and a NUL.
    Buffer.from(name, 'latin1').copy(ifr, 0, 0, IF_NAMESIZE - 1);
    if (this.f.ioctl(this.fd, SIOCGIFHWADDR, ifr) === -1) return undefined;
    // ifr_hwaddr is a struct sockaddr at offset 16; sa_data starts 2 bytes in.
    return new Uint8Array(ifr.subarray(18, 24));
  }

  close(): void {
    this.f.close(this.fd);
  }
}
