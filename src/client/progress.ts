// A one-line progress display for transfers, on a terminal only: percentage, bytes, rate.

import { formatSize } from './format.ts';

export interface Progress {
  update(done: number, total: number | undefined): void;
  finish(): void;
}

const NONE: Progress = { update() {}, finish() {} };

export function createProgress(label: string, stream: NodeJS.WriteStream = process.stderr, enabled = stream.isTTY === true): Progress {
  if (!enabled) return NONE;
  const start = Date.now();
  let last = 0;
  let shown = false;
  const draw = (done: number, total: number | undefined) => {
    const secs = (Date.now() - start) / 1000;
    const rate = secs > 0 ? `${formatSize(done / secs)}/s` : '';
    const width = 30;
    let bar = '';
    let pct = '';
    if (total !== undefined && total > 0) {
      const f = Math.min(1, done / total);
      const full = Math.round(f * width);
      bar = `[${'#'.repeat(full)}${'-'.repeat(width - full)}] `;
      pct = `${(f * 100).toFixed(1).padStart(5)}% `;
    }
    const size = total === undefined ? formatSize(done) : `${formatSize(done)} / ${formatSize(total)}`;
    stream.write(`\r\x1b[K${label} ${bar}${pct}${size}  ${rate}`);
    shown = true;
  };
  return {
    update(done, total) {
      const now = Date.now();
      if (now - last < 100 && !(total !== undefined && done >= total)) return;
      last = now;
      draw(done, total);
    },
    finish() {
      if (shown) stream.write('\r\x1b[K');
    },
  };
}
