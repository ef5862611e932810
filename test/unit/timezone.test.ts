// localTimezone(): GLib 2.74's g_time_zone_new_local() + find_interval(UNIVERSAL, now), as
// used by qemu-ga's guest-get-timezone.
//
// Where the expected values come from:
// - NOV (2026-11-25T08:54:18Z) values of the "observed" table were read from the real
//   qemu-ga 7.2.22 (Debian bookworm, GLib 2.74.6, tzdata 2025b) with TZ set in its
//   environment, at that very instant.
// - Values at other instants, and for the crafted TZif files and /etc/localtime layouts,
//   were read from that same GLib 2.74.6 (g_time_zone_new_local through ctypes), and the
//   /etc/localtime layouts also from qemu-ga itself in a private mount namespace.

import { strict as assert } from 'node:assert';
import { existsSync, mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, test } from 'node:test';

import { localTimezone } from '../../src/platform/linux/timezone.ts';

const NOV = 1795596858; // 2026-11-25T08:54:18Z (northern winter, southern summer)
const JUL = 1784116800; // 2026-07-15T12:00:00Z (northern summer, southern winter)
const at = (iso: string): number => Date.parse(iso) / 1000;

const haveTzdata = existsSync('/usr/share/zoneinfo/America/New_York');
const noTzdata = haveTzdata ? false : 'tzdata not installed (/usr/share/zoneinfo/America/New_York missing)';

// An empty directory as root: no /etc/localtime, no zoneinfo.
const scratch = mkdtempSync(join(tmpdir(), 'qga-tz-'));
after(() => rmSync(scratch, { recursive: true, force: true }));
const emptyRoot = join(scratch, 'empty-root');
mkdirSync(emptyRoot);

function tz(TZ: string | undefined, now: number, root = '/'): [string | undefined, number] {
  const r = localTimezone(TZ === undefined ? {} : { TZ }, now, root);
  return [r.zone, r.offset];
}

describe('zoneinfo names, as qemu-ga 7.2 reports them', { skip: noTzdata }, () => {
  const table: [string, [string, number], [string, number]][] = [
    // TZ, at NOV (observed from qemu-ga), at JUL
    ['America/New_York', ['EST', -18000], ['EDT', -14400]],
    [':America/New_York', ['EST', -18000], ['EDT', -14400]],
    ['Asia/Kolkata', ['IST', 19800], ['IST', 19800]],
    ['Europe/London', ['GMT', 0], ['BST', 3600]],
    ['Australia/Lord_Howe', ['+11', 39600], ['+1030', 37800]],
    ['EST5EDT', ['EST', -18000], ['EDT', -14400]], // POSIX-looking, but only the file matches
    ['GMT', ['GMT', 0], ['GMT', 0]],
    ['Europe/Dublin', ['GMT', 0], ['IST', 3600]],
  ];
  for (const [name, nov, jul] of table) {
    test(`TZ=${name}`, () => {
      assert.deepEqual(tz(name, NOV), nov);
      assert.deepEqual(tz(name, JUL), jul);
    });
  }

  test('an absolute path to a zoneinfo file', () => {
    assert.deepEqual(tz('/usr/share/zoneinfo/Asia/Tokyo', NOV), ['JST', 32400]);
    assert.deepEqual(tz(':/usr/share/zoneinfo/Asia/Tokyo', NOV), ['JST', 32400]);
  });

  test('the footer rule after the last explicit transition (GLib quirk: Dublin is GMT+2)', () => {
    // Europe/Dublin's footer is "IST-1GMT0,M10.5.0,M3.5.0/1": GLib takes the DST offset 0
    // as "not given" and uses std - 1 h, i.e. UTC+2, in winters after 2037.
    assert.deepEqual(tz('Europe/Dublin', at('2100-01-01T00:00:00Z')), ['GMT', 7200]);
    assert.deepEqual(tz('Europe/Dublin', 4118000000), ['IST', 3600]);
  });

  test('DST boundaries of America/New_York to the second', () => {
    assert.deepEqual(tz('America/New_York', at('2026-03-08T06:59:59Z')), ['EST', -18000]);
    assert.deepEqual(tz('America/New_York', at('2026-03-08T07:00:00Z')), ['EDT', -14400]);
    assert.deepEqual(tz('America/New_York', at('2026-11-01T05:59:59Z')), ['EDT', -14400]);
    assert.deepEqual(tz('America/New_York', at('2026-11-01T06:00:00Z')), ['EST', -18000]);
  });

  test('TZDIR is honoured', () => {
    const r = localTimezone({ TZ: 'Tokyo', TZDIR: '/usr/share/zoneinfo/Asia' }, NOV);
    assert.deepEqual(r, { zone: 'JST', offset: 32400 });
    const bad = localTimezone({ TZ: 'Asia/Tokyo', TZDIR: '/nonexistent' }, NOV);
    assert.deepEqual(bad, { zone: 'UTC', offset: 0 });
  });
});

