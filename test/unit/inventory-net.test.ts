// guest-network-get-interfaces from a recorded getifaddrs() walk, and the live walk against qemu-ga.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { netDevCounters, networkInterfaces, parseProcNetDev, parseRoutes, type NetSource } from '../../src/commands/net.ts';
import { AF_INET, AF_INET6, getIfAddrs, type IfAddrEntry } from '../../src/platform/linux/ifaddrs.ts';
import { QgaError } from '../../src/protocol/errors.ts';
import { GlobList } from '../../src/commands/fnmatch.ts';

const PROC_NET_DEV = `Inter-|   Receive                                                |  Transmit
 face |bytes    packets errs drop fifo frame compressed multicast|bytes    packets errs drop fifo colls carrier compressed
    lo:    3193      29    0    0    0     0          0         0     3193      29    0    0    0     0       0          0
  eth0: 207466122 4291   1    2    0     0          0         0   180224    2358    3    4    0     0       0          0
  ifb0:       0       0    0    0    0     0          0         0        0       0    0    0    0     0       0          0
 short: 1 2 3
 short: 5 6 7 8 0 0 0 0 9 10 11 12 0 0 0 0
`;

const v4 = (a: string, mask: string, name: string): IfAddrEntry => ({
  name,
  family: AF_INET,
  addr: Uint8Array.from(a.split('.').map(Number)),
  netmask: Uint8Array.from(mask.split('.').map(Number)),
});
const v6 = (hex: string, prefix: number, name: string): IfAddrEntry => {
  const mask = new Uint8Array(16);
  for (let i = 0; i < prefix; i++) mask[i >> 3] |= 0x80 >> (i & 7);
  return { name, family: AF_INET6, addr: Buffer.from(hex, 'hex'), netmask: mask };
};
const packet = (name: string): IfAddrEntry => ({ name, family: 17 });

function source(entries: IfAddrEntry[], hw: Record<string, number[] | undefined>, dev: string | undefined = PROC_NET_DEV) {
  const asked: string[] = [];
  let sockets = 0;
  const src: NetSource = {
    ifaddrs: () => entries,
    openHwAddr: () => {
      sockets++;
      return {
        get: (name) => {
          asked.push(name);
          const mac = hw[name.replace(/:.*/, '')];
          return mac ? Uint8Array.from(mac) : undefined;
        },
        close: () => {},
      };
    },
    procNetDev: () => dev,
  };
  return { src, asked, sockets: () => sockets };
}

test('interfaces in order of first appearance, addresses in walk order, statistics only with an address', () => {
  const { src } = source(
    [packet('lo'), packet('ifb0'), packet('eth0'), v4('127.0.0.1', '255.0.0.0', 'lo'), v4('192.0.2.2', '255.255.255.0', 'eth0'),
      v6('00000000000000000000000000000001', 128, 'lo'), v6('fd000000000000000000000000000002', 64, 'eth0'),
      v6('fe8000000000000000fc00fffe000001', 64, 'eth0')],
    { lo: [0, 0, 0, 0, 0, 0], ifb0: [0x8a, 0x3f, 0xb9, 0x9b, 0xe5, 0x2a], eth0: [2, 0xfc, 0, 0, 0, 1] },
  );
  assert.deepEqual(networkInterfaces(src), [
    {
      name: 'lo',
      'hardware-address': '00:00:00:00:00:00',
      'ip-addresses': [
        { 'ip-address': '127.0.0.1', 'ip-address-type': 'ipv4', prefix: 8n },
        { 'ip-address': '::1', 'ip-address-type': 'ipv6', prefix: 128n },
      ],
      statistics: { 'rx-bytes': 3193n, 'rx-packets': 29n, 'rx-errs': 0n, 'rx-dropped': 0n, 'tx-bytes': 3193n, 'tx-packets': 29n, 'tx-errs': 0n, 'tx-dropped': 0n },
    },
    { name: 'ifb0', 'hardware-address': '8a:3f:b9:9b:e5:2a' },
    {
      name: 'eth0',
      'hardware-address': '02:fc:00:00:00:01',
      'ip-addresses': [
        { 'ip-address': '192.0.2.2', 'ip-address-type': 'ipv4', prefix: 24n },
        { 'ip-address': 'fd00::2', 'ip-address-type': 'ipv6', prefix: 64n },
        { 'ip-address': 'fe80::fc:ff:fe00:1', 'ip-address-type': 'ipv6', prefix: 64n },
      ],
      statistics: { 'rx-bytes': 207466122n, 'rx-packets': 4291n, 'rx-errs': 1n, 'rx-dropped': 2n, 'tx-bytes': 180224n, 'tx-packets': 2358n, 'tx-errs': 3n, 'tx-dropped': 4n },
    },
  ]);
});

