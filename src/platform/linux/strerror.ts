// glibc strerror() for errors thrown by Node's fs/net (which carry the errno name in `code`).
import { ERRNO_NAME, ERRNO_TEXT } from './errno.ts';

export function strerror(err: unknown): string {
  if (typeof err === 'number') return ERRNO_TEXT[ERRNO_NAME[Math.abs(err)] ?? ''] ?? `Unknown error ${Math.abs(err)}`;
  const e = err as NodeJS.ErrnoException | undefined;
  if (e && typeof e.code === 'string' && ERRNO_TEXT[e.code]) return ERRNO_TEXT[e.code];
  if (e && typeof e.errno === 'number') return strerror(e.errno);
  return e instanceof Error ? e.message : String(err);
}

/** The errno number of a Node system error, or 0. */
export function errnoOf(err: unknown): number {
  const e = err as NodeJS.ErrnoException | undefined;
  if (e && typeof e.errno === 'number') return Math.abs(e.errno);
  if (e && typeof e.code === 'string') {
    for (const [num, name] of Object.entries(ERRNO_NAME)) if (name === e.code) return Number(num);
  }
  return 0;
}
