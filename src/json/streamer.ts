// qemu-ga's JSON input path (docs/protocol.md §Framing, §JSON dialect, §Messages and limits, §Parse errors and 0xFF), QEMU 7.2 / 10.2 semantics:
// a byte-level lexer, a message assembler that counts braces and brackets and enforces the
// per-message limits, and a parser whose first grammar error is reported when the message
// is complete.
//
// The lexer runs on bytes. It keeps one token in progress; the token's bytes stay in the
// caller's chunk while the chunk is being fed, and only the unfinished tail of a token is
// copied when a chunk ends, so a 64 MiB string arriving in thousands of chunks is copied
// once, joined once and decoded once.
//
// The parser is incremental (a pushdown automaton fed token by token) instead of
// collecting the tokens and descending over them at the end as qemu-ga does. The two are
// equivalent: qemu-ga's parser never looks beyond the current token, so the first error it
// meets is the first error in token order, and a message without errors is always a
// complete value at the moment its brace/bracket counts close. What is kept from qemu-ga is
// that a grammar error is only *reported* when the message completes, and is forgotten if a
// lexical or limit error discards the message first.

import { WIRE_STRING_MIN, WireString, type JsonValue, type WireObject, type WireValue } from './value.ts';
import {
  decodeCString,
  decodeModUtf8Units,
  decodeValidModUtf8,
  isValidCodepoint,
  latin1,
  scanModUtf8,
  unitsToString,
} from './utf8.ts';

export interface StreamerSink<V = JsonValue> {
  /** One complete top-level value (any JSON type; objects are Maps in arrival order). */
  message(value: V): void;
  /** One JSON-level error, with qemu-ga's full desc text. */
  error(desc: string): void;
}

/** Largest total token size of one message, and largest single token (bytes). */
export const MAX_TOKEN_SIZE = 64 * 1024 * 1024;
/** Largest number of tokens in one message. */
export const MAX_TOKEN_COUNT = 2 * 1024 * 1024;
/** Largest number of open braces plus brackets. */
export const MAX_NESTING = 1024;

const DESC_SIZE = 'JSON token size limit exceeded';
const DESC_COUNT = 'JSON token count limit exceeded';
const DESC_NESTING = 'JSON nesting depth limit exceeded';
const PARSE_ERROR = 'JSON parse error, ';
/** qemu-ga formats grammar messages into a 1024-byte buffer. */
const MAX_MESSAGE = 1023;

// ---- lexer states -------------------------------------------------------------------
const S_START = 0;
const S_RECOVERY = 1;
// states at or above S_TOKEN have a token in progress
const S_TOKEN = 2;
const S_STR = 2;
const S_STR_ESC = 3;
const S_ZERO = 4;
const S_SIGN = 5;
const S_DIGITS = 6;
const S_MANT = 7;
const S_MANT_DIGITS = 8;
const S_EXP_E = 9;
const S_EXP_SIGN = 10;
const S_EXP_DIGITS = 11;
const S_KEYWORD = 12;

// ---- token types --------------------------------------------------------------------
const T_LCURLY = 1;
const T_RCURLY = 2;
const T_LSQUARE = 3;
const T_RSQUARE = 4;
const T_COLON = 5;
const T_COMMA = 6;
const T_INTEGER = 7;
const T_FLOAT = 8;
const T_KEYWORD = 9;
const T_STRING = 10;

// string token flags
const STR_HIGH = 1; // contains a byte >= 0x80
const STR_ESC = 2; // contains a backslash
const STR_NONB64 = 4; // contains a byte outside the base64 alphabet A-Z a-z 0-9 + / =
const STR_DEL = 8; // contains DEL (printed escaped)
const STR_OTHERQ = 16; // contains the other quote character
const STR_STOP = 0x80; // (STR_CLASS only) a byte the scan must stop at
/** Flags that keep a string from being a WireString. */
const STR_NOT_WIRE = STR_HIGH | STR_ESC | STR_DEL | STR_OTHERQ;

// ---- byte classes for the start state -----------------------------------------------
const C_ERROR = 0;
const C_WS = 1;
const C_STRUCT = 2; // { } [ ] : ,  (token type in STRUCT_TYPE)
const C_QUOTE = 3;
const C_ZERO = 4;
const C_DIGIT = 5;
const C_MINUS = 6;
const C_LOWER = 7;

