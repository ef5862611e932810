// Splits the agent's output into answer lines (docs/protocol.md §Responses): one JSON text per line, ended by
// "\n"; a guest-sync-delimited answer is preceded by one 0xFF byte. The agent's output is
// pure 7-bit ASCII, so a 0xFF can only be that delimiter, wherever it shows up.
//
// Two modes:
//   - normal: every complete line is reported; a 0xFF in the middle of a line means the
//     bytes before it were a stale fragment: they are dropped and the line after the 0xFF
//     is reported as delimited;
//   - skipping (skipToDelimiter()): everything is discarded up to the next 0xFF; the line
//     after it is reported as delimited, and the framer is back in normal mode.

import { JsonStreamer } from '../json/streamer.ts';
import type { JsonValue } from '../json/value.ts';

const NL = 0x0a;
const FF = 0xff;
const NL_BUF = Buffer.from([NL]);

export interface FramerSink {
  /** One complete line, without its "\n"; `delimited`: a 0xFF came right before it. */
  line(line: Buffer, delimited: boolean): void;
  /** A line grew past the limit; it is discarded up to its "\n". */
  overflow(bytes: number): void;
}

export class ReplyFramer {
  private parts: Buffer[] = [];
  private partsLen = 0;
  private skipping = false;
  private skippingLine = false;
  private delimited = false;

  constructor(
    private readonly sink: FramerSink,
    /** Longest line kept (bytes). qemu-ga's longest answer is a 48 MB read: 64 MB of base64. */
    private readonly maxLine = 96 * 1024 * 1024,
  ) {}

  /** Drops any partial line and discards everything up to the next 0xFF. */
  skipToDelimiter(): void {
    this.parts = [];
    this.partsLen = 0;
    this.skipping = true;
    this.skippingLine = false;
    this.delimited = false;
  }

  /** True while bytes are being discarded up to a 0xFF. */
  get isSkipping(): boolean {
    return this.skipping;
  }

  feed(chunk: Buffer): void {
    const n = chunk.length;
    let i = 0;
    // Position of the next 0xFF at or after i (n: none in this chunk), found once per chunk
    // and reused, so that many short lines do not rescan a long chunk.
    let ff = -2;
    while (i < n) {
      if (ff !== n && ff < i) {
        const at = chunk.indexOf(FF, i);
        ff = at < 0 ? n : at;
      }
      if (this.skipping) {
        if (ff === n) return;
        this.skipping = false;
        this.delimited = true;
        i = ff + 1;
        continue;
      }
      const at = chunk.indexOf(NL, i);
      const nl = at < 0 ? n : at;
      if (ff < nl) {
        // A delimiter inside a line: what came before it is a stale fragment.
        this.parts = [];
        this.partsLen = 0;
        this.skippingLine = false;
        this.delimited = true;
        i = ff + 1;
        continue;
      }
      if (nl === n) {
        this.keep(chunk.subarray(i));
        return;
      }
      if (this.skippingLine) {
        this.skippingLine = false;
      } else {
        let line = chunk.subarray(i, nl);
        if (this.partsLen > 0) {
          this.parts.push(line);
          line = Buffer.concat(this.parts, this.partsLen + line.length);
          this.parts = [];
          this.partsLen = 0;
        }
        const delimited = this.delimited;
        this.delimited = false;
        this.sink.line(line, delimited);
        // The sink may have switched to skipping; the loop re-checks.
      }
      this.delimited = false;
      i = nl + 1;
    }
  }

  private keep(part: Buffer): void {
    if (this.skippingLine) return;
    if (this.partsLen + part.length > this.maxLine) {
      const bytes = this.partsLen + part.length;
      this.parts = [];
      this.partsLen = 0;
      this.skippingLine = true;
      this.delimited = false;
      this.sink.overflow(bytes);
      return;
    }
    this.parts.push(part);
    this.partsLen += part.length;
  }
}

export type ParsedLine = { ok: true; value: JsonValue } | { ok: false; error: string };

/**
 * Parses one answer line with the project's exact JSON codec (bigint integers, Maps in
 * arrival order). A line must hold exactly one JSON value.
 */
export function parseLine(line: Buffer): ParsedLine {
  const values: JsonValue[] = [];
  let error: string | null = null;
  const streamer = new JsonStreamer({
    message: (v) => void values.push(v),
    error: (desc) => void (error ??= desc),
  });
  streamer.feed(line);
  streamer.feed(NL_BUF);
  if (error !== null) return { ok: false, error };
  if (values.length !== 1) return { ok: false, error: values.length === 0 ? 'incomplete JSON text' : 'more than one JSON value on one line' };
  return { ok: true, value: values[0]! };
}
