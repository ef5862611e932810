// The qga-client CLI against the fake agent: the verbs that change a guest (freeze, thaw,
// fstrim, shutdown, reboot, suspend, set-time through call) are tested here only, against
// recorded requests; also exit codes, error reporting, usage errors and help.

import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';
import { FakeAgent, type Handler } from './client-fake-agent.ts';

const REPO = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const CLI = path.join(REPO, 'src/client/cli.ts');

interface Run {
  code: number | null;
  stdout: string;
  stderr: string;
}

function runCli(args: string[], opts: { env?: NodeJS.ProcessEnv; input?: string } = {}): Promise<Run> {
  return new Promise((resolve, reject) => {
    const env = { ...process.env, ...opts.env };
    if (opts.env && 'QGA_CLIENT_ADDRESS' in opts.env && opts.env.QGA_CLIENT_ADDRESS === undefined) delete env.QGA_CLIENT_ADDRESS;
    const child = spawn(process.execPath, ['--import', 'tsx', CLI, ...args], { cwd: REPO, env, stdio: ['pipe', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    child.on('error', reject);
    child.on('close', (code) => resolve({ code, stdout, stderr }));
    child.stdin.end(opts.input ?? '');
  });
}

const UNSUPPORTED = 'this feature or command is not currently supported';

let agent: FakeAgent;
let handler: Handler = () => undefined;

before(async () => {
  agent = await FakeAgent.start((req, a) => handler(req, a));
});
after(async () => {
  await agent.stop();
});

/** Runs the CLI against the fake agent with `h` answering; returns the run and the requests (syncs left out). */
async function withAgent(h: Handler, args: string[], opts: { input?: string } = {}) {
  handler = h;
  const from = agent.requests.length;
  const run = await runCli(['--socket', agent.sock, ...args], opts);
  const requests = agent.requests.slice(from).filter((r) => r.command !== 'guest-sync-delimited');
  return { run, requests };
}

describe('qga-client: verbs that change the guest (fake agent only)', () => {
  it('freeze / freeze MOUNTPOINT... / thaw / frozen', async () => {
    let r = await withAgent((q) => (q.command === 'guest-fsfreeze-freeze' ? { return: 3n } : undefined), ['freeze']);
    assert.equal(r.run.code, 0, r.run.stderr);
    assert.equal(r.run.stdout, '3 filesystems frozen\n');
    assert.deepEqual(r.requests.map((q) => [q.command, q.args]), [['guest-fsfreeze-freeze', undefined]]);

    r = await withAgent((q) => (q.command === 'guest-fsfreeze-freeze-list' ? { return: 2n } : undefined), ['freeze', '/', '/var']);
    assert.equal(r.run.stdout, '2 filesystems frozen\n');
    assert.deepEqual(r.requests[0]!.args!.get('mountpoints'), ['/', '/var']);

    r = await withAgent((q) => (q.command === 'guest-fsfreeze-thaw' ? { return: 2n } : undefined), ['thaw']);
    assert.equal(r.run.stdout, '2 filesystems thawed\n');

    r = await withAgent((q) => (q.command === 'guest-fsfreeze-status' ? { return: 'frozen' } : undefined), ['frozen']);
    assert.equal(r.run.stdout, 'frozen\n');

    r = await withAgent((q) => (q.command === 'guest-fsfreeze-freeze' ? { return: 3n } : undefined), ['--json', 'freeze']);
    assert.equal(r.run.stdout, '3\n');
  });

  it('fstrim [--minimum]: exact integer argument, table and --json', async () => {
    const h: Handler = (q) =>
      q.command === 'guest-fstrim'
        ? { return: { paths: [{ path: '/', trimmed: 1048576n, minimum: 4096n }, { path: '/boot', error: 'trim not supported' }] } }
        : undefined;
    let r = await withAgent(h, ['fstrim', '--minimum', '4K']);
    assert.equal(r.run.code, 0, r.run.stderr);
    assert.equal(r.requests[0]!.args!.get('minimum'), 4096n);
    assert.match(r.run.stdout, /^PATH\s+TRIMMED\s+MINIMUM\s+ERROR\n\/\s+1\.0 MiB\s+4096\n\/boot\s+-\s+-\s+trim not supported\n$/);
    r = await withAgent(h, ['--json', 'fstrim']);
    assert.deepEqual(JSON.parse(r.run.stdout), { paths: [{ path: '/', trimmed: 1048576, minimum: 4096 }, { path: '/boot', error: 'trim not supported' }] });
    assert.equal(r.requests[0]!.args, undefined);
  });

  it('shutdown, shutdown --mode, reboot, suspend: no answer is success', async () => {
    let r = await withAgent((q) => (q.command === 'guest-shutdown' ? { none: true } : undefined), ['shutdown']);
    assert.equal(r.run.code, 0, r.run.stderr);
    assert.equal(r.run.stdout, '');
    assert.deepEqual(r.requests.map((q) => [q.command, q.args]), [['guest-shutdown', undefined]]);

    r = await withAgent((q) => (q.command === 'guest-shutdown' ? { close: true } : undefined), ['shutdown', '--mode', 'halt']);
    assert.equal(r.run.code, 0, r.run.stderr);
    assert.equal(r.requests[0]!.args!.get('mode'), 'halt');

    r = await withAgent((q) => (q.command === 'guest-shutdown' ? { close: true } : undefined), ['--json', 'reboot']);
    assert.equal(r.run.code, 0, r.run.stderr);
    assert.equal(r.run.stdout, '{}\n');
    assert.equal(r.requests[0]!.args!.get('mode'), 'reboot');

    r = await withAgent((q) => (q.command === 'guest-suspend-ram' ? { close: true } : undefined), ['suspend', 'ram']);
    assert.equal(r.run.code, 0, r.run.stderr);
    assert.deepEqual(r.requests.map((q) => q.command), ['guest-suspend-ram']);
  });

  it('shutdown that fails reports the error', async () => {
    const desc = 'mode is invalid (valid values are: halt|powerdown|reboot';
    const r = await withAgent((q) => (q.command === 'guest-shutdown' ? { error: { class: 'GenericError', desc } } : undefined), ['shutdown', '--mode', 'sleep']);
    assert.equal(r.run.code, 1);
    assert.equal(r.run.stderr, `qga-client: guest-shutdown: ${desc}\n`);
  });

  it('call sends exact integers (guest-set-time with a time beyond 2^53)', async () => {
    const r = await withAgent((q) => (q.command === 'guest-set-time' ? { return: {} } : undefined), ['call', 'guest-set-time', '{"time": 1795599553948000123}']);
    assert.equal(r.run.code, 0, r.run.stderr);
    assert.equal(r.run.stdout, '{}\n');
    assert.equal(r.requests[0]!.args!.get('time'), 1795599553948000123n);
  });
});

describe('qga-client: errors', () => {
  it('an unsupported command: exit 1, the desc on stderr, nothing on stdout', async () => {
    const h: Handler = (q) => (q.command.startsWith('guest-fs') || q.command === 'guest-fstrim' ? { error: { class: 'GenericError', desc: UNSUPPORTED } } : undefined);
    for (const verb of [['fstrim'], ['freeze'], ['thaw'], ['frozen'], ['--json', 'fstrim']]) {
      const r = await withAgent(h, verb);
      assert.equal(r.run.code, 1, verb.join(' '));
      assert.equal(r.run.stdout, '');
      assert.match(r.run.stderr, new RegExp(`^qga-client: guest-[a-z-]+: ${UNSUPPORTED}\\n$`));
    }
  });

  it('an unknown command through call', async () => {
    const r = await withAgent(() => undefined, ['call', 'guest-nope']);
    assert.equal(r.run.code, 1);
    assert.equal(r.run.stderr, 'qga-client: guest-nope: The command guest-nope has not been found\n');
  });

  it('a timeout: exit 1 with the command and the time', async () => {
    const r = await withAgent((q) => (q.command === 'guest-get-osinfo' ? [{ delay: 600 }, { return: {} }] : undefined), ['--timeout', '0.2', 'osinfo']);
    assert.equal(r.run.code, 1);
    assert.match(r.run.stderr, /^qga-client: guest-get-osinfo: no answer within 0\.2 s \(is the agent still running in the guest\? .*longer --timeout\)\n$/);
  });

  it('no socket: exit 2; an absent socket: exit 1', async () => {
    let r = await runCli(['ping'], { env: { QGA_CLIENT_ADDRESS: undefined } });
    assert.equal(r.code, 2);
    assert.match(r.stderr, /no agent socket: give --socket PATH or set QGA_CLIENT_ADDRESS/);
    r = await runCli(['--socket', '/nonexistent/x.sock', 'ping']);
    assert.equal(r.code, 1);
    assert.match(r.stderr, /^qga-client: no agent socket at \/nonexistent\/x.sock \(is the agent running\? /);
    assert.doesNotMatch(r.stderr, /ENOENT/);
  });

  it('connection failures say what is wrong and what to try, without raw codes', async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'qga-cli-'));
    try {
      let r = await runCli(['ping', '--socket', dir]);
      assert.equal(r.code, 1);
      assert.equal(r.stderr, `qga-client: ${dir} is a directory, not a socket (give the agent's socket with --socket)\n`);
      const file = path.join(dir, 'file');
      fs.writeFileSync(file, '');
      r = await runCli(['ping', '--socket', file]);
      assert.match(r.stderr, /is a regular file, not a socket/);
      // A socket file nobody listens on any more (an agent that was killed).
      const stale = path.join(dir, 'stale.sock');
      const killed = spawn(process.execPath, ['-e', `require('net').createServer().listen(${JSON.stringify(stale)}, () => process.kill(process.pid, 'SIGKILL'))`]);
      await once(killed, 'close');
      assert.ok(fs.existsSync(stale));
      r = await runCli(['ping', '--socket', stale]);
      assert.match(r.stderr, /^qga-client: nothing is listening on .*stale\.sock \(the socket file is there but no agent has it open/);
      for (const text of [r.stderr]) assert.doesNotMatch(text, /ECONNREFUSED|ENOENT|EISDIR/);
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });

  it('get to a directory says it is a directory', async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'qga-cli-'));
    try {
      const h: Handler = (q) =>
        q.command === 'guest-file-open' ? { return: 1000n } : q.command === 'guest-file-close' ? { return: {} } : q.command === 'guest-file-read' ? { return: { count: 0n, 'buf-b64': '', eof: true } } : undefined;
      const r = await withAgent(h, ['get', '--verify', 'none', '/etc/hostname', dir]);
      assert.equal(r.run.code, 1);
      assert.match(r.run.stderr, new RegExp(`^qga-client: ${dir}: is a directory`));
      assert.doesNotMatch(r.run.stderr, /EISDIR/);
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });

  it('QGA_CLIENT_ADDRESS is the default socket', async () => {
    handler = () => undefined;
    const r = await runCli(['ping'], { env: { QGA_CLIENT_ADDRESS: agent.sock } });
    assert.equal(r.code, 0, r.stderr);
    assert.equal(r.stdout, 'ok\n');
  });

  it('global options after the verb; --version', async () => {
    handler = () => undefined;
    let r = await runCli(['ping', '--socket', agent.sock]);
    assert.equal(r.code, 0, r.stderr);
    assert.equal(r.stdout, 'ok\n');
    r = await runCli(['ping', '-s', agent.sock, '--json']);
    assert.equal(r.stdout, '{}\n');
    // After the verb, a global option can also override the one before it.
    r = await runCli(['--socket', '/nonexistent/x.sock', 'ping', `--socket=${agent.sock}`]);
    assert.equal(r.code, 0, r.stderr);
    for (const args of [['--version'], ['-V'], ['ping', '--version']]) {
      r = await runCli(args);
      assert.equal(r.code, 0, args.join(' '));
      assert.match(r.stdout, /^qga-client \(qga-ts\) \d+\.\d+\.\d+\n$/);
    }
  });

  it('exec: --timeout after the verb is exec\'s own; the global one goes before the verb', async () => {
    let n = 0;
    const h: Handler = (q) => (q.command === 'guest-exec' ? { return: { pid: 7n } } : q.command === 'guest-exec-status' ? (++n > 1_000_000 ? { return: { exited: true } } : { return: { exited: false } }) : undefined);
    const r = await withAgent(h, ['--timeout', '5', 'exec', '--timeout', '0.2', '--json', 'sleep', '9']);
    assert.equal(r.run.code, 124, r.run.stderr);
  });

  it('users: says so when nobody is logged in', async () => {
    let r = await withAgent((q) => (q.command === 'guest-get-users' ? { return: [] } : undefined), ['users']);
    assert.equal(r.run.code, 0, r.run.stderr);
    assert.equal(r.run.stdout, 'nobody is logged in\n');
    r = await withAgent((q) => (q.command === 'guest-get-users' ? { return: [] } : undefined), ['users', '--json']);
    assert.equal(r.run.stdout, '[]\n');
  });

  it('usage errors say what is wrong and point to that verb\'s help', async () => {
    const cases: [string[], RegExp, string][] = [
      [['--socket', '/x', 'get', 'a'], /^qga-client: get: missing arguments \(usage: qga-client get GUEST_PATH LOCAL_PATH\)\n/, 'get'],
      [['ping', '--sockt', '/x'], /^qga-client: ping: unknown option '--sockt'\n/, 'ping'],
      [['ping', '--socket'], /^qga-client: ping: option '--socket' needs a value \(PATH\)\n/, 'ping'],
      [['ping', '--json=yes'], /^qga-client: ping: option '--json' takes no value\n/, 'ping'],
      [['--socket', '/x', 'put', '--window', '0', 'a', 'b'], /^qga-client: invalid --window '0' \(1 to 64\)\n/, 'put'],
      [['--socket', '/x', 'suspend', 'deep'], /^qga-client: invalid suspend mode 'deep'/, 'suspend'],
      [['--bogus', 'ping'], /^qga-client: unknown option '--bogus'\n/, ''],
      [['frobnicate'], /^qga-client: unknown verb 'frobnicate'\n/, ''],
    ];
    for (const [args, message, verb] of cases) {
      const r = await runCli(args);
      assert.equal(r.code, 2, args.join(' '));
      assert.match(r.stderr, message, args.join(' '));
      assert.ok(r.stderr.endsWith(`Try 'qga-client ${verb === '' ? '' : `${verb} `}--help'.\n`), `${args.join(' ')}: ${r.stderr}`);
    }
  });

  it('usage errors exit 2', async () => {
    for (const args of [['--socket', '/x', 'frobnicate'], ['--bogus', 'ping'], ['--socket', '/x', 'ping', 'extra'], ['--socket', '/x', 'get', 'a'], ['--socket', '/x', 'suspend', 'deep'], ['--socket', '/x', 'fstrim', '--minimum', 'lots'], ['--socket', '/x', 'get', '--chunk-size', '0', 'a', 'b'], ['--socket', '/x', 'put', '--window', '0', 'a', 'b'], ['--socket', '/x', 'cat', '--window', '1.5', 'a'], ['--socket', '/x', '--timeout', 'soon', 'ping'], []]) {
      const r = await runCli(args);
      assert.equal(r.code, 2, `${args.join(' ')}: ${r.stderr}`);
      assert.match(r.stderr, /qga-client|Usage/);
    }
  });
});

describe('qga-client: exec (fake agent)', () => {
  function execAgent(final: Record<string, unknown>, polls = 2): Handler {
    let n = 0;
    return (q) => {
      if (q.command === 'guest-exec') {
        n = 0;
        return { return: { pid: 4242n } };
      }
      if (q.command === 'guest-exec-status') return ++n < polls ? { return: { exited: false } } : { return: final as never };
      return undefined;
    };
  }

  it('prints the output and exits with the exit code', async () => {
    const r = await withAgent(execAgent({ exited: true, exitcode: 3n, 'out-data': Buffer.from('out\n').toString('base64'), 'err-data': Buffer.from('err\n').toString('base64') }), [
      'exec',
      '--',
      'sh',
      '-c',
      'echo out; echo err >&2; exit 3',
    ]);
    assert.equal(r.run.code, 3);
    assert.equal(r.run.stdout, 'out\n');
    assert.equal(r.run.stderr, 'err\n');
    // guest-info first: this agent lists no __io.qga-ts_ exec extensions, so plain guest-exec.
    assert.equal(r.requests[0]!.command, 'guest-info');
    const ex = r.requests[1]!;
    assert.equal(ex.command, 'guest-exec');
    assert.equal(ex.args!.get('path'), 'sh');
    assert.deepEqual(ex.args!.get('arg'), ['-c', 'echo out; echo err >&2; exit 3']);
    assert.equal(ex.args!.get('capture-output'), true);
    assert.ok(r.requests.slice(2).every((q) => q.command === 'guest-exec-status' && q.args!.get('pid') === 4242n));
  });

  it('128 + signal; truncation warnings; program options after PROGRAM are the program\'s', async () => {
    const r = await withAgent(execAgent({ exited: true, signal: 9n, 'out-truncated': true }), ['exec', 'ls', '-l', '--stdin']);
    assert.equal(r.run.code, 137);
    assert.match(r.run.stderr, /truncated the program's standard output/);
    assert.deepEqual(r.requests[1]!.args!.get('arg'), ['-l', '--stdin']);
    assert.equal(r.requests[1]!.args!.has('input-data'), false);
  });

  it('--stdin passes standard input as input-data; --env; --json prints the status', async () => {
    const r = await withAgent(execAgent({ exited: true, exitcode: 0n }, 1), ['--json', 'exec', '--stdin', '--env', 'A=1', '--env', 'B=2', 'cat'], { input: 'hello\n' });
    assert.equal(r.run.code, 0, r.run.stderr);
    assert.deepEqual(JSON.parse(r.run.stdout), { exited: true, exitcode: 0 });
    // --json prints the final status only: no guest-info, no streaming.
    const args = r.requests[0]!.args!;
    assert.equal(args.get('input-data'), Buffer.from('hello\n').toString('base64'));
    assert.deepEqual(args.get('env'), ['A=1', 'B=2']);
  });

  it('with the __io.qga-ts_ extensions: output from the last offset (none lost or repeated), then the status; --timeout kills the group', async () => {
    const ext = ['__io.qga-ts_guest-exec', '__io.qga-ts_guest-exec-output', '__io.qga-ts_guest-exec-signal'];
    const info = { return: { version: '10.2.0', supported_commands: ext.map((name) => ({ enabled: true, name, 'success-response': true })) } };
    // stdout grows by one piece per call; stderr has one piece, then EOF.
    const agentFor = (pieces: string[], finishes: boolean): Handler => {
      let calls = 0;
      let finished = finishes;
      return (q) => {
        if (q.command === 'guest-info') return info as never;
        if (q.command === '__io.qga-ts_guest-exec') return { return: { pid: 77n } };
        if (q.command === '__io.qga-ts_guest-exec-signal') {
          finished = true; // the group is dead: its pipes close
          return { return: {} };
        }
        if (q.command === '__io.qga-ts_guest-exec-output') {
          const off = Number(q.args!.get('offset'));
          if (q.args!.get('stream') === 'stderr') {
            const data = off === 0 ? 'E' : '';
            return { return: { data: Buffer.from(data).toString('base64'), 'next-offset': BigInt(off + data.length), eof: true, truncated: false } };
          }
          const have = pieces.slice(0, Math.min(pieces.length, ++calls)).join('');
          const data = have.slice(off);
          const eof = finished && calls >= pieces.length;
          return { return: { data: Buffer.from(data).toString('base64'), 'next-offset': BigInt(off + data.length), eof, truncated: false } };
        }
        if (q.command === 'guest-exec-status') return { return: { exited: true, exitcode: 5n, 'out-data': Buffer.from(pieces.join('')).toString('base64') } };
        return undefined;
      };
    };
    let r = await withAgent(agentFor(['a\n', 'bc', '\n'], true), ['exec', 'sh']);
    assert.equal(r.run.code, 5, r.run.stderr);
    assert.equal(r.run.stdout, 'a\nbc\n');
    assert.equal(r.run.stderr, 'E');
    const start = r.requests.find((q) => q.command === '__io.qga-ts_guest-exec')!;
    assert.equal(start.args!.get('process-group'), true);
    assert.equal(start.args!.get('capture-output'), 'separated');
    const offsets = r.requests.filter((q) => q.command === '__io.qga-ts_guest-exec-output' && q.args!.get('stream') === 'stdout').map((q) => Number(q.args!.get('offset')));
    assert.deepEqual(offsets, [0, 2, 4]);
    assert.equal(r.requests.at(-1)!.command, 'guest-exec-status');

    r = await withAgent(agentFor(['x'], false), ['exec', '--timeout', '0.2', 'sleep', '100']);
    assert.equal(r.run.code, 124);
    assert.equal(r.run.stderr, 'Eqga-client: the guest process 77 ran longer than 0.2 s: its process group was killed\n');
    const kill = r.requests.find((q) => q.command === '__io.qga-ts_guest-exec-signal');
    assert.ok(kill, 'no signal was sent');
    assert.deepEqual([kill.args!.get('pid'), kill.args!.get('signal'), kill.args!.get('group')], [77n, 9n, true]);
  });

  it('--timeout: exit 124 while the program keeps running', async () => {
    const r = await withAgent(execAgent({ exited: true }, 1_000_000), ['exec', '--timeout', '0.3', 'sleep', '100']);
    assert.equal(r.run.code, 124);
    assert.equal(r.run.stderr, 'qga-client: the guest process 4242 is still running after 0.3 s (this agent cannot kill it)\n');
    assert.ok(r.requests.length < 40, `polls with a backoff (${r.requests.length} requests)`);
  });
});

describe('qga-client: help', () => {
  it('--help, VERB --help and help VERB', async () => {
    const main = await runCli(['--help']);
    assert.equal(main.code, 0);
    for (const verb of ['ping', 'info', 'exec', 'cat', 'get', 'put', 'fsinfo', 'df', 'ifconfig', 'osinfo', 'users', 'time', 'vcpus', 'freeze', 'thaw', 'frozen', 'fstrim', 'shutdown', 'reboot', 'suspend', 'call']) {
      if (verb !== 'df') assert.match(main.stdout, new RegExp(`^  ${verb}\\b`, 'm'), verb);
    }
    const v = await runCli(['put', '--help']);
    assert.equal(v.code, 0);
    assert.match(v.stdout, /^Usage: qga-client \[GLOBAL OPTIONS\] put \[OPTIONS\] LOCAL_PATH GUEST_PATH/);
    assert.match(v.stdout, /--verify HOW/);
    const h = await runCli(['help', 'df']);
    assert.match(h.stdout, /^Usage: qga-client \[GLOBAL OPTIONS\] fsinfo/);
  });
});
