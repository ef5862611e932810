// Memory benchmark: idle RSS at start (beside an idle `node` listening on a unix socket, measured
// in the same run), the peak during a 20 MiB exec capture, and how soon RSS comes back after each
// workload (48 MiB transfers, 16 MiB exec captures, guest-get-fsinfo calls, fuzzing), qga-ts and
// qemu-ga side by side. Where qga-ts holds exec output in a memfd, the peak of RSS plus memfd is
// shown too: that memory is RAM all the same. Usage: npm run build && tsx bench/memory.ts [-- --fsinfo N --only qga-ts]
import { spawn } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { parseArgs } from 'node:util';
import { Agent, QEMU_GA, QGA_TS, haveQemuGa } from '../test/support/agent.ts';
import { LineClient, rssKiB } from '../test/support/hostile.ts';

const { values: opt } = parseArgs({
  options: {
    fsinfo: { type: 'string', default: '100000' },
    transfers: { type: 'string', default: '3' },
    execs: { type: 'string', default: '3' },
    fuzz: { type: 'string', default: '20000' },
    settle: { type: 'string', default: '30' },
    only: { type: 'string' },
  },
});

const MiB = 1024 * 1024;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const mb = (kib: number) => (kib / 1024).toFixed(1);

/** RSS of an idle `node` listening on a unix socket: the floor any Node agent starts from. */
async function idleNodeKiB(): Promise<number> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'qga-idle-'));
  const child = spawn(process.execPath, ['-e', `require('net').createServer(() => {}).listen(${JSON.stringify(path.join(dir, 's'))})`], { stdio: 'ignore' });
  await sleep(2000);
  const kib = rssKiB(child.pid as number);
  child.kill();
  fs.rmSync(dir, { recursive: true, force: true });
  return kib;
}

/** KiB held in the memfds `pid` has open (qga-ts keeps exec output beyond 64 KiB in one): RAM outside its RSS. */
function memfdKiB(pid: number): number {
  let bytes = 0;
  try {
    for (const fd of fs.readdirSync(`/proc/${pid}/fd`)) {
      try {
        if (fs.readlinkSync(`/proc/${pid}/fd/${fd}`).startsWith('/memfd:')) bytes += fs.statSync(`/proc/${pid}/fd/${fd}`).size;
      } catch {
        // closed meanwhile
      }
    }
  } catch {
    // the process is gone
  }
  return bytes / 1024;
}

/** Samples RSS (and RSS plus memfds) every 20 ms while `work` runs; returns the peaks. */
async function peaksDuring(pid: number, work: () => Promise<void>): Promise<{ rss: number; withMemfd: number }> {
  const p = { rss: 0, withMemfd: 0 };
  const sample = () => {
    const rss = rssKiB(pid);
    p.rss = Math.max(p.rss, rss);
    p.withMemfd = Math.max(p.withMemfd, rss + memfdKiB(pid));
  };
  sample();
  const t = setInterval(sample, 20);
  try {
    await work();
  } finally {
    clearInterval(t);
  }
  sample();
  return p;
}

/** Waits up to `settle` s; returns the first second at which RSS is within 10 MB of `fresh`, and the RSS then. */
async function settleAfter(pid: number, fresh: number): Promise<{ secs: number | null; kib: number }> {
  const limit = Number(opt.settle);
  let kib = rssKiB(pid);
  for (let s = 0; s <= limit; s++) {
    kib = rssKiB(pid);
    if (kib <= fresh + 10 * 1024) return { secs: s, kib };
    if (s < limit) await sleep(1000);
  }
  return { secs: null, kib };
}

async function execCapture(c: LineClient, bytes: number): Promise<void> {
  const line0 = await c.call(`{"execute":"guest-exec","arguments":{"path":"/bin/sh","arg":["-c","head -c ${bytes} /dev/urandom"],"capture-output":true}}`);
  const r = JSON.parse(line0);
  if (r.return === undefined) throw new Error(`guest-exec: ${line0.slice(0, 300)}`);
  for (;;) {
    const line = await c.call(`{"execute":"guest-exec-status","arguments":{"pid":${r.return.pid}}}`);
    if (line.startsWith('{"return": {"exitcode"') || line.includes('"exited": true')) return;
    await sleep(50);
  }
}

async function transfer(c: LineClient, dir: string): Promise<void> {
  const file = path.join(dir, 'big');
  const w = JSON.parse(await c.call(`{"execute":"guest-file-open","arguments":{"path":"${file}","mode":"w"}}`)).return;
  // 48 MB: the base64 of a 48 MiB write would exceed the 64 MiB token limit.
  const b64 = Buffer.alloc(48e6, 0x5a).toString("base64");
  const wr = await c.call(`{"execute":"guest-file-write","arguments":{"handle":${w},"buf-b64":"${b64}"}}`);
  if (!wr.startsWith('{"return"')) throw new Error(`guest-file-write: ${wr}`);
  await c.call(`{"execute":"guest-file-close","arguments":{"handle":${w}}}`);
  const r = JSON.parse(await c.call(`{"execute":"guest-file-open","arguments":{"path":"${file}"}}`)).return;
  await c.call(`{"execute":"guest-file-read","arguments":{"handle":${r},"count":${48 * MiB}}}`);
  await c.call(`{"execute":"guest-file-close","arguments":{"handle":${r}}}`);
}