const START_CLASS = new Uint8Array(256);
const STRUCT_TYPE = new Uint8Array(256);
/** Bytes that end error recovery: structural characters, controls except TAB, 0xFE, 0xFF. */
const RECOVERY_STOP = new Uint8Array(256);
const IS_DIGIT = new Uint8Array(256);
const IS_LOWER = new Uint8Array(256);
/**
 * String content bytes: 0 for plain ASCII, STR_HIGH for 0x80..0xFD, STR_STOP for the bytes
 * the scan must look at (quotes, backslash, controls, 0xFE, 0xFF); plus STR_NONB64 and STR_DEL,
 * which only inform (the scan ORs every class into the token's flags).
 */
const STR_CLASS = new Uint8Array(256);
/** STR_CLASS of both bytes of a little-endian 16-bit unit, ORed: the fast scan's table. */
const STR_CLASS2 = new Uint8Array(65536);
/** The fast scan is worth its setup from this many bytes on. */
const FAST_SCAN_MIN = 256;
{
  for (const c of ' \t\r\n') START_CLASS[c.charCodeAt(0)] = C_WS;
  const structs: [string, number][] = [
    ['{', T_LCURLY], ['}', T_RCURLY], ['[', T_LSQUARE], [']', T_RSQUARE], [':', T_COLON], [',', T_COMMA],
  ];
  for (const [c, t] of structs) {
    START_CLASS[c.charCodeAt(0)] = C_STRUCT;
    STRUCT_TYPE[c.charCodeAt(0)] = t;
    RECOVERY_STOP[c.charCodeAt(0)] = 1;
  }
  START_CLASS[0x22] = C_QUOTE;
  START_CLASS[0x27] = C_QUOTE;
  START_CLASS[0x30] = C_ZERO;
  for (let b = 0x31; b <= 0x39; b++) START_CLASS[b] = C_DIGIT;
  for (let b = 0x30; b <= 0x39; b++) IS_DIGIT[b] = 1;
  START_CLASS[0x2d] = C_MINUS;
  for (let b = 0x61; b <= 0x7a; b++) {
    START_CLASS[b] = C_LOWER;
    IS_LOWER[b] = 1;
  }
  for (let b = 0; b < 0x20; b++) if (b !== 0x09) RECOVERY_STOP[b] = 1;
  RECOVERY_STOP[0xfe] = 1;
  RECOVERY_STOP[0xff] = 1;
  for (let b = 0; b < 0x20; b++) STR_CLASS[b] = STR_STOP;
  for (let b = 0x80; b < 0xfe; b++) STR_CLASS[b] = STR_HIGH;
  STR_CLASS[0xfe] = STR_STOP;
  STR_CLASS[0xff] = STR_STOP;
  STR_CLASS[0x22] = STR_STOP;
  STR_CLASS[0x27] = STR_STOP;
  STR_CLASS[0x5c] = STR_STOP;
  STR_CLASS[0x7f] = STR_DEL;
  for (let b = 0; b < 256; b++) {
    const c = String.fromCharCode(b);
    if (!/[A-Za-z0-9+/=]/.test(c)) STR_CLASS[b] |= STR_NONB64;
  }
  for (let u = 0; u < 65536; u++) STR_CLASS2[u] = STR_CLASS[u & 0xff] | STR_CLASS[u >> 8];
}

const LITTLE_ENDIAN = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1;

/** Bytes per block of the fast scan (32 little-endian 16-bit units). */
const FAST_BLOCK = 64;
/** scanPlain()'s second result: the STR_CLASS bits of the bytes it passed. */
let scanFlags = 0;

/**
 * The string scan's inner loop for long runs: passes whole blocks of bytes the byte loop would
 * pass too (no STR_STOP byte among them), two bytes per table lookup, and returns where it
 * stopped: at the block holding the first byte to stop at, or less than a block before `end`.
 * The STR_CLASS bits of the bytes passed are ORed into `scanFlags`.
 */
