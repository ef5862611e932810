// readOsRelease() / unameInfo(): guest-get-osinfo's data sources.
//
// Every expected value below was observed from the real qemu-ga 7.2.22 (Debian bookworm,
// GLib 2.74.6): QGA_OS_RELEASE=<fixture> qemu-ga -m unix-listen ..., then guest-get-osinfo.
// The /etc/os-release -> /usr/lib/os-release fallback cases were observed the same way with
// the files bind-mounted in a private mount namespace.

import { strict as assert } from 'node:assert';
import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { machine, release, tmpdir, version } from 'node:os';
import { join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { after, describe, test } from 'node:test';

import { readOsRelease, unameInfo } from '../../src/platform/linux/os-release.ts';

const fixtures = fileURLToPath(new URL('../fixtures/os-release/', import.meta.url));
const fixture = (name: string) => readOsRelease({ QGA_OS_RELEASE: join(fixtures, name) });

describe('QEMU test-qga-os-release (tests/unit/test-qga.c)', () => {
  test('the values /qga/guest-get-osinfo asserts', () => {
    assert.deepEqual(fixture('test-qga-os-release'), {
      id: 'qemu-ga-test',
      name: 'QEMU-GA',
      'pretty-name': 'QEMU Guest Agent test',
      version: 'Test 1',
      'version-id': '1',
      variant: 'Unit test "\'$`\\ and \\\\ etc.',
      'variant-id': 'unit-test',
    });
  });

  test('a real Debian 12 file', () => {
    assert.deepEqual(fixture('debian12'), {
      id: 'debian',
      name: 'Debian GNU/Linux',
      'pretty-name': 'Debian GNU/Linux 12 (bookworm)',
      version: '12 (bookworm)',
      'version-id': '12',
    });
  });
});

describe('unquoting', () => {
  test('single quotes are ordinary characters', () => {
    assert.deepEqual(fixture('single-quotes'), { id: "'single", name: "'Name'", 'pretty-name': "'x" });
  });

  test('unquoted values: cut at the first space, then at the first ";"', () => {
    assert.deepEqual(fixture('unquoted'), {
      'pretty-name': 'unq', // "unq uoted;x"
      name: 'a', // "a;b c"
      version: 'lead', // "   lead and trail   ": leading blanks trimmed by GLib
      variant: 'tab\there', // tabs do not cut
      id: '',
      'version-id': 'trail\t', // trailing whitespace is kept by GLib
    });
  });

  test('double quotes and backslashes', () => {
    assert.deepEqual(fixture('escapes'), {
      version: 'has \\n esc\\t', // \\ -> \, the n and t stay literal
      name: 'a"b', // text after the closing quote is dropped
      'pretty-name': 'back\\slash \\q and \\', // \s and \q keep their backslash
      variant: 'keeps ; and spaces  ',
      'version-id': '',
      // no closing quote: the end of the raw text shows up twice (qemu-ga never
      // terminates its shifted copy)
      id: 'unterminatedd',
      'variant-id': 'esc$aped endnd',
    });
  });

  test('an unterminated quote can split a UTF-8 character (then U+FFFD)', () => {
    assert.deepEqual(fixture('unterminated-utf8'), { id: 'caf\u00e9\ufffd', name: '\u00e9$\u00e9\u00e9' });
  });

  test('UTF-8 text survives', () => {
    assert.deepEqual(fixture('utf8'), { name: 'D\u00e9bian \u2603 \u{1F600}', id: 'd\u00e9b' });
  });
});

describe('GLib key-file syntax', () => {
  test('comments, blank lines, ";" is not a comment but a key', () => {
    assert.deepEqual(fixture('comments'), { id: 'c' });
  });

  test('whitespace around keys and "="; \\v is not whitespace for GLib', () => {
    assert.deepEqual(fixture('key-spacing'), { id: 'spaced', name: 'tabbed', version: 'indented' });
    assert.deepEqual(fixture('vtab'), { name: 'ff' });
  });

  test('CR LF: one CR before LF is dropped, a CR on an unterminated last line is kept', () => {
    assert.deepEqual(fixture('crlf'), { id: 'crlf', name: 'two', version: 'last\r' });
  });

  test('no trailing newline', () => {
    assert.deepEqual(fixture('no-trailing-newline'), { id: 'x', name: 'last' });
  });

  test('a repeated key: the last one wins', () => {
    assert.deepEqual(fixture('duplicates'), { id: 'second', name: 'n' });
  });

  test('other groups hide their keys; [os-release] switches back', () => {
    assert.deepEqual(fixture('groups-ok'), { id: 'top', name: 'back' });
  });

  test('translated keys are valid but are not the plain key', () => {
    assert.deepEqual(fixture('locale-key'), { name: 'plain' });
  });

  test('Encoding=UTF-8 (any case) is fine, and any Encoding outside the first group', () => {
    assert.deepEqual(fixture('encoding-utf8'), { id: 'x' });
    assert.deepEqual(fixture('encoding-other-group'), { id: 'x' });
  });

  test('a UTF-8 BOM becomes part of the first key', () => {
    assert.deepEqual(fixture('bom'), { name: 'n' });
  });

  test('the content ends at the first NUL byte, unchecked after it', () => {
    assert.deepEqual(fixture('nul-truncates'), { id: 'before-nul', name: 'x' });
  });

  test('an empty file is valid and has no members', () => {
    assert.deepEqual(fixture('empty'), {});
  });
});

describe('files that make the whole file unusable', () => {
  const unusable = [
    'invalid-line', // "this line is garbage"
    'invalid-utf8', // 0xff
    'invalid-utf8-surrogate', // ED A0 80
    'encoding-latin1', // Encoding=latin1 in the first group
    'bad-key-bracket', // ID]=x
    'bad-locale-key', // NAME[de=x
    'empty-key', // =x
    'bad-group-empty', // []
    'bad-group-bracket', // [a[b]
    'groups', // "[os-release]\tx" is neither a group nor a key
  ];
  for (const name of unusable) {
    test(name, () => assert.deepEqual(fixture(name), {}));
  }
});

describe('which file is read', () => {
  const scratch = mkdtempSync(join(tmpdir(), 'qga-osrel-'));
  after(() => rmSync(scratch, { recursive: true, force: true }));
  let n = 0;
  function makeRoot(etc: string | Buffer | null, usrLib: string | Buffer | null): string {
    const root = join(scratch, `root${n++}`);
    mkdirSync(join(root, 'etc'), { recursive: true });
    mkdirSync(join(root, 'usr/lib'), { recursive: true });
    if (etc !== null) writeFileSync(join(root, 'etc/os-release'), etc);
    if (usrLib !== null) writeFileSync(join(root, 'usr/lib/os-release'), usrLib);
    return root;
  }

  test('/etc/os-release first', () => {
    assert.deepEqual(readOsRelease({}, makeRoot('ID=etc\n', 'ID=usrlib\n')), { id: 'etc' });
  });

  test('/usr/lib/os-release when /etc/os-release is missing, invalid, not UTF-8', () => {
    assert.deepEqual(readOsRelease({}, makeRoot(null, 'ID=usrlib\n')), { id: 'usrlib' });
    assert.deepEqual(readOsRelease({}, makeRoot('ID=etc\ngarbage\n', 'ID=usrlib\n')), { id: 'usrlib' });
    assert.deepEqual(readOsRelease({}, makeRoot(Buffer.from('ID=etc\xff\n', 'latin1'), 'ID=usrlib\n')), {
      id: 'usrlib',
    });
    assert.deepEqual(readOsRelease({}, makeRoot('ID=etc\nEncoding=latin1\n', 'ID=usrlib\n')), { id: 'usrlib' });
  });

  test('an /etc/os-release directory is unreadable too', () => {
    const root = makeRoot(null, 'ID=usrlib\n');
    mkdirSync(join(root, 'etc/os-release'));
    assert.deepEqual(readOsRelease({}, root), { id: 'usrlib' });
  });

  test('both unusable or missing: no members', () => {
    assert.deepEqual(readOsRelease({}, makeRoot('garbage\n', 'garbage\n')), {});
    assert.deepEqual(readOsRelease({}, makeRoot(null, null)), {});
  });

  test('QGA_OS_RELEASE has no fallback, even when empty', () => {
    const root = makeRoot('ID=etc\n', 'ID=usrlib\n');
    assert.deepEqual(readOsRelease({ QGA_OS_RELEASE: '/nonexistent' }, root), {});
    assert.deepEqual(readOsRelease({ QGA_OS_RELEASE: '' }, root), {});
    assert.deepEqual(readOsRelease({ QGA_OS_RELEASE: join(fixtures, 'invalid-line') }), {});
  });

  test('QGA_OS_RELEASE may be relative to the current directory', () => {
    const rel = relative(process.cwd(), join(fixtures, 'duplicates'));
    assert.ok(!rel.startsWith('/'));
    assert.deepEqual(readOsRelease({ QGA_OS_RELEASE: rel }, '/nonexistent-root'), { id: 'second', name: 'n' });
  });
});

describe('unameInfo', () => {
  test('node:os fields', () => {
    assert.deepEqual(unameInfo(), { 'kernel-release': release(), 'kernel-version': version(), machine: machine() });
  });

  const uname: (flag: string) => string | null = (flag) => {
    try {
      return execFileSync('uname', [flag], { encoding: 'utf8' }).replace(/\n$/, '');
    } catch {
      return null;
    }
  };
  const haveUname = uname('-r') !== null;
  test('equal to uname(1) -r -v -m', { skip: haveUname ? false : 'uname(1) not available' }, () => {
    const u = unameInfo();
    assert.equal(u['kernel-release'], uname('-r'));
    assert.equal(u['kernel-version'], uname('-v'));
    assert.equal(u.machine, uname('-m'));
  });
});
