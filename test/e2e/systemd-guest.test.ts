// End to end in a real systemd guest (Debian 12, test/e2e/README.md): the packages `npm run package`
// writes, installed the way a user would, started by systemd and udev when the host plugs the agent's
// port, and their cold start beside Debian's qemu-ga in the same guest. One guest, in order:
//   qemu-ga (preinstalled): boot → first answer, stop + drop caches + start → first answer, its []
//     for a logind-only login;
//   qga-ts .deb on Debian's nodejs: apt install (replaces qemu-guest-agent), reboot, udev start,
//     journald, device_del/device_add, SIGKILL restart, fsfreeze hooks, users from logind, cold
//     figures, apt purge;
//   qga-ts-standalone .deb after nodejs is purged: reboot, udev start, journald, cold figures.
//
//   npm run test:e2e   (needs the e2e's host packages + mmdebstrap, root to build the image once)
import { after, before, describe, it, type TestContext } from 'node:test';
import * as assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import type { RawClient } from '../support/agent.ts';
import { GuestChannel } from './channel.ts';
import { prepareKernel } from './kernel.ts';
import { ensureImage, imageProblems } from './systemd-image.ts';
import { SystemdVm } from './systemd-vm.ts';
import { sleep } from './qemu.ts';
import { hostProblems } from './vm.ts';

const REPO = path.resolve(path.dirname(new URL(import.meta.url).pathname), '../..');
const VERSION = (JSON.parse(fs.readFileSync(path.join(REPO, 'package.json'), 'utf8')) as { version: string }).version;
const PKG_DIR = path.resolve(process.env.QGA_E2E_PKG_DIR ?? path.join(REPO, 'dist/pkg'));
const NODE_DEB = `qga-ts_${VERSION}_amd64.deb`;
const STANDALONE_DEB = `qga-ts-standalone_${VERSION}_amd64.deb`;
const QGA_TS_UNIT = 'qga-ts.service';
const QEMU_GA_UNIT = 'qemu-guest-agent.service';
const BOOT_TIMEOUT_MS = 300_000;
const HOOK_MARKER = '/run/qga-e2e-hook.log';

const problems = [...hostProblems(), ...imageProblems()];
for (const deb of [NODE_DEB, STANDALONE_DEB]) {
  if (!fs.existsSync(path.join(PKG_DIR, deb))) problems.push(`${path.join(PKG_DIR, deb)} is missing: npm run package`);
}
const rundir = fs.mkdtempSync(path.join(os.tmpdir(), 'qga-e2e-sysd-'));
let vm: SystemdVm | undefined;
let agent: RawClient | undefined;
let broken: string | undefined;
let anyFailure = false;
const figures: string[] = [];

/** One figure line, kept for the summary and shown under the step. */
function figure(t: TestContext, line: string): void {
  figures.push(line);
  t.diagnostic(line);
}

/** Steps share one guest: after a failure the later ones say so at once instead of timing out. */
function step(name: string, run: (t: TestContext, vm: SystemdVm) => Promise<void>, timeoutMs = 600_000): void {
  it(name, { timeout: timeoutMs }, async (t) => {
    if (!vm) throw new Error('the guest did not start');
    if (broken) throw new Error(`not run: the guest is unusable after "${broken}"`);
    const v = vm;
    try {
      await run(t, v);
    } catch (err) {
      anyFailure = true;
      // A failed assertion leaves the guest usable; a guest whose control line is gone does not.
      const usable = v.running && (await v.run('true', 15_000).then(() => true, () => false));
      if (!usable) broken = name;
      throw err;
    }
  });
}

async function ping(): Promise<void> {
  assert.ok(agent, 'no agent connection');
  assert.deepEqual(await new GuestChannel(agent).ok('guest-ping'), {});
}

/** A new connection to the agent (QEMU's chardev serves one client at a time), resynced. */
async function reconnect(v: SystemdVm, timeoutMs = 60_000): Promise<number> {
  agent?.close();
  const t0 = Date.now();
  agent = await v.connectAgent(timeoutMs);
  return Date.now() - t0;
}

interface GuestView {
  /** Seconds since the kernel started, when the agent first answered (± half a control round trip). */
  answerAt: number;
  /** The unit's ExecMainStartTimestampMonotonic, seconds since the kernel started. */
  unitStart: number;
  analyze: string;
}

/**
 * The guest's clock at the agent's first answer (host time `answeredAt`): its uptime now, less the host
 * time elapsed since the answer, taking the middle of the control round trip as the moment of reading.
 */