function scanPlain(buf: Buffer, i: number, end: number): number {
  let acc = 0;
  if (((buf.byteOffset + i) & 1) !== 0 && i < end) {
    const c = STR_CLASS[buf[i]];
    if ((c & STR_STOP) !== 0) {
      scanFlags = 0;
      return i;
    }
    acc = c;
    i++;
  }
  const units = (end - i) >> 1;
  const blocks = LITTLE_ENDIAN ? units >> 5 : 0;
  if (blocks > 0) {
    // STR_CLASS2 is symmetric in its two bytes, so the byte order of the view is moot
    const w = new Uint16Array(buf.buffer, buf.byteOffset + i, blocks << 5);
    for (let k = 0; k < blocks << 5; k += 32) {
      let b = 0;
      for (let j = k; j < k + 32; j += 4) b |= STR_CLASS2[w[j]] | STR_CLASS2[w[j + 1]] | STR_CLASS2[w[j + 2]] | STR_CLASS2[w[j + 3]];
      if ((b & STR_STOP) !== 0) {
        scanFlags = acc;
        return i + k * 2;
      }
      acc |= b;
    }
    i += blocks * FAST_BLOCK;
  }
  scanFlags = acc;
  return i;
}

// ---- parser frame states ------------------------------------------------------------
const F_OBJ_FIRST = 0; // after '{': a key or '}'
const F_OBJ_KEY = 1; // after ',': a key
const F_OBJ_COLON = 2; // after a key
const F_OBJ_VALUE = 3; // after ':'
const F_OBJ_SEP = 4; // after a member: ',' or '}'
const F_ARR_FIRST = 5; // after '[': a value or ']'
const F_ARR_VALUE = 6; // after ',': a value
const F_ARR_SEP = 7; // after an element: ',' or ']'

interface Frame {
  st: number;
  map: WireObject | null;
  arr: WireValue[] | null;
  key: string;
}

export interface StreamerOptions {
  /**
   * Long plain string values become WireStrings (value.ts) that point into the fed chunks: the
   * streamer then keeps references to the chunks it is given, which must never change
   * afterwards (give it fresh buffers). Without this, chunks are copied as needed and may be reused.
   */
  wireStrings?: boolean;
}

const INT64_MIN = -(1n << 63n);
const INT64_MAX = (1n << 63n) - 1n;
const UINT64_MAX = (1n << 64n) - 1n;

const EMPTY = Buffer.alloc(0);

function hexDigit(b: number): number {
  if (b >= 0x30 && b <= 0x39) return b - 0x30;
  if (b >= 0x61 && b <= 0x66) return b - 0x61 + 10;
  if (b >= 0x41 && b <= 0x46) return b - 0x41 + 10;
  return -1;
}

/** qemu-ga's four-hex-digit reader: -1 unless bytes[i..i+4) are all hex digits before `end`. */
function hex4(bytes: Uint8Array, i: number, end: number): number {
  let cp = 0;
  for (let k = 0; k < 4; k++) {
    if (i + k >= end) return -1;
    const d = hexDigit(bytes[i + k]);
    if (d < 0) return -1;
    cp = cp * 16 + d;
  }
  return cp;
}

function toBuffer(chunk: Uint8Array): Buffer {
  return Buffer.isBuffer(chunk) ? chunk : Buffer.from(chunk.buffer, chunk.byteOffset, chunk.byteLength);
}

export class JsonStreamer<V extends WireValue = JsonValue> {
  private readonly sink: StreamerSink<V>;
  private readonly wire: boolean;

  // -- lexer --
  private state = S_START;
  /** Chunk being fed, and where the token in progress starts in it (0 if it began earlier). */
  private chunk: Buffer = EMPTY;
  private tokStart = 0;
  /** Bytes of the token in progress from earlier chunks: copies, or views (wire strings). */
  private parts: Uint8Array[] = [];
  private partsLen = 0;
  private quote = 0;
  private strFlags = 0;
  private feeding = false;

  // -- message assembly --
  private braces = 0;
  private brackets = 0;
  private tokenCount = 0;
  private tokenSize = 0;

  // -- parser --
  private frames: Frame[] = [];
  private depth = 0;
  private err: string | null = null;
  private hasResult = false;
  private result: WireValue = null;

  constructor(sink: StreamerSink<V>, options: StreamerOptions = {}) {
    this.sink = sink;
    this.wire = options.wireStrings === true;
  }

