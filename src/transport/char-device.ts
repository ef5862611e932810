// A character-device channel (virtio-serial, isa-serial): open, optional tty setup, then the
// FdChannel read loop; what EOF means is the method's own policy.
import * as fs from 'node:fs';
import { strerror } from '../platform/linux/strerror.ts';
import { FdChannel } from './fd-channel.ts';
import { ChannelError, type ChannelEvents, type ChannelLog, type PacedWriter, type Transport } from './transport.ts';

export interface CharDevicePolicy {
  /** Called on the open fd before reading (isa-serial's raw termios); throws an errno error. */
  setup?(fd: number): void;
  /** read() returned 0. */
  eof(channel: FdChannel, log: ChannelLog): void;
}

export class CharDeviceTransport implements Transport {
  private channel: FdChannel | undefined;

  constructor(
    private readonly path: string,
    private readonly log: ChannelLog,
    private readonly policy: CharDevicePolicy,
  ) {}

  async open(events: ChannelEvents): Promise<void> {
    const fail = (err: unknown) => new ChannelError(`error opening channel '${this.path}': ${strerror(err)}`);
    let fd: number;
    try {
      fd = fs.openSync(this.path, fs.constants.O_RDWR | fs.constants.O_NOCTTY);
    } catch (err) {
      throw fail(err);
    }
    try {
      this.policy.setup?.(fd);
    } catch (err) {
      fs.closeSync(fd);
      throw fail(err);
    }
    const channel: FdChannel = new FdChannel(
      fd,
      {
        data: (chunk) => events.data(chunk),
        eof: () => this.policy.eof(channel, this.log),
        failed: (message) => events.stopped(`error reading channel: ${message}`),
      },
      this.log,
    );
    this.channel = channel;
    channel.start();
  }

  write(data: Buffer | string): void {
    this.channel?.write(data);
  }

  writer(): PacedWriter | undefined {
    return this.channel?.open ? this.channel : undefined;
  }

  pause(): void {
    this.channel?.pause();
  }

  resume(): void {
    this.channel?.resume();
  }

  close(): void {
    this.channel?.close();
    this.channel = undefined;
  }
}