async function guestView(v: SystemdVm, unit: string, answeredAt: number): Promise<GuestView> {
  const sent = Date.now();
  const out = await v.sh(`cut -d' ' -f1 /proc/uptime; systemctl show -p ExecMainStartTimestampMonotonic --value ${unit}; systemd-analyze 2>&1 | head -1 || true`);
  const read = (sent + Date.now()) / 2;
  const [uptime, mono, analyze] = out.split('\n');
  return { answerAt: Number(uptime) - (read - answeredAt) / 1000, unitStart: Number(mono) / 1e6, analyze: analyze ?? '' };
}

const s = (ms: number): string => `${(ms / 1000).toFixed(2)} s`;

/** Powers the guest off and boots it again with the port plugged; figures from QEMU's start to the first answer. */
async function coldBoot(t: TestContext, v: SystemdVm, label: string, unit: string): Promise<void> {
  agent?.close();
  agent = undefined;
  if (v.running) await v.poweroff();
  v.launch(true);
  agent = await v.connectAgent(BOOT_TIMEOUT_MS);
  const answeredAt = Date.now();
  await v.waitControl();
  const g = await guestView(v, unit, answeredAt);
  figure(
    t,
    `${label}: boot → first answer ${s(answeredAt - v.startedAt)} from QEMU's start, ${g.answerAt.toFixed(2)} s from the kernel's, ` +
      `${(g.answerAt - g.unitStart).toFixed(2)} s from systemd starting the unit (unit started at ${g.unitStart.toFixed(2)} s; ${g.analyze.trim()})`,
  );
}

/** Stops the unit, drops the page cache, starts it: figures to the first answer. */
async function coldRestart(t: TestContext, v: SystemdVm, label: string, unit: string): Promise<void> {
  agent?.close();
  agent = undefined;
  await v.sh(`systemctl stop ${unit} && sync && echo 3 >/proc/sys/vm/drop_caches && systemctl start ${unit}`);
  const hostMs = await reconnect(v);
  const g = await guestView(v, unit, Date.now());
  figure(t, `${label}: stop, drop caches, start → first answer ${s(hostMs)} after systemctl start returned, ${(g.answerAt - g.unitStart).toFixed(2)} s from the unit's exec (guest clock)`);
}

async function isActive(v: SystemdVm, unit: string): Promise<string> {
  return (await v.run(`systemctl is-active ${unit}`)).out.trim();
}

/** Waits until `systemctl is-active` says `want`. */
async function waitActive(v: SystemdVm, unit: string, want: string, timeoutMs = 60_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  let state = '';
  while (Date.now() < deadline) {
    state = await isActive(v, unit);
    if (state === want) return;
    await sleep(250);
  }
  assert.fail(`${unit} is ${state}, not ${want}, after ${timeoutMs} ms`);
}

/** The agent's own lines in the journal since boot (syslog from the unit's processes), as text. */
async function journal(v: SystemdVm, unit: string): Promise<string> {
  return v.sh(`journalctl -b --no-pager -o short-monotonic _SYSTEMD_UNIT=${unit} SYSLOG_IDENTIFIER=qemu-ga`);
}

/** Ping, then the journal has the agent's audit line for it (qemu-ga and qga-ts both log `guest-ping called`). */
async function pingIsJournaled(t: TestContext, v: SystemdVm, unit: string): Promise<void> {
  const before = (await journal(v, unit)).split('\n').filter((l) => l.includes('guest-ping called')).length;
  await ping();
  let lines = '';
  for (let i = 0; i < 20; i++) {
    lines = await journal(v, unit);
    if (lines.split('\n').filter((l) => l.includes('guest-ping called')).length > before) break;
    await sleep(250);
  }
  assert.ok(lines.split('\n').filter((l) => l.includes('guest-ping called')).length > before, `no new "guest-ping called" line from ${unit} in the journal:\n${lines}`);
  t.diagnostic(`journal: ${lines.trim().split('\n').slice(-3).join(' | ')}`);
}

before(() => {
  if (problems.length > 0) throw new Error(`this host cannot run the systemd guest e2e:\n  ${problems.join('\n  ')}`);
  const { image, builtMs } = ensureImage((line) => process.stdout.write(`# ${line}\n`));
  const st = fs.statSync(image);
  const built = builtMs === undefined ? 'cached' : `built in ${s(builtMs)}`;
  figures.push(`image ${path.basename(image)}: ${built}, ${(st.blocks * 512 / 2 ** 20).toFixed(0)} MiB on disk (${(st.size / 2 ** 20).toFixed(0)} MiB apparent)`);
  vm = new SystemdVm({ name: 'debian12', rundir, kernel: prepareKernel(rundir), image, share: PKG_DIR });
});