  /**
   * Feed bytes. Complete messages and errors are reported to the sink synchronously, in
   * input order. The chunk is not retained after the call returns, so the caller may reuse
   * it (unless `wireStrings` is on). State persists across calls for the lifetime of the streamer. Sinks must not call
   * feed() themselves, and should not throw (the rest of the chunk would be dropped).
   */
  feed(chunk: Uint8Array): void {
    if (this.feeding) throw new Error('JsonStreamer.feed() called from inside a sink callback');
    this.feeding = true;
    const buf = toBuffer(chunk);
    const n = buf.length;
    this.chunk = buf;
    this.tokStart = 0;
    let st = this.state;
    let i = 0;
    /** The fast string scan resumes here (the byte loop has the bytes before). */
    let fastFrom = 0;
    try {
      while (i < n) {
        switch (st) {
          case S_START: {
            const b = buf[i];
            switch (START_CLASS[b]) {
              case C_WS:
                i++;
                break;
              case C_STRUCT:
                i++;
                this.token(STRUCT_TYPE[b], i);
                break;
              case C_QUOTE:
                this.tokStart = i++;
                this.quote = b;
                this.strFlags = 0;
                st = S_STR;
                // short strings (names, keys) end within a block: the byte loop takes the first one
                fastFrom = i + FAST_BLOCK;
                break;
              case C_ZERO:
                this.tokStart = i++;
                st = S_ZERO;
                break;
              case C_DIGIT:
                this.tokStart = i++;
                st = S_DIGITS;
                break;
              case C_MINUS:
                this.tokStart = i++;
                st = S_SIGN;
                break;
              case C_LOWER:
                this.tokStart = i++;
                st = S_KEYWORD;
                break;
              default:
                this.tokStart = i++;
                this.stray(i);
                st = S_RECOVERY;
                break;
            }
            break;
          }

          case S_RECOVERY: {
            while (i < n && RECOVERY_STOP[buf[i]] === 0) i++;
            if (i < n) st = S_START;
            break;
          }

          case S_STR: {
            const q = this.quote;
            let flags = this.strFlags;
            let c = 0;
            let limit = n;
            if (n - i >= FAST_SCAN_MIN) {
              // Long run: whole blocks at a time up to the block holding a byte to stop at; the
              // byte loop then takes that block only, and finds the byte exactly as it would
              // have without this shortcut. No byte is looked at more than twice.
              if (i >= fastFrom) {
                i = scanPlain(buf, i, n);
                flags |= scanFlags;
                fastFrom = i + FAST_BLOCK;
              }
              if (fastFrom < n) limit = fastFrom;
            }
            while (i < limit && ((c = STR_CLASS[buf[i]]) & STR_STOP) === 0) {
              flags |= c;
              i++;
            }
            this.strFlags = flags;
            if (this.partsLen + i - this.tokStart > MAX_TOKEN_SIZE) {
              // the byte that made the token one byte too long ends it; lexing restarts after it
              i = this.tokStart + MAX_TOKEN_SIZE - this.partsLen + 1;
              this.overflow();
              st = S_START;
              break;
            }
            if (i >= n) break;
            const b = buf[i];
            if ((STR_CLASS[b] & STR_STOP) === 0) break; // at the byte loop's limit: scan on
            if (b === q) {
              i++;
              st = S_START;
              this.token(T_STRING, i);
            } else if (b === 0x5c) {
              i++;
              this.strFlags = flags | STR_ESC;
              st = S_STR_ESC;
              if (this.partsLen + i - this.tokStart > MAX_TOKEN_SIZE) {
                this.overflow();
                st = S_START;
              }
            } else if (b === 0x22 || b === 0x27) {
              i++; // the other quote character: ordinary content
              this.strFlags = flags | STR_OTHERQ;
              if (this.partsLen + i - this.tokStart > MAX_TOKEN_SIZE) {
                this.overflow();
                st = S_START;
              }
            } else {
              // a control byte, 0xFE or 0xFF
              i++;
              this.stray(i);
              st = S_RECOVERY;
            }
            break;
          }

          case S_STR_ESC: {
            const b = buf[i++];
            if (b >= 0x20 && b <= 0xfd) {
              st = S_STR;
              if (this.partsLen + i - this.tokStart > MAX_TOKEN_SIZE) {
                this.overflow();
                st = S_START;
              }
            } else {
              this.stray(i);
              st = S_RECOVERY;
            }
            break;
          }

          case S_ZERO: {
            const b = buf[i];
            if (IS_DIGIT[b]) {
              i++;
              this.stray(i);
              st = S_RECOVERY;
            } else if (b === 0x2e) {
              i++;
              st = this.grow(i, S_MANT);
            } else {
              st = S_START;
              this.token(T_INTEGER, i);
            }
            break;
          }

          case S_SIGN: {
            const b = buf[i++];
            if (b === 0x30) st = this.grow(i, S_ZERO);
            else if (b >= 0x31 && b <= 0x39) st = this.grow(i, S_DIGITS);
            else {
              this.stray(i);
              st = S_RECOVERY;
            }
            break;
          }

          case S_DIGITS:
          case S_MANT_DIGITS:
          case S_EXP_DIGITS:
          case S_KEYWORD: {
            const table = st === S_KEYWORD ? IS_LOWER : IS_DIGIT;
            while (i < n && table[buf[i]]) i++;
            if (this.partsLen + i - this.tokStart > MAX_TOKEN_SIZE) {
              i = this.tokStart + MAX_TOKEN_SIZE - this.partsLen + 1;
              this.overflow();
              st = S_START;
              break;
            }
            if (i >= n) break;
            const b = buf[i];
            if (st === S_KEYWORD) {
              st = S_START;
              this.token(T_KEYWORD, i);
            } else if ((b === 0x65 || b === 0x45) && st !== S_EXP_DIGITS) {
              i++;
              st = this.grow(i, S_EXP_E);
            } else if (b === 0x2e && st === S_DIGITS) {
              i++;
              st = this.grow(i, S_MANT);
            } else {
              const type = st === S_DIGITS ? T_INTEGER : T_FLOAT;
              st = S_START;
              this.token(type, i);
            }
            break;
          }

          case S_MANT:
          case S_EXP_SIGN: {
            const b = buf[i++];
            if (IS_DIGIT[b]) st = this.grow(i, st === S_MANT ? S_MANT_DIGITS : S_EXP_DIGITS);
            else {
              this.stray(i);
              st = S_RECOVERY;
            }
            break;
          }

          case S_EXP_E: {
            const b = buf[i++];
            if (b === 0x2b || b === 0x2d) st = this.grow(i, S_EXP_SIGN);
            else if (IS_DIGIT[b]) st = this.grow(i, S_EXP_DIGITS);
            else {
              this.stray(i);
              st = S_RECOVERY;
            }
            break;
          }

          default:
            throw new Error(`JsonStreamer: bad lexer state ${st}`);
        }
      }
    } finally {
      // Keep the unfinished token's bytes: the chunk belongs to the caller (a view will do
      // when the caller gives its chunks away).
      if (st >= S_TOKEN && this.tokStart < n) {
        this.parts.push(this.wire ? buf.subarray(this.tokStart, n) : (Uint8Array.prototype.slice.call(buf, this.tokStart, n) as Uint8Array));
        this.partsLen += n - this.tokStart;
      }
      this.tokStart = 0;
      this.state = st;
      this.chunk = EMPTY;
      this.feeding = false;
    }
  }

