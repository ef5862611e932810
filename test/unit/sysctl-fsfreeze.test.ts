// guest-fsfreeze-*: qemu-ga 10.2's order (hook, mount list, frozen state, reverse FIFREEZE; forward FITHAW
// until it fails), error texts, rollback, the frozen state (filter, logging, marker, deferred pidfile), the
// fsfreeze-timeout watchdog and the thaw at exit. Fake ioctls and a recording runner only.
import { describe, it } from 'node:test';
import * as assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { guestFsfreezeFreeze, guestFsfreezeFreezeList, guestFsfreezeStatus, guestFsfreezeThaw } from '../../src/commands/fsfreeze.ts';
import { FREEZE_ALLOWLIST } from '../../src/protocol/command-filter.ts';
import { commandTable } from '../../src/generated/qapi-commands.ts';
import { AgentLogger } from '../../src/agent/log.ts';
import { FreezeController } from '../../src/agent/freeze.ts';
import { statePaths } from '../../src/agent/state.ts';
import { CommandFilter } from '../../src/protocol/command-filter.ts';
import { errorOf, fakeContext } from '../support/handler-context.ts';
import { mountRoot, settle, sysContext, type SysContext, cleanupsAfterEach } from '../support/sysctl.ts';

const MOUNTS = [
  { dir: '/', dev: '8:1' },
  { dir: '/boot', dev: '8:2' },
  { dir: '/srv/data', dev: '8:3', type: 'xfs' },
];
// Pseudo and network filesystems: anonymous devices (major 0), never in the list.
const EXTRA = [
  '40 1 0:22 / /proc rw - proc proc rw',
  '41 1 0:45 / /mnt/nfs rw - nfs4 server:/export rw',
  '42 1 0:46 / /mnt/cifs rw - cifs //server/share rw',
  '43 1 0:47 / /run rw - tmpfs tmpfs rw',
  '44 1 0:48 / /mnt/fuse rw - fuse.sshfs host: rw',
];

const cleanups = cleanupsAfterEach();

function setup(opts: Parameters<typeof sysContext>[0] = {}): SysContext {
  const r = mountRoot(MOUNTS, EXTRA);
  const ctx = sysContext({ root: r.root, ...opts });
  cleanups.push(r.cleanup, ctx.cleanup);
  return ctx;
}

const marker = (ctx: SysContext) => path.join(ctx.stateDir, 'qga.state.isfrozen');

