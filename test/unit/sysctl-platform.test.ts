// The FFI pieces that can be checked without changing anything: getpwnam_r through koffi (read-only
// lookups), the ioctl numbers against the kernel's _IOWR() encoding, and the *at() calls in a temp dir.
// FIFREEZE/FITHAW/FITRIM and settimeofday are never called here (the e2e VM runs them).
import { describe, it } from 'node:test';
import * as assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { getpwnam } from '../../src/platform/linux/passwd.ts';
import { FIFREEZE, FITHAW, FITRIM } from '../../src/platform/linux/fsioctl.ts';
import { mkdirat, O_DIRECTORY, O_NOFOLLOW, openat, renameat, unlinkat } from '../../src/platform/linux/dirfd.ts';
import { strerror } from '../../src/platform/linux/strerror.ts';

/** <asm-generic/ioctl.h>: dir << 30 | size << 16 | type << 8 | nr, with _IOC_READ|_IOC_WRITE = 3. */
const IOWR = (type: string, nr: number, size: number) => ((3 << 30) | (size << 16) | (type.charCodeAt(0) << 8) | nr) >>> 0;

describe('platform pieces', () => {
  it('ioctl numbers: FIFREEZE/FITHAW _IOWR(X,119/120,int), FITRIM _IOWR(X,121,struct fstrim_range)', () => {
    assert.equal(FIFREEZE, IOWR('X', 119, 4));
    assert.equal(FITHAW, IOWR('X', 120, 4));
    assert.equal(FITRIM, IOWR('X', 121, 24));
  });

  it('getpwnam: root exists; an unknown user is errno 0 ("Success")', () => {
    const root = getpwnam('root');
    assert.ok(!('errno' in root));
    assert.equal(root.uid, 0);
    assert.equal(root.name, 'root');
    assert.equal(typeof root.dir, 'string');
    assert.deepEqual(getpwnam('qga-no-such-user-here'), { errno: 0 });
    assert.deepEqual(getpwnam('ro\0ot'), { errno: 0 }, 'a NUL does not cut the name short');
  });

  it('openat(O_NOFOLLOW) refuses a symlink; mkdirat/renameat/unlinkat work relative to a directory fd', () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'qga-dirfd-'));
    try {
      const dfd = fs.openSync(dir, fs.constants.O_RDONLY | fs.constants.O_DIRECTORY);
      try {
        mkdirat(dfd, 'd', 0o700);
        assert.equal(fs.statSync(path.join(dir, 'd')).isDirectory(), true);
        fs.symlinkSync('d', path.join(dir, 'link'));
        assert.throws(() => openat(dfd, 'link', fs.constants.O_RDONLY | O_DIRECTORY | O_NOFOLLOW), (e: unknown) => strerror(e) === 'Too many levels of symbolic links' || strerror(e) === 'Not a directory');
        const fd = openat(dfd, 'f.tmp', fs.constants.O_WRONLY | fs.constants.O_CREAT | fs.constants.O_EXCL, 0o600);
        fs.writeSync(fd, 'x');
        fs.closeSync(fd);
        assert.equal(fs.statSync(path.join(dir, 'f.tmp')).mode & 0o777, 0o600);
        renameat(dfd, 'f.tmp', 'f');
        assert.equal(fs.readFileSync(path.join(dir, 'f'), 'utf8'), 'x');
        unlinkat(dfd, 'f');
        assert.equal(fs.existsSync(path.join(dir, 'f')), false);
        assert.throws(() => unlinkat(dfd, 'f'), (e: unknown) => strerror(e) === 'No such file or directory');
      } finally {
        fs.closeSync(dfd);
      }
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });
});