  // =====================================================================================
  // lexer helpers

  /** A byte was added to the token in progress: enter `next`, unless the token is now too long. */
  private grow(i: number, next: number): number {
    if (this.partsLen + i - this.tokStart > MAX_TOKEN_SIZE) {
      this.overflow();
      return S_START;
    }
    return next;
  }

  /** The bytes of the token in progress, up to `end` in the current chunk, as one array. */
  private tokenBytes(end: number): Uint8Array {
    const tail = this.chunk.subarray(this.tokStart, end);
    if (this.partsLen === 0) return tail;
    const all = Buffer.concat([...this.parts, tail], this.partsLen + tail.length);
    return all;
  }

  private clearToken(): void {
    if (this.partsLen !== 0) {
      this.parts = [];
      this.partsLen = 0;
    }
  }

  /** A lexical error; the offending byte ends at `end` and is part of the token text. */
  private stray(end: number): void {
    const bytes = this.tokenBytes(end);
    this.clearToken();
    // The text is printed with %s: it stops at a NUL byte, and invalid UTF-8 shows as U+FFFD.
    const text = decodeCString(bytes, 0, bytes.length);
    this.resetMessage();
    this.sink.error(`${PARSE_ERROR}stray '${text}'`);
  }

  /** The token in progress grew beyond MAX_TOKEN_SIZE. */
  private overflow(): void {
    this.clearToken();
    this.resetMessage();
    this.sink.error(DESC_SIZE);
  }