describe('fallbacks to UTC (observed from qemu-ga)', () => {
  test('empty TZ', () => assert.deepEqual(tz('', NOV), ['UTC', 0]));
  test('TZ=":"', () => assert.deepEqual(tz(':', NOV), ['UTC', 0]));
  test('nonexistent identifier', () => assert.deepEqual(tz('bogus/zone', NOV), ['UTC', 0]));
  test('a directory', () => assert.deepEqual(tz('/', NOV), ['UTC', 0]));
  test('TZ unset and no /etc/localtime', () => assert.deepEqual(tz(undefined, NOV, emptyRoot), ['UTC', 0]));
  test('lowercase utc is neither a constant nor a rule', () => {
    assert.deepEqual(tz('utc', JUL, emptyRoot), ['UTC', 0]);
  });
});

describe('constant offsets: the abbreviation is TZ itself (observed from qemu-ga)', () => {
  const table: [string, string, number][] = [
    ['UTC', 'UTC', 0],
    ['Z', 'Z', 0],
    ['+05:30', '+05:30', 19800],
    ['-03', '-03', -10800],
    ['5', '5', 18000], // unsigned digits mean east of UTC here
    ['+24:01', '+24:01', 86460],
    ['-00', '-00', 0], // and not -0
  ];
  for (const [TZ, zone, offset] of table) {
    test(`TZ=${TZ}`, () => {
      assert.deepEqual(tz(TZ, NOV, emptyRoot), [zone, offset]);
      assert.deepEqual(tz(TZ, JUL, emptyRoot), [zone, offset]);
    });
  }
  test('25 hours is not an offset', () => assert.deepEqual(tz('25', JUL, emptyRoot), ['UTC', 0]));
});

