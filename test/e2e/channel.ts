// The host side of the agent channel in the e2e tests: one request, one reply line, and a transcript
// of both for the differential comparison. Built on test/support/agent.ts's RawClient until the
// project's client library (src/client/) exists.
import { RawClient } from '../support/agent.ts';

export const UNSUPPORTED = 'this feature or command is not currently supported';

export interface QgaErrorBody {
  class: string;
  desc: string;
}

export interface Reply {
  /** The reply line as received, without its newline. */
  raw: string;
  /** The parsed reply (integers beyond 2^53 are inexact here: use `raw` for those). */
  json: { return?: unknown; error?: QgaErrorBody };
}

/** Thrown by a step to report it as skipped, with the reason. Never used to hide a failure. */
export class Skip extends Error {}

export interface CallOptions {
  timeoutMs?: number;
  /** Keep this exchange out of the transcript (polling whose count depends on timing). */
  record?: boolean;
}

/** JSON with bigints written as integers (guest-set-time takes nanoseconds beyond 2^53). */
export function requestJson(execute: string, args?: Record<string, unknown>): string {
  const body = args === undefined ? { execute } : { execute, arguments: args };
  return JSON.stringify(body, (_k, v: unknown) => (typeof v === 'bigint' ? `\u0000${v}\u0000` : v)).replace(/"\\u0000(-?\d+)\\u0000"/g, '$1');
}

export class GuestChannel {
  /** Request and reply lines of the running step, `->`/`<-` prefixed. */
  transcript: string[] = [];

  constructor(public client: RawClient) {}

  /**
   * Closes the connection and opens a new one with `connect`. QEMU's socket chardev serves one client
   * at a time: a second connection waits, unanswered, until the first one is closed.
   */
  async reconnect(connect: () => Promise<RawClient>): Promise<void> {
    this.client.close();
    this.client = await connect();
  }

  record(line: string): void {
    this.transcript.push(line);
  }

  async call(execute: string, args?: Record<string, unknown>, opts: CallOptions = {}): Promise<Reply> {
    const request = requestJson(execute, args);
    this.client.send(request);
    const [line] = await this.client.lines(1, opts.timeoutMs ?? 30_000);
    if (line === undefined) {
      throw new Error(`no reply to ${request} within ${opts.timeoutMs ?? 30_000} ms${this.client.closed ? ' (connection closed)' : ''}`);
    }
    if (opts.record !== false) this.transcript.push(`-> ${request}`, `<- ${line}`);
    return { raw: line, json: JSON.parse(line.replace(/^\xff/, '')) as Reply['json'] };
  }

  /**
   * Sends a request that gets no reply when it succeeds (guest-shutdown) and records only the request;
   * resolves with the reply if one comes within `waitMs`, else (or when the connection closes) undefined.
   */
  sendNoReply(execute: string, args: Record<string, unknown> | undefined, waitMs: number): Promise<Reply | undefined> {
    const request = requestJson(execute, args);
    this.client.send(request);
    this.transcript.push(`-> ${request}`);
    return this.client.lines(1, waitMs).then(([line]) => (line === undefined ? undefined : { raw: line, json: JSON.parse(line) as Reply['json'] }));
  }

  /** The return value, or an assertion-style error naming the command; "unsupported" becomes a Skip. */
  async ok<T = unknown>(execute: string, args?: Record<string, unknown>, opts?: CallOptions): Promise<T> {
    const r = await this.call(execute, args, opts);
    skipIfUnsupported(execute, r);
    if (r.json.error) throw new Error(`${execute} failed: ${r.json.error.class}: ${r.json.error.desc}`);
    return r.json.return as T;
  }

  /** The error of a call that must fail. */
  async fails(execute: string, args?: Record<string, unknown>, opts?: CallOptions): Promise<QgaErrorBody> {
    const r = await this.call(execute, args, opts);
    skipIfUnsupported(execute, r);
    if (!r.json.error) throw new Error(`${execute} succeeded, expected an error: ${r.raw}`);
    return r.json.error;
  }
}

export function skipIfUnsupported(execute: string, r: Reply): void {
  if (r.json.error?.desc === UNSUPPORTED) throw new Skip(`${execute} answers "${UNSUPPORTED}" (not implemented yet)`);
}