async function fsinfos(c: LineClient, n: number): Promise<void> {
  for (let done = 0; done < n; ) {
    const k = Math.min(100, n - done);
    c.socket.write('{"execute":"guest-get-fsinfo"}'.repeat(k));
    for (let i = 0; i < k; i++) await c.next();
    done += k;
  }
}

/** Random requests and bytes (a seeded xorshift, so runs compare), each followed by a resync. */
async function fuzz(c: LineClient, n: number): Promise<void> {
  let x = 12345;
  const rnd = (k: number) => {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    return (x >>> 0) % k;
  };
  const names = ['guest-ping', 'guest-info', 'guest-sync', 'guest-get-time', 'guest-file-seek', 'nope', 'guest-exec-status'];
  const junk = () => Buffer.from(Array.from({ length: rnd(200) }, () => rnd(256)));
  for (let i = 0; i < n; i++) {
    if (rnd(4) === 0) c.socket.write(junk());
    else c.socket.write(`{"execute":"${names[rnd(names.length)]}","arguments":{"id":${rnd(1000)},"pid":${rnd(9)},"x":"${'y'.repeat(rnd(3000))}"}}`);
    if (i % 100 === 99) {
      c.socket.write(Buffer.from([0xff]));
      c.socket.write(`{"execute":"guest-sync-delimited","arguments":{"id":${i}}}`);
      while (!(await c.next()).endsWith(`{"return": ${i}}`));
    }
  }
}

interface Row {
  fresh: number;
  after: Record<string, { secs: number | null; kib: number; peak: number; withMemfd: number }>;
}

async function measure(command: readonly string[]): Promise<Row> {
  const agent = await Agent.start(command);
  const pid = agent.child.pid as number;
  try {
    await sleep(2000);
    const fresh = rssKiB(pid);
    const c = await LineClient.connect(agent.sock);
    const exec = await peaksDuring(pid, () => execCapture(c, 20 * MiB));
    const after: Row['after'] = {};
    after['20 MiB exec capture'] = { ...(await settleAfter(pid, fresh)), peak: exec.rss, withMemfd: exec.withMemfd };
    const workloads: [string, () => Promise<void>][] = [
      [`${opt.transfers} × 48 MB write + 48 MiB read`, async () => { for (let i = 0; i < Number(opt.transfers); i++) await transfer(c, agent.dir); }],
      [`${opt.execs} × 16 MiB exec capture`, async () => { for (let i = 0; i < Number(opt.execs); i++) await execCapture(c, 16 * MiB); }],
      [`${opt.fsinfo} × guest-get-fsinfo`, () => fsinfos(c, Number(opt.fsinfo))],
      [`${opt.fuzz} fuzz requests`, () => fuzz(c, Number(opt.fuzz))],
    ];
    for (const [name, work] of workloads) {
      const peak = await peaksDuring(pid, work);
      after[name] = { ...(await settleAfter(pid, fresh)), peak: peak.rss, withMemfd: peak.withMemfd };
      console.error(`${path.basename(command[command.length - 1])}: ${name}: peak ${mb(peak.rss)} MB, then ${mb(after[name].kib)} MB`);
    }
    c.close();
    return { fresh, after };
  } finally {
    await agent.stop();
    agent.cleanup();
  }
}

async function main(): Promise<void> {
  if (!haveQemuGa && opt.only !== 'qga-ts') {
    console.error('qemu-ga is not installed: apt-get install qemu-guest-agent (or --only qga-ts)');
    process.exit(2);
  }
  const node = await idleNodeKiB();
  const ours = await measure(QGA_TS);
  const ref = opt.only === 'qga-ts' ? null : await measure([QEMU_GA]);
  console.log(`idle node listening on a unix socket: ${mb(node)} MB; qga-ts at start: ${mb(ours.fresh)} MB (${(ours.fresh / node).toFixed(3)}×)`);
  const rows = [
    { metric: 'idle RSS at start (MB)', 'qga-ts': mb(ours.fresh), 'qemu-ga': ref ? mb(ref.fresh) : '-' },
    ...Object.keys(ours.after).flatMap((k) => [
      { metric: `${k}: peak RSS (MB)`, 'qga-ts': mb(ours.after[k].peak), 'qemu-ga': ref ? mb(ref.after[k].peak) : '-' },
      ...(ours.after[k].withMemfd > ours.after[k].peak
        ? [{ metric: `${k}: peak RSS + memfd (MB)`, 'qga-ts': mb(ours.after[k].withMemfd), 'qemu-ga': ref ? mb(ref.after[k].withMemfd) : '-' }]
        : []),
      {
        metric: `${k}: RSS after (MB; s to fresh+10 MB)`,
        'qga-ts': `${mb(ours.after[k].kib)} (${ours.after[k].secs ?? `>${opt.settle}`})`,
        'qemu-ga': ref ? `${mb(ref.after[k].kib)} (${ref.after[k].secs ?? `>${opt.settle}`})` : '-',
      },
    ]),
  ];
  console.table(rows);
}

await main();
