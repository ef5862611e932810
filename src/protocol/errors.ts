// QMP error classes the Linux agent emits, and the exception handlers throw.

export type ErrorClass = 'GenericError' | 'CommandNotFound';

export class QgaError extends Error {
  constructor(
    readonly errorClass: ErrorClass,
    readonly desc: string,
  ) {
    super(desc);
  }
}

/** A GenericError with qemu-ga's exact text. */
export function genericError(desc: string): QgaError {
  return new QgaError('GenericError', desc);
}

/** qemu-ga's QERR_UNSUPPORTED text, for commands this platform cannot do. */
export const UNSUPPORTED_DESC = 'this feature or command is not currently supported';

export function unsupported(): QgaError {
  return genericError(UNSUPPORTED_DESC);
}
