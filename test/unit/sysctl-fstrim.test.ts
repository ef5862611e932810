// guest-fstrim: FITRIM per mount (fake), results in reverse mount order, qemu-ga's error texts.
import { describe, it } from 'node:test';
import * as assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { guestFstrim } from '../../src/commands/fstrim.ts';
import { toJson } from '../../src/json/serialize.ts';
import { errorOf, fakeContext } from '../support/handler-context.ts';
import { mountRoot, sysContext, type SysContext, cleanupsAfterEach } from '../support/sysctl.ts';

const cleanups = cleanupsAfterEach();

function setup(): SysContext {
  const r = mountRoot([
    { dir: '/', dev: '8:1' },
    { dir: '/boot', dev: '8:2' },
    { dir: '/iso', dev: '11:0', type: 'iso9660' },
    { dir: '/home', dev: '8:3' },
  ], ['50 1 0:50 / /mnt/nfs rw - nfs srv:/x rw']);
  const ctx = sysContext({ root: r.root });
  cleanups.push(r.cleanup, ctx.cleanup);
  return ctx;
}

describe('guest-fstrim', () => {
  it('trims every mount, reports in reverse order with the kernel values, audit line first', () => {
    const ctx = setup();
    ctx.fsops.trimResult.set('/iso', { errno: 25 }); // ENOTTY
    ctx.fsops.trimResult.set('/boot', { errno: 1 });
    ctx.fsops.trimResult.set('/home', { errno: 0, minlen: 4096n, len: 0xffffffffffffffffn });
    const r = guestFstrim({}, ctx);
    assert.deepEqual(ctx.fsops.log, ['trim / 0', 'trim /boot 0', 'trim /iso 0', 'trim /home 0']);
    assert.deepEqual(r.paths, [
      { path: '/home', minimum: 4096n, trimmed: -1n },
      { path: '/iso', error: 'trim not supported' },
      { path: '/boot', error: 'failed to trim: Operation not permitted' },
      { path: '/', minimum: 4096n, trimmed: 1000000n },
    ]);
    assert.deepEqual(ctx.log.lines, ['audit: guest-fstrim called']);
    assert.equal(
      toJson(r as never),
      // qemu-ga's member order (docs/compatibility.md §Commands): minimum, path, trimmed, error.
      '{"paths": [{"minimum": 4096, "path": "/home", "trimmed": -1}, {"path": "/iso", "error": "trim not supported"}, ' +
        '{"path": "/boot", "error": "failed to trim: Operation not permitted"}, {"minimum": 4096, "path": "/", "trimmed": 1000000}]}',
    );
  });

  it('minimum is passed as the kernel\'s __u64 (negative wraps); EOPNOTSUPP is "trim not supported"', () => {
    const ctx = setup();
    ctx.fsops.trimResult.set('/', { errno: 95 });
    guestFstrim({ minimum: -1n }, ctx);
    assert.equal(ctx.fsops.log[0], 'trim / 18446744073709551615');
    assert.deepEqual(guestFstrim({ minimum: 65536n }, ctx).paths.at(-1), { path: '/', error: 'trim not supported' });
  });

  it('a mount point that cannot be opened: "failed to open: <strerror>", the rest goes on', () => {
    const ctx = setup();
    fs.rmdirSync(path.join(ctx.root, 'boot'));
    const r = guestFstrim({}, ctx);
    assert.deepEqual(r.paths[2], { path: '/boot', error: 'failed to open: No such file or directory' });
    assert.equal(r.paths.length, 4);
  });

  it('mount list failure is the command error', async () => {
    const ctx = setup();
    fs.rmSync(path.join(ctx.root, 'proc'), { recursive: true });
    assert.equal(await errorOf(() => guestFstrim({}, ctx)), "failed to open mtab file: '/proc/self/mounts'");
  });

  it('without system services: unsupported', async () => {
    assert.equal(await errorOf(() => guestFstrim({}, fakeContext())), 'this feature or command is not currently supported');
  });
});
