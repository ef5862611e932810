// A statvfs() that really hangs: a FUSE mount whose daemon never answers (in a private mount namespace;
// needs root and /dev/fuse). guest-get-fsinfo's statvfs calls must give up within their time limit,
// leave the event loop running, and not pile up calls on a mount that is still stuck.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';

const here = path.dirname(fileURLToPath(import.meta.url));
const canRun = process.getuid?.() === 0 && fs.existsSync('/dev/fuse') && spawnSync('unshare', ['--version']).status === 0;

test('statvfs of a hung FUSE mount is bounded and not repeated while stuck', { skip: !canRun && 'needs root, /dev/fuse and unshare' }, () => {
  const point = fs.mkdtempSync('/var/tmp/qga-hung-');
  try {
    const r = spawnSync(
      'unshare',
      ['-m', '--propagation', 'private', 'python3', path.join(here, '../support/hung-fuse.py'), point, '--',
        process.execPath, '--import', 'tsx', path.join(here, '../support/hung-statvfs-probe.ts'), point],
      { encoding: 'utf8', timeout: 30_000 },
    );
    assert.equal(r.status, 0, r.stderr);
    const [first, , after] = r.stdout.trim().split('\n');
    const res = JSON.parse(first);
    assert.deepEqual(res.first, [false, true]);
    assert.ok(res.firstMs >= 280 && res.firstMs < 2000, `first call took ${res.firstMs} ms`);
    // Still stuck: not asked again, so the answer comes at once.
    assert.deepEqual(res.second, [false, true]);
    assert.ok(res.secondMs < 200, `second call took ${res.secondMs} ms`);
    assert.equal(res.stuck, 1);
    assert.ok(res.tick < 200);
    assert.deepEqual(JSON.parse(after), { stuckAfterAbort: 0 });
  } finally {
    fs.rmSync(point, { recursive: true, force: true });
  }
});
