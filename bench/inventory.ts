// guest-get-fsinfo and guest-network-get-interfaces at scale, qga-ts against Debian's qemu-ga side by side.
//
//   npx tsx bench/inventory.ts [--mounts 1000] [--ifaces 500] [--calls 30] [--json out.json]
//                              [--only 'qga-ts,qemu-ga 7.2,qemu-ga newest']
//
// Needs root. The many mounts and interfaces exist only inside a private mount and network namespace
// (the script re-executes itself under `unshare -m -n --propagation private`), so the machine is not
// changed: N bind mounts of one directory of the root filesystem, and N/2 veth pairs (N interfaces),
// each with an IPv4 and an IPv6 address, plus lo. Every agent runs in that namespace:
//   qga-ts          node dist/main.js (build first)
//   qemu-ga 7.2     /usr/sbin/qemu-ga: lists every bind mount (no de-duplication before 10.2)
//   qemu-ga newest  /var/tmp/qga-newest/qemu-ga-newest if present (get-qemu-ga-newest.sh): de-duplicates
//                   like 10.2 and qga-ts, so its fsinfo answer is the same as ours
// Each agent gets a warm-up call, then --calls sequential calls per command; p50 and mean are printed with
// the ratio qga-ts / reference (≤ 1 means qga-ts is at least as fast).
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { Agent, QEMU_GA, QGA_TS, haveQemuGa } from '../test/support/agent.ts';

const NEWEST = '/var/tmp/qga-newest/qemu-ga-newest';

function arg(name: string, dflt: number): number {
  const i = process.argv.indexOf(name);
  return i > 0 ? Number(process.argv[i + 1]) : dflt;
}
const MOUNTS = arg('--mounts', 1000);
const IFACES = arg('--ifaces', 500);
const CALLS = arg('--calls', 30);
const jsonAt = process.argv.indexOf('--json');
const JSON_OUT = jsonAt > 0 ? process.argv[jsonAt + 1] : undefined;
const onlyAt = process.argv.indexOf('--only');
const ONLY = onlyAt > 0 ? process.argv[onlyAt + 1].split(',') : undefined;

function sh(cmd: string, input?: string): void {
  const r = spawnSync('sh', ['-c', cmd], { input, stdio: ['pipe', 'inherit', 'inherit'] });
  if (r.status !== 0) throw new Error(`failed (${r.status}): ${cmd}`);
}

function setUp(): string {
  const base = fs.mkdtempSync('/var/tmp/qga-bench-');
  fs.mkdirSync(path.join(base, 'src'));
  // Mounts: one directory of the root filesystem bound N times (same device: 7.2 lists each one).
  const script: string[] = [];
  for (let i = 0; i < MOUNTS; i++) {
    fs.mkdirSync(path.join(base, `m${i}`));
    script.push(`mount --bind ${base}/src ${base}/m${i}`);
  }
  sh('sh -s', script.join('\n') + '\n');
  // Interfaces: veth pairs in this network namespace, each end with one IPv4 and one IPv6 address.
  const ip: string[] = ['link set lo up'];
  for (let i = 0; i < IFACES / 2; i++) ip.push(`link add qa${i} type veth peer name qb${i}`);
  for (let i = 0; i < IFACES / 2; i++) {
    for (const [end, k] of [['qa', 0], ['qb', 1]] as const) {
      const n = i * 2 + k;
      ip.push(`addr add 10.${(n >> 8) & 255}.${n & 255}.1/24 dev ${end}${i}`);
      ip.push(`addr add fd00:${n.toString(16)}::1/64 dev ${end}${i} nodad`);
      ip.push(`link set ${end}${i} up`);
    }
  }
  sh('ip -batch -', ip.join('\n') + '\n');
  return base;
}

async function call(agent: Agent, command: string): Promise<{ ms: number; bytes: number }> {
  const c = await agent.connect();
  try {
    await c.resync();
    const t0 = performance.now();
    c.send(`{"execute":"${command}"}\n`);
    const buf = await c.waitFor((b) => b.includes(10), 60_000);
    return { ms: performance.now() - t0, bytes: buf.length };
  } finally {
    c.close();
  }
}

