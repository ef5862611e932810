// The one small interface every channel method implements.
import type { PacedWriter } from '../protocol/session.ts';

export type { PacedWriter };

/**
 * One connection of a listener serving several at once (--max-clients above 1): the reply sink of
 * that connection's own session. Writes go to this connection only; pausing stops reading it only.
 */
export interface ClientLink {
  /** Queues bytes for this connection (a string: latin1); dropped (and logged) once it has gone. */
  write(data: Buffer | string): void;
  /** This connection's end for a reply written in pieces; undefined once it has gone. */
  writer(): PacedWriter | undefined;
  pause(): void;
  resume(): void;
}

/** Where one connection's bytes go, and its end. */
export interface LinkEvents {
  data(chunk: Buffer): void;
  /** The connection closed: nothing more comes from it and nothing written to it arrives. */
  gone(): void;
}

export interface ChannelEvents {
  /** Bytes from the host, in order (the only client of the moment). */
  data(chunk: Buffer): void;
  /**
   * A listener serving several connections at once (--max-clients above 1) announces each one
   * here instead of delivering through data()/clientGone(); required then.
   */
  connected?(link: ClientLink): LinkEvents;
  /** The client of the moment went away (listening transports): its unread input is of no use now. */
  clientGone?(): void;
  /** The channel failed for good (read error, isa-serial EOF); the reason is logged. */
  stopped(reason: string): void;
}

export interface ChannelLog {
  warning(message: string): void;
  debug(message: string): void;
}

export interface Transport extends ClientLink {
  /** Opens the channel; throws ChannelError with qemu-ga's text on failure. */
  open(events: ChannelEvents): Promise<void>;
  /**
   * Queues bytes for the current client; never blocks the event loop; dropped (and logged) if none.
   * A string is latin1 text, one byte per character (replies are 7-bit ASCII plus 0xFF).
   */
  write(data: Buffer | string): void;
  /**
   * The current client's end, for a reply written in pieces (undefined when none is connected):
   * its writes go to that client only, and report when each piece has been handed on.
   */
  writer(): PacedWriter | undefined;
  pause(): void;
  resume(): void;
  /** Stops reading and releases the channel (the unix socket file is left behind, as qemu-ga does). */
  close(): void;
}

export class ChannelError extends Error {}