describe('guest-fsfreeze-freeze / -thaw', () => {
  it('freezes local filesystems in reverse mount order and enters the frozen state', async () => {
    const ctx = setup();
    assert.equal(guestFsfreezeStatus({}, ctx), 'thawed');
    assert.equal(await guestFsfreezeFreeze({}, ctx), 3);
    assert.deepEqual(ctx.fsops.log, ['freeze /srv/data', 'freeze /boot', 'freeze /']);
    assert.equal(guestFsfreezeStatus({}, ctx), 'frozen');
    assert.equal(ctx.filter.frozen, true);
    assert.ok(fs.existsSync(marker(ctx)), 'isfrozen marker created');
    assert.equal(fs.statSync(marker(ctx)).mode & 0o777, 0o600);
    assert.equal(ctx.fsops.prepared, 1, 'ioctls loaded before anything is frozen');
    // Logged: the audit line and the warning, then nothing.
    assert.deepEqual(ctx.log.lines, ['audit: guest-fsfreeze called', 'warning: disabling logging due to filesystem freeze']);
    assert.equal(ctx.log.paused, true);
  });

  it('while frozen only the six allowlisted commands are enabled (freeze itself too is disabled)', async () => {
    const ctx = setup();
    await guestFsfreezeFreeze({}, ctx);
    const enabled = [...commandTable.keys()].filter((c) => ctx.filter.isEnabled(c));
    assert.deepEqual(new Set(enabled), FREEZE_ALLOWLIST);
    assert.equal(ctx.filter.isEnabled('guest-fsfreeze-freeze'), false);
    await guestFsfreezeThaw({}, ctx);
    assert.equal(ctx.filter.isEnabled('guest-file-open'), true);
  });

  it('thaws in mount order, FITHAW repeated until it fails, counted once per mount', async () => {
    const ctx = setup();
    await guestFsfreezeFreeze({}, ctx);
    ctx.fsops.log.length = 0;
    ctx.fsops.depth.set('/boot', 3); // frozen three times over (e.g. by another tool too)
    assert.equal(await guestFsfreezeThaw({}, ctx), 3);
    assert.deepEqual(ctx.fsops.log, [
      'thaw /', 'thaw /',
      'thaw /boot', 'thaw /boot', 'thaw /boot', 'thaw /boot',
      'thaw /srv/data', 'thaw /srv/data',
    ]);
    assert.deepEqual(ctx.fsops.frozenPaths(), []);
    assert.equal(guestFsfreezeStatus({}, ctx), 'thawed');
    assert.equal(fs.existsSync(marker(ctx)), false, 'marker deleted');
    assert.equal(ctx.log.paused, false);
    assert.deepEqual(ctx.log.lines.slice(2), ['warning: logging re-enabled due to filesystem unfreeze', 'audit: guest-fsthaw called']);
  });

  it('thaw when nothing is frozen returns 0 and is harmless', async () => {
    const ctx = setup();
    assert.equal(await guestFsfreezeThaw({}, ctx), 0);
    assert.equal(guestFsfreezeStatus({}, ctx), 'thawed');
    // qemu-ga's ga_unset_frozen() does nothing when not frozen: no re-enabled warning.
    assert.deepEqual(ctx.log.lines, ['audit: guest-fsthaw called']);
  });

  it('freeze-list freezes only exact matches, ignores unknown entries, keeps reverse order', async () => {
    const ctx = setup();
    assert.equal(await guestFsfreezeFreezeList({ mountpoints: ['/', '/srv/data', '/nope', '/srv/data/'] }, ctx), 2);
    assert.deepEqual(ctx.fsops.log, ['freeze /srv/data', 'freeze /']);
  });

  it('0 filesystems frozen leaves the frozen state at once, and the thaw hook is not run', async () => {
    const ctx = setup({ hook: '/etc/qemu/fsfreeze-hook' });
    assert.equal(await guestFsfreezeFreezeList({ mountpoints: [] }, ctx), 0);
    assert.equal(guestFsfreezeStatus({}, ctx), 'thawed');
    assert.equal(fs.existsSync(marker(ctx)), false);
    assert.deepEqual(ctx.runner.argvs(), [['/etc/qemu/fsfreeze-hook', 'freeze']]);
  });

  it('EOPNOTSUPP and EBUSY are ignored and not counted', async () => {
    const ctx = setup();
    ctx.fsops.freezeErrno.set('/boot', 95);
    ctx.fsops.freezeErrno.set('/', 16);
    assert.equal(await guestFsfreezeFreeze({}, ctx), 1);
    assert.equal(guestFsfreezeStatus({}, ctx), 'frozen');
  });

  it('everything is thawed again when a freeze fails, and the freeze error is returned', async () => {
    const ctx = setup({ hook: '/hook' });
    ctx.fsops.freezeErrno.set('/boot', 5); // EIO
    assert.equal(await errorOf(() => guestFsfreezeFreeze({}, ctx)), 'failed to freeze /boot: Input/output error');
    assert.deepEqual(ctx.fsops.frozenPaths(), [], '/srv/data was thawed again');
    assert.equal(guestFsfreezeStatus({}, ctx), 'thawed');
    assert.equal(fs.existsSync(marker(ctx)), false);
    assert.deepEqual(ctx.runner.argvs(), [['/hook', 'freeze'], ['/hook', 'thaw']]);
  });

  it('a rollback whose thaw hook fails still returns the freeze error', async () => {
    const ctx = setup({ hook: '/hook' });
    ctx.fsops.freezeErrno.set('/', 1);
    ctx.runner.script = (argv) => (argv[1] === 'thaw' ? { code: 2, output: 'thaw broke\n' } : { code: 0 });
    assert.equal(await errorOf(() => guestFsfreezeFreeze({}, ctx)), 'failed to freeze /: Operation not permitted');
    assert.equal(guestFsfreezeStatus({}, ctx), 'thawed');
  });

  it('a mount point that cannot be opened fails the freeze with its errno', async () => {
    const ctx = setup();
    fs.rmdirSync(path.join(ctx.root, 'boot'));
    assert.equal(await errorOf(() => guestFsfreezeFreeze({}, ctx)), 'failed to open /boot: No such file or directory');
    assert.deepEqual(ctx.fsops.frozenPaths(), []);
    assert.equal(guestFsfreezeStatus({}, ctx), 'thawed');
  });

  it('the mount list error of qemu-ga when neither mountinfo nor mounts opens (before freezing)', async () => {
    const ctx = setup();
    fs.rmSync(path.join(ctx.root, 'proc'), { recursive: true });
    assert.equal(await errorOf(() => guestFsfreezeFreeze({}, ctx)), "failed to open mtab file: '/proc/self/mounts'");
    assert.equal(guestFsfreezeStatus({}, ctx), 'thawed');
  });

  it('a thaw whose mount list fails returns the error and stays frozen', async () => {
    const ctx = setup();
    await guestFsfreezeFreeze({}, ctx);
    fs.renameSync(path.join(ctx.root, 'proc'), path.join(ctx.root, 'proc.away'));
    assert.equal(await errorOf(() => guestFsfreezeThaw({}, ctx)), "failed to open mtab file: '/proc/self/mounts'");
    assert.equal(guestFsfreezeStatus({}, ctx), 'frozen');
    fs.renameSync(path.join(ctx.root, 'proc.away'), path.join(ctx.root, 'proc'));
    assert.equal(await guestFsfreezeThaw({}, ctx), 3);
  });
});

