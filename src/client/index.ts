// The host-side client library of qga-ts. See src/client/README.md.

export { QgaClient, randomId, parseAddress, type QgaClientOptions, type CallOptions } from './client.ts';
export { QgaClientError, QgaCommandError, QgaConnectionError, QgaProtocolError, QgaTimeoutError, UNSUPPORTED_DESC } from './errors.ts';
export { replyFromWire, argsToWire, fromWire, toWire, plain, expectsReply, isKnownCommand } from './convert.ts';
export { runGuestCommand, shellStatus, GuestExecTimeoutError, type RunOptions, type RunResult } from './exec.ts';
export {
  readGuestFile,
  readGuestFileToBuffer,
  writeGuestFile,
  getFile,
  putFile,
  guestSha256,
  DEFAULT_CHUNK,
  DEFAULT_WINDOW,
  MAX_CHUNK,
  type TransferOptions,
  type TransferResult,
  type VerifyMethod,
} from './transfer.ts';
export * from '../generated/qapi-client.ts';