test('an IPv4 label is its own interface, with the MAC of its device and no statistics', () => {
  const { src, asked } = source([packet('eth0'), v4('192.0.2.2', '255.255.255.0', 'eth0'), v4('192.0.2.9', '255.255.255.255', 'eth0:1')], {
    eth0: [2, 0, 0, 0, 0, 1],
  });
  const out = networkInterfaces(src);
  assert.deepEqual(out[1], { name: 'eth0:1', 'hardware-address': '02:00:00:00:00:01', 'ip-addresses': [{ 'ip-address': '192.0.2.9', 'ip-address-type': 'ipv4', prefix: 32n }] });
  assert.deepEqual(asked, ['eth0', 'eth0:1']);
});

test('a failed SIOCGIFHWADDR is retried on the next entry of that interface and leaves the member out', () => {
  const { src, asked, sockets } = source([packet('tun0'), v4('10.0.0.1', '255.255.255.255', 'tun0'), v6('fd000000000000000000000000000001', 128, 'tun0')], {});
  assert.deepEqual(networkInterfaces(src).map((i) => Object.keys(i)), [['name', 'ip-addresses']]);
  assert.deepEqual(asked, ['tun0', 'tun0', 'tun0']);
  assert.equal(sockets(), 1);
});

test('no netmask gives prefix 0; unreadable /proc/net/dev or a short line gives no statistics', () => {
  const { src } = source([{ name: 'short', family: AF_INET, addr: Uint8Array.of(10, 0, 0, 1) }], {}, PROC_NET_DEV);
  assert.deepEqual(networkInterfaces(src), [
    {
      name: 'short',
      'ip-addresses': [{ 'ip-address': '10.0.0.1', 'ip-address-type': 'ipv4', prefix: 0n }],
      statistics: { 'rx-bytes': 5n, 'rx-packets': 6n, 'rx-errs': 7n, 'rx-dropped': 8n, 'tx-bytes': 9n, 'tx-packets': 10n, 'tx-errs': 11n, 'tx-dropped': 12n },
    },
  ]);
  const none = source([v4('10.0.0.1', '255.0.0.0', 'eth9')], {}, undefined);
  assert.deepEqual(Object.keys(networkInterfaces(none.src)[0]), ['name', 'ip-addresses']);
  assert.equal(parseProcNetDev(PROC_NET_DEV).has('short'), true);
  assert.deepEqual([...parseProcNetDev(PROC_NET_DEV).keys()], ['lo', 'eth0', 'ifb0', 'short']);
});

test('exclude-interfaces: matching interfaces are left out whole, never asked for a MAC, the rest unchanged', () => {
  const entries = [packet('lo'), packet('docker0'), packet('veth1a2b'), packet('br-5f3c'), packet('eth0'), v4('127.0.0.1', '255.0.0.0', 'lo'),
    v4('172.17.0.1', '255.255.0.0', 'docker0'), v6('fe8000000000000000fc00fffe000001', 64, 'veth1a2b'), v4('192.0.2.2', '255.255.255.0', 'eth0'),
    v4('172.18.0.1', '255.255.0.0', 'br-5f3c')];
  const hw = { lo: [0, 0, 0, 0, 0, 0], docker0: [2, 0x42, 0, 0, 0, 1], veth1a2b: [2, 0, 0, 0, 0, 2], 'br-5f3c': [2, 0x42, 0, 0, 0, 3], eth0: [2, 0xfc, 0, 0, 0, 1] };
  const all = networkInterfaces(source(entries, hw).src);
  const filtered = source(entries, hw);
  const out = networkInterfaces(filtered.src, new GlobList(['veth*', 'docker*', 'br-*']));
  assert.deepEqual(out, all.filter((i) => i.name === 'lo' || i.name === 'eth0'));
  assert.deepEqual(filtered.asked, ['lo', 'eth0']);
  assert.deepEqual(networkInterfaces(source(entries, hw).src, new GlobList([])), all);
});

