// virtio-serial: a character device that reads EOF while no host is attached; qemu-ga waits 100 ms and reads again.
import * as fs from 'node:fs';
import { strerror } from '../platform/linux/strerror.ts';
import { FdChannel } from './fd-channel.ts';
import { ChannelError, type ChannelEvents, type ChannelLog, type Transport } from './transport.ts';

export const VIRTIO_SERIAL_DEFAULT_PATH = '/dev/virtio-ports/org.qemu.guest_agent.0';
const NO_HOST_RETRY_MS = 100;

export class VirtioSerialTransport implements Transport {
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
    const channel: FdChannel = new FdChannel(
      fd,
      {
        data: (chunk) => events.data(chunk),
        eof: () => channel.readLater(NO_HOST_RETRY_MS),
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
