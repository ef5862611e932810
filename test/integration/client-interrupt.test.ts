// qga-client copies that are interrupted, against real agents (qga-ts and qemu-ga): SIGINT,
// SIGTERM, and a reader that goes away (cat | head) close the guest file handle before the
// client exits (the agent's open file descriptors come back to their count before the copy);
// an interrupted get leaves nothing at the target path; an interrupted put removes the partial
// guest file when guest-exec is allowed, and names it when not.

import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, type ChildProcessWithoutNullStreams } from 'node:child_process';
import { once } from 'node:events';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { Agent, DANGEROUS_COMMANDS, QEMU_GA, QGA_TS, REPO, haveQemuGa } from '../support/agent.ts';

const CLI = path.join(REPO, 'dist/client.js');
const BIG = 400 * 1024 * 1024;

interface Run {
  code: number | null;
  signal: NodeJS.Signals | null;
  stderr: string;
}

function start(sock: string, args: string[]): { child: ChildProcessWithoutNullStreams; done: Promise<Run> } {
  const child = spawn(process.execPath, [CLI, '--socket', sock, ...args]);
  let stderr = '';
  child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
  const done = new Promise<Run>((resolve) => child.on('close', (code, signal) => resolve({ code, signal, stderr })));
  return { child, done };
}

function openFds(pid: number): number {
  return fs.readdirSync(`/proc/${pid}/fd`).length;
}

/** The agent's fd count, once it settles back to `want` (or the last count after 3 s). */
/** The agent's fd count once it is at most `want` (it may close one of its own meanwhile, e.g. an idle trim). */
async function fdsBackTo(pid: number, want: number): Promise<number> {
  const deadline = Date.now() + 3000;
  let n = openFds(pid);
  while (n > want && Date.now() < deadline) {
    await new Promise((r) => setTimeout(r, 50));
    n = openFds(pid);
  }
  return n;
}

/** Waits until the copy is under way: a file matching `re` appears in `dir`. */
async function waitForFile(dir: string, re: RegExp, run: Promise<Run>): Promise<void> {
  let exited = false;
  void run.then(() => (exited = true));
  const deadline = Date.now() + 10_000;
  while (!fs.readdirSync(dir).some((f) => re.test(f))) {
    if (exited || Date.now() > deadline) throw new Error(`no ${re} in ${dir}: ${(await run).stderr}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

const AGENTS = [
  { name: 'qga-ts', command: QGA_TS, skip: fs.existsSync(QGA_TS[1]!) ? false : 'dist/main.js is missing: run npm run build' },
  { name: 'qemu-ga', command: [QEMU_GA], skip: haveQemuGa ? false : `${QEMU_GA} is not installed (apt-get install qemu-guest-agent)` },
];

for (const spec of AGENTS) {
  describe(`qga-client interrupted, against ${spec.name}`, { skip: spec.skip || (fs.existsSync(CLI) ? false : 'dist/client.js is missing: run npm run build') }, () => {
    let agent: Agent;
    let guestBig: string;
    let local: string;
    before(async () => {
      agent = await Agent.start(spec.command, { args: ['-b', DANGEROUS_COMMANDS.join(',')] });
      // Sparse: 400 MB to read that takes no disk in the "guest".
      guestBig = path.join(agent.dir, 'big.img');
      fs.writeFileSync(guestBig, '');
      fs.truncateSync(guestBig, BIG);
      local = fs.mkdtempSync(path.join(agent.dir, 'local-'));
    });
    after(async () => {
      await agent?.stop();
      agent?.cleanup();
    });

    for (const [sig, status] of [['SIGINT', 130], ['SIGTERM', 143]] as const) {
      it(`get of a 400 MB file, ${sig} after 1.5 s: nothing at the target, the handle closed`, async () => {
        const pid = agent.child.pid!;
        const before = openFds(pid);
        const target = path.join(local, `got-${sig}.img`);
        const t0 = Date.now();
        const { child, done } = start(agent.sock, ['get', guestBig, target]);
        await waitForFile(local, /^\.got-.*\.part-/, done);
        await new Promise((r) => setTimeout(r, Math.max(0, 1500 - (Date.now() - t0))));
        child.kill(sig);
        const r = await done;
        assert.equal(r.code, status, r.stderr);
        assert.match(r.stderr, new RegExp(`^qga-client: interrupted by ${sig}\\nqga-client: get: nothing was written to ${target.replace(/[.]/g, '\\.')}\\n$`));
        assert.equal(fs.existsSync(target), false, 'no file at the target path');
        assert.deepEqual(fs.readdirSync(local).filter((f) => f.includes('got-')), [], 'no temporary file left');
        assert.ok((await fdsBackTo(pid, before)) <= before, "the agent's open fds are back to their count before the copy");
      });
    }

    it('cat | head: the reader goes away, the client closes the handle and exits quietly', async () => {
      const pid = agent.child.pid!;
      const before = openFds(pid);
      const { child, done } = start(agent.sock, ['cat', guestBig]);
      await once(child.stdout, 'data');
      child.stdout.destroy();
      const r = await done;
      assert.equal(r.code, 141, r.stderr);
      assert.equal(r.stderr, '');
      assert.equal(await fdsBackTo(pid, before), before);
    });

    it('put interrupted: the partial guest file is removed (guest-exec allowed)', async () => {
      const pid = agent.child.pid!;
      const src = path.join(local, 'src.img');
      fs.writeFileSync(src, '');
      fs.truncateSync(src, BIG);
      const dst = path.join(agent.dir, 'put.img');
      const before = openFds(pid);
      const { child, done } = start(agent.sock, ['put', src, dst]);
      await waitForFile(agent.dir, /^put\.img$/, done);
      await new Promise((r) => setTimeout(r, 300));
      child.kill('SIGINT');
      const r = await done;
      assert.equal(r.code, 130, r.stderr);
      assert.match(r.stderr, new RegExp(`^qga-client: interrupted by SIGINT\\nqga-client: put: removed the partial ${dst.replace(/[.]/g, '\\.')} from the guest \\(\\d+ of ${BIG} bytes had been written\\)\\n$`));
      assert.equal(fs.existsSync(dst), false);
      assert.equal(await fdsBackTo(pid, before), before);
    });
  });
}

describe('qga-client put interrupted, guest-exec blocked', { skip: fs.existsSync(QGA_TS[1]!) && fs.existsSync(CLI) ? false : 'run npm run build' }, () => {
  it('names the partial file it could not remove', async () => {
    const agent = await Agent.start(QGA_TS, { args: ['-b', [...DANGEROUS_COMMANDS, 'guest-exec'].join(',')] });
    try {
      const src = path.join(agent.dir, 'src.img');
      fs.writeFileSync(src, '');
      fs.truncateSync(src, BIG);
      const dst = path.join(agent.dir, 'put.img');
      const { child, done } = start(agent.sock, ['put', '--verify', 'none', src, dst]);
      await waitForFile(agent.dir, /^put\.img$/, done);
      await new Promise((r) => setTimeout(r, 300));
      child.kill('SIGINT');
      const r = await done;
      assert.equal(r.code, 130, r.stderr);
      assert.match(r.stderr, /\nqga-client: put: the guest keeps a partial .*put\.img \(\d+ of \d+ bytes\); remove it there \(the agent does not allow guest-exec, or rm failed\)\n$/);
      assert.ok(fs.existsSync(dst));
    } finally {
      await agent.stop();
      agent.cleanup();
    }
  });
});
