// Runs requests strictly one at a time, in arrival order, and writes each reply as one line.
//
// Backpressure, as qemu-ga's blocking write gives it: while a command runs, or while more than
// OUT_HIGH_WATER bytes of replies are not yet taken by the channel, no further request is run and
// the channel is not read. What one client can make the agent hold is bounded (docs/limits.md):
// the requests parsed from one FEED_SLICE of input, the unparsed rest of the chunk being fed, and
// OUT_HIGH_WATER bytes of replies plus the one reply that crossed it.
//
// Replies are collected as text and written once per batch of requests. A reply that holds big
// strings (a guest-file-read's Base64Bytes, an echoed WireString) is streamed instead: its bytes
// are produced piece by piece into a few reusable buffers, each refilled once the channel has
// taken it, so a 64 MiB line never exists as a string or a buffer of its own. The next request
// waits until the whole reply has been handed to the channel, as with qemu-ga's blocking write.
import type { WireValue } from '../json/value.ts';
import { JsonStreamer } from '../json/streamer.ts';
import { ReplyBytes, toJsonParts } from '../json/serialize.ts';
import type { Dispatcher, Reply } from './dispatcher.ts';

/** A client's end of the channel, for replies written in several pieces. */
export interface PacedWriter {
  /**
   * Queues bytes for this client (a string: latin1); `done` runs once, when they have been handed
   * on or dropped.
   */
  write(data: Buffer | string, done: () => void): void;
  /** False once this client has gone: the rest of its reply is dropped. */
  readonly open: boolean;
}

export interface ReplySink {
  /** Bytes for the channel, already framed (a string: latin1, one byte per character); called once per batch, in order. */
  write(data: Buffer | string): void;
  /** Stop / restart reading from the channel (backpressure while a command runs). */
  pause(): void;
  resume(): void;
  /**
   * The client connected now, for a reply written piece by piece (undefined: none connected).
   * Without this method, such a reply is made whole and given to write().
   */
  writer?(): PacedWriter | undefined;
}

/** qemu-ga's `-v` lines about requests: one per event (parsed or a JSON error), one per reply written. */
export interface SessionTrace {
  event(parsed: boolean): void;
  sending(count: number): void;
}

type Event = { readonly kind: 0; readonly value: WireValue } | { readonly kind: 1; readonly desc: string };

// Replies not yet taken by the channel beyond which no request is run and the channel is not read.
export const OUT_HIGH_WATER = 256 * 1024;
// Input is parsed this much at a time, so that a stall stops parsing within one slice.
export const FEED_SLICE = 16 * 1024;

// Streamed replies: pieces of PIECE_SIZE bytes, at most POOL_SIZE of them in flight. The buffers
// are kept while transfers follow each other and dropped after POOL_IDLE_MS without one.
const PIECE_SIZE = 1 << 20;
const POOL_SIZE = 4;
const POOL_IDLE_MS = 1000;
let pool: Buffer[] = [];
let poolTimer: NodeJS.Timeout | null = null;

function takePiece(): Buffer {
  if (poolTimer !== null) {
    clearTimeout(poolTimer);
    poolTimer = null;
  }
  return pool.pop() ?? Buffer.allocUnsafeSlow(PIECE_SIZE);
}

function givePiece(buf: Buffer): void {
  if (pool.length < POOL_SIZE) pool.push(buf);
  if (poolTimer === null) {
    poolTimer = setTimeout(() => {
      poolTimer = null;
      pool = [];
    }, POOL_IDLE_MS);
    poolTimer.unref();
  }
}

export class Session {
  private readonly streamer: JsonStreamer<WireValue>;
  private readonly queue: Event[] = [];
  private head = 0;
  private busy = false;
  private paused = false;
  private out = '';
  private flushScheduled = false;
  /** Bytes handed to the channel whose `done` has not run yet. */
  private unsent = 0;
  /** Input not parsed yet because the session stalled; fed, in order, before anything newer. */
  private readonly held: Uint8Array[] = [];
  private draining = false;
  /** A handler's promise is pending. */
  private awaiting = false;
  /** Replies still to come that belong to a client who has gone: dropped, never sent to the next. */
  private orphans = 0;

  constructor(
    private readonly dispatcher: Dispatcher,
    private readonly sink: ReplySink,
    private readonly trace?: SessionTrace,
  ) {
    this.streamer = new JsonStreamer<WireValue>(
      {
        message: (value) => this.enqueue({ kind: 0, value }),
        error: (desc) => this.enqueue({ kind: 1, desc }),
      },
      { wireStrings: true },
    );
  }

  /**
   * Bytes from the channel; parser state persists across calls and across clients. The session
   * may keep references to `chunk` (long strings point into it): it must never change afterwards.
   */
  feed(chunk: Uint8Array): void {
    if (this.held.length > 0 || this.stalled()) {
      // A read that was under way when the channel was paused.
      this.held.push(chunk);
      this.pauseInput();
      return;
    }
    this.feedSlices(chunk);
  }

  /**
   * The client went away. Input read from it but not parsed yet is dropped (qemu-ga, reading 4 KiB
   * at a time, would never have read it); requests already parsed still run, as they would in
   * qemu-ga, but their replies, and the one of a command running now, go nowhere.
   */
  clientGone(): void {
    this.held.length = 0;
    this.out = '';
    this.orphans = this.queue.length - this.head + (this.awaiting ? 1 : 0);
    this.drain();
  }

  /** Bytes of replies the channel has not taken yet (collected or in flight). */
  get pendingOutput(): number {
    return this.unsent + this.out.length;
  }

  /** A command is running, or the client is not taking its replies. */
  private stalled(): boolean {
    return this.busy || this.unsent + this.out.length > OUT_HIGH_WATER;
  }

