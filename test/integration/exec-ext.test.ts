// The exec fixes and extensions through a real agent on a unix socket: the background-child
// case of issue 13, exec-allow's refusal on the wire, exec-audit in the log file, -b on an extension.
import { describe, it } from 'node:test';
import * as assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { Agent, QGA_TS, type RawClient } from '../support/agent.ts';

async function call(c: RawClient, request: string): Promise<string> {
  c.send(request);
  const [line] = await c.lines(1);
  return line;
}

async function withAgent(args: string[], fn: (c: RawClient, agent: Agent) => Promise<void>): Promise<void> {
  const agent = await Agent.start(QGA_TS, { args });
  try {
    const c = await agent.connect();
    try {
      await fn(c, agent);
    } finally {
      c.close();
    }
  } finally {
    await agent.stop();
    agent.cleanup();
  }
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
