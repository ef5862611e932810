// --max-clients=N on unix-listen: up to N connections served at once, each with its own framing;
// file handles shared; the N+1th waits until one leaves; a flood cannot take the served ones' fds.
// (vsock-listen: test/unit/vsock-listen.test.ts, on a unix socket, as this machine has no vsock loopback.)
import { after, before, describe, it } from 'node:test';
import * as assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as net from 'node:net';
import * as path from 'node:path';
import { spawnSync } from 'node:child_process';
import { Agent, QGA_TS, type RawClient } from '../support/agent.ts';
import { openFds, connectRaw, writeUntilStalled } from '../support/hostile.ts';

async function call(c: RawClient, request: string): Promise<string> {
  c.send(request);
  const [line] = await c.lines(1);
  return line;
}

/** Nothing arrives on `c` within `ms`. */
async function silent(c: RawClient, ms = 300): Promise<boolean> {
  return (await c.waitFor((b) => b.length > 0, ms)).length === 0;
}

describe('--max-clients=4', () => {
  let agent: Agent;
  before(async () => {
    agent = await Agent.start(QGA_TS, { args: ['--max-clients=4'] });
  });
  after(async () => {
    assert.equal(await agent.stop(), 0);
    agent.cleanup();
  });

  it('answers guest-ping on a second connection while the first stays open', async () => {
    const first = await agent.connect();
    assert.equal(await call(first, '{"execute":"guest-ping"}'), '{"return": {}}');
    const second = await agent.connect();
    assert.equal(await call(second, '{"execute":"guest-ping"}'), '{"return": {}}');
    assert.equal(await call(first, '{"execute":"guest-sync","arguments":{"id":1}}'), '{"return": 1}', 'the first is still served');
    first.close();
    second.close();
  });

  it("a guest-sync-delimited resync on one connection leaves another's half-sent request alone", async () => {
    const a = await agent.connect();
    const b = await agent.connect();
    b.send('{"execute":"guest-sy');
    a.send('{"execute":"guest-in');
    await a.resync(77n);
    assert.equal(await call(a, '{"execute":"guest-sync","arguments":{"id":5}}'), '{"return": 5}');
    assert.ok(await silent(b, 100), 'B has had no reply: its request is not complete');
    b.send('nc","arguments":{"id":9}}');
    assert.deepEqual(await b.lines(1), ['{"return": 9}'], "B's request arrives whole, with nothing of A's before it");
    a.close();
    b.close();
  });

  it('a file handle opened on one connection is read on another', async () => {
    const file = path.join(agent.dir, 'shared');
    fs.writeFileSync(file, 'hello from A');
    const a = await agent.connect();
    const b = await agent.connect();
    const handle = JSON.parse(await call(a, `{"execute":"guest-file-open","arguments":{"path":"${file}"}}`)).return;
    const read = JSON.parse(await call(b, `{"execute":"guest-file-read","arguments":{"handle":${handle}}}`)).return;
    assert.equal(Buffer.from(read['buf-b64'], 'base64').toString(), 'hello from A');
    assert.equal(await call(a, `{"execute":"guest-file-close","arguments":{"handle":${handle}}}`), '{"return": {}}');
    a.close();
    b.close();
  });

  it('a 5th connection waits unanswered and is served when one of the four closes', async () => {
    const four = [await agent.connect(), await agent.connect(), await agent.connect(), await agent.connect()];
    for (const [i, c] of four.entries()) assert.equal(await call(c, `{"execute":"guest-sync","arguments":{"id":${i}}}`), `{"return": ${i}}`);
    const fifth = await agent.connect();
    fifth.send('{"execute":"guest-sync","arguments":{"id":5}}');
    assert.ok(await silent(fifth), 'the fifth waits');
    four[2].close();
    assert.deepEqual(await fifth.lines(1), ['{"return": 5}']);
    for (const c of [...four, fifth]) c.close();
  });

  it('a connection that does not read its replies does not hold up the others', async () => {
    const flooder = await connectRaw(agent.sock);
    const request = Buffer.from('{"execute":"guest-info"}'.repeat(1000));
    const flooding = writeUntilStalled(flooder, () => request, { forMs: 2000 });
    await new Promise((r) => setTimeout(r, 500));
    const other = await agent.connect();
    assert.equal(await call(other, '{"execute":"guest-ping"}'), '{"return": {}}');
    const accepted = await flooding;
    assert.ok(accepted < 16 * 1024 * 1024, `the flooder got ${accepted} bytes taken in: its own limits hold`);
    flooder.destroy();
    other.close();
  });
});

