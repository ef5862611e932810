// Running a program with the qga-ts exec extensions: __io.qga-ts_guest-exec in a process group
// of its own, __io.qga-ts_guest-exec-output polled from the last offset on each captured stream
// (so nothing is lost or repeated) and handed to onOutput as it comes, guest-exec-status once
// both streams are at EOF. When the wait timeout expires, the whole process group gets SIGKILL
// (__io.qga-ts_guest-exec-signal) and the run ends with what was captured.
//
// Polls back off from pollMin to pollMax while nothing arrives, and start again at pollMin when
// output comes.

import type { CallOptions, QgaClient } from './client.ts';
import { replyFromWire } from './convert.ts';
import { QgaCommandError } from './errors.ts';
import type { GuestExecStatus } from '../generated/qapi-client.ts';
import { GuestExecTimeoutError, exitedResult, type RunOptions, type RunResult } from './exec.ts';

const START = '__io.qga-ts_guest-exec';
const OUTPUT = '__io.qga-ts_guest-exec-output';
const SIGNAL = '__io.qga-ts_guest-exec-signal';
const SIGKILL = 9;

/** What guest-info says: null without the extensions streaming needs, else whether it can kill. */
export async function execExtensions(client: QgaClient, call?: CallOptions): Promise<{ canKill: boolean } | null> {
  let info;
  try {
    info = await client.guestInfo(call);
  } catch (e) {
    // guest-info blocked (-b): plain guest-exec, which will say so itself if it is blocked too.
    if (e instanceof QgaCommandError) return null;
    throw e;
  }
  const enabled = new Set(info.supported_commands.filter((c) => c.enabled).map((c) => c.name));
  return enabled.has(START) && enabled.has(OUTPUT) ? { canKill: enabled.has(SIGNAL) } : null;
}

/** Like runGuestCommand, streaming; `canKill` from execExtensions(). */
export async function runStreamed(client: QgaClient, path: string, options: RunOptions, canKill: boolean): Promise<RunResult> {
  const capture = options.capture ?? true;
  const { pid } = await client.ioQgaTsGuestExec(
    {
      path,
      ...(options.args === undefined ? {} : { arg: options.args }),
      ...(options.env === undefined ? {} : { env: options.env }),
      ...(options.input === undefined ? {} : { 'input-data': options.input.toString('base64') }),
      ...(capture ? { 'capture-output': 'separated' as const } : {}),
      'process-group': true,
    },
    options.call,
  );
  options.onStart?.(pid);
  const started = Date.now();
  const min = options.pollMin ?? 5;
  const max = options.pollMax ?? 250;
  let delay = min;
  const streams = capture ? (['stdout', 'stderr'] as const) : ([] as const);
  const offset = { stdout: 0, stderr: 0 };
  const eof = { stdout: !capture, stderr: !capture };
  const pieces: Record<'stdout' | 'stderr', Buffer[]> = { stdout: [], stderr: [] };
  let killed = false;
  for (;;) {
    let got = false;
    for (const stream of streams) {
      if (eof[stream]) continue;
      const r = await client.ioQgaTsGuestExecOutput({ pid, stream, offset: offset[stream] }, options.call);
      const data = Buffer.from(r.data, 'base64');
      if (data.length > 0) {
        got = true;
        pieces[stream].push(data);
        await options.onOutput?.(stream, data);
      }
      offset[stream] = Number(r['next-offset']);
      eof[stream] = r.eof;
    }
    if (eof.stdout && eof.stderr) {
      const rawStatus = (await client.call('guest-exec-status', { pid }, options.call)) ?? null;
      const status = replyFromWire('guest-exec-status', rawStatus) as GuestExecStatus;
      if (status.exited) {
        // The status repeats the captured bytes; the streamed ones are the same.
        const r = exitedResult(pid, status, rawStatus);
        return { ...r, stdout: Buffer.concat(pieces.stdout), stderr: Buffer.concat(pieces.stderr), streamed: true, ...(killed ? { killedAfterTimeout: true } : {}) };
      }
    }
    const waited = Date.now() - started;
    if (options.waitTimeout !== undefined && waited >= options.waitTimeout && !killed) {
      if (!canKill) throw new GuestExecTimeoutError(pid, options.waitTimeout);
      await client.ioQgaTsGuestExecSignal({ pid, signal: SIGKILL, group: true }, options.call).catch(() => {
        // It exited meanwhile: the next status says how.
      });
      killed = true;
    }
    delay = got ? min : Math.min(max, delay * 1.5);
    const left = options.waitTimeout === undefined || killed ? delay : Math.max(0, Math.min(delay, options.waitTimeout - waited));
    await new Promise((r) => setTimeout(r, left));
  }
}
