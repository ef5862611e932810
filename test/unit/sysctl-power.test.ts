// guest-shutdown and guest-suspend-*: argv choice, mode validation (with the `)` fix), strategies in
// qemu-ga's order. A recording runner only: nothing is ever shut down or suspended.
import { describe, it } from 'node:test';
import * as assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { guestShutdown, guestSuspendDisk, guestSuspendHybrid, guestSuspendRam, shutdownArgv } from '../../src/commands/power.ts';
import { errorOf, fakeContext } from '../support/handler-context.ts';
import { sysContext, type Outcome, type SysContext, cleanupsAfterEach } from '../support/sysctl.ts';

const cleanups = cleanupsAfterEach();

function setup(): SysContext {
  const ctx = sysContext();
  cleanups.push(ctx.cleanup);
  return ctx;
}

const SHUTDOWN = 'hypervisor initiated shutdown';

describe('guest-shutdown', () => {
  it('prefers /sbin/poweroff, /sbin/halt, /sbin/reboot with no arguments when executable', async () => {
    const ctx = setup();
    ctx.runner.executable = new Set(['/sbin/poweroff', '/sbin/halt', '/sbin/reboot']);
    await guestShutdown({}, ctx);
    await guestShutdown({ mode: 'powerdown' }, ctx);
    await guestShutdown({ mode: 'halt' }, ctx);
    await guestShutdown({ mode: 'reboot' }, ctx);
    assert.deepEqual(ctx.runner.argvs(), [['/sbin/poweroff'], ['/sbin/poweroff'], ['/sbin/halt'], ['/sbin/reboot']]);
    assert.deepEqual(ctx.runner.calls.map((c) => c.action), ['shutdown', 'shutdown', 'shutdown', 'shutdown']);
    assert.deepEqual(ctx.log.lines, [
      'audit: guest-shutdown called, mode: (null)',
      'audit: guest-shutdown called, mode: powerdown',
      'audit: guest-shutdown called, mode: halt',
      'audit: guest-shutdown called, mode: reboot',
    ]);
  });

  it('falls back to /sbin/shutdown -h -P/-H/-r +0 "hypervisor initiated shutdown"', async () => {
    const ctx = setup();
    await guestShutdown({}, ctx);
    await guestShutdown({ mode: 'halt' }, ctx);
    await guestShutdown({ mode: 'reboot' }, ctx);
    assert.deepEqual(ctx.runner.argvs(), [
      ['/sbin/shutdown', '-h', '-P', '+0', SHUTDOWN],
      ['/sbin/shutdown', '-h', '-H', '+0', SHUTDOWN],
      ['/sbin/shutdown', '-h', '-r', '+0', SHUTDOWN],
    ]);
  });

  it('an invalid mode is refused before anything runs, with the closing parenthesis (docs/compatibility.md §Intended differences)', async () => {
    const ctx = setup();
    for (const mode of ['bogus', '', 'Halt', 'toString', '__proto__']) {
      assert.equal(await errorOf(() => guestShutdown({ mode }, ctx)), 'mode is invalid (valid values are: halt|powerdown|reboot)');
    }
    assert.equal(ctx.runner.calls.length, 0);
    assert.equal(ctx.log.lines[0], 'audit: guest-shutdown called, mode: bogus', 'logged before the check, as qemu-ga');
  });

  it('a failing helper: 10.2 text with its output', async () => {
    const ctx = setup();
    ctx.runner.script = () => ({ code: 1, output: 'Failed to connect to bus\n' });
    assert.equal(await errorOf(() => guestShutdown({}, ctx)), 'child process has failed to shutdown: Failed to connect to bus\n');
  });

  it('shutdownArgv is pure', () => {
    assert.deepEqual(shutdownArgv('halt', () => true), ['/sbin/halt']);
    assert.deepEqual(shutdownArgv(undefined, () => false), ['/sbin/shutdown', '-h', '-P', '+0', SHUTDOWN]);
  });

  it('without system services: unsupported, nothing run', async () => {
    assert.equal(await errorOf(() => guestShutdown({}, fakeContext())), 'this feature or command is not currently supported');
  });
});

type Script = Record<string, Outcome>;

function suspendSetup(script: Script, powerState?: string): SysContext {
  const ctx = setup();
  ctx.runner.script = (argv) => script[argv.join(' ')] ?? { execError: 'ENOENT' };
  if (powerState !== undefined) {
    fs.mkdirSync(path.join(ctx.root, 'sys/power'), { recursive: true });
    fs.writeFileSync(path.join(ctx.root, 'sys/power/state'), powerState);
  }
  return ctx;
}

