// isa-serial: a tty set to raw 38400 baud; EOF ends the channel for good (qemu-ga then idles).
import * as fs from 'node:fs';
import { strerror } from '../platform/linux/strerror.ts';
import { makeRaw } from '../platform/linux/termios.ts';
import { FdChannel } from './fd-channel.ts';
import { ChannelError, type ChannelEvents, type ChannelLog, type Transport } from './transport.ts';

export const ISA_SERIAL_DEFAULT_PATH = '/dev/ttyS0';

export class IsaSerialTransport implements Transport {
  private channel: FdChannel | undefined;

  constructor(
    private readonly path: string,
    private readonly log: ChannelLog,
  ) {}

  async open(events: ChannelEvents): Promise<void> {
    let fd: number;
    try {
      fd = fs.openSync(this.path, fs.constants.O_RDWR | fs.constants.O_NOCTTY);
    } catch (err) {
      throw new ChannelError(`error opening channel '${this.path}': ${strerror(err)}`);
    }
    try {
      makeRaw(fd);
    } catch (err) {
      fs.closeSync(fd);
      throw new ChannelError(`error opening channel '${this.path}': ${strerror(err)}`);
    }
    const channel = new FdChannel(
      fd,
      {
        data: (chunk) => events.data(chunk),
        eof: () => {
          this.log.debug('received EOF');
          channel.close();
        },
        failed: (message) => events.stopped(`error reading channel: ${message}`),
      },
      this.log,
    );
    this.channel = channel;
    channel.start();
  }

  write(data: Buffer): void {
    this.channel?.write(data);
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
