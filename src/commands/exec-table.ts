// The processes guest-exec started, by pid, until their exited status has been collected.
import type * as net from 'node:net';
import type { Capture } from './exec-capture.ts';
import { genericError } from '../protocol/errors.ts';

export interface ExecRecord {
  readonly pid: number;
  /** libuv has waited for it: the pid may be reused from now on, never signal it again. */
  reaped: boolean;
  exitcode?: number;
  signal?: number;
  /** Started with setsid(): its process group is its own (pgid = pid). */
  readonly group: boolean;
  readonly out?: Capture;
  readonly err?: Capture;
  /** Started with keep-stdin. */
  readonly stdinKept: boolean;
  /** The open stdin pipe, while kept and not closed. */
  stdin?: net.Socket;
}

export class ExecTable {
  /** Records by pid; a list in case the kernel reuses a pid whose status was never fetched. */
  private readonly procs = new Map<number, ExecRecord[]>();

  add(r: ExecRecord): void {
    const list = this.procs.get(r.pid);
    if (list === undefined) this.procs.set(r.pid, [r]);
    else list.push(r);
  }

  /** The oldest uncollected record for `pid`, or qemu-ga 10.2's error. */
  get(pid: bigint): ExecRecord {
    const list = pid >= 0n && pid <= 0x7fffffffn ? this.procs.get(Number(pid)) : undefined;
    const rec = list?.[0];
    if (rec === undefined) throw genericError(`PID ${pid} does not exist`);
    return rec;
  }

  /** Reaped, and every captured stream complete: guest-exec-status may report it. */
  finished(r: ExecRecord): boolean {
    return r.reaped && !(r.out?.open ?? false) && !(r.err?.open ?? false);
  }

  forget(r: ExecRecord): void {
    const list = this.procs.get(r.pid);
    if (list === undefined) return;
    const i = list.indexOf(r);
    if (i >= 0) list.splice(i, 1);
    if (list.length === 0) this.procs.delete(r.pid);
  }
}
