// packaging/fsfreeze/fsfreeze-hook: runs each executable script in fsfreeze-hook.d with the action
// and logs start, output and result as qemu-ga 10.x's hook does; backups and non-executables skipped.
import { it } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { REPO } from '../support/agent.ts';

it('fsfreeze-hook runs hook.d scripts in order and logs each result', () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'qga-hook-'));
  try {
    const hook = path.join(dir, 'fsfreeze-hook');
    fs.copyFileSync(path.join(REPO, 'packaging/fsfreeze/fsfreeze-hook'), hook);
    fs.chmodSync(hook, 0o755);
    const d = path.join(dir, 'fsfreeze-hook.d');
    fs.mkdirSync(d);
    const script = (name: string, body: string, mode = 0o755) => fs.writeFileSync(path.join(d, name), `#!/bin/sh\n${body}\n`, { mode });
    script('20-fails', 'echo "failing $1" >&2; exit 3');
    script('10-ok', 'echo "ok $1"');
    script('30-not-executable', 'echo never', 0o644);
    script('40-old.dpkg-old', 'echo never');
    const log = path.join(dir, 'hook.log');
    const r = spawnSync(hook, ['freeze'], { encoding: 'utf8', env: { ...process.env, QGA_FSFREEZE_HOOK_LOG: log } });
    assert.equal(r.status, 0, r.stderr);
    const lines = fs.readFileSync(log, 'utf8').split('\n').filter(Boolean).map((l) => l.replace(/^.*?\d{4}: /, ''));
    assert.deepEqual(lines, [
      `Executing ${d}/10-ok freeze`,
      'ok freeze',
      `${d}/10-ok finished successfully`,
      `Executing ${d}/20-fails freeze`,
      'failing freeze',
      `Error: ${d}/20-fails finished with status=3`,
    ]);
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});
