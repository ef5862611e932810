// The JSON value model shared by the whole agent.
// Integers are bigint (exact int64/uint64, never rounded); doubles are number.
// Parsed objects are Maps so member order and integer-like names survive untouched.

export type JsonObject = Map<string, JsonValue>;
export type JsonValue = null | boolean | number | bigint | string | JsonValue[] | JsonObject;

/**
 * A long string value kept as the bytes it arrived in, instead of a JS string: made by a
 * JsonStreamer created with `wireStrings: true`, for string values (never member names) of at
 * least WIRE_STRING_MIN bytes whose bytes are all printable 7-bit ASCII other than `"`, `\` and
 * DEL (no escapes). Such a string is exactly its bytes read as Latin-1, and it serializes as
 * `"` + bytes + `"`, so a 64 MiB argument can be checked, decoded or echoed without ever being
 * copied into a JS string. `toString()` makes the JS string when one is needed.
 */
export class WireString {
  /** Characters (= bytes). */
  readonly length: number;
  /** Every byte is in the base64 alphabet A-Z a-z 0-9 + / = (known from lexing, for free). */
  readonly base64: boolean;
  /** The content, in order: views into the chunks it arrived in, which must not change. */
  readonly chunks: readonly Buffer[];

  constructor(chunks: readonly Buffer[], base64: boolean) {
    let n = 0;
    for (const c of chunks) n += c.length;
    this.length = n;
    this.chunks = chunks;
    this.base64 = base64;
  }

  /** The index of the first byte `b` at or after `from`, or -1. */
  indexOfByte(b: number, from = 0): number {
    let base = 0;
    for (const c of this.chunks) {
      if (from < base + c.length) {
        const i = c.indexOf(b, Math.max(0, from - base));
        if (i >= 0) return base + i;
      }
      base += c.length;
    }
    return -1;
  }

  /** The byte (character code) at index `i`. */
  byteAt(i: number): number {
    let base = 0;
    for (const c of this.chunks) {
      if (i < base + c.length) return c[i - base];
      base += c.length;
    }
    return NaN;
  }

  /** The string as a JS string (a copy: prefer the chunks when they will do). */
  toString(): string {
    if (this.chunks.length === 1) return this.chunks[0].toString('latin1');
    return Buffer.concat(this.chunks as Buffer[], this.length).toString('latin1');
  }
}

/** Shortest string a wire-string streamer keeps as a WireString. */
export const WIRE_STRING_MIN = 64 * 1024;

/** A parsed value from a streamer with `wireStrings: true`: JsonValue, plus WireStrings. */
export type WireValue = null | boolean | number | bigint | string | WireString | WireValue[] | WireObject;
export type WireObject = Map<string, WireValue>;

/** Bytes held outside the JS heap (a memfd), read piece by piece while a reply is encoded. */
export interface ByteFile {
  readonly length: number;
  /** Fills `into` with the bytes from `pos` on (pos + into.length <= length). */
  readAt(pos: number, into: Buffer): void;
}

/** Input bytes per read from a ByteFile: a multiple of 3, so that pieces encode without padding. */
const FILE_STEP = 48 * 1024;
let fileScratch: Buffer | undefined;

/**
 * Bytes that the serializer prints as a JSON string holding their base64 text (standard
 * alphabet, padded), encoded piece by piece as the reply is written: a 48 MiB read never
 * becomes a 64 MiB JS string. `release` runs once the bytes have been encoded (or the reply
 * was dropped), after which they are no longer read.
 */
export class Base64Bytes {
  constructor(
    readonly bytes: Buffer | ByteFile,
    readonly release?: () => void,
  ) {}

  /** Length of the base64 text. */
  get encodedLength(): number {
    return Math.ceil(this.bytes.length / 3) * 4;
  }

  /** The base64 text of bytes [start, end); `start` a multiple of 3 unless `end` is the last byte. */
  base64(start: number, end: number): string {
    const src = this.bytes;
    if (Buffer.isBuffer(src)) return src.toString('base64', start, end);
    const scratch = (fileScratch ??= Buffer.allocUnsafeSlow(FILE_STEP));
    let text = '';
    for (let pos = start; pos < end; pos += FILE_STEP) {
      const piece = scratch.subarray(0, Math.min(FILE_STEP, end - pos));
      src.readAt(pos, piece);
      text += piece.toString('base64');
    }
    return text;
  }
}

/** Base64 text as a JS string: its alphabet needs no escaping, so the serializer prints it unscanned. */
export class Base64Text {
  constructor(readonly text: string) {}
}

/** What the serializer accepts: parsed values plus plain objects built by handlers. */
export type OutValue =
  | null
  | boolean
  | number
  | bigint
  | string
  | WireString
  | Base64Bytes
  | Base64Text
  | readonly OutValue[]
  | ReadonlyMap<string, OutValue>
  | { readonly [member: string]: OutValue | undefined };
