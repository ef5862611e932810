// Hostile clients against a live qga-ts: one that never reads its replies cannot grow the agent
// without bound, and waiting connections cannot take the served client's file descriptors.
import { after, before, describe, it } from 'node:test';
import * as assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as net from 'node:net';
import * as path from 'node:path';
import { Agent, QGA_TS, type RawClient } from '../support/agent.ts';
import { spawn } from 'node:child_process';
import * as os from 'node:os';
import { rssKiB, openFds, connectRaw, writeUntilStalled, LineClient } from '../support/hostile.ts';

const MiB = 1024 * 1024;

async function call(c: RawClient, request: string): Promise<string> {
  c.send(request);
  const [line] = await c.lines(1, 20_000);
  return line;
}

async function answersPing(agent: Agent): Promise<void> {
  const c = await agent.connect();
  try {
    await c.resync();
    assert.equal(await call(c, '{"execute":"guest-ping"}'), '{"return": {}}');
  } finally {
    c.close();
  }
}

describe('backpressure: a client that does not read its replies', () => {
  let agent: Agent;
  before(async () => {
    agent = await Agent.start(QGA_TS);
  });
  after(async () => {
    assert.equal(await agent.stop(), 0);
    agent.cleanup();
  });

  it('flooding guest-info without reading for 8 s grows the agent by at most 64 MB', async () => {
    const pid = agent.child.pid as number;
    await answersPing(agent);
    const before = rssKiB(pid);
    const s = await connectRaw(agent.sock);
    const request = Buffer.from('{"execute":"guest-info"}'.repeat(1000));
    let peak = before;
    const sampler = setInterval(() => (peak = Math.max(peak, rssKiB(pid))), 100);
    const accepted = await writeUntilStalled(s, () => request, { forMs: 8000 });
    clearInterval(sampler);
    peak = Math.max(peak, rssKiB(pid));
    s.destroy();
    assert.ok(peak - before <= 64 * 1024, `RSS grew by ${((peak - before) / 1024).toFixed(1)} MB (from ${before} kB to ${peak} kB)`);
    // qemu-ga takes a few hundred kB of requests before its write blocks; the old qga-ts took it all.
    assert.ok(accepted < 16 * MiB, `the agent took ${accepted} bytes of requests it could not answer`);
    await answersPing(agent);
  });

  it('40 × 8 MiB requests sent while a 48 MiB reply is unread are not taken in', async () => {
    const pid = agent.child.pid as number;
    const file = path.join(agent.dir, 'big');
    fs.writeFileSync(file, Buffer.alloc(48 * MiB, 0x5a));
    const c = await agent.connect();
    const r = JSON.parse(await call(c, `{"execute":"guest-file-open","arguments":{"path":"${file}"}}`));
    const sink = JSON.parse(await call(c, '{"execute":"guest-file-open","arguments":{"path":"/dev/null","mode":"w"}}'));
    c.close();
    const s = await connectRaw(agent.sock);
    s.write(`{"execute":"guest-file-read","arguments":{"handle":${r.return},"count":${48 * MiB}}}`);
    await new Promise((res) => setTimeout(res, 1000));
    const before = rssKiB(pid);
    const b64 = Buffer.alloc(6 * MiB, 0x41).toString('base64');
    const big = Buffer.from(`{"execute":"guest-file-write","arguments":{"handle":${sink.return},"buf-b64":"${b64}"}}`);
    let sent = 0;
    const accepted = await writeUntilStalled(s, () => (sent++ < 40 ? big : undefined), { stallMs: 1500 });
    const after = rssKiB(pid);
    s.destroy();
    assert.ok(accepted < 16 * MiB, `the agent took ${accepted} bytes of the ${40 * big.length} sent`);
    assert.ok(after - before <= 64 * 1024, `RSS grew by ${((after - before) / 1024).toFixed(1)} MB`);
    assert.ok(openFds(pid) < 64);
    await answersPing(agent);
  });
});

