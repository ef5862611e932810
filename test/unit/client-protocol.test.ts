// QgaClient against a fake agent: resynchronisation (0xFF, guest-sync-delimited, stale
// bytes, stale answers), ids, timeouts, reconnects, errors, no-reply commands, exact integers.

import { describe, it, afterEach } from 'node:test';
import assert from 'node:assert/strict';
import { QgaClient, randomId, parseAddress } from '../../src/client/client.ts';
import { QgaClientError, QgaCommandError, QgaConnectionError, QgaProtocolError, QgaTimeoutError } from '../../src/client/errors.ts';
import { FakeAgent, type Handler } from './client-fake-agent.ts';

let agent: FakeAgent | null = null;
let client: QgaClient | null = null;

async function setup(handler?: Handler, options: Partial<ConstructorParameters<typeof QgaClient>[0] & object> = {}): Promise<{ agent: FakeAgent; client: QgaClient }> {
  agent = await FakeAgent.start(handler);
  client = new QgaClient({ address: agent.sock, timeout: 2000, syncTimeout: 2000, ...options });
  return { agent, client };
}

afterEach(async () => {
  await client?.close();
  await agent?.stop();
  client = null;
  agent = null;
});

const INT64_MAX = 2n ** 63n - 1n;
const FF = Buffer.from([0xff]);

