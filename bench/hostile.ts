// Hostile-client benchmark, qga-ts and qemu-ga side by side: for each scenario the agent's peak RSS,
// its RSS at the end and 10 s later, peak open descriptors, CPU time, and a latency figure, with ratios.
//   flood     guest-info sent for --flood-s seconds without reading a reply (B1)
//   behind    40 × 8 MiB requests sent while a 48 MiB reply is unread (B1)
//   conns     400 connections opened while a client is served; its guest-ping latency (B2)
//   slow      a 48 MiB guest-file-read taken at 2 MiB/s for --slow-s seconds, then dropped
//   exec      --execs guest-exec (capture-output) pipelined, then their statuses
//   soak      --soak guest-pings pipelined (stopped after --soak-s seconds), then ping latency
// Usage: npm run build && tsx bench/hostile.ts [-- --soak 1000000 --only qga-ts|qemu-ga --scenarios flood,conns]
import * as fs from 'node:fs';
import * as net from 'node:net';
import * as path from 'node:path';
import { parseArgs } from 'node:util';
import { Agent, QEMU_GA, QGA_TS, haveQemuGa } from '../test/support/agent.ts';
import { LineClient, connectRaw, cpuMs, openFds, rssKiB, writeUntilStalled } from '../test/support/hostile.ts';

const { values: opt } = parseArgs({
  options: {
    'flood-s': { type: 'string', default: '8' },
    'slow-s': { type: 'string', default: '5' },
    execs: { type: 'string', default: '200' },
    soak: { type: 'string', default: '1000000' },
    'soak-s': { type: 'string', default: '90' },
    only: { type: 'string' },
    scenarios: { type: 'string' },
  },
});

const MiB = 1024 * 1024;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

interface Figures {
  peakRss: number;
  endRss: number;
  /** RSS 10 s after the scenario. */
  laterRss: number;
  peakFds: number;
  cpu: number;
  /** The scenario's latency figure, in ms. */
  latency: number;
  note: string;
}

let current: Agent | undefined;

/** Why the agent of the moment has quit ('' while it runs). */
function agentGone(_pid: number): string {
  const c = current?.child;
  if (c === undefined || (c.exitCode === null && c.signalCode === null)) return '';
  const last = current?.output.text.trim().split('\n').slice(-2).join(' / ') ?? '';
  return `exit ${c.exitCode ?? c.signalCode}, last words: ${last}`;
}

/** Runs `work` while sampling the agent every 20 ms. `work` returns its latency figure and a note. */
async function observe(pid: number, work: () => Promise<[number, string]>): Promise<Figures> {
  let peakRss = rssKiB(pid);
  let peakFds = openFds(pid);
  const sample = () => {
    peakRss = Math.max(peakRss, rssKiB(pid));
    try {
      peakFds = Math.max(peakFds, openFds(pid));
    } catch {
      // gone
    }
  };
  const timer = setInterval(() => agentGone(pid) || sample(), 20);
  const cpu0 = cpuMs(pid);
  try {
    const [latency, note] = await work();
    sample();
    const gone = agentGone(pid);
    if (gone) return { peakRss, endRss: 0, laterRss: 0, peakFds, cpu: NaN, latency, note: `${note}; THE AGENT QUIT: ${gone}` };
    const endRss = rssKiB(pid);
    const cpu = cpuMs(pid) - cpu0;
    await sleep(10_000);
    return { peakRss, endRss, laterRss: rssKiB(pid), peakFds, cpu, latency, note };
  } finally {
    clearInterval(timer);
  }
}

/** Sequential guest-ping round trips; returns [p50, p99] in ms. */
async function pingLatency(c: LineClient, n: number): Promise<[number, number]> {
  const times: number[] = [];
  for (let i = 0; i < n; i++) {
    const t0 = process.hrtime.bigint();
    await c.call('{"execute":"guest-ping"}');
    times.push(Number(process.hrtime.bigint() - t0) / 1e6);
  }
  times.sort((a, b) => a - b);
  return [times[Math.floor(n / 2)], times[Math.min(n - 1, Math.floor(n * 0.99))]];
}

/** Time for a new client to get its guest-ping answered (after a resync), in ms; NaN if the agent has quit. */
async function recovery(agent: Agent): Promise<number> {
  const t0 = Date.now();
  for (;;) {
    try {
      const c = await LineClient.connect(agent.sock);
      c.socket.write(Buffer.from([0xff]));
      c.socket.write('{"execute":"guest-sync-delimited","arguments":{"id":77}}');
      while (!(await c.next(30_000)).endsWith('{"return": 77}'));
      await c.call('{"execute":"guest-ping"}');
      c.close();
      return Date.now() - t0;
    } catch (err) {
      // qemu-ga quits (status 0) when a read fails, e.g. ECONNRESET from a client that left with replies unread.
      if (agent.child.exitCode !== null || agent.child.signalCode !== null) return NaN;
      if (Date.now() - t0 > 60_000) throw err;
      await sleep(50);
    }
  }
}

