// The progress line of a copy, on a terminal only: the file's name, a bar, bytes, rate and
// time left; then, while the copy is checked, a "verifying" phase with the time it has taken.
// The line is redrawn in place (\r) and always erased at the end, also on an interruption.

import { formatSize } from './format.ts';

export interface Progress {
  update(done: number, total: number | undefined): void;
  /** Shows `text` (e.g. "verifying (sha256sum in the guest)") with a running clock. */
  phase(text: string): void;
  /** Erases the line; nothing is drawn afterwards. */
  finish(): void;
}

export interface ProgressOptions {
  /** What is happening, first on the line: "get", "put". */
  label: string;
  /** The file's name. */
  name: string;
  stream?: NodeJS.WriteStream;
  /** Default: whether the stream is a terminal. */
  enabled?: boolean;
  /** Milliseconds between redraws (default 100). */
  interval?: number;
  /** The clock, in milliseconds (tests). */
  now?: () => number;
}

const NONE: Progress = { update() {}, phase() {}, finish() {} };

/** Seconds as m:ss or h:mm:ss. */
export function formatDuration(secs: number): string {
  const s = Math.max(0, Math.round(secs));
  const h = Math.floor(s / 3600);
  const m = Math.floor((s % 3600) / 60);
  const ss = String(s % 60).padStart(2, '0');
  return h > 0 ? `${h}:${String(m).padStart(2, '0')}:${ss}` : `${m}:${ss}`;
}

/**
 * The copy's line: name, bar and percentage (when the size is known), bytes, rate, ETA; the
 * bar shrinks (down to nothing) and then the name is cut to fit `width` columns.
 */
export function progressLine(label: string, name: string, done: number, total: number | undefined, secs: number, width = 80): string {
  const rate = secs > 0 ? done / secs : 0;
  const known = total !== undefined && total > 0;
  const f = known ? Math.min(1, done / total) : 0;
  const stats = [known ? `${(f * 100).toFixed(1).padStart(5)}%` : '', known ? `${formatSize(done)} / ${formatSize(total)}` : formatSize(done)];
  if (rate > 0) stats.push(`${formatSize(rate)}/s`);
  if (known && rate > 0 && done < total) stats.push(`ETA ${formatDuration((total - done) / rate)}`);
  const tail = stats.filter((x) => x !== '').join('  ');
  const head = `${label} ${name}`;
  const room = width - 1 - head.length - tail.length - 4;
  const barWidth = known ? Math.min(20, room - 2) : 0;
  if (barWidth >= 5) {
    const full = Math.round(f * barWidth);
    return `${head}  [${'#'.repeat(full)}${'-'.repeat(barWidth - full)}] ${tail}`;
  }
  const line = `${head}  ${tail}`;
  return line.length <= width - 1 ? line : `${head.slice(0, Math.max(0, width - 4 - tail.length))}…  ${tail}`.slice(0, width - 1);
}

export function createProgress(o: ProgressOptions): Progress {
  const stream = o.stream ?? process.stderr;
  if (!(o.enabled ?? stream.isTTY === true)) return NONE;
  const now = o.now ?? Date.now;
  const interval = o.interval ?? 100;
  const start = now();
  let last = -Infinity;
  let shown = false;
  let finished = false;
  let ticker: NodeJS.Timeout | undefined;
  const draw = (text: string) => {
    stream.write(`\r\x1b[K${text}`);
    shown = true;
  };
  const width = () => stream.columns ?? 80;
  return {
    update(done, total) {
      if (finished) return;
      const t = now();
      if (t - last < interval && !(total !== undefined && done >= total)) return;
      last = t;
      draw(progressLine(o.label, o.name, done, total, (t - start) / 1000, width()));
    },
    phase(text) {
      if (finished) return;
      clearInterval(ticker);
      const from = now();
      const show = () => draw(`${o.label} ${o.name}: ${text} ${formatDuration((now() - from) / 1000)}`.slice(0, width() - 1));
      show();
      ticker = setInterval(show, 1000);
      ticker.unref();
    },
    finish() {
      if (finished) return;
      finished = true;
      clearInterval(ticker);
      if (shown) stream.write('\r\x1b[K');
    },
  };
}