describe('client: resynchronisation', () => {
  it('connects with 0xFF + guest-sync-delimited (random 63-bit bigint id) and ignores the error line the 0xFF provokes', async () => {
    const { agent, client } = await setup();
    await client.guestPing();
    assert.equal(agent.jsonErrors.length, 1, 'exactly one JSON error: the 0xFF');
    assert.match(agent.jsonErrors[0]!, /^JSON parse error, stray '/);
    const [sync, ping] = agent.requests;
    assert.equal(sync!.command, 'guest-sync-delimited');
    const id = sync!.args!.get('id');
    assert.equal(typeof id, 'bigint');
    assert.ok((id as bigint) >= 0n && (id as bigint) <= INT64_MAX);
    assert.equal(sync!.id, undefined);
    assert.equal(ping!.command, 'guest-ping');
    assert.equal(typeof ping!.id, 'bigint', 'requests carry a bigint id');
  });

  it('random ids are 63-bit and differ', () => {
    const ids = new Set<bigint>();
    for (let i = 0; i < 1000; i++) {
      const id = randomId();
      assert.ok(id >= 0n && id <= INT64_MAX);
      ids.add(id);
    }
    assert.ok(ids.size > 990);
  });

  it('discards stale bytes, stale delimited answers and partial lines before the matching sync answer', async () => {
    const { agent, client } = await setup((req, a) => {
      if (req.command !== 'guest-sync-delimited') return undefined;
      const id = req.args!.get('id');
      return {
        bytes: Buffer.concat([
          Buffer.from('{"return": {"count": 3, "buf-b64": "YWJj", "eof": fa'), // a truncated old answer
          Buffer.from('\n{"return": 17}\n{"error": {"class": "GenericError", "desc": "old"}}\n'),
          FF,
          Buffer.from('{"return": 12345}\n'), // an earlier sync's answer
          Buffer.from('{"return": 99, "id": 1}\n'),
          FF,
          Buffer.from('{"retu'), // cut short by the next delimiter
          FF,
          Buffer.from(`{"return": ${id}}\n`),
        ]),
      };
    });
    assert.deepEqual(await client.guestPing(), undefined);
    assert.equal(agent.of('guest-ping').length, 1);
  });

  it('syncs through a stream that delivers one byte at a time', async () => {
    const { client } = await setup((req) => {
      if (req.command !== 'guest-sync-delimited') return undefined;
      const text = Buffer.concat([Buffer.from('junk}\n'), FF, Buffer.from(`{"return": ${req.args!.get('id')}}\n`)]);
      const steps = [];
      for (const b of text) steps.push({ bytes: Buffer.from([b]) }, { delay: 1 });
      return steps;
    });
    await client.guestPing();
  });

  it('a partial request left in the agent by an earlier client is flushed by the 0xFF', async () => {
    const { agent, client } = await setup();
    const net = await import('node:net');
    await new Promise<void>((resolve) => {
      const s = net.connect(agent.sock, () => {
        s.end('{"execute": "guest-shutdown", "arguments": {');
        s.on('close', () => resolve());
      });
    });
    await client.guestPing();
    assert.equal(agent.of('guest-shutdown').length, 0);
    assert.equal(agent.jsonErrors.length, 1);
  });

  it('reports a sync that gets no answer (another client holds the agent)', async () => {
    const { agent } = await setup();
    const net = await import('node:net');
    const holder = net.connect(agent.sock);
    await new Promise((r) => holder.once('connect', r));
    await new Promise((r) => setTimeout(r, 20));
    const c = new QgaClient({ address: agent.sock, syncTimeout: 200 });
    await assert.rejects(c.guestPing(), (e: unknown) => {
      assert.ok(e instanceof QgaTimeoutError);
      assert.equal(e.command, 'guest-sync-delimited');
      assert.match(e.message, /did not answer guest-sync-delimited within 0\.2 s \(is it running\? is another client connected to it\?\)/);
      return true;
    });
    holder.destroy();
    // Once the other client is gone, the queued bytes are served and the next call syncs again.
    await c.guestPing();
    await c.close();
  });
});

describe('client: calls', () => {
  it('matches answers by id and skips answers with an unknown id', async () => {
    const { client } = await setup((req) => {
      if (req.command !== 'guest-get-time') return undefined;
      return [{ bytes: '{"return": 1, "id": 42}\n' }, { return: 1700000000123456789n }];
    });
    assert.equal(await client.guestGetTime(), 1700000000123456789n);
  });

  it('pipelines concurrent calls; each gets its own answer even out of order', async () => {
    let held: { id: unknown } | null = null;
    const { client } = await setup((req) => {
      if (req.command !== 'guest-sync') return undefined;
      const id = req.args!.get('id');
      if (id === 1n) {
        held = { id: req.id };
        return { none: true };
      }
      const first = held;
      held = null;
      const steps: ({ return: bigint } | { bytes: string })[] = [{ return: id as bigint }];
      if (first !== null) steps.push({ bytes: `{"return": 1, "id": ${(first as { id: bigint }).id}}\n` });
      return steps;
    });
    const [a, b] = await Promise.all([client.guestSync({ id: 1 }), client.guestSync({ id: 2n })]);
    assert.equal(a, 1n);
    assert.equal(b, 2n);
  });

  it('serializes integer arguments exactly: bigints above 2^53, numbers as integers', async () => {
    const { agent, client } = await setup((req) => (req.command === 'guest-sync' ? { return: req.args!.get('id')! } : undefined));
    assert.equal(await client.guestSync({ id: INT64_MAX }), INT64_MAX);
    assert.equal(await client.guestSync({ id: 2n ** 64n - 1n }), 2n ** 64n - 1n);
    assert.equal(await client.guestSync({ id: 5 }), 5n);
    assert.equal(agent.of('guest-sync')[2]!.args!.get('id'), 5n);
    await assert.rejects(client.guestSync({ id: 1.5 }), TypeError);
    await assert.rejects(client.guestSync({ id: 2 ** 60 }), /must be an integer given as a bigint or a safe integer number/);
  });

  it('error answers become QgaCommandError with class, desc and command', async () => {
    const { client } = await setup((req) =>
      req.command === 'guest-fstrim' ? { error: { class: 'GenericError', desc: 'this feature or command is not currently supported' } } : undefined,
    );
    await assert.rejects(client.guestFstrim(), (e: unknown) => {
      assert.ok(e instanceof QgaCommandError);
      assert.equal(e.class, 'GenericError');
      assert.equal(e.desc, 'this feature or command is not currently supported');
      assert.equal(e.command, 'guest-fstrim');
      assert.equal(e.unsupported, true);
      return true;
    });
    await assert.rejects(client.call('guest-nope'), (e: unknown) => e instanceof QgaCommandError && e.class === 'CommandNotFound' && e.unsupported);
  });

  it('a JSON-level error without id fails the oldest call and forces a resync', async () => {
    const { agent, client } = await setup((req) =>
      req.command === 'guest-info' ? { bytes: '{"error": {"class": "GenericError", "desc": "JSON token size limit exceeded"}}\n' } : undefined,
    );
    await assert.rejects(client.guestInfo(), (e: unknown) => e instanceof QgaCommandError && e.desc === 'JSON token size limit exceeded' && e.command === 'guest-info');
    await client.guestPing();
    assert.equal(agent.of('guest-sync-delimited').length, 2);
  });

  it('a garbled answer is a QgaProtocolError and forces a resync', async () => {
    const { agent, client } = await setup((req) => (req.command === 'guest-get-time' ? { bytes: 'not json\n' } : undefined));
    await assert.rejects(client.guestGetTime(), QgaProtocolError);
    await client.guestPing();
    assert.equal(agent.of('guest-sync-delimited').length, 2);
  });

  it('an answer that does not fit the schema is a QgaProtocolError naming the member', async () => {
    const { client } = await setup((req) => (req.command === 'guest-file-read' ? { return: { count: 3n, eof: false } } : undefined));
    await assert.rejects(client.guestFileRead({ handle: 1 }), {
      name: 'QgaProtocolError',
      message: "guest-file-read: the agent's answer lacks 'return.buf-b64'",
    });
  });
});

describe('client: timeouts and reconnects', () => {
  it('a timed-out call rejects; the late answer is discarded by the resync before the next call', async () => {
    const { agent, client } = await setup((req) => {
      if (req.command === 'guest-get-time' && agent!.of('guest-get-time').length === 1) return [{ delay: 300 }, { return: 111n }];
      if (req.command === 'guest-get-time') return { return: 222n };
      return undefined;
    });
    await client.open();
    await assert.rejects(client.guestGetTime({ timeout: 100 }), (e: unknown) => {
      assert.ok(e instanceof QgaTimeoutError);
      assert.equal(e.command, 'guest-get-time');
      assert.equal(e.message, 'guest-get-time: no answer within 0.1 s');
      return true;
    });
    assert.equal(await client.guestGetTime(), 222n);
    const syncs = agent.of('guest-sync-delimited');
    assert.equal(syncs.length, 2, 'resynchronised once after the timeout');
    assert.notEqual(syncs[0]!.args!.get('id'), syncs[1]!.args!.get('id'));
  });

  it('calls in flight when a resync starts are abandoned', async () => {
    const { client } = await setup((req) => (req.command === 'guest-get-time' ? [{ delay: 400 }, { return: 1n }] : undefined));
    await client.open();
    const slow = client.guestGetTime({ timeout: 0 });
    const timedOut = client.guestGetTime({ timeout: 50 });
    await assert.rejects(timedOut, QgaTimeoutError);
    const next = client.guestPing();
    await assert.rejects(slow, (e: unknown) => e instanceof QgaClientError && /abandoned/.test(e.message));
    await next;
  });

  it('reconnects after the agent closed the connection, and resynchronises', async () => {
    const { agent, client } = await setup((req) => (req.command === 'guest-info' && req.connection === 1 ? { close: true } : undefined));
    await client.guestPing();
    await assert.rejects(client.guestInfo(), (e: unknown) => e instanceof QgaConnectionError && /closed/.test(e.message));
    await client.guestPing();
    assert.equal(agent.connections, 2);
    assert.deepEqual(
      agent.requests.map((r) => `${r.connection}:${r.command}`),
      ['1:guest-sync-delimited', '1:guest-ping', '1:guest-info', '2:guest-sync-delimited', '2:guest-ping'],
    );
  });

  it('reconnect: false keeps a closed connection closed', async () => {
    const { agent, client } = await setup(undefined, { reconnect: false });
    await client.guestPing();
    agent.dropClient();
    await new Promise((r) => setTimeout(r, 50));
    await assert.rejects(client.guestPing(), QgaConnectionError);
  });

  it('connection refused is a QgaConnectionError; connectTimeout retries until the socket appears', async () => {
    await assert.rejects(QgaClient.connect('/nonexistent/qga.sock'), (e: unknown) => e instanceof QgaConnectionError && /cannot connect to \/nonexistent\/qga.sock/.test(e.message));
    const fs = await import('node:fs');
    const os = await import('node:os');
    const path = await import('node:path');
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'qga-late-'));
    const sock = path.join(dir, 's');
    const c = new QgaClient({ address: sock, connectTimeout: 3000 });
    const pending = c.guestPing();
    await new Promise((r) => setTimeout(r, 300));
    const late = await FakeAgent.start();
    // Move the late agent's socket into place.
    fs.renameSync(late.sock, sock);
    await pending;
    await c.close();
    await late.stop();
    fs.rmSync(dir, { recursive: true, force: true });
  });
});

