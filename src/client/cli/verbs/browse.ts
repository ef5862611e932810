// Looking around the guest's files: ls and stat, through qga-ts's file extensions
// (__io.qga-ts_guest-dir-list, __io.qga-ts_guest-file-stat). qemu-ga has neither; against it
// these verbs say so in words.

import { QgaCommandError } from '../../errors.ts';
import { formatJson, formatNanos, formatSize, formatTable } from '../../format.ts';
import { UsageError, type Ctx, type Verb } from '../verb.ts';
import type { __io_qga_ts_GuestDirEntry as DirEntry, __io_qga_ts_GuestFileStat as FileStat } from '../../../generated/qapi-client.ts';

const LIST = '__io.qga-ts_guest-dir-list';
const STAT = '__io.qga-ts_guest-file-stat';
/** At most this many entries are gathered for one ls (100 pages of the default size). */
export const LS_MAX_ENTRIES = 100_000;

/** The call, with "this agent lacks the extension" in words instead of CommandNotFound. */
async function fetchExtension<K extends typeof LIST | typeof STAT>(ctx: Ctx, command: K, args: object) {
  try {
    return await ctx.fetch(command, args);
  } catch (e) {
    if (e instanceof QgaCommandError && e.class === 'CommandNotFound' && /has not been found/.test(e.desc)) {
      throw new QgaCommandError(e.class, `this agent has no ${command} (a qga-ts extension; qemu-ga does not list or stat files)`, command);
    }
    throw e;
  }
}

const TYPE_CHAR: Record<string, string> = { file: '-', directory: 'd', symlink: 'l', 'char-device': 'c', 'block-device': 'b', fifo: 'p', socket: 's', unknown: '?' };

/** ls -l's mode column: type, then rwx triplets with s/S and t/T. */
export function modeString(st: { type: string; mode: number | bigint }): string {
  const m = Number(st.mode);
  let s = TYPE_CHAR[st.type] ?? '?';
  const special = [0o4000, 0o2000, 0o1000];
  for (let i = 0; i < 3; i++) {
    const bits = (m >> (6 - 3 * i)) & 7;
    s += bits & 4 ? 'r' : '-';
    s += bits & 2 ? 'w' : '-';
    const x = (bits & 1) !== 0;
    if (m & special[i]!) s += i === 2 ? (x ? 't' : 'T') : x ? 's' : 'S';
    else s += x ? 'x' : '-';
  }
  return s;
}

function absolutePath(p: string): string {
  if (!p.startsWith('/')) throw new UsageError(`'${p}' is not an absolute path (guest paths start with /)`);
  return p;
}

export const stat: Verb = {
  name: 'stat',
  synopsis: '[-L] GUEST_PATH',
  summary: 'describe a guest file: type, size, mode, owner, times (qga-ts agents)',
  details: 'A final symbolic link is described itself, unless -L. With --json: the extension\'s reply as it is.',
  options: {
    dereference: { type: 'boolean', short: 'L', help: 'describe what a final symbolic link points to' },
  },
  operands: [1, 1],
  async run(ctx, values, [path]) {
    const args = { path: absolutePath(path!), ...(values.dereference === true ? { 'follow-symlinks': true } : {}) };
    const { raw, value } = await fetchExtension(ctx, STAT, args);
    if (ctx.json) return ctx.printJson(raw), 0;
    const st = value as FileStat;
    const link = st['link-target'] === undefined ? '' : ` -> ${st['link-target']}`;
    ctx.out(
      [
        `  File: ${path}${link}`,
        `  Type: ${st.type}`,
        `  Size: ${st.size} (${formatSize(st.size)})`,
        `  Mode: ${Number(st.mode).toString(8).padStart(4, '0')} (${modeString(st)})`,
        ` Owner: uid ${st.uid}, gid ${st.gid}`,
        ` Links: ${st.nlink}`,
        `Access: ${formatNanos(BigInt(st['atime-ns']))}`,
        `Modify: ${formatNanos(BigInt(st['mtime-ns']))}`,
        `Change: ${formatNanos(BigInt(st['ctime-ns']))}`,
      ].join('\n'),
    );
    return 0;
  },
};

export const ls: Verb = {
  name: 'ls',
  synopsis: '[-l] [-a] GUEST_DIRECTORY',
  summary: 'list a guest directory, sorted by name (qga-ts agents)',
  details:
    `The listing is fetched a page at a time (--page entries per request, each reply under 1 MiB), at most ${LS_MAX_ENTRIES} entries. ` +
    'With --json: the entries of every page, in the directory\'s own order.',
  options: {
    long: { type: 'boolean', short: 'l', help: 'mode, links, owner, size, modification time, name' },
    all: { type: 'boolean', short: 'a', help: 'include names that start with a dot' },
    page: { type: 'string', value: 'N', help: 'entries per request, 1 to 100000 (default 1000)' },
  },
  operands: [1, 1],
  async run(ctx, values, [path]) {
    const page = values.page === undefined ? 1000 : Number(values.page);
    if (!Number.isSafeInteger(page) || page < 1 || page > 100000) throw new UsageError(`invalid --page '${values.page}' (1 to 100000)`);
    const dir = absolutePath(path!);
    const raws: unknown[] = [];
    const entries: DirEntry[] = [];
    for (let offset: bigint | undefined = 0n; offset !== undefined; ) {
      if (entries.length >= LS_MAX_ENTRIES) {
        ctx.err(`ls: stopped after ${entries.length} entries; the directory has more`);
        break;
      }
      const { raw, value } = await fetchExtension(ctx, LIST, { path: dir, offset, 'max-entries': BigInt(page) });
      const got = value as { entries: DirEntry[]; 'next-offset'?: number | bigint };
      raws.push(...((raw as Map<string, unknown>).get('entries') as unknown[]));
      entries.push(...got.entries);
      offset = got['next-offset'] === undefined ? undefined : BigInt(got['next-offset']);
    }
    if (ctx.json) return ctx.out(formatJson(raws)), 0;
    const shown = entries.filter((e) => values.all === true || !e.name.startsWith('.')).sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
    if (values.long !== true) {
      if (shown.length > 0) ctx.out(shown.map((e) => e.name).join('\n'));
      return 0;
    }
    const rows = shown.map((e) => {
      const st = e.stat;
      if (st === undefined) return ['?', '?', '?', '?', '?', '?', e.name];
      const name = st['link-target'] === undefined ? e.name : `${e.name} -> ${st['link-target']}`;
      return [modeString(st), String(st.nlink), String(st.uid), String(st.gid), String(st.size), formatNanos(BigInt(st['mtime-ns'])).slice(0, 19).replace('T', ' '), name];
    });
    ctx.out(formatTable(['MODE', 'LINKS', 'UID', 'GID', 'SIZE', 'MODIFIED (UTC)', 'NAME'], rows));
    return 0;
  },
};
