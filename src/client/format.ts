// Output helpers for the CLI: JSON that keeps bigints exact, plain-text tables, sizes.

/**
 * Standard JSON (RFC 8259), indented: Maps and plain objects in their own member order,
 * bigints as exact integer literals, strings as JSON.stringify writes them (UTF-8, control
 * characters escaped), non-finite numbers as null. Members whose value is undefined are left
 * out.
 */
export function formatJson(value: unknown, indent = 2): string {
  return write(value, '', indent === 0 ? '' : ' '.repeat(indent));
}

function write(v: unknown, cur: string, step: string): string {
  switch (typeof v) {
    case 'bigint':
      return v.toString();
    case 'number':
      return Number.isFinite(v) ? JSON.stringify(v) : 'null';
    case 'string':
      return JSON.stringify(v);
    case 'boolean':
      return v ? 'true' : 'false';
    case 'undefined':
      return 'null';
    case 'object': {
      if (v === null) return 'null';
      const inner = cur + step;
      const nl = step === '' ? '' : '\n';
      const sep = step === '' ? ':' : ': ';
      if (Array.isArray(v)) {
        if (v.length === 0) return '[]';
        return `[${nl}${v.map((x) => inner + write(x, inner, step)).join(`,${nl}`)}${nl}${cur}]`;
      }
      const entries: [string, unknown][] = v instanceof Map ? [...v.entries()] : Object.entries(v as object);
      const kept = entries.filter(([, x]) => x !== undefined);
      if (kept.length === 0) return '{}';
      return `{${nl}${kept.map(([k, x]) => `${inner}${JSON.stringify(k)}${sep}${write(x, inner, step)}`).join(`,${nl}`)}${nl}${cur}}`;
    }
    default:
      return 'null';
  }
}

/** A plain-text table: columns padded to their widest cell, two spaces apart. */
export function formatTable(headers: readonly string[], rows: readonly (readonly string[])[]): string {
  const all = [headers, ...rows];
  const widths = headers.map((_, i) => Math.max(...all.map((r) => (r[i] ?? '').length)));
  return all
    .map((r) => r.map((cell, i) => (i === r.length - 1 ? cell : cell.padEnd(widths[i]!))).join('  ').trimEnd())
    .join('\n');
}

const UNITS = ['B', 'KiB', 'MiB', 'GiB', 'TiB', 'PiB', 'EiB'];

/** 1536 → "1.5 KiB"; exact for bytes below 1 KiB. */
export function formatSize(n: number | bigint): string {
  let x = Number(n);
  let u = 0;
  while (Math.abs(x) >= 1024 && u < UNITS.length - 1) {
    x /= 1024;
    u++;
  }
  return u === 0 ? `${x} B` : `${x.toFixed(1)} ${UNITS[u]}`;
}

/** "1048576", "1M", "1MiB", "64k" → bytes. */
export function parseSize(text: string): number | null {
  const m = /^(\d+)\s*(?:([kmg])(?:i?b)?|b)?$/i.exec(text.trim());
  if (m === null) return null;
  const mult = m[2] === undefined ? 1 : 1024 ** ('kmg'.indexOf(m[2].toLowerCase()) + 1);
  const n = Number(m[1]) * mult;
  return Number.isSafeInteger(n) ? n : null;
}

/** Nanoseconds since the epoch → ISO 8601 UTC with all nine digits of the fraction. */
export function formatNanos(ns: bigint): string {
  let secs = ns / 1_000_000_000n;
  let frac = ns % 1_000_000_000n;
  if (frac < 0n) {
    frac += 1_000_000_000n;
    secs -= 1n;
  }
  const iso = new Date(Number(secs) * 1000).toISOString();
  return `${iso.slice(0, 19)}.${frac.toString().padStart(9, '0')}Z`;
}