describe('fsfreeze hook', () => {
  it('runs `<hook> freeze` before anything is frozen and `<hook> thaw` after the thaw', async () => {
    const ctx = setup({ hook: '/etc/qemu/fsfreeze-hook' });
    const seen: string[] = [];
    ctx.runner.during = (rec) => seen.push(`${rec.argv[1]}: frozen=${ctx.filter.frozen} fs=${ctx.fsops.frozenPaths().length}`);
    await guestFsfreezeFreeze({}, ctx);
    await guestFsfreezeThaw({}, ctx);
    assert.deepEqual(seen, ['freeze: frozen=false fs=0', 'thaw: frozen=false fs=0']);
    assert.deepEqual(ctx.runner.calls.map((c) => c.action), ['execute fsfreeze hook', 'execute fsfreeze hook']);
    assert.equal(ctx.runner.calls[0].input, undefined, 'stdin is /dev/null');
    assert.ok(ctx.log.lines.includes("audit: executing fsfreeze hook with arg 'freeze'"));
    assert.ok(ctx.log.lines.includes("audit: executing fsfreeze hook with arg 'thaw'"));
  });

  it('a failing freeze hook aborts: nothing frozen, 10.2 text with the captured output', async () => {
    const ctx = setup({ hook: '/hook' });
    ctx.runner.script = () => ({ code: 1, output: 'database refused\n' });
    assert.equal(await errorOf(() => guestFsfreezeFreeze({}, ctx)), 'child process has failed to execute fsfreeze hook: database refused\n');
    assert.deepEqual(ctx.fsops.log, []);
    assert.equal(guestFsfreezeStatus({}, ctx), 'thawed');
  });

  it('texts: no output gives the exit status; a missing hook gives the exec failure; a signal', async () => {
    const ctx = setup({ hook: '/no/such/hook' });
    ctx.runner.script = () => ({ code: 3 });
    assert.equal(await errorOf(() => guestFsfreezeFreeze({}, ctx)), 'child process has failed to execute fsfreeze hook: exit status 3');
    ctx.runner.script = () => ({ execError: 'ENOENT' });
    assert.equal(
      await errorOf(() => guestFsfreezeFreeze({}, ctx)),
      "child process has failed to execute fsfreeze hook: failed to exec '/no/such/hook': No such file or directory\n",
    );
    ctx.runner.script = () => ({ signal: 'SIGKILL' });
    assert.equal(await errorOf(() => guestFsfreezeFreeze({}, ctx)), 'child process has terminated abnormally');
  });

  it('a failing thaw hook is returned although the filesystems are thawed', async () => {
    const ctx = setup({ hook: '/hook' });
    await guestFsfreezeFreeze({}, ctx);
    ctx.runner.script = () => ({ code: 1, output: 'oops\n' });
    assert.equal(await errorOf(() => guestFsfreezeThaw({}, ctx)), 'child process has failed to execute fsfreeze hook: oops\n');
    assert.equal(guestFsfreezeStatus({}, ctx), 'thawed');
    assert.deepEqual(ctx.fsops.frozenPaths(), []);
  });
});