describe('--max-clients=4: 400 waiting clients under RLIMIT_NOFILE=256', () => {
  let agent: Agent;
  before(async () => {
    agent = await Agent.start(['prlimit', '--nofile=256', ...QGA_TS], { args: ['--max-clients=4'] });
  });
  after(async () => {
    assert.equal(await agent.stop(), 0);
    agent.cleanup();
  });

  it('the served clients keep opening files while the crowd waits', async () => {
    const file = path.join(agent.dir, 'f');
    fs.writeFileSync(file, 'x');
    const open = `{"execute":"guest-file-open","arguments":{"path":"${file}"}}`;
    const served = [await agent.connect(), await agent.connect(), await agent.connect()];
    for (const c of served) assert.match(await call(c, open), /^\{"return": \d+\}$/);
    const crowd: net.Socket[] = [];
    await Promise.all(
      Array.from({ length: 400 }, () => {
        const s = net.connect(agent.sock);
        crowd.push(s);
        return new Promise<void>((res) => {
          s.once('connect', () => res());
          s.once('error', () => res());
          s.once('close', () => res());
        });
      }),
    );
    const fds = openFds(agent.child.pid as number);
    // 3 served + 1 of the crowd served + 16 waiting + the listener, stdio, and Node's own.
    assert.ok(fds < 64, `the agent holds ${fds} descriptors`);
    for (let i = 0; i < 20; i++) for (const c of served) assert.match(await call(c, open), /^\{"return": \d+\}$/);
    for (const s of crowd) s.destroy();
    for (const c of served) c.close();
  });
});

describe('--max-clients=1 and the default: one connection at a time, as qemu-ga', () => {
  // The default (no option) is asserted in agent.test.ts ('serves one client at a time').
  it('--max-clients=1 leaves a second connection unanswered until the first leaves', async () => {
    const agent = await Agent.start(QGA_TS, { args: ['--max-clients=1'] });
    try {
      const first = await agent.connect();
      const second = await agent.connect();
      second.send('{"execute":"guest-ping"}');
      assert.equal(await call(first, '{"execute":"guest-ping"}'), '{"return": {}}');
      assert.ok(await silent(second), 'the second waits');
      first.close();
      assert.deepEqual(await second.lines(1), ['{"return": {}}']);
      second.close();
    } finally {
      await agent.stop();
      agent.cleanup();
    }
  });

  it('refuses --max-clients above 1 on a serial channel, in words, at startup', () => {
    const r = spawnSync(QGA_TS[0], [QGA_TS[1], '-m', 'virtio-serial', '-p', '/nonexistent/port', '--max-clients=2'], {
      env: { ...process.env, QGA_CONF: '/nonexistent' },
      encoding: 'utf8',
    });
    assert.equal(r.status, 1);
    assert.match(r.stderr, /max-clients=2 needs a listening channel \(unix-listen or vsock-listen\); virtio-serial is a single stream/);
  });

  it('refuses a bad --max-clients value in words', () => {
    const r = spawnSync(QGA_TS[0], [QGA_TS[1], '--max-clients=100'], { env: { ...process.env, QGA_CONF: '/nonexistent' }, encoding: 'utf8' });
    assert.equal(r.status, 1);
    assert.match(r.stderr, /option '--max-clients' needs a number of connections from 1 to 16, not '100'/);
  });
});
