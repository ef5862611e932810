// QgaClient: the host side of the guest agent protocol over one stream socket (a unix
// socket such as QEMU's chardev socket for the agent's virtio-serial port, or host:port).
//
// - Connecting, and again before the first call after a timeout, a reconnect or a framing
//   problem, the client resynchronises: it sends 0xFF (which makes the agent drop any
//   half-received request, and answer with one parse error that is ignored) followed by
//   guest-sync-delimited with a random 63-bit id, then discards everything the agent sends
//   up to the 0xFF that precedes the answer carrying that id. Stale answers (of earlier
//   calls, earlier connections or earlier syncs) are skipped on the way.
// - Every request carries an `id` (63-bit, counting up from a random start per connection),
//   which the agent echoes, so an answer is matched to its call exactly; calls may be issued concurrently and are pipelined: the
//   agent answers them one at a time, in order.
// - Per-call timeout (default 10 s; 0: none), counted from the moment the request is
//   written. A timed-out call rejects with QgaTimeoutError and the client resynchronises
//   before the next call. A call still in flight when that resynchronisation starts is
//   abandoned (rejected with QgaClientError).
// - Commands with success-response: false (guest-shutdown, guest-suspend-*) get no answer
//   on success. Once the request is written the client waits a short grace period
//   (default 1 s): an error answer within it rejects; silence, or the connection closing,
//   counts as success — as QEMU's own qemu-ga-client treats a timeout.
// - If the connection closes, calls in flight reject with QgaConnectionError and (unless
//   reconnect is false) the next call connects again and resynchronises.
// - Requests are serialized by src/json/serialize.ts (exact bigints); answers are parsed by
//   src/json/streamer.ts (exact bigints, Maps) and converted by convert.ts.

import * as net from 'node:net';
import { randomFillSync } from 'node:crypto';
import { ReplyBytes, toJson, toJsonParts } from '../json/serialize.ts';
import type { JsonValue, OutValue } from '../json/value.ts';
import {
  QgaCommands,
  type ClientCommandArgs,
  type ClientCommandName,
  type ClientCommandReplies,
} from '../generated/qapi-client.ts';
import { argsToWire, expectsReply, replyFromWire } from './convert.ts';
import { QgaClientError, QgaCommandError, QgaConnectionError, QgaProtocolError, QgaTimeoutError, formatSeconds } from './errors.ts';
import { ReplyFramer, parseLine } from './framing.ts';

export interface QgaClientOptions {
  /** A unix socket path, or host:port (TCP), as QEMU's qemu-ga-client takes it. */
  address: string;
  /** Milliseconds to wait for each answer (default 10000; 0: forever). */
  timeout?: number;
  /** Milliseconds to wait for the guest-sync-delimited answer when resynchronising (default 5000). */
  syncTimeout?: number;
  /** Milliseconds to keep retrying a connection that is refused or whose socket does not exist yet (default 0: one attempt). */
  connectTimeout?: number;
  /** Connect again on the next call after the connection closed (default true). */
  reconnect?: boolean;
  /** Milliseconds to wait for an error answer to a success-response: false command (default 1000). */
  noReplyGrace?: number;
  /** Wire trace, for debugging: what is sent and received, and what the client skips. */
  trace?: (event: 'send' | 'recv' | 'skip' | 'note', text: string) => void;
}

export interface CallOptions {
  /** Milliseconds to wait for this answer (0: forever); the client's timeout when absent. */
  timeout?: number;
  /** Grace period for a success-response: false command, in milliseconds. */
  noReplyGrace?: number;
}

interface Pending {
  readonly id: bigint;
  readonly command: string;
  readonly noReply: boolean;
  resolve(v: JsonValue | undefined): void;
  reject(e: Error): void;
  timer?: NodeJS.Timeout;
}

interface SyncWaiter {
  readonly id: bigint;
  resolve(): void;
  reject(e: Error): void;
}

const FF = Buffer.from([0xff]);
const ID_MASK = (1n << 63n) - 1n;
const idBytes = Buffer.alloc(8);

/** A random id in [0, 2^63): positive in int64, so any agent echoes it unchanged. */
export function randomId(): bigint {
  randomFillSync(idBytes);
  return idBytes.readBigUInt64BE() >> 1n;
}

export class QgaClient extends QgaCommands<CallOptions> {
  readonly address: string;
  private readonly timeout: number;
  private readonly syncTimeout: number;
  private readonly connectTimeout: number;
  private readonly reconnect: boolean;
  private readonly noReplyGrace: number;
  private readonly trace: QgaClientOptions['trace'];

