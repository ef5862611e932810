// The standalone executable beside the bundled JavaScript (node dist/main.js) and qemu-ga: size,
// time from spawn to the first guest-ping answer on a unix socket, and idle RSS, in one run.
// Usage: npm run package, then tsx bench/standalone.ts [--starts N]
import { spawn, type ChildProcess } from 'node:child_process';
import * as fs from 'node:fs';
import * as net from 'node:net';
import * as os from 'node:os';
import * as path from 'node:path';
import { parseArgs } from 'node:util';
import { QEMU_GA, QGA_TS, REPO, haveQemuGa } from '../test/support/agent.ts';

const { values: opt } = parseArgs({ options: { starts: { type: 'string', default: '10' } } });
const version = JSON.parse(fs.readFileSync(path.join(REPO, 'package.json'), 'utf8')).version as string;
const SEA = path.join(REPO, `dist/pkg/qga-ts-${version}-linux-x64`);
if (!fs.existsSync(SEA)) throw new Error(`${SEA} is missing: run npm run package first`);

/** One guest-ping answered on `sock`, or a rejection if nothing listens yet. */
function pingOnce(sock: string): Promise<void> {
  return new Promise((resolve, reject) => {
    const s = net.connect(sock, () => s.write('{"execute":"guest-ping"}'));
    s.once('data', () => (s.destroy(), resolve()));
    s.once('error', reject);
  });
}

async function firstAnswer(command: readonly string[]): Promise<{ ms: number; child: ChildProcess; dir: string }> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'qga-bench-'));
  const sock = path.join(dir, 's');
  const extra = command[0] === QEMU_GA ? ['-f', path.join(dir, 'pid')] : [];
  const t0 = process.hrtime.bigint();
  const child = spawn(command[0], [...command.slice(1), ...extra, '-m', 'unix-listen', '-p', sock, '-t', dir], { stdio: 'ignore' });
  for (;;) {
    try {
      await pingOnce(sock);
      return { ms: Number(process.hrtime.bigint() - t0) / 1e6, child, dir };
    } catch {
      if (child.exitCode !== null) throw new Error(`${command.join(' ')} exited ${child.exitCode}`);
      await new Promise((r) => setTimeout(r, 2));
    }
  }
}

const rssKiB = (pid: number) => Number(/^VmRSS:\s+(\d+)/m.exec(fs.readFileSync(`/proc/${pid}/status`, 'utf8'))?.[1]);
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];

async function measure(name: string, command: readonly string[]) {
  const times: number[] = [];
  let rss = 0;
  for (let i = 0; i < Number(opt.starts); i++) {
    const { ms, child, dir } = await firstAnswer(command);
    times.push(ms);
    if (i === 0) {
      await new Promise((r) => setTimeout(r, 1000)); // idle: startup garbage collected or not, as a guest would see it
      rss = rssKiB(child.pid!);
    }
    const exited = new Promise((r) => child.once('exit', r));
    child.kill('SIGTERM');
    await exited;
    fs.rmSync(dir, { recursive: true, force: true });
  }
  return { name, firstAnswerMs: median(times), idleRssMiB: rss / 1024 };
}

const rows = [await measure('qga-ts standalone', [SEA]), await measure('qga-ts node dist/main.js', QGA_TS)];
if (haveQemuGa) rows.push(await measure('qemu-ga', [QEMU_GA]));
const mib = (f: string) => (fs.statSync(f).size / 2 ** 20).toFixed(1);
console.log(`sizes: ${path.basename(SEA)} ${mib(SEA)} MiB; dist/agent.js+cache+main.js ${(['agent.js', 'agent.js.cache', 'main.js'].reduce((a, f) => a + fs.statSync(path.join(REPO, 'dist', f)).size, 0) / 2 ** 20).toFixed(2)} MiB (+ node)`);
for (const f of fs.readdirSync(path.join(REPO, 'dist/pkg')).filter((f) => f.endsWith('.deb'))) console.log(`       ${f} ${mib(path.join(REPO, 'dist/pkg', f))} MiB`);
const base = rows.at(-1)!;
console.log(`${'agent'.padEnd(26)} ${'first answer (median of ' + opt.starts + ')'.padEnd(0)}  idle RSS`);
for (const r of rows) {
  console.log(`${r.name.padEnd(26)} ${r.firstAnswerMs.toFixed(1).padStart(8)} ms (x${(r.firstAnswerMs / base.firstAnswerMs).toFixed(1)})   ${r.idleRssMiB.toFixed(1).padStart(6)} MiB (x${(r.idleRssMiB / base.idleRssMiB).toFixed(1)})`);
}
