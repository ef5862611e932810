// The C library's number and field parsing as qemu-ga uses it on kernel text (/proc, /sys): a sscanf()
// subset with glibc's semantics (return value, EOF on early end of input, %n, widths, integer truncation
// to the C type), plus strtoul/strtol/atoi. Strings are handled as byte strings (one char per byte):
// callers decode files as latin1 and convert the fields they keep.

export const EOF = -1;
const U64_MAX = (1n << 64n) - 1n;
const I64_MAX = (1n << 63n) - 1n;
const I64_MIN = -(1n << 63n);

export function isCSpace(c: string | undefined): boolean {
  return c === ' ' || c === '\t' || c === '\n' || c === '\v' || c === '\f' || c === '\r';
}

function digitValue(c: string | undefined, base: number): number {
  if (c === undefined) return -1;
  const code = c.charCodeAt(0);
  let v = -1;
  if (code >= 48 && code <= 57) v = code - 48;
  else if (code >= 97 && code <= 122) v = code - 87;
  else if (code >= 65 && code <= 90) v = code - 55;
  return v >= 0 && v < base ? v : -1;
}

interface Parsed {
  negative: boolean;
  magnitude: bigint;
  digits: boolean;
  end: number;
}

/** The shared part of strtol/strtoul: whitespace, sign, 0x prefix (base 16 or 0), digits. */
function parseInteger(s: string, base: number, start: number): Parsed {
  let i = start;
  while (isCSpace(s[i])) i++;
  let negative = false;
  if (s[i] === '+' || s[i] === '-') {
    negative = s[i] === '-';
    i++;
  }
  if ((base === 0 || base === 16) && s[i] === '0' && (s[i + 1] === 'x' || s[i + 1] === 'X') && digitValue(s[i + 2], 16) >= 0) {
    i += 2;
    base = 16;
  } else if (base === 0) {
    base = s[i] === '0' ? 8 : 10;
  }
  const b = BigInt(base);
  let magnitude = 0n;
  let digits = false;
  for (;;) {
    const d = digitValue(s[i], base);
    if (d < 0) break;
    digits = true;
    // Saturate: anything above 2^64 overflows every C type.
    if (magnitude <= U64_MAX) magnitude = magnitude * b + BigInt(d);
    i++;
  }
  return { negative, magnitude, digits, end: digits ? i : start };
}

/** strtoul() (64-bit unsigned long): ULONG_MAX on overflow, a negated value wraps. */
export function strtoul(s: string, base = 10, start = 0): { value: bigint; end: number } {
  const p = parseInteger(s, base, start);
  if (!p.digits) return { value: 0n, end: start };
  if (p.magnitude > U64_MAX) return { value: U64_MAX, end: p.end };
  return { value: p.negative ? BigInt.asUintN(64, -p.magnitude) : p.magnitude, end: p.end };
}

/** strtol() (64-bit long): saturates at LONG_MIN / LONG_MAX. */
export function strtol(s: string, base = 10, start = 0): { value: bigint; end: number } {
  const p = parseInteger(s, base, start);
  if (!p.digits) return { value: 0n, end: start };
  const v = p.negative ? -p.magnitude : p.magnitude;
  return { value: v > I64_MAX ? I64_MAX : v < I64_MIN ? I64_MIN : v, end: p.end };
}

/** atoi(): (int) strtol(s, NULL, 10). */
export function atoi(s: string): number {
  return Number(BigInt.asIntN(32, strtol(s, 10).value));
}

export type ScanValue = bigint | string | number;

export interface ScanResult {
  /** What sscanf() returns: the number of assignments, or EOF (-1) for an input failure before any. */
  ret: number;
  /** The assigned values in format order: integers as bigint (already truncated to their C type), %s/%c as
   *  strings, %n as a number. */
  values: ScanValue[];
}

/**
 * sscanf() for the directives qemu-ga uses: whitespace, literal characters, and %[*][width][hh|h|l|ll]
 * followed by d, i, u, x, X, o, s, c or n.
 */
