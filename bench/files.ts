// File-transfer and exec benchmark: qga-ts and qemu-ga side by side in one run, with ratios.
//
//   tsx bench/files.ts [--file-mib 256] [--small-mib 64] [--exec-runs 50] [--json out.json]
//                      [--agent 'node dist/main.js']   (the qga-ts command; default dist/main.js)
//
// - read: a random file read with count = 48 MiB (the maximum) and with count = 4 KiB;
// - write: the same data written in 48 MB (48×10^6) chunks — qemu-ga rejects a 48 MiB write,
//   whose base64 exceeds its 64 MiB token limit — and in 4 KiB chunks, then flushed and closed;
// - peak RSS: VmHWM of the agent process, reset (clear_refs 5) before each 48 MB phase;
// - exec: guest-exec of `true`, then guest-exec-status back to back until exited; median ms;
// - agent CPU per 4 KiB request: utime + stime of the agent process (all its threads) over the
//   phase, per request (10 ms ticks: use --small-mib 32 or more). A 4 KiB round trip is mostly
//   two wake-ups on a small VM; this shows the agent's own cost next to the MB/s figures.
// MB/s is 10^6 payload bytes per second, counting only the time from sending a request to
// receiving the last byte of its reply (when the chunk holding its newline arrives, before the
// pieces are joined): the client's own base64 and hashing work is left out
// (it is identical for both agents and would otherwise dominate at 48 MB). Each read result is
// checked by sha256, each written file on disk.
// The 4 KiB phases cover the first --small-mib MiB (65536 round trips per 256 MiB otherwise).
import { createHash, randomBytes } from 'node:crypto';
import * as fs from 'node:fs';
import * as net from 'node:net';
import * as os from 'node:os';
import * as path from 'node:path';
import { parseArgs } from 'node:util';
import { Agent, QEMU_GA, QGA_TS, haveQemuGa } from '../test/support/agent.ts';

const { values: opt } = parseArgs({
  options: {
    'file-mib': { type: 'string', default: '256' },
    'small-mib': { type: 'string', default: '64' },
    'exec-runs': { type: 'string', default: '50' },
    json: { type: 'string' },
    agent: { type: 'string' },
  },
});

const FILE_BYTES = Number(opt['file-mib']) * 1024 * 1024;
const SMALL_BYTES = Math.min(FILE_BYTES, Number(opt['small-mib']) * 1024 * 1024);
const EXEC_RUNS = Number(opt['exec-runs']);
const BIG_READ = 48 * 1024 * 1024;
const BIG_WRITE = 48_000_000;
const SMALL = 4096;

/** One connection; requests strictly one at a time; replies as raw lines (no O(n²) buffering). */
class LineClient {
  private parts: Buffer[] = [];
  private waiting: ((line: Buffer) => void) | null = null;
  private lines: Buffer[] = [];

  private constructor(private readonly sock: net.Socket) {
    sock.on('data', (d: Buffer) => this.onData(d));
  }

  static connect(p: string): Promise<LineClient> {
    return new Promise((resolve, reject) => {
      const s = net.connect(p, () => resolve(new LineClient(s)));
      s.once('error', reject);
      s.setNoDelay(true);
    });
  }

  /** When the last byte of the latest line arrived (before its pieces were joined). */
  lastLineAt = 0;

  private onData(d: Buffer): void {
    let start = 0;
    for (let nl = d.indexOf(10); nl >= 0; nl = d.indexOf(10, start)) {
      this.lastLineAt = performance.now();
      this.parts.push(d.subarray(start, nl));
      const line = this.parts.length === 1 ? this.parts[0] : Buffer.concat(this.parts);
      this.parts = [];
      start = nl + 1;
      if (this.waiting) {
        const w = this.waiting;
        this.waiting = null;
        w(line);
      } else this.lines.push(line);
    }
    if (start < d.length) this.parts.push(d.subarray(start));
  }

