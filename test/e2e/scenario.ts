// The e2e scenario: every command, in a real guest, over QEMU's virtio-serial. The same steps run
// against qga-ts and against Debian's qemu-ga; each step records its exchanges for the differential.
//
// A step throws Skip (with the reason) when the agent answers "not currently supported", or when
// the reference shows a known qemu-ga bug; every other failure is a failure. Steps run in order and
// share the guest's state.
import * as assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { guestSha256, QgaClient, QgaCommandError, readGuestFileToBuffer, runGuestCommand, writeGuestFile } from '../../src/client/index.ts';
import { REPO, QEMU_GA } from '../support/agent.ts';
import { requestJson, Skip, skipIfUnsupported, type GuestChannel, type Reply } from './channel.ts';
import type { QmpEvent } from './qmp.ts';
import { GUEST_AGENT_DEVICE, GUEST_HOSTNAME, GUEST_RUN_DIR, NIC_IPV4, NIC_MAC, sleep, type Kernel, type Vm } from './vm.ts';

export type AgentKind = 'qga-ts' | 'qemu-ga';

export const FSFREEZE_HOOK = path.join(REPO, 'test/e2e/guest/fsfreeze-hook.sh');
export const E2E_USER = 'e2e-user';
export const E2E_USERS = [E2E_USER];

/** qga-ts's entry point: the checkout's build, or QGA_E2E_QGA_TS (another build, e.g. a patched one). */
export const QGA_TS_MAIN = path.resolve(process.env.QGA_E2E_QGA_TS ?? path.join(REPO, 'dist/main.js'));

/** Host paths the agent needs in the guest: the checkout (node_modules, the hook), node, the qga-ts build. */
export const HOST_PATHS = [REPO, path.dirname(path.dirname(process.execPath)), path.dirname(QGA_TS_MAIN)];

export function agentArgv(kind: AgentKind): string[] {
  const common = ['-m', 'virtio-serial', '-p', GUEST_AGENT_DEVICE, `-F${FSFREEZE_HOOK}`];
  if (process.env.QGA_E2E_VERBOSE === '1') common.push('-v');
  return kind === 'qga-ts' ? [process.execPath, QGA_TS_MAIN, ...common] : [QEMU_GA, ...common];
}

export interface StepContext {
  kind: AgentKind;
  vm: Vm;
  ch: GuestChannel;
  kernel: Kernel;
  note(text: string): void;
}

export interface Step {
  name: string;
  run(ctx: StepContext): Promise<void>;
  /** Values that legitimately differ between two guests or two runs, masked in both transcripts. */
  mask?: (line: string) => string;
  /** Turns qemu-ga 7.2's transcript line into the qemu-ga 10.2 line qga-ts targets (docs/compatibility.md §Versions). */
  to102?: (line: string) => string;
  /** A comparison of its own, instead of line-by-line equality. */
  compare?: (ours: string[], ref: string[]) => void;
  /** Why the step is not compared. */
  noDiff?: string;
  timeoutMs?: number;
}

// ---------------------------------------------------------------- helpers

const b64 = (s: string | Buffer): string => Buffer.from(s).toString('base64');
const unb64 = (s: string): string => Buffer.from(s, 'base64').toString('utf8');
const numbers = (line: string): string => line.replace(/-?\d+(\.\d+)?(e[-+]?\d+)?/g, 'N');
const maskKeys = (keys: string[]) => (line: string): string =>
  line.replace(new RegExp(`"(${keys.join('|')})": -?[\\d.e+-]+`, 'g'), '"$1": N');

function hostNowNs(): bigint {
  return BigInt(Date.now()) * 1_000_000n;
}

function timeFromRaw(raw: string): bigint {
  const m = /"return": (\d+)/.exec(raw);
  if (!m) throw new Error(`no time in ${raw}`);
  return BigInt(m[1]);
}

interface ExecResult {
  exitcode?: number;
  signal?: number;
  out: string;
  err: string;
  'out-truncated'?: boolean;
}

/**
 * guest-exec, then guest-exec-status until exited; only the final status is recorded (nothing at all with
 * `record: false`, for output that holds timings).
 */
async function execWait(ch: GuestChannel, argv: string[], extra: Record<string, unknown> = {}, { record = true } = {}): Promise<ExecResult> {
  const { pid } = await ch.ok<{ pid: number }>('guest-exec', { path: argv[0], arg: argv.slice(1), 'capture-output': true, ...extra }, { record });
  const deadline = Date.now() + 30_000;
  for (;;) {
    const r = await ch.call('guest-exec-status', { pid }, { record: false });
    skipIfUnsupported('guest-exec-status', r);
    if (r.json.error) throw new Error(`guest-exec-status ${pid}: ${r.json.error.desc}`);
    const st = r.json.return as { exited: boolean; exitcode?: number; signal?: number; 'out-data'?: string; 'err-data'?: string; 'out-truncated'?: boolean };
    if (st.exited) {
      if (record) {
        ch.record(`-> {"execute":"guest-exec-status","arguments":{"pid":${pid}}}`);
        ch.record(`<- ${r.raw}`);
      }
      return { exitcode: st.exitcode, signal: st.signal, out: unb64(st['out-data'] ?? ''), err: unb64(st['err-data'] ?? ''), 'out-truncated': st['out-truncated'] };
    }
    if (Date.now() > deadline) throw new Error(`${argv.join(' ')} did not exit within 30 s`);
    await sleep(100);
  }
}

/** Reads a whole guest file through guest-file-* (not recorded: for checks only). */
async function readGuestFile(ch: GuestChannel, file: string): Promise<string> {
  const handle = await ch.ok<number>('guest-file-open', { path: file, mode: 'r' }, { record: false });
  let text = '';
  for (;;) {
    const r = await ch.ok<{ count: number; 'buf-b64': string; eof: boolean }>('guest-file-read', { handle, count: 65536 }, { record: false });
    text += unb64(r['buf-b64']);
    if (r.eof || r.count === 0) break;
  }
  await ch.ok('guest-file-close', { handle }, { record: false });
  return text;
}

/** Polls `probe` until it returns a value, for things the guest kernel does asynchronously (hot-plug). */
async function until<T>(what: string, probe: () => Promise<T | undefined>, timeoutMs = 20_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = await probe();
    if (v !== undefined) return v;
    if (Date.now() > deadline) throw new Error(`${what}: not within ${timeoutMs} ms`);
    await sleep(250);
  }
}

interface Vcpu {
  'logical-id': number;
  online: boolean;
  'can-offline'?: boolean;
}

interface MemBlock {
  'phys-index': number;
  online: boolean;
  'can-offline'?: boolean;
}

const eventMs = (e: QmpEvent): number => e.timestamp.seconds * 1000 + Math.round(e.timestamp.microseconds / 1000);

/**
 * A command that gets no reply when it works (guest-shutdown, guest-suspend-*), then the QMP event that
 * proves it worked. A reply means failure (or, when it is the "not supported" error, a skip). The
 * connection is not reused afterwards: the caller reconnects.
 */
async function noReplyThenEvent(ch: GuestChannel, vm: Vm, command: string, args: Record<string, unknown> | undefined, event: string): Promise<QmpEvent> {
  const qmp = await vm.monitor();
  const from = qmp.events.length;
  const reply = ch.sendNoReply(command, args, 60_000);
  const seen = qmp.waitEvent(event, 60_000, from);
  seen.catch(() => undefined);
  const first = await Promise.race([reply.then((r) => ({ reply: r })), seen.then((e) => ({ event: e }))]);
  if ('reply' in first && first.reply) {
    ch.record(`<- ${first.reply.raw}`);
    skipIfUnsupported(command, first.reply);
    assert.fail(`${command} answered: ${first.reply.raw}`);
  }
  ch.record('<- (no reply)');
  return seen;
}

