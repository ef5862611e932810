// Interruptions: SIGINT, SIGTERM, or the reader of standard output going away (EPIPE). The
// first one aborts the verb, which closes its guest file handle and removes what it half
// wrote before the client exits; a second SIGINT or SIGTERM, or cleaning up for longer than
// CLEANUP_MS, exits at once.

import { constants } from 'node:os';

export type Cause = 'SIGINT' | 'SIGTERM' | 'EPIPE';

const CLEANUP_MS = 15_000;

/** The reason of an aborted ctx.signal. */
export class Interrupted extends Error {
  override name = 'Interrupted';
  constructor(readonly what: Cause) {
    super(what === 'EPIPE' ? 'standard output was closed' : `interrupted by ${what}`);
  }

  /** The exit status: 128 + the signal number, as a shell reports a program killed by it. */
  get status(): number {
    return 128 + constants.signals[this.what === 'EPIPE' ? 'SIGPIPE' : this.what];
  }
}

/** Run on an interruption before anything is said: ends the progress line. */
const lineHolders = new Set<() => void>();

/** Registers `fn` to end the terminal line on an interruption; returns the unregistering function. */
export function onInterrupt(fn: () => void): () => void {
  lineHolders.add(fn);
  return () => lineHolders.delete(fn);
}

function endLines(): void {
  for (const fn of lineHolders) fn();
  lineHolders.clear();
}

/**
 * Aborts `controller` on the first interruption and calls `onAbort` (which may close the
 * connection for verbs that do not clean up by themselves); returns the function that stops
 * watching.
 */
export function watchInterrupts(controller: AbortController, onAbort: () => void, err: (text: string) => void): () => void {
  const forceExit = (why: string, status: number) => {
    endLines();
    err(why);
    process.exit(status);
  };
  const interrupt = (cause: Cause) => {
    const reason = new Interrupted(cause);
    if (controller.signal.aborted) {
      if (cause !== 'EPIPE') forceExit(`qga-client: ${reason.message} again: exiting without cleaning up`, reason.status);
      return;
    }
    endLines();
    if (cause !== 'EPIPE') err(`qga-client: ${reason.message}`);
    controller.abort(reason);
    onAbort();
    setTimeout(() => forceExit(`qga-client: cleaning up took more than ${CLEANUP_MS / 1000} s: exiting`, reason.status), CLEANUP_MS).unref();
  };
  const onInt = () => interrupt('SIGINT');
  const onTerm = () => interrupt('SIGTERM');
  const onStdoutError = (e: NodeJS.ErrnoException) => {
    if (e.code === 'EPIPE') interrupt('EPIPE');
    else throw e;
  };
  process.on('SIGINT', onInt);
  process.on('SIGTERM', onTerm);
  process.stdout.on('error', onStdoutError);
  return () => {
    process.off('SIGINT', onInt);
    process.off('SIGTERM', onTerm);
    // Standard output may still report EPIPE for what was written last; it stays handled.
  };
}
