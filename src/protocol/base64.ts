// Base64 as qemu-ga speaks it (docs/compatibility.md §Commands, §Intended differences): for guest-file-write, guest-exec
// input-data and guest-set-user-password.
//
// Decoding = QEMU's strict pre-check, then GLib-compatible group decoding with the team's fix:
//   1. Every character must be one of A-Z a-z 0-9 + / = or LF, else
//      "Base64 data contains invalid characters". (A JSON "\u0000" is no exception: QEMU's
//      parser turns it into the bytes C0 80, which fail the check.)
//   2. LF is skipped anywhere. The rest is read in groups of 4: a group is "xxxx", "xxx="
//      or "xx=="; padded groups may follow each other ("YQ==YQ==" is "aa").
//   3. A final group of 2 or 3 characters is decoded as if padded (RFC 4648): "YWJ" is "ab",
//      "YW=" is "a". A final single character, or "=" anywhere else ("aG=k", "a===", "=AAA",
//      "Y="), is the invalid-characters error. (qemu-ga itself silently drops a short final
//      group and decodes misplaced "=" as zero bits; docs/compatibility.md §Intended differences fixes both.)
//
// Speed: a 64 MiB argument is checked with one regex scan and decoded by Buffer in one call
// when it has no LF and no inner padding (the normal case); only odd inputs take the
// linear byte-by-byte path.
import type { WireString } from '../json/value.ts';
import { genericError } from './errors.ts';

export const BASE64_INVALID_DESC = 'Base64 data contains invalid characters';

const INVALID_CHAR = /[^A-Za-z0-9+/=\n]/;

function invalid(): never {
  throw genericError(BASE64_INVALID_DESC);
}

/** Decodes qemu-ga base64; throws the GenericError `Base64 data contains invalid characters`. */
export function decodeBase64(input: string): Buffer {
  let s = input;
  if (s.length === 0) return Buffer.alloc(0);
  if (INVALID_CHAR.test(s)) invalid();
  if (s.indexOf('\n') >= 0) s = s.replaceAll('\n', '');
  const len = s.length;
  const firstPad = s.indexOf('=');
  if (firstPad < 0) {
    // No padding at all: complete groups plus an optional 2- or 3-character tail.
    if (len % 4 === 1) invalid();
    return Buffer.from(s, 'base64');
  }
  if (len % 4 === 0 && firstPad >= len - 2 && (firstPad === len - 1 || s.charCodeAt(len - 1) === 61)) {
    // The common padded form: padding only at the very end of the last group.
    return Buffer.from(s, 'base64');
  }
  return decodeGroups(s);
}

const RANK = new Int8Array(256).fill(-1);
for (let i = 0; i < 64; i++) RANK['ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/'.charCodeAt(i)] = i;
const PAD = 61; // '='

/**
 * Inner or partial padding: one linear pass over the bytes (already checked to hold only
 * the alphabet and "="), so even a 64 MiB run of "YQ==YQ==..." costs no allocations per group.
 */
function decodeGroups(s: string): Buffer {
  const src = Buffer.from(s, 'latin1');
  const n = src.length;
  if (n % 4 === 1) invalid();
  const out = Buffer.allocUnsafe(Math.floor(n / 4) * 3 + 2);
  let o = 0;
  for (let i = 0; i < n; i += 4) {
    const c0 = src[i];
    const c1 = src[i + 1];
    const c2 = i + 2 < n ? src[i + 2] : PAD;
    const c3 = i + 3 < n ? src[i + 3] : PAD;
    if (c0 === PAD || c1 === PAD || (c2 === PAD && c3 !== PAD)) invalid();
    const v = (RANK[c0] << 18) | (RANK[c1] << 12) | ((c2 === PAD ? 0 : RANK[c2]) << 6) | (c3 === PAD ? 0 : RANK[c3]);
    out[o++] = v >>> 16;
    if (c2 !== PAD) out[o++] = (v >>> 8) & 0xff;
    if (c3 !== PAD) out[o++] = v & 0xff;
  }
  return out.subarray(0, o);
}

