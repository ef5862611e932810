// guest-set-time: the year check, settimeofday (faked) with C division, then /sbin/hwclock -w / -s through
// the recording runner. The test machine's clock is never touched.
import { describe, it } from 'node:test';
import * as assert from 'node:assert/strict';
import { guestSetTime } from '../../src/commands/set-time.ts';
import { errorOf, fakeContext } from '../support/handler-context.ts';
import { sysContext, type SysContext, cleanupsAfterEach } from '../support/sysctl.ts';

const cleanups = cleanupsAfterEach();

function setup(): SysContext {
  const ctx = sysContext();
  cleanups.push(ctx.cleanup);
  return ctx;
}

const HWCLOCK = 'set hardware clock to system time';

describe('guest-set-time', () => {
  it('with time: settimeofday(sec, usec) then /sbin/hwclock -w', async () => {
    const ctx = setup();
    assert.deepEqual(await guestSetTime({ time: 1_700_000_000_123_456_789n }, ctx), {});
    assert.deepEqual(ctx.setTimeCalls, [[1_700_000_000n, 123_456n]]);
    assert.deepEqual(ctx.runner.calls, [{ kind: 'run', argv: ['/sbin/hwclock', '-w'], action: HWCLOCK }]);
  });

  it('without time: only /sbin/hwclock -s', async () => {
    const ctx = setup();
    await guestSetTime({}, ctx);
    assert.deepEqual(ctx.setTimeCalls, []);
    assert.deepEqual(ctx.runner.argvs(), [['/sbin/hwclock', '-s']]);
  });

  it('years outside [1970, 2070) are "Invalid time" and change nothing', async () => {
    const ctx = setup();
    const old = process.env.TZ;
    process.env.TZ = 'UTC';
    try {
      for (const t of [-1_000_000_000n, 3_155_760_000_000_000_000n, 9_223_372_036_854_775_807n]) {
        assert.equal(await errorOf(() => guestSetTime({ time: t }, ctx)), 'Invalid time', String(t));
      }
      // 2069-12-31T23:59:59Z passes, (-1e9, 0) truncates to second 0 and passes the check.
      await guestSetTime({ time: 3_155_759_999_000_000_000n }, ctx);
      await guestSetTime({ time: -500_000_000n }, ctx);
      assert.deepEqual(ctx.setTimeCalls, [
        [3_155_759_999n, 0n],
        [0n, -500_000n],
      ]);
    } finally {
      if (old === undefined) delete process.env.TZ;
      else process.env.TZ = old;
    }
    assert.equal(ctx.runner.calls.length, 2);
  });

  it('settimeofday failure: "Failed to set time to guest: <strerror>", no hwclock', async () => {
    const ctx = setup();
    ctx.setTimeErrno = 1;
    assert.equal(await errorOf(() => guestSetTime({ time: 1_700_000_000_000_000_000n }, ctx)), 'Failed to set time to guest: Operation not permitted');
    assert.equal(ctx.runner.calls.length, 0);
  });

  it('hwclock failures carry 10.2 texts (missing program: the exec failure output)', async () => {
    const ctx = setup();
    ctx.runner.script = () => ({ execError: 'ENOENT' });
    assert.equal(
      await errorOf(() => guestSetTime({ time: 1_700_000_000_000_000_000n }, ctx)),
      "child process has failed to set hardware clock to system time: failed to exec '/sbin/hwclock': No such file or directory\n",
    );
    assert.equal(ctx.setTimeCalls.length, 1, 'the clock was set before hwclock ran, as in 10.2');
    ctx.runner.script = () => ({ code: 1, output: 'hwclock: Cannot access the Hardware Clock via any known method.\n' });
    assert.equal(
      await errorOf(() => guestSetTime({}, ctx)),
      'child process has failed to set hardware clock to system time: hwclock: Cannot access the Hardware Clock via any known method.\n',
    );
  });

  it('without system services: unsupported', async () => {
    assert.equal(await errorOf(() => guestSetTime({ time: 1n }, fakeContext())), 'this feature or command is not currently supported');
  });
});
