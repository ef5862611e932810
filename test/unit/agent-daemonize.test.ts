// -d: the re-executed daemon is detached (own session, cwd /, umask 077, stdio on /dev/null), and the
// parent's exit status follows the child's readiness.
import { strict as assert } from 'node:assert';
import { spawn } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { after, describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { DAEMON_ENV, takeDaemonMarker } from '../../src/agent/daemonize.ts';

const REPO = fileURLToPath(new URL('../..', import.meta.url));
const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'qga-daemon-'));
const src = (f: string) => JSON.stringify(fileURLToPath(new URL(`../../src/agent/${f}`, import.meta.url)));

// A miniature agent main(): parent → spawnDaemon; child → pidfile, becomeDaemon, notify, stay up.
const script = path.join(dir, 'mini-agent.mts');
fs.writeFileSync(
  script,
  `import * as fs from 'node:fs';
import { becomeDaemon, notifyParent, spawnDaemon, takeDaemonMarker } from ${src('daemonize.ts')};
import { Pidfile } from ${src('pidfile.ts')};
const [mode, pidPath] = process.argv.slice(2);
const child = takeDaemonMarker();
if (!child) process.exit(await spawnDaemon());
if (mode === 'crash') { process.stderr.write('daemon: startup failed\\n'); process.exit(1); }
let pf;
try { pf = Pidfile.acquire(pidPath); } catch (e) {
  process.stderr.write(e.message + '\\n'); notifyParent(child, false); process.exit(1);
}
becomeDaemon();
fs.writeFileSync(pidPath + '.info', JSON.stringify({ cwd: process.cwd(), marker: process.env.${DAEMON_ENV} ?? null }));
notifyParent(child, true);
process.on('SIGTERM', () => { pf.release(); process.exit(0); });
setInterval(() => {}, 1 << 30);
`,
);

/** Runs the mini agent's parent; resolves with its exit code and stderr once it exits. */
function runParent(mode: string, pidPath: string): Promise<{ code: number | null; stderr: string; pid: number }> {
  // cwd: the repository, where `--import tsx` resolves (the daemon inherits it until it chdirs to /).
  const parent = spawn(process.execPath, ['--import', 'tsx', script, mode, pidPath], { cwd: REPO, stdio: ['ignore', 'ignore', 'pipe'] });
  let stderr = '';
  parent.stderr!.on('data', (d: Buffer) => (stderr += d.toString()));
  return new Promise((resolve) => parent.on('exit', (code) => resolve({ code, stderr, pid: parent.pid! })));
}

const daemons: number[] = [];
after(() => {
  for (const pid of daemons) {
    try {
      process.kill(pid, 'SIGKILL');
    } catch {
      // already gone
    }
  }
});

async function waitGone(pid: number): Promise<void> {
  for (let i = 0; i < 500; i++) {
    try {
      process.kill(pid, 0);
    } catch {
      return;
    }
    await new Promise((r) => setTimeout(r, 10));
  }
  throw new Error(`daemon ${pid} still running`);
}

describe('takeDaemonMarker', () => {
  it('reads and removes the marker', () => {
    const env: NodeJS.ProcessEnv = { [DAEMON_ENV]: '4,socket-activation', OTHER: 'x' };
    assert.deepEqual(takeDaemonMarker(env), { readyFd: 4, socketActivation: true });
    assert.deepEqual(env, { OTHER: 'x' });
    assert.equal(takeDaemonMarker(env), null);
    assert.deepEqual(takeDaemonMarker({ [DAEMON_ENV]: '3' }), { readyFd: 3, socketActivation: false });
  });
});

describe('spawnDaemon', () => {
  it('exits the parent 0 once the detached child is ready', async () => {
    const pidPath = path.join(dir, 'ok.pid');
    const r = await runParent('ok', pidPath);
    assert.equal(r.code, 0, r.stderr);
    const pid = Number(fs.readFileSync(pidPath, 'utf8'));
    daemons.push(pid);
    assert.notEqual(pid, r.pid, 'the pidfile names the daemon, not the parent');
    const info = JSON.parse(fs.readFileSync(pidPath + '.info', 'utf8'));
    assert.deepEqual(info, { cwd: '/', marker: null });
    const status = fs.readFileSync(`/proc/${pid}/status`, 'utf8');
    assert.match(status, /^Umask:\s+0077$/m);
    const stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    assert.equal(Number(fields[3]), pid, 'session leader (setsid)');
    for (const fd of [0, 1, 2]) assert.equal(fs.readlinkSync(`/proc/${pid}/fd/${fd}`), '/dev/null', `fd ${fd}`);

    // A second instance on the same pidfile fails, and its parent says so.
    const second = await runParent('ok', pidPath);
    assert.equal(second.code, 1);
    assert.equal(second.stderr, 'Cannot lock pid file: Resource temporarily unavailable\n');

    process.kill(pid, 'SIGTERM');
    await waitGone(pid);
    assert.equal(fs.existsSync(pidPath), false);
  });

  it('exits the parent 1 when the child dies before it is ready, its stderr reaching the terminal', async () => {
    const r = await runParent('crash', path.join(dir, 'crash.pid'));
    assert.equal(r.code, 1);
    assert.equal(r.stderr, 'daemon: startup failed\n');
  });
});