  // =====================================================================================
  // message assembly

  private token(type: number, end: number): void {
    const len = type <= T_COMMA ? 1 : this.partsLen + end - this.tokStart;
    switch (type) {
      case T_LCURLY:
        this.braces++;
        break;
      case T_RCURLY:
        this.braces--;
        break;
      case T_LSQUARE:
        this.brackets++;
        break;
      case T_RSQUARE:
        this.brackets--;
        break;
      default:
        break;
    }
    if (this.tokenSize + len + 1 > MAX_TOKEN_SIZE) return this.limitError(DESC_SIZE);
    if (this.tokenCount + 1 > MAX_TOKEN_COUNT) return this.limitError(DESC_COUNT);
    if (this.braces + this.brackets > MAX_NESTING) return this.limitError(DESC_NESTING);
    this.tokenCount++;
    this.tokenSize += len;

    if (this.err === null) this.parse(type, end);
    this.clearToken();

    if ((this.braces > 0 || this.brackets > 0) && this.braces >= 0 && this.brackets >= 0) return;
    this.complete();
  }

  private limitError(desc: string): void {
    this.clearToken();
    this.resetMessage();
    this.sink.error(desc);
  }

  private complete(): void {
    const err = this.err;
    const hasResult = this.hasResult;
    const result = this.result;
    this.resetMessage();
    if (err !== null) this.sink.error(PARSE_ERROR + err);
    else if (hasResult) this.sink.message(result as V);
    else this.sink.error(`${PARSE_ERROR}premature EOI`); // unreachable: see the header comment
  }

  private resetMessage(): void {
    this.braces = 0;
    this.brackets = 0;
    this.tokenCount = 0;
    this.tokenSize = 0;
    for (let d = 0; d < this.depth; d++) {
      const f = this.frames[d];
      f.map = null;
      f.arr = null;
    }
    this.depth = 0;
    this.err = null;
    this.hasResult = false;
    this.result = null;
  }

  // =====================================================================================
  // parser

  private parse(type: number, end: number): void {
    if (this.depth === 0) {
      this.valueStart(type, end);
      return;
    }
    const f = this.frames[this.depth - 1];
    switch (f.st) {
      case F_OBJ_FIRST:
        if (type === T_RCURLY) this.closeFrame();
        else this.valueStart(type, end);
        return;
      case F_OBJ_KEY:
      case F_OBJ_VALUE:
      case F_ARR_VALUE:
        this.valueStart(type, end);
        return;
      case F_OBJ_COLON:
        if (type === T_COLON) f.st = F_OBJ_VALUE;
        else this.err = 'missing : in object pair';
        return;
      case F_OBJ_SEP:
        if (type === T_RCURLY) this.closeFrame();
        else if (type === T_COMMA) f.st = F_OBJ_KEY;
        else this.err = 'expected separator in dict';
        return;
      case F_ARR_FIRST:
        if (type === T_RSQUARE) this.closeFrame();
        else this.valueStart(type, end);
        return;
      case F_ARR_SEP:
        if (type === T_RSQUARE) this.closeFrame();
        else if (type === T_COMMA) f.st = F_ARR_VALUE;
        else this.err = 'expected separator in list';
        return;
      default:
        throw new Error(`JsonStreamer: bad parser state ${f.st}`);
    }
  }

  private valueStart(type: number, end: number): void {
    switch (type) {
      case T_LCURLY:
        this.pushFrame(F_OBJ_FIRST, new Map(), null);
        return;
      case T_LSQUARE:
        this.pushFrame(F_ARR_FIRST, null, []);
        return;
      case T_STRING: {
        const s = this.stringValue(end);
        if (s !== null) this.deliver(s);
        return;
      }
      case T_INTEGER:
        this.deliver(this.integerValue(end));
        return;
      case T_FLOAT:
        this.deliver(Number(latin1(this.chunkOrJoined(end), this.joinedStart, this.joinedEnd)));
        return;
      case T_KEYWORD: {
        const bytes = this.chunkOrJoined(end);
        const kw = latin1(bytes, this.joinedStart, this.joinedEnd);
        if (kw === 'true') this.deliver(true);
        else if (kw === 'false') this.deliver(false);
        else if (kw === 'null') this.deliver(null);
        else this.setError(`invalid keyword '${kw}'`);
        return;
      }
      default:
        this.err = 'expecting value';
    }
  }

