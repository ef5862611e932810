// Modified UTF-8 as qemu-ga understands it (docs/protocol.md §JSON dialect, §Output format).
//
// qemu-ga keeps every string as a NUL-terminated C string in "modified UTF-8": ordinary
// UTF-8, except that U+0000 is the two bytes C0 80. One decoding step is used both to
// validate request strings and to print strings in responses. It reads one sequence at a
// time, and a sequence is rejected when it is malformed, truncated, overlong (but C0 80 is
// fine), a surrogate, above U+10FFFF, or one of the 66 Unicode noncharacters. When
// printing, each rejected sequence becomes one U+FFFD.
//
// This module reproduces that step on bytes, for the streamer (stray-token texts, string
// validation) and for any room that turns raw bytes (file names, program output) into
// JS strings that must later serialize exactly as qemu-ga would.

/** Is `cp` a Unicode noncharacter (U+FDD0..U+FDEF, or U+xxFFFE / U+xxFFFF)? */
export function isNoncharacter(cp: number): boolean {
  return (cp >= 0xfdd0 && cp <= 0xfdef) || (cp & 0xfffe) === 0xfffe;
}

/** Would qemu-ga accept `cp` as a character in a string (the check done for `\uXXXX`)? */
export function isValidCodepoint(cp: number): boolean {
  if (cp < 0 || cp > 0x10ffff) return false;
  if (cp >= 0xd800 && cp <= 0xdfff) return false;
  return !isNoncharacter(cp);
}

/** Smallest code point that needs a sequence of (index + 2) bytes. */
const MIN_CP = [0x80, 0x800, 0x10000, 0x200000, 0x4000000];

/**
 * Decode one sequence starting at `bytes[i]` (i < end, bytes[i] !== 0).
 * Returns the code point, or -1 for a rejected sequence; the index just after the sequence
 * is left in `seqEnd` (a module variable, to avoid allocating a result object). `end` acts like the terminating NUL of a C string: a sequence that
 * runs into it is truncated.
 */
let seqEnd = 0;
function decodeSequence(bytes: Uint8Array, i: number, end: number): number {
  const b0 = bytes[i];
  if (b0 < 0x80) {
    seqEnd = i + 1;
    return b0;
  }
  if (b0 >= 0xfe || (b0 & 0x40) === 0) {
    // impossible byte, or a continuation byte with no lead
    seqEnd = i + 1;
    return -1;
  }
  let len = 0;
  let mask = 0x80;
  while (b0 & mask) {
    len++;
    mask >>= 1;
  }
  let cp = b0 & (mask - 1);
  let p = i + 1;
  for (let k = 1; k < len; k++) {
    const c = p < end ? bytes[p] : 0;
    if ((c & 0xc0) !== 0x80) {
      seqEnd = p;
      return -1;
    }
    p++;
    cp = cp * 64 + (c & 0x3f);
  }
  seqEnd = p;
  if (cp > 0x10ffff) return -1;
  if (isNoncharacter(cp)) return -1;
  if (cp >= 0xd800 && cp <= 0xdfff) return -1;
  if (cp < MIN_CP[len - 2] && !(cp === 0 && len === 2)) return -1;
  return cp;
}

/**
 * Scan `bytes[start..end)` (which contains no byte below 0x20 that matters here) the way
 * qemu-ga validates raw string content. Returns -1 if some sequence is rejected, 1 if the
 * text is valid and contains the C0 80 form of U+0000, and 0 if it is plain valid UTF-8.
 */
export function scanModUtf8(bytes: Uint8Array, start: number, end: number): number {
  let result = 0;
  let i = start;
  while (i < end) {
    const b = bytes[i];
    if (b < 0x80) {
      i++;
      continue;
    }
    if (b >= 0xc2 && b <= 0xdf) {
      // two bytes, never overlong, never a noncharacter
      if (i + 1 < end && (bytes[i + 1] & 0xc0) === 0x80) {
        i += 2;
        continue;
      }
      return -1;
    }
    const cp = decodeSequence(bytes, i, end);
    if (cp < 0) return -1;
    if (cp === 0) result = 1;
    i = seqEnd;
  }
  return result;
}

