// Verbs that only read the guest's state: ping, info, fsinfo, ifconfig, osinfo, users, time, vcpus.

import { QgaCommandError } from '../../errors.ts';
import { formatNanos, formatSize, formatTable } from '../../format.ts';
import { yesNo, type Verb } from '../verb.ts';
import type {
  GuestAgentInfo,
  GuestFilesystemInfo,
  GuestLogicalProcessor,
  GuestNetworkInterface,
  GuestOSInfo,
  GuestTimezone,
  GuestUser,
} from '../../../generated/qapi-client.ts';

export const ping: Verb = {
  name: 'ping',
  synopsis: '',
  summary: 'check that the agent answers',
  operands: [0, 0],
  async run(ctx) {
    const { raw } = await ctx.fetch('guest-ping');
    if (ctx.json) ctx.printJson(raw);
    else ctx.out('ok');
    return 0;
  },
};

export const info: Verb = {
  name: 'info',
  synopsis: '',
  summary: "the agent's version and commands (guest-info)",
  operands: [0, 0],
  async run(ctx) {
    const { raw, value } = await ctx.fetch('guest-info');
    if (ctx.json) return ctx.printJson(raw), 0;
    const info = value as GuestAgentInfo;
    ctx.out(`version: ${info.version}`);
    const rows = [...info.supported_commands]
      .sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0))
      .map((c) => [c.name, yesNo(c.enabled), yesNo(c['success-response'])]);
    ctx.out(formatTable(['COMMAND', 'ENABLED', 'SUCCESS-RESPONSE'], rows));
    return 0;
  },
};

export const fsinfo: Verb = {
  name: 'fsinfo',
  aliases: ['df'],
  synopsis: '',
  summary: 'mounted filesystems, their sizes and disks (guest-get-fsinfo)',
  operands: [0, 0],
  async run(ctx) {
    const { raw, value } = await ctx.fetch('guest-get-fsinfo');
    if (ctx.json) return ctx.printJson(raw), 0;
    const rows = (value as GuestFilesystemInfo[]).map((fs) => {
      const total = fs['total-bytes'];
      const used = fs['used-bytes'];
      const pct = total !== undefined && used !== undefined && total > 0n ? `${Math.ceil((Number(used) * 100) / Number(total))}%` : '-';
      const disks = fs.disk.map((d) => [d['bus-type'], d.dev ?? d.serial].filter((x) => x !== undefined).join(':')).join(',');
      return [fs.name, fs.type, total === undefined ? '-' : formatSize(total), used === undefined ? '-' : formatSize(used), pct, fs.mountpoint, disks || '-'];
    });
    ctx.out(formatTable(['FILESYSTEM', 'TYPE', 'SIZE', 'USED', 'USE%', 'MOUNTED ON', 'DISKS'], rows));
    return 0;
  },
};

export const ifconfig: Verb = {
  name: 'ifconfig',
  synopsis: '',
  summary: 'network interfaces and addresses (guest-network-get-interfaces)',
  operands: [0, 0],
  async run(ctx) {
    const { raw, value } = await ctx.fetch('guest-network-get-interfaces');
    if (ctx.json) return ctx.printJson(raw), 0;
    const rows: string[][] = [];
    for (const i of value as GuestNetworkInterface[]) {
      const addrs = i['ip-addresses'] ?? [];
      const hw = i['hardware-address'] ?? '-';
      if (addrs.length === 0) rows.push([i.name, hw, '-', '-']);
      addrs.forEach((a, n) => rows.push([n === 0 ? i.name : '', n === 0 ? hw : '', a['ip-address-type'], `${a['ip-address']}/${a.prefix}`]));
    }
    ctx.out(formatTable(['INTERFACE', 'HWADDR', 'FAMILY', 'ADDRESS'], rows));
    return 0;
  },
};

export const osinfo: Verb = {
  name: 'osinfo',
  synopsis: '',
  summary: 'operating system and kernel (guest-get-osinfo)',
  operands: [0, 0],
  async run(ctx) {
    const { raw, value } = await ctx.fetch('guest-get-osinfo');
    if (ctx.json) return ctx.printJson(raw), 0;
    const entries = Object.entries(value as GuestOSInfo).filter(([, v]) => v !== undefined);
    const w = Math.max(0, ...entries.map(([k]) => k.length));
    ctx.out(entries.map(([k, v]) => `${`${k}:`.padEnd(w + 1)} ${String(v)}`).join('\n'));
    return 0;
  },
};

export const users: Verb = {
  name: 'users',
  synopsis: '',
  summary: 'logged-in users (guest-get-users)',
  operands: [0, 0],
  async run(ctx) {
    const { raw, value } = await ctx.fetch('guest-get-users');
    if (ctx.json) return ctx.printJson(raw), 0;
    const list = value as GuestUser[];
    if (list.length === 0) return ctx.out('nobody is logged in'), 0;
    const rows = list.map((u) => [u.user, u.domain ?? '-', new Date(u['login-time'] * 1000).toISOString()]);
    ctx.out(formatTable(['USER', 'DOMAIN', 'LOGIN TIME (UTC)'], rows));
    return 0;
  },
};

export const time: Verb = {
  name: 'time',
  synopsis: '',
  summary: "the guest's clock and its difference to this host's (guest-get-time)",
  details: 'With --json: the guest-get-time return value, nanoseconds since the epoch.',
  operands: [0, 0],
  async run(ctx) {
    const before = process.hrtime.bigint();
    const hostBefore = BigInt(Date.now()) * 1_000_000n;
    const { raw, value } = await ctx.fetch('guest-get-time');
    if (ctx.json) return ctx.printJson(raw), 0;
    const rtt = process.hrtime.bigint() - before;
    const guest = value as bigint;
    const host = hostBefore + rtt / 2n;
    const diff = Number(guest - host) / 1e9;
    ctx.out(`guest time: ${formatNanos(guest)} (${guest} ns)`);
    ctx.out(`host time:  ${formatNanos(host)}`);
    ctx.out(`difference: ${diff >= 0 ? '+' : ''}${diff.toFixed(3)} s (guest - host, round trip ${(Number(rtt) / 1e6).toFixed(1)} ms)`);
    try {
      const tz = (await (await ctx.client()).guestGetTimezone()) as GuestTimezone;
      const off = Number(tz.offset);
      const sign = off < 0 ? '-' : '+';
      const a = Math.abs(off);
      ctx.out(`time zone:  ${tz.zone ?? '?'} (UTC${sign}${String(Math.floor(a / 3600)).padStart(2, '0')}:${String(Math.floor((a % 3600) / 60)).padStart(2, '0')})`);
    } catch (e) {
      if (!(e instanceof QgaCommandError)) throw e;
    }
    return 0;
  },
};

export const vcpus: Verb = {
  name: 'vcpus',
  synopsis: '',
  summary: 'virtual CPUs (guest-get-vcpus)',
  operands: [0, 0],
  async run(ctx) {
    const { raw, value } = await ctx.fetch('guest-get-vcpus');
    if (ctx.json) return ctx.printJson(raw), 0;
    const rows = (value as GuestLogicalProcessor[]).map((v) => [String(v['logical-id']), yesNo(v.online), yesNo(v['can-offline'])]);
    ctx.out(formatTable(['LOGICAL-ID', 'ONLINE', 'CAN-OFFLINE'], rows));
    return 0;
  },
};
