// The -d pidfile: content, mode, the fcntl lock across processes, release.
import { strict as assert } from 'node:assert';
import { spawn } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { Pidfile, PidfileError } from '../../src/agent/pidfile.ts';
import { fcntlGetLock } from '../../src/platform/linux/libc.ts';

const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'qga-pid-'));
const PIDFILE_TS = fileURLToPath(new URL('../../src/agent/pidfile.ts', import.meta.url));

/** Another process that takes the pidfile and holds it until its stdin closes. */
async function holder(pidPath: string): Promise<{ pid: number; line: string; stop: () => Promise<void> }> {
  const script =
    `import { Pidfile } from ${JSON.stringify(PIDFILE_TS)};\n` +
    `try { Pidfile.acquire(${JSON.stringify(pidPath)}); console.log('locked'); }\n` +
    `catch (e) { console.log('error: ' + e.message); }\n` +
    `process.stdin.resume(); process.stdin.on('end', () => process.exit(0));\n`;
  const child = spawn(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', script], { stdio: ['pipe', 'pipe', 'inherit'] });
  const line = await new Promise<string>((resolve, reject) => {
    let out = '';
    child.stdout!.on('data', (d: Buffer) => {
      out += d.toString();
      if (out.includes('\n')) resolve(out.trim());
    });
    child.on('exit', (code) => reject(new Error(`holder exited ${code}: ${out}`)));
  });
  return {
    pid: child.pid!,
    line,
    stop: () =>
      new Promise<void>((resolve) => {
        child.removeAllListeners('exit');
        child.on('exit', () => resolve());
        child.stdin!.end();
      }),
  };
}

describe('Pidfile', () => {
  it('writes <pid>\\n into a 0600 file and holds a write lock on it', () => {
    const p = path.join(dir, 'a.pid');
    const pf = Pidfile.acquire(p, 12345);
    try {
      assert.equal(fs.readFileSync(p, 'utf8'), '12345\n');
      assert.equal(fs.statSync(p).mode & 0o777, 0o600);
    } finally {
      pf.release();
    }
    assert.equal(fs.existsSync(p), false, 'unlinked at release');
  });

  it('truncates a longer stale pidfile', () => {
    const p = path.join(dir, 'stale.pid');
    fs.writeFileSync(p, '1234567890\n');
    const pf = Pidfile.acquire(p, 42);
    assert.equal(fs.readFileSync(p, 'utf8'), '42\n');
    pf.release();
  });

  it('refuses a pidfile locked by another process, and gets it once that process is gone', async () => {
    const p = path.join(dir, 'shared.pid');
    const other = await holder(p);
    try {
      assert.equal(other.line, 'locked');
      assert.equal(fs.readFileSync(p, 'utf8'), `${other.pid}\n`);
      assert.throws(
        () => Pidfile.acquire(p),
        (e: unknown) => e instanceof PidfileError && e.message === 'Cannot lock pid file: Resource temporarily unavailable',
      );
      assert.equal(fs.readFileSync(p, 'utf8'), `${other.pid}\n`, 'the holder\'s pidfile is untouched');
    } finally {
      await other.stop();
    }
    const pf = Pidfile.acquire(p);
    try {
      assert.equal(fs.readFileSync(p, 'utf8'), `${process.pid}\n`);
    } finally {
      pf.release();
    }
  });

  it('is seen as locked by this process from another one', async () => {
    const p = path.join(dir, 'mine.pid');
    const pf = Pidfile.acquire(p);
    try {
      const other = await holder(p);
      await other.stop();
      assert.equal(other.line, 'error: Cannot lock pid file: Resource temporarily unavailable');
      // F_GETLK from our own fd never reports our own lock, so check the file is still ours.
      assert.equal(fcntlGetLock(pf.fd), null);
      assert.equal(fs.readFileSync(p, 'utf8'), `${process.pid}\n`);
    } finally {
      pf.release();
    }
  });

  it('reports a pidfile that cannot be created', () => {
    const p = path.join(dir, 'no/such/dir/x.pid');
    assert.throws(() => Pidfile.acquire(p), { message: `Could not create '${p}': No such file or directory` });
  });
});