const scenarios: Record<string, (agent: Agent) => Promise<[number, string]>> = {
  async flood(agent) {
    const s = await connectRaw(agent.sock);
    const request = Buffer.from('{"execute":"guest-info"}'.repeat(1000));
    const taken = await writeUntilStalled(s, () => request, { forMs: Number(opt['flood-s']) * 1000 });
    s.destroy();
    return [await recovery(agent), `${(taken / 1024).toFixed(0)} kB of requests taken in; latency: reconnect to first reply`];
  },

  async behind(agent) {
    const file = path.join(agent.dir, 'big');
    fs.writeFileSync(file, Buffer.alloc(48 * MiB, 0x5a));
    const c = await LineClient.connect(agent.sock);
    const r = JSON.parse(await c.call(`{"execute":"guest-file-open","arguments":{"path":"${file}"}}`)).return;
    const w = JSON.parse(await c.call('{"execute":"guest-file-open","arguments":{"path":"/dev/null","mode":"w"}}')).return;
    c.close();
    const s = await connectRaw(agent.sock);
    s.write(`{"execute":"guest-file-read","arguments":{"handle":${r},"count":${48 * MiB}}}`);
    const big = Buffer.from(`{"execute":"guest-file-write","arguments":{"handle":${w},"buf-b64":"${Buffer.alloc(6 * MiB).toString('base64')}"}}`);
    let sent = 0;
    const taken = await writeUntilStalled(s, () => (sent++ < 40 ? big : undefined), { stallMs: 2000 });
    s.destroy();
    return [await recovery(agent), `${(taken / 1024).toFixed(0)} kB of ${((40 * big.length) / MiB).toFixed(0)} MiB taken in; latency: reconnect to first reply`];
  },

  async conns(agent) {
    const served = await LineClient.connect(agent.sock);
    await served.call('{"execute":"guest-ping"}');
    const crowd: net.Socket[] = [];
    let refused = 0;
    await Promise.all(
      Array.from({ length: 400 }, () => {
        const s = net.connect(agent.sock);
        crowd.push(s);
        return new Promise<void>((res) => {
          s.once('connect', () => res());
          s.once('error', () => (refused++, res()));
        });
      }),
    );
    const [p50, p99] = await pingLatency(served, 500);
    const file = path.join(agent.dir, 'f');
    fs.writeFileSync(file, 'x');
    const opened = (await served.call(`{"execute":"guest-file-open","arguments":{"path":"${file}"}}`)).startsWith('{"return"');
    for (const s of crowd) s.destroy();
    served.close();
    return [p50, `p99 ${p99.toFixed(3)} ms; ${refused} connects refused; served client's file-open ${opened ? 'ok' : 'FAILED'}`];
  },

  async slow(agent) {
    const file = path.join(agent.dir, 'big');
    fs.writeFileSync(file, Buffer.alloc(48 * MiB, 0x5a));
    const c = await LineClient.connect(agent.sock);
    const r = JSON.parse(await c.call(`{"execute":"guest-file-open","arguments":{"path":"${file}"}}`)).return;
    c.close();
    const s = await connectRaw(agent.sock);
    s.pause();
    s.write(`{"execute":"guest-file-read","arguments":{"handle":${r},"count":${48 * MiB}}}`);
    let got = 0;
    const end = Date.now() + Number(opt['slow-s']) * 1000;
    while (Date.now() < end) {
      for (let chunk = s.read(); chunk !== null && got < (2 * MiB * (Number(opt['slow-s']) * 1000 - (end - Date.now()))) / 1000; chunk = s.read()) got += chunk.length;
      await sleep(50);
    }
    s.destroy();
    return [await recovery(agent), `${(got / MiB).toFixed(1)} MiB taken by the reader; latency: reconnect to first reply`];
  },

  async exec(agent) {
    const c = await LineClient.connect(agent.sock);
    const n = Number(opt.execs);
    const t0 = Date.now();
    c.socket.write('{"execute":"guest-exec","arguments":{"path":"/bin/echo","arg":["hello"],"capture-output":true}}'.repeat(n));
    const pids: number[] = [];
    for (let i = 0; i < n; i++) {
      const line = await c.next();
      if (line.startsWith('{"return"')) pids.push(JSON.parse(line).return.pid);
    }
    let exited = 0;
    for (const pid of pids) {
      for (;;) {
        if ((await c.call(`{"execute":"guest-exec-status","arguments":{"pid":${pid}}}`)).includes('"exited": true')) break;
        await sleep(5);
      }
      exited++;
    }
    c.close();
    return [(Date.now() - t0) / n, `${pids.length}/${n} started, ${exited} reaped; latency: ms per exec`];
  },

  async soak(agent) {
    const c = await LineClient.connect(agent.sock);
    const n = Number(opt.soak);
    const deadline = Date.now() + Number(opt['soak-s']) * 1000;
    const batch = '{"execute":"guest-ping"}'.repeat(1000);
    let done = 0;
    const t0 = Date.now();
    while (done < n && Date.now() < deadline) {
      c.socket.write(batch);
      for (let i = 0; i < 1000; i++) await c.next();
      done += 1000;
    }
    const rate = done / ((Date.now() - t0) / 1000);
    const [p50, p99] = await pingLatency(c, 2000);
    c.close();
    return [p50, `${done} pings at ${rate.toFixed(0)}/s; p99 ${p99.toFixed(3)} ms`];
  },
};