  request(req: string | Buffer): Promise<Buffer> {
    this.sock.write(req);
    const ready = this.lines.shift();
    if (ready) return Promise.resolve(ready);
    return new Promise((resolve) => (this.waiting = resolve));
  }

  async json(execute: string, args?: Record<string, unknown>): Promise<any> {
    const line = await this.request(JSON.stringify(args ? { execute, arguments: args } : { execute }));
    const v = JSON.parse(line.toString('utf8'));
    if (v.error) throw new Error(`${execute}: ${v.error.desc}`);
    return v.return;
  }

  close(): void {
    this.sock.destroy();
  }
}

/** Pulls count, buf-b64 and eof out of a guest-file-read reply without JSON.parse on 64 MiB. */
function parseRead(line: Buffer): { data: Buffer; eof: boolean } {
  const key = Buffer.from('"buf-b64": "');
  const at = line.indexOf(key);
  if (at < 0) throw new Error(`guest-file-read: ${line.toString('utf8', 0, 300)}`);
  const s = at + key.length;
  const e = line.indexOf(34, s);
  const data = Buffer.from(line.toString('latin1', s, e), 'base64');
  const eof = line.indexOf('"eof": true') >= 0;
  return { data, eof };
}

function status(pid: number): Record<string, number> {
  const out: Record<string, number> = {};
  for (const l of fs.readFileSync(`/proc/${pid}/status`, 'latin1').split('\n')) {
    const m = /^(VmHWM|VmRSS):\s+(\d+) kB/.exec(l);
    if (m) out[m[1]] = Number(m[2]) * 1024;
  }
  return out;
}

/** CPU time (user + system, all threads) the process has used, in ms (clock-tick resolution). */
function cpuMs(pid: number): number {
  const f = fs.readFileSync(`/proc/${pid}/stat`, 'latin1').split(') ')[1]!.split(' ');
  return ((Number(f[11]) + Number(f[12])) * 1000) / 100;
}

function resetPeak(pid: number): boolean {
  try {
    fs.writeFileSync(`/proc/${pid}/clear_refs`, '5');
    return true;
  } catch {
    return false;
  }
}

interface Side {
  name: string;
  agent: Agent;
  client: LineClient;
  pid: number;
}

async function readPhase(side: Side, file: string, count: number, limit: number, wantSha: string): Promise<number> {
  const h = await side.client.json('guest-file-open', { path: file, mode: 'r' });
  const hash = createHash('sha256');
  const req = Buffer.from(`{"execute":"guest-file-read","arguments":{"handle":${h},"count":${count}}}`);
  let total = 0;
  let secs = 0;
  while (total < limit) {
    const t0 = performance.now();
    const line = await side.client.request(req);
    secs += (side.client.lastLineAt - t0) / 1000;
    const { data, eof } = parseRead(line);
    hash.update(data);
    total += data.length;
    if (eof || data.length === 0) break;
  }
  await side.client.json('guest-file-close', { handle: h });
  if (total !== limit || hash.digest('hex') !== wantSha) throw new Error(`${side.name}: read of ${count}-byte chunks returned wrong data (${total} bytes)`);
  return total / 1e6 / secs;
}

async function writePhase(side: Side, dir: string, data: Buffer, chunk: number): Promise<number> {
  const out = path.join(dir, `out-${side.name}-${chunk}`);
  const h = await side.client.json('guest-file-open', { path: out, mode: 'wb' });
  let secs = 0;
  for (let off = 0; off < data.length; off += chunk) {
    const b64 = data.subarray(off, Math.min(off + chunk, data.length)).toString('base64');
    const req = Buffer.from(`{"execute":"guest-file-write","arguments":{"handle":${h},"buf-b64":"${b64}"}}`, 'latin1');
    const t0 = performance.now();
    const line = await side.client.request(req);
    secs += (side.client.lastLineAt - t0) / 1000;
    if (line.indexOf('"return"') < 0) throw new Error(`${side.name}: write of ${chunk}-byte chunks failed: ${line.toString('utf8', 0, 300)}`);
  }
  const t0 = performance.now();
  await side.client.json('guest-file-flush', { handle: h });
  await side.client.json('guest-file-close', { handle: h });
  secs += (performance.now() - t0) / 1000;
  const onDisk = fs.readFileSync(out);
  fs.rmSync(out);
  if (!onDisk.equals(data)) throw new Error(`${side.name}: the written file differs from the data sent`);
  return data.length / 1e6 / secs;
}

