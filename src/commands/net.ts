// guest-network-get-interfaces (facts §3.11) and guest-network-get-route (§3.12).
import type { GuestIpAddress, GuestNetworkInterface, GuestNetworkInterfaceStat, GuestNetworkRoute } from '../generated/qapi-types.ts';
import { genericError } from '../protocol/errors.ts';
import { AF_INET, AF_INET6, HwAddrQuery, getIfAddrs, type IfAddrEntry } from '../platform/linux/ifaddrs.ts';
import { inetNtop4, inetNtop6 } from '../platform/linux/inet.ts';
import { bytesToText } from '../platform/linux/mounts.ts';
import { rooted } from '../platform/linux/paths.ts';
import { sscanf } from '../platform/linux/scanf.ts';
import type { AgentContext } from './context.ts';
import type { GlobList } from './fnmatch.ts';
import { getlines, readBytes, withErrno } from './inventory-common.ts';

/** Where the interface walk gets its facts; tests substitute recorded data. */
export interface NetSource {
  /** getifaddrs(); throws an errno Error on failure. */
  ifaddrs(): IfAddrEntry[];
  /** A SIOCGIFHWADDR query; creating it throws an errno Error when no socket can be made. */
  openHwAddr(): { get(name: string): Uint8Array | undefined; close(): void };
  /** /proc/net/dev as a byte string, or undefined when it cannot be read. */
  procNetDev(): string | undefined;
}

export function liveNetSource(root: string): NetSource {
  return {
    ifaddrs: getIfAddrs,
    openHwAddr: () => new HwAddrQuery(),
    procNetDev: () => {
      try {
        return readBytes(rooted(root, '/proc/net/dev'));
      } catch {
        return undefined;
      }
    },
  };
}

function popcount(bytes: Uint8Array): number {
  let n = 0;
  for (let b of bytes) {
    while (b) {
      n += b & 1;
      b >>= 1;
    }
  }
  return n;
}

function hex2(b: number): string {
  return (b < 16 ? '0' : '') + b.toString(16);
}

const NETDEV_FORMAT = '%lld %lld %lld %lld %lld %lld %lld %lld %lld %lld %lld %lld %lld %lld %lld %lld';

/**
 * The 16 "%lld" counters after an interface's colon, or null when sscanf() would not read 16. The kernel
 * prints plain unsigned decimals: when the first 16 fields are such (short enough not to saturate),
 * they are read directly; anything else goes through the emulation (`fast` false: always).
 */
export function netDevCounters(rest: string, fast = true): bigint[] | null {
  if (fast) {
    const fields = rest.replace(/^[ \t\n\v\f\r]+/, '').split(/[ \t\n\v\f\r]+/, 16);
    if (fields.length === 16 && fields.every((x) => /^\d{1,18}$/.test(x))) return fields.map(BigInt);
  }
  const r = sscanf(rest, NETDEV_FORMAT);
  return r.ret === 16 ? (r.values as bigint[]) : null;
}

/**
 * guest_get_network_stats() for every name at once: the first line of /proc/net/dev whose text before its
 * first colon is the name and that has 16 numbers after it. (Names with a colon never match.)
 */
export function parseProcNetDev(text: string): Map<string, GuestNetworkInterfaceStat> {
  const stats = new Map<string, GuestNetworkInterfaceStat>();
  for (const raw of getlines(text)) {
    // g_strchug(): leading ASCII whitespace.
    const line = raw.replace(/^[ \t\n\r\f\v]+/, '');
    if (line === '') continue;
    const colon = line.indexOf(':');
    if (colon < 0) continue;
    const name = line.slice(0, colon);
    if (stats.has(name)) continue;
    const v = netDevCounters(line.slice(colon + 1));
    if (v === null) continue;
    stats.set(name, {
      'rx-bytes': v[0],
      'rx-packets': v[1],
      'rx-errs': v[2],
      'rx-dropped': v[3],
      'tx-bytes': v[8],
      'tx-packets': v[9],
      'tx-errs': v[10],
      'tx-dropped': v[11],
    });
  }
  return stats;
}

/**
 * The interface list from a NetSource, in getifaddrs() order of first appearance, without the interfaces
 * whose name matches `exclude` (qga-ts extension; they are not even asked for their hardware address).
 */