/**
 * A command that gets no reply when it works, for what QEMU has no event for (a halt, a hibernation that
 * comes back): waits until the guest console, from now on, matches every one of `done`. A reply line
 * before that fails the step (or skips it, for "not supported"). Nothing is read that a later request
 * would miss: the channel stays usable. Returns the console text since the request.
 */
async function noReplyUntilConsole(ch: GuestChannel, vm: Vm, command: string, args: Record<string, unknown> | undefined, done: RegExp[], timeoutMs: number): Promise<string> {
  const offset = vm.consoleText().length;
  const request = requestJson(command, args);
  ch.client.send(request);
  ch.record(`-> ${request}`);
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    // Looks at what arrived without taking it, unless it is a whole line: the reply.
    const buf = await ch.client.waitFor((b) => b.includes(10), 250);
    if (buf.includes(10)) {
      const [line] = await ch.client.lines(1, 0);
      ch.record(`<- ${line}`);
      skipIfUnsupported(command, { raw: line, json: JSON.parse(line) as Reply['json'] });
      assert.fail(`${command} answered: ${line}`);
    }
    const text = vm.consoleText().slice(offset);
    if (done.every((re) => re.test(text))) {
      ch.record('<- (no reply)');
      return text;
    }
    if (!vm.running) throw new Error(`QEMU exited after ${command}`);
    if (Date.now() > deadline) throw new Error(`${command}: the console did not show ${done.filter((re) => !re.test(text)).join(', ')} within ${timeoutMs} ms`);
  }
}

/** The guest kernel's log after the last line that is exactly `marker`, without timestamps (not recorded). */
async function kernelLogAfter(ch: GuestChannel, marker: string): Promise<string[]> {
  const r = await execWait(ch, ['/bin/dmesg'], {}, { record: false });
  assert.equal(r.exitcode, 0, `dmesg: ${r.err}`);
  const lines = r.out.split('\n').map((l) => l.replace(/^\[\s*\d+\.\d+\] ?/, ''));
  const at = lines.lastIndexOf(marker);
  assert.ok(at >= 0, `the marker ${marker} is in the kernel log`);
  return lines.slice(at + 1);
}

/** What the kernel logs, in this order, for one hibernation stopped at pm_test's freezer stage (6.1). */
const HIBERNATION_FREEZER_TEST = [
  /^PM: hibernation: hibernation entry$/,
  /^Freezing user space processes completed/,
  /^Freezing remaining freezable tasks completed/,
  /^PM: hibernation: debug: Waiting for \d+ seconds?\.$/,
  /^Restarting tasks \.\.\. done\.$/,
  /^PM: hibernation: hibernation exit$/,
];

/**
 * guest-suspend-disk and -hybrid, with the kernel's hibernation test mode: /sys/power/pm_test set to
 * `freezer` makes a write of `disk` to /sys/power/state run the hibernation path up to the freezing of
 * every process and kernel thread, wait 5 s, thaw and return success, without touching a device (a real
 * hibernation would not come back: the 9p root does not survive a device freeze) or needing swap. The
 * console shows the kernel's info messages meanwhile, so that the step knows when it is over; then
 * pm_test, the hibernation mode and the console level are put back (guest-suspend-ram needs the real S3).
 */
async function hibernationFreezerTest({ ch, vm, note }: StepContext, command: string, done: RegExp[] = []): Promise<string> {
  const marker = `QGA-E2E-MARK ${command}`;
  const prep = await execWait(ch, ['/bin/sh', '-c', `cat /proc/sys/kernel/printk /sys/power/disk && echo freezer >/sys/power/pm_test && cat /sys/power/pm_test && echo 7 >/proc/sys/kernel/printk && echo '${marker}' >/dev/kmsg`]);
  assert.equal(prep.exitcode, 0, `pm_test set: ${prep.err}`);
  const [printk, disk, pmTest] = prep.out.split('\n');
  const consoleLevel = printk.split(/\s+/)[0];
  const diskMode = /\[(\w+)\]/.exec(disk)?.[1] ?? 'platform';
  assert.match(pmTest, /\[freezer\]/);
  let text = '';
  let ok = false;
  try {
    const t0 = Date.now();
    text = await noReplyUntilConsole(ch, vm, command, undefined, [/PM: hibernation: hibernation exit/, ...done], 120_000);
    note(`the hibernation test was over after ${(Date.now() - t0) / 1000} s`);
    for (const re of done) ch.record(`console: ${re.exec(text)?.[0]}`);
    // The agent was blocked in the write to /sys/power/state (or waiting for the helper doing it); an
    // error reply would come now, before this one.
    const sync = await ch.call('guest-sync', { id: 20240101 });
    assert.equal(sync.raw, '{"return": 20240101}', `the line after ${command} is guest-sync's reply`);
    const log = await kernelLogAfter(ch, marker);
    const at = HIBERNATION_FREEZER_TEST.map((re) => log.findIndex((l) => re.test(l)));
    assert.ok(
      at.every((i, n) => i >= 0 && (n === 0 || i > at[n - 1])),
      `the kernel log shows ${HIBERNATION_FREEZER_TEST.join(', ')} in order:\n${log.join('\n')}`,
    );
    assert.equal(log.filter((l) => HIBERNATION_FREEZER_TEST[0].test(l)).length, 1, 'one hibernation');
    ch.record(`kernel log: ${at.map((i) => log[i].replace(/ \(elapsed [\d.]+ seconds\)/, '')).join(' | ')}`);
    ok = true;
  } finally {
    const reset = execWait(ch, ['/bin/sh', '-c', `echo none >/sys/power/pm_test; echo ${diskMode} >/sys/power/disk; echo ${consoleLevel} >/proc/sys/kernel/printk; cat /sys/power/pm_test /sys/power/disk`], {}, { record: ok });
    if (ok) assert.equal((await reset).out, `[none] core processors platform devices freezer\n${disk}\n`, 'pm_test and the hibernation mode put back');
    else await reset.catch(() => undefined); // the step's own error is the one to report
  }
  return text;
}

/**
 * SIGKILLs the agent through the control port (guest/control.sh); guest/agent.sh starts it again, as a
 * service manager would after a crash. Waits for the exit and start markers and for the new agent's answer.
 * Returns how long that took, in ms.
 */
async function killAndRestartAgent(ch: GuestChannel, vm: Vm): Promise<number> {
  const offset = vm.consoleText().length;
  const starts = vm.agentStarts();
  const t0 = Date.now();
  assert.match(await vm.control('kill-agent'), /^killed \d+$/);
  await vm.waitForConsole(/QGA-E2E-AGENT-EXITED pid=\d+ rc=137 [^]*QGA-E2E-AGENT-STARTED/, 60_000, offset);
  await ch.reconnect(() => vm.connectAgent(60_000));
  assert.equal(vm.agentStarts(), starts + 1);
  return Date.now() - t0;
}

/** The running agent's command line, from /proc (guest/agent.sh's shell execs the agent: same pid). */
async function agentCmdline(ch: GuestChannel): Promise<string[]> {
  const r = await execWait(ch, ['/bin/sh', '-c', `tr '\\0' '\\n' </proc/$(cat ${GUEST_RUN_DIR}/agent.pid)/cmdline`], {}, { record: false });
  assert.equal(r.exitcode, 0, `the agent's cmdline: ${r.err}`);
  return r.out.split('\n').filter((w) => w !== '');
}

const ONLINE_ORDER = (a: Vcpu, b: Vcpu): number => a['logical-id'] - b['logical-id'];

