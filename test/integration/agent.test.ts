// qga-ts as a process on a unix socket: the first commands, filters, connection rules, state and exit.
import { after, before, describe, it } from 'node:test';
import * as assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { spawnSync } from 'node:child_process';
import { Agent, QGA_TS, RawClient } from '../support/agent.ts';
import { hostRealtimeNs } from '../support/realtime.ts';

const REGISTRATION_ORDER = [
  'guest-sync-delimited', 'guest-sync', 'guest-ping', 'guest-get-time', 'guest-set-time', 'guest-info',
  'guest-shutdown', 'guest-file-open', 'guest-file-close', 'guest-file-read', 'guest-file-write',
  'guest-file-seek', 'guest-file-flush', 'guest-fsfreeze-status', 'guest-fsfreeze-freeze',
  'guest-fsfreeze-freeze-list', 'guest-fsfreeze-thaw', 'guest-fstrim', 'guest-suspend-disk',
  'guest-suspend-ram', 'guest-suspend-hybrid', 'guest-network-get-interfaces', 'guest-get-vcpus',
  'guest-set-vcpus', 'guest-get-disks', 'guest-get-fsinfo', 'guest-set-user-password',
  'guest-get-memory-blocks', 'guest-set-memory-blocks', 'guest-get-memory-block-info',
  'guest-exec-status', 'guest-exec', 'guest-get-host-name', 'guest-get-users', 'guest-get-timezone',
  'guest-get-osinfo', 'guest-ssh-get-authorized-keys', 'guest-ssh-add-authorized-keys',
  'guest-ssh-remove-authorized-keys', 'guest-get-diskstats', 'guest-get-cpustats', 'guest-get-load',
  'guest-network-get-route',
];
const NO_SUCCESS_RESPONSE = new Set(['guest-shutdown', 'guest-suspend-disk', 'guest-suspend-ram', 'guest-suspend-hybrid']);

async function call(c: RawClient, request: string): Promise<string> {
  c.send(request);
  const [line] = await c.lines(1);
  return line;
}

describe('qga-ts on a unix socket', () => {
  let agent: Agent;
  before(async () => {
    agent = await Agent.start(QGA_TS);
  });
  after(async () => {
    assert.equal(await agent.stop(), 0, 'SIGTERM exits 0');
    agent.cleanup();
  });

  it('answers guest-ping and echoes ids', async () => {
    const c = await agent.connect();
    assert.equal(await call(c, '{"execute":"guest-ping"}'), '{"return": {}}');
    assert.equal(await call(c, '{"execute":"guest-ping","id":{"b":[1,2.5]}}'), '{"return": {}, "id": {"b": [1, 2.5]}}');
    c.close();
  });

  it('echoes 63-bit sync ids exactly, and delimits sync-delimited with 0xFF', async () => {
    const c = await agent.connect();
    assert.equal(await call(c, '{"execute":"guest-sync","arguments":{"id":9007199254740993}}'), '{"return": 9007199254740993}');
    c.send('{"execute":"guest-sync-delimited","arguments":{"id":8070450532247928833}}');
    const raw = await c.waitFor((b) => b.includes(10));
    assert.equal(raw.toString('latin1'), '\xff{"return": 8070450532247928833}\n');
    c.close();
  });

  it('lists all 43 commands in guest-info, newest first, after the qga-ts extensions, with exactly three members each', async () => {
    const c = await agent.connect();
    const info = JSON.parse(await call(c, '{"execute":"guest-info"}')).return;
    assert.equal(info.version, '10.2.0');
    const names: string[] = info.supported_commands.map((x: { name: string }) => x.name);
    // Extensions come last in the schema, so first here; qemu-ga's 43 follow in its order.
    const ext = names.findIndex((n) => !n.startsWith('__io.qga-ts_'));
    assert.deepEqual(names.slice(ext), [...REGISTRATION_ORDER].reverse());
    assert.ok(ext > 0 && names.slice(0, ext).every((n) => n.startsWith('__io.qga-ts_')), names.join(' '));
    for (const entry of info.supported_commands) {
      assert.deepEqual(Object.keys(entry), ['enabled', 'name', 'success-response']);
      assert.equal(entry.enabled, true);
      assert.equal(entry['success-response'], !NO_SUCCESS_RESPONSE.has(entry.name));
    }
    c.close();
  });

  it('returns the time in nanoseconds, close to the host clock', async () => {
    const c = await agent.connect();
    const line = await call(c, '{"execute":"guest-get-time"}');
    const ns = BigInt(/"return": (\d+)/.exec(line)![1]);
    assert.equal(ns % 1000n, 0n, 'built from a microsecond clock');
    const diffMs = Number(ns / 1_000_000n) - Date.now();
    assert.ok(Math.abs(diffMs) < 2000, `clock differs by ${diffMs} ms`);
    c.close();
  });

  it('reads CLOCK_REALTIME at the call: never before a host read taken before the request, microsecond precision', async () => {
    const c = await agent.connect();
    const values: bigint[] = [];
    for (let i = 0; i < 20; i++) {
      const before = (hostRealtimeNs() / 1000n) * 1000n;
      const ns = BigInt(/"return": (\d+)/.exec(await call(c, '{"execute":"guest-get-time"}'))![1]);
      const after = hostRealtimeNs();
      assert.ok(before <= ns && ns <= after, `call ${i}: ${before} <= ${ns} <= ${after}`);
      values.push(ns);
    }
    assert.ok(values.some((ns) => ns % 1_000_000n !== 0n), 'not whole milliseconds');
    c.close();
  });

  it('answers the load averages as sysinfo() gives them', async () => {
    const c = await agent.connect();
    const line = await call(c, '{"execute":"guest-get-load"}');
    assert.match(line, /^\{"return": \{"load15m": [0-9.e+-]+, "load5m": [0-9.e+-]+, "load1m": [0-9.e+-]+\}\}$/);
    const loads = JSON.parse(line).return;
    for (const v of Object.values(loads) as number[]) assert.equal((v * 65536) % 1, 0, 'a multiple of 1/65536');
    c.close();
  });

  it('keeps a partial request across client connections', async () => {
    const a = await agent.connect();
    a.send('{"execute":');
    await new Promise((r) => setTimeout(r, 50));
    a.close();
    await new Promise((r) => setTimeout(r, 50));
    const b = await agent.connect();
    assert.equal(await call(b, '"guest-ping"}'), '{"return": {}}');
    b.close();
  });

  it('serves one client at a time; the next one is served after the first leaves', async () => {
    const first = await agent.connect();
    const second = await agent.connect();
    second.send('{"execute":"guest-sync","arguments":{"id":2}}');
    assert.equal(await call(first, '{"execute":"guest-sync","arguments":{"id":1}}'), '{"return": 1}');
    const early = await second.waitFor((b) => b.length > 0, 200);
    assert.equal(early.length, 0, 'the second client waits');
    first.close();
    assert.deepEqual(await second.lines(1), ['{"return": 2}']);
    second.close();
  });

  it('still answers after a client vanishes mid-reply', async () => {
    const a = await agent.connect();
    a.send(`{"execute":"guest-ping","id":"${'y'.repeat(1 << 20)}"}`);
    a.close();
    const b = await agent.connect();
    await b.resync();
    assert.equal(await call(b, '{"execute":"guest-ping"}'), '{"return": {}}');
    b.close();
  });

  it('creates the state file with the fd counter', () => {
    assert.equal(fs.readFileSync(path.join(agent.dir, 'qga.state'), 'utf8'), '[global]\nfd_counter=1000\n');
  });
});

