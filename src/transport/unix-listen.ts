// unix-listen: one client served at a time (up to max-clients with --max-clients); up to MAX_WAITING
// later clients wait, unread, until one leaves, and any beyond those are closed at once, so waiting
// clients cannot use up the descriptors the served ones need (Node accepts every connection; it
// cannot leave them in the listen backlog).
import * as fs from 'node:fs';
import * as net from 'node:net';
import * as nodePath from 'node:path';
import { strerror } from '../platform/linux/strerror.ts';
import { ChannelError, type ChannelEvents, type ChannelLog, type ClientLink, type PacedWriter, type Transport } from './transport.ts';

// sockaddr_un.sun_path is 108 bytes including the terminating NUL.
const SUN_PATH_MAX = 108;

/** Connections accepted and held, unread, while the served client has the channel. */
export const MAX_WAITING = 16;

/**
 * The error bind(2) gave. libuv reports a unix-socket bind's ENOENT as EACCES: a missing directory
 * (whose unlink() was an ENOENT, hence ignored) is named as such.
 */
function bindError(err: Error, path: string): unknown {
  if ((err as NodeJS.ErrnoException).code !== 'EACCES') return err;
  try {
    fs.statSync(nodePath.dirname(path));
  } catch (statErr) {
    if ((statErr as NodeJS.ErrnoException).code === 'ENOENT') return statErr;
  }
  return err;
}

export class UnixListenTransport implements Transport {
  private server: net.Server | undefined;
  /** The one client (max-clients 1). */
  private current: SocketLink | undefined;
  /** Every served socket, in both modes. */
  private readonly served = new Set<net.Socket>();
  private readonly waiting: net.Socket[] = [];
  private paused = false;
  private events: ChannelEvents | undefined;

  /** path: the socket path; listenFd: a systemd-activated listening socket instead; maxClients: served at once. */
  constructor(
    private readonly path: string | undefined,
    private readonly log: ChannelLog,
    private readonly listenFd?: number,
    private readonly maxClients = 1,
  ) {}

  async open(events: ChannelEvents): Promise<void> {
    if (this.maxClients > 1 && events.connected === undefined) throw new Error('several clients need a connected() handler');
    this.events = events;
    const server = net.createServer({ pauseOnConnect: true }, (socket) => this.accepted(socket));
    this.server = server;
    if (this.listenFd !== undefined) {
      await this.listen(server, { fd: this.listenFd }, '');
      return;
    }
    const path = this.path as string;
    if (Buffer.byteLength(path) >= SUN_PATH_MAX) throw new ChannelError(`UNIX socket path '${path}' is too long`);
    try {
      fs.unlinkSync(path);
    } catch (err) {
      // qemu's unix_listen_saddr(): only "nothing there" lets the bind go ahead.
      if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw new ChannelError(`Failed to unlink socket ${path}: ${strerror(err)}`);
    }
    await this.listen(server, { path, backlog: 1 }, path);
  }

  private listen(server: net.Server, options: net.ListenOptions | { fd: number }, path: string): Promise<void> {
    return new Promise((resolve, reject) => {
      const onError = (err: Error) => reject(new ChannelError(`Failed to bind socket to ${path}: ${strerror(bindError(err, path))}`));
      server.once('error', onError);
      // A { fd } handle is the systemd-activated socket (server.listen(handle) overload).
      server.listen(options as net.ListenOptions, () => {
        server.off('error', onError);
        server.on('error', (err) => this.log.warning(`error on listening socket: ${strerror(err)}`));
        resolve();
      });
    });
  }

  private accepted(socket: net.Socket): void {
    const full = this.served.size >= this.maxClients;
    if (full && this.waiting.length >= MAX_WAITING) {
      // destroy() closes the descriptor now: the flood costs one fd at a time, never more.
      socket.destroy();
      this.log.debug(`${MAX_WAITING} clients already waiting: connection closed`);
      return;
    }
    socket.on('error', (err) => this.log.debug(`channel error: ${strerror(err)}`));
    if (!full) this.serve(socket);
    else this.waiting.push(socket);
  }

