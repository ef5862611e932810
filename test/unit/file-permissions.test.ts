// Permission-denied paths. Root bypasses file modes, so as root the handlers run in a child
// process that first drops to nobody (uid/gid 65534); as another user they run in-process.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { REPO } from '../support/agent.ts';
import { tempDir } from '../support/handler-context.ts';

const isRoot = process.getuid?.() === 0;

/** Runs the open attempts as an unprivileged user; returns each attempt's result or error desc. */
function attempts(dir: string, cases: { path: string; mode: string }[]): string[] {
  const script = path.join(dir, 'as-nobody.mts');
  fs.writeFileSync(
    script,
    `import { createFileHandlers } from ${JSON.stringify(path.join(REPO, 'src/commands/file.ts'))};
import { fakeContext } from ${JSON.stringify(path.join(REPO, 'test/support/handler-context.ts'))};
const drop = process.getuid?.() === 0;
if (drop) { process.setgroups?.([]); process.setgid?.(65534); process.setuid?.(65534); }
const h = createFileHandlers(); const ctx = fakeContext();
const out: string[] = [];
for (const c of ${JSON.stringify(cases)}) {
  try { out.push('ok ' + String(h['guest-file-open'](c, ctx))); } catch (e: any) { out.push(e.desc ?? String(e)); }
}
process.stdout.write(JSON.stringify(out));
`,
  );
  const text = execFileSync(process.execPath, ['--import', 'tsx', script], { cwd: REPO, encoding: 'utf8' });
  return JSON.parse(text) as string[];
}

test('permission denied: unreadable file, unwritable file, uncreatable file', () => {
  const { dir, cleanup } = tempDir();
  try {
    fs.chmodSync(dir, 0o755);
    const secret = path.join(dir, 'secret');
    fs.writeFileSync(secret, 'x');
    fs.chmodSync(secret, isRoot ? 0o600 : 0o000);
    const ro = path.join(dir, 'readonly');
    fs.writeFileSync(ro, 'x');
    fs.chmodSync(ro, 0o444);
    const locked = path.join(dir, 'locked');
    fs.mkdirSync(locked, { mode: 0o555 });
    fs.chmodSync(locked, 0o555);
    const cases = [
      { path: secret, mode: 'r' },
      { path: ro, mode: 'a' },
      { path: ro, mode: 'r+' },
      { path: path.join(locked, 'new'), mode: 'w' },
      { path: ro, mode: 'r' },
    ];
    const results = attempts(dir, cases);
    assert.deepEqual(results, [
      `failed to open file '${secret}' (mode: 'r'): Permission denied`,
      `failed to open file '${ro}' (mode: 'a'): Permission denied`,
      `failed to open file '${ro}' (mode: 'r+'): Permission denied`,
      `failed to open file '${path.join(locked, 'new')}' (mode: 'w'): Permission denied`,
      'ok 1000',
    ]);
    assert.equal(fs.existsSync(path.join(locked, 'new')), false);
  } finally {
    fs.chmodSync(path.join(dir, 'locked'), 0o755);
    cleanup();
  }
});