  /** Parses `chunk` a slice at a time; what is left when the session stalls is held. */
  private feedSlices(chunk: Uint8Array): void {
    if (chunk.length <= FEED_SLICE) {
      this.streamer.feed(chunk);
      return;
    }
    for (let at = 0; at < chunk.length; at += FEED_SLICE) {
      if (this.stalled()) {
        this.held.unshift(chunk.subarray(at));
        this.pauseInput();
        return;
      }
      this.streamer.feed(chunk.subarray(at, at + FEED_SLICE));
    }
  }

  private pauseInput(): void {
    if (this.paused) return;
    this.paused = true;
    this.sink.pause();
  }

  private enqueue(event: Event): void {
    if (this.head === this.queue.length && !this.stalled()) {
      this.run(event);
      return;
    }
    this.queue.push(event);
    this.pauseInput();
  }

  private run(event: Event): void {
    this.trace?.event(event.kind === 0);
    if (event.kind === 1) {
      this.emit({ body: { error: { class: 'GenericError', desc: event.desc } }, delimit: false });
      return;
    }
    const reply = this.dispatcher.dispatch(event.value);
    if (reply instanceof Promise) {
      this.busy = true;
      this.awaiting = true;
      void reply.then((r) => {
        this.busy = false;
        this.awaiting = false;
        this.emit(r);
        this.drain();
      });
      return;
    }
    this.emit(reply);
  }

  /** Runs what waited (queued requests, then held input) until the session stalls again. */
  private drain(): void {
    if (this.draining) return;
    this.draining = true;
    try {
      for (;;) {
        while (this.head < this.queue.length && !this.stalled()) this.run(this.queue[this.head++]);
        if (this.head < this.queue.length || this.stalled()) return;
        this.queue.length = 0;
        this.head = 0;
        const next = this.held.shift();
        if (next === undefined) break;
        this.feedSlices(next);
      }
      if (this.paused) {
        this.paused = false;
        this.sink.resume();
      }
    } finally {
      this.draining = false;
    }
  }

  private emit(reply: Reply | null): void {
    if (this.orphans > 0) {
      this.orphans--;
      // Base64Bytes are released as a written reply's would be.
      if (reply !== null && reply.line === undefined) new ReplyBytes(toJsonParts(reply.body), '', '').close();
      return;
    }
    if (reply === null) return;
    let line = reply.line;
    if (line === undefined) {
      const parts = toJsonParts(reply.body);
      if (parts.length > 1) {
        const bytes = new ReplyBytes(parts, reply.delimit ? '\xff' : '', '\n');
        this.trace?.sending(bytes.length);
        this.stream(bytes);
        return;
      }
      line = reply.delimit ? '\xff' + parts[0] + '\n' : parts[0] + '\n';
    }
    this.trace?.sending(line.length);
    this.out += line;
    if (!this.flushScheduled) {
      this.flushScheduled = true;
      process.nextTick(() => this.flush());
    }
  }

  private flush(): void {
    this.flushScheduled = false;
    const text = this.out;
    this.out = '';
    if (text.length === 0) return;
    // Replies are 7-bit ASCII plus the 0xFF delimiter, so latin1 is a byte-exact encoding. Handed over
    // as a string: a socket encodes a small one on the stack, with no Buffer to allocate and collect.
    const writer = this.sink.writer?.();
    if (writer === undefined) {
      this.sink.write(text);
      this.drain();
      return;
    }
    this.unsent += text.length;
    writer.write(text, () => this.taken(text.length));
  }

  /** The channel took `n` bytes (or dropped them with their client): maybe run what waited. */
  private taken(n: number): void {
    this.unsent -= n;
    if (this.head < this.queue.length || this.held.length > 0 || this.paused) this.drain();
  }

  /** Writes a reply with big parts; the session is busy until all of it has been handed on. */
  private stream(bytes: ReplyBytes): void {
    // Replies already collected go first, as part of the same write.
    const before = this.out;
    this.out = '';
    const writer = this.sink.writer === undefined ? null : this.sink.writer();
    if (writer === undefined) {
      // No client: the reply is dropped, with the channel's usual complaint about it.
      bytes.close();
      this.sink.write(before);
      return;
    }
    if (writer === null) {
      const all = Buffer.allocUnsafe(before.length + bytes.length);
      all.write(before, 0, 'latin1');
      bytes.fill(all, before.length);
      bytes.close();
      this.sink.write(all);
      return;
    }
    this.busy = true;
    let synchronous = true;
    let inFlight = 0;
    let pumping = false;
    let finished = false;
    let first: string | null = before.length > 0 ? before : null;
    const finish = (): void => {
      finished = true;
      bytes.close();
      this.busy = false;
      if (!synchronous) this.drain();
    };
    const pump = (): void => {
      if (pumping || finished) return;
      pumping = true;
      while (!finished) {
        if (!writer.open) {
          // The client left: the rest of the reply goes nowhere.
          if (inFlight === 0) finish();
          else bytes.close();
          break;
        }
        if (first !== null) {
          const data = first;
          first = null;
          inFlight++;
          writer.write(data, () => {
            inFlight--;
            pump();
          });
          continue;
        }
        if (bytes.done) {
          if (inFlight === 0) finish();
          break;
        }
        if (inFlight >= POOL_SIZE) break;
        const piece = takePiece();
        const n = bytes.fill(piece, 0);
        inFlight++;
        writer.write(n === piece.length ? piece : piece.subarray(0, n), () => {
          inFlight--;
          givePiece(piece);
          pump();
        });
      }
      pumping = false;
      if (!finished && !writer.open && inFlight === 0) finish();
    };
    pump();
    synchronous = false;
  }
}
