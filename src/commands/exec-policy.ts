// Exec policy and audit (qga-ts extensions, both off by default):
//   exec-allow: the programs guest-exec may start, as absolute paths, compared with the file the
//     agent is about to execve (after the PATH search, lexically normalised, symlinks NOT
//     resolved: a multi-call binary such as busybox must not let every name through);
//   exec-audit: one record when a process starts (or is refused, or fails to start), one when it
//     ends (exit status or signal, duration), one per signal sent; to syslog and the log file.
import * as path from 'node:path';
import type { AgentContext } from './context.ts';
import { genericError } from '../protocol/errors.ts';

export interface ExecPolicy {
  /** Absolute paths guest-exec may start; null: any program. */
  readonly allow: readonly string[] | null;
  /** Write an audit record for every exec. */
  readonly audit: boolean;
}

/**
 * `--exec-allow` / `exec-allow`: comma-separated absolute paths (an empty value allows nothing).
 * Returns the normalised list, or the message for a bad entry.
 */
export function parseExecAllow(value: string): string[] | { error: string } {
  if (value === '') return [];
  const out: string[] = [];
  for (const entry of value.split(',')) {
    if (!path.isAbsolute(entry)) return { error: `exec-allow entries must be absolute paths, not '${entry}'` };
    out.push(path.normalize(entry));
  }
  return out;
}

/** Throws the refusal when `file` (what execve would get; relative to the agent's cwd) is not allowed. */
export function checkExecAllowed(ctx: AgentContext, file: string, argv: readonly string[]): void {
  const allow = ctx.execPolicy?.allow;
  if (allow === null || allow === undefined) return;
  const resolved = path.resolve(file);
  if (allow.includes(resolved)) return;
  auditExec(ctx, `guest-exec refused: ${resolved} is not in exec-allow: ${argvText(argv)}`);
  throw genericError(`guest-exec refused: ${resolved} is not in the agent's exec-allow list`);
}

/** argv as one JSON line: quoting shows the word boundaries, escapes keep control characters out of the log. */
export function argvText(argv: readonly string[]): string {
  return JSON.stringify(argv);
}

/** An exec audit record, when exec-audit is on: to syslog and to the log file. */
export function auditExec(ctx: AgentContext, message: string): void {
  if (ctx.execPolicy?.audit !== true) return;
  ctx.log.audit(message);
  ctx.log.record?.(message);
}

/** Seconds since `startedNs` (process.hrtime.bigint()), with millisecond precision. */
export function secondsSince(startedNs: bigint): string {
  return (Number((process.hrtime.bigint() - startedNs) / 1000000n) / 1000).toFixed(3);
}
