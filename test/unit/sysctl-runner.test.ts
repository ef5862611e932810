// The 10.2 child helper (ChildRunner) with harmless children only (/bin/sh printing and exiting), and the
// recording runner's texts, which come from the same verdict function.
import { describe, it } from 'node:test';
import * as assert from 'node:assert/strict';
import { ChildRunner, childVerdict, execFailureOutput, outputText } from '../../src/platform/linux/runner.ts';
import { errorOf } from '../support/handler-context.ts';

const runner = new ChildRunner(process.env);
const act = { action: 'do the thing' };

describe('ChildRunner.run (ga_run_command)', () => {
  it('resolves on exit 0', async () => {
    await runner.run(['/bin/sh', '-c', 'echo fine; exit 0'], act);
  });

  it('non-zero exit: stdout and stderr captured together, verbatim with the newline', async () => {
    assert.equal(
      await errorOf(() => runner.run(['/bin/sh', '-c', 'echo out; echo err >&2; exit 4'], act)),
      'child process has failed to do the thing: out\nerr\n',
    );
  });

  it('non-zero exit without output: the exit status', async () => {
    assert.equal(await errorOf(() => runner.run(['/bin/sh', '-c', 'exit 7'], act)), 'child process has failed to do the thing: exit status 7');
  });

  it('killed by a signal: terminated abnormally, with or without output', async () => {
    assert.equal(await errorOf(() => runner.run(['/bin/sh', '-c', 'kill -9 $$'], act)), 'child process has terminated abnormally');
    assert.equal(
      await errorOf(() => runner.run(['/bin/sh', '-c', 'echo dying; kill -9 $$'], act)),
      'child process has terminated abnormally: dying\n',
    );
  });

  it('exec failure: the output 10.2 child prints (perror) and exit status 1', async () => {
    assert.equal(
      await errorOf(() => runner.run(['/nonexistent/qga-hook', 'freeze'], { action: 'execute fsfreeze hook' })),
      "child process has failed to execute fsfreeze hook: failed to exec '/nonexistent/qga-hook': No such file or directory\n",
    );
    assert.equal(
      await errorOf(() => runner.run(['qga-no-such-program-anywhere'], { action: 'set user password' })),
      "child process has failed to set user password: failed to exec 'qga-no-such-program-anywhere': No such file or directory\n",
    );
  });

  it('the child is a session leader, stdin is /dev/null, argv is passed as given', async () => {
    await runner.run(
      [
        '/bin/sh',
        '-c',
        '[ "$0" = argzero ] && [ "$1" = "a b" ] || { echo argv; exit 1; }; ' +
          '[ "$(readlink /proc/$$/fd/0)" = /dev/null ] || { echo stdin; exit 1; }; ' +
          'read -r s < /proc/$$/stat; set -- $s; [ "$6" = "$$" ] || { echo "sid $6 pid $$"; exit 1; }',
        'argzero',
        'a b',
      ],
      act,
    );
  });

  it('input goes to stdin through a pipe, then EOF', async () => {
    assert.equal(
      await errorOf(() => runner.run(['/bin/sh', '-c', 'cat; [ -p /proc/self/fd/0 ] || readlink /proc/$$/fd/0; exit 1'], { action: 'x', input: Buffer.from('user:pw\n') })),
      'child process has failed to x: user:pw\n',
    );
  });

  it('a large output does not block (read while the child runs)', async () => {
    const err = await errorOf(() => runner.run(['/bin/sh', '-c', 'head -c 300000 /dev/zero | tr "\\0" a; exit 1'], act));
    assert.equal(err.length, 'child process has failed to do the thing: '.length + 300000);
  });

  it('the output stops at a NUL byte (%s), invalid UTF-8 becomes U+FFFD', () => {
    assert.equal(outputText(Buffer.from('ab\0cd')), 'ab');
    assert.equal(outputText(Buffer.from([0x61, 0xff, 0x62])), 'a\uFFFDb');
    assert.throws(() => childVerdict('x', Buffer.from('\0hidden'), 1, null), { desc: 'child process has failed to x: ' });
    assert.equal(execFailureOutput('/sbin/hwclock', { code: 'EACCES' }).toString(), "failed to exec '/sbin/hwclock': Permission denied\n");
  });
});

describe('ChildRunner.runSync', () => {
  it('same verdicts, blocking', () => {
    runner.runSync(['/bin/sh', '-c', 'exit 0'], act);
    assert.throws(() => runner.runSync(['/bin/sh', '-c', 'echo no; exit 2'], act), { desc: 'child process has failed to do the thing: no\n' });
    assert.throws(() => runner.runSync(['/nonexistent/x'], act), { desc: "child process has failed to do the thing: failed to exec '/nonexistent/x': No such file or directory\n" });
  });
});

describe('ChildRunner.status (run_process_child)', () => {
  it('exit status; -1 for a program that does not exist; 0 for a signal', async () => {
    assert.equal(await runner.status(['/bin/sh', '-c', 'exit 3']), 3);
    assert.equal(await runner.status(['qga-no-such-program-anywhere', 'status']), -1);
    assert.equal(await runner.status(['/bin/sh', '-c', 'kill -9 $$']), 0);
  });

  it('other spawn failures: GLib text', async () => {
    assert.equal(
      await errorOf(() => runner.status(['/etc/passwd'])),
      "failed to create child process, error 'Failed to execute child process \u201C/etc/passwd\u201D (Permission denied)'",
    );
  });

  it('canExecute is access(X_OK)', () => {
    assert.equal(runner.canExecute('/bin/sh'), true);
    assert.equal(runner.canExecute('/nonexistent/x'), false);
  });
});
