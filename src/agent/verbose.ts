// qemu-ga's `-v` lines for the channel: `read data, count: <n>, data: <bytes>` per read of at most
// 4096 bytes (the data as raw bytes, up to a NUL as C's %s), then `process_event: called`,
// `processing command` (not for a JSON error) and `sending data, count: <n>` per reply.
import type { Session, SessionTrace } from '../protocol/session.ts';
import type { AgentLogger } from './log.ts';

/** qemu-ga's QGA_READ_COUNT_DEFAULT: the most it reads (and logs) at once. */
const READ_COUNT = 4096;

export function sessionTrace(log: AgentLogger): SessionTrace {
  return {
    event(parsed) {
      log.debug('process_event: called');
      if (parsed) log.debug('processing command');
    },
    sending(count) {
      log.debug(`sending data, count: ${count}`);
    },
  };
}

/** Feeds `chunk` to the session in qemu-ga's read sizes, each piece logged before its requests run. */
export function feedVerbose(log: AgentLogger, session: Session, chunk: Buffer): void {
  for (let off = 0; off < chunk.length; off += READ_COUNT) {
    const piece = chunk.subarray(off, off + READ_COUNT);
    const nul = piece.indexOf(0);
    log.debugBytes(`read data, count: ${piece.length}, data: `, nul < 0 ? piece : piece.subarray(0, nul));
    session.feed(piece);
  }
}