async function measure(agent: Agent, command: string): Promise<{ p50: number; mean: number; bytes: number }> {
  const c = await agent.connect();
  await c.resync();
  const times: number[] = [];
  let bytes = 0;
  for (let i = 0; i <= CALLS; i++) {
    const t0 = performance.now();
    c.send(`{"execute":"${command}"}\n`);
    const buf = await c.waitFor((b) => b.includes(10), 60_000);
    const ms = performance.now() - t0;
    bytes = buf.indexOf(10) + 1;
    // consume exactly one line
    await c.lines(1, 60_000);
    if (i > 0) times.push(ms); // the first call is the warm-up
  }
  c.close();
  times.sort((a, b) => a - b);
  return { p50: times[Math.floor(times.length / 2)], mean: times.reduce((a, b) => a + b, 0) / times.length, bytes };
}

async function main(): Promise<void> {
  if (process.env.QGA_BENCH_INSIDE !== '1') {
    if (process.getuid?.() !== 0) throw new Error('needs root (private namespaces)');
    const r = spawnSync('unshare', ['-m', '-n', '--propagation', 'private', process.execPath, ...process.execArgv, ...process.argv.slice(1)], {
      stdio: 'inherit',
      env: { ...process.env, QGA_BENCH_INSIDE: '1' },
    });
    process.exit(r.status ?? 1);
  }
  const t0 = Date.now();
  const base = setUp();
  console.log(`namespace ready: ${MOUNTS} bind mounts, ${IFACES} interfaces + lo (${Date.now() - t0} ms)`);
  const agents: [string, readonly string[], string[]][] = [['qga-ts', QGA_TS, []]];
  if (haveQemuGa) agents.push(['qemu-ga 7.2', [QEMU_GA], []]);
  if (fs.existsSync(NEWEST)) agents.push(['qemu-ga newest', [NEWEST], []]);
  if (ONLY) agents.splice(0, agents.length, ...agents.filter(([label]) => ONLY.includes(label)));
  const results: Record<string, Record<string, { p50: number; mean: number; bytes: number }>> = {};
  try {
    for (const [label, cmd, args] of agents) {
      const dir = fs.mkdtempSync('/var/tmp/qga-bench-agent-');
      const extra = cmd[0] === NEWEST ? ['-f', path.join(dir, 'qemu-ga.pid')] : [];
      const agent = await Agent.start(cmd, { dir, args: [...extra, ...args] });
      try {
        results[label] = {};
        for (const command of ['guest-get-fsinfo', 'guest-network-get-interfaces']) {
          await call(agent, command);
          results[label][command] = await measure(agent, command);
        }
      } finally {
        await agent.stop();
        agent.cleanup();
      }
    }
  } finally {
    // The namespace (and its mounts and links) goes away with this process; remove the directories.
    spawnSync('sh', ['-c', `umount ${base}/m* 2>/dev/null; rm -rf ${base}`]);
  }
  const ours = results['qga-ts'] ?? results[agents[0][0]];
  console.log(`\n${CALLS} calls each (after one warm-up), milliseconds per call`);
  console.log('command                       agent            p50      mean     bytes    ratio p50 (qga-ts / agent)');
  for (const command of ['guest-get-fsinfo', 'guest-network-get-interfaces']) {
    for (const [label] of agents) {
      const r = results[label][command];
      const ratio = label === 'qga-ts' ? '' : (ours[command].p50 / r.p50).toFixed(2);
      console.log(
        `${command.padEnd(30)}${label.padEnd(16)}${r.p50.toFixed(2).padStart(7)}${r.mean.toFixed(2).padStart(10)}${String(r.bytes).padStart(10)}    ${ratio}`,
      );
    }
  }
  if (JSON_OUT) fs.writeFileSync(JSON_OUT, JSON.stringify({ mounts: MOUNTS, ifaces: IFACES, calls: CALLS, results }, null, 1));
}

await main();