describe('guest-suspend-*', () => {
  it('systemd: status exit 1-3 means supported, then systemctl <verb>', async () => {
    for (const [fn, unit, verb] of [
      [guestSuspendDisk, 'systemd-hibernate', 'hibernate'],
      [guestSuspendRam, 'systemd-suspend', 'suspend'],
      [guestSuspendHybrid, 'systemd-hybrid-sleep', 'hybrid-sleep'],
    ] as const) {
      const ctx = suspendSetup({ [`systemctl status ${unit}`]: { code: 3 }, [`systemctl ${verb}`]: { code: 0 } });
      await fn({}, ctx);
      assert.deepEqual(ctx.runner.argvs('status'), [['systemctl', 'status', unit], ['systemctl', verb]]);
    }
  });

  it('systemd status 4 (no such unit): pm-utils next, pm-is-supported exit 0 then pm-suspend', async () => {
    const ctx = suspendSetup({
      'systemctl status systemd-suspend': { code: 4 },
      'pm-is-supported --suspend': { code: 0 },
      'pm-suspend': { code: 0 },
    });
    await guestSuspendRam({}, ctx);
    assert.deepEqual(ctx.runner.argvs('status'), [['systemctl', 'status', 'systemd-suspend'], ['pm-is-supported', '--suspend'], ['pm-suspend']]);
  });

  // The fixture is a regular file: the write (no O_TRUNC, as on sysfs) lands over its first bytes.
  const written = (ctx: SysContext, n: number) => fs.readFileSync(path.join(ctx.root, 'sys/power/state'), 'utf8').slice(0, n);

  it('sysfs last: "mem" in /sys/power/state, then "mem" written to it (under the root)', async () => {
    const ctx = suspendSetup({}, 'freeze mem disk\n');
    await guestSuspendRam({}, ctx);
    assert.equal(written(ctx, 7), 'memeze ');
    const ctx2 = suspendSetup({}, 'freeze mem disk\n');
    await guestSuspendDisk({}, ctx2);
    assert.equal(written(ctx2, 7), 'diskze ');
    assert.deepEqual(ctx2.runner.argvs('status'), [['systemctl', 'status', 'systemd-hibernate'], ['pm-is-supported', '--hibernate']]);
  });

  it('nothing supports the mode: "not supported"; hybrid never uses sysfs', async () => {
    assert.equal(await errorOf(() => guestSuspendDisk({}, suspendSetup({}, 'freeze mem\n'))), 'the requested suspend mode is not supported by the guest');
    assert.equal(await errorOf(() => guestSuspendHybrid({}, suspendSetup({}, 'freeze mem disk\n'))), 'the requested suspend mode is not supported by the guest');
    assert.equal(await errorOf(() => guestSuspendRam({}, suspendSetup({}))), 'the requested suspend mode is not supported by the guest');
  });

  it('a supported strategy that fails falls through to the next one', async () => {
    const ctx = suspendSetup({ 'systemctl status systemd-suspend': { code: 3 }, 'systemctl suspend': { code: 1 } }, 'mem\n');
    await guestSuspendRam({}, ctx);
    assert.equal(written(ctx, 4), 'mem\n');
    assert.deepEqual(ctx.runner.argvs('status').at(-1), ['pm-is-supported', '--suspend']);
  });

  it('errors of the last supporting strategy: systemctl, pm-utils, sysfs texts', async () => {
    assert.equal(
      await errorOf(() => guestSuspendRam({}, suspendSetup({ 'systemctl status systemd-suspend': { code: 3 }, 'systemctl suspend': { code: 5 } }))),
      "the helper program 'systemctl suspend' returned an unexpected exit status code (5)",
    );
    assert.equal(
      await errorOf(() => guestSuspendDisk({}, suspendSetup({ 'pm-is-supported --hibernate': { code: 0 }, 'pm-hibernate': { code: 2 } }))),
      "the helper program 'pm-hibernate' returned an unexpected exit status code (2)",
    );
    assert.equal(
      await errorOf(() => guestSuspendHybrid({}, suspendSetup({ 'pm-is-supported --suspend-hybrid': { code: 0 } }))),
      "the helper program 'pm-suspend-hybrid' was not found",
    );
  });

  it('pm-is-supported with another status is "not supported" (its error is discarded)', async () => {
    const ctx = suspendSetup({ 'pm-is-supported --suspend': { code: 1 } });
    assert.equal(await errorOf(() => guestSuspendRam({}, ctx)), 'the requested suspend mode is not supported by the guest');
  });
});
