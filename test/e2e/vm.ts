// The e2e VM: QEMU boots the host's own kernel, the guest's root filesystem is the host's root
// (virtio-9p, read-only, under a tmpfs overlay), and a guest agent serves org.qemu.guest_agent.0,
// a virtio-serial port wired to a unix socket on the host. Everything destructive happens in the guest.
//
// Host needs (Debian): qemu-system-x86 linux-image-amd64 busybox-static e2fsprogs kmod
// (+ qemu-guest-agent for the reference agent). KVM is used only when kvm_intel/kvm_amd is loaded;
// otherwise TCG. See test/e2e/README.md.
import { execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { RawClient } from '../support/agent.ts';
import { Cpio, guestModules } from './initramfs.ts';
import { findKernel, type Kernel } from './kernel.ts';
import { AGENT_PORT, CONTROL_PORT, onPath, qemuEsc, QemuVm, readIfExists, sbinEnv, shq } from './qemu.ts';

export { prepareKernel, type Kernel } from './kernel.ts';
export { AGENT_PORT, sleep } from './qemu.ts';

const GUEST_DIR = path.join(path.dirname(new URL(import.meta.url).pathname), 'guest');
export const GUEST_AGENT_DEVICE = `/dev/virtio-ports/${AGENT_PORT}`;
export const GUEST_HOSTNAME = 'qga-e2e';
export const DATA_SERIAL = 'qga-e2e-data0';
export const GUEST_RUN_DIR = '/run/qga-e2e';
export const NIC_MAC = '52:54:00:12:34:56';
export const NIC_IPV4 = '192.0.2.15';
const GUEST_MODULES = ['virtio_pci', 'virtio_console', 'virtio_blk', 'virtio_net', 'virtio-rng', '9pnet_virtio', '9p', 'overlay', 'ext4'];
/** Directories the guest mounts afresh: host files below them are hidden unless bound back. */
const GUEST_SHADOWED = ['/tmp', '/run', '/var/run', '/dev/shm'];
const GUEST_UNREACHABLE = ['/proc', '/sys', '/dev'];

// ---------------------------------------------------------------- host checks

/** Why this host cannot run the e2e VM, or [] when it can. Missing pieces are errors, never skips. */
export function hostProblems(): string[] {
  const problems: string[] = [];
  if (!onPath('qemu-system-x86_64')) problems.push('qemu-system-x86_64 is missing (apt-get install qemu-system-x86)');
  if (!onPath('mkfs.ext4')) problems.push('mkfs.ext4 is missing (apt-get install e2fsprogs)');
  if (!onPath('modprobe')) problems.push('modprobe is missing (apt-get install kmod)');
  const busybox = process.env.QGA_E2E_BUSYBOX ?? '/bin/busybox';
  if (!fs.existsSync(busybox)) problems.push(`${busybox} is missing (apt-get install busybox-static)`);
  else if (elfInterpreter(busybox) !== undefined) problems.push(`${busybox} is dynamically linked (apt-get install busybox-static)`);
  try {
    findKernel();
  } catch (err) {
    problems.push((err as Error).message);
  }
  return problems;
}

/** The PT_INTERP of a 64-bit little-endian ELF file, or undefined for a static binary. */
function elfInterpreter(file: string): string | undefined {
  const b = fs.readFileSync(file);
  if (b.readUInt32BE(0) !== 0x7f454c46 || b[4] !== 2) throw new Error(`${file} is not a 64-bit ELF file`);
  const phoff = Number(b.readBigUInt64LE(0x20));
  const phentsize = b.readUInt16LE(0x36);
  const phnum = b.readUInt16LE(0x38);
  for (let i = 0; i < phnum; i++) {
    const ph = phoff + i * phentsize;
    if (b.readUInt32LE(ph) === 3 /* PT_INTERP */) {
      const off = Number(b.readBigUInt64LE(ph + 8));
      const size = Number(b.readBigUInt64LE(ph + 32));
      return b.subarray(off, off + size - 1).toString('latin1');
    }
  }
  return undefined;
}

// ---------------------------------------------------------------- initramfs

/** Host paths the guest must see but would hide under its fresh /tmp or /run: bound back in stage 2. */
export function guestBinds(paths: readonly string[]): string[] {
  const binds = new Set<string>();
  for (const p of paths) {
    const real = fs.realpathSync(p);
    const under = (dir: string): boolean => real === dir || real.startsWith(dir + '/');
    if (GUEST_UNREACHABLE.some(under)) throw new Error(`${real} is under a directory the guest cannot share with the host`);
    if (GUEST_SHADOWED.some(under)) binds.add(real);
  }
  // A path inside another bound path comes along with it.
  return [...binds].filter((p) => ![...binds].some((q) => q !== p && p.startsWith(q + '/')));
}

function buildInitramfs(opts: { version: string; agent: readonly string[]; binds: readonly string[]; users: readonly string[]; modules: readonly string[]; hook: string }): Buffer {
  const cpio = new Cpio();
  for (const d of ['bin', 'dev', 'proc', 'sys', 'lib', 'lib/modules', 'qga-e2e']) cpio.dir(d);
  cpio.charDevice('dev/console', 5, 1);
  cpio.file('bin/busybox', fs.readFileSync(process.env.QGA_E2E_BUSYBOX ?? '/bin/busybox'), 0o755);
  const modules = guestModules(opts.version, [...GUEST_MODULES, ...opts.modules]);
  for (const m of modules) cpio.file(`lib/modules/${m.name}`, m.data);
  cpio.file('qga-e2e/modules.list', modules.map((m) => m.name).join('\n') + '\n');
  cpio.file('init', fs.readFileSync(path.join(GUEST_DIR, 'init.sh')), 0o755);
  for (const f of ['stage2.sh', 'agent.sh', 'control.sh', 'power.sh', 'stop.sh']) {
    cpio.file(`qga-e2e/${f}`, fs.readFileSync(path.join(GUEST_DIR, f)), 0o755);
  }
  const config = [
    `E2E_AGENT=${shq(opts.agent.map(shq).join(' '))}`,
    `E2E_BINDS=${shq(opts.binds.join(' '))}`,
    `E2E_USERS=${shq(opts.users.join(' '))}`,
    `E2E_HOSTNAME=${GUEST_HOSTNAME}`,
    `E2E_DATA_SERIAL=${DATA_SERIAL}`,
    `E2E_RUN_DIR=${GUEST_RUN_DIR}`,
    `E2E_HOOK=${shq(opts.hook)}`,
  ];
  cpio.file('qga-e2e/config.sh', config.join('\n') + '\n');
  return cpio.finish();
}

// ---------------------------------------------------------------- the VM

export interface VmOptions {
  /** Short name, used for the directory under `rundir` and in messages. */
  name: string;
  rundir: string;
  kernel: Kernel;
  /** The agent's argv inside the guest (absolute paths: the guest sees the host's tree). */
  agent: readonly string[];
  /** Host paths the agent needs (the checkout, node); bound into the guest when it would hide them. */
  hostPaths?: readonly string[];
  /** Users created in the guest at boot (useradd -m). */
  users?: readonly string[];
  /** Milliseconds until the agent must answer, from QEMU's start. */
  bootTimeoutMs?: number;
  /** QEMU machine type (default q35). */
  machine?: string;
  /** Guest kernel modules loaded at boot besides the VM's own (their dependencies come along). */
  modules?: readonly string[];
  /** A host script (the guest sees the host's tree) that stage 2 runs with bash before the agent starts. */
  hook?: string;
  /** More QEMU arguments (disks, controllers). */
  qemuArgs?: readonly string[];
}

export class Vm extends QemuVm {
  readonly agentLog: string;
  /** Milliseconds from QEMU's start to the agent's first answer. */
  bootMs = 0;

  private constructor(readonly opts: VmOptions) {
    super(opts.name, opts.rundir);
    this.agentLog = path.join(this.dir, 'agent.log');
  }

  /** Boots the VM and returns once the agent answered a guest-sync-delimited. The VM is stopped on failure. */
  static async boot(opts: VmOptions): Promise<{ vm: Vm; client: RawClient }> {
    const vm = new Vm(opts);
    try {
      vm.launch();
      await vm.waitForConsole(/QGA-E2E-AGENT-STARTED/, opts.bootTimeoutMs ?? 120_000);
      const client = await vm.connectAgent(Math.max(10_000, (opts.bootTimeoutMs ?? 120_000) - (Date.now() - vm.startedAt)));
      vm.bootMs = Date.now() - vm.startedAt;
      return { vm, client };
    } catch (err) {
      const e = err as Error;
      e.message += `\n${vm.diagnostics()}`;
      await vm.stop();
      throw e;
    }
  }

  /**
   * Stops QEMU and starts a new one on the same data disk (the console and agent logs continue), for a
   * guest that no reset can bring back; returns once the agent answers again.
   */
  async coldRestart(timeoutMs = 120_000): Promise<RawClient> {
    await this.stop();
    const offset = this.consoleText().length;
    this.launch(true);
    await this.waitForConsole(/QGA-E2E-AGENT-STARTED/, timeoutMs, offset);
    return this.connectAgent(timeoutMs);
  }

  private launch(restart = false): void {
    const { kernel } = this.opts;
    const dataImg = path.join(this.dir, 'data.img');
    const initrd = path.join(this.dir, 'initrd.cpio');
    if (!restart) {
      const binds = guestBinds(this.opts.hostPaths ?? []);
      fs.writeFileSync(
        initrd,
        buildInitramfs({ version: kernel.version, agent: this.opts.agent, binds, users: this.opts.users ?? [], modules: this.opts.modules ?? [], hook: this.opts.hook ?? '' }),
      );
      makeDataDisk(dataImg);
      for (const f of [this.consoleLog, this.agentLog]) fs.rmSync(f, { force: true });
    }
    const esc = qemuEsc;
    this.spawnQemu([
      '-name', `qga-e2e-${this.opts.name},debug-threads=on`,
      '-machine', this.opts.machine ?? 'q35', ...this.accelArgs(),
      '-smp', '2,maxcpus=4', '-m', '512M,slots=2,maxmem=2G',
      '-nodefaults', '-no-user-config', '-display', 'none', '-no-shutdown', '-rtc', 'base=utc',
      '-kernel', kernel.image, '-initrd', initrd,
      '-append', 'console=ttyS0 panic=-1 quiet loglevel=4 8250.nr_uarts=1',
      '-chardev', `file,id=con0,path=${esc(this.consoleLog)},append=on`, '-serial', 'chardev:con0',
      '-fsdev', 'local,id=hostroot,path=/,security_model=none,readonly=on,multidevs=remap',
      '-device', 'virtio-9p-pci,fsdev=hostroot,mount_tag=hostroot',
      '-device', 'virtio-serial-pci,id=vser0',
      '-chardev', `socket,id=qga0,path=${esc(this.agentSock)},server=on,wait=off`,
      '-device', `virtserialport,bus=vser0.0,chardev=qga0,name=${AGENT_PORT}`,
      '-chardev', `file,id=agentlog,path=${esc(this.agentLog)},append=on`,
      '-device', 'virtserialport,bus=vser0.0,chardev=agentlog,name=qga-e2e.agent-log',
      '-chardev', `socket,id=ctl0,path=${esc(this.controlSock)},server=on,wait=off`,
      '-device', `virtserialport,bus=vser0.0,chardev=ctl0,name=${CONTROL_PORT}`,
      '-device', 'virtio-rng-pci',
      ...dataDiskArgs(dataImg),
      // A NIC without a backend: the guest has an interface to report, and no packet leaves QEMU.
      '-device', `virtio-net-pci,mac=${NIC_MAC},id=nic0`,
      ...(this.opts.qemuArgs ?? []),
      ...this.qmpArgs(),
    ]);
  }

  agentLogText(): string {
    return readIfExists(this.agentLog);
  }

  /** How many times the guest has launched the agent (boots), from the console markers. */
  agentStarts(): number {
    return (this.consoleText().match(/QGA-E2E-AGENT-STARTED/g) ?? []).length;
  }

  protected override extraLogs(): [string, string][] {
    return [['agent log', this.agentLog]];
  }

  /**
   * Sends one command line to guest/control.sh over the control port and returns its one-line answer
   * (`kill-agent` → `killed <pid>`); an `error: …` answer throws.
   */
  async control(command: string, timeoutMs = 30_000): Promise<string> {
    const client = await RawClient.connect(this.controlSock);
    try {
      client.send(`${command}\n`);
      const [answer] = await client.lines(1, timeoutMs);
      if (answer === undefined) throw new Error(`the guest's control port did not answer ${command} within ${timeoutMs} ms`);
      if (answer.startsWith('error:')) throw new Error(`the guest's control port: ${command}: ${answer}`);
      return answer;
    } finally {
      client.close();
    }
  }
}

/** A fresh 64 MiB ext4 data disk (label e2e-data), for the guest's /mnt/data. */
export function makeDataDisk(file: string): void {
  fs.rmSync(file, { force: true });
  fs.writeFileSync(file, '');
  fs.truncateSync(file, 64 << 20);
  execFileSync('mkfs.ext4', ['-q', '-F', '-L', 'e2e-data', file], { stdio: ['ignore', 'ignore', 'pipe'], env: sbinEnv() });
}

/** The data disk's QEMU options: virtio-blk with serial DATA_SERIAL, discard passed through (fstrim). */
export function dataDiskArgs(file: string): string[] {
  return [
    '-blockdev', `driver=file,node-name=data0f,filename=${qemuEsc(file)},discard=unmap`,
    '-blockdev', 'driver=raw,node-name=data0,file=data0f,discard=unmap',
    '-device', `virtio-blk-pci,drive=data0,serial=${DATA_SERIAL},id=datadisk0`,
  ];
}
