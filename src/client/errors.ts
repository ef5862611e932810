// The client's errors. Every error it throws is a QgaClientError:
//
//   QgaCommandError     the agent answered {"error": {"class", "desc"}}
//   QgaTimeoutError     no answer within the call's timeout (the next call resynchronises)
//   QgaConnectionError  could not connect, or the connection closed under a call
//   QgaProtocolError    the agent sent something that is not a well-formed answer, or an
//                       answer that does not fit the schema

export class QgaClientError extends Error {
  override name = 'QgaClientError';
}

/** The agent's error answer. `class` and `desc` are the agent's, verbatim. */
export class QgaCommandError extends QgaClientError {
  override name = 'QgaCommandError';
  /** The error class: GenericError, CommandNotFound, … */
  readonly class: string;
  /** The agent's description, verbatim. */
  readonly desc: string;
  /** The command that failed; null for an error the agent sent without an id (a JSON-level error). */
  readonly command: string | null;

  constructor(errorClass: string, desc: string, command: string | null) {
    super(desc);
    this.class = errorClass;
    this.desc = desc;
    this.command = command;
  }

  /**
   * True when the command does not exist or is disabled (CommandNotFound), or the agent
   * cannot provide it here ("this feature or command is not currently supported").
   */
  get unsupported(): boolean {
    return this.class === 'CommandNotFound' || this.desc === UNSUPPORTED_DESC;
  }
}

/** qemu-ga's text for a command its build or platform cannot provide. */
export const UNSUPPORTED_DESC = 'this feature or command is not currently supported';

export class QgaTimeoutError extends QgaClientError {
  override name = 'QgaTimeoutError';
  constructor(
    readonly command: string,
    /** The timeout that passed, in milliseconds. */
    readonly timeout: number,
    message?: string,
  ) {
    super(message ?? `${command}: no answer within ${formatSeconds(timeout)}`);
  }
}

export class QgaConnectionError extends QgaClientError {
  override name = 'QgaConnectionError';
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
  }
}

export class QgaProtocolError extends QgaClientError {
  override name = 'QgaProtocolError';
}

export function formatSeconds(ms: number): string {
  const s = ms / 1000;
  return `${Number.isInteger(s) ? s : s.toFixed(3).replace(/0+$/, '')} s`;
}