export function sscanf(input: string, format: string): ScanResult {
  const values: ScanValue[] = [];
  let done = 0;
  let pos = 0;
  let f = 0;
  const inputFailure = (): ScanResult => ({ ret: done === 0 ? EOF : done, values });
  const matchFailure = (): ScanResult => ({ ret: done, values });

  while (f < format.length) {
    const fc = format[f];
    if (isCSpace(fc)) {
      while (isCSpace(format[f])) f++;
      while (isCSpace(input[pos])) pos++;
      continue;
    }
    if (fc !== '%') {
      f++;
      if (pos >= input.length) return inputFailure();
      if (input[pos] !== fc) return matchFailure();
      pos++;
      continue;
    }
    f++;
    let suppress = false;
    if (format[f] === '*') {
      suppress = true;
      f++;
    }
    let width = -1;
    while (format[f] >= '0' && format[f] <= '9') {
      width = (width < 0 ? 0 : width * 10) + (format.charCodeAt(f) - 48);
      f++;
    }
    let size = 32;
    if (format[f] === 'h') {
      size = 16;
      f++;
      if (format[f] === 'h') {
        size = 8;
        f++;
      }
    } else if (format[f] === 'l') {
      size = 64;
      f++;
      if (format[f] === 'l') f++;
    }
    const conv = format[f++];
    if (conv === 'n') {
      if (!suppress) values.push(pos);
      continue;
    }
    if (conv === '%') {
      while (isCSpace(input[pos])) pos++;
      if (pos >= input.length) return inputFailure();
      if (input[pos] !== '%') return matchFailure();
      pos++;
      continue;
    }
    if (conv === 'c') {
      const n = width < 0 ? 1 : width;
      if (pos >= input.length) return inputFailure();
      const text = input.slice(pos, pos + n);
      pos += text.length;
      if (!suppress) {
        values.push(text);
        done++;
      }
      continue;
    }
    while (isCSpace(input[pos])) pos++;
    if (pos >= input.length) return inputFailure();
    if (conv === 's') {
      const begin = pos;
      while (pos < input.length && !isCSpace(input[pos]) && (width < 0 || pos - begin < width)) pos++;
      if (!suppress) {
        values.push(input.slice(begin, pos));
        done++;
      }
      continue;
    }
    let base: number;
    let signed: boolean;
    switch (conv) {
      case 'd':
        base = 10;
        signed = true;
        break;
      case 'i':
        base = 0;
        signed = true;
        break;
      case 'u':
        base = 10;
        signed = false;
        break;
      case 'x':
      case 'X':
        base = 16;
        signed = false;
        break;
      case 'o':
        base = 8;
        signed = false;
        break;
      default:
        throw new Error(`sscanf: unsupported conversion %${conv}`);
    }
    // Collect the characters the way glibc does (sign, "0x" when the base allows it, digits), within
    // the field width; then convert the collected text with strtol/strtoul.
    let w = width < 0 ? Infinity : width;
    let text = '';
    if ((input[pos] === '+' || input[pos] === '-') && w > 0) {
      text += input[pos++];
      w--;
    }
    if (w > 0 && input[pos] === '0') {
      text += input[pos++];
      w--;
      if (w > 0 && (input[pos] === 'x' || input[pos] === 'X') && (base === 16 || base === 0)) {
        base = 16;
        pos++;
        w--;
      } else if (base === 0) {
        base = 8;
      }
    } else if (base === 0) {
      base = 10;
    }
    while (w > 0 && digitValue(input[pos], base) >= 0) {
      text += input[pos++];
      w--;
    }
    if (text === '' || text === '+' || text === '-') return matchFailure();
    if (!suppress) {
      const raw = signed ? strtol(text, base).value : strtoul(text, base).value;
      values.push(signed ? BigInt.asIntN(size, raw) : BigInt.asUintN(size, raw));
      done++;
    }
  }
  return { ret: done, values };
}
