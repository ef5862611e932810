// qemu-ga's JSON output format, byte for byte (docs/protocol.md §Output format, docs/compatibility.md §Intended differences).
//
// - `", "` between members and elements, `": "` after keys, `{}` and `[]` when empty;
// - object members in QDict order (qdict-order.ts), for Maps and plain objects alike;
//   plain-object members whose value is `undefined` are absent optional members: omitted;
// - strings in pure 7-bit ASCII: `\"` `\\` `\b` `\f` `\n` `\r` `\t`, every other control
//   character, DEL and every non-ASCII character as uppercase `\uXXXX` (surrogate pairs above
//   U+FFFF); `/` is not escaped. Characters qemu-ga could never hold (lone surrogates and
//   noncharacters) print as `\uFFFD`, as qemu-ga prints the bytes it cannot decode;
// - bigint in decimal; number as C's `%.17g` (formatDouble);
// - non-finite numbers as `1e400` / `-1e400`, never `inf`. NaN cannot come from parsing; a
//   NaN from a handler is printed as `1e400` too (a valid JSON number; nothing better exists).

import { Base64Bytes, Base64Text, WireString, type OutValue } from './value.ts';
import { computeQdictOrder, qdictOrder } from './qdict-order.ts';

/** A string value the serializer leaves out of the text: its content goes between two parts. */
export type BigPart = WireString | Base64Bytes;

/**
 * Serialize one value in qemu-ga's format (no trailing newline). WireStrings and Base64Bytes
 * are made into JS strings here; toJsonParts() avoids that.
 */
export function toJson(value: OutValue): string {
  if (big.length !== 0) big = []; // left by a write() that threw
  const s = write(value);
  if (big.length === 0) return s;
  const parts = s.split(MARK);
  let out = parts[0];
  for (let i = 0; i < big.length; i++) out += bigText(big[i]) + parts[i + 1];
  big = [];
  return out;
}

/**
 * Serialize one value as text parts around the content of its big strings:
 * `[text0, big0, text1, big1, …, textN]`, the quotes being in the text. A value without
 * WireStrings or Base64Bytes gives `[text]`.
 */
export function toJsonParts(value: OutValue): (string | BigPart)[] {
  if (big.length !== 0) big = [];
  const s = write(value);
  if (big.length === 0) return [s];
  const parts = s.split(MARK);
  const out: (string | BigPart)[] = [parts[0]];
  for (let i = 0; i < big.length; i++) out.push(big[i], parts[i + 1]);
  big = [];
  return out;
}

/** Bytes of base64 input encoded per step: small strings, made and dropped in V8's young space. */
const ENCODE_STEP = 12 * 1024;

/**
 * The bytes of a serialized reply (toJsonParts) between `prefix` and `suffix`, produced piece by
 * piece into caller-provided buffers: big parts are copied or base64-encoded straight into them.
 * Each Base64Bytes is released once its last byte is encoded; close() releases the rest.
 */
export class ReplyBytes {
  /** Total number of bytes. */
  readonly length: number;
  private readonly items: (string | BigPart)[];
  private index = 0;
  /** Position inside the current item (characters, bytes or input bytes). */
  private pos = 0;
  /** For a WireString: the chunk being copied. */
  private chunk = 0;
  private closed = false;

  constructor(parts: readonly (string | BigPart)[], prefix: string, suffix: string) {
    const items = [...parts];
    items[0] = prefix + (items[0] as string);
    items[items.length - 1] = (items[items.length - 1] as string) + suffix;
    let n = 0;
    for (const it of items) n += typeof it === 'string' ? it.length : it instanceof WireString ? it.length : it.encodedLength;
    this.items = items;
    this.length = n;
  }

  get done(): boolean {
    return this.index >= this.items.length;
  }

