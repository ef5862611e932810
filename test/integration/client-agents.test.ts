// qga-client (library and CLI) against real agents on unix sockets: qga-ts (dist/main.js) and
// Debian's qemu-ga (skipped with a reason when /usr/sbin/qemu-ga is absent).
//
// SAFETY: these agents run as whoever runs the tests (often root) on this machine. Only
// read-only verbs and commands run here (SAFE_VERBS, SAFE_CALLS), file transfers stay in the
// test's temp directory, and both agents are started with every command that changes the
// machine blocked (-b): freeze, thaw, fstrim, shutdown, suspend, set-time, set-vcpus, … —
// and a test checks that guest-info reports them disabled before anything else runs. The
// verbs that change a guest are tested against a fake agent only (test/unit/client-cli.test.ts).

import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { Agent, QEMU_GA, QGA_TS, REPO, RawClient, haveQemuGa } from '../support/agent.ts';
import { QgaClient } from '../../src/client/client.ts';
import { QgaCommandError, QgaTimeoutError } from '../../src/client/errors.ts';
import { runGuestCommand } from '../../src/client/exec.ts';
import { getFile, putFile, readGuestFileToBuffer } from '../../src/client/transfer.ts';

const CLI = path.join(REPO, 'dist/client.js');

/** Commands that change the machine: blocked in both agents, never sent on purpose. */
const DANGEROUS = [
  'guest-shutdown',
  'guest-suspend-disk',
  'guest-suspend-ram',
  'guest-suspend-hybrid',
  'guest-fsfreeze-freeze',
  'guest-fsfreeze-freeze-list',
  'guest-fsfreeze-thaw',
  'guest-fstrim',
  'guest-set-time',
  'guest-set-vcpus',
  'guest-set-memory-blocks',
  'guest-set-user-password',
  'guest-ssh-add-authorized-keys',
  'guest-ssh-remove-authorized-keys',
];
/** Blocked too, harmless: the target of the "disabled command" test. */
const BLOCKED_HARMLESS = 'guest-get-host-name';
const BLOCK_ARGS = ['-b', [...DANGEROUS, BLOCKED_HARMLESS].join(',')];

const SAFE_VERBS = new Set(['ping', 'info', 'osinfo', 'time', 'vcpus', 'users', 'ifconfig', 'fsinfo', 'df', 'frozen', 'exec', 'cat', 'get', 'put', 'call', 'help']);
const SAFE_CALLS = new Set([
  'guest-ping',
  'guest-info',
  'guest-get-time',
  'guest-sync',
  'guest-get-host-name',
  'guest-file-open',
  'guest-file-close',
  'guest-nope',
  'guest-get-disks',
  'guest-get-memory-blocks',
  'guest-get-memory-block-info',
  'guest-get-diskstats',
  'guest-get-cpustats',
  'guest-get-load',
  'guest-network-get-route',
  'guest-ssh-get-authorized-keys',
  'guest-get-timezone',
]);

interface Run {
  code: number | null;
  stdout: Buffer;
  stderr: string;
}

/** Runs dist/client.js; refuses (throws) anything but the safe verbs and calls. */
function cli(sock: string, args: string[], input?: Buffer): Promise<Run> {
  const verbAt = args.findIndex((a, i) => !a.startsWith('-') && !(i > 0 && ['--socket', '-s', '--timeout', '-t'].includes(args[i - 1]!)));
  const verb = args[verbAt]!;
  if (!SAFE_VERBS.has(verb)) throw new Error(`refusing to run '${verb}' against a real agent`);
  if (verb === 'call' && !SAFE_CALLS.has(args[verbAt + 1]!)) throw new Error(`refusing to call '${args[verbAt + 1]}' on a real agent`);
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [CLI, '--socket', sock, ...args], { stdio: ['pipe', 'pipe', 'pipe'] });
    const out: Buffer[] = [];
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => out.push(d));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    child.on('error', reject);
    child.on('close', (code) => resolve({ code, stdout: Buffer.concat(out), stderr }));
    child.stdin.end(input ?? Buffer.alloc(0));
  });
}