describe('connections: 400 waiting clients under RLIMIT_NOFILE=256', () => {
  let agent: Agent;
  before(async () => {
    agent = await Agent.start(['prlimit', '--nofile=256', ...QGA_TS]);
  });
  after(async () => {
    assert.equal(await agent.stop(), 0);
    agent.cleanup();
  });

  it("the served client's guest-file-open succeeds while they wait and after they leave", async () => {
    const file = path.join(agent.dir, 'f');
    fs.writeFileSync(file, 'x');
    const served = await agent.connect();
    const open = `{"execute":"guest-file-open","arguments":{"path":"${file}"}}`;
    assert.match(await call(served, open), /^\{"return": \d+\}$/);
    const crowd: net.Socket[] = [];
    const settled = Array.from({ length: 400 }, () => {
      const s = net.connect(agent.sock);
      crowd.push(s);
      return new Promise<void>((res) => {
        s.once('connect', () => res());
        s.once('error', () => res());
        s.once('close', () => res());
      });
    });
    await Promise.all(settled);
    const pid = agent.child.pid as number;
    assert.ok(openFds(pid) < 64, `the agent holds ${openFds(pid)} descriptors`);
    for (let i = 0; i < 20; i++) assert.match(await call(served, open), /^\{"return": \d+\}$/, `open #${i}`);
    for (const s of crowd) s.destroy();
    await new Promise((res) => setTimeout(res, 200));
    for (let i = 0; i < 20; i++) assert.match(await call(served, open), /^\{"return": \d+\}$/, `open #${i} after`);
    served.close();
    // The clients that waited (and left) are served in turn, each reading EOF; then a new one is.
    await new Promise((res) => setTimeout(res, 500));
    await answersPing(agent);
  });
});

describe('memory', () => {
  // The 1.15 target is measured on Node 20, the build's Node; Node 18 and 22 start from another
  // baseline (1.11-1.19 measured, docs/limits.md), so there the test only catches a regression.
  const IDLE_RATIO = process.versions.node.startsWith('20.') ? 1.15 : 1.25;
  it(`idle RSS at start is at most ${IDLE_RATIO} × an idle node listening on a unix socket`, async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'qga-idle-'));
    const node = spawn(process.execPath, ['-e', `require('net').createServer(() => {}).listen(${JSON.stringify(path.join(dir, 's'))})`], { stdio: 'ignore' });
    const agent = await Agent.start(QGA_TS);
    try {
      await new Promise((res) => setTimeout(res, 2000));
      const ours = rssKiB(agent.child.pid as number);
      const base = rssKiB(node.pid as number);
      assert.ok(base > 0 && ours <= IDLE_RATIO * base, `qga-ts ${ours} kB, idle node ${base} kB (${(ours / base).toFixed(3)}×)`);
    } finally {
      node.kill();
      await agent.stop();
      agent.cleanup();
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });

  it('holds a 16 MiB exec capture outside its RSS (the peak grows by less than the capture), and comes back within 30 s to at most 10 MB above its start', async () => {
    const agent = await Agent.start(QGA_TS);
    const pid = agent.child.pid as number;
    try {
      await new Promise((res) => setTimeout(res, 1500));
      const fresh = rssKiB(pid);
      const c = await LineClient.connect(agent.sock);
      const capture = async (bytes: number) => {
        const started = JSON.parse(await c.call(`{"execute":"guest-exec","arguments":{"path":"/bin/sh","arg":["-c","head -c ${bytes} /dev/zero"],"capture-output":true}}`));
        for (;;) {
          const line = await c.call(`{"execute":"guest-exec-status","arguments":{"pid":${started.return.pid}}}`);
          if (line.includes('"exited": true')) {
            assert.ok(line.length > (bytes / 3) * 4 && line.includes('"out-truncated": false'), 'the whole capture came back');
            return;
          }
          await new Promise((res) => setTimeout(res, 50));
        }
      };
      // A small capture first: the code of the exec path is loaded and compiled once, whatever the size.
      await capture(256 * 1024);
      const warm = rssKiB(pid);
      let peak = warm;
      const sampler = setInterval(() => (peak = Math.max(peak, rssKiB(pid))), 10);
      for (let i = 0; i < 2; i++) await capture(16 * MiB);
      clearInterval(sampler);
      peak = Math.max(peak, rssKiB(pid));
      c.close();
      // The bytes live in a memfd and the reply is encoded from it piece by piece: what the peak adds
      // (6-11 MiB measured on Node 18 to 22) is less than the capture, which alone would add 16 MiB.
      assert.ok(peak < warm + 16 * 1024, `warmed up ${warm} kB, peak ${peak} kB during the captures`);
      let now = rssKiB(pid);
      for (let s = 0; s < 30 && now > fresh + 10 * 1024; s++) {
        await new Promise((res) => setTimeout(res, 1000));
        now = rssKiB(pid);
      }
      assert.ok(now <= fresh + 10 * 1024, `start ${fresh} kB, peak ${peak} kB, 30 s later ${now} kB`);
    } finally {
      await agent.stop();
      agent.cleanup();
    }
  });
});
