// vsock-listen's accept loop and per-connection links, with an AF_UNIX listening socket made
// through libc in AF_VSOCK's place (this machine has no vsock loopback): accept() and the
// FdChannel reads and writes are the transport's own.
import { describe, it } from 'node:test';
import * as assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { ffi } from '../../src/platform/linux/ffi.ts';
import { vsockAccept } from '../../src/platform/linux/vsock.ts';
import { VsockListenTransport, type ListenCalls } from '../../src/transport/vsock-listen.ts';
import type { ChannelEvents } from '../../src/transport/transport.ts';
import { RawClient } from '../support/agent.ts';

const AF_UNIX = 1;
const SOCK_STREAM = 1;
const SOCK_CLOEXEC = 0o2000000;

/** socket + bind + listen(1) on a unix path, as vsockListen does on a vsock port. */
function unixCalls(sockPath: string): ListenCalls {
  const { libc } = ffi();
  const socket = libc.func('int socket(int, int, int)');
  const bind = libc.func('int bind(int, const uint8_t *, uint32_t)');
  const listen = libc.func('int listen(int, int)');
  return {
    listen: () => {
      const fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
      const addr = Buffer.alloc(110);
      addr.writeUInt16LE(AF_UNIX, 0);
      addr.write(sockPath, 2);
      assert.equal(bind(fd, addr, addr.length), 0);
      assert.equal(listen(fd, 1), 0);
      return fd;
    },
    accept: vsockAccept,
  };
}

const log = { warning: () => {}, debug: () => {} };

async function silent(c: RawClient, ms = 300): Promise<boolean> {
  return (await c.waitFor((b) => b.length > 0, ms)).length === 0;
}

/** Starts a transport on a fresh socket path; `finish` closes it and unblocks its last accept(). */
async function start(maxClients: number, events: (t: VsockListenTransport) => ChannelEvents) {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'qga-vsock-'));
  const sock = path.join(dir, 's');
  const t = new VsockListenTransport('1:1', log, maxClients, unixCalls(sock));
  await t.open(events(t));
  const finish = async (): Promise<void> => {
    t.close();
    // The accept() under way on a worker thread returns for this one, and the transport drops it.
    (await RawClient.connect(sock)).close();
    fs.rmSync(dir, { recursive: true, force: true });
  };
  return { sock, finish };
}

describe('vsock-listen transport', () => {
  it('max-clients 2: two connections are served at once, each through its own link; a third waits for a free slot', async () => {
    const gone: string[] = [];
    let n = 0;
    const { sock, finish } = await start(2, () => ({
      data: () => assert.fail('with several clients nothing goes through data()'),
      stopped: (r) => assert.fail(r),
      connected: (link) => {
        const me = `c${++n}`;
        return { data: (chunk) => link.write(`${me}:${chunk.toString('latin1')}\n`), gone: () => gone.push(me) };
      },
    }));
    const a = await RawClient.connect(sock);
    const b = await RawClient.connect(sock);
    a.send('x');
    b.send('y');
    assert.deepEqual(await a.lines(1), ['c1:x']);
    assert.deepEqual(await b.lines(1), ['c2:y']);
    const c = await RawClient.connect(sock);
    c.send('z');
    assert.ok(await silent(c), 'the third waits in the backlog, not accepted');
    a.close();
    assert.deepEqual(await c.lines(1), ['c3:z']);
    assert.deepEqual(gone, ['c1']);
    b.close();
    c.close();
    await finish();
  });

  it('max-clients 1: one client at a time, through data() and the transport itself, as qemu-ga', async () => {
    let goneCount = 0;
    const { sock, finish } = await start(1, (t) => ({
      data: (chunk) => t.write(`got:${chunk.toString('latin1')}\n`),
      clientGone: () => goneCount++,
      stopped: (r) => assert.fail(r),
    }));
    const a = await RawClient.connect(sock);
    a.send('1');
    assert.deepEqual(await a.lines(1), ['got:1']);
    const b = await RawClient.connect(sock);
    b.send('2');
    assert.ok(await silent(b), 'the second waits');
    a.close();
    assert.deepEqual(await b.lines(1), ['got:2']);
    assert.equal(goneCount, 1);
    b.close();
    await finish();
  });
});