describe('command filters', () => {
  it('-b disables the listed commands with the 10.2 text and reports them in guest-info', async () => {
    const agent = await Agent.start(QGA_TS, { args: ['-b', 'guest-ping,guest-get-time'] });
    try {
      const c = await agent.connect();
      assert.equal(
        await call(c, '{"execute":"guest-ping","id":1}'),
        '{"id": 1, "error": {"class": "CommandNotFound", "desc": "Command guest-ping has been disabled: the command is not allowed"}}',
      );
      assert.match(await call(c, '{"execute":"guest-get-time","arguments":{"bogus":1}}'), /has been disabled/);
      const info = JSON.parse(await call(c, '{"execute":"guest-info"}')).return;
      const enabled = Object.fromEntries(info.supported_commands.map((x: { name: string; enabled: boolean }) => [x.name, x.enabled]));
      assert.equal(enabled['guest-ping'], false);
      assert.equal(enabled['guest-get-time'], false);
      assert.equal(enabled['guest-sync'], true);
      c.close();
    } finally {
      await agent.stop();
      agent.cleanup();
    }
  });

  it('-a allows only the listed commands', async () => {
    const agent = await Agent.start(QGA_TS, { args: ['-a', 'guest-ping,guest-get-time'] });
    try {
      const c = await agent.connect();
      assert.equal(await call(c, '{"execute":"guest-ping"}'), '{"return": {}}');
      assert.match(await call(c, '{"execute":"guest-sync","arguments":{"id":1}}'), /Command guest-sync has been disabled: the command is not allowed/);
      c.close();
    } finally {
      await agent.stop();
      agent.cleanup();
    }
  });
});

describe('daemon command line', () => {
  const run = (args: string[], env: NodeJS.ProcessEnv = {}) =>
    spawnSync(QGA_TS[0], [QGA_TS[1], ...args], { encoding: 'utf8', env: { PATH: process.env.PATH, ...env } });

  it('-V prints the emulated version', () => {
    const r = run(['-V']);
    assert.equal(r.status, 0);
    assert.equal(r.stdout, 'QEMU Guest Agent 10.2.0\n');
  });

  it('-D dumps the effective configuration', () => {
    const r = run(['-D', '-b', 'a,b,c', '-b', 'd'], { QGA_CONF: '/nonexistent/qga.conf' });
    assert.equal(r.status, 0);
    assert.equal(
      r.stdout,
      '[general]\ndaemon=false\nmethod=virtio-serial\npath=/dev/virtio-ports/org.qemu.guest_agent.0\npidfile=/var/run/qemu-ga.pid\nstatedir=/var/run\nverbose=false\nretry-path=false\nblock-rpcs=c,b,a,d\nallow-rpcs=\n',
    );
  });

  it('-b help lists the commands in registration order, the qga-ts extensions last', () => {
    const r = run(['-b', 'help']);
    assert.equal(r.status, 0);
    const names = r.stdout.split('\n');
    assert.equal(names.pop(), '');
    assert.deepEqual(names.slice(0, REGISTRATION_ORDER.length), REGISTRATION_ORDER);
    assert.ok(names.slice(REGISTRATION_ORDER.length).every((n) => n.startsWith('__io.qga-ts_')), r.stdout);
  });

  it('fails with qemu-ga texts on a bad channel', () => {
    const r = run(['-m', 'unix-listen', '-t', '/tmp']);
    assert.equal(r.status, 1);
    assert.match(r.stderr, /must specify a path for this channel/);
    const dir = fs.mkdtempSync('/tmp/qga-test-');
    const bad = run(['-m', 'bogus', '-p', 'x', '-t', dir]);
    assert.equal(bad.status, 1);
    assert.match(bad.stderr, /unsupported channel method\/type: bogus/);
    fs.rmSync(dir, { recursive: true, force: true });
  });
});
