// The qga-ts extensions through a running agent (docs/extensions.md): each is off by default and
// turned on by its option.
import { describe, it } from 'node:test';
import * as assert from 'node:assert/strict';
import { Agent, QGA_TS, type RawClient } from '../support/agent.ts';

async function call(c: RawClient, request: string): Promise<string> {
  c.send(request);
  const [line] = await c.lines(1);
  return line;
}

async function withAgent(args: string[], body: (agent: Agent) => Promise<void>): Promise<void> {
  const agent = await Agent.start(QGA_TS, { args });
  try {
    await body(agent);
  } finally {
    await agent.stop();
    agent.cleanup();
  }
}

const interfaceNames = async (c: RawClient): Promise<string[]> =>
  JSON.parse(await call(c, '{"execute":"guest-network-get-interfaces"}')).return.map((i: { name: string }) => i.name);

describe('exclude-interfaces', () => {
  it('leaves the matching interfaces out of guest-network-get-interfaces', async () => {
    let all: string[] = [];
    await withAgent([], async (agent) => {
      const c = await agent.connect();
      all = await interfaceNames(c);
      c.close();
    });
    assert.ok(all.includes('lo'));
    await withAgent(['--exclude-interfaces=l?,nomatch*'], async (agent) => {
      const c = await agent.connect();
      assert.deepEqual(await interfaceNames(c), all.filter((n) => n !== 'lo'));
      c.close();
    });
  });
});

describe('file stat and directory listing', () => {
  it('are listed in guest-info, answer on the wire, and -b blocks them', async () => {
    await withAgent(['-b', '__io.qga-ts_guest-dir-list'], async (agent) => {
      const c = await agent.connect();
      const info = JSON.parse(await call(c, '{"execute":"guest-info"}')).return;
      const enabled = Object.fromEntries(info.supported_commands.map((x: { name: string; enabled: boolean }) => [x.name, x.enabled]));
      assert.equal(enabled['__io.qga-ts_guest-file-stat'], true);
      assert.equal(enabled['__io.qga-ts_guest-dir-list'], false);
      assert.equal(
        await call(c, '{"execute":"__io.qga-ts_guest-dir-list","arguments":{"path":"/"}}'),
        '{"error": {"class": "CommandNotFound", "desc": "Command __io.qga-ts_guest-dir-list has been disabled: the command is not allowed"}}',
      );
      const st = JSON.parse(await call(c, `{"execute":"__io.qga-ts_guest-file-stat","arguments":{"path":"${agent.sock}"}}`)).return;
      assert.equal(st.type, 'socket');
      assert.match(await call(c, '{"execute":"__io.qga-ts_guest-file-stat","arguments":{"path":"/", "bogus": 1}}'), /Parameter 'bogus' is unexpected/);
      c.close();
    });
  });
});