describe('client: success-response false', () => {
  it('resolves after the grace period when the agent says nothing', async () => {
    const { agent, client } = await setup((req) => (req.command === 'guest-shutdown' ? { none: true } : undefined));
    const t0 = Date.now();
    assert.equal(await client.guestShutdown({ mode: 'reboot' }, { noReplyGrace: 150 }), undefined);
    assert.ok(Date.now() - t0 >= 140);
    const req = agent.of('guest-shutdown')[0]!;
    assert.equal(req.args!.get('mode'), 'reboot');
    await client.guestPing();
  });

  it('rejects on an error answer within the grace period', async () => {
    const { client } = await setup((req) =>
      req.command === 'guest-suspend-ram' ? { error: { class: 'GenericError', desc: 'this feature or command is not currently supported' } } : undefined,
    );
    await assert.rejects(client.guestSuspendRam(), (e: unknown) => e instanceof QgaCommandError && e.unsupported);
  });

  it('the connection closing counts as success', async () => {
    const { client } = await setup((req) => (req.command === 'guest-shutdown' ? { close: true } : undefined));
    assert.equal(await client.guestShutdown(undefined, { noReplyGrace: 5000 }), undefined);
  });

  it('call() resolves undefined for them too', async () => {
    const { client } = await setup((req) => (req.command === 'guest-suspend-disk' ? { none: true } : undefined));
    assert.equal(await client.call('guest-suspend-disk', undefined, { noReplyGrace: 50 }), undefined);
  });
});