function text(r: Run): string {
  return r.stdout.toString('utf8');
}

function ok(r: Run, what: string): string {
  assert.equal(r.code, 0, `${what}: exit ${r.code}, stderr: ${r.stderr}`);
  return text(r);
}

const AGENTS: { name: string; command: readonly string[]; skip: string | false }[] = [
  { name: 'qga-ts', command: QGA_TS, skip: fs.existsSync(QGA_TS[1]!) ? false : 'dist/main.js is missing: run npm run build' },
  { name: 'qemu-ga', command: [QEMU_GA], skip: haveQemuGa ? false : `${QEMU_GA} is not installed (apt-get install qemu-guest-agent)` },
];
const cliMissing = fs.existsSync(CLI) ? false : 'dist/client.js is missing: run npm run build';

for (const spec of AGENTS) {
  describe(`qga-client against ${spec.name}`, { skip: spec.skip }, () => {
    let agent: Agent;
    let client: QgaClient;
    let work: string;
    before(async () => {
      agent = await Agent.start(spec.command, { args: BLOCK_ARGS });
      work = fs.mkdtempSync(path.join(agent.dir, 'files-'));
      client = new QgaClient({ address: agent.sock, timeout: 20_000 });
    });
    after(async () => {
      await client?.close();
      await agent?.stop();
      agent?.cleanup();
    });

    it('the agent refuses every command that changes the machine (-b took effect)', async () => {
      const info = await client.guestInfo();
      const byName = new Map(info.supported_commands.map((c) => [c.name, c]));
      for (const name of DANGEROUS) assert.equal(byName.get(name)?.enabled ?? false, false, `${name} must be disabled`);
      assert.equal(byName.get('guest-ping')?.enabled, true);
    });

    describe('library', () => {
      it('typed calls: info, time (exact ns), sync ids beyond 2^53, vcpus', async () => {
        const info = await client.guestInfo();
        assert.match(info.version, /^\d+\.\d+/);
        const t = await client.guestGetTime();
        assert.equal(typeof t, 'bigint');
        const host = BigInt(Date.now()) * 1_000_000n;
        assert.ok(t > host - 60_000_000_000n && t < host + 60_000_000_000n);
        for (const id of [0n, 9007199254740993n, 2n ** 63n - 1n]) assert.equal(await client.guestSync({ id }), id);
        const vcpus = await client.guestGetVcpus();
        assert.ok(vcpus.length > 0);
        assert.equal(typeof vcpus[0]!['logical-id'], 'bigint');
      });

      it('file commands round trip with an exact bigint handle', async () => {
        const p = path.join(work, 'lib.bin');
        const data = randomBytes(100_000);
        const h = await client.guestFileOpen({ path: p, mode: 'w+' });
        assert.equal(typeof h, 'bigint');
        const w = await client.guestFileWrite({ handle: h, 'buf-b64': data.toString('base64') });
        assert.equal(w.count, 100_000n);
        const s = await client.guestFileSeek({ handle: h, offset: 0, whence: 'set' });
        assert.equal(s.position, 0n);
        const r = await client.guestFileRead({ handle: h, count: 200_000 });
        assert.equal(r.count, 100_000n);
        assert.ok(Buffer.from(r['buf-b64'], 'base64').equals(data));
        await client.guestFileClose({ handle: h });
        await assert.rejects(client.guestFileClose({ handle: h }), (e: unknown) => e instanceof QgaCommandError && e.class === 'GenericError');
      });

      it('exec with output, exit code and signal', async () => {
        const r = await runGuestCommand(client, 'sh', { args: ['-c', 'echo out; echo err >&2; exit 7'] });
        assert.equal(r.exitcode, 7);
        assert.equal(r.stdout.toString(), 'out\n');
        assert.equal(r.stderr.toString(), 'err\n');
        const k = await runGuestCommand(client, 'sh', { args: ['-c', 'kill -TERM $$'] });
        assert.equal(k.signal, 15);
      });

      it('a partial request left by an earlier client does not disturb the next one (0xFF flush)', async () => {
        await client.close();
        const raw = await RawClient.connect(agent.sock);
        raw.send('{"execute": "guest-file-open", "arguments": {"path": "');
        await new Promise((r) => setTimeout(r, 50));
        raw.close();
        client = new QgaClient({ address: agent.sock, timeout: 20_000 });
        assert.equal(await client.guestSync({ id: 77n }), 77n);
      });

      it('a timed-out call is followed by a resync; its late answer (64 MiB of base64) is skipped', async () => {
        const p = path.join(work, 'slow.bin');
        fs.writeFileSync(p, randomBytes(48 * 1000 * 1000));
        const h = await client.guestFileOpen({ path: p });
        await assert.rejects(client.guestFileRead({ handle: h, count: 48_000_000 }, { timeout: 1 }), QgaTimeoutError);
        assert.equal(await client.guestSync({ id: 5n }), 5n);
        const r = await client.guestFileRead({ handle: h, count: 10 });
        assert.equal(r.count, 0n, 'the timed-out read did run: the position is at the end');
        assert.equal(r.eof, true);
        await client.guestFileClose({ handle: h });
        fs.rmSync(p);
      });

      it('get/put through the library, pipelined, with matching checksums', async () => {
        const src = path.join(work, 'src.bin');
        const data = randomBytes(3 * 1024 * 1024 + 123);
        fs.writeFileSync(src, data);
        const sum = createHash('sha256').update(data).digest('hex');
        const put = await putFile(client, src, path.join(work, 'put.bin'), { chunkSize: 256 * 1024, window: 3 });
        assert.deepEqual(put, { bytes: data.length, sha256: sum });
        const got = await getFile(client, path.join(work, 'put.bin'), path.join(work, 'got.bin'), { chunkSize: 300_000, window: 4 });
        assert.deepEqual(got, { bytes: data.length, sha256: sum });
        assert.ok(fs.readFileSync(path.join(work, 'got.bin')).equals(data));
        assert.ok((await readGuestFileToBuffer(client, path.join(work, 'put.bin'))).equals(data));
        const empty = path.join(work, 'empty');
        fs.writeFileSync(empty, '');
        assert.equal((await putFile(client, empty, path.join(work, 'empty2'))).bytes, 0);
        assert.equal(fs.statSync(path.join(work, 'empty2')).size, 0);
      });
    });

    describe('CLI', { skip: cliMissing }, () => {
      // The agent serves one client at a time: the library's connection must be closed while
      // the CLI runs, and comparisons use a short-lived client.
      before(async () => {
        await client.close();
      });
      async function lib<T>(fn: (c: QgaClient) => Promise<T>): Promise<T> {
        const c = new QgaClient({ address: agent.sock, timeout: 20_000 });
        try {
          return await fn(c);
        } finally {
          await c.close();
        }
      }

      it('ping, info, osinfo, time, vcpus, users, ifconfig, fsinfo/df, frozen', async () => {
        assert.equal(ok(await cli(agent.sock, ['ping']), 'ping'), 'ok\n');
        assert.match(ok(await cli(agent.sock, ['info']), 'info'), /^version: \d+\.\d+.*\nCOMMAND\s+ENABLED\s+SUCCESS-RESPONSE\n(.*\n)*guest-ping\s+yes\s+yes\n/);
        assert.match(ok(await cli(agent.sock, ['osinfo']), 'osinfo'), /^kernel-release: /m);
        assert.match(ok(await cli(agent.sock, ['time']), 'time'), /^guest time: \d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{9}Z \(\d+ ns\)\nhost time: /);
        assert.match(ok(await cli(agent.sock, ['vcpus']), 'vcpus'), /^LOGICAL-ID\s+ONLINE\s+CAN-OFFLINE\n\d+\s+(yes|no)/);
        assert.match(ok(await cli(agent.sock, ['users']), 'users'), /^(USER\s+DOMAIN\s+LOGIN TIME \(UTC\)|nobody is logged in$)/m);
        assert.match(ok(await cli(agent.sock, ['ifconfig']), 'ifconfig'), /^INTERFACE\s+HWADDR\s+FAMILY\s+ADDRESS\n(.*\n)*lo\s+/);
        for (const verb of ['fsinfo', 'df']) {
          const r = await cli(agent.sock, [verb]);
          // Some sandboxes make guest-get-fsinfo fail; the error must then be reported cleanly.
          if (r.code === 0) assert.match(text(r), /^FILESYSTEM\s+TYPE\s+SIZE\s+USED\s+USE%\s+MOUNTED ON\s+DISKS\n/);
          else assert.match(r.stderr, /^qga-client: guest-get-fsinfo: /);
        }
        assert.match(ok(await cli(agent.sock, ['frozen']), 'frozen'), /^(thawed|frozen)\n$/);
      });

      it('--json prints the raw return values, integers exact', async () => {
        assert.equal(ok(await cli(agent.sock, ['--json', 'ping']), 'ping'), '{}\n');
        const t = ok(await cli(agent.sock, ['--json', 'time']), 'time');
        assert.match(t, /^\d{19}\n$/);
        const info = JSON.parse(ok(await cli(agent.sock, ['--json', 'info']), 'info'));
        assert.deepEqual(Object.keys(info.supported_commands[0]).sort(), ['enabled', 'name', 'success-response']);
        const os = JSON.parse(ok(await cli(agent.sock, ['--json', 'osinfo']), 'osinfo'));
        assert.deepEqual(os, await lib((c) => c.guestGetOsinfo()));
        const v = JSON.parse(ok(await cli(agent.sock, ['--json', 'vcpus']), 'vcpus'));
        assert.deepEqual(v, (await lib((c) => c.guestGetVcpus())).map((x) => ({ ...x, 'logical-id': Number(x['logical-id']) })));
        for (const verb of ['users', 'ifconfig', 'frozen']) JSON.parse(ok(await cli(agent.sock, ['--json', verb]), verb));
        const sync = ok(await cli(agent.sock, ['call', 'guest-sync', '{"id": 9223372036854775807}']), 'call');
        assert.equal(sync, '9223372036854775807\n');
      });

      it('exec: output, exit codes, signals, --stdin, --timeout, a missing program', async () => {
        let r = await cli(agent.sock, ['exec', '--', 'sh', '-c', 'printf out; printf err >&2; exit 3']);
        assert.equal(r.code, 3);
        assert.equal(text(r), 'out');
        assert.equal(r.stderr, 'err');
        r = await cli(agent.sock, ['exec', 'sh', '-c', 'kill -9 $$']);
        assert.equal(r.code, 137);
        const input = randomBytes(200_000);
        r = await cli(agent.sock, ['exec', '--stdin', 'cat'], input);
        assert.equal(r.code, 0, r.stderr);
        assert.ok(r.stdout.equals(input));
        r = await cli(agent.sock, ['exec', '--timeout', '0.3', 'sleep', '3']);
        assert.equal(r.code, 124);
        assert.match(r.stderr, /^qga-client: the guest process \d+ is still running after 0\.3 s\n$/);
        r = await cli(agent.sock, ['exec', 'qga-client-no-such-program']);
        assert.equal(r.code, 1);
        assert.match(r.stderr, /^qga-client: guest-exec: .*qga-client-no-such-program.*No such file or directory/);
        const j = JSON.parse(ok(await cli(agent.sock, ['--json', 'exec', 'echo', 'hi']), 'exec --json'));
        assert.deepEqual(j, { exitcode: 0, 'out-data': Buffer.from('hi\n').toString('base64'), exited: true, ...(j['out-truncated'] === undefined ? {} : { 'out-truncated': false }) });
      });

      it('cat, get, put (verified by sha256sum and by reading back), binary-exact', async () => {
        const src = path.join(work, 'cli-src.bin');
        const data = randomBytes(2 * 1024 * 1024 + 7);
        fs.writeFileSync(src, data);
        const sum = createHash('sha256').update(data).digest('hex');
        const dst = path.join(work, 'cli-put.bin');
        let out = ok(await cli(agent.sock, ['put', src, dst]), 'put');
        assert.match(out, new RegExp(`^sent 2\\.0 MiB in [\\d.]+ s.*; sha256 ${sum}, verified \\(sha256sum\\)\\n$`));
        assert.ok(fs.readFileSync(dst).equals(data));
        out = ok(await cli(agent.sock, ['put', '--verify', 'readback', '--chunk-size', '64K', '--window', '3', src, dst]), 'put readback');
        assert.match(out, /verified \(readback\)\n$/);
        const j = JSON.parse(ok(await cli(agent.sock, ['--json', 'put', '--verify', 'none', src, dst]), 'put --json'));
        assert.equal(j.bytes, data.length);
        assert.equal(j.sha256, sum);
        assert.equal(j.verified, null);
        const got = path.join(work, 'cli-got.bin');
        out = ok(await cli(agent.sock, ['get', '--window', '2', dst, got]), 'get');
        assert.match(out, new RegExp(`^received 2\\.0 MiB .*sha256 ${sum}, verified \\(sha256sum\\)\\n$`));
        assert.ok(fs.readFileSync(got).equals(data));
        const c = await cli(agent.sock, ['cat', dst]);
        assert.equal(c.code, 0, c.stderr);
        assert.ok(c.stdout.equals(data));
        const cj = JSON.parse(ok(await cli(agent.sock, ['--json', 'cat', dst]), 'cat --json'));
        assert.ok(Buffer.from(cj['buf-b64'], 'base64').equals(data));
        assert.equal(cj.count, data.length);
      });

      it('agent errors: exit 1 and the desc on stderr (missing file, unknown and disabled commands)', async () => {
        let r = await cli(agent.sock, ['cat', path.join(work, 'does-not-exist')]);
        assert.equal(r.code, 1);
        assert.match(r.stderr, /^qga-client: guest-file-open: .*No such file or directory.*\n$/);
        assert.equal(r.stdout.length, 0);
        r = await cli(agent.sock, ['call', 'guest-nope']);
        assert.equal(r.code, 1);
        assert.equal(r.stderr, 'qga-client: guest-nope: The command guest-nope has not been found\n');
        r = await cli(agent.sock, ['call', BLOCKED_HARMLESS]);
        assert.equal(r.code, 1);
        assert.match(r.stderr, new RegExp(`^qga-client: ${BLOCKED_HARMLESS}: Command ${BLOCKED_HARMLESS} has been disabled.*\\n$`));
      });

      it('commands the agent cannot provide here are reported cleanly, with the agent\'s own desc', async () => {
        // Read-only commands that may answer "not currently supported" (qga-ts, until their
        // issue lands) or another error on this machine; whichever fail must fail cleanly.
        const candidates: [string, string?][] = [
          ['guest-get-disks'],
          ['guest-get-memory-blocks'],
          ['guest-get-memory-block-info'],
          ['guest-get-diskstats'],
          ['guest-get-cpustats'],
          ['guest-network-get-route'],
          ['guest-get-load'],
          ['guest-ssh-get-authorized-keys', '{"username": "qga-client-test-no-such-user"}'],
        ];
        let failures = 0;
        for (const [command, args] of candidates) {
          let expected: QgaCommandError | null = null;
          try {
            await lib((c) => c.call(command, args === undefined ? undefined : (JSON.parse(args) as object)));
          } catch (e) {
            if (!(e instanceof QgaCommandError)) throw e;
            expected = e;
          }
          const r = await cli(agent.sock, ['call', command, ...(args === undefined ? [] : [args])]);
          if (expected === null) {
            assert.equal(r.code, 0, `${command}: ${r.stderr}`);
            JSON.parse(text(r));
          } else {
            failures++;
            assert.equal(r.code, 1, command);
            assert.equal(r.stdout.length, 0);
            assert.equal(r.stderr, `qga-client: ${command}: ${expected.desc}\n`);
          }
        }
        assert.ok(failures >= 1, 'at least the unknown user fails');
      });
    });
  });
}
