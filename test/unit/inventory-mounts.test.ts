// The mount list (docs/compatibility.md §Commands), statvfs() within a time limit, and the size arithmetic of guest-get-fsinfo.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { decodeMntName, mountinfoFields, parseMountinfo, parseMounts } from '../../src/platform/linux/mounts.ts';
import { statvfsMany, stuckStatvfsCount, type Statvfs, type StatvfsImpl } from '../../src/platform/linux/statvfs.ts';
import { fsinfoEntry } from '../../src/commands/fs-info.ts';

const blockDev = (major: number, minor: number) => () => ({ isDirectory: false, isBlockDevice: true, rdevMajor: major, rdevMinor: minor });

test('mountinfo: block-device mounts in order, escapes decoded, first mount of a device only', () => {
  const text = [
    '22 1 0:21 / /proc rw - proc proc rw',
    '27 1 254:0 / / rw shared:1 - ext4 /dev/vda rw',
    '28 27 254:1 / /mnt/a\\040b\\134c\\\\d rw master:2 - ext4 /dev/vda1 rw',
    '29 27 254:0 /srv /srv rw - ext4 /dev/vda rw',
    '30 27 0:40 / /btr rw - btrfs /dev/sdz rw',
    '31 27 0:41 / /tmp rw - tmpfs tmpfs rw',
    'garbage',
    '32 27 8:1 / /no-dash rw',
    '33 27 8:2 / /last rw - xfs /dev/sdb2', // no character after the source: skipped, like qemu-ga
  ].join('\n');
  const opts = { statSource: blockDev(8, 16) };
  assert.deepEqual(parseMountinfo(text + '\n', opts), [
    { dirname: '/', dirnameBytes: '/', devtype: 'ext4', devmajor: 254, devminor: 0 },
    { dirname: '/mnt/a b\\c\\d', dirnameBytes: '/mnt/a b\\c\\d', devtype: 'ext4', devmajor: 254, devminor: 1 },
    { dirname: '/btr', dirnameBytes: '/btr', devtype: 'btrfs', devmajor: 8, devminor: 16 },
    { dirname: '/last', dirnameBytes: '/last', devtype: 'xfs', devmajor: 8, devminor: 2 },
  ]);
  // Bytes that are not UTF-8: text for the response, exact bytes for system calls.
  assert.deepEqual(parseMountinfo('40 27 8:9 / /x\\377\xc3\xa9 rw - ext4 /dev/sdq rw\n'), [
    { dirname: '/x\ufffd\u00e9', dirnameBytes: '/x\xff\xc3\xa9', devtype: 'ext4', devmajor: 8, devminor: 9 },
  ]);
  assert.deepEqual(
    parseMountinfo(text, { ...opts, dedup: false }).map((m) => m.dirname),
    ['/', '/mnt/a b\\c\\d', '/srv', '/btr'],
  );
  // btrfs whose source is not a block device is dropped
  assert.deepEqual(parseMountinfo('30 27 0:40 / /btr rw - btrfs /dev/sdz rw\n', { statSource: () => null }), []);
});

test('decode_mntname: \\\\ and \\0NN..\\3NN only', () => {
  assert.equal(decodeMntName('a\\040b'), 'a b');
  assert.equal(decodeMntName('a\\400b'), 'a\\400b');
  assert.equal(decodeMntName('a\\\\b'), 'a\\b');
  assert.equal(decodeMntName('end\\'), 'end\\');
  assert.equal(decodeMntName('\\04'), '\\04');
});

test('/proc/self/mounts fallback: sources starting with "/", no smbfs/cifs, bind mounts of directories dropped', () => {
  const text = '/dev/vda / ext4 rw 0 0\n# comment\n\n//srv/share /mnt/s cifs rw 0 0\n/srv /mnt/bind none rw,bind 0 0\n/dev/vdb /mnt/x\\040y ext4 rw 0 0\ntmpfs /tmp tmpfs rw 0 0\n';
  const statSource = (p: string) =>
    p === '/srv' ? { isDirectory: true, isBlockDevice: false, rdevMajor: 0, rdevMinor: 0 } : p === '/dev/vda' ? blockDev(254, 0)() : null;
  assert.deepEqual(parseMounts(text, { statSource, dedup: false }), [
    { dirname: '/', dirnameBytes: '/', devtype: 'ext4', devmajor: 254, devminor: 0 },
    { dirname: '/mnt/x y', dirnameBytes: '/mnt/x y', devtype: 'ext4', devmajor: 0, devminor: 0 },
  ]);
});

test('fsinfo sizes: unsigned long arithmetic on f_frsize, f_blocks, f_bfree, f_bavail', () => {
  const mount = { dirname: '/nowhere', dirnameBytes: '/nowhere', devtype: 'ext4', devmajor: 4095, devminor: 4095 };
  const sv: Statvfs = { frsize: 4096n, blocks: 1000n, bfree: 300n, bavail: 200n };
  const { info } = fsinfoEntry('/', mount, sv);
  assert.deepEqual(info, {
    name: '4095:4095',
    mountpoint: '/nowhere',
    type: 'ext4',
    disk: [],
    'used-bytes': 700n * 4096n,
    'total-bytes': 900n * 4096n,
    'total-bytes-privileged': 1000n * 4096n,
  });
  // bfree > blocks wraps like C
  const odd = fsinfoEntry('/', mount, { frsize: 1n, blocks: 1n, bfree: 2n, bavail: 0n }).info;
  assert.equal(odd['used-bytes'], 2n ** 64n - 1n);
  assert.deepEqual(Object.keys(fsinfoEntry('/', mount, null).info).sort(), ['disk', 'mountpoint', 'name', 'type']);
});