test('qemu-ga error texts: getifaddrs and the helper socket', () => {
  const fail = (errno: number) => Object.assign(new Error('x'), { errno });
  const a: NetSource = { ifaddrs: () => { throw fail(24); }, openHwAddr: () => { throw fail(0); }, procNetDev: () => undefined };
  assert.throws(() => networkInterfaces(a), (e: unknown) => e instanceof QgaError && e.desc === 'getifaddrs failed: Too many open files');
  const b: NetSource = { ifaddrs: () => [packet('lo')], openHwAddr: () => { throw fail(97); }, procNetDev: () => undefined };
  assert.throws(() => networkInterfaces(b), (e: unknown) => e instanceof QgaError && e.desc === 'failed to create socket: Address family not supported by protocol');
});

test('routes: kernel-order IPv4 words, C-int widening of IPv6 fields, unparsable lines skipped', () => {
  const routes = parseRoutes(
    'Iface\tDestination\tGateway\n' + 'eth0\t0100A8C0\t0102A8C0\t0003\t1\t2\t-5\t00FFFFFF\t1500\t3\t4\n' + 'bad\tzz\n',
    '00000000000000000000000000000000 00 00000000000000000000000000000000 00 00000000000000000000000000000000 ffffffff 00000001 00000000 00200200       lo\n' +
      '0000 40 00000000000000000000000000000000 00 00000000000000000000000000000000 00000100 00000001 00000000 00000001 eth0\n',
  );
  assert.deepEqual(routes, [
    { iface: 'eth0', destination: '192.168.0.1', metric: -5n, gateway: '192.168.2.1', mask: '255.255.255.0', irtt: 4n, flags: 3n, refcnt: 1n, use: 2n, window: 3n, mtu: 1500n, version: 4n },
    { iface: 'lo', destination: '::', metric: -1n, version: 6n, flags: 2097664n, refcnt: 1n, use: 0n, desprefixlen: '0', source: '::', srcprefixlen: '0', nexthop: '::' },
  ]);
});

test('live getifaddrs(): every interface of /sys/class/net appears, loopback first with 127.0.0.1', () => {
  const entries = getIfAddrs();
  const names = new Set(entries.map((e) => e.name.replace(/:.*/, '')));
  assert.ok(names.has('lo'));
  const lo4 = entries.find((e) => e.name === 'lo' && e.family === AF_INET);
  assert.deepEqual(lo4?.addr && Array.from(lo4.addr), [127, 0, 0, 1]);
});

test('/proc/net/dev: the direct read of the counters agrees with the sscanf() format', () => {
  const field = fc.oneof(
    { weight: 10, arbitrary: fc.bigInt({ min: 0n, max: 10n ** 19n }).map(String) },
    { weight: 1, arbitrary: fc.constantFrom('', '-1', '+2', 'x', '12a', '\xa0', '99999999999999999999') },
  );
  const sep = fc.oneof({ weight: 10, arbitrary: fc.constant(' ') }, { weight: 1, arbitrary: fc.constantFrom('  ', '\t', '\n', '', '\xa0') });
  const rest = fc.array(fc.tuple(sep, field), { minLength: 10, maxLength: 20 }).map((xs) => xs.map(([s, f]) => s + f).join('') + '\n');
  fc.assert(
    fc.property(rest, (r) => {
      assert.deepEqual(netDevCounters(r, true), netDevCounters(r, false), JSON.stringify(r));
    }),
    { numRuns: 20000 },
  );
});

test('names are bytes: matched against /proc/net/dev byte for byte, printed as qemu-ga prints them', () => {
  const name = 'wl\xc3\xa4n\xff'; // "wlän" in UTF-8, then a byte that is not UTF-8
  const dev = `  ${name}: 1 2 3 4 0 0 0 0 5 6 7 8 0 0 0 0\n`;
  const { src, asked } = source([{ name, family: AF_INET, addr: Uint8Array.of(10, 0, 0, 1), netmask: Uint8Array.of(255, 0, 0, 0) }], {}, dev);
  const [i] = networkInterfaces(src);
  assert.equal(i.name, 'wlän\ufffd');
  assert.deepEqual(i.statistics, { 'rx-bytes': 1n, 'rx-packets': 2n, 'rx-errs': 3n, 'rx-dropped': 4n, 'tx-bytes': 5n, 'tx-packets': 6n, 'tx-errs': 7n, 'tx-dropped': 8n });
  assert.deepEqual(asked, [name]);
});
