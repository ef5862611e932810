// vsock-listen: like unix-listen (one client at a time), over AF_VSOCK via the FFI module.
import { parseVsockAddress, vsockAccept, vsockListen } from '../platform/linux/vsock.ts';
import { strerror } from '../platform/linux/strerror.ts';
import { FdChannel } from './fd-channel.ts';
import { ChannelError, type ChannelEvents, type ChannelLog, type PacedWriter, type Transport } from './transport.ts';

export class VsockListenTransport implements Transport {
  private listenFd = -1;
  private client: FdChannel | undefined;
  private paused = false;
  private closed = false;

  constructor(
    private readonly path: string,
    private readonly log: ChannelLog,
  ) {}

  async open(events: ChannelEvents): Promise<void> {
    const addr = parseVsockAddress(this.path);
    if (addr === undefined) throw new ChannelError(`error parsing address '${this.path}'`);
    try {
      this.listenFd = vsockListen(addr.cid, addr.port);
    } catch (err) {
      throw new ChannelError(`Failed to bind socket: ${strerror(err)}`);
    }
    void this.acceptNext(events);
  }

  private async acceptNext(events: ChannelEvents): Promise<void> {
    let fd: number;
    try {
      fd = await vsockAccept(this.listenFd);
    } catch (err) {
      if (!this.closed) events.stopped(`error accepting vsock client: ${strerror(err)}`);
      return;
    }
    if (this.closed) return;
    const client: FdChannel = new FdChannel(
      fd,
      {
        data: (chunk) => events.data(chunk),
        eof: () => {
          this.log.debug('received EOF');
          client.close();
          this.client = undefined;
          events.clientGone?.();
          void this.acceptNext(events);
        },
        failed: () => {
          client.close();
          this.client = undefined;
          events.clientGone?.();
          void this.acceptNext(events);
        },
      },
      this.log,
    );
    this.client = client;
    if (this.paused) client.pause();
    client.start();
  }

  write(data: Buffer | string): void {
    if (this.client === undefined) {
      this.log.warning('error writing to channel: no client connected');
      return;
    }
    this.client.write(data);
  }

  writer(): PacedWriter | undefined {
    // Pieces of one reply go to this client only; it stays open until it is closed.
    return this.client?.open ? this.client : undefined;
  }

  pause(): void {
    this.paused = true;
    this.client?.pause();
  }

  resume(): void {
    this.paused = false;
    this.client?.resume();
  }

  close(): void {
    this.closed = true;
    this.client?.close();
  }
}