  /** Fills out[offset..] with the next bytes; returns how many (less than the room only at the end). */
  fill(out: Buffer, offset: number): number {
    let o = offset;
    const end = out.length;
    while (o < end && this.index < this.items.length) {
      const it = this.items[this.index];
      if (typeof it === 'string') {
        const k = Math.min(end - o, it.length - this.pos);
        o += out.write(this.pos === 0 && k === it.length ? it : it.substring(this.pos, this.pos + k), o, k, 'latin1');
        this.pos += k;
        if (this.pos === it.length) this.next();
      } else if (it instanceof WireString) {
        while (o < end && this.chunk < it.chunks.length) {
          const c = it.chunks[this.chunk];
          const k = Math.min(end - o, c.length - this.pos);
          c.copy(out, o, this.pos, this.pos + k);
          o += k;
          this.pos += k;
          if (this.pos === c.length) {
            this.chunk++;
            this.pos = 0;
          }
        }
        if (this.chunk === it.chunks.length) this.next();
      } else {
        const n = it.bytes.length;
        while (this.pos < n) {
          const room = Math.floor((end - o) / 4) * 3;
          if (room === 0) break;
          const k = Math.min(ENCODE_STEP, room, n - this.pos);
          o += out.write(it.base64(this.pos, this.pos + k), o, 'latin1');
          this.pos += k;
        }
        if (this.pos < n) break;
        it.release?.();
        this.next();
      }
    }
    return o - offset;
  }

  private next(): void {
    this.index++;
    this.pos = 0;
    this.chunk = 0;
  }

  /** Releases every Base64Bytes not encoded yet (idempotent). */
  close(): void {
    if (this.closed) return;
    this.closed = true;
    for (let i = this.index; i < this.items.length; i++) {
      const it = this.items[i];
      if (it instanceof Base64Bytes) it.release?.();
    }
    this.index = this.items.length;
  }
}

/** The content of a big part as a JS string (no quotes). */
function bigText(p: BigPart): string {
  if (p instanceof WireString) return p.toString();
  return p.base64(0, p.bytes.length);
}

// Big strings met by the current write(), in order; each is MARK in the text. MARK is a
// control character, which the output never holds unescaped.
let big: BigPart[] = [];
const MARK = '\u0001';

function write(v: OutValue | undefined): string {
  switch (typeof v) {
    case 'string':
      return quote(v);
    case 'number':
      return formatDouble(v);
    case 'bigint':
      return v.toString();
    case 'boolean':
      return v ? 'true' : 'false';
    case 'object': {
      if (v === null) return 'null';
      if (Array.isArray(v)) return writeArray(v as readonly OutValue[]);
      if (v instanceof Map) return writeMap(v as ReadonlyMap<string, OutValue>);
      if (v instanceof Base64Text) return '"' + v.text + '"';
      if (v instanceof WireString || v instanceof Base64Bytes) {
        // Both hold only characters printed as they are: no escaping, no scan.
        big.push(v);
        return '"' + MARK + '"';
      }
      return writeObject(v as { readonly [member: string]: OutValue | undefined });
    }
    default:
      throw new TypeError(`toJson: cannot serialize a value of type ${typeof v}`);
  }
}

function writeArray(a: readonly OutValue[]): string {
  const n = a.length;
  if (n === 0) return '[]';
  let s = '[' + write(a[0]);
  for (let i = 1; i < n; i++) s += ', ' + write(a[i]);
  return s + ']';
}

function writeMap(m: ReadonlyMap<string, OutValue>): string {
  if (m.size === 0) return '{}';
  const keys: string[] = [];
  const values: OutValue[] = [];
  for (const [k, val] of m) {
    keys.push(k);
    values.push(val);
  }
  // Maps come from requests (an echoed id): their keys are the client's, so their order is
  // computed without touching the cache that serves the handlers' few object shapes.
  return writeMembers(keys, values as (OutValue | undefined)[], computeQdictOrder(keys));
}

