// vsock-listen: like unix-listen (one client at a time, up to max-clients with --max-clients), over
// AF_VSOCK via the FFI module. A connection beyond those served waits in the kernel's backlog: the
// next accept() is made only when a served one leaves, as qemu-ga does.
import { parseVsockAddress, vsockAccept, vsockListen } from '../platform/linux/vsock.ts';
import { strerror } from '../platform/linux/strerror.ts';
import { FdChannel } from './fd-channel.ts';
import { ChannelError, type ChannelEvents, type ChannelLog, type ClientLink, type LinkEvents, type PacedWriter, type Transport } from './transport.ts';

/** The listening socket's calls; a test puts an AF_UNIX socket in AF_VSOCK's place. */
export interface ListenCalls {
  /** socket + bind + listen; returns the listening fd or throws an Error carrying `errno`. */
  listen(cid: number, port: number): number;
  /** accept() off the event loop: the connected fd. */
  accept(listenFd: number): Promise<number>;
}

const VSOCK_CALLS: ListenCalls = { listen: vsockListen, accept: vsockAccept };

export class VsockListenTransport implements Transport {
  private listenFd = -1;
  /** The one client (max-clients 1). */
  private client: FdChannel | undefined;
  private readonly served = new Set<FdChannel>();
  private accepting = false;
  private paused = false;
  private closed = false;

  constructor(
    private readonly path: string,
    private readonly log: ChannelLog,
    private readonly maxClients = 1,
    private readonly calls: ListenCalls = VSOCK_CALLS,
  ) {}

  async open(events: ChannelEvents): Promise<void> {
    if (this.maxClients > 1 && events.connected === undefined) throw new Error('several clients need a connected() handler');
    const addr = parseVsockAddress(this.path);
    if (addr === undefined) throw new ChannelError(`error parsing address '${this.path}'`);
    try {
      this.listenFd = this.calls.listen(addr.cid, addr.port);
    } catch (err) {
      throw new ChannelError(`Failed to bind socket: ${strerror(err)}`);
    }
    void this.acceptNext(events);
  }

  /** Accepts one more client, if a slot is free and no accept() is under way. */
  private async acceptNext(events: ChannelEvents): Promise<void> {
    if (this.accepting || this.closed || this.served.size >= this.maxClients) return;
    this.accepting = true;
    let fd: number;
    try {
      fd = await this.calls.accept(this.listenFd);
    } catch (err) {
      this.accepting = false;
      if (!this.closed) events.stopped(`error accepting vsock client: ${strerror(err)}`);
      return;
    }
    this.accepting = false;
    if (this.closed) return;
    let own: LinkEvents | undefined;
    const leave = (): void => {
      client.close();
      this.served.delete(client);
      if (own !== undefined) own.gone();
      else {
        this.client = undefined;
        events.clientGone?.();
      }
      void this.acceptNext(events);
    };
    const client: FdChannel = new FdChannel(
      fd,
      {
        data: (chunk) => (own !== undefined ? own.data(chunk) : events.data(chunk)),
        eof: () => {
          this.log.debug('received EOF');
          leave();
        },
        failed: () => leave(),
      },
      this.log,
    );
    this.served.add(client);
    if (this.maxClients > 1) {
      own = (events.connected as NonNullable<ChannelEvents['connected']>)(new FdChannelLink(client));
    } else {
      this.client = client;
      if (this.paused) client.pause();
    }
    client.start();
    void this.acceptNext(events);
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
    for (const c of this.served) c.close();
    this.served.clear();
    this.client = undefined;
  }
}

/** One served vsock connection as its session's reply sink. */
class FdChannelLink implements ClientLink {
  constructor(private readonly channel: FdChannel) {}

  write(data: Buffer | string): void {
    this.channel.write(data);
  }

  writer(): PacedWriter | undefined {
    return this.channel.open ? this.channel : undefined;
  }

  pause(): void {
    this.channel.pause();
  }

  resume(): void {
    this.channel.resume();
  }
}
