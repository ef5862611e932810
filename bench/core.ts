// Core benchmark: startup to first ping, sequential ping latency, pipelined pings — qga-ts and qemu-ga
// side by side in one run, with ratios. Usage: npm run bench [-- --pings N --pipelined N --starts N]
import * as net from 'node:net';
import { parseArgs } from 'node:util';
import { Agent, QEMU_GA, QGA_TS, haveQemuGa } from '../test/support/agent.ts';

const { values: opt } = parseArgs({
  options: {
    starts: { type: 'string', default: '10' },
    pings: { type: 'string', default: '20000' },
    pipelined: { type: 'string', default: '50000' },
    rounds: { type: 'string', default: '3' },
  },
});

const PING = Buffer.from('{"execute":"guest-ping"}');
const PONG_LEN = '{"return": {}}\n'.length;

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)];
}

function percentile(xs: number[], p: number): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor((p / 100) * s.length))];
}

/** Spawn → first guest-ping answered, in ms. */
async function startup(command: readonly string[]): Promise<number> {
  const t0 = process.hrtime.bigint();
  const agent = await Agent.start(command);
  const ms = Number(process.hrtime.bigint() - t0) / 1e6;
  await agent.stop();
  agent.cleanup();
  return ms;
}

function connect(sock: string): Promise<net.Socket> {
  return new Promise((resolve, reject) => {
    const s = net.connect(sock, () => resolve(s));
    s.once('error', reject);
    s.setNoDelay(true);
  });
}

/** Sequential round trips: one ping, wait for its line, next. Returns µs per round trip. */
async function latency(sock: string, n: number): Promise<number[]> {
  const s = await connect(sock);
  const times: number[] = [];
  let pending = 0;
  let t0 = 0n;
  let done: () => void = () => {};
  const finished = new Promise<void>((r) => (done = r));
  let i = 0;
  const warmup = 1000;
  const fire = () => {
    t0 = process.hrtime.bigint();
    s.write(PING);
  };
  s.on('data', (d: Buffer) => {
    pending += d.length;
    while (pending >= PONG_LEN) {
      pending -= PONG_LEN;
      if (i >= warmup) times.push(Number(process.hrtime.bigint() - t0) / 1e3);
      i++;
      if (i < n + warmup) fire();
      else done();
    }
  });
  fire();
  await finished;
  s.destroy();
  return times;
}

/** n pings written without waiting; responses per second. */
async function pipelined(sock: string, n: number): Promise<number> {
  const s = await connect(sock);
  const batch = Buffer.concat(Array.from({ length: 1000 }, () => PING));
  let got = 0;
  const want = n * PONG_LEN;
  const t0 = process.hrtime.bigint();
  const finished = new Promise<void>((resolve) => {
    s.on('data', (d: Buffer) => {
      got += d.length;
      if (got >= want) resolve();
    });
  });
  for (let sent = 0; sent < n; sent += 1000) {
    if (!s.write(batch)) await new Promise((r) => s.once('drain', r));
  }
  await finished;
  const secs = Number(process.hrtime.bigint() - t0) / 1e9;
  s.destroy();
  return n / secs;
}

interface Result {
  startupMs: number;
  p50: number;
  p99: number;
  pipelinedPerSec: number;
}

async function measure(command: readonly string[]): Promise<Result> {
  const starts: number[] = [];
  for (let i = 0; i < Number(opt.starts); i++) starts.push(await startup(command));
  const agent = await Agent.start(command);
  try {
    const lat = await latency(agent.sock, Number(opt.pings));
    const rates: number[] = [];
    for (let r = 0; r < Number(opt.rounds); r++) rates.push(await pipelined(agent.sock, Number(opt.pipelined)));
    return { startupMs: median(starts), p50: percentile(lat, 50), p99: percentile(lat, 99), pipelinedPerSec: median(rates) };
  } finally {
    await agent.stop();
    agent.cleanup();
  }
}

const fmt = (x: number, d = 1) => x.toFixed(d);

async function main(): Promise<void> {
  if (!haveQemuGa) {
    console.error('qemu-ga is not installed: apt-get install qemu-guest-agent');
    process.exit(2);
  }
  const ours = await measure(QGA_TS);
  const ref = await measure([QEMU_GA]);
  const rows: [string, string, string, string][] = [
    ['startup to first ping (ms, median)', fmt(ours.startupMs), fmt(ref.startupMs), fmt(ours.startupMs / ref.startupMs, 2)],
    ['ping p50 (µs)', fmt(ours.p50), fmt(ref.p50), fmt(ours.p50 / ref.p50, 2)],
    ['ping p99 (µs)', fmt(ours.p99), fmt(ref.p99), fmt(ours.p99 / ref.p99, 2)],
    ['pipelined pings (req/s)', fmt(ours.pipelinedPerSec, 0), fmt(ref.pipelinedPerSec, 0), fmt(ours.pipelinedPerSec / ref.pipelinedPerSec, 2)],
  ];
  console.table(rows.map(([metric, qgaTs, qemuGa, ratio]) => ({ metric, 'qga-ts': qgaTs, 'qemu-ga': qemuGa, 'ratio (qga-ts / qemu-ga)': ratio })));
}

await main();