  private pushFrame(st: number, map: WireObject | null, arr: WireValue[] | null): void {
    let f = this.frames[this.depth];
    if (f === undefined) {
      f = { st, map, arr, key: '' };
      this.frames.push(f);
    } else {
      f.st = st;
      f.map = map;
      f.arr = arr;
      f.key = '';
    }
    this.depth++;
  }

  private closeFrame(): void {
    const f = this.frames[--this.depth];
    const v: WireValue = f.map !== null ? f.map : (f.arr as WireValue[]);
    f.map = null;
    f.arr = null;
    this.deliver(v);
  }

  /** A complete value: hand it to the enclosing container, or make it the message. */
  private deliver(v: WireValue): void {
    if (this.depth === 0) {
      this.result = v;
      this.hasResult = true;
      return;
    }
    const f = this.frames[this.depth - 1];
    if (f.arr !== null) {
      f.arr.push(v);
      f.st = F_ARR_SEP;
    } else if (f.st === F_OBJ_VALUE) {
      const map = f.map as WireObject;
      if (map.has(f.key)) this.err = 'duplicate key';
      else {
        map.set(f.key, v);
        f.st = F_OBJ_SEP;
      }
    } else if (typeof v === 'string') {
      f.key = v;
      f.st = F_OBJ_COLON;
    } else {
      this.err = 'key is not a string in object';
    }
  }

  private setError(msg: string): void {
    // qemu-ga formats the message into a 1024-byte buffer (our messages are ASCII here).
    this.err = msg.length > MAX_MESSAGE ? msg.slice(0, MAX_MESSAGE) : msg;
  }

  // ---- token values -------------------------------------------------------------------

  private joinedStart = 0;
  private joinedEnd = 0;

  /** The token's bytes as one array, with the token at [joinedStart, joinedEnd). */
  private chunkOrJoined(end: number): Uint8Array {
    if (this.partsLen === 0) {
      this.joinedStart = this.tokStart;
      this.joinedEnd = end;
      return this.chunk;
    }
    const all = this.tokenBytes(end);
    this.joinedStart = 0;
    this.joinedEnd = all.length;
    return all;
  }

  private integerValue(end: number): bigint | number {
    const bytes = this.chunkOrJoined(end);
    const s = this.joinedStart;
    const e = this.joinedEnd;
    if (e - s <= 15) {
      // fits a double exactly: no range question
      let i = s;
      const neg = bytes[i] === 0x2d;
      if (neg) i++;
      let v = 0;
      for (; i < e; i++) v = v * 10 + (bytes[i] - 0x30);
      return BigInt(neg ? -v : v);
    }
    const text = latin1(bytes, s, e);
    // More than 20 digits never fits 64 bits; skip BigInt, whose parsing is quadratic.
    if (e - s - (bytes[s] === 0x2d ? 1 : 0) > 20) return Number(text);
    const v = BigInt(text);
    if (v >= INT64_MIN && v <= INT64_MAX) return v;
    if (v >= 0n && v <= UINT64_MAX) return v;
    return Number(text);
  }

  /** Decode a string token the way qemu-ga's parse_string does; null (and err set) on error. */
  private stringValue(end: number): string | WireString | null {
    const flags = this.strFlags;
    if (this.wire && (flags & STR_NOT_WIRE) === 0 && this.partsLen + end - this.tokStart - 2 >= WIRE_STRING_MIN && !this.keyExpected()) {
      return this.wireString(end, (flags & STR_NONB64) === 0);
    }
    const bytes = this.chunkOrJoined(end);
    const tokS = this.joinedStart;
    const tokE = this.joinedEnd;
    const s = tokS + 1;
    const e = tokE - 1;
    if ((flags & (STR_HIGH | STR_ESC)) === 0) return latin1(bytes, s, e);
    if ((flags & STR_ESC) === 0) {
      const r = scanModUtf8(bytes, s, e);
      if (r < 0) {
        this.err = 'invalid UTF-8 sequence in string';
        return null;
      }
      return decodeValidModUtf8(bytes, s, e, r === 1);
    }
    return this.decodeEscaped(bytes, s, e, tokE);
  }