describe('the frozen state across restarts', () => {
  it('an agent that starts frozen reports frozen, thaws, writes the deferred pidfile once', async () => {
    const ctx = setup({ frozen: true, deferredPidfile: true });
    fs.writeFileSync(marker(ctx), '');
    assert.equal(guestFsfreezeStatus({}, ctx), 'frozen');
    assert.equal(ctx.filter.isEnabled('guest-exec'), false);
    assert.equal(await guestFsfreezeThaw({}, ctx), 0);
    assert.equal(ctx.pidfileWrites, 1);
    assert.equal(fs.existsSync(marker(ctx)), false);
    assert.equal(ctx.filter.isEnabled('guest-exec'), true);
    await guestFsfreezeFreeze({}, ctx);
    await guestFsfreezeThaw({}, ctx);
    assert.equal(ctx.pidfileWrites, 1, 'only once');
  });

  it('with a real logger: the freeze warning is the last line, nothing while frozen, the thaw warning first after', async () => {
    const r = mountRoot(MOUNTS);
    cleanups.push(r.cleanup);
    const ctx = sysContext({ root: r.root });
    cleanups.push(ctx.cleanup);
    const logPath = path.join(ctx.stateDir, 'qga.log');
    const logger = new AgentLogger({ syslog: () => {} });
    logger.install({ verbose: true });
    logger.openFile(logPath);
    const freeze = new FreezeController({ filter: ctx.filter, log: logger, paths: statePaths(ctx.stateDir), hook: null, timeoutSec: 0 });
    freeze.enter();
    logger.warning('must not appear');
    logger.critical('must not appear either');
    freeze.leave();
    logger.close();
    const lines = fs.readFileSync(logPath, 'utf8').trim().split('\n').map((l) => l.replace(/^\d+\.\d{6}: /, ''));
    assert.deepEqual(lines, ['warning: disabling logging due to filesystem freeze', 'warning: logging re-enabled due to filesystem unfreeze']);
  });

  it('-v: the commands a freeze disables and a thaw enables are logged one by one, in registration order', () => {
    const ctx = sysContext();
    cleanups.push(ctx.cleanup);
    const logPath = path.join(ctx.stateDir, 'qga.log');
    const logger = new AgentLogger({ syslog: () => {} });
    logger.install({ verbose: true });
    logger.openFile(logPath);
    const filter = new CommandFilter(null, ['guest-get-time']);
    const names = [...commandTable.keys()];
    const freeze = new FreezeController({ filter, commandNames: names, log: logger, paths: statePaths(ctx.stateDir), hook: null, timeoutSec: 0 });
    freeze.enter();
    freeze.leave();
    logger.close();
    const lines = fs.readFileSync(logPath, 'utf8').trim().split('\n').map((l) => l.replace(/^\d+\.\d{6}: /, ''));
    const changed = names.filter((n) => !FREEZE_ALLOWLIST.has(n));
    assert.deepEqual(lines, [
      'warning: disabling logging due to filesystem freeze',
      ...changed.filter((n) => n !== 'guest-get-time').map((n) => `debug: disabling command: ${n}`),
      'warning: logging re-enabled due to filesystem unfreeze',
      ...changed.filter((n) => n !== 'guest-get-time').map((n) => `debug: enabling command: ${n}`),
    ]);
  });

  it('the marker cannot be created: the freeze goes on, its warnings are silent (logging is off)', async () => {
    const r = mountRoot(MOUNTS);
    cleanups.push(r.cleanup);
    const filter = new CommandFilter(null, []);
    const lines: string[] = [];
    let paused = false;
    const log = {
      critical: (m: string) => !paused && lines.push(m),
      warning: (m: string) => !paused && lines.push(m),
      pause: () => (paused = true),
      resume: () => (paused = false),
    };
    const freeze = new FreezeController({ filter, log, paths: statePaths('/nonexistent-qga-dir'), hook: null, timeoutSec: 0 });
    freeze.enter();
    assert.equal(filter.frozen, true);
    freeze.leave();
    assert.deepEqual(lines, [
      'disabling logging due to filesystem freeze',
      'logging re-enabled due to filesystem unfreeze',
      'unable to delete file: /nonexistent-qga-dir/qga.state.isfrozen: No such file or directory',
      'unable to delete /nonexistent-qga-dir/qga.state.isfrozen, fsfreeze may not function properly',
    ]);
  });

  it('beforeExit thaws (hook run synchronously) when the agent must exit while frozen', async () => {
    const ctx = setup({ hook: '/hook' });
    await guestFsfreezeFreeze({}, ctx);
    ctx.freeze.beforeExit();
    assert.deepEqual(ctx.fsops.frozenPaths(), []);
    assert.equal(ctx.filter.frozen, false);
    assert.equal(fs.existsSync(marker(ctx)), false);
    assert.deepEqual(ctx.runner.calls.map((c) => [c.kind, ...c.argv]), [
      ['run', '/hook', 'freeze'],
      ['runSync', '/hook', 'thaw'],
    ]);
    // Not frozen: nothing to do.
    ctx.freeze.beforeExit();
    assert.equal(ctx.runner.calls.length, 2);
  });
});