describe('POSIX TZ strings', () => {
  // emptyRoot: no zoneinfo files, so only the rule parser can answer
  const r = (TZ: string, now: number) => tz(TZ, now, emptyRoot);

  test('observed from qemu-ga', () => {
    assert.deepEqual(r('EST5EDT,M3.2.0,M11.1.0', NOV), ['EST', -18000]);
    assert.deepEqual(r('<+0530>-5:30', NOV), ['+0530', 19800]);
    assert.deepEqual(r('EST5', NOV), ['EST', -18000]);
    assert.deepEqual(r('UTC0', NOV), ['UTC', 0]);
  });

  test('M.w.d rules switch at 02:00 local time by default', () => {
    const us = 'EST5EDT,M3.2.0,M11.1.0';
    assert.deepEqual(r(us, JUL), ['EDT', -14400]);
    assert.deepEqual(r(us, at('2026-03-08T06:59:59Z')), ['EST', -18000]);
    assert.deepEqual(r(us, at('2026-03-08T07:00:00Z')), ['EDT', -14400]);
    assert.deepEqual(r(us, at('2026-11-01T05:59:59Z')), ['EDT', -14400]);
    assert.deepEqual(r(us, at('2026-11-01T06:00:00Z')), ['EST', -18000]);
  });

  test('a DST name without rules is not a rule on Unix', () => {
    assert.deepEqual(r('EST5EDT', JUL), ['UTC', 0]);
    assert.deepEqual(r('XXX3YYY', JUL), ['UTC', 0]);
  });

  test('southern hemisphere and negative DST', () => {
    const au = 'AEST-10AEDT,M10.1.0,M4.1.0/3';
    assert.deepEqual(r(au, JUL), ['AEST', 36000]);
    assert.deepEqual(r(au, NOV), ['AEDT', 39600]);
    const ie = 'IST-1GMT0,M10.5.0,M3.5.0/1';
    assert.deepEqual(r(ie, NOV), ['GMT', 7200]);
    assert.deepEqual(r(ie, JUL), ['IST', 3600]);
  });

  test('Jn and n days are mapped through a non-leap year (GLib quirk)', () => {
    // J59 is 28 February in POSIX, 1 March in GLib
    assert.deepEqual(r('XXX3YYY,J59,J300', at('2027-02-28T12:00:00Z')), ['XXX', -10800]);
    // J60 is 1 March in POSIX, 2 March in GLib
    assert.deepEqual(r('XXX3YYY,J60,J300', at('2027-03-01T12:00:00Z')), ['XXX', -10800]);
    assert.deepEqual(r('XXX3YYY,J60,J300', at('2027-03-02T12:00:00Z')), ['YYY', -7200]);
    // zero-based 59 is 29 February in a leap year in POSIX, 1 March in GLib
    assert.deepEqual(r('XXX3YYY,59,300', at('2028-02-29T12:00:00Z')), ['XXX', -10800]);
    assert.deepEqual(r('XXX3YYY,59,300', at('2028-03-01T12:00:00Z')), ['YYY', -7200]);
    assert.deepEqual(r('XXX3YYY,J365,J1', at('2027-01-01T12:00:00Z')), ['XXX', -10800]);
  });

  test('transition times: hours up to 167, negative, default 02:00', () => {
    assert.deepEqual(r('XXX3YYY,M3.2.0/26,M11.1.0', at('2026-03-08T12:00:00Z')), ['XXX', -10800]);
    assert.deepEqual(r('XXX3YYY,M3.2.0/26,M11.1.0', at('2026-03-09T12:00:00Z')), ['YYY', -7200]);
    assert.deepEqual(r('XXX3YYY,M3.2.0/168,M11.1.0', JUL), ['UTC', 0]);
    assert.deepEqual(r('<-03>3<-02>,M3.5.0/-2,M10.5.0/-1', JUL), ['-02', -7200]);
    assert.deepEqual(r('XXX3YYY,M3.5.0/-1,M10.5.0/-1', at('2026-03-29T01:30:00Z')), ['XXX', -10800]);
  });

  test('explicit and odd DST offsets', () => {
    assert.deepEqual(r('XXX3YYY2:30,M3.2.0,M11.1.0', JUL), ['YYY', -9000]);
    // "99" fails as an offset, but GLib keeps the hours it had already read
    assert.deepEqual(r('XXX3YYY99,M3.2.0,M11.1.0', JUL), ['YYY', -356400]);
  });

  test('names: at least 3 characters, quoted, cut to 32', () => {
    assert.deepEqual(r('XX0', JUL), ['UTC', 0]);
    assert.deepEqual(r('<ABCDEFGHIJKLMNOPQRSTUVWXYZABCDEFGHIJKLMNOP>3', JUL), [
      'ABCDEFGHIJKLMNOPQRSTUVWXYZABCDEF',
      -10800,
    ]);
  });

  test('incomplete rules fail, trailing fields are ignored', () => {
    assert.deepEqual(r('XXX3YYY,M3.2.0', JUL), ['UTC', 0]);
    assert.deepEqual(r('XXX3YYY,M3.2.0,M11.1.0,junk', JUL), ['YYY', -7200]);
  });

  test('a fifth week that does not exist means the last one', () => {
    // 1 Feb 2026 is a Sunday: the "5th" Sunday of February 2026 is the 22nd
    assert.deepEqual(r('XXX3YYY,M2.5.0,M10.5.0', at('2026-02-25T12:00:00Z')), ['YYY', -7200]);
  });

  test('start and end in the same month', () => {
    assert.deepEqual(r('XXX3YYY,M3.5.0,M3.1.0', at('2026-03-20T12:00:00Z')), ['XXX', -10800]);
    assert.deepEqual(r('XXX3YYY,M3.5.0,M3.1.0', JUL), ['XXX', -10800]);
  });

  test('now is truncated to whole seconds', () => {
    const us = 'EST5EDT,M3.2.0,M11.1.0';
    assert.deepEqual(r(us, at('2026-03-08T07:00:00Z') - 0.5), ['EST', -18000]);
  });
});