  /** Is the token in progress a member name? */
  private keyExpected(): boolean {
    if (this.depth === 0) return false;
    const st = this.frames[this.depth - 1].st;
    return st === F_OBJ_FIRST || st === F_OBJ_KEY;
  }

  /** The string token ending at `end`, quotes dropped, as views of the chunks it came in. */
  private wireString(end: number, base64: boolean): WireString {
    const views: Buffer[] = [];
    for (const p of this.parts) views.push(toBuffer(p));
    views.push(this.chunk.subarray(this.tokStart, end));
    // drop the opening quote, then the closing one (each may be a chunk of its own)
    views[0] = views[0].subarray(1);
    if (views[0].length === 0) views.shift();
    const last = views.length - 1;
    views[last] = views[last].subarray(0, views[last].length - 1);
    if (views[last].length === 0) views.pop();
    return new WireString(views, base64);
  }

  /** Slow path: a string with escapes. [s, e) is the content; tokE ends the token text. */
  private decodeEscaped(bytes: Uint8Array, s: number, e: number, tokE: number): string | null {
    // every byte yields at most one UTF-16 unit (a 4-byte sequence two, an escape fewer)
    const units = unitBuffer(e - s);
    const high = (this.strFlags & STR_HIGH) !== 0;
    let o = 0;
    let i = s;
    while (i < e) {
      let bs = i;
      if (high) {
        while (bs < e && bytes[bs] !== 0x5c) bs++;
        if (bs > i) {
          o = decodeModUtf8Units(bytes, i, bs, units, o);
          if (o < 0) {
            this.err = 'invalid UTF-8 sequence in string';
            return null;
          }
        }
      } else {
        let c: number;
        while (bs < e && (c = bytes[bs]) !== 0x5c) {
          units[o++] = c;
          bs++;
        }
      }
      if (bs >= e) break;
      const c = bytes[bs + 1];
      i = bs + 2;
      switch (c) {
        case 0x22:
        case 0x27:
        case 0x5c:
        case 0x2f:
          units[o++] = c;
          break;
        case 0x62: units[o++] = 0x08; break;
        case 0x66: units[o++] = 0x0c; break;
        case 0x6e: units[o++] = 0x0a; break;
        case 0x72: units[o++] = 0x0d; break;
        case 0x74: units[o++] = 0x09; break;
        case 0x75: {
          let cp = hex4(bytes, bs + 2, tokE);
          let next = bs + 6;
          if (cp >= 0xd800 && cp <= 0xdbff && bytes[next] === 0x5c && next + 1 < tokE && bytes[next + 1] === 0x75) {
            const trailing = hex4(bytes, next + 2, tokE);
            if (trailing >= 0xdc00 && trailing <= 0xdfff) {
              cp = 0x10000 + ((cp & 0x3ff) << 10) + (trailing & 0x3ff);
              next += 6;
            } else {
              cp = -1;
            }
          }
          if (!isValidCodepoint(cp)) {
            // the quoted text is the raw escape, cut at the end of the token
            const text = decodeCString(bytes, bs, Math.min(next, tokE));
            this.err = `${text} is not a valid Unicode character`;
            return null;
          }
          if (cp < 0x10000) units[o++] = cp;
          else {
            units[o++] = 0xd800 + ((cp - 0x10000) >> 10);
            units[o++] = 0xdc00 + ((cp - 0x10000) & 0x3ff);
          }
          i = next;
          break;
        }
        default:
          this.err = 'invalid escape sequence in string';
          return null;
      }
    }
    return unitsToString(units, o);
  }
}

/** A scratch buffer for decoding, reused while small. */
let scratchUnits = new Uint16Array(4096);
function unitBuffer(n: number): Uint16Array {
  if (n <= scratchUnits.length) return scratchUnits;
  const u = new Uint16Array(n);
  if (n <= 1 << 20) scratchUnits = u;
  return u;
}
