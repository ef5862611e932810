// The qga-ts exec extensions on processes guest-exec started (docs/extensions-exec.md):
//   __io.qga-ts_guest-exec-output: captured bytes from an offset, while the process runs;
//   __io.qga-ts_guest-exec-signal: kill(2) on a process (or its own process group) not yet reaped;
//   __io.qga-ts_guest-exec-input:  more stdin for a process started with keep-stdin, and close.
// Starting with a process group or a kept stdin (__io.qga-ts_guest-exec) lives in exec.ts.
import type { AgentContext } from './context.ts';
import type {
  IoQgaTsGuestExecInputArgs,
  IoQgaTsGuestExecOutputArgs,
  IoQgaTsGuestExecSignalArgs,
} from '../generated/qapi-types.ts';
import type { ExecTable } from './exec-table.ts';
import { genericError } from '../protocol/errors.ts';
import { decodeBase64 } from '../protocol/base64.ts';
import { strerror } from '../platform/linux/strerror.ts';
import { auditExec } from './exec-policy.ts';

/** Most bytes one __io.qga-ts_guest-exec-output reply carries (1.33 MiB of base64). */
export const EXEC_OUTPUT_MAX_BYTES = 1024 * 1024;

/** Most stdin bytes a process may leave unread before __io.qga-ts_guest-exec-input refuses more. */
export const EXEC_INPUT_MAX_PENDING = 1024 * 1024;

/** Linux's signal numbers: 1 to SIGRTMAX; 0 only checks that the process is there. */
const MAX_SIGNAL = 64;

export interface ExecOutput {
  data: string;
  'next-offset': number;
  eof: boolean;
  truncated: boolean;
}

export interface ExecExtHandlers {
  '__io.qga-ts_guest-exec-output'(args: IoQgaTsGuestExecOutputArgs, ctx: AgentContext): ExecOutput;
  '__io.qga-ts_guest-exec-signal'(args: IoQgaTsGuestExecSignalArgs, ctx: AgentContext): Record<string, never>;
  '__io.qga-ts_guest-exec-input'(args: IoQgaTsGuestExecInputArgs, ctx: AgentContext): Record<string, never>;
}

export function createExecExtHandlers(table: ExecTable): ExecExtHandlers {
  return {
    '__io.qga-ts_guest-exec-output'(args) {
      const rec = table.get(args.pid);
      const c = args.stream === 'stdout' ? rec.out : rec.err;
      if (c === undefined) throw genericError(`PID ${args.pid}: its ${args.stream} is not captured (see capture-output)`);
      const offset = args.offset ?? 0n;
      if (offset < 0n || offset > BigInt(c.size)) {
        throw genericError(`PID ${args.pid}: offset ${offset} is outside the ${c.size} bytes of ${args.stream} captured so far`);
      }
      const max = args['max-bytes'] ?? BigInt(EXEC_OUTPUT_MAX_BYTES);
      if (max < 1n || max > BigInt(EXEC_OUTPUT_MAX_BYTES)) {
        throw genericError(`max-bytes must be between 1 and ${EXEC_OUTPUT_MAX_BYTES}, not ${max}`);
      }
      const bytes = c.read(Number(offset), Number(max));
      const next = Number(offset) + bytes.length;
      return { data: bytes.toString('base64'), 'next-offset': next, eof: !c.open && next === c.size, truncated: c.truncated };
    },

    '__io.qga-ts_guest-exec-signal'(args, ctx) {
      const rec = table.get(args.pid);
      const signal = args.signal ?? 15n;
      if (signal < 0n || signal > BigInt(MAX_SIGNAL)) throw genericError(`${signal} is not a signal number (0 to ${MAX_SIGNAL})`);
      // Once reaped, the pid (and the group id) may belong to someone else.
      if (rec.reaped) throw genericError(`PID ${args.pid} has already exited`);
      const group = args.group ?? false;
      if (group && !rec.group) {
        throw genericError(
          `PID ${args.pid} shares the agent's process group: only processes started by __io.qga-ts_guest-exec with process-group can be signalled as a group`,
        );
      }
      try {
        process.kill(group ? -rec.pid : rec.pid, Number(signal));
      } catch (err) {
        throw genericError(`failed to send signal ${signal} to ${group ? 'process group' : 'PID'} ${rec.pid}: ${strerror(err)}`);
      }
      auditExec(ctx, `guest-exec: signal ${signal} sent to ${group ? 'process group' : 'pid'} ${rec.pid}`);
      return {};
    },

    '__io.qga-ts_guest-exec-input'(args) {
      const rec = table.get(args.pid);
      if (!rec.stdinKept) throw genericError(`PID ${args.pid} was not started with keep-stdin`);
      const sock = rec.stdin;
      if (sock === undefined || sock.destroyed) throw genericError(`the standard input of PID ${args.pid} is closed`);
      const data = args.data === undefined ? undefined : decodeBase64(args.data);
      if (data !== undefined && data.length > 0) {
        if (sock.writableLength + data.length > EXEC_INPUT_MAX_PENDING) {
          throw genericError(
            `PID ${args.pid} has ${sock.writableLength} bytes of standard input not read yet; at most ${EXEC_INPUT_MAX_PENDING} may wait`,
          );
        }
        sock.write(data);
      }
      if (args.close === true) {
        rec.stdin = undefined;
        sock.end(() => sock.destroy());
      }
      return {};
    },
  };
}
