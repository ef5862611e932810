// The file extensions: __io.qga-ts_guest-file-stat and __io.qga-ts_guest-dir-list on a temporary tree.
import { after, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { DIR_LIST_REPLY_BUDGET, guestDirList, guestFileStat } from '../../src/commands/file-info.ts';
import { CommandFilter } from '../../src/protocol/command-filter.ts';
import { toJson } from '../../src/json/serialize.ts';
import { errorOf, fakeContext, tempDir } from '../support/handler-context.ts';

const ctx = fakeContext();
const { dir, cleanup } = tempDir('qga-file-info-');
after(cleanup);

const file = path.join(dir, 'file');
fs.writeFileSync(file, 'hello');
fs.chmodSync(file, 0o4751);
fs.symlinkSync('file', path.join(dir, 'link'));
fs.symlinkSync('nowhere', path.join(dir, 'dangling'));

describe('__io.qga-ts_guest-file-stat', () => {
  it('describes a regular file with lstat(2)\'s exact numbers, times in integer nanoseconds', () => {
    const st = fs.lstatSync(file, { bigint: true });
    assert.deepEqual(guestFileStat({ path: file }, ctx), {
      type: 'file', size: 5n, mode: 0o4751, uid: st.uid, gid: st.gid, nlink: 1n,
      'atime-ns': st.atimeNs, 'mtime-ns': st.mtimeNs, 'ctime-ns': st.ctimeNs,
    });
    assert.match(toJson(guestFileStat({ path: file }, ctx) as never), /"mtime-ns": \d{19}[,}]/);
    assert.deepEqual(ctx.audits.at(-1), `__io.qga-ts_guest-file-stat called, path: ${file}, follow-symlinks: false`);
  });

  it('does not follow a final symlink unless asked', () => {
    const link = guestFileStat({ path: path.join(dir, 'link') }, ctx);
    assert.equal(link.type, 'symlink');
    assert.equal(link['link-target'], 'file');
    assert.equal(link.size, 4n);
    const followed = guestFileStat({ path: path.join(dir, 'link'), 'follow-symlinks': true }, ctx);
    assert.equal(followed.type, 'file');
    assert.equal(followed['link-target'], undefined);
    assert.equal(guestFileStat({ path: path.join(dir, 'dangling') }, ctx)['link-target'], 'nowhere');
  });

  it('says what is wrong in words', async () => {
    assert.equal(await errorOf(() => guestFileStat({ path: path.join(dir, 'dangling'), 'follow-symlinks': true }, ctx)),
      `failed to stat '${dir}/dangling': No such file or directory`);
    assert.equal(await errorOf(() => guestFileStat({ path: 'file' }, ctx)), "__io.qga-ts_guest-file-stat: path 'file' is not absolute");
  });

  it('knows directories, devices, fifos and sockets', () => {
    assert.equal(guestFileStat({ path: dir }, ctx).type, 'directory');
    assert.equal(guestFileStat({ path: '/dev/null' }, ctx).type, 'char-device');
    assert.equal(guestFileStat({ path: '/dev/null' }, ctx).mode, 0o666);
  });
});