  private socket: net.Socket | null = null;
  private framer: ReplyFramer | null = null;
  private preparing: Promise<void> | null = null;
  private needsSync = true;
  private everConnected = false;
  private closed = false;
  private syncWaiter: SyncWaiter | null = null;
  private readonly pending = new Map<bigint, Pending>();
  /** Request ids: a random 63-bit start per connection, then counting up (mod 2^63). */
  private nextId = 0n;

  constructor(options: QgaClientOptions | string) {
    super();
    const o = typeof options === 'string' ? { address: options } : options;
    this.address = o.address;
    this.timeout = o.timeout ?? 10_000;
    this.syncTimeout = o.syncTimeout ?? 5_000;
    this.connectTimeout = o.connectTimeout ?? 0;
    this.reconnect = o.reconnect ?? true;
    this.noReplyGrace = o.noReplyGrace ?? 1_000;
    this.trace = o.trace;
  }

  /** Creates a client, connects and resynchronises. */
  static async connect(options: QgaClientOptions | string): Promise<QgaClient> {
    const c = new QgaClient(options);
    await c.open();
    return c;
  }

  /** Connects (if needed) and resynchronises (if needed). Calls do this by themselves. */
  open(): Promise<void> {
    return this.prepare();
  }

  /** Whether a connection is open. */
  get connected(): boolean {
    return this.socket !== null;
  }

  /** Resynchronises now (connecting first if needed). */
  resync(): Promise<void> {
    this.needsSync = true;
    return this.prepare();
  }

  /**
   * Sends any command and resolves with its raw return value: the exact JSON model (Maps in
   * the agent's order, bigint integers). Resolves undefined for a success-response: false
   * command that got no answer. Plain-object arguments of known commands are converted as
   * for the typed methods (integers as number or bigint); a Map is sent as it is.
   */
  call(command: string, args?: object, options?: CallOptions): Promise<JsonValue | undefined> {
    let wire: OutValue | undefined;
    try {
      wire = argsToWire(command, args);
    } catch (e) {
      return Promise.reject(e);
    }
    return this.request(command, wire, options);
  }

  /** Sends a command of the schema, typed by name. */
  execute<K extends ClientCommandName>(
    command: K,
    ...rest: ClientCommandArgs[K] extends Record<string, never> ? [args?: undefined, options?: CallOptions] : [args: ClientCommandArgs[K], options?: CallOptions]
  ): Promise<ClientCommandReplies[K]> {
    return this.invoke(command, rest[0] as object | undefined, rest[1]) as Promise<ClientCommandReplies[K]>;
  }

  protected override async invoke(command: ClientCommandName, args: object | undefined, options: CallOptions | undefined): Promise<unknown> {
    const raw = await this.request(command, argsToWire(command, args), options);
    return replyFromWire(command, raw);
  }

  /** Closes the connection; calls in flight reject. The client cannot be used afterwards. */
  async close(): Promise<void> {
    this.closed = true;
    const s = this.socket;
    if (s === null) return;
    const done = new Promise<void>((r) => s.once('close', () => r()));
    s.destroy();
    await done;
  }

  // ---- requests --------------------------------------------------------------------------

  private async request(command: string, wireArgs: OutValue | undefined, options: CallOptions | undefined): Promise<JsonValue | undefined> {
    await this.prepare();
    const id = this.nextId;
    this.nextId = (id + 1n) & ID_MASK;
    const bytes = requestBytes(wireArgs === undefined ? { execute: command, id } : { execute: command, arguments: wireArgs, id });
    const noReply = !expectsReply(command);
    const timeout = options?.timeout ?? this.timeout;
    const grace = options?.noReplyGrace ?? this.noReplyGrace;
    const socket = this.socket;
    if (socket === null) throw new QgaConnectionError(`${command}: the connection to ${this.address} closed`);
    return new Promise<JsonValue | undefined>((resolve, reject) => {
      const p: Pending = { id, command, noReply, resolve, reject };
      this.pending.set(id, p);
      if (this.trace) this.traceSend(bytes.toString('latin1'));
      socket.write(bytes, (err) => {
        // A failed write also closes the socket; onClose settles the call.
        if (err || !noReply || !this.pending.has(id)) return;
        p.timer = setTimeout(() => {
          if (this.pending.get(id) !== p) return;
          this.pending.delete(id);
          this.trace?.('note', `${command}: no answer within the grace period: success`);
          resolve(undefined);
        }, grace);
      });
      if (!noReply && timeout > 0) {
        p.timer = setTimeout(() => {
          if (this.pending.get(id) !== p) return;
          this.pending.delete(id);
          this.needsSync = true;
          reject(new QgaTimeoutError(command, timeout));
        }, timeout);
      }
    });
  }

