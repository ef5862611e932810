// exec: run a program in the guest.

import { GuestExecTimeoutError, runGuestCommand, shellStatus } from '../../exec.ts';
import { readAll, writeOut } from '../io.ts';
import { PROG, secondsOption, type Verb } from '../verb.ts';

export const exec: Verb = {
  name: 'exec',
  synopsis: '[OPTIONS] [--] PROGRAM [ARG...]',
  summary: 'run a program in the guest and show its output (guest-exec)',
  details:
    "Runs PROGRAM (searched in the guest's PATH) with output capture, polls guest-exec-status\n" +
    "until it exits, copies its stdout and stderr here, and exits with the program's exit\n" +
    'code (128 + the signal number when a signal ended it). The options end at PROGRAM.\n' +
    'A qga-ts agent with the exec extensions (__io.qga-ts_guest-exec*, see guest-info) runs it\n' +
    'in a process group of its own and its output is printed as it arrives; other agents\n' +
    '(qemu-ga) print it when the program has exited.',
  options: {
    stdin: { type: 'boolean', help: "pass this command's standard input to the program (input-data)" },
    env: { type: 'string', multiple: true, value: 'NAME=VALUE', help: "an environment entry for the program (repeatable; replaces the agent's environment)" },
    'no-capture': { type: 'boolean', help: 'do not capture the output; only wait for the exit status' },
    timeout: {
      type: 'string',
      value: 'S',
      help: "after S seconds kill the program's whole process group (qga-ts agents) and exit 124; qemu-ga cannot kill it: it keeps running",
    },
  },
  operands: [1, Infinity],
  stopAtOperand: true,
  async run(ctx, values, operands) {
    const [program, ...args] = operands as [string, ...string[]];
    let waitTimeout: number | undefined;
    if (values.timeout !== undefined) waitTimeout = secondsOption(String(values.timeout), '--timeout') * 1000;
    const input = values.stdin ? await readAll(process.stdin) : undefined;
    const c = await ctx.client();
    let r;
    try {
      r = await runGuestCommand(c, program, {
        args,
        ...(values.env === undefined ? {} : { env: values.env as string[] }),
        ...(input === undefined ? {} : { input }),
        capture: !values['no-capture'],
        ...(waitTimeout === undefined ? {} : { waitTimeout }),
        // --json prints the final status only.
        ...(ctx.json ? {} : { onOutput: (stream: 'stdout' | 'stderr', data: Buffer) => writeOut(stream === 'stdout' ? process.stdout : process.stderr, data) }),
      });
    } catch (e) {
      if (e instanceof GuestExecTimeoutError) {
        ctx.err(`${PROG}: ${e.message} (this agent cannot kill it)`);
        return 124;
      }
      throw e;
    }
    if (ctx.json) {
      ctx.printJson(r.rawStatus);
    } else {
      if (r.outTruncated) ctx.err(`${PROG}: warning: the agent truncated the program's standard output`);
      if (r.errTruncated) ctx.err(`${PROG}: warning: the agent truncated the program's standard error`);
    }
    if (r.killedAfterTimeout) {
      ctx.err(`${PROG}: the guest process ${r.pid} ran longer than ${waitTimeout! / 1000} s: its process group was killed`);
      return 124;
    }
    return shellStatus(r);
  },
};