/**
 * A checked input in the plain form: no LF, "=" only at the very end. Such text can be decoded
 * piece by piece (any cut at a multiple of 4 characters), so a 64 MiB argument never needs a
 * 48 MiB buffer of its own. The text is a JS string or a WireString (the bytes it arrived in).
 */
export class PlainBase64 {
  private pos = 0;
  /** WireString: chunk index and offset of `pos`. */
  private ci = 0;
  private co = 0;

  constructor(
    readonly text: string | WireString,
    /** Decoded size in bytes. */
    readonly length: number,
  ) {}

  /** Characters of text. */
  get chars(): number {
    return this.text.length;
  }

  /**
   * Decodes the next characters into `out` from offset 0, as many as fit (out.length must be a
   * multiple of 3); returns the byte count (0 once everything is decoded).
   */
  readInto(out: Buffer): number {
    const total = this.text.length;
    const want = Math.min((out.length / 3) * 4, total - this.pos);
    if (typeof this.text === 'string') {
      const n = out.write(this.text.slice(this.pos, this.pos + want), 0, 'base64');
      this.pos += want;
      return n;
    }
    // WireString: small latin1 strings of whole groups, straight from the chunks.
    let o = 0;
    let left = want;
    while (left > 0) {
      const k = Math.min(left, DECODE_STEP);
      o += out.write(this.take(k), o, 'base64');
      left -= k;
    }
    this.pos += want;
    return o;
  }

  /** The next `k` characters of a WireString, as a JS string. */
  private take(k: number): string {
    const chunks = (this.text as WireString).chunks;
    let s = '';
    while (k > 0) {
      const c = chunks[this.ci];
      const m = Math.min(k, c.length - this.co);
      s += c.toString('latin1', this.co, this.co + m);
      this.co += m;
      k -= m;
      if (this.co === c.length) {
        this.ci++;
        this.co = 0;
      }
    }
    return s;
  }
}

/** Characters decoded per step from a WireString (a multiple of 4). */
const DECODE_STEP = 16 * 1024;

/** The plain-form test shared by JS strings and WireStrings; returns the decoded size, or -1 when not plain. */
function plainLength(len: number, firstPad: number, lastChar: number): number {
  let pad = 0;
  if (firstPad >= 0) {
    if (!(len % 4 === 0 && firstPad >= len - 2 && (firstPad === len - 1 || lastChar === 61))) return -1;
    pad = len - firstPad;
  } else if (len % 4 === 1) {
    invalid();
  }
  const tail = len % 4;
  return Math.floor(len / 4) * 3 + (tail === 0 ? 0 : tail - 1) - pad;
}

/**
 * Checks `input` like decodeBase64 (same error) and returns it as PlainBase64 when it has the
 * plain form, or null when only decodeBase64 can handle it (LF, inner padding).
 */
export function planBase64(input: string): PlainBase64 | null {
  const len = input.length;
  if (len === 0) return new PlainBase64(input, 0);
  if (INVALID_CHAR.test(input)) invalid();
  if (input.indexOf('\n') >= 0) return null;
  const n = plainLength(len, input.indexOf('='), input.charCodeAt(len - 1));
  return n < 0 ? null : new PlainBase64(input, n);
}

/**
 * planBase64 for a WireString: its characters were classified while it was lexed, so the check
 * is a flag, and a search for the first "=". It holds no LF (a raw LF cannot be in a JSON string).
 */
export function planWireBase64(input: WireString): PlainBase64 | null {
  const len = input.length;
  if (len === 0) return new PlainBase64(input, 0);
  if (!input.base64) invalid();
  const n = plainLength(len, input.indexOfByte(61), input.byteAt(len - 1));
  return n < 0 ? null : new PlainBase64(input, n);
}

/** Standard padded base64 of `buf[0, length)`; "" for no bytes. */
export function encodeBase64(buf: Uint8Array, length = buf.length): string {
  if (length === 0) return '';
  const b = Buffer.isBuffer(buf) ? buf : Buffer.from(buf.buffer, buf.byteOffset, buf.byteLength);
  return b.toString('base64', 0, length);
}