  private settle(p: Pending, msg: Map<string, JsonValue>): void {
    this.pending.delete(p.id);
    if (p.timer !== undefined) clearTimeout(p.timer);
    const err = msg.get('error');
    if (err !== undefined) {
      p.reject(toCommandError(err, p.command));
    } else if (msg.has('return')) {
      p.resolve(msg.get('return'));
    } else {
      this.needsSync = true;
      p.reject(new QgaProtocolError(`${p.command}: the agent's answer has neither 'return' nor 'error'`));
    }
  }

  // ---- connection and resynchronisation --------------------------------------------------

  private prepare(): Promise<void> {
    if (this.closed) return Promise.reject(new QgaConnectionError('the client is closed'));
    if (this.socket !== null && !this.needsSync) return Promise.resolve();
    this.preparing ??= this.doPrepare().finally(() => {
      this.preparing = null;
    });
    return this.preparing;
  }

  private async doPrepare(): Promise<void> {
    if (this.socket === null) {
      if (this.everConnected && !this.reconnect) throw new QgaConnectionError(`the connection to ${this.address} closed`);
      await this.openSocket();
    }
    if (this.needsSync) await this.sync();
  }

  private async openSocket(): Promise<void> {
    const deadline = Date.now() + this.connectTimeout;
    for (;;) {
      try {
        const s = await connectOnce(this.address);
        this.attach(s);
        return;
      } catch (e) {
        const code = (e as NodeJS.ErrnoException).code;
        const retry = code === 'ENOENT' || code === 'ECONNREFUSED' || code === 'EAGAIN';
        if (retry && Date.now() < deadline && !this.closed) {
          await new Promise((r) => setTimeout(r, 100));
          continue;
        }
        throw new QgaConnectionError(`cannot connect to ${this.address}: ${(e as Error).message}`, { cause: e });
      }
    }
  }

  private attach(s: net.Socket): void {
    this.socket = s;
    this.everConnected = true;
    this.needsSync = true;
    this.nextId = randomId();
    const framer = new ReplyFramer({
      line: (line, delimited) => this.onLine(line, delimited),
      overflow: (bytes) => this.onOverflow(bytes),
    });
    this.framer = framer;
    s.on('data', (chunk: Buffer) => {
      if (this.trace) this.trace('recv', chunk.toString('latin1'));
      framer.feed(chunk);
    });
    s.on('error', (e) => this.trace?.('note', `socket error: ${e.message}`));
    s.on('close', () => this.onClose(s));
    if (this.closed) s.destroy();
  }

  private onClose(s: net.Socket): void {
    if (this.socket !== s) return;
    this.socket = null;
    this.framer = null;
    this.needsSync = true;
    const e = new QgaConnectionError(this.closed ? 'the client was closed' : `the connection to ${this.address} closed`);
    const w = this.syncWaiter;
    this.syncWaiter = null;
    w?.reject(e);
    const all = [...this.pending.values()];
    this.pending.clear();
    for (const p of all) {
      if (p.timer !== undefined) clearTimeout(p.timer);
      // An agent that shuts the guest down closes the channel instead of answering.
      if (p.noReply) p.resolve(undefined);
      else p.reject(e);
    }
  }

  private sync(): Promise<void> {
    const socket = this.socket;
    const framer = this.framer;
    if (socket === null || framer === null) return Promise.reject(new QgaConnectionError(`the connection to ${this.address} closed`));
    // Answers still due are discarded with everything else up to the sync answer.
    if (this.pending.size > 0) {
      const all = [...this.pending.values()];
      this.pending.clear();
      for (const p of all) {
        if (p.timer !== undefined) clearTimeout(p.timer);
        if (p.noReply) p.resolve(undefined);
        else p.reject(new QgaClientError(`${p.command}: abandoned: the client resynchronised with the agent`));
      }
    }
    const id = randomId();
    const timeout = this.syncTimeout;
    framer.skipToDelimiter();
    return new Promise<void>((resolve, reject) => {
      const timer =
        timeout > 0
          ? setTimeout(() => {
              if (this.syncWaiter?.id !== id) return;
              this.syncWaiter = null;
              reject(
                new QgaTimeoutError(
                  'guest-sync-delimited',
                  timeout,
                  `the agent did not answer guest-sync-delimited within ${formatSeconds(timeout)} ` +
                    '(is it running? is another client connected to it?)',
                ),
              );
            }, timeout)
          : undefined;
      this.syncWaiter = {
        id,
        resolve: () => {
          clearTimeout(timer);
          this.needsSync = false;
          resolve();
        },
        reject: (e) => {
          clearTimeout(timer);
          reject(e);
        },
      };
      const text = toJson({ execute: 'guest-sync-delimited', arguments: { id } }) + '\n';
      this.traceSend('\xff' + text);
      socket.write(Buffer.concat([FF, Buffer.from(text, 'latin1')]));
    });
  }