describe('fsfreeze-timeout watchdog (qga-ts extension)', () => {
  it('thaws after the timeout, logs it; the next thaw returns 0 and logs that the watchdog had thawed', async () => {
    const ctx = setup({ timeoutSec: 30, hook: '/hook' });
    assert.equal(await guestFsfreezeFreeze({}, ctx), 3);
    ctx.timers.advance(29_000);
    await settle();
    assert.equal(guestFsfreezeStatus({}, ctx), 'frozen');
    ctx.timers.advance(1_000);
    await settle();
    assert.equal(guestFsfreezeStatus({}, ctx), 'thawed');
    assert.deepEqual(ctx.fsops.frozenPaths(), []);
    assert.deepEqual(ctx.runner.argvs().at(-1), ['/hook', 'thaw']);
    const msg = 'fsfreeze-timeout: filesystems frozen for 30 s (limit 30 s): thawed 3 filesystem(s)';
    assert.ok(ctx.log.lines.includes(`warning: ${msg}`));
    assert.ok(ctx.log.lines.includes(`audit: ${msg}`));
    assert.equal(await guestFsfreezeThaw({}, ctx), 0);
    assert.ok(
      ctx.log.lines.includes(
        'warning: guest-fsfreeze-thaw: the fsfreeze-timeout watchdog had already thawed 3 filesystem(s) after 30 s frozen; 0 thawed now',
      ),
    );
    // Reported once only.
    const n = ctx.log.lines.length;
    await guestFsfreezeThaw({}, ctx);
    assert.equal(ctx.log.lines.filter((l) => l.includes('had already thawed')).length, 1);
    assert.ok(ctx.log.lines.length > n);
  });

  it('is disarmed by a thaw, and armed afresh by the next freeze', async () => {
    const ctx = setup({ timeoutSec: 10 });
    await guestFsfreezeFreeze({}, ctx);
    ctx.timers.advance(5_000);
    await guestFsfreezeThaw({}, ctx);
    assert.equal(ctx.timers.pending.size, 0);
    await guestFsfreezeFreeze({}, ctx);
    ctx.timers.advance(9_000);
    await settle();
    assert.equal(guestFsfreezeStatus({}, ctx), 'frozen');
    ctx.timers.advance(1_000);
    await settle();
    assert.equal(guestFsfreezeStatus({}, ctx), 'thawed');
  });

  it('off by default (0): nothing is ever scheduled', async () => {
    const ctx = setup();
    await guestFsfreezeFreeze({}, ctx);
    assert.equal(ctx.timers.pending.size, 0);
  });

  it('also thaws an agent that started frozen', async () => {
    const ctx = setup({ timeoutSec: 5, frozen: true, deferredPidfile: true });
    assert.equal(ctx.timers.pending.size, 1);
    ctx.timers.advance(5_000);
    await settle();
    assert.equal(guestFsfreezeStatus({}, ctx), 'thawed');
    assert.equal(ctx.pidfileWrites, 1);
  });

  it('retries later when the mount list cannot be read (still frozen)', async () => {
    const ctx = setup({ timeoutSec: 5 });
    await guestFsfreezeFreeze({}, ctx);
    fs.renameSync(path.join(ctx.root, 'proc'), path.join(ctx.root, 'proc.away'));
    ctx.timers.advance(5_000);
    await settle();
    assert.equal(guestFsfreezeStatus({}, ctx), 'frozen');
    fs.renameSync(path.join(ctx.root, 'proc.away'), path.join(ctx.root, 'proc'));
    ctx.timers.advance(5_000);
    await settle();
    assert.equal(guestFsfreezeStatus({}, ctx), 'thawed');
  });

  it('a client thaw waiting behind a watchdog thaw (or the reverse) is serialized', async () => {
    const ctx = setup({ timeoutSec: 1, hook: '/hook' });
    await guestFsfreezeFreeze({}, ctx);
    ctx.timers.advance(1_000);
    const t = guestFsfreezeThaw({}, ctx);
    await settle();
    assert.equal(await t, 0);
    // freeze hook, watchdog thaw hook, client thaw hook: never interleaved.
    assert.deepEqual(ctx.runner.argvs().map((a) => a[1]), ['freeze', 'thaw', 'thaw']);
  });

  it('long timeouts are chained below the setTimeout limit', async () => {
    const ctx = setup({ timeoutSec: 3_000_000 }); // ~34.7 days
    await guestFsfreezeFreeze({}, ctx);
    const [first] = [...ctx.timers.pending.values()];
    assert.ok(first.at - ctx.timers.now <= 0x7fffffff);
    ctx.timers.advance(0x7fffffff);
    await settle();
    assert.equal(guestFsfreezeStatus({}, ctx), 'frozen');
    ctx.timers.advance(3_000_000_000 - 0x7fffffff);
    await settle();
    assert.equal(guestFsfreezeStatus({}, ctx), 'thawed');
  });
});

describe('without system services', () => {
  it('freeze and thaw answer unsupported; status still answers', async () => {
    const ctx = fakeContext();
    assert.equal(await errorOf(() => guestFsfreezeFreeze({}, ctx)), 'this feature or command is not currently supported');
    assert.equal(await errorOf(() => guestFsfreezeThaw({}, ctx)), 'this feature or command is not currently supported');
    assert.equal(guestFsfreezeStatus({}, ctx), 'thawed');
  });
});