after(async () => {
  if (figures.length > 0) process.stdout.write(`# systemd guest figures (${vm?.accel ?? '?'}):\n${figures.map((f) => `#   ${f}\n`).join('')}`);
  agent?.close();
  if (vm && anyFailure) process.stderr.write(`\n${vm.diagnostics(200)}\n`);
  await vm?.stop();
  if (anyFailure || process.env.QGA_E2E_KEEP === '1') process.stderr.write(`e2e: logs kept in ${rundir}\n`);
  else fs.rmSync(rundir, { recursive: true, force: true });
});

const LOGIN_USER = 'qgae2e';

/**
 * A logind login with no utmp record (what Debian 13 guests have: no /run/utmp): a transient unit
 * through PAM's login stack on a TTY, which pam_systemd registers as a `user` session. Returns the
 * session's REALTIME (µs since the epoch), from which guest-get-users takes the login time.
 */
async function logindLogin(v: SystemdVm): Promise<bigint> {
  const out = await v.sh(`id -u ${LOGIN_USER} >/dev/null 2>&1 || useradd -m ${LOGIN_USER}
    systemctl stop qga-e2e-login.service 2>/dev/null || true
    systemd-run --quiet --unit=qga-e2e-login --uid=${LOGIN_USER} -p PAMName=login -p TTYPath=/dev/tty5 -p StandardInput=tty-force sleep 3600
    for i in $(seq 50); do
      f=$(grep -l '^USER=${LOGIN_USER}$' /run/systemd/sessions/* 2>/dev/null | head -n1)
      [ -n "$f" ] && grep -q '^REALTIME=' "$f" && break
      sleep 0.2
    done
    grep -hE '^(CLASS|STATE|REALTIME)=' "$f"
    echo "who=$(who | wc -l)"`);
  assert.match(out, /^CLASS=user$/m, out);
  assert.match(out, /^who=0$/m, `utmp has a login, so this is not the logind case:\n${out}`);
  const realtime = /^REALTIME=(\d+)$/m.exec(out)?.[1];
  assert.ok(realtime, out);
  return BigInt(realtime);
}

describe("e2e systemd guest: Debian's qemu-ga, the reference for the cold start", () => {
  step('first boot: systemd starts qemu-guest-agent on the port, guest-ping answers', async (t, v) => {
    v.launch(true);
    agent = await v.connectAgent(BOOT_TIMEOUT_MS);
    t.diagnostic(`first boot (machine-id, journal set-up): answered ${s(Date.now() - v.startedAt)} after QEMU's start`);
    await v.waitControl();
    assert.equal(await isActive(v, QEMU_GA_UNIT), 'active');
    await ping();
  });

  step('boot → first answer (qemu-ga)', (t, v) => coldBoot(t, v, 'qemu-ga', QEMU_GA_UNIT));
  step('stop, drop caches, start → first answer (qemu-ga)', (t, v) => coldRestart(t, v, 'qemu-ga', QEMU_GA_UNIT));
  step('the journal holds qemu-ga\'s lines', (t, v) => pingIsJournaled(t, v, QEMU_GA_UNIT));
  step('a logind login with no utmp record: qemu-ga answers guest-get-users with []', async (t, v) => {
    await logindLogin(v);
    assert.ok(agent);
    assert.deepEqual(await new GuestChannel(agent).ok('guest-get-users'), []);
  });
});

describe("e2e systemd guest: qga-ts .deb on Debian's nodejs", () => {
  step('apt installs the .deb from the share, replacing qemu-guest-agent (Conflicts/Replaces)', async (t, v) => {
    agent?.close();
    agent = undefined;
    const out = await v.sh(`mkdir -p /mnt/pkgs && mountpoint -q /mnt/pkgs || mount -t 9p -o trans=virtio,ro pkgs /mnt/pkgs
      node --version
      DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends /mnt/pkgs/${NODE_DEB} 2>&1`, 300_000);
    t.diagnostic(out.split('\n').filter((l) => /^(v\d|Removing|Setting up)/.test(l)).join(' | '));
    assert.equal((await v.run("dpkg-query -W -f='${Status}' qga-ts")).out, 'install ok installed');
    assert.notEqual((await v.run("dpkg-query -W -f='${Status}' qemu-guest-agent")).out, 'install ok installed', 'qemu-guest-agent is still installed next to qga-ts');
    // postinst built the agent's startup snapshot with the guest's node (make-snapshot.js).
    assert.equal((await v.run('test -s /var/cache/qga-ts/agent.blob && test -s /var/cache/qga-ts/agent.blob.id')).rc, 0, 'postinst built no startup snapshot');
  });

  step('after a reboot, systemd starts qga-ts on the port with no manual start; guest-ping answers', async (t, v) => {
    await coldBoot(t, v, 'qga-ts (Debian nodejs)', QGA_TS_UNIT);
    assert.equal(await isActive(v, QGA_TS_UNIT), 'active');
    assert.match(await v.sh(`systemctl show -p ExecStart --value ${QGA_TS_UNIT}`), /qga-ts/);
    // The launcher started the agent from the startup snapshot.
    assert.match(await v.sh(`tr '\\0' ' ' </proc/$(systemctl show -p MainPID --value ${QGA_TS_UNIT})/cmdline`), /--snapshot-blob /);
    await ping();
  });

  step('the journal holds the agent\'s lines', (t, v) => pingIsJournaled(t, v, QGA_TS_UNIT));

  step('QMP device_del of the port stops the service; device_add starts it and guest-ping answers', async (t, v) => {
    agent?.close();
    agent = undefined;
    await v.unplugAgentPort();
    await waitActive(v, QGA_TS_UNIT, 'inactive');
    assert.equal((await v.run('test -e /dev/virtio-ports/org.qemu.guest_agent.0')).rc, 1, 'the port is still in the guest');
    await v.plugAgentPort();
    await waitActive(v, QGA_TS_UNIT, 'active');
    t.diagnostic(`answered ${s(await reconnect(v))} after the port came back`);
    await ping();
  });

  step('SIGKILL of the main process: systemd starts a new one within 2 s, guest-ping answers', async (t, v) => {
    // systemd's own clock: the guest's uptime just before the kill, against the new process's
    // ExecMainStartTimestampMonotonic (polling systemctl under TCG would time the polling).
    const out = await v.sh(`old=$(systemctl show -p MainPID --value ${QGA_TS_UNIT})
      [ "$old" -gt 0 ] || { echo "no main pid"; exit 1; }
      k=$(cut -d' ' -f1 /proc/uptime); kill -KILL "$old"
      for i in $(seq 300); do
        new=$(systemctl show -p MainPID --value ${QGA_TS_UNIT})
        [ "$new" -gt 0 ] && [ "$new" != "$old" ] && break
        sleep 0.1
      done
      echo "$old $new $k $(systemctl show -p ExecMainStartTimestampMonotonic --value ${QGA_TS_UNIT}) $(systemctl is-active ${QGA_TS_UNIT})"`);
    const [oldPid, newPid, killedAt, startedUs, state] = out.trim().split(' ');
    assert.notEqual(newPid, oldPid, `no new main pid: ${out}`);
    assert.ok(Number(newPid) > 0, out);
    assert.equal(state, 'active');
    const ms = Math.round(Number(startedUs) / 1000 - Number(killedAt) * 1000);
    figure(t, `qga-ts (Debian nodejs): SIGKILL → systemd started a new main process ${s(ms)} later (guest clock)`);
    assert.ok(ms >= 0 && ms <= 2000, `systemd took ${ms} ms to restart the agent`);
    t.diagnostic(`answered ${s(await reconnect(v))} after the new process was seen`);
    await ping();
  });

  step('guest-fsfreeze-freeze runs the packaged hook and its hook.d script on /mnt/data; thaw too', async (t, v) => {
    await v.sh(`findmnt -n -o FSTYPE /mnt/data | grep -qx ext4
      test -x /etc/qemu/fsfreeze-hook && test -d /etc/qemu/fsfreeze-hook.d
      rm -f ${HOOK_MARKER}
      printf '#!/bin/sh\\necho "$1 $(findmnt -n -o OPTIONS /mnt/data | cut -d, -f1)" >>${HOOK_MARKER}\\n' >/etc/qemu/fsfreeze-hook.d/qga-e2e.sh
      chmod 755 /etc/qemu/fsfreeze-hook.d/qga-e2e.sh`);
    assert.ok(agent);
    const ch = new GuestChannel(agent);
    assert.equal(await ch.ok('guest-fsfreeze-freeze-list', { mountpoints: ['/mnt/data'] }), 1);
    assert.equal(await ch.ok('guest-fsfreeze-status'), 'frozen');
    // The frozen filesystem takes no write: a write from the control line would block, so only look.
    assert.match(await v.sh(`cat ${HOOK_MARKER}`), /^freeze rw$/m);
    assert.equal(await ch.ok('guest-fsfreeze-thaw'), 1);
    assert.equal(await ch.ok('guest-fsfreeze-status'), 'thawed');
    const marker = await v.sh(`cat ${HOOK_MARKER}; timeout 10 touch /mnt/data/written-after-thaw && echo write-ok`);
    assert.deepEqual(marker.trim().split('\n'), ['freeze rw', 'thaw rw', 'write-ok']);
    const hookLog = await v.sh('cat /var/log/qga-fsfreeze-hook.log');
    t.diagnostic(`hook log: ${hookLog.trim().split('\n').join(' | ')}`);
    assert.match(hookLog, /qga-e2e\.sh.*freeze/);
    assert.match(hookLog, /qga-e2e\.sh.*thaw/);
    await v.sh('rm -f /etc/qemu/fsfreeze-hook.d/qga-e2e.sh');
  });

  step('a logind login with no utmp record: qga-ts answers guest-get-users from logind', async (t, v) => {
    const realtime = await logindLogin(v);
    assert.ok(agent);
    const users = await new GuestChannel(agent).ok<{ user: string; 'login-time': number }[]>('guest-get-users');
    // utmp's rule: whole seconds plus microseconds / 10^6, as a double.
    const loginTime = Number(realtime / 1_000_000n) + Number(realtime % 1_000_000n) / 1e6;
    assert.deepEqual(users, [{ user: LOGIN_USER, 'login-time': loginTime }]);
    t.diagnostic(`guest-get-users: ${JSON.stringify(users)}`);
  });

  step('stop, drop caches, start → first answer (qga-ts, Debian nodejs)', (t, v) => coldRestart(t, v, 'qga-ts (Debian nodejs)', QGA_TS_UNIT));

  step('apt purge removes every file the package installed, and the unit', async (t, v) => {
    agent?.close();
    agent = undefined;
    // Files and symlinks; directories (and /lib, a symlink to one under merged /usr) are shared.
    const files = (await v.sh("dpkg -L qga-ts | while read -r f; do [ -d \"$f\" ] || echo \"$f\"; done")).trim().split('\n');
    assert.ok(files.some((f) => f.endsWith('/qga-ts.service')), `no unit among the package's files: ${files.join(' ')}`);
    await v.sh('DEBIAN_FRONTEND=noninteractive apt-get purge -y qga-ts 2>&1', 300_000);
    const left = await v.sh(`for f in ${files.map((f) => `'${f}'`).join(' ')}; do [ -e "$f" ] || [ -L "$f" ] && echo "$f"; done; true`);
    assert.equal(left.trim(), '', `files left after apt purge:\n${left}`);
    assert.equal((await v.run('test -e /usr/lib/qga-ts')).rc, 1, '/usr/lib/qga-ts is still there');
    assert.equal((await v.run('test -e /var/cache/qga-ts')).rc, 1, 'the startup snapshot /var/cache/qga-ts is still there');
    assert.match((await v.run(`systemctl show -p LoadState --value ${QGA_TS_UNIT}`)).out, /not-found/);
    t.diagnostic(`${files.length} files installed, none left`);
  });
});

describe('e2e systemd guest: qga-ts-standalone .deb, no nodejs in the guest', () => {
  step('nodejs purged; apt installs the standalone .deb', async (t, v) => {
    await v.sh('DEBIAN_FRONTEND=noninteractive apt-get purge -y --autoremove nodejs 2>&1', 300_000);
    assert.notEqual((await v.run('command -v node nodejs')).rc, 0, 'node is still on PATH');
    const out = await v.sh(`mountpoint -q /mnt/pkgs || mount -t 9p -o trans=virtio,ro pkgs /mnt/pkgs
      DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends /mnt/pkgs/${STANDALONE_DEB} 2>&1
      ls -l /usr/sbin/qga-ts; /usr/sbin/qga-ts -V`, 300_000);
    t.diagnostic(out.trim().split('\n').slice(-2).join(' | '));
    assert.equal((await v.run("dpkg-query -W -f='${Status}' qga-ts-standalone")).out, 'install ok installed');
  });

  step('after a reboot, systemd starts it on the port with no manual start; guest-ping answers', async (t, v) => {
    await coldBoot(t, v, 'qga-ts standalone', QGA_TS_UNIT);
    assert.equal(await isActive(v, QGA_TS_UNIT), 'active');
    await ping();
  });

  step('the journal holds the agent\'s lines', (t, v) => pingIsJournaled(t, v, QGA_TS_UNIT));
  step('stop, drop caches, start → first answer (qga-ts standalone)', (t, v) => coldRestart(t, v, 'qga-ts standalone', QGA_TS_UNIT));
});