  // ---- input -----------------------------------------------------------------------------

  private onLine(line: Buffer, delimited: boolean): void {
    const w = this.syncWaiter;
    if (w !== null) {
      // Only an answer right after a 0xFF can be the sync answer.
      const parsed = delimited ? parseLine(line) : null;
      if (parsed?.ok && parsed.value instanceof Map && parsed.value.get('return') === w.id) {
        this.syncWaiter = null;
        w.resolve();
        return;
      }
      this.trace?.('skip', line.toString('latin1'));
      this.framer?.skipToDelimiter();
      return;
    }
    const parsed = parseLine(line);
    if (!parsed.ok || !(parsed.value instanceof Map)) {
      this.trace?.('skip', line.toString('latin1'));
      this.protocolTrouble(parsed.ok ? 'the agent sent a line that is not a JSON object' : `the agent sent a line that is not JSON (${parsed.error})`);
      return;
    }
    const msg = parsed.value;
    if (!msg.has('return') && !msg.has('error')) {
      // QMP greetings and events never come from qemu-ga; skip them as libvirt does.
      this.trace?.('skip', line.toString('latin1'));
      return;
    }
    if (msg.has('id')) {
      const id = msg.get('id');
      const p = typeof id === 'bigint' ? this.pending.get(id) : undefined;
      if (p === undefined) {
        // The late answer of a call that timed out or was abandoned.
        this.trace?.('skip', line.toString('latin1'));
        return;
      }
      this.settle(p, msg);
      return;
    }
    // No id: a JSON-level error about our own request (after a sync the agent's input holds
    // nothing else), or an agent that does not echo ids. It belongs to the oldest call.
    const oldest = this.pending.values().next().value as Pending | undefined;
    if (oldest === undefined || this.needsSync) {
      this.trace?.('skip', line.toString('latin1'));
      return;
    }
    if (msg.has('error')) this.needsSync = true;
    this.settle(oldest, msg);
  }

  private onOverflow(bytes: number): void {
    this.protocolTrouble(`the agent sent a line longer than ${bytes} bytes`);
  }

  /** Garbled input: the oldest call fails and the client resynchronises before the next. */
  private protocolTrouble(message: string): void {
    this.needsSync = true;
    const oldest = this.pending.values().next().value as Pending | undefined;
    if (oldest === undefined) return;
    this.pending.delete(oldest.id);
    if (oldest.timer !== undefined) clearTimeout(oldest.timer);
    oldest.reject(new QgaProtocolError(`${oldest.command}: ${message}`));
  }

  private traceSend(text: string): void {
    this.trace?.('send', text.length > 2000 ? `${text.slice(0, 2000)}… (${text.length} bytes)` : text);
  }
}

/**
 * A request's bytes, newline included. toJson writes pure 7-bit ASCII, so latin1 is its UTF-8
 * (and much cheaper to encode); Base64Bytes arguments (file transfers) are encoded straight
 * into the buffer, never made into one big string that would be scanned for escapes.
 */
function requestBytes(request: OutValue): Buffer {
  const parts = toJsonParts(request);
  if (parts.length === 1) return Buffer.from((parts[0] as string) + '\n', 'latin1');
  const out = new ReplyBytes(parts, '', '\n');
  const buf = Buffer.allocUnsafe(out.length);
  out.fill(buf, 0);
  return buf;
}

function toCommandError(err: JsonValue, command: string): QgaClientError {
  if (err instanceof Map) {
    const cls = err.get('class');
    const desc = err.get('desc');
    if (typeof cls === 'string' && typeof desc === 'string') return new QgaCommandError(cls, desc, command);
  }
  return new QgaProtocolError(`${command}: the agent's error answer lacks 'class' or 'desc'`);
}

/** host:port (TCP) when the address has a colon and a numeric port and no slash; otherwise a unix socket path. */
export function parseAddress(address: string): { path: string } | { host: string; port: number } {
  const m = /^(\[[^\]]*\]|[^/]*):(\d+)$/.exec(address);
  if (m === null) return { path: address };
  return { host: m[1]!.replace(/^\[|\]$/g, ''), port: Number(m[2]) };
}

function connectOnce(address: string): Promise<net.Socket> {
  return new Promise((resolve, reject) => {
    const target = parseAddress(address);
    const s = 'path' in target ? net.connect(target.path) : net.connect(target.port, target.host);
    const onError = (e: Error) => {
      s.destroy();
      reject(e);
    };
    s.once('error', onError);
    s.once('connect', () => {
      s.off('error', onError);
      if ('port' in target) s.setNoDelay(true);
      resolve(s);
    });
  });
}