describe('client: typed replies', () => {
  it('keeps 64-bit integers exact, makes number members numbers, passes unknown members through', async () => {
    const { client } = await setup((req) => {
      switch (req.command) {
        case 'guest-get-users':
          return { bytes: `{"return": [{"user": "root", "login-time": 1700000000}, {"user": "x", "login-time": 1.5, "domain": "d"}], "id": ${req.id}}\n` };
        case 'guest-get-diskstats':
          return { return: [{ name: 'vda', major: 252n, minor: 0n, stats: { 'read-ios': 18446744073709551615n } }] };
        case 'guest-get-cpustats':
          return { return: [{ type: 'linux', cpu: 0n, user: 1n, nice: 2n, system: 3n, idle: 4n, future: 'x' }] };
        case 'guest-exec-status':
          return { return: { exited: true, exitcode: 0n, 'out-data': 'aGk=' } };
        default:
          return undefined;
      }
    });
    assert.deepEqual(await client.guestGetUsers(), [
      { user: 'root', 'login-time': 1700000000 },
      { user: 'x', 'login-time': 1.5, domain: 'd' },
    ]);
    const ds = await client.guestGetDiskstats();
    assert.equal(ds[0]!.stats['read-ios'], 18446744073709551615n);
    assert.equal(ds[0]!.major, 252n);
    const cs = await client.guestGetCpustats();
    assert.deepEqual(cs, [{ type: 'linux', cpu: 0n, user: 1n, nice: 2n, system: 3n, idle: 4n, future: 'x' }]);
    assert.deepEqual(await client.execute('guest-exec-status', { pid: 12 }), { exited: true, exitcode: 0n, 'out-data': 'aGk=' });
  });

  it('call() returns the raw value: Maps in the agent order, bigints', async () => {
    const { client } = await setup((req) => (req.command === 'guest-get-host-name' ? { return: { 'host-name': 'vm' } } : undefined));
    const raw = await client.call('guest-get-host-name');
    assert.ok(raw instanceof Map);
    assert.equal(raw.get('host-name'), 'vm');
  });
});