test('statvfs: real calls answer; a missing path is null', async () => {
  const [root, missing] = await statvfsMany(['/', '/nonexistent/qga-ts-test']);
  assert.ok(root && root.frsize > 0n && root.blocks > 0n);
  assert.equal(missing, null);
});

test('statvfs: a hung call is bounded by the time limit, and not repeated while it is stuck', async () => {
  const pending: ((r: Statvfs | null) => void)[] = [];
  let calls = 0;
  const impl: StatvfsImpl = (p, done) => {
    calls++;
    if (p === '/hung/qga-test') pending.push(done);
    else done({ frsize: 1n, blocks: 2n, bfree: 1n, bavail: 1n });
  };
  const t0 = Date.now();
  const first = await statvfsMany(['/ok/1', '/hung/qga-test', '/ok/2'], 200, impl);
  const took = Date.now() - t0;
  assert.ok(took >= 190 && took < 1000, `took ${took} ms`);
  assert.deepEqual(first.map((r) => r !== null), [true, false, true]);
  assert.equal(stuckStatvfsCount(), 1);
  // While stuck, the mount point is not asked again (one pool thread at most), and answers at once.
  const t1 = Date.now();
  const second = await statvfsMany(['/hung/qga-test', '/ok/3'], 200, impl);
  assert.ok(Date.now() - t1 < 100);
  assert.deepEqual(second.map((r) => r !== null), [false, true]);
  assert.equal(calls, 4);
  // Once the stuck call returns, the mount point is asked again.
  pending[0]({ frsize: 1n, blocks: 1n, bfree: 1n, bavail: 1n });
  await new Promise((r) => setImmediate(r));
  assert.equal(stuckStatvfsCount(), 0);
  const third = await statvfsMany(['/hung/qga-test'], 50, impl);
  assert.equal(third[0], null);
  assert.equal(calls, 5);
  pending[1]({ frsize: 1n, blocks: 1n, bfree: 1n, bavail: 1n });
});

test('statvfs: many calls share one deadline', async () => {
  const impl: StatvfsImpl = () => {}; // never answers
  const paths = Array.from({ length: 300 }, (_, i) => `/never/${i}`);
  const t0 = Date.now();
  const r = await statvfsMany(paths, 100, impl);
  assert.ok(Date.now() - t0 < 600);
  assert.ok(r.every((x) => x === null));
});

test('mountinfo: the fast patterns agree with the sscanf() formats on arbitrary lines', () => {
  const sep = fc.oneof({ weight: 12, arbitrary: fc.constant(' ') }, { weight: 1, arbitrary: fc.constantFrom('', '  ', '\t', ' \v', '\n') });
  const tok = (...xs: string[]) => fc.oneof({ weight: 8, arbitrary: fc.constantFrom(...xs) }, { weight: 1, arbitrary: fc.constantFrom('', 'x', '-', ':', '\xa0', '9999999999', '+1', '0x1f') });
  const line = fc
    .tuple(
      fc.array(fc.tuple(sep, tok('27', '1', '0')), { minLength: 2, maxLength: 2 }),
      fc.tuple(sep, tok('254:0', '0:21', '8:17', '4294967296:1', '254:', ':0')),
      fc.oneof(
        fc.array(fc.tuple(sep, tok('/', '/mnt/a\\040b', '/srv', 'rw,relatime', 'shared:1', 'master:2', '-', 'ext4', 'btrfs', '/dev/vda', 'rw')), { maxLength: 9 }),
        // the kernel's field order, each field possibly odd
        fc.tuple(
          fc.tuple(sep, tok('/', '/sub')),
          fc.tuple(sep, tok('/', '/mnt/a\\040b', '/srv')),
          fc.tuple(sep, tok('rw,relatime', 'ro')),
          fc.array(fc.tuple(sep, tok('shared:1', 'master:2')), { maxLength: 2 }),
          fc.tuple(sep, tok('-')),
          fc.tuple(sep, tok('ext4', 'btrfs', 'xfs')),
          fc.tuple(sep, tok('/dev/vda', '/dev/sd\\134b', 'none')),
          fc.array(fc.tuple(sep, tok('rw', 'rw,discard')), { maxLength: 1 }),
        ).map(([a, b, c, opt, d, e, f, g]) => [a, b, c, ...opt, d, e, f, ...g]),
      ),
      fc.constantFrom('', '\n', ' \n'),
      fc.nat(80),
    )
    .map(([ids, mm, rest, end, cut]) => {
      const text = [...ids, mm, ...rest].map(([s, t]) => s + t).join('').replace(/^ /, '') + end;
      return cut < 60 ? text : text.slice(0, cut - 60);
    });
  let accepted = 0;
  fc.assert(
    fc.property(line, (l) => {
      const slow = mountinfoFields(l, false);
      if (slow) accepted++;
      assert.deepEqual(mountinfoFields(l, true), slow, JSON.stringify(l));
    }),
    { numRuns: 20000 },
  );
  assert.ok(accepted > 2000, `only ${accepted} generated lines were mount lines`);
  const real = '27 1 254:0 / / rw,relatime shared:1 - ext4 /dev/vda rw,discard\n';
  assert.deepEqual(mountinfoFields(real), { major: 254, minor: 0, dir: '/', type: 'ext4', source: '/dev/vda' });
});
