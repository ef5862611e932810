// Running a program in the guest: guest-exec, then guest-exec-status polled with a backoff
// (5 ms at first, growing by half each time up to 250 ms, so short commands return fast and
// long ones cost few calls) until the process has exited.
//
// qemu-ga forgets a process once it reported it exited, so the final status is returned
// whole. Output is capped by the agent (16 MiB per stream in qemu-ga); out-truncated and
// err-truncated say when it was cut.
//
// With `onOutput`, against an agent that lists the qga-ts exec extensions as enabled in
// guest-info, exec-stream.ts runs the program instead: output arrives as it is written, and a
// wait timeout kills the program's whole process group.

import type { CallOptions, QgaClient } from './client.ts';
import { replyFromWire } from './convert.ts';
import { QgaClientError } from './errors.ts';
import type { GuestExecStatus } from '../generated/qapi-client.ts';
import type { JsonValue } from '../json/value.ts';
import { execExtensions, runStreamed } from './exec-stream.ts';

export interface RunOptions {
  args?: string[];
  /** Environment entries, NAME=VALUE. */
  env?: string[];
  /** Bytes for the program's standard input. */
  input?: Buffer;
  /** Capture stdout and stderr (default true). */
  capture?: boolean;
  /** Milliseconds to wait for the program to exit (default: forever). */
  waitTimeout?: number;
  /** Called once the guest started the program. */
  onStart?: (pid: bigint) => void;
  /** Per-call options (timeout). */
  call?: CallOptions;
  /** First and largest delay between status polls, in milliseconds (default 5 and 250). */
  pollMin?: number;
  pollMax?: number;
  /**
   * Output as it arrives (qga-ts agents with the exec extensions; others: nothing until the
   * end). When it is given, the result's stdout/stderr hold what was passed to it.
   */
  onOutput?: (stream: 'stdout' | 'stderr', data: Buffer) => void | Promise<void>;
}

export interface RunResult {
  pid: bigint;
  /** The exit code, when the program exited normally. */
  exitcode?: number;
  /** The signal that ended the program, when one did. */
  signal?: number;
  stdout: Buffer;
  stderr: Buffer;
  outTruncated: boolean;
  errTruncated: boolean;
  /** The last guest-exec-status answer, as converted (bigint integers). */
  status: GuestExecStatus;
  /** The same answer as the agent sent it (the exact JSON model). */
  rawStatus: JsonValue;
  /** The wait timeout expired and the program's process group was killed (qga-ts agents). */
  killedAfterTimeout?: boolean;
  /** onOutput was given and the output was streamed (the agent has the exec extensions). */
  streamed?: boolean;
}

/** The program is still running after the wait timeout (it keeps running in the guest). */
export class GuestExecTimeoutError extends QgaClientError {
  override name = 'GuestExecTimeoutError';
  constructor(
    readonly pid: bigint,
    readonly waited: number,
  ) {
    super(`the guest process ${pid} is still running after ${waited / 1000} s`);
  }
}

export async function runGuestCommand(client: QgaClient, path: string, options: RunOptions = {}): Promise<RunResult> {
  const ext = options.onOutput === undefined ? null : await execExtensions(client, options.call);
  if (ext !== null) return runStreamed(client, path, options, ext.canKill);
  const capture = options.capture ?? true;
  const { pid } = await client.guestExec(
    {
      path,
      ...(options.args === undefined ? {} : { arg: options.args }),
      ...(options.env === undefined ? {} : { env: options.env }),
      ...(options.input === undefined ? {} : { 'input-data': options.input.toString('base64') }),
      ...(capture ? { 'capture-output': true } : {}),
    },
    options.call,
  );
  options.onStart?.(pid);
  const started = Date.now();
  let delay = options.pollMin ?? 5;
  const max = options.pollMax ?? 250;
  for (;;) {
    const rawStatus = (await client.call('guest-exec-status', { pid }, options.call)) ?? null;
    const status = replyFromWire('guest-exec-status', rawStatus) as GuestExecStatus;
    if (status.exited) {
      const r = exitedResult(pid, status, rawStatus);
      if (options.onOutput !== undefined) {
        await options.onOutput('stdout', r.stdout);
        await options.onOutput('stderr', r.stderr);
      }
      return r;
    }
    const waited = Date.now() - started;
    if (options.waitTimeout !== undefined && waited >= options.waitTimeout) throw new GuestExecTimeoutError(pid, options.waitTimeout);
    const left = options.waitTimeout === undefined ? delay : Math.min(delay, options.waitTimeout - waited);
    await new Promise((r) => setTimeout(r, left));
    delay = Math.min(max, delay * 1.5);
  }
}

/** The result of an exited status, with the captured output it carries. */
export function exitedResult(pid: bigint, status: GuestExecStatus, rawStatus: JsonValue): RunResult {
  return {
    pid,
    ...(status.exitcode === undefined ? {} : { exitcode: Number(status.exitcode) }),
    ...(status.signal === undefined ? {} : { signal: Number(status.signal) }),
    stdout: Buffer.from(status['out-data'] ?? '', 'base64'),
    stderr: Buffer.from(status['err-data'] ?? '', 'base64'),
    outTruncated: status['out-truncated'] ?? false,
    errTruncated: status['err-truncated'] ?? false,
    status,
    rawStatus,
  };
}

/** The shell convention: the exit code, or 128 + the signal number. */
export function shellStatus(r: Pick<RunResult, 'exitcode' | 'signal'>): number {
  if (r.signal !== undefined) return 128 + r.signal;
  return r.exitcode ?? 0;
}