describe('client: addresses', () => {
  it('parses unix paths and host:port like qemu-ga-client', () => {
    assert.deepEqual(parseAddress('/run/qga.sock'), { path: '/run/qga.sock' });
    assert.deepEqual(parseAddress('qga.sock'), { path: 'qga.sock' });
    assert.deepEqual(parseAddress('localhost:4444'), { host: 'localhost', port: 4444 });
    assert.deepEqual(parseAddress('[::1]:4444'), { host: '::1', port: 4444 });
    assert.deepEqual(parseAddress('./dir:1/sock'), { path: './dir:1/sock' });
  });
});

describe('client: file transfer requests', () => {
  it('writeGuestFile sends each chunk as the exact base64 of its bytes (encoded into the request buffer)', async () => {
    const { writeGuestFile } = await import('../../src/client/transfer.ts');
    const got: Buffer[] = [];
    const { client } = await setup((req) => {
      if (req.command === 'guest-file-open') return { return: 7n };
      if (req.command === 'guest-file-close') return { return: {} };
      if (req.command !== 'guest-file-write') return undefined;
      assert.equal(req.args!.get('handle'), 7n);
      const text = req.args!.get('buf-b64') as string;
      const bytes = Buffer.from(text, 'base64');
      assert.equal(bytes.toString('base64'), text, 'canonical padded base64');
      got.push(bytes);
      return { return: { count: BigInt(bytes.length), eof: false } };
    });
    // Sizes around the encoder's 12 KiB step and base64's 3-byte groups.
    const data = Buffer.alloc(3 * 12 * 1024 + 2);
    for (let i = 0; i < data.length; i++) data[i] = (i * 7919) & 0xff;
    const r = await writeGuestFile(client, '/x', data, { chunkSize: 12 * 1024 + 1, window: 2 });
    assert.equal(r.bytes, data.length);
    assert.deepEqual(Buffer.concat(got), data);
    assert.deepEqual(got.map((b) => b.length), [12289, 12289, 12288]);
  });

  it('readGuestFile with one request in flight: the next read goes out before a chunk is stored, none after eof', async () => {
    const { readGuestFile } = await import('../../src/client/transfer.ts');
    const data = Buffer.from('0123456789abcdefghij');
    let pos = 0;
    const { agent, client } = await setup((req) => {
      if (req.command === 'guest-file-open') return { return: 3n };
      if (req.command === 'guest-file-close') return { return: {} };
      if (req.command !== 'guest-file-read') return undefined;
      const chunk = data.subarray(pos, pos + Number(req.args!.get('count')));
      pos += chunk.length;
      return { return: { count: BigInt(chunk.length), 'buf-b64': chunk.toString('base64'), eof: pos >= data.length } };
    });
    const reads = () => agent.requests.filter((r) => r.command === 'guest-file-read').length;
    const seen: number[] = [];
    const r = await readGuestFile(
      client,
      '/x',
      async () => {
        await new Promise((res) => setTimeout(res, 50)); // time for a request already sent to arrive
        seen.push(reads());
      },
      { chunkSize: 8, window: 1 },
    );
    assert.equal(r.bytes, 20);
    assert.deepEqual(seen, [2, 3, 3], 'read k+1 was sent before chunk k was stored; nothing after the eof answer');
  });
});