// ---------------------------------------------------------------------------------------
// Crafted TZif files

interface TT {
  off: number;
  dst: boolean;
  abbr: string;
}
interface TzifSpec {
  version: string;
  types: TT[];
  trans: [number, number][];
  footer?: string;
  v1?: { types: TT[]; trans: [number, number][] };
}

function tzifBlock(types: TT[], trans: [number, number][], wide: boolean, version: string): Buffer {
  let chars = '';
  const idx: number[] = [];
  for (const t of types) {
    idx.push(chars.length);
    chars += t.abbr + '\0';
  }
  const head = Buffer.alloc(44);
  head.write('TZif', 0, 'latin1');
  head[4] = version.charCodeAt(0);
  head.writeUInt32BE(trans.length, 32);
  head.writeUInt32BE(types.length, 36);
  head.writeUInt32BE(chars.length, 40);
  const times = Buffer.alloc(trans.length * (wide ? 8 : 4));
  trans.forEach(([t], i) =>
    wide ? times.writeBigInt64BE(BigInt(t), 8 * i) : times.writeInt32BE(t, 4 * i),
  );
  const tt = Buffer.alloc(6 * types.length);
  types.forEach((t, i) => {
    tt.writeInt32BE(t.off, 6 * i);
    tt[6 * i + 4] = t.dst ? 1 : 0;
    tt[6 * i + 5] = idx[i];
  });
  return Buffer.concat([head, times, Buffer.from(trans.map(([, i]) => i)), tt, Buffer.from(chars, 'latin1')]);
}

function tzif(s: TzifSpec): Buffer {
  const v1 = s.v1 ?? { types: s.types, trans: s.trans.filter(([t]) => t >= -(2 ** 31) && t < 2 ** 31) };
  const first = tzifBlock(v1.types, v1.trans, false, s.version);
  if (s.version === '\0') return first;
  return Buffer.concat([
    first,
    tzifBlock(s.types, s.trans, true, s.version),
    Buffer.from('\n' + (s.footer ?? '') + '\n', 'latin1'),
  ]);
}

const LMT: TT = { off: 1000, dst: false, abbr: 'LMT' };
const AAA: TT = { off: 3600, dst: false, abbr: 'AAA' };
const BBB: TT = { off: 7200, dst: true, abbr: 'BBB' };

const crafted: Record<string, Buffer> = {
  v2footer: tzif({
    version: '2',
    types: [LMT, AAA, BBB],
    trans: [[1000000000, 1], [1500000000, 2], [1600000000, 1]],
    footer: 'AAA-1BBB,M3.5.0,M10.5.0/3',
  }),
  v3footer: tzif({ version: '3', types: [LMT, AAA, BBB], trans: [[1000000000, 1]], footer: '<-03>3<-02>,M3.5.0/-2,M10.5.0/-1' }),
  v1only: tzif({ version: '\0', types: [LMT, AAA, BBB], trans: [[1000000000, 1], [1500000000, 2]] }),
  v2nofooter: tzif({ version: '2', types: [LMT, AAA, BBB], trans: [[1000000000, 1], [1500000000, 2]], footer: '' }),
  v2badfooter: tzif({ version: '2', types: [LMT, AAA, BBB], trans: [[1000000000, 1]], footer: 'garbage' }),
  v2dstfirst: tzif({ version: '2', types: [BBB, AAA], trans: [], footer: '' }),
  v2differentv1: tzif({
    version: '2',
    types: [LMT, AAA],
    trans: [[1000000000, 1]],
    footer: '',
    v1: { types: [{ off: 0, dst: false, abbr: 'ONE' }], trans: [] },
  }),
  v2big: tzif({ version: '2', types: [LMT, AAA, BBB], trans: [[-(2 ** 59), 0], [3000000000, 1], [5000000000, 2]], footer: '' }),
  v2notransfooter: tzif({ version: '2', types: [LMT], trans: [], footer: 'AAA-1BBB,M3.5.0,M10.5.0/3' }),
  truncated: Buffer.from('TZif2\0\0\0'),
  empty: Buffer.alloc(0),
  nottzif: Buffer.from('hello world, this is not a TZif file at all.....\n'),
};
const craftedDir = join(scratch, 'crafted');
mkdirSync(craftedDir);
for (const [name, data] of Object.entries(crafted)) writeFileSync(join(craftedDir, name), data);