// qemu-ga 7.2 wraps the GLib spawn error; 10.2 does not (docs/compatibility.md §Versions).
const unwrapExecError = (line: string): string =>
  line.replace(/Guest agent command failed, error was '(.*)'"/, '$1"');

// ---------------------------------------------------------------- the steps

export const STEPS: Step[] = [
  {
    name: 'guest-sync-delimited, guest-sync and guest-ping over virtio-serial',
    async run({ ch }) {
      const r = await ch.call('guest-sync-delimited', { id: 123456789 });
      assert.equal(r.raw, '\xff{"return": 123456789}');
      // 0xFF resets the parser (and is itself answered with a parse error, as in qemu-ga).
      ch.client.send('\xff{"execute":"gue\xff{"execute":"guest-sync-delimited","arguments":{"id":42}}');
      ch.record('-> \\xff{"execute":"gue\\xff{"execute":"guest-sync-delimited","arguments":{"id":42}}');
      for (let n = 0; ; n++) {
        const [l] = await ch.client.lines(1, 30_000);
        assert.ok(l !== undefined && n < 10, 'the guest-sync-delimited after 0xFF is answered');
        ch.record(`<- ${l}`);
        if (l === '\xff{"return": 42}') break;
      }
      // 63-bit ids survive exactly (read from the raw line: JSON.parse would round them).
      ch.client.send('{"execute":"guest-sync","arguments":{"id":8070450532247928833}}');
      const [line] = await ch.client.lines(1, 30_000);
      ch.record('-> {"execute":"guest-sync","arguments":{"id":8070450532247928833}}');
      ch.record(`<- ${line}`);
      assert.equal(line, '{"return": 8070450532247928833}');
      assert.deepEqual(await ch.ok('guest-ping'), {});
      const e = await ch.fails('guest-no-such-command');
      assert.equal(e.class, 'CommandNotFound');
    },
  },
  {
    name: 'guest-info',
    async run({ ch, kind, note }) {
      const info = await ch.ok<{ version: string; supported_commands: { name: string; enabled: boolean }[] }>('guest-info');
      const names = info.supported_commands.map((c) => c.name);
      for (const must of ['guest-ping', 'guest-exec', 'guest-file-open', 'guest-get-fsinfo', 'guest-shutdown', 'guest-fsfreeze-freeze']) {
        assert.ok(names.includes(must), `${must} listed`);
      }
      // qga-ts: qemu-ga 10.2's 43, and its own __io.qga-ts_ extensions (docs/extensions-exec.md).
      if (kind === 'qga-ts') assert.equal(names.filter((n) => !n.startsWith('__io.qga-ts_')).length, 43);
      note(`version ${info.version}, ${names.length} commands, ${info.supported_commands.filter((c) => c.enabled).length} enabled`);
    },
    compare(ours, ref) {
      // 10.2 (qga-ts's target) = 7.2's list without guest-get-devices, guest-network-get-route and
      // guest-get-load first; the version string differs by definition.
      type Info = { version: string; supported_commands: { name: string }[] };
      const parse = (lines: string[]): Info => (JSON.parse(lines[1].slice(3)) as { return: Info }).return;
      const o = parse(ours);
      const r = parse(ref);
      const expected = [
        ...['guest-network-get-route', 'guest-get-load'].map((name) => ({ enabled: true, name, 'success-response': true })),
        ...r.supported_commands.filter((c) => c.name !== 'guest-get-devices'),
      ];
      // The qga-ts extensions come first (registered last); the rest is qemu-ga's list.
      const ext = o.supported_commands.findIndex((c) => !c.name.startsWith('__io.qga-ts_'));
      assert.deepEqual(o.supported_commands.slice(ext), expected);
    },
  },
  {
    name: 'guest-get-time',
    async run({ ch }) {
      const r = await ch.call('guest-get-time');
      const skew = Number(timeFromRaw(r.raw) - hostNowNs()) / 1e9;
      assert.ok(Math.abs(skew) < 120, `guest time is ${skew} s off the host's`);
    },
    mask: numbers,
  },
  {
    name: 'guest-get-host-name, guest-get-timezone',
    async run({ ch }) {
      assert.deepEqual(await ch.ok('guest-get-host-name'), { 'host-name': GUEST_HOSTNAME });
      const tz = await ch.ok<{ zone?: string; offset: number }>('guest-get-timezone');
      assert.equal(typeof tz.offset, 'number');
    },
  },
  {
    name: 'guest-get-osinfo',
    async run({ ch, kernel }) {
      const os = await ch.ok<Record<string, string>>('guest-get-osinfo');
      assert.equal(os['kernel-release'], kernel.version);
      assert.equal(os.machine, 'x86_64');
      const id = /^ID=(.*)$/m.exec(fs.readFileSync('/etc/os-release', 'utf8'))?.[1]?.replace(/^"|"$/g, '');
      assert.equal(os.id, id);
    },
  },
  {
    name: 'guest-get-load',
    async run({ ch, kind }) {
      const r = await ch.call('guest-get-load');
      if (kind === 'qemu-ga' && r.json.error?.class === 'CommandNotFound') return; // new in 10.0
      skipIfUnsupported('guest-get-load', r);
      const load = r.json.return as Record<string, number>;
      for (const k of ['load1m', 'load5m', 'load15m']) assert.ok(load[k] >= 0, `${k} in ${r.raw}`);
    },
    noDiff: 'guest-get-load is new in qemu-ga 10.0; the reference is 7.2',
  },
  {
    name: 'guest-network-get-interfaces',
    async run({ ch }) {
      type Iface = { name: string; 'hardware-address'?: string; 'ip-addresses'?: { 'ip-address': string; prefix: number }[] };
      const ifs = await ch.ok<Iface[]>('guest-network-get-interfaces');
      const eth0 = ifs.find((i) => i.name === 'eth0');
      assert.ok(eth0, 'eth0 listed');
      assert.equal(eth0['hardware-address'], NIC_MAC);
      assert.ok(eth0['ip-addresses']?.some((a) => a['ip-address'] === NIC_IPV4 && a.prefix === 24), 'eth0 has 192.0.2.15/24');
      assert.ok(ifs.some((i) => i.name === 'lo'), 'lo listed');
    },
    // Packet counters depend on what the guest kernel sent since boot.
    mask: maskKeys(['rx-bytes', 'rx-packets', 'rx-errs', 'rx-dropped', 'tx-bytes', 'tx-packets', 'tx-errs', 'tx-dropped']),
  },
  {
    name: 'guest-network-get-route',
    async run({ ch, kind }) {
      const r = await ch.call('guest-network-get-route');
      if (kind === 'qemu-ga' && r.json.error?.class === 'CommandNotFound') return; // new in 9.1
      skipIfUnsupported('guest-network-get-route', r);
      const routes = r.json.return as { iface: string; destination: string }[];
      assert.ok(routes.some((x) => x.iface === 'eth0' && x.destination === '192.0.2.0'), `eth0's subnet route in ${r.raw}`);
    },
    noDiff: 'guest-network-get-route is new in qemu-ga 9.1; the reference is 7.2',
  },
  {
    name: 'guest-get-vcpus',
    async run({ ch }) {
      const cpus = (await ch.ok<Vcpu[]>('guest-get-vcpus')).sort(ONLINE_ORDER);
      assert.deepEqual(cpus.map((c) => [c['logical-id'], c.online]), [[0, true], [1, true]]);
      assert.equal(cpus[1]['can-offline'], true);
    },
  },
  {
    name: 'guest-get-memory-blocks, guest-get-memory-block-info',
    async run({ ch }) {
      const blocks = await ch.ok<MemBlock[]>('guest-get-memory-blocks');
      assert.ok(blocks.length >= 1 && blocks.every((b) => b.online), 'every boot memory block online');
      const { size } = await ch.ok<{ size: number }>('guest-get-memory-block-info');
      assert.equal(size, 128 << 20);
    },
  },
  {
    name: 'guest-get-users',
    async run({ ch }) {
      assert.ok(Array.isArray(await ch.ok('guest-get-users')));
    },
  },
  {
    name: 'guest-get-fsinfo (the virtio-blk data disk)',
    async run({ ch }) {
      type Fs = { name: string; mountpoint: string; type: string; 'total-bytes'?: number; disk: { 'bus-type': string; dev?: string; serial?: string }[] };
      const fss = await ch.ok<Fs[]>('guest-get-fsinfo');
      const data = fss.find((f) => f.mountpoint === '/mnt/data');
      assert.ok(data, `/mnt/data listed in ${JSON.stringify(fss)}`);
      assert.equal(data.type, 'ext4');
      assert.equal(data.name, 'vda');
      assert.equal(data.disk[0]?.['bus-type'], 'virtio');
      assert.equal(data.disk[0]?.dev, '/dev/vda');
      assert.ok((data['total-bytes'] ?? 0) > 40 << 20);
    },
    // 10.2 adds total-bytes-privileged (9.1); the rest must match 7.2 byte for byte.
    mask: (line) => line.replace(/"total-bytes-privileged": \d+, /g, '').replace(/, "total-bytes-privileged": \d+/g, '').replace(/"used-bytes": \d+/g, '"used-bytes": N'),
  },
  {
    name: 'guest-get-disks',
    async run({ ch }) {
      const disks = await ch.ok<{ name: string; partition: boolean; address?: { 'bus-type': string; serial?: string } }[]>('guest-get-disks');
      const vda = disks.find((d) => d.name === '/dev/vda');
      assert.ok(vda, `/dev/vda listed in ${JSON.stringify(disks)}`);
      assert.equal(vda.partition, false);
      assert.equal(vda.address?.['bus-type'], 'virtio');
    },
  },
  {
    name: 'guest-get-diskstats, guest-get-cpustats',
    async run({ ch }) {
      const disks = await ch.ok<{ name: string; stats: Record<string, number> }[]>('guest-get-diskstats');
      assert.ok(disks.some((d) => d.name === 'vda'), 'vda has stats');
      const cpus = await ch.ok<{ type: string; cpu: number }[]>('guest-get-cpustats');
      assert.deepEqual(cpus.map((c) => [c.type, c.cpu]), [['linux', 0], ['linux', 1]]);
    },
    mask: numbers,
  },
  {
    name: 'guest-file-* on the data disk and on /etc',
    async run({ ch }) {
      const text = 'written by the e2e test\n';
      const h = await ch.ok<number>('guest-file-open', { path: '/mnt/data/e2e.txt', mode: 'w+' });
      assert.deepEqual(await ch.ok('guest-file-write', { handle: h, 'buf-b64': b64(text) }), { count: text.length, eof: false });
      assert.deepEqual(await ch.ok('guest-file-seek', { handle: h, offset: 8, whence: 'set' }), { position: 8, eof: false });
      const part = await ch.ok<{ count: number; 'buf-b64': string; eof: boolean }>('guest-file-read', { handle: h, count: 3 });
      assert.equal(unb64(part['buf-b64']), 'by ');
      assert.deepEqual(await ch.ok('guest-file-seek', { handle: h, offset: 0, whence: 'set' }), { position: 0, eof: false });
      const all = await ch.ok<{ count: number; 'buf-b64': string; eof: boolean }>('guest-file-read', { handle: h, count: 4096 });
      assert.equal(unb64(all['buf-b64']), text);
      assert.equal(all.eof, true);
      assert.deepEqual(await ch.ok('guest-file-flush', { handle: h }), {});
      assert.deepEqual(await ch.ok('guest-file-close', { handle: h }), {});
      // Append mode, then the whole file back.
      const a = await ch.ok<number>('guest-file-open', { path: '/mnt/data/e2e.txt', mode: 'a' });
      await ch.ok('guest-file-write', { handle: a, 'buf-b64': b64('appended\n') });
      await ch.ok('guest-file-close', { handle: a });
      const r = await ch.ok<number>('guest-file-open', { path: '/mnt/data/e2e.txt' });
      const back = await ch.ok<{ 'buf-b64': string }>('guest-file-read', { handle: r });
      assert.equal(unb64(back['buf-b64']), text + 'appended\n');
      await ch.ok('guest-file-close', { handle: r });
      // The guest's own files, seen through the overlay.
      const e = await ch.ok<number>('guest-file-open', { path: '/etc/hostname', mode: 'r' });
      const hostname = await ch.ok<{ 'buf-b64': string }>('guest-file-read', { handle: e, count: 100 });
      assert.equal(unb64(hostname['buf-b64']), `${GUEST_HOSTNAME}\n`);
      await ch.ok('guest-file-close', { handle: e });
      // Errors.
      await ch.fails('guest-file-open', { path: '/mnt/data/no/such/file', mode: 'r' });
      await ch.fails('guest-file-read', { handle: h, count: 1 });
      await ch.fails('guest-file-open', { path: '/mnt/data/e2e.txt', mode: 'q' });
    },
  },
  {
    name: 'guest-exec and guest-exec-status',
    async run({ ch, kernel }) {
      const uname = await execWait(ch, ['/bin/uname', '-r']);
      assert.deepEqual([uname.exitcode, uname.out], [0, `${kernel.version}\n`]);
      const cat = await execWait(ch, ['/bin/cat'], { 'input-data': b64('through stdin\n') });
      assert.deepEqual([cat.exitcode, cat.out], [0, 'through stdin\n']);
      const sh = await execWait(ch, ['/bin/sh', '-c', 'echo out; echo err >&2; exit 3']);
      assert.deepEqual([sh.exitcode, sh.out, sh.err], [3, 'out\n', 'err\n']);
      const env = await execWait(ch, ['/usr/bin/env'], { env: ['E2E_VAR=e2e value'] });
      assert.match(env.out, /^E2E_VAR=e2e value$/m);
      const killed = await execWait(ch, ['/bin/sh', '-c', 'kill -9 $$']);
      assert.equal(killed.signal, 9);
      await ch.fails('guest-exec', { path: '/nonexistent/e2e-binary' });
      await ch.fails('guest-exec-status', { pid: 999999 });
    },
    mask: (line) => line.replace(/"pid": ?\d+/g, '"pid": N'),
    to102: (line) => unwrapExecError(line).replace(`"desc": "Invalid parameter 'pid'"`, '"desc": "PID 999999 does not exist"'),
  },
  {
    name: "the project's client library (src/client) over the chardev socket",
    async run({ ch, vm, kind }) {
      // QEMU serves one connection at a time: the raw channel steps aside while QgaClient has the socket.
      ch.client.close();
      const client = await QgaClient.connect({ address: vm.agentSock, timeout: 30_000, connectTimeout: 10_000 });
      try {
        await client.guestPing();
        const info = await client.guestInfo();
        assert.equal(info.version, kind === 'qga-ts' ? '10.2.0' : info.version);
        assert.deepEqual(await client.guestGetHostName(), { 'host-name': GUEST_HOSTNAME });
        const skew = Number((await client.guestGetTime()) - hostNowNs()) / 1e9;
        assert.ok(Math.abs(skew) < 120, `guest time ${skew} s off`);
        const run = await runGuestCommand(client, '/bin/sh', { args: ['-c', 'echo from-client; cat; exit 4'], input: Buffer.from('stdin\n'), waitTimeout: 30_000 });
        assert.deepEqual([run.exitcode, run.stdout.toString(), run.stderr.toString()], [4, 'from-client\nstdin\n', '']);
        // A 2 MiB file there and back in 512 KiB chunks, checked by the guest's sha256sum. qga-ts takes two
        // requests in flight (the client's default). qemu-ga cannot, on virtio-serial: with the next request
        // already in its GLib read buffer, writing the reply seeks the character device, fails with ESPIPE
        // ("error writing to channel: Illegal seek") and the reply is lost; so one at a time for it.
        const window = kind === 'qga-ts' ? 2 : 1;
        const data = randomBytes(2 << 20);
        const put = await writeGuestFile(client, '/mnt/data/client.bin', data, { chunkSize: 512 << 10, window });
        assert.equal(put.bytes, data.length);
        const sum = await guestSha256(client, '/mnt/data/client.bin', ['sha256sum']);
        assert.deepEqual(sum, { sha256: createHash('sha256').update(data).digest('hex'), method: 'sha256sum' });
        const back = await readGuestFileToBuffer(client, '/mnt/data/client.bin', { chunkSize: 512 << 10, window });
        assert.ok(back.equals(data), 'the file read back is the file written');
        await assert.rejects(client.guestFileOpen({ path: '/mnt/data/no/such/file' }), QgaCommandError);
      } finally {
        await client.close();
      }
      ch.client = await vm.connectAgent(30_000);
    },
    noDiff: 'typed results, checked by assertions in both guests; the other steps compare the wire',
    timeoutMs: 120_000,
  },
  {
    name: 'pipelined requests over virtio-serial: 64 in one write, every reply in order',
    async run({ ch, kind }) {
      const n = 64;
      ch.client.send(Array.from({ length: n }, (_, i) => `{"execute":"guest-ping","id":${i}}`).join(''));
      const lines = await ch.client.lines(n, kind === 'qga-ts' ? 30_000 : 10_000);
      const want = Array.from({ length: n }, (_, i) => `{"return": {}, "id": ${i}}`);
      if (kind === 'qemu-ga' && lines.length < n) {
        await ch.client.resync(BigInt(Date.now()));
        throw new Skip(`qemu-ga lost ${n - lines.length} of ${n} replies: its reply write seeks the virtio-serial port while the next request sits in GLib's read buffer (ESPIPE); qga-ts does not copy that`);
      }
      assert.deepEqual(lines, want);
    },
    noDiff: 'qemu-ga loses replies to pipelined requests on virtio-serial (a reference bug); qga-ts must answer them all',
  },
  {
    name: 'host disconnect: the host closes and reopens the chardev socket mid-session',
    async run({ ch, vm }) {
      const starts = vm.agentStarts();
      // 1. A request cut in half, then the host goes away.
      ch.client.send('{"execute":"guest-ping","argu');
      await sleep(200);
      await ch.reconnect(() => vm.connectAgent(30_000));
      assert.deepEqual(await ch.ok('guest-ping'), {});
      // 2. A reply still pending when the host goes away: it reaches the next connection, before the resync.
      ch.client.send('{"execute":"guest-get-fsinfo"}{"execute":"guest-info"}');
      ch.client.close();
      await sleep(300);
      await ch.reconnect(() => vm.connectAgent(30_000));
      assert.deepEqual(await ch.ok('guest-ping'), {});
      // 3. Quick close/reopen cycles with nothing sent.
      for (let i = 0; i < 3; i++) await ch.reconnect(() => vm.connectAgent(30_000));
      assert.deepEqual(await ch.ok('guest-get-host-name'), { 'host-name': GUEST_HOSTNAME });
      assert.equal(vm.agentStarts(), starts, 'the agent was not restarted');
      assert.doesNotMatch(vm.consoleText(), /QGA-E2E-AGENT-EXITED/);
    },
  },
  {
    name: 'guest-fsfreeze-* with a hook script',
    async run({ ch }) {
      assert.equal(await ch.ok('guest-fsfreeze-status'), 'thawed');
      const r = await ch.call('guest-fsfreeze-freeze');
      skipIfUnsupported('guest-fsfreeze-freeze', r);
      let ok = false;
      try {
        assert.equal(r.json.return, 1, `one filesystem (/mnt/data) frozen: ${r.raw}`);
        assert.equal(await ch.ok('guest-fsfreeze-status'), 'frozen');
        const refused = await ch.fails('guest-get-osinfo');
        assert.equal(refused.class, 'CommandNotFound');
        assert.deepEqual(await ch.ok('guest-ping'), {});
        assert.equal(await ch.ok('guest-fsfreeze-thaw'), 1);
        assert.equal(await ch.ok('guest-fsfreeze-status'), 'thawed');
        assert.equal(await ch.ok('guest-fsfreeze-freeze-list', { mountpoints: ['/mnt/data'] }), 1);
        assert.equal(await ch.ok('guest-fsfreeze-status'), 'frozen');
        assert.equal(await ch.ok('guest-fsfreeze-thaw'), 1);
        // Thawing what is not frozen thaws nothing (the hook still runs, as in qemu-ga).
        assert.equal(await ch.ok('guest-fsfreeze-thaw'), 0);
        // A mount point that is not mounted is no error: nothing frozen.
        assert.equal(await ch.ok('guest-fsfreeze-freeze-list', { mountpoints: ['/no/such/mountpoint'] }), 0);
        assert.equal(await ch.ok('guest-fsfreeze-status'), 'thawed');
        ok = true;
      } finally {
        // Never leave the guest frozen for the next steps.
        if (!ok) await ch.call('guest-fsfreeze-thaw', undefined, { record: false }).catch(() => undefined);
      }
      const hookLog = await readGuestFile(ch, `${GUEST_RUN_DIR}/fsfreeze-hook.log`);
      ch.record(`hook log: ${JSON.stringify(hookLog)}`);
      assert.match(hookLog, /^freeze\nthaw\nfreeze\nthaw\n/, 'the hook ran before each freeze and after each thaw');
    },
    // 10.2 rewords the frozen-state refusal (docs/compatibility.md §Versions).
    to102: (line) => line.replace('has been disabled: the agent is in frozen state', 'has been disabled: the command is not allowed'),
  },
  {
    name: 'frozen state across an agent restart: SIGKILL while frozen, the new agent starts frozen, thaws',
    timeoutMs: 120_000,
    async run({ ch, vm, note }) {
      const hookLogBefore = await readGuestFile(ch, `${GUEST_RUN_DIR}/fsfreeze-hook.log`);
      const r = await ch.call('guest-fsfreeze-freeze');
      skipIfUnsupported('guest-fsfreeze-freeze', r);
      assert.equal(r.json.return, 1, `one filesystem (/mnt/data) frozen: ${r.raw}`);
      let ok = false;
      try {
        // The agent dies as in a crash, frozen; the guest starts it again (guest/control.sh, agent.sh).
        const ms = await killAndRestartAgent(ch, vm);
        ch.record('guest: kill -KILL <agent>, then the agent started again');
        note(`the restarted agent answered after ${ms / 1000} s`);
        // It found its state file's frozen marker: frozen, and only the freeze allowlist enabled.
        assert.equal(await ch.ok('guest-fsfreeze-status'), 'frozen');
        const info = await ch.ok<{ supported_commands: { name: string; enabled: boolean }[] }>('guest-info', undefined, { record: false });
        const enabled = info.supported_commands.filter((c) => c.enabled).map((c) => c.name).sort();
        ch.record(`guest-info: enabled ${JSON.stringify(enabled)}`);
        assert.deepEqual(enabled, ['guest-fsfreeze-status', 'guest-fsfreeze-thaw', 'guest-info', 'guest-ping', 'guest-sync', 'guest-sync-delimited']);
        assert.equal((await ch.fails('guest-exec', { path: '/bin/true' })).class, 'CommandNotFound');
        assert.equal((await ch.fails('guest-file-open', { path: '/mnt/data/e2e.txt' })).class, 'CommandNotFound');
        assert.deepEqual(await ch.ok('guest-ping'), {});
        assert.equal(await ch.ok('guest-fsfreeze-thaw'), 1);
        ok = true;
      } finally {
        if (!ok) await ch.call('guest-fsfreeze-thaw', undefined, { record: false }).catch(() => undefined);
      }
      assert.equal(await ch.ok('guest-fsfreeze-status'), 'thawed');
      const sh = await execWait(ch, ['/bin/sh', '-c', 'echo thawed >/mnt/data/thawed.txt && cat /mnt/data/thawed.txt']);
      assert.deepEqual([sh.exitcode, sh.out], [0, 'thawed\n']);
      const hookLog = await readGuestFile(ch, `${GUEST_RUN_DIR}/fsfreeze-hook.log`);
      assert.equal(hookLog.slice(hookLogBefore.length), 'freeze\nthaw\n', 'the freeze hook before the kill, the thaw hook run by the new agent');
    },
    mask: (line) => line.replace(/"pid": ?\d+/g, '"pid": N'),
    // 10.2 rewords the frozen-state refusal (docs/compatibility.md §Versions).
    to102: (line) => line.replace('has been disabled: the agent is in frozen state', 'has been disabled: the command is not allowed'),
  },
  {
    name: 'thaw watchdog: --fsfreeze-timeout=3 thaws a forgotten freeze by itself, with the thaw hook',
    timeoutMs: 180_000,
    async run({ ch, vm, kind, note }) {
      if (kind !== 'qga-ts') throw new Skip('fsfreeze-timeout is a qga-ts extension');
      const timeoutSec = 3;
      // The agent restarted with the option (guest/control.sh's agent-args, read by guest/agent.sh), and
      // with -v: the watchdog's line is a warning, and without -v only errors and criticals are logged
      // (as in qemu-ga); its audit copy goes to syslog, which this guest does not run.
      const extra = ['-v', `--fsfreeze-timeout=${timeoutSec}`];
      assert.equal(await vm.control(`agent-args ${extra.join(' ')}`), `agent args: ${extra.join(' ')}`);
      try {
        note(`the agent with ${extra.join(' ')} answered after ${(await killAndRestartAgent(ch, vm)) / 1000} s`);
        ch.record(`guest: the agent restarted with ${extra.join(' ')}`);
        assert.deepEqual((await agentCmdline(ch)).slice(-extra.length), extra);
        const hookLog = (): Promise<string> => readGuestFile(ch, `${GUEST_RUN_DIR}/fsfreeze-hook.log`);
        const hookLogBefore = await hookLog();
        const agentLogOffset = vm.agentLogText().length;
        assert.equal(await ch.ok('guest-fsfreeze-status'), 'thawed');
        const t0 = Date.now();
        const frozen = await ch.ok<number>('guest-fsfreeze-freeze');
        let ok = false;
        try {
          assert.ok(frozen >= 1, `/mnt/data frozen: ${frozen}`);
          assert.equal(await ch.ok('guest-fsfreeze-status'), 'frozen');
          // No thaw request: the watchdog thaws after fsfreeze-timeout seconds.
          await until('guest-fsfreeze-status says thawed without a thaw request', async () =>
            (await ch.ok<string>('guest-fsfreeze-status', undefined, { record: false })) === 'thawed' ? true : undefined,
          );
          const s = (Date.now() - t0) / 1000;
          note(`thawed by the watchdog ${s} s after the freeze`);
          assert.ok(s >= timeoutSec - 0.5, `not thawed before the timeout (${s} s)`);
          ch.record('guest-fsfreeze-status polled: thawed');
          // The watchdog's warning in the agent log; its thaw hook after the freeze hook.
          const line = await until('the watchdog warning in the agent log', async () =>
            /fsfreeze-timeout: filesystems frozen for \d+ s \(limit 3 s\): thawed (\d+) filesystem\(s\)/.exec(vm.agentLogText().slice(agentLogOffset)) ?? undefined,
          );
          ch.record(`agent log: ${line[0].replace(/frozen for \d+ s/, 'frozen for N s')}`);
          assert.equal(Number(line[1]), frozen, 'the watchdog thawed what the freeze froze');
          await until('the watchdog ran the thaw hook', async () => ((await hookLog()).slice(hookLogBefore.length) === 'freeze\nthaw\n' ? true : undefined));
          // The thaw that comes too late: nothing left to thaw, 0 (as after any external thaw), the hook runs again.
          assert.equal(await ch.ok('guest-fsfreeze-thaw'), 0);
          ok = true;
        } finally {
          if (!ok) await ch.call('guest-fsfreeze-thaw', undefined, { record: false }).catch(() => undefined);
        }
        assert.equal(await ch.ok('guest-fsfreeze-status'), 'thawed');
        const late = await until('the late thaw\'s warning in the agent log', async () =>
          /guest-fsfreeze-thaw: the fsfreeze-timeout watchdog had already thawed \d+ filesystem\(s\) after \d+ s frozen; 0 thawed now/.exec(vm.agentLogText().slice(agentLogOffset)) ?? undefined,
        );
        ch.record(`agent log: ${late[0].replace(/after \d+ s/, 'after N s')}`);
        const hookLogAfter = (await hookLog()).slice(hookLogBefore.length);
        ch.record(`hook log: ${JSON.stringify(hookLogAfter)}`);
        assert.equal(hookLogAfter, 'freeze\nthaw\nthaw\n', 'the freeze hook, the watchdog\'s thaw hook, the late thaw\'s hook');
        const sh = await execWait(ch, ['/bin/sh', '-c', 'echo watchdog >/mnt/data/watchdog.txt && cat /mnt/data/watchdog.txt']);
        assert.deepEqual([sh.exitcode, sh.out], [0, 'watchdog\n']);
      } finally {
        // The following steps see the agent as it was: the plain command line, started again.
        assert.equal(await vm.control('agent-args'), 'agent args: none');
        note(`the plain agent answered again after ${(await killAndRestartAgent(ch, vm)) / 1000} s`);
      }
      ch.record('guest: the agent restarted with its usual command line');
      assert.ok(!(await agentCmdline(ch)).some((w) => w.startsWith('--fsfreeze-timeout')), 'the plain agent is back');
    },
    mask: (line) => line.replace(/"pid": ?\d+/g, '"pid": N'),
    noDiff: 'fsfreeze-timeout is a qga-ts extension',
  },
  {
    name: 'guest-fstrim',
    async run({ ch }) {
      const r = await ch.ok<{ paths: { path: string; trimmed?: number; minimum?: number; error?: string }[] }>('guest-fstrim');
      const data = r.paths.find((p) => p.path === '/mnt/data');
      assert.ok(data && data.error === undefined && (data.trimmed ?? 0) > 0, `/mnt/data trimmed: ${JSON.stringify(r)}`);
    },
    // How much is trimmed depends on what ext4's lazy init has written so far.
    mask: (line) => line.replace(/"trimmed": \d+/g, '"trimmed": N'),
  },
  {
    name: 'guest-set-vcpus: cpu1 offline and online again',
    async run({ ch }) {
      assert.equal(await ch.ok('guest-set-vcpus', { vcpus: [{ 'logical-id': 1, online: false }] }), 1);
      assert.deepEqual((await ch.ok<Vcpu[]>('guest-get-vcpus')).sort(ONLINE_ORDER).map((c) => c.online), [true, false]);
      assert.equal(await ch.ok('guest-set-vcpus', { vcpus: [{ 'logical-id': 1, online: true }] }), 1);
      assert.deepEqual((await ch.ok<Vcpu[]>('guest-get-vcpus')).sort(ONLINE_ORDER).map((c) => c.online), [true, true]);
      // cpu0 cannot go offline: nothing processed, an error.
      await ch.fails('guest-set-vcpus', { vcpus: [{ 'logical-id': 0, online: false }] });
    },
  },
  {
    name: 'vCPU hot-plug (QMP device_add) + guest-set-vcpus online',
    async run({ ch, vm }) {
      const qmp = await vm.monitor();
      const slots = (await qmp.execute('query-hotpluggable-cpus')) as { type: string; props: Record<string, number>; 'qom-path'?: string }[];
      const free = slots.filter((s) => s['qom-path'] === undefined).sort((a, b) => (a.props['core-id'] ?? 0) - (b.props['core-id'] ?? 0))[0];
      assert.ok(free, 'a free CPU slot');
      await qmp.execute('device_add', { driver: free.type, id: 'e2e-cpu2', ...free.props });
      const cpu = await until('the hot-plugged CPU appears in guest-get-vcpus', async () =>
        (await ch.ok<Vcpu[]>('guest-get-vcpus', undefined, { record: false })).find((c) => c['logical-id'] === 2),
      );
      assert.equal(cpu.online, false, 'a hot-plugged CPU starts offline (no udev rule)');
      assert.equal(await ch.ok('guest-set-vcpus', { vcpus: [{ 'logical-id': 2, online: true }] }), 1);
      assert.deepEqual((await ch.ok<Vcpu[]>('guest-get-vcpus')).sort(ONLINE_ORDER).map((c) => [c['logical-id'], c.online]), [[0, true], [1, true], [2, true]]);
    },
  },
  {
    name: 'memory hot-plug (QMP object-add + pc-dimm) + guest-set-memory-blocks online',
    async run({ ch, vm }) {
      const before = new Set((await ch.ok<MemBlock[]>('guest-get-memory-blocks')).map((b) => b['phys-index']));
      const qmp = await vm.monitor();
      await qmp.execute('object-add', { 'qom-type': 'memory-backend-ram', id: 'e2e-mem0', size: 128 << 20 });
      await qmp.execute('device_add', { driver: 'pc-dimm', id: 'e2e-dimm0', memdev: 'e2e-mem0' });
      const added = await until('the DIMM appears in guest-get-memory-blocks', async () => {
        const blocks = await ch.ok<MemBlock[]>('guest-get-memory-blocks', undefined, { record: false });
        const fresh = blocks.filter((b) => !before.has(b['phys-index']));
        return fresh.length > 0 ? fresh : undefined;
      });
      assert.ok(added.every((b) => !b.online), 'hot-plugged memory starts offline (no auto-online)');
      const r = await ch.ok<{ 'phys-index': number; response: string }[]>('guest-set-memory-blocks', {
        'mem-blks': added.map((b) => ({ 'phys-index': b['phys-index'], online: true })),
      });
      assert.deepEqual(r.map((x) => x.response), added.map(() => 'success'));
      const after = await ch.ok<MemBlock[]>('guest-get-memory-blocks');
      assert.ok(after.every((b) => b.online), 'every block online now');
    },
  },
  {
    name: 'guest-set-time',
    async run({ ch }) {
      const hour = 3600n * 1_000_000_000n;
      const r = await ch.call('guest-set-time', { time: hostNowNs() + hour });
      skipIfUnsupported('guest-set-time', r);
      assert.deepEqual(r.json, { return: {} }, r.raw);
      const ahead = Number(timeFromRaw((await ch.call('guest-get-time')).raw) - hostNowNs()) / 1e9;
      assert.ok(Math.abs(ahead - 3600) < 60, `guest clock ~1 h ahead, is ${ahead} s`);
      assert.deepEqual(await ch.ok('guest-set-time', { time: hostNowNs() }), {});
      // No time: the system clock is set from the (just written) hardware clock.
      assert.deepEqual(await ch.ok('guest-set-time'), {});
      const skew = Number(timeFromRaw((await ch.call('guest-get-time')).raw) - hostNowNs()) / 1e9;
      assert.ok(Math.abs(skew) < 60, `guest clock back to the host's, ${skew} s off`);
      await ch.fails('guest-set-time', { time: -1 });
    },
    mask: numbers,
  },
  {
    name: 'guest-set-user-password',
    async run({ ch }) {
      const shadowEntry = async (): Promise<string> =>
        (await readGuestFile(ch, '/etc/shadow')).split('\n').find((l) => l.startsWith(`${E2E_USER}:`))?.split(':')[1] ?? '(no entry)';
      const before = await shadowEntry();
      assert.deepEqual(await ch.ok('guest-set-user-password', { username: E2E_USER, password: b64('e2e-secret'), crypted: false }), {});
      const hashed = await shadowEntry();
      assert.ok(hashed.startsWith('$') && hashed !== before, `a password hash in /etc/shadow: ${hashed}`);
      const crypted = '$6$e2esalt$zOZct7UrQ6sIsfNBvQ662sivB4IXS47jqkC00bpToWkcNcVJZlzm.A.58f.uTQl8Hqx11f6uRjh6fuVVeriPR0';
      assert.deepEqual(await ch.ok('guest-set-user-password', { username: E2E_USER, password: b64(crypted), crypted: true }), {});
      assert.equal(await shadowEntry(), crypted);
      const e = await ch.fails('guest-set-user-password', { username: 'no-such-e2e-user', password: b64('x'), crypted: false });
      assert.match(e.desc, /^child process has failed to set user password/);
    },
    // 10.2 appends the helper's output to the failure (docs/compatibility.md §Versions, "helper programs"); 7.2 does not.
    mask: (line) => line.replace(/("desc": "child process has failed to set user password)(?:[^"\\]|\\.)*"/, '$1"'),
  },
  {
    name: 'guest-ssh-*-authorized-keys',
    async run({ ch }) {
      const k1 = 'ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIE2eE2eE2eE2eE2eE2eE2eE2eE2eE2eE2eE2eE2eE2e1 e2e-one@host';
      const k2 = 'ssh-rsa AAAAB3NzaC1yc2EAAAADAQABAAABAQDe2ee2ee2ee2ee2ee2ee2ee2ee2ee2ee2ee2e2 e2e-two@host';
      const k3 = 'ecdsa-sha2-nistp256 AAAAE2VjZHNhLXNoYTItbmlzdHAyNTYAAAAIbmlzdHAyNTYAAABBBe2e3 e2e-three@host';
      const get = async (): Promise<string[]> => (await ch.ok<{ keys: string[] }>('guest-ssh-get-authorized-keys', { username: E2E_USER })).keys;
      const r = await ch.call('guest-ssh-add-authorized-keys', { username: E2E_USER, keys: [k1, k2] });
      skipIfUnsupported('guest-ssh-add-authorized-keys', r);
      assert.deepEqual(r.json, { return: {} }, r.raw);
      // The file keeps the order keys were added in, one a line, no newline after the last (qemu-ga's
      // g_strjoinv); get lists them in qemu-ga's (reversed) order, which the differential checks.
      const file = `/home/${E2E_USER}/.ssh/authorized_keys`;
      assert.deepEqual((await get()).sort(), [k1, k2].sort());
      assert.deepEqual(await ch.ok('guest-ssh-add-authorized-keys', { username: E2E_USER, keys: [k2, k3] }), {});
      assert.deepEqual((await get()).sort(), [k1, k2, k3].sort());
      assert.equal(await readGuestFile(ch, file), `${k1}\n${k2}\n${k3}`);
      assert.deepEqual(await ch.ok('guest-ssh-remove-authorized-keys', { username: E2E_USER, keys: [k2] }), {});
      assert.deepEqual((await get()).sort(), [k1, k3].sort());
      assert.deepEqual(await ch.ok('guest-ssh-add-authorized-keys', { username: E2E_USER, keys: [k2], reset: true }), {});
      assert.deepEqual(await get(), [k2]);
      assert.equal(await readGuestFile(ch, file), k2);
      const st = await execWait(ch, ['/usr/bin/stat', '-c', '%a %U %G %n', `/home/${E2E_USER}/.ssh`, file]);
      assert.equal(st.out, `700 ${E2E_USER} ${E2E_USER} /home/${E2E_USER}/.ssh\n600 ${E2E_USER} ${E2E_USER} ${file}\n`);
      await ch.fails('guest-ssh-get-authorized-keys', { username: 'no-such-e2e-user' });
      await ch.fails('guest-ssh-add-authorized-keys', { username: E2E_USER, keys: ['not a key\nwith a newline'] });
    },
    mask: (line) => line.replace(/"pid": ?\d+/g, '"pid": N'),
  },
  {
    name: 'guest-suspend-disk: no reply, the kernel hibernates up to its freezer test (pm_test), the agent answers again',
    timeoutMs: 180_000,
    async run(ctx) {
      const text = await hibernationFreezerTest(ctx, 'guest-suspend-disk');
      // Through /sys/power/state: systemctl (the stand-in) says there is no systemd-hibernate unit.
      assert.doesNotMatch(text, /QGA-E2E: systemctl/);
    },
    mask: (line) => line.replace(/"pid": ?\d+/g, '"pid": N'),
  },
  {
    name: 'guest-suspend-hybrid: no reply, systemctl hybrid-sleep, the kernel hibernates up to its freezer test, the agent answers again',
    timeoutMs: 180_000,
    async run(ctx) {
      const standin = [/QGA-E2E: systemctl hybrid-sleep -> hybrid-sleep/, /QGA-E2E: systemctl hybrid-sleep: exit status \d+/];
      // qemu-ga has no sysfs way for hybrid, only systemd's: the stand-in does what systemd-sleep does
      // (hibernation mode suspend, state disk).
      const text = await hibernationFreezerTest(ctx, 'guest-suspend-hybrid', standin);
      assert.match(text, /QGA-E2E: systemctl hybrid-sleep: exit status 0/);
    },
    mask: (line) => line.replace(/"pid": ?\d+/g, '"pid": N'),
  },
  {
    name: 'guest-suspend-ram: no reply, QMP SUSPEND (then a cold restart)',
    timeoutMs: 150_000,
    async run({ ch, vm, note }) {
      const qmp = await vm.monitor();
      const t0 = Date.now();
      const ev = await noReplyThenEvent(ch, vm, 'guest-suspend-ram', undefined, 'SUSPEND');
      note(`SUSPEND after ${(eventMs(ev) - t0) / 1000} s`);
      assert.equal(((await qmp.execute('query-status')) as { status: string }).status, 'suspended');
      // The agent's part, entering S3 on request, is done. What follows is not reliable in this guest:
      // its root is virtio-9p, whose driver has no suspend/resume support, so after a wake-up whatever
      // touches the root hangs, and a reset then does not always boot it again. A new QEMU on the same
      // data disk does.
      const starts = vm.agentStarts();
      await ch.reconnect(() => vm.coldRestart());
      assert.equal(vm.agentStarts(), starts + 1, 'the restarted guest started the agent');
      assert.deepEqual(await ch.ok('guest-ping'), {});
    },
  },
  {
    name: 'guest-shutdown mode=reboot: no reply, QMP RESET, the agent answers again',
    timeoutMs: 150_000,
    async run({ ch, vm, note }) {
      const starts = vm.agentStarts();
      const t0 = Date.now();
      const ev = await noReplyThenEvent(ch, vm, 'guest-shutdown', { mode: 'reboot' }, 'RESET');
      assert.deepEqual(ev.data, { guest: true, reason: 'guest-reset' });
      await ch.reconnect(() => vm.connectAgent(120_000));
      note(`RESET after ${(eventMs(ev) - t0) / 1000} s, the agent answered again after ${(Date.now() - t0) / 1000} s`);
      assert.equal(vm.agentStarts(), starts + 1, 'the guest started the agent once more');
      assert.deepEqual(await ch.ok('guest-ping'), {});
      // The data disk kept what was written before the reboot.
      const h = await ch.ok<number>('guest-file-open', { path: '/mnt/data/e2e.txt' });
      const r = await ch.ok<{ 'buf-b64': string }>('guest-file-read', { handle: h });
      assert.equal(unb64(r['buf-b64']), 'written by the e2e test\nappended\n');
      await ch.ok('guest-file-close', { handle: h });
    },
  },
  {
    name: 'guest-shutdown mode=halt: no reply, the guest halts (QEMU has no event for it), then a cold restart',
    timeoutMs: 180_000,
    async run({ ch, vm, note }) {
      const qmp = await vm.monitor();
      const from = qmp.events.length;
      const t0 = Date.now();
      const text = await noReplyUntilConsole(ch, vm, 'guest-shutdown', { mode: 'halt' }, [/reboot: System halted/], 90_000);
      note(`halted after ${(Date.now() - t0) / 1000} s`);
      const standin = /QGA-E2E: (?:halt|shutdown)\b.* -> \w+/.exec(text)?.[0];
      ch.record(`console: ${standin}`);
      assert.match(standin ?? '(no stand-in line)', / -> halt$/);
      ch.record('console: reboot: System halted');
      // A halt is not a power-off: no SHUTDOWN (nor RESET) event, the VM stays "running" with its vCPUs halted.
      const status = (await qmp.execute('query-status')) as { status: string };
      const events = qmp.events.slice(from).map((e) => e.event).filter((e) => ['SHUTDOWN', 'POWERDOWN', 'RESET', 'STOP', 'SUSPEND'].includes(e));
      ch.record(`qmp: status ${status.status}, events ${JSON.stringify(events)}`);
      assert.deepEqual([status.status, events], ['running', []]);
      const starts = vm.agentStarts();
      await ch.reconnect(() => vm.coldRestart());
      assert.equal(vm.agentStarts(), starts + 1, 'the restarted guest started the agent');
      assert.deepEqual(await ch.ok('guest-ping'), {});
    },
    // 7.2 always runs /sbin/shutdown -h -H; 10.2 runs /sbin/halt when it is executable (docs/compatibility.md §Commands).
    to102: (line) => line.replace('console: QGA-E2E: shutdown -h -H +0 hypervisor initiated shutdown -> halt', 'console: QGA-E2E: halt  -> halt'),
  },
  {
    name: 'guest-shutdown (powerdown): no reply, QMP SHUTDOWN, VM state shutdown',
    timeoutMs: 90_000,
    async run({ ch, vm, note }) {
      const t0 = Date.now();
      const ev = await noReplyThenEvent(ch, vm, 'guest-shutdown', undefined, 'SHUTDOWN');
      note(`SHUTDOWN after ${(eventMs(ev) - t0) / 1000} s`);
      assert.deepEqual(ev.data, { guest: true, reason: 'guest-shutdown' });
      const status = (await (await vm.monitor()).execute('query-status')) as { status: string; running: boolean };
      assert.deepEqual([status.status, status.running], ['shutdown', false]);
    },
  },
];