async function measure(command: readonly string[]): Promise<Record<string, Figures>> {
  const out: Record<string, Figures> = {};
  for (const [name, work] of Object.entries(scenarios)) {
    if (opt.scenarios !== undefined && !opt.scenarios.split(',').includes(name)) continue;
    const agent = await Agent.start(command);
    current = agent;
    try {
      await sleep(500);
      out[name] = await observe(agent.child.pid as number, () => work(agent));
      console.error(`${path.basename(command[command.length - 1])} ${name}: ${JSON.stringify(out[name])}`);
    } finally {
      await agent.stop();
      agent.cleanup();
    }
  }
  return out;
}

async function main(): Promise<void> {
  if (!haveQemuGa && opt.only !== 'qga-ts') {
    console.error('qemu-ga is not installed: apt-get install qemu-guest-agent (or --only qga-ts)');
    process.exit(2);
  }
  const ours = opt.only === 'qemu-ga' ? {} : await measure(QGA_TS);
  const ref = opt.only === 'qga-ts' ? null : await measure([QEMU_GA]);
  const mb = (k: number) => (k / 1024).toFixed(1);
  const ratio = (a: number, b: number | undefined) => (b === undefined || b === 0 ? '-' : (a / b).toFixed(2));
  const rows = [];
  const none: Figures = { peakRss: NaN, endRss: NaN, laterRss: NaN, peakFds: NaN, cpu: NaN, latency: NaN, note: '-' };
  const names = Object.keys(scenarios).filter((n) => opt.scenarios === undefined || opt.scenarios.split(',').includes(n));
  for (const name of names) {
    const a = ours[name] ?? none;
    const b = ref?.[name];
    rows.push(
      { scenario: name, metric: 'peak RSS (MB)', 'qga-ts': mb(a.peakRss), 'qemu-ga': b ? mb(b.peakRss) : '-', ratio: ratio(a.peakRss, b?.peakRss) },
      { scenario: name, metric: 'RSS at end (MB)', 'qga-ts': mb(a.endRss), 'qemu-ga': b ? mb(b.endRss) : '-', ratio: ratio(a.endRss, b?.endRss) },
      { scenario: name, metric: 'RSS 10 s later (MB)', 'qga-ts': mb(a.laterRss), 'qemu-ga': b ? mb(b.laterRss) : '-', ratio: ratio(a.laterRss, b?.laterRss) },
      { scenario: name, metric: 'peak fds', 'qga-ts': String(a.peakFds), 'qemu-ga': b ? String(b.peakFds) : '-', ratio: ratio(a.peakFds, b?.peakFds) },
      { scenario: name, metric: 'CPU (ms)', 'qga-ts': a.cpu.toFixed(0), 'qemu-ga': b ? b.cpu.toFixed(0) : '-', ratio: ratio(a.cpu, b?.cpu) },
      { scenario: name, metric: 'latency (ms)', 'qga-ts': a.latency.toFixed(3), 'qemu-ga': b ? b.latency.toFixed(3) : '-', ratio: ratio(a.latency, b?.latency) },
    );
  }
  console.table(rows);
  for (const name of names) console.log(`${name}: qga-ts: ${(ours[name] ?? none).note}${ref ? `\n${' '.repeat(name.length)}  qemu-ga: ${ref[name].note}` : ''}`);
}

await main();
