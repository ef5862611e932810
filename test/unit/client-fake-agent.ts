// A scriptable fake guest agent on a unix socket, for the client's tests. It records every
// request and never touches the machine: commands that would change the host (freeze,
// fstrim, shutdown, …) are only ever answered from the test's script.
//
// Like qemu-ga it parses its input with one JSON streamer for its whole life (partial input
// survives a reconnect), answers a JSON-level error (a 0xFF byte included) with one error
// line, serves one client at a time, handles requests one after the other, echoes `id`, and
// prefixes the answer to guest-sync-delimited with 0xFF.

import * as fs from 'node:fs';
import * as net from 'node:net';
import * as os from 'node:os';
import * as path from 'node:path';
import { JsonStreamer } from '../../src/json/streamer.ts';
import { toJson } from '../../src/json/serialize.ts';
import type { JsonValue, OutValue } from '../../src/json/value.ts';

export interface FakeRequest {
  readonly command: string;
  readonly args: Map<string, JsonValue> | undefined;
  /** The request's id member (undefined: none). */
  readonly id: JsonValue | undefined;
  /** Which connection (1, 2, …) sent it. */
  readonly connection: number;
}

export type Reply =
  | { return: OutValue }
  | { error: { class: string; desc: string } }
  /** Say nothing. */
  | { none: true }
  /** Write these bytes as they are. */
  | { bytes: string | Buffer }
  /** Wait this long before the next step. */
  | { delay: number }
  /** Close the client's connection. */
  | { close: true };

/** Returns the steps for a request, or undefined for the default behaviour. */
export type Handler = (req: FakeRequest, agent: FakeAgent) => Reply | Reply[] | undefined | Promise<Reply | Reply[] | undefined>;

export class FakeAgent {
  readonly requests: FakeRequest[] = [];
  /** JSON-level errors, in order (each 0xFF gives one). */
  readonly jsonErrors: string[] = [];
  connections = 0;
  private current: net.Socket | null = null;
  private readonly waiting: net.Socket[] = [];
  private queue: Promise<void> = Promise.resolve();
  private readonly streamer: JsonStreamer;

  private constructor(
    readonly dir: string,
    readonly sock: string,
    private readonly server: net.Server,
    public handler: Handler,
  ) {
    this.streamer = new JsonStreamer({
      message: (v) => {
        const n = this.connNo;
        this.enqueue(() => this.onMessage(v, n));
      },
      error: (desc) => {
        this.jsonErrors.push(desc);
        this.enqueue(async () => this.write(toJson({ error: { class: 'GenericError', desc } }) + '\n'));
      },
    });
  }

  static async start(handler: Handler = () => undefined): Promise<FakeAgent> {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'qga-fake-'));
    const sock = path.join(dir, 'agent.sock');
    const server = net.createServer();
    const agent = new FakeAgent(dir, sock, server, handler);
    server.on('connection', (s) => agent.accept(s));
    await new Promise<void>((r) => server.listen(sock, r));
    return agent;
  }

  /** The requests of one command. */
  of(command: string): FakeRequest[] {
    return this.requests.filter((r) => r.command === command);
  }

  /** Writes bytes to the connected client (stale data, say). */
  send(bytes: string | Buffer): void {
    this.write(bytes);
  }

  /** Closes the current client's connection. */
  dropClient(): void {
    this.current?.destroy();
  }

  async stop(): Promise<void> {
    this.current?.destroy();
    for (const s of this.waiting) s.destroy();
    await new Promise<void>((r) => this.server.close(() => r()));
    fs.rmSync(this.dir, { recursive: true, force: true });
  }

  // One client at a time: later ones wait, their bytes unread, until the first goes away.
  private accept(s: net.Socket): void {
    s.on('error', () => {});
    if (this.current !== null) {
      s.pause();
      this.waiting.push(s);
      s.on('close', () => {
        const i = this.waiting.indexOf(s);
        if (i >= 0) this.waiting.splice(i, 1);
      });
      return;
    }
    this.serve(s);
  }

  private serve(s: net.Socket): void {
    this.current = s;
    const n = ++this.connections;
    s.on('data', (d: Buffer) => {
      this.connNo = n;
      this.streamer.feed(d);
    });
    s.on('close', () => {
      if (this.current === s) this.current = null;
      const next = this.waiting.shift();
      if (next !== undefined) {
        this.serve(next);
        next.resume();
      }
    });
    s.resume();
  }

  private connNo = 0;

  private enqueue(job: () => Promise<void> | void): void {
    this.queue = this.queue.then(job).catch(() => {});
  }

  private write(bytes: string | Buffer): void {
    const s = this.current;
    if (s === null || s.destroyed) return;
    s.write(typeof bytes === 'string' ? Buffer.from(bytes, 'latin1') : bytes);
  }

  private async onMessage(v: JsonValue, connection: number): Promise<void> {
    if (!(v instanceof Map)) {
      this.write(toJson({ error: { class: 'GenericError', desc: 'QMP input must be a JSON object' } }) + '\n');
      return;
    }
    const command = v.get('execute');
    const args = v.get('arguments');
    const req: FakeRequest = {
      command: typeof command === 'string' ? command : '',
      args: args instanceof Map ? args : undefined,
      id: v.get('id'),
      connection,
    };
    this.requests.push(req);
    let steps = await this.handler(req, this);
    if (steps === undefined) steps = defaultReply(req);
    for (const step of Array.isArray(steps) ? steps : [steps]) {
      if ('delay' in step) await new Promise((r) => setTimeout(r, step.delay));
      else if ('close' in step) this.current?.destroy();
      else if ('bytes' in step) this.write(step.bytes);
      else if ('none' in step) continue;
      else this.write(envelope(step, req.id) + '\n');
    }
  }
}

function envelope(r: { return: OutValue } | { error: { class: string; desc: string } }, id: JsonValue | undefined): string {
  const o: Record<string, OutValue> = 'return' in r ? { return: r.return } : { error: r.error };
  if (id !== undefined) o.id = id;
  return toJson(o);
}

function defaultReply(req: FakeRequest): Reply | Reply[] {
  switch (req.command) {
    case 'guest-sync-delimited':
      return { bytes: Buffer.concat([Buffer.from([0xff]), Buffer.from(envelope({ return: req.args?.get('id') ?? null }, req.id) + '\n')]) };
    case 'guest-sync':
      return { return: req.args?.get('id') ?? null };
    case 'guest-ping':
      return { return: {} };
    default:
      return { error: { class: 'CommandNotFound', desc: `The command ${req.command} has not been found` } };
  }
}