function writeObject(o: { readonly [member: string]: OutValue | undefined }): string {
  const keys = Object.keys(o);
  if (keys.length === 0) return '{}';
  const order = qdictOrder(keys);
  let s = '';
  for (let j = 0; j < order.length; j++) {
    const k = keys[order[j]];
    const val = o[k];
    if (val === undefined) continue;
    s += (s === '' ? '{' : ', ') + quote(k) + ': ' + write(val);
  }
  return s === '' ? '{}' : s + '}';
}

function writeMembers(keys: string[], values: (OutValue | undefined)[], order: readonly number[]): string {
  let s = '';
  for (let j = 0; j < order.length; j++) {
    const i = order[j];
    const val = values[i];
    if (val === undefined) continue;
    s += (s === '' ? '{' : ', ') + quote(keys[i]) + ': ' + write(val);
  }
  return s === '' ? '{}' : s + '}';
}

// ---- strings ------------------------------------------------------------------------

// Anything that is not printable ASCII other than `"` and `\`.
const NEEDS_ESCAPE = /[\u0000-\u001f"\\\u007f-\uffff]/;
const HEX = '0123456789ABCDEF';

/** A JSON string literal in qemu-ga's escaping. */
export function quote(s: string): string {
  if (!NEEDS_ESCAPE.test(s)) return '"' + s + '"';
  return quoteSlow(s);
}

// Escaping writes bytes: every UTF-16 unit becomes at most 6 output bytes.
let scratch = Buffer.allocUnsafe(8192);
const HEXB = Buffer.from(HEX, 'latin1');

function quoteSlow(s: string): string {
  const n = s.length;
  const need = n * 6 + 2;
  let buf = scratch;
  if (need > buf.length) {
    buf = Buffer.allocUnsafe(need);
    if (need <= 1 << 20) scratch = buf;
  }
  let o = 0;
  buf[o++] = 0x22;
  for (let i = 0; i < n; i++) {
    let c = s.charCodeAt(i);
    if (c >= 0x20 && c < 0x7f) {
      if (c === 0x22 || c === 0x5c) buf[o++] = 0x5c;
      buf[o++] = c;
      continue;
    }
    let short = 0;
    switch (c) {
      case 0x08: short = 0x62; break;
      case 0x0c: short = 0x66; break;
      case 0x0a: short = 0x6e; break;
      case 0x0d: short = 0x72; break;
      case 0x09: short = 0x74; break;
      default: break;
    }
    if (short !== 0) {
      buf[o++] = 0x5c;
      buf[o++] = short;
      continue;
    }
    if (c >= 0xd800 && c <= 0xdbff && i + 1 < n) {
      const d = s.charCodeAt(i + 1);
      if (d >= 0xdc00 && d <= 0xdfff) {
        i++;
        // astral noncharacters: the low 16 bits of the code point are FFFE or FFFF
        if ((c & 0x3f) === 0x3f && (d & 0x3fe) === 0x3fe) {
          o = putHex(buf, o, 0xfffd);
        } else {
          o = putHex(buf, o, c);
          o = putHex(buf, o, d);
        }
        continue;
      }
    }
    // characters qemu-ga cannot hold (lone surrogates, noncharacters) print as U+FFFD
    if ((c >= 0xd800 && c <= 0xdfff) || (c >= 0xfdd0 && c <= 0xfdef) || c >= 0xfffe) c = 0xfffd;
    o = putHex(buf, o, c);
  }
  buf[o++] = 0x22;
  return buf.toString('latin1', 0, o);
}

function putHex(buf: Buffer, o: number, c: number): number {
  buf[o] = 0x5c;
  buf[o + 1] = 0x75;
  buf[o + 2] = HEXB[(c >> 12) & 15];
  buf[o + 3] = HEXB[(c >> 8) & 15];
  buf[o + 4] = HEXB[(c >> 4) & 15];
  buf[o + 5] = HEXB[c & 15];
  return o + 6;
}

// ---- numbers --------------------------------------------------------------------------

const TWO53 = 9007199254740992;
const f64 = new Float64Array(1);
const u32 = new Uint32Array(f64.buffer);
const LITTLE = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1;

/**
 * C's `printf("%.17g", x)` (glibc: exact value, round half to even), except that infinities
 * print as `1e400` / `-1e400` and NaN as `1e400`.
 */
export function formatDouble(x: number): string {
  if (x !== x) return '1e400';
  if (x === Infinity) return '1e400';
  if (x === -Infinity) return '-1e400';
  if (x === 0) return Object.is(x, -0) ? '-0' : '0';
  if (x <= TWO53 && x >= -TWO53 && Math.floor(x) === x) return String(x);

  const neg = x < 0;
  const a = neg ? -x : x;
  // 17 significant digits, rounded exactly (but ties away from zero, unlike glibc).
  const p = a.toPrecision(17);
  let digits: string;
  let exp: number;
  const ePos = p.indexOf('e');
  if (ePos >= 0) {
    digits = p.slice(0, 1) + p.slice(2, ePos);
    exp = Number(p.slice(ePos + 1));
  } else if (p.startsWith('0.')) {
    let z = 2;
    while (p.charCodeAt(z) === 0x30) z++;
    digits = p.slice(z);
    exp = -(z - 1);
  } else {
    const dot = p.indexOf('.');
    if (dot < 0) {
      digits = p;
      exp = p.length - 1;
    } else {
      digits = p.slice(0, dot) + p.slice(dot + 1);
      exp = dot - 1;
    }
  }
  // A tie at the 17th digit went up; glibc goes to the even neighbour.
  const last = digits.charCodeAt(16) - 0x30;
  if ((last & 1) === 1 && a.toPrecision(18).replace(/e.*$/, '').endsWith('5') && isTie(a, digits, exp)) {
    digits = digits.slice(0, 16) + String.fromCharCode(0x30 + last - 1);
  }
  return (neg ? '-' : '') + gFormat(digits, exp);
}

/** Is `a` exactly halfway between (digits - 1) and digits, scaled by 10^(exp - 16)? */
function isTie(a: number, digits: string, exp: number): boolean {
  f64[0] = a;
  const hi = LITTLE ? u32[1] : u32[0];
  const lo = LITTLE ? u32[0] : u32[1];
  const biased = (hi >>> 20) & 0x7ff;
  let m = (BigInt(hi & 0xfffff) << 32n) | BigInt(lo);
  let q: number;
  if (biased === 0) q = -1074;
  else {
    m |= 1n << 52n;
    q = biased - 1075;
  }
  // a = m * 2^q; tie iff 2a = (2D - 1) * 10^k, with k = exp - 16
  const k = exp - 16;
  let left = m; // times 2^(q+1)
  let right = 2n * BigInt(digits) - 1n; // times 2^k * 5^k
  let twoL = q + 1;
  let twoR = k;
  if (k >= 0) right *= 5n ** BigInt(k);
  else left *= 5n ** BigInt(-k);
  const minTwo = Math.min(twoL, twoR);
  twoL -= minTwo;
  twoR -= minTwo;
  left <<= BigInt(twoL);
  right <<= BigInt(twoR);
  return left === right;
}

/** %g layout of 17 significant digits `digits` (d.ddd × 10^exp), trailing zeros removed. */
function gFormat(digits: string, exp: number): string {
  let end = digits.length;
  while (end > 1 && digits.charCodeAt(end - 1) === 0x30) end--;
  const d = digits.slice(0, end);
  if (exp >= -4 && exp < 17) {
    if (exp < 0) return '0.' + '0'.repeat(-exp - 1) + d;
    if (d.length <= exp + 1) return d + '0'.repeat(exp + 1 - d.length);
    return d.slice(0, exp + 1) + '.' + d.slice(exp + 1);
  }
  const mant = d.length === 1 ? d : d[0] + '.' + d.slice(1);
  const ae = exp < 0 ? -exp : exp;
  return mant + 'e' + (exp < 0 ? '-' : '+') + (ae < 10 ? '0' + ae : String(ae));
}