async function execTrue(side: Side, runs: number): Promise<number> {
  const times: number[] = [];
  for (let i = 0; i < runs + 3; i++) {
    const t0 = performance.now();
    const { pid } = await side.client.json('guest-exec', { path: 'true' });
    const req = `{"execute":"guest-exec-status","arguments":{"pid":${pid}}}`;
    for (;;) {
      const st = JSON.parse((await side.client.request(req)).toString('utf8'));
      if (st.error) throw new Error(`${side.name}: guest-exec-status: ${st.error.desc}`);
      if (st.return.exited) break;
    }
    if (i >= 3) times.push(performance.now() - t0);
  }
  times.sort((a, b) => a - b);
  return times[Math.floor(times.length / 2)];
}

async function main(): Promise<void> {
  if (!haveQemuGa) {
    console.error('qemu-ga is not installed: apt-get install qemu-guest-agent');
    process.exit(2);
  }
  const oursCmd = opt.agent ? opt.agent.split(' ').filter((x) => x !== '') : QGA_TS;
  if (!opt.agent && !fs.existsSync(QGA_TS[1])) {
    console.error('dist/main.js is missing: npm run build');
    process.exit(2);
  }
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'qga-bench-files-'));
  const file = path.join(dir, 'data.bin');
  const data = randomBytes(FILE_BYTES);
  fs.writeFileSync(file, data);
  const small = path.join(dir, 'small.bin');
  fs.writeFileSync(small, data.subarray(0, SMALL_BYTES));
  const sha = createHash('sha256').update(data).digest('hex');
  const smallSha = createHash('sha256').update(data.subarray(0, SMALL_BYTES)).digest('hex');

  const sides: Side[] = [];
  for (const [name, cmd] of [
    ['qemu-ga', [QEMU_GA]],
    ['qga-ts', oursCmd],
  ] as const) {
    const agent = await Agent.start(cmd);
    const client = await LineClient.connect(agent.sock);
    sides.push({ name, agent, client, pid: agent.child.pid as number });
  }
  const result: Record<string, Record<string, number>> = {};
  for (const s of sides) result[s.name] = { idle_rss_MB: (status(s.pid).VmRSS ?? 0) / 1e6 };
  try {
    // Each phase runs for both agents before the next one starts.
    for (const s of sides) {
      const reset = resetPeak(s.pid);
      result[s.name].read_48MiB_MBps = await readPhase(s, file, BIG_READ, FILE_BYTES, sha);
      result[s.name].peak_rss_read48_MB = status(s.pid).VmHWM / 1e6;
      if (!reset) result[s.name].peak_rss_is_lifetime = 1;
    }
    for (const s of sides) {
      resetPeak(s.pid);
      result[s.name].write_48MB_MBps = await writePhase(s, dir, data, BIG_WRITE);
      result[s.name].peak_rss_write48_MB = status(s.pid).VmHWM / 1e6;
    }
    for (const s of sides) {
      const c0 = cpuMs(s.pid);
      result[s.name].read_4KiB_MBps = await readPhase(s, small, SMALL, SMALL_BYTES, smallSha);
      result[s.name].cpu_read_4KiB_us = ((cpuMs(s.pid) - c0) * 1000) / (SMALL_BYTES / SMALL);
    }
    for (const s of sides) {
      const c0 = cpuMs(s.pid);
      result[s.name].write_4KiB_MBps = await writePhase(s, dir, data.subarray(0, SMALL_BYTES), SMALL);
      result[s.name].cpu_write_4KiB_us = ((cpuMs(s.pid) - c0) * 1000) / (SMALL_BYTES / SMALL);
    }
    for (const s of sides) result[s.name].exec_true_ms = await execTrue(s, EXEC_RUNS);
    for (const s of sides) result[s.name].rss_after_MB = (status(s.pid).VmRSS ?? 0) / 1e6;
  } finally {
    for (const s of sides) {
      s.client.close();
      await s.agent.stop();
      s.agent.cleanup();
    }
    fs.rmSync(dir, { recursive: true, force: true });
  }

  const ours = result['qga-ts'];
  const ref = result['qemu-ga'];
  const peakOurs = Math.max(ours.peak_rss_read48_MB, ours.peak_rss_write48_MB);
  const peakRef = Math.max(ref.peak_rss_read48_MB, ref.peak_rss_write48_MB);
  const rows: [string, number, number, number, string][] = [
    ['read, 48 MiB chunks (MB/s)', ours.read_48MiB_MBps, ref.read_48MiB_MBps, ours.read_48MiB_MBps / ref.read_48MiB_MBps, '>= 5'],
    ['write, 48 MB chunks (MB/s)', ours.write_48MB_MBps, ref.write_48MB_MBps, ours.write_48MB_MBps / ref.write_48MB_MBps, '>= 5'],
    ['read, 4 KiB chunks (MB/s)', ours.read_4KiB_MBps, ref.read_4KiB_MBps, ours.read_4KiB_MBps / ref.read_4KiB_MBps, '>= 1'],
    ['write, 4 KiB chunks (MB/s)', ours.write_4KiB_MBps, ref.write_4KiB_MBps, ours.write_4KiB_MBps / ref.write_4KiB_MBps, '>= 1'],
    ['agent CPU per 4 KiB read (us)', ours.cpu_read_4KiB_us, ref.cpu_read_4KiB_us, ours.cpu_read_4KiB_us / ref.cpu_read_4KiB_us, ''],
    ['agent CPU per 4 KiB write (us)', ours.cpu_write_4KiB_us, ref.cpu_write_4KiB_us, ours.cpu_write_4KiB_us / ref.cpu_write_4KiB_us, ''],
    ['peak RSS, 48 MiB reads (MB)', ours.peak_rss_read48_MB, ref.peak_rss_read48_MB, ours.peak_rss_read48_MB / ref.peak_rss_read48_MB, ''],
    ['peak RSS, 48 MB writes (MB)', ours.peak_rss_write48_MB, ref.peak_rss_write48_MB, ours.peak_rss_write48_MB / ref.peak_rss_write48_MB, ''],
    ['peak RSS, 48 MB transfers (MB)', peakOurs, peakRef, peakOurs / peakRef, '<= 0.8'],
    ['guest-exec true until exited (ms, median)', ours.exec_true_ms, ref.exec_true_ms, ours.exec_true_ms / ref.exec_true_ms, '<= 2'],
    ['RSS idle (MB)', ours.idle_rss_MB, ref.idle_rss_MB, ours.idle_rss_MB / ref.idle_rss_MB, ''],
    ['RSS after the workloads (MB)', ours.rss_after_MB, ref.rss_after_MB, ours.rss_after_MB / ref.rss_after_MB, ''],
  ];
  console.log(`file ${FILE_BYTES / 1048576} MiB, 4 KiB phases over ${SMALL_BYTES / 1048576} MiB, exec runs ${EXEC_RUNS}, load ${os.loadavg()[0].toFixed(2)}`);
  console.table(
    rows.map(([metric, a, b, r, target]) => ({
      metric,
      'qga-ts': a.toFixed(a < 10 ? 2 : 1),
      'qemu-ga': b.toFixed(b < 10 ? 2 : 1),
      'ratio (qga-ts / qemu-ga)': r.toFixed(2),
      target,
    })),
  );
  if (opt.json) fs.writeFileSync(opt.json, JSON.stringify({ fileBytes: FILE_BYTES, smallBytes: SMALL_BYTES, result }, null, 2));
}

await main();