  private serve(socket: net.Socket): void {
    this.served.add(socket);
    if (this.maxClients === 1) this.serveOnly(socket);
    else this.serveOneOfMany(socket);
  }

  /** qemu-ga's way: this client has the channel; its bytes go to the agent's one session. */
  private serveOnly(socket: net.Socket): void {
    const link: SocketLink = new SocketLink(socket, this.log, () => this.current === link);
    this.current = link;
    socket.on('data', (chunk: Buffer) => this.events?.data(chunk));
    socket.once('close', () => {
      this.log.debug('received EOF');
      if (this.current === link) this.current = undefined;
      this.events?.clientGone?.();
      this.serveNext(socket);
    });
    if (!this.paused) socket.resume();
  }

  /** --max-clients: this connection gets a session of its own. */
  private serveOneOfMany(socket: net.Socket): void {
    const link = new SocketLink(socket, this.log, () => true);
    const own = (this.events?.connected as NonNullable<ChannelEvents['connected']>)(link);
    socket.on('data', (chunk: Buffer) => own.data(chunk));
    socket.once('close', () => {
      this.log.debug('received EOF');
      own.gone();
      this.serveNext(socket);
    });
    socket.resume();
  }

  private serveNext(gone: net.Socket): void {
    this.served.delete(gone);
    const next = this.waiting.shift();
    if (next !== undefined) this.serve(next);
  }

  write(data: Buffer | string): void {
    if (this.current === undefined) {
      this.log.warning('error writing to channel: no client connected');
      return;
    }
    this.current.write(data);
  }

  writer(): PacedWriter | undefined {
    return this.current?.writer();
  }

  pause(): void {
    this.paused = true;
    this.current?.pause();
  }

  resume(): void {
    this.paused = false;
    this.current?.resume();
  }

  close(): void {
    // net.Server#close would unlink the socket file; qemu-ga leaves it, so only the handles go.
    for (const s of [...this.served, ...this.waiting]) s.destroy();
    this.waiting.length = 0;
    this.served.clear();
    this.current = undefined;
    this.server?.unref();
  }
}

/** One served socket: its writes, its paced writer, its reading. */
class SocketLink implements ClientLink {
  private readonly pacer: SocketWriter;

  constructor(
    private readonly socket: net.Socket,
    private readonly log: ChannelLog,
    isCurrent: () => boolean,
  ) {
    this.pacer = new SocketWriter(socket, isCurrent);
  }

  write(data: Buffer | string): void {
    const socket = this.socket;
    if (socket.destroyed || !socket.writable) {
      this.log.warning('error writing to channel: no client connected');
      return;
    }
    if (typeof data === 'string') socket.write(data, 'latin1');
    else socket.write(data);
  }

  writer(): PacedWriter | undefined {
    return this.pacer.open ? this.pacer : undefined;
  }

  pause(): void {
    this.socket.pause();
  }

  resume(): void {
    this.socket.resume();
  }
}

/** One client's socket as a PacedWriter: every `done` runs exactly once, even if the socket dies. */
class SocketWriter implements PacedWriter {
  private readonly pending = new Set<() => void>();

  constructor(
    private readonly socket: net.Socket,
    private readonly isCurrent: () => boolean,
  ) {
    socket.once('close', () => {
      for (const done of [...this.pending]) done();
    });
  }

  get open(): boolean {
    return this.isCurrent() && !this.socket.destroyed && this.socket.writable;
  }

  write(data: Buffer | string, done: () => void): void {
    let called = false;
    const once = (): void => {
      if (called) return;
      called = true;
      this.pending.delete(once);
      done();
    };
    this.pending.add(once);
    if (!this.open) {
      queueMicrotask(once);
      return;
    }
    if (typeof data === 'string') this.socket.write(data, 'latin1', once);
    else this.socket.write(data, once);
  }
}
