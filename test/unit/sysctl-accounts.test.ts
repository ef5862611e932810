// guest-set-user-password: checks before anything runs, chpasswd argv and stdin (recording runner only).
import { describe, it } from 'node:test';
import * as assert from 'node:assert/strict';
import { chpasswdInput, guestSetUserPassword } from '../../src/commands/accounts.ts';
import { errorOf, fakeContext } from '../support/handler-context.ts';
import { sysContext, type SysContext, cleanupsAfterEach } from '../support/sysctl.ts';

const cleanups = cleanupsAfterEach();

function setup(): SysContext {
  const ctx = sysContext();
  cleanups.push(ctx.cleanup);
  return ctx;
}

const b64 = (s: string | Buffer) => Buffer.from(s).toString('base64');

describe('guest-set-user-password', () => {
  it('runs chpasswd with "<user>:<password>\\n" on stdin; -e when crypted', async () => {
    const ctx = setup();
    await guestSetUserPassword({ username: 'alice', password: b64('s3cr:et'), crypted: false }, ctx);
    await guestSetUserPassword({ username: 'alice', password: b64('$6$salt$hash'), crypted: true }, ctx);
    assert.deepEqual(ctx.runner.calls, [
      { kind: 'run', argv: ['chpasswd'], action: 'set user password', input: 'alice:s3cr:et\n' },
      { kind: 'run', argv: ['chpasswd', '-e'], action: 'set user password', input: 'alice:$6$salt$hash\n' },
    ]);
  });

  it('qemu-ga 7.2 texts (observed) for forbidden characters, checked in its order, nothing run', async () => {
    const ctx = setup();
    assert.equal(await errorOf(() => guestSetUserPassword({ username: 'a:b', password: 'YWJj', crypted: false }, ctx)), 'forbidden characters in username');
    assert.equal(await errorOf(() => guestSetUserPassword({ username: 'a\nb', password: 'YWJj', crypted: false }, ctx)), 'forbidden characters in username');
    // The password is checked first.
    assert.equal(await errorOf(() => guestSetUserPassword({ username: 'a:b', password: 'YQpi', crypted: false }, ctx)), 'forbidden characters in raw password');
    assert.equal(await errorOf(() => guestSetUserPassword({ username: 'x', password: '!!', crypted: false }, ctx)), 'Base64 data contains invalid characters');
    assert.equal(ctx.runner.calls.length, 0);
  });

  it('the password ends at a NUL byte (a C string): no line can be smuggled behind it', () => {
    assert.equal(chpasswdInput('bob', b64(Buffer.from('pw\0\nroot:x'))).toString('latin1'), 'bob:pw\n');
    // A CR is no line break for chpasswd; bytes pass through as they are.
    assert.equal(chpasswdInput('bob', b64(Buffer.from([0x70, 0x0d, 0xff]))).toString('latin1'), 'bob:p\r\xff\n');
    // A NUL in the username is the two bytes QEMU's JSON parser makes of it.
    assert.equal(chpasswdInput('a\0b', b64('x')).toString('latin1'), 'a\xc0\x80b:x\n');
  });

  it('chpasswd failure: its output in the 10.2 text', async () => {
    const ctx = setup();
    ctx.runner.script = () => ({ code: 1, output: "chpasswd: line 1: user 'nobody2' does not exist\nchpasswd: error detected, changes ignored\n" });
    assert.equal(
      await errorOf(() => guestSetUserPassword({ username: 'nobody2', password: b64('x'), crypted: false }, ctx)),
      "child process has failed to set user password: chpasswd: line 1: user 'nobody2' does not exist\nchpasswd: error detected, changes ignored\n",
    );
  });

  it('without system services: unsupported', async () => {
    assert.equal(await errorOf(() => guestSetUserPassword({ username: 'a', password: 'YQ==', crypted: false }, fakeContext())), 'this feature or command is not currently supported');
  });
});