describe('TZif files (values from GLib 2.74.6)', () => {
  const f = (name: string, now: number) => tz(join(craftedDir, name), now);

  test('v2: explicit transitions, then the footer rule', () => {
    assert.deepEqual(f('v2footer', 999999999), ['LMT', 1000]);
    assert.deepEqual(f('v2footer', 1000000000), ['AAA', 3600]);
    assert.deepEqual(f('v2footer', 1499999999), ['AAA', 3600]);
    assert.deepEqual(f('v2footer', 1500000000), ['BBB', 7200]);
    assert.deepEqual(f('v2footer', 1600000000), ['AAA', 3600]);
    assert.deepEqual(f('v2footer', JUL), ['BBB', 7200]);
    assert.deepEqual(f('v2footer', NOV), ['AAA', 3600]);
    assert.deepEqual(f('v2footer', 5000000000), ['BBB', 7200]);
  });

  test('v3 footer with negative and quoted parts', () => {
    assert.deepEqual(f('v3footer', 1000000000), ['AAA', 3600]);
    assert.deepEqual(f('v3footer', 1499999999), ['-02', -7200]);
    assert.deepEqual(f('v3footer', NOV), ['-03', -10800]);
  });

  test('v1 only: 32-bit data, no footer, last type forever', () => {
    assert.deepEqual(f('v1only', 0), ['LMT', 1000]);
    assert.deepEqual(f('v1only', 1000000000), ['AAA', 3600]);
    assert.deepEqual(f('v1only', 5000000000), ['BBB', 7200]);
  });

  test('v2 with an empty footer keeps the last type', () => {
    assert.deepEqual(f('v2nofooter', 1600000000), ['BBB', 7200]);
    assert.deepEqual(f('v2nofooter', NOV), ['BBB', 7200]);
  });

  test('the 64-bit block is used, not the v1 block', () => {
    assert.deepEqual(f('v2differentv1', 0), ['LMT', 1000]);
    assert.deepEqual(f('v2differentv1', NOV), ['AAA', 3600]);
  });

  test('64-bit transition times', () => {
    assert.deepEqual(f('v2big', NOV), ['LMT', 1000]);
    assert.deepEqual(f('v2big', 3000000000), ['AAA', 3600]);
    assert.deepEqual(f('v2big', 4999999999), ['AAA', 3600]);
    assert.deepEqual(f('v2big', 5000000000), ['BBB', 7200]);
  });

  test('before the first transition: the first non-DST type', () => {
    assert.deepEqual(f('v2dstfirst', NOV), ['AAA', 3600]);
  });

  test('no explicit transitions: the footer rule applies from 1916', () => {
    assert.deepEqual(f('v2notransfooter', 0), ['AAA', 3600]);
    assert.deepEqual(f('v2notransfooter', JUL), ['BBB', 7200]);
    assert.deepEqual(f('v2notransfooter', NOV), ['AAA', 3600]);
  });

  test('unusable files give UTC', () => {
    // NB: qemu-ga 7.2 itself never answers for these: GLib logs a critical while holding its
    // time-zone lock and qemu-ga's log handler re-enters GLib's time-zone code (deadlock).
    for (const name of ['v2badfooter', 'truncated', 'empty', 'nottzif']) {
      assert.deepEqual(f(name, NOV), ['UTC', 0], name);
    }
  });
});

