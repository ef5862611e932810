// Runs requests strictly one at a time, in arrival order, and writes each reply as one line.
import type { JsonValue } from '../json/value.ts';
import { JsonStreamer } from '../json/streamer.ts';
import { toJson } from '../json/serialize.ts';
import type { Dispatcher, Reply } from './dispatcher.ts';

export interface ReplySink {
  /** Bytes for the channel, already framed; called once per batch, in order. */
  write(data: Buffer): void;
  /** Stop / restart reading from the channel (backpressure while a command runs). */
  pause(): void;
  resume(): void;
}

type Event = { readonly kind: 0; readonly value: JsonValue } | { readonly kind: 1; readonly desc: string };

// Past this many queued requests, the channel is paused until the queue drains.
const HIGH_WATER = 4096;

export class Session {
  private readonly streamer: JsonStreamer;
  private readonly queue: Event[] = [];
  private head = 0;
  private busy = false;
  private paused = false;
  private out = '';
  private flushScheduled = false;

  constructor(
    private readonly dispatcher: Dispatcher,
    private readonly sink: ReplySink,
  ) {
    this.streamer = new JsonStreamer({
      message: (value) => this.enqueue({ kind: 0, value }),
      error: (desc) => this.enqueue({ kind: 1, desc }),
    });
  }

  /** Bytes from the channel; parser state persists across calls and across clients. */
  feed(chunk: Uint8Array): void {
    this.streamer.feed(chunk);
  }

  private enqueue(event: Event): void {
    if (!this.busy && this.head === this.queue.length) {
      this.run(event);
      return;
    }
    this.queue.push(event);
    if (!this.paused && this.queue.length - this.head > HIGH_WATER) {
      this.paused = true;
      this.sink.pause();
    }
  }

  private run(event: Event): void {
    if (event.kind === 1) {
      this.emit({ body: { error: { class: 'GenericError', desc: event.desc } }, delimit: false });
      return;
    }
    const reply = this.dispatcher.dispatch(event.value);
    if (reply instanceof Promise) {
      this.busy = true;
      void reply.then((r) => {
        this.busy = false;
        this.emit(r);
        this.drain();
      });
      return;
    }
    this.emit(reply);
  }

  private drain(): void {
    while (!this.busy && this.head < this.queue.length) {
      const event = this.queue[this.head++];
      this.run(event);
    }
    if (this.head === this.queue.length) {
      this.queue.length = 0;
      this.head = 0;
      if (this.paused) {
        this.paused = false;
        this.sink.resume();
      }
    }
  }

  private emit(reply: Reply | null): void {
    if (reply === null) return;
    const line = toJson(reply.body) + '\n';
    this.out += reply.delimit ? '\xff' + line : line;
    if (!this.flushScheduled) {
      this.flushScheduled = true;
      process.nextTick(() => this.flush());
    }
  }

  private flush(): void {
    this.flushScheduled = false;
    const text = this.out;
    this.out = '';
    // Replies are 7-bit ASCII plus the 0xFF delimiter, so latin1 is a byte-exact encoding.
    if (text.length > 0) this.sink.write(Buffer.from(text, 'latin1'));
  }
}
