// The exec fixes and extensions through a real agent on a unix socket: the background-child
// case of issue 13, exec-allow's refusal on the wire, exec-audit in the log file, -b on an extension.
import { describe, it } from 'node:test';
import * as assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { spawn } from 'node:child_process';
import { Agent, QEMU_GA, QGA_TS, REPO, haveQemuGa, type RawClient } from '../support/agent.ts';

const CLI = path.join(REPO, 'dist/client.js');

interface Timed {
  code: number | null;
  stdout: string;
  stderr: string;
  /** Milliseconds from the start to each piece of standard output. */
  pieces: { ms: number; text: string }[];
}

/** Runs qga-client, noting when each piece of its standard output arrives. */
function timedCli(sock: string, args: string[]): Promise<Timed> {
  return new Promise((resolve, reject) => {
    const t0 = Date.now();
    const child = spawn(process.execPath, [CLI, '--socket', sock, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
    const pieces: { ms: number; text: string }[] = [];
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => pieces.push({ ms: Date.now() - t0, text: d.toString() }));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    child.on('error', reject);
    child.on('close', (code) => resolve({ code, stdout: pieces.map((p) => p.text).join(''), stderr, pieces }));
  });
}

async function call(c: RawClient, request: string): Promise<string> {
  c.send(request);
  const [line] = await c.lines(1);
  return line;
}

/** A qga-ts agent for the duration of `fn` (which may connect: one client at a time). */
async function withSocket(args: string[], fn: (agent: Agent) => Promise<void>): Promise<void> {
  const agent = await Agent.start(QGA_TS, { args });
  try {
    await fn(agent);
  } finally {
    await agent.stop();
    agent.cleanup();
  }
}

/** The same, with a raw connection open. */
function withAgent(args: string[], fn: (c: RawClient, agent: Agent) => Promise<void>): Promise<void> {
  return withSocket(args, async (agent) => {
    const c = await agent.connect();
    try {
      await fn(c, agent);
    } finally {
      c.close();
    }
  });
}

async function pollExited(c: RawClient, pid: string): Promise<string> {
  for (;;) {
    const st = await call(c, `{"execute":"guest-exec-status","arguments":{"pid":${pid}}}`);
    if (!st.includes('"exited": false')) return st;
    await new Promise((r) => setTimeout(r, 20));
  }
}

describe('exec through the agent', () => {
  it("sh -c 'sleep 30 & echo hi' with capture-output: exited with out-data hi\\n within 3 s", async () => {
    await withAgent([], async (c) => {
      const t0 = Date.now();
      const started = await call(c, '{"execute":"guest-exec","arguments":{"path":"/bin/sh","arg":["-c","sleep 30 & echo $! > bg.pid; echo hi"],"capture-output":true}}');
      const pid = /"pid": (\d+)/.exec(started)![1]!;
      assert.equal(await pollExited(c, pid), '{"return": {"exitcode": 0, "out-data": "aGkK", "out-truncated": false, "exited": true}}');
      assert.ok(Date.now() - t0 < 3000, `took ${Date.now() - t0} ms`);
    });
  });

  it('--exec-allow refuses anything else after the PATH search, as a GenericError saying what and why', async () => {
    await withAgent(['--exec-allow=/bin/sh'], async (c) => {
      assert.equal(
        await call(c, '{"execute":"guest-exec","arguments":{"path":"/usr/bin/id"}}'),
        '{"error": {"class": "GenericError", "desc": "guest-exec refused: /usr/bin/id is not in the agent\'s exec-allow list"}}',
      );
      const ok = await call(c, '{"execute":"guest-exec","arguments":{"path":"/bin/sh","arg":["-c","exit 5"]}}');
      assert.equal(await pollExited(c, /"pid": (\d+)/.exec(ok)![1]!), '{"return": {"exitcode": 5, "exited": true}}');
    });
  });

  it('--exec-audit with -l: start and end records in the log file without -v', async () => {
    let log = '';
    await withAgent(['--exec-audit', '-l', 'agent.log'], async (c, agent) => {
      const ok = await call(c, '{"execute":"guest-exec","arguments":{"path":"/bin/sh","arg":["-c","exit 5"]}}');
      const pid = /"pid": (\d+)/.exec(ok)![1]!;
      await pollExited(c, pid);
      log = fs.readFileSync(path.join(agent.dir, 'agent.log'), 'utf8');
      assert.match(log, new RegExp(`^\\d+\\.\\d{6}: message: guest-exec: pid ${pid} started: \\["/bin/sh","-c","exit 5"\\]$`, 'm'));
      assert.match(log, new RegExp(`^\\d+\\.\\d{6}: message: guest-exec: pid ${pid} exited with status 5 after \\d+\\.\\d{3} s: \\["/bin/sh","-c","exit 5"\\]$`, 'm'));
    });
    assert.doesNotMatch(log, /: (info|debug): /);
  });

  it('-b disables an extension like any command, and guest-info says so', async () => {
    await withAgent(['-b', '__io.qga-ts_guest-exec-output'], async (c) => {
      assert.equal(
        await call(c, '{"execute":"__io.qga-ts_guest-exec-output","arguments":{"pid":1,"stream":"stdout"}}'),
        '{"error": {"class": "CommandNotFound", "desc": "Command __io.qga-ts_guest-exec-output has been disabled: the command is not allowed"}}',
      );
      const info = JSON.parse(await call(c, '{"execute":"guest-info"}')).return;
      const enabled = Object.fromEntries(info.supported_commands.map((x: { name: string; enabled: boolean }) => [x.name, x.enabled]));
      assert.equal(enabled['__io.qga-ts_guest-exec-output'], false);
      assert.equal(enabled['__io.qga-ts_guest-exec-signal'], true);
    });
  });
});

describe('qga-client exec with the extensions, and without them (qemu-ga)', () => {
  it("exec -- /bin/sh -c 'echo a; sleep 3; echo b' prints a within 2 s, then b, and exits 0", async () => {
    await withSocket([], async (agent) => {
      const r = await timedCli(agent.sock, ['exec', '--', '/bin/sh', '-c', 'echo a; sleep 3; echo b']);
      assert.equal(r.code, 0, r.stderr);
      assert.equal(r.stdout, 'a\nb\n');
      assert.equal(r.pieces[0]!.text, 'a\n');
      assert.ok(r.pieces[0]!.ms < 2000, `a came after ${r.pieces[0]!.ms} ms`);
      assert.ok(r.pieces.at(-1)!.ms >= 3000, 'b came before the sleep ended');
    });
  });

  it('exec --timeout kills the whole process group, background children included, and exits 124', async () => {
    await withSocket([], async (agent) => {
      const r = await timedCli(agent.sock, ['exec', '--timeout', '1', '--', '/bin/sh', '-c', 'sleep 30 & echo $!; wait']);
      assert.equal(r.code, 124);
      assert.match(r.stderr, /^qga-client: the guest process \d+ ran longer than 1 s: its process group was killed\n$/);
      const bg = Number(r.stdout.trim());
      assert.ok(bg > 0, r.stdout);
      for (let i = 0; i < 200 && fs.existsSync(`/proc/${bg}`); i++) await new Promise((res) => setTimeout(res, 10));
      assert.equal(fs.existsSync(`/proc/${bg}`), false, 'the background sleep survived');
    });
  });

  it('exec uses plain guest-exec when guest-info or the extensions are blocked', async () => {
    for (const blocked of ['guest-info', '__io.qga-ts_guest-exec-output']) {
      await withSocket(['-b', blocked], async (agent) => {
        const r = await timedCli(agent.sock, ['exec', '--', '/bin/sh', '-c', 'echo a; sleep 1; echo b']);
        assert.equal(r.code, 0, r.stderr);
        assert.equal(r.stdout, 'a\nb\n');
        assert.ok(r.pieces[0]!.ms >= 1000, `${blocked} blocked: a came before the exit, so it was streamed`);
      });
    }
  });

  it('exec falls back to guest-exec-status polling against qemu-ga: the same output, at the end', { skip: haveQemuGa ? false : `${QEMU_GA} is not installed` }, async () => {
    const agent = await Agent.start([QEMU_GA]);
    try {
      const r = await timedCli(agent.sock, ['exec', '--', '/bin/sh', '-c', 'echo a; sleep 1; echo b >&2; exit 4']);
      assert.equal(r.code, 4);
      assert.equal(r.stdout, 'a\n');
      assert.equal(r.stderr, 'b\n');
      assert.ok(r.pieces[0]!.ms >= 1000, 'qemu-ga cannot stream: a comes with the exit status');
    } finally {
      await agent.stop();
      agent.cleanup();
    }
  });
});