describe('__io.qga-ts_guest-dir-list', () => {
  const many = path.join(dir, 'many');
  fs.mkdirSync(many);
  for (let i = 0; i < 25; i++) fs.writeFileSync(path.join(many, `f${i}`), 'x'.repeat(i));

  it('pages through a directory: every entry once, next-offset until the end', async () => {
    const names: string[] = [];
    const offsets: Array<number | bigint | undefined> = [];
    let offset: bigint | undefined = 0n;
    while (offset !== undefined) {
      const page = await guestDirList({ path: many, offset, 'max-entries': 10n }, ctx);
      names.push(...page.entries.map((e) => e.name));
      offsets.push(page['next-offset']);
      offset = page['next-offset'] === undefined ? undefined : BigInt(page['next-offset']);
    }
    assert.deepEqual(offsets, [10, 20, undefined]);
    assert.deepEqual(names.sort(), fs.readdirSync(many).sort());
    const f7 = (await guestDirList({ path: many }, ctx)).entries.find((e) => e.name === 'f7');
    assert.equal(f7?.stat?.size, 7n);
  });

  it('a page that ends exactly at the end of the directory has no next-offset', async () => {
    const page = await guestDirList({ path: many, offset: 15n, 'max-entries': 10n }, ctx);
    assert.equal(page.entries.length, 10);
    assert.equal(page['next-offset'], undefined);
    assert.deepEqual(await guestDirList({ path: many, offset: 1000n }, ctx), { entries: [] });
  });

  it('lists symlinks as links (lstat) with their targets, and names that are not UTF-8 with U+FFFD', async () => {
    const odd = path.join(dir, 'odd');
    fs.mkdirSync(odd);
    fs.writeFileSync(Buffer.concat([Buffer.from(`${odd}/a`), Buffer.of(0xff), Buffer.from('b')]), '');
    fs.symlinkSync('../file', path.join(odd, 'l'));
    const entries = (await guestDirList({ path: odd }, ctx)).entries.sort((a, b) => (a.name < b.name ? -1 : 1));
    assert.deepEqual(entries.map((e) => [e.name, e.stat?.type, e.stat?.['link-target']]), [['a\ufffdb', 'file', undefined], ['l', 'symlink', '../file']]);
  });

  it('lists a directory whose path holds U+0000 (bytes C0 80, as qemu-ga maps it)', async () => {
    const nul = Buffer.concat([Buffer.from(`${dir}/n`), Buffer.of(0xc0, 0x80), Buffer.from('l')]);
    fs.mkdirSync(nul);
    fs.writeFileSync(Buffer.concat([nul, Buffer.from('/inside')]), 'x');
    const entries = (await guestDirList({ path: `${dir}/n\0l` }, ctx)).entries;
    assert.deepEqual(entries.map((e) => [e.name, e.stat?.type, e.stat?.size]), [['inside', 'file', 1n]]);
  });

  it('keeps every reply under 1 MiB, whatever max-entries says', async () => {
    const big = path.join(dir, 'big');
    fs.mkdirSync(big);
    // 250 bytes that are not UTF-8 print as 250 × \uFFFD: about 1.7 KB of JSON per entry.
    for (let i = 0; i < 800; i++) fs.writeFileSync(Buffer.concat([Buffer.from(`${big}/`), Buffer.alloc(250, 0xff), Buffer.from(String(i))]), '');
    let offset = 0n;
    let seen = 0;
    let pages = 0;
    for (;;) {
      const page = await guestDirList({ path: big, offset, 'max-entries': 100000n }, ctx);
      assert.ok(toJson({ return: page } as never).length <= DIR_LIST_REPLY_BUDGET + 64, 'page over budget');
      seen += page.entries.length;
      pages++;
      if (page['next-offset'] === undefined) break;
      offset = BigInt(page['next-offset']);
      assert.equal(offset, BigInt(seen));
    }
    assert.equal(seen, 800);
    assert.ok(pages >= 2);
  });

  it('refuses bad arguments and unreadable paths in words', async () => {
    assert.equal(await errorOf(() => guestDirList({ path: many, 'max-entries': 0n }, ctx)), "value '0' is invalid for argument max-entries (1 to 100000)");
    assert.equal(await errorOf(() => guestDirList({ path: many, offset: -1n }, ctx)), "value '-1' is invalid for argument offset (0 to 9007199254740991)");
    assert.equal(await errorOf(() => guestDirList({ path: file }, ctx)), `failed to open directory '${file}': Not a directory`);
    assert.equal(await errorOf(() => guestDirList({ path: 'rel' }, ctx)), "__io.qga-ts_guest-dir-list: path 'rel' is not absolute");
  });
});

describe('the file extensions and the command filter', () => {
  it('are disabled while frozen, and blockable with -b like any command', () => {
    const f = new CommandFilter(null, ['__io.qga-ts_guest-dir-list']);
    assert.equal(f.isEnabled('__io.qga-ts_guest-dir-list'), false);
    assert.equal(f.isEnabled('__io.qga-ts_guest-file-stat'), true);
    f.frozen = true;
    assert.equal(f.isEnabled('__io.qga-ts_guest-file-stat'), false);
  });
});