export function networkInterfaces(src: NetSource, exclude?: GlobList): GuestNetworkInterface[] {
  let entries: IfAddrEntry[];
  try {
    entries = src.ifaddrs();
  } catch (err) {
    throw genericError(withErrno('getifaddrs failed', err));
  }
  if (exclude !== undefined && !exclude.empty) entries = entries.filter((e) => !exclude.matches(bytesToText(e.name)));
  const byName = new Map<string, GuestNetworkInterface>();
  const result: GuestNetworkInterface[] = [];
  let hw: ReturnType<NetSource['openHwAddr']> | undefined;
  let devStats: Map<string, GuestNetworkInterfaceStat> | undefined;
  try {
    for (const ifa of entries) {
      let info = byName.get(ifa.name);
      if (!info) {
        info = { name: ifa.name };
        byName.set(ifa.name, info);
        result.push(info);
      }
      if (info['hardware-address'] === undefined) {
        if (!hw) {
          try {
            hw = src.openHwAddr();
          } catch (err) {
            throw genericError(withErrno('failed to create socket', err));
          }
        }
        const mac = hw.get(ifa.name);
        if (mac) info['hardware-address'] = Array.from(mac.subarray(0, 6), hex2).join(':');
      }
      let address: GuestIpAddress;
      if (ifa.family === AF_INET && ifa.addr) {
        address = { 'ip-address': inetNtop4(ifa.addr), 'ip-address-type': 'ipv4', prefix: BigInt(ifa.netmask ? popcount(ifa.netmask) : 0) };
      } else if (ifa.family === AF_INET6 && ifa.addr) {
        address = { 'ip-address': inetNtop6(ifa.addr), 'ip-address-type': 'ipv6', prefix: BigInt(ifa.netmask ? popcount(ifa.netmask) : 0) };
      } else {
        continue;
      }
      (info['ip-addresses'] ??= []).push(address);
      if (info.statistics === undefined) {
        if (devStats === undefined) {
          const text = src.procNetDev();
          devStats = text === undefined ? new Map() : parseProcNetDev(text);
        }
        const st = devStats.get(ifa.name);
        if (st) info.statistics = { ...st };
      }
    }
  } finally {
    hw?.close();
  }
  // Member order of the schema: name, ip-addresses, statistics, hardware-address (all but name optional).
  return result.map((i) => {
    const o: GuestNetworkInterface = { name: bytesToText(i.name) };
    if (i['hardware-address'] !== undefined) o['hardware-address'] = i['hardware-address'];
    if (i['ip-addresses'] !== undefined) o['ip-addresses'] = i['ip-addresses'];
    if (i.statistics !== undefined) o.statistics = i.statistics;
    return o;
  });
}

export function guestNetworkGetInterfaces(_args: unknown, ctx: AgentContext): GuestNetworkInterface[] {
  return networkInterfaces(liveNetSource(ctx.root), ctx.excludeInterfaces);
}

/** hex_to_ip_address() for IPv6: 16 "%02hhx" bytes of the text, or undefined when one does not parse. */
function hexToIpv6(hex: string): string | undefined {
  const bytes = new Uint8Array(16);
  for (let i = 0; i < 16; i++) {
    if (2 * i >= hex.length) return undefined;
    const r = sscanf(hex.slice(2 * i, 2 * i + 2), '%02hhx');
    if (r.ret !== 1) return undefined;
    bytes[i] = Number(r.values[0]);
  }
  return inetNtop6(bytes);
}

/** hex_to_ip_address() for IPv4: the kernel's host-order word, low byte first. */
function hexToIpv4(v: bigint): string {
  const n = Number(v);
  return `${n & 0xff}.${(n >>> 8) & 0xff}.${(n >>> 16) & 0xff}.${(n >>> 24) & 0xff}`;
}

const i32 = (v: unknown) => BigInt.asIntN(32, v as bigint);

export function parseRoutes(ipv4: string | undefined, ipv6: string | undefined): GuestNetworkRoute[] {
  const result: GuestNetworkRoute[] = [];
  if (ipv4 !== undefined) {
    getlines(ipv4).forEach((line, index) => {
      if (index === 0) return; // the header line
      const r = sscanf(line, '%s %X %X %x %d %d %d %X %d %d %d');
      if (r.ret !== 11) return;
      const v = r.values;
      result.push({
        iface: bytesToText(v[0] as string),
        destination: hexToIpv4(v[1] as bigint),
        metric: i32(v[6]),
        gateway: hexToIpv4(v[2] as bigint),
        mask: hexToIpv4(v[7] as bigint),
        irtt: i32(v[10]),
        flags: v[3] as bigint,
        refcnt: i32(v[4]),
        use: i32(v[5]),
        window: i32(v[9]),
        mtu: i32(v[8]),
        version: 4n,
      });
    });
  }
  if (ipv6 !== undefined) {
    for (const line of getlines(ipv6)) {
      const r = sscanf(line, '%32s %x %32s %x %32s %x %x %x %x %s');
      if (r.ret !== 10) continue;
      const v = r.values;
      const destination = hexToIpv6(v[0] as string);
      if (destination === undefined) continue;
      const route: GuestNetworkRoute = { iface: bytesToText(v[9] as string), destination, metric: i32(v[5]), version: 6n };
      // The %x fields land in C ints: prefix lengths print with %d, flags widen from int to uint64.
      route.flags = BigInt.asUintN(64, i32(v[8]));
      route.refcnt = i32(v[6]);
      route.use = i32(v[7]);
      route.desprefixlen = String(i32(v[1]));
      const source = hexToIpv6(v[2] as string);
      if (source !== undefined) route.source = source;
      route.srcprefixlen = String(i32(v[3]));
      const nexthop = hexToIpv6(v[4] as string);
      if (nexthop !== undefined) route.nexthop = nexthop;
      result.push(route);
    }
  }
  return result;
}

export function guestNetworkGetRoute(_args: unknown, ctx: AgentContext): GuestNetworkRoute[] {
  const files = ['/proc/net/route', '/proc/net/ipv6_route'];
  const texts: (string | undefined)[] = [];
  // Each file that cannot be opened is an error; the other file is still read, and the first error is
  // reported. (When both fail qemu-ga sets its error twice and aborts on an assertion.)
  let firstError: string | undefined;
  for (const f of files) {
    try {
      texts.push(readBytes(rooted(ctx.root, f)));
    } catch (err) {
      texts.push(undefined);
      firstError ??= withErrno(`open("${f}")`, err);
    }
  }
  if (firstError !== undefined) throw genericError(firstError);
  return parseRoutes(texts[0], texts[1]);
}
