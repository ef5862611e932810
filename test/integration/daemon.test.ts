// The daemon as a process: -d with its pidfile, -c config files, -r retrying a channel, -l log
// files, the persistent handle counter across restarts, and isa-serial on a pseudo-terminal.
import { describe, it } from 'node:test';
import * as assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { Agent, QEMU_GA, QGA_TS, RawClient, haveQemuGa } from '../support/agent.ts';
import { ffi } from '../../src/platform/linux/ffi.ts';

const tmp = () => fs.mkdtempSync(path.join(os.tmpdir(), 'qga-daemon-'));

async function waitFor<T>(what: string, probe: () => T | undefined | Promise<T | undefined>, ms = 10_000): Promise<T> {
  const deadline = Date.now() + ms;
  for (;;) {
    try {
      const v = await probe();
      if (v !== undefined) return v;
    } catch {
      // not yet
    }
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

async function ping(sock: string): Promise<string> {
  const c = await RawClient.connect(sock);
  try {
    c.send('{"execute":"guest-ping"}');
    return (await c.lines(1))[0];
  } finally {
    c.close();
  }
}

describe('daemon', () => {
  it('-d detaches, writes a locked pidfile, serves, and removes the pidfile on SIGTERM', async () => {
    const dir = tmp();
    const pidfile = path.join(dir, 'qga.pid');
    const sock = path.join(dir, 's');
    const r = spawnSync(QGA_TS[0], [QGA_TS[1], '-d', '-f', pidfile, '-m', 'unix-listen', '-p', sock, '-t', dir], { encoding: 'utf8', timeout: 10_000 });
    assert.equal(r.status, 0, r.stderr);
    const pid = Number(fs.readFileSync(pidfile, 'utf8'));
    assert.equal(fs.readFileSync(pidfile, 'utf8'), `${pid}\n`);
    assert.equal(fs.statSync(pidfile).mode & 0o777, 0o600);
    assert.equal(await ping(sock), '{"return": {}}');
    // A second daemon on the same pidfile must fail: the lock is held.
    const second = spawnSync(QGA_TS[0], [QGA_TS[1], '-d', '-f', pidfile, '-m', 'unix-listen', '-p', path.join(dir, 's2'), '-t', dir], { encoding: 'utf8', timeout: 10_000 });
    assert.equal(second.status, 1);
    assert.match(second.stderr, /Cannot lock pid file/);
    process.kill(pid, 'SIGTERM');
    await waitFor('pidfile removal', () => (fs.existsSync(pidfile) ? undefined : true));
    fs.rmSync(dir, { recursive: true, force: true });
  });

  it('reads its settings from -c and logs to -l in qemu-ga format', async () => {
    const dir = tmp();
    const conf = path.join(dir, 'qga.conf');
    const log = path.join(dir, 'agent.log');
    fs.writeFileSync(conf, `[general]\nmethod=unix-listen\npath=${dir}/s\nstatedir=${dir}\nlogfile=${log}\nverbose=true\nblock-rpcs=guest-get-time\n`);
    const child = spawn(QGA_TS[0], [QGA_TS[1], '-c', conf], { stdio: 'ignore' });
    try {
      await waitFor('socket', () => (fs.existsSync(`${dir}/s`) ? true : undefined));
      assert.equal(await ping(`${dir}/s`), '{"return": {}}');
      const c = await RawClient.connect(`${dir}/s`);
      c.send('{"execute":"guest-get-time"}');
      assert.match((await c.lines(1))[0], /Command guest-get-time has been disabled/);
      c.close();
      const text = await waitFor('log lines', () => {
        const t = fs.readFileSync(log, 'utf8');
        return t.includes('read data') ? t : undefined;
      });
      assert.match(text, /^\d+\.\d{6}: debug: /m);
    } finally {
      child.kill('SIGTERM');
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });

  it('-r retries a channel that cannot be opened yet', async () => {
    const dir = tmp();
    const sub = path.join(dir, 'later');
    const child = spawn(QGA_TS[0], [QGA_TS[1], '-r', '-m', 'unix-listen', '-p', `${sub}/s`, '-t', dir], { stdio: ['ignore', 'ignore', 'pipe'] });
    let stderr = '';
    child.stderr.on('data', (d: Buffer) => (stderr += d));
    try {
      await waitFor('the first failure', () => (stderr.includes('Failed to bind socket') ? true : undefined));
      assert.equal(child.exitCode, null, 'still running');
      fs.mkdirSync(sub);
      assert.equal(await waitFor('retry', () => ping(`${sub}/s`), 15_000), '{"return": {}}');
    } finally {
      child.kill('SIGTERM');
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });

  it('never reuses a file handle across restarts', async () => {
    const dir = tmp();
    fs.writeFileSync(path.join(dir, 'f'), 'x');
    const open = async (agent: Agent) => {
      const c = await agent.connect();
      c.send(`{"execute":"guest-file-open","arguments":{"path":"${dir}/f"}}`);
      const [line] = await c.lines(1);
      c.close();
      return line;
    };
    let agent = await Agent.start(QGA_TS, { dir });
    assert.equal(await open(agent), '{"return": 1000}');
    assert.equal(await open(agent), '{"return": 1001}');
    await agent.stop();
    agent = await Agent.start(QGA_TS, { dir });
    assert.equal(await open(agent), '{"return": 1002}');
    assert.equal(fs.readFileSync(path.join(dir, 'qga.state'), 'utf8'), '[global]\nfd_counter=1003\n');
    await agent.stop();
    agent.cleanup();
  });
});

describe('isa-serial on a pseudo-terminal', () => {
  it('answers over a raw tty', async () => {
    const { libc } = ffi();
    const openpt = libc.func('int posix_openpt(int)');
    const grantpt = libc.func('int grantpt(int)');
    const unlockpt = libc.func('int unlockpt(int)');
    const ptsname = libc.func('int ptsname_r(int, _Out_ char *buf, size_t len)');
    const master = openpt(fs.constants.O_RDWR | fs.constants.O_NOCTTY);
    assert.ok(master >= 0);
    assert.equal(grantpt(master), 0);
    assert.equal(unlockpt(master), 0);
    const name = Buffer.alloc(64);
    assert.equal(ptsname(master, name, name.length), 0);
    const slave = name.toString('latin1', 0, name.indexOf(0));
    const dir = tmp();
    const child = spawn(QGA_TS[0], [QGA_TS[1], '-m', 'isa-serial', '-p', slave, '-t', dir], { stdio: 'ignore' });
    try {
      await waitFor('state file', () => (fs.existsSync(path.join(dir, 'qga.state')) ? true : undefined));
      await new Promise((r) => setTimeout(r, 200));
      fs.writeSync(master, '{"execute":"guest-sync","arguments":{"id":9223372036854775807}}');
      const buf = Buffer.alloc(4096);
      let got = '';
      await waitFor('reply', async () => {
        const n = await new Promise<number>((res, rej) => fs.read(master, buf, 0, buf.length, null, (e, k) => (e ? rej(e) : res(k))));
        got += buf.toString('latin1', 0, n);
        return got.includes('\n') ? true : undefined;
      });
      // Raw mode: no CR added to the reply's LF, no echo of the request.
      assert.equal(got, '{"return": 9223372036854775807}\n');
      // A pool thread sits in a blocking read() of the tty: SIGTERM must still end the agent, with 0.
      const exited = new Promise<number | null>((r) => child.once('exit', (code) => r(code)));
      child.kill('SIGTERM');
      assert.equal(await Promise.race([exited, new Promise((r) => setTimeout(() => r('still running'), 5000))]), 0);
    } finally {
      child.kill('SIGKILL');
      fs.closeSync(master);
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('vsock-listen', () => {
  const run = (p: string) => spawnSync(QGA_TS[0], [QGA_TS[1], '-m', 'vsock-listen', '-p', p, '-t', os.tmpdir()], { encoding: 'utf8', timeout: 10_000 });

  it('rejects a malformed address with qemu-ga text', () => {
    const r = run('not-an-address');
    assert.equal(r.status, 1);
    assert.match(r.stderr, /critical: error parsing address 'not-an-address'\n.*critical: failed to create guest agent channel\n/);
  });

  // A host CID is not ours to bind inside a guest or a container: bind fails, with qemu-ga's lines.
  it('reports a failed bind exactly like qemu-ga', { skip: haveQemuGa ? false : 'qemu-ga is not installed' }, () => {
    const dir = tmp();
    const ref = spawnSync(QEMU_GA, ['-m', 'vsock-listen', '-p', '2:5555', '-t', dir, '-f', `${dir}/pid`], { encoding: 'utf8', timeout: 10_000 });
    const r = run('2:5555');
    const strip = (t: string) => t.replace(/^\d+\.\d{6}: /gm, '');
    assert.equal(r.status, ref.status);
    assert.equal(strip(r.stderr), strip(ref.stderr));
    assert.match(r.stderr, /Failed to bind socket: /);
    fs.rmSync(dir, { recursive: true, force: true });
  });
});

describe('unix-listen: a socket path that cannot be bound', () => {
  const start = (cmd: readonly string[], p: string, dir: string) =>
    spawnSync(cmd[0], [...cmd.slice(1), '-m', 'unix-listen', '-p', p, '-t', dir, ...(cmd[0] === QEMU_GA ? ['-f', `${dir}/pid`] : [])], {
      encoding: 'utf8',
      timeout: 10_000,
    });
  const strip = (t: string) => t.replace(/^\d+\.\d{6}: /gm, '');

  it('a missing directory: No such file or directory (libuv says EACCES)', () => {
    const dir = tmp();
    const p = path.join(dir, 'missing', 'qga.sock');
    const r = start(QGA_TS, p, dir);
    assert.equal(r.status, 1);
    assert.equal(
      strip(r.stderr),
      `critical: Failed to bind socket to ${p}: No such file or directory\ncritical: failed to create guest agent channel\ncritical: failed to initialize guest agent channel\n`,
    );
    fs.rmSync(dir, { recursive: true, force: true });
  });

  it('the same lines as qemu-ga: missing directory, a file or a directory on the way, unlink refused', { skip: haveQemuGa ? false : 'qemu-ga is not installed' }, () => {
    const dir = tmp();
    fs.writeFileSync(path.join(dir, 'afile'), '');
    fs.mkdirSync(path.join(dir, 'adir'));
    for (const p of [path.join(dir, 'missing', 'qga.sock'), path.join(dir, 'afile', 'qga.sock'), path.join(dir, 'adir')]) {
      const ours = start(QGA_TS, p, dir);
      const ref = start([QEMU_GA], p, dir);
      assert.equal(ours.status, ref.status, p);
      assert.equal(strip(ours.stderr), strip(ref.stderr), p);
    }
    fs.rmSync(dir, { recursive: true, force: true });
  });
});

// A broken install, reproduced: the built agent copied next to a koffi that cannot load (or none).
describe('koffi that cannot be loaded', () => {
  const DIST = path.join(path.dirname(QGA_TS[1]));
  function install(koffiIndex: string | null): string {
    const dir = tmp();
    fs.cpSync(DIST, path.join(dir, 'dist'), { recursive: true });
    if (koffiIndex !== null) {
      fs.mkdirSync(path.join(dir, 'node_modules', 'koffi'), { recursive: true });
      fs.writeFileSync(path.join(dir, 'node_modules', 'koffi', 'package.json'), '{ "name": "koffi", "version": "3.3.4", "main": "index.js" }\n');
      fs.writeFileSync(path.join(dir, 'node_modules', 'koffi', 'index.js'), koffiIndex);
    }
    return dir;
  }
  const run = (dir: string) =>
    spawnSync(process.execPath, [path.join(dir, 'dist', 'main.js'), '-m', 'unix-listen', '-p', path.join(dir, 'qga.sock'), '-t', dir], { encoding: 'utf8', timeout: 10_000 });
  const strip = (t: string) => t.replace(/^\d+\.\d{6}: /gm, '');

  it('a koffi whose native module is missing: a clear error at startup, exit 1, no socket', () => {
    const dir = install('throw new Error("Cannot find the native Koffi module; did you bundle it correctly?");\n');
    const r = run(dir);
    assert.equal(r.status, 1);
    assert.equal(
      strip(r.stderr),
      'critical: cannot load koffi, the module qga-ts calls libc through: Cannot find the native Koffi module; did you bundle it correctly?\n' +
        'critical: error initializing guest agent\n',
    );
    assert.equal(fs.existsSync(path.join(dir, 'qga.sock')), false, 'the channel was never opened');
    fs.rmSync(dir, { recursive: true, force: true });
  });

  it('no koffi at all: the first line of the loader message, not its require stack', () => {
    const dir = install(null);
    const r = run(dir);
    assert.equal(r.status, 1);
    assert.equal(strip(r.stderr), "critical: cannot load koffi, the module qga-ts calls libc through: Cannot find module 'koffi'\ncritical: error initializing guest agent\n");
    fs.rmSync(dir, { recursive: true, force: true });
  });
});
