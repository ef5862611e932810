// The qga-ts extensions through a running agent (docs/extensions.md): each is off by default and
// turned on by its option.
import { describe, it } from 'node:test';
import * as assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { Agent, QEMU_GA, QGA_TS, REPO, haveQemuGa, type RawClient } from '../support/agent.ts';

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

describe('qga-client ls and stat', () => {
  const runClient = (args: string[]) =>
    new Promise<{ code: number | null; stdout: string; stderr: string }>((resolve, reject) => {
      const child = spawn(process.execPath, [path.join(REPO, 'dist/client.js'), ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
      let stdout = '';
      let stderr = '';
      child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
      child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
      child.on('error', reject);
      child.on('close', (code) => resolve({ code, stdout, stderr }));
    });

  it('list a directory over several pages, long form, and stat a file and a link', async () => {
    await withAgent([], async (agent) => {
      const dir = path.join(agent.dir, 'tree');
      fs.mkdirSync(dir);
      for (let i = 0; i < 7; i++) fs.writeFileSync(path.join(dir, `n${i}`), 'x'.repeat(i));
      fs.writeFileSync(path.join(dir, '.hidden'), '');
      fs.chmodSync(path.join(dir, 'n3'), 0o4750);
      fs.symlinkSync('n3', path.join(dir, 'to-n3'));
      const short = await runClient(['--socket', agent.sock, 'ls', '--page', '3', dir]);
      assert.deepEqual([short.code, short.stderr], [0, '']);
      assert.equal(short.stdout, 'n0\nn1\nn2\nn3\nn4\nn5\nn6\nto-n3\n');
      const all = await runClient(['--socket', agent.sock, 'ls', '-a', dir]);
      assert.equal(all.stdout.split('\n')[0], '.hidden');
      const long = await runClient(['--socket', agent.sock, 'ls', '-l', dir]);
      assert.match(long.stdout, /^-rwsr-x---\s+1\s+\d+\s+\d+\s+3\s+\d{4}-\d\d-\d\d \d\d:\d\d:\d\d\s+n3$/m);
      assert.match(long.stdout, /^l[rwx-]{9}\s.*\s+to-n3 -> n3$/m);
      const json = await runClient(['--socket', agent.sock, '--json', 'ls', '--page', '2', dir]);
      assert.equal(JSON.parse(json.stdout).length, 9);
      const st = await runClient(['--socket', agent.sock, 'stat', path.join(dir, 'to-n3')]);
      assert.match(st.stdout, /^ {2}File: .*to-n3 -> n3\n {2}Type: symlink\n/);
      const deref = await runClient(['--socket', agent.sock, 'stat', '-L', path.join(dir, 'to-n3')]);
      assert.match(deref.stdout, /Type: file\n {2}Size: 3 \(3 B\)\n {2}Mode: 4750 \(-rwsr-x---\)\n/);
      const missing = await runClient(['--socket', agent.sock, 'stat', path.join(dir, 'nope')]);
      assert.deepEqual([missing.code, missing.stderr], [1, `qga-client: __io.qga-ts_guest-file-stat: failed to stat '${dir}/nope': No such file or directory\n`]);
      const relative = await runClient(['--socket', agent.sock, 'ls', 'tree']);
      assert.equal(relative.code, 2);
      assert.match(relative.stderr, /'tree' is not an absolute path/);
    });
  });

  it('against qemu-ga: says in words that the agent lacks the extension', { skip: !haveQemuGa && 'qemu-ga is not installed' }, async () => {
    const agent = await Agent.start([QEMU_GA]);
    try {
      const r = await runClient(['--socket', agent.sock, 'ls', '/']);
      assert.equal(r.code, 1);
      assert.match(r.stderr, /this agent has no __io\.qga-ts_guest-dir-list \(a qga-ts extension; qemu-ga does not list or stat files\)/);
    } finally {
      await agent.stop();
      agent.cleanup();
    }
  });
});