/**
 * Decode `bytes[start..end)` (no NUL, no backslash handling) into UTF-16 code units at
 * `units[o..]`, validating like scanModUtf8. Returns the new output index, or -1 if a
 * sequence is rejected. `units` needs room for (end - start) code units.
 */
export function decodeModUtf8Units(bytes: Uint8Array, start: number, end: number, units: Uint16Array, o: number): number {
  let i = start;
  while (i < end) {
    const b = bytes[i];
    if (b < 0x80) {
      units[o++] = b;
      i++;
      continue;
    }
    const cp = decodeSequence(bytes, i, end);
    if (cp < 0) return -1;
    i = seqEnd;
    if (cp < 0x10000) units[o++] = cp;
    else {
      units[o++] = 0xd800 + ((cp - 0x10000) >> 10);
      units[o++] = 0xdc00 + ((cp - 0x10000) & 0x3ff);
    }
  }
  return o;
}

const LITTLE_ENDIAN = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1;

/** UTF-16 code units to a JS string. */
export function unitsToString(units: Uint16Array, n: number): string {
  if (LITTLE_ENDIAN) return Buffer.from(units.buffer, units.byteOffset, n * 2).toString('utf16le');
  let s = '';
  for (let i = 0; i < n; i += 8192) s += String.fromCharCode(...units.subarray(i, Math.min(n, i + 8192)));
  return s;
}

/**
 * Turn the bytes of a C string into a JS string exactly as qemu-ga would print it: the text
 * stops at the first NUL byte (or at `end`), every rejected sequence becomes U+FFFD, and
 * C0 80 becomes U+0000. Use this for any raw bytes (file names, program output, error
 * texts) that end up inside a response.
 */
export function decodeCString(bytes: Uint8Array, start = 0, end = bytes.length): string {
  let out = '';
  let seg = start; // start of the current run of accepted sequences
  let i = start;
  while (i < end) {
    const b = bytes[i];
    if (b === 0) break;
    if (b < 0x80) {
      i++;
      continue;
    }
    const cp = decodeSequence(bytes, i, end);
    if (cp > 0) {
      i = seqEnd;
      continue;
    }
    // C0 80, or a rejected sequence: end the run (valid UTF-8, decoded in bulk)
    if (i > seg) out += utf8(bytes, seg, i);
    out += cp === 0 ? '\u0000' : '\ufffd';
    i = seqEnd;
    seg = i;
  }
  if (i > seg) out += utf8(bytes, seg, i);
  return out;
}

function utf8(bytes: Uint8Array, start: number, end: number): string {
  return Buffer.from(bytes.buffer, bytes.byteOffset + start, end - start).toString('utf8');
}

/** Bytes below 0x80 (or any bytes, read as Latin-1) to a JS string. */
export function latin1(bytes: Uint8Array, start: number, end: number): string {
  const n = end - start;
  if (n <= 24) {
    let s = '';
    for (let i = start; i < end; i++) s += String.fromCharCode(bytes[i]);
    return s;
  }
  return Buffer.from(bytes.buffer, bytes.byteOffset + start, n).toString('latin1');
}

/** Decode valid modified UTF-8 (as checked by scanModUtf8) to a JS string. */
export function decodeValidModUtf8(bytes: Uint8Array, start: number, end: number, hasC080: boolean): string {
  if (!hasC080) return utf8(bytes, start, end);
  return decodeCString(bytes, start, end);
}

/**
 * Encode a JS string the way qemu-ga stores it: UTF-8, with U+0000 as C0 80 (so the result
 * never contains a NUL byte). Lone surrogates become U+FFFD.
 */
export function encodeModUtf8(s: string): Uint8Array {
  const buf = Buffer.from(s, 'utf8');
  if (buf.indexOf(0) < 0) return buf;
  const out: number[] = [];
  for (const b of buf) {
    if (b === 0) out.push(0xc0, 0x80);
    else out.push(b);
  }
  return Uint8Array.from(out);
}