describe('TZ unset: /etc/localtime (values from qemu-ga 7.2 in a mount namespace)', () => {
  // Each root gets usr/share/zoneinfo/Test/Zone (v2footer: AAA at NOV) and a link Test/Link -> Zone.
  let n = 0;
  function makeRoot(setup: (etc: string) => void): string {
    const root = join(scratch, `root${n++}`);
    const zi = join(root, 'usr/share/zoneinfo/Test');
    mkdirSync(zi, { recursive: true });
    writeFileSync(join(zi, 'Zone'), crafted.v2footer);
    symlinkSync('Zone', join(zi, 'Link'));
    mkdirSync(join(root, 'etc'));
    setup(join(root, 'etc'));
    return root;
  }
  const AAA_NOV: [string, number] = ['AAA', 3600];
  const UTC: [string, number] = ['UTC', 0];

  test('absolute symlink into zoneinfo', () => {
    const root = makeRoot((etc) => symlinkSync('/usr/share/zoneinfo/Test/Zone', join(etc, 'localtime')));
    assert.deepEqual(tz(undefined, NOV, root), AAA_NOV);
  });

  test('relative symlink', () => {
    const root = makeRoot((etc) => symlinkSync('../usr/share/zoneinfo/Test/Zone', join(etc, 'localtime')));
    assert.deepEqual(tz(undefined, NOV, root), AAA_NOV);
  });

  test('regular file: used only if /etc/timezone (or /var/db/zoneinfo) exists', () => {
    const withName = makeRoot((etc) => {
      writeFileSync(join(etc, 'localtime'), crafted.v2footer);
      writeFileSync(join(etc, 'timezone'), 'Test/Zone\n');
    });
    assert.deepEqual(tz(undefined, NOV, withName), AAA_NOV);
    const withoutName = makeRoot((etc) => writeFileSync(join(etc, 'localtime'), crafted.v2footer));
    assert.deepEqual(tz(undefined, NOV, withoutName), UTC);
    const dirName = makeRoot((etc) => {
      writeFileSync(join(etc, 'localtime'), crafted.v2footer);
      mkdirSync(join(etc, 'timezone'));
    });
    assert.deepEqual(tz(undefined, NOV, dirName), UTC);
  });

  test('symlink to a symlink: again only with /etc/timezone', () => {
    const bare = makeRoot((etc) => symlinkSync('/usr/share/zoneinfo/Test/Link', join(etc, 'localtime')));
    assert.deepEqual(tz(undefined, NOV, bare), UTC);
    const named = makeRoot((etc) => {
      symlinkSync('/usr/share/zoneinfo/Test/Link', join(etc, 'localtime'));
      writeFileSync(join(etc, 'timezone'), 'Test/Link\n');
    });
    assert.deepEqual(tz(undefined, NOV, named), AAA_NOV);
  });

  test('dangling symlink, missing file, directory, non-TZif target', () => {
    const dangling = makeRoot((etc) => {
      symlinkSync('/usr/share/zoneinfo/Nowhere', join(etc, 'localtime'));
      writeFileSync(join(etc, 'timezone'), 'x\n');
    });
    assert.deepEqual(tz(undefined, NOV, dangling), UTC);
    const missing = makeRoot((etc) => writeFileSync(join(etc, 'timezone'), 'Test/Zone\n'));
    assert.deepEqual(tz(undefined, NOV, missing), UTC);
    const dir = makeRoot((etc) => {
      mkdirSync(join(etc, 'localtime'));
      writeFileSync(join(etc, 'timezone'), 'Test/Zone\n');
    });
    assert.deepEqual(tz(undefined, NOV, dir), UTC);
    const junk = makeRoot((etc) => {
      writeFileSync(join(etc, 'hostname'), 'guest\n');
      symlinkSync('hostname', join(etc, 'localtime'));
    });
    assert.deepEqual(tz(undefined, NOV, junk), UTC);
  });

  test('TZ set overrides /etc/localtime', () => {
    const root = makeRoot((etc) => symlinkSync('/usr/share/zoneinfo/Test/Zone', join(etc, 'localtime')));
    assert.deepEqual(tz('', NOV, root), UTC);
    assert.deepEqual(tz('Test/Zone', NOV, root), AAA_NOV);
  });
});
