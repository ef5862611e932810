// The e2e VM: QEMU boots the host's own kernel, the guest's root filesystem is the host's root
// (virtio-9p, read-only, under a tmpfs overlay), and a guest agent serves org.qemu.guest_agent.0,
// a virtio-serial port wired to a unix socket on the host. Everything destructive happens in the guest.
//
// Host needs (Debian): qemu-system-x86 linux-image-amd64 busybox-static e2fsprogs kmod
// (+ qemu-guest-agent for the reference agent). KVM is used only when kvm_intel/kvm_amd is loaded;
// otherwise TCG. See test/e2e/README.md.
import { execFileSync, spawn, spawnSync, type ChildProcess } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import * as zlib from 'node:zlib';
import { RawClient } from '../support/agent.ts';
import { Qmp } from './qmp.ts';

const GUEST_DIR = path.join(path.dirname(new URL(import.meta.url).pathname), 'guest');
export const AGENT_PORT = 'org.qemu.guest_agent.0';
export const GUEST_AGENT_DEVICE = `/dev/virtio-ports/${AGENT_PORT}`;
const CONTROL_PORT = 'qga-e2e.control';
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

function onPath(cmd: string): boolean {
  const dirs = (process.env.PATH ?? '').split(':').concat(['/usr/sbin', '/sbin']);
  return dirs.some((d) => d !== '' && isExecutable(path.join(d, cmd)));
}

function isExecutable(p: string): boolean {
  try {
    fs.accessSync(p, fs.constants.X_OK);
    return fs.statSync(p).isFile();
  } catch {
    return false;
  }
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

// ---------------------------------------------------------------- kernel

export interface Kernel {
  version: string;
  /** What QEMU boots: the uncompressed vmlinux (PVH) when it could be extracted, else the bzImage. */
  image: string;
  pvh: boolean;
}

function findKernel(): { file: string; version: string } {
  const explicit = process.env.QGA_E2E_KERNEL;
  const candidates = explicit
    ? [explicit]
    : fs
        .readdirSync('/boot')
        .filter((f) => f.startsWith('vmlinuz-'))
        .map((f) => path.join('/boot', f))
        .sort((a, b) => a.localeCompare(b, 'en', { numeric: true }))
        .reverse();
  for (const file of candidates) {
    const version = path.basename(file).replace(/^vmlinuz-/, '');
    if (fs.existsSync(`/lib/modules/${version}/modules.dep`)) {
      fs.accessSync(file, fs.constants.R_OK);
      return { file, version };
    }
  }
  throw new Error(
    candidates.length === 0
      ? 'no /boot/vmlinuz-* kernel (apt-get install linux-image-amd64)'
      : `no kernel among ${candidates.join(', ')} has its modules in /lib/modules (apt-get install linux-image-amd64)`,
  );
}

/**
 * Picks the newest host kernel and, when possible, extracts its vmlinux into `dir` so that QEMU boots it
 * through PVH: under TCG that skips the real-mode setup and the in-guest decompression (about 2 s a boot).
 */
export function prepareKernel(dir: string): Kernel {
  const { file, version } = findKernel();
  if (process.env.QGA_E2E_PVH === '0') return { version, image: file, pvh: false };
  const vmlinux = path.join(dir, `vmlinux-${version}`);
  try {
    if (!fs.existsSync(vmlinux)) extractVmlinux(file, vmlinux);
    return { version, image: vmlinux, pvh: true };
  } catch (err) {
    process.stderr.write(`e2e: booting ${file} through the BIOS: ${(err as Error).message}\n`);
    return { version, image: file, pvh: false };
  }
}

function extractVmlinux(bzImage: string, out: string): void {
  const b = fs.readFileSync(bzImage);
  if (b.toString('latin1', 0x202, 0x206) !== 'HdrS') throw new Error('not a bzImage');
  const setupSects = b[0x1f1] || 4;
  const pm = (setupSects + 1) * 512;
  const payload = b.subarray(pm + b.readUInt32LE(0x248), pm + b.readUInt32LE(0x248) + b.readUInt32LE(0x24c));
  let elf: Buffer;
  if (payload[0] === 0x1f && payload[1] === 0x8b) {
    elf = zlib.gunzipSync(payload);
  } else if (payload.subarray(0, 6).equals(Buffer.from([0xfd, 0x37, 0x7a, 0x58, 0x5a, 0x00]))) {
    elf = decompressWith('xz', ['-dc', '--single-stream'], payload);
  } else if (payload.readUInt32LE(0) === 0xfd2fb528) {
    elf = decompressWith('zstd', ['-dcq'], payload);
  } else {
    throw new Error('unknown kernel compression');
  }
  if (elf.readUInt32BE(0) !== 0x7f454c46) throw new Error('the kernel payload is not an ELF file');
  if (!hasPvhNote(elf)) throw new Error('the kernel has no PVH entry point (CONFIG_PVH)');
  fs.writeFileSync(`${out}.tmp`, elf);
  fs.renameSync(`${out}.tmp`, out);
}

function decompressWith(cmd: string, args: string[], input: Buffer): Buffer {
  const r = spawnSync(cmd, args, { input, maxBuffer: 1 << 30 });
  if (r.error) throw new Error(`${cmd}: ${r.error.message}`);
  if (r.stdout.length === 0) throw new Error(`${cmd} failed: ${r.stderr.toString().trim()}`);
  return r.stdout;
}

/** Whether a 64-bit ELF kernel carries XEN_ELFNOTE_PHYS32_ENTRY (18), QEMU's PVH entry. */
function hasPvhNote(elf: Buffer): boolean {
  const phoff = Number(elf.readBigUInt64LE(0x20));
  const phentsize = elf.readUInt16LE(0x36);
  const phnum = elf.readUInt16LE(0x38);
  for (let i = 0; i < phnum; i++) {
    const ph = phoff + i * phentsize;
    if (elf.readUInt32LE(ph) !== 4 /* PT_NOTE */) continue;
    let at = Number(elf.readBigUInt64LE(ph + 8));
    const end = at + Number(elf.readBigUInt64LE(ph + 32));
    while (at + 12 <= end) {
      const namesz = elf.readUInt32LE(at);
      const descsz = elf.readUInt32LE(at + 4);
      const type = elf.readUInt32LE(at + 8);
      const name = elf.toString('latin1', at + 12, at + 12 + namesz).replace(/\0+$/, '');
      if (name === 'Xen' && type === 18) return true;
      at += 12 + align4(namesz) + align4(descsz);
    }
  }
  return false;
}

const align4 = (n: number): number => (n + 3) & ~3;

// ---------------------------------------------------------------- initramfs

/** A newc cpio archive, built in memory. */
class Cpio {
  private readonly parts: Buffer[] = [];
  private ino = 1;

  dir(name: string): void {
    this.entry(name, 0o040755, Buffer.alloc(0));
  }

  file(name: string, data: Buffer | string, mode = 0o644): void {
    this.entry(name, 0o100000 | mode, typeof data === 'string' ? Buffer.from(data) : data);
  }

  charDevice(name: string, major: number, minor: number): void {
    this.entry(name, 0o020600, Buffer.alloc(0), major, minor);
  }

  private entry(name: string, mode: number, data: Buffer, rdevMajor = 0, rdevMinor = 0): void {
    const fields = [this.ino++, mode, 0, 0, 1, 0, data.length, 0, 0, rdevMajor, rdevMinor, name.length + 1, 0];
    const header = '070701' + fields.map((f) => f.toString(16).padStart(8, '0')).join('');
    this.push(Buffer.from(header + name + '\0', 'latin1'));
    this.push(data);
  }

  private push(b: Buffer): void {
    this.parts.push(b, Buffer.alloc(align4(b.length) - b.length));
  }

  finish(): Buffer {
    this.entry('TRAILER!!!', 0, Buffer.alloc(0));
    return Buffer.concat(this.parts);
  }
}

/** The guest modules in load order (modprobe --show-depends), decompressed: busybox insmod wants plain .ko. */
function guestModules(version: string, extra: readonly string[]): { name: string; data: Buffer }[] {
  const seen = new Set<string>();
  const out: { name: string; data: Buffer }[] = [];
  for (const m of [...GUEST_MODULES, ...extra]) {
    const deps = execFileSync('modprobe', ['-S', version, '--show-depends', m], { encoding: 'utf8', env: { ...process.env, PATH: `${process.env.PATH}:/usr/sbin:/sbin` } });
    for (const line of deps.split('\n')) {
      const [kind, file] = line.trim().split(/\s+/);
      if (kind !== 'insmod' || seen.has(file)) continue;
      seen.add(file);
      const raw = fs.readFileSync(file);
      let data: Buffer;
      if (file.endsWith('.ko.xz')) data = decompressWith('xz', ['-dc'], raw);
      else if (file.endsWith('.ko.zst')) data = decompressWith('zstd', ['-dcq'], raw);
      else if (file.endsWith('.ko.gz')) data = zlib.gunzipSync(raw);
      else data = raw;
      out.push({ name: path.basename(file).replace(/\.(xz|zst|gz)$/, ''), data });
    }
  }
  return out;
}

const shq = (s: string): string => `'${s.replace(/'/g, `'\\''`)}'`;

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
  const modules = guestModules(opts.version, opts.modules);
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

const live = new Set<ChildProcess>();
let exitHookInstalled = false;

function installExitHook(): void {
  if (exitHookInstalled) return;
  exitHookInstalled = true;
  // Whatever happens to the test process, no QEMU outlives it.
  process.on('exit', () => {
    for (const child of live) {
      try {
        child.kill('SIGKILL');
      } catch {
        // already gone
      }
    }
  });
  for (const sig of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) {
    process.once(sig, () => process.exit(128 + (sig === 'SIGINT' ? 2 : sig === 'SIGTERM' ? 15 : 1)));
  }
}

export class Vm {
  readonly dir: string;
  readonly agentSock: string;
  readonly qmpSock: string;
  /** The guest's control port (guest/control.sh), for what the agent cannot do itself. */
  readonly controlSock: string;
  readonly consoleLog: string;
  readonly agentLog: string;
  readonly qemuLog: string;
  readonly accel: 'kvm' | 'tcg';
  qmp: Qmp | undefined;
  /** Milliseconds from QEMU's start to the agent's first answer. */
  bootMs = 0;
  private child: ChildProcess | undefined;
  private exited: Promise<void> = Promise.resolve();
  private readonly t0 = Date.now();

  private constructor(readonly opts: VmOptions) {
    this.dir = path.join(opts.rundir, opts.name);
    fs.mkdirSync(this.dir, { recursive: true });
    this.agentSock = path.join(this.dir, 'qga.sock');
    this.qmpSock = path.join(this.dir, 'qmp.sock');
    this.controlSock = path.join(this.dir, 'ctl.sock');
    this.consoleLog = path.join(this.dir, 'console.log');
    this.agentLog = path.join(this.dir, 'agent.log');
    this.qemuLog = path.join(this.dir, 'qemu.log');
    if (this.agentSock.length >= 100) throw new Error(`socket path too long for AF_UNIX: ${this.agentSock}`);
    const want = process.env.QGA_E2E_ACCEL;
    const kvmUsable = (() => {
      try {
        fs.accessSync('/dev/kvm', fs.constants.R_OK | fs.constants.W_OK);
        return fs.existsSync('/sys/module/kvm_intel') || fs.existsSync('/sys/module/kvm_amd');
      } catch {
        return false;
      }
    })();
    this.accel = want === 'kvm' || want === 'tcg' ? want : kvmUsable ? 'kvm' : 'tcg';
  }

  /** Boots the VM and returns once the agent answered a guest-sync-delimited. The VM is stopped on failure. */
  static async boot(opts: VmOptions): Promise<{ vm: Vm; client: RawClient }> {
    installExitHook();
    const vm = new Vm(opts);
    try {
      vm.launch();
      await vm.waitForConsole(/QGA-E2E-AGENT-STARTED/, opts.bootTimeoutMs ?? 120_000);
      const client = await vm.connectAgent(Math.max(10_000, (opts.bootTimeoutMs ?? 120_000) - (Date.now() - vm.t0)));
      vm.bootMs = Date.now() - vm.t0;
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
      fs.rmSync(dataImg, { force: true });
      fs.writeFileSync(dataImg, '');
      fs.truncateSync(dataImg, 64 << 20);
      execFileSync('mkfs.ext4', ['-q', '-F', '-L', 'e2e-data', dataImg], { stdio: ['ignore', 'ignore', 'pipe'], env: { ...process.env, PATH: `${process.env.PATH}:/usr/sbin:/sbin` } });
      for (const f of [this.consoleLog, this.agentLog]) fs.rmSync(f, { force: true });
    }
    for (const f of [this.agentSock, this.qmpSock, this.controlSock]) fs.rmSync(f, { force: true });

    const esc = (s: string): string => s.replace(/,/g, ',,');
    const accel = this.accel === 'kvm' ? ['-accel', 'kvm', '-cpu', 'host'] : ['-accel', 'tcg,thread=multi', '-cpu', 'max'];
    const args = [
      '-name', `qga-e2e-${this.opts.name},debug-threads=on`,
      '-machine', this.opts.machine ?? 'q35', ...accel,
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
      '-blockdev', `driver=file,node-name=data0f,filename=${esc(dataImg)},discard=unmap`,
      '-blockdev', 'driver=raw,node-name=data0,file=data0f,discard=unmap',
      '-device', `virtio-blk-pci,drive=data0,serial=${DATA_SERIAL},id=datadisk0`,
      // A NIC without a backend: the guest has an interface to report, and no packet leaves QEMU.
      '-device', `virtio-net-pci,mac=${NIC_MAC},id=nic0`,
      '-chardev', `socket,id=qmp0,path=${esc(this.qmpSock)},server=on,wait=off`, '-mon', 'chardev=qmp0,mode=control',
      ...(this.opts.qemuArgs ?? []),
    ];
    fs.writeFileSync(path.join(this.dir, 'qemu.cmdline'), ['qemu-system-x86_64', ...args].map(shq).join(' ') + '\n');
    const log = fs.openSync(this.qemuLog, 'a');
    // setpriv --pdeathsig: QEMU dies with the test process even if that one is SIGKILLed.
    const [cmd, argv] = isExecutable('/usr/bin/setpriv')
      ? ['/usr/bin/setpriv', ['--pdeathsig', 'KILL', '--', 'qemu-system-x86_64', ...args]]
      : ['qemu-system-x86_64', args];
    const child = spawn(cmd, argv, { stdio: ['ignore', log, log] });
    fs.closeSync(log);
    this.child = child;
    live.add(child);
    this.exited = new Promise<void>((resolve) => {
      child.once('exit', () => {
        live.delete(child);
        resolve();
      });
      child.once('error', () => {
        live.delete(child);
        resolve();
      });
    });
  }

  get running(): boolean {
    return this.child !== undefined && this.child.exitCode === null && this.child.signalCode === null && live.has(this.child);
  }

  consoleText(): string {
    return readIfExists(this.consoleLog);
  }

  agentLogText(): string {
    return readIfExists(this.agentLog);
  }

  /** How many times the guest has launched the agent (boots), from the console markers. */
  agentStarts(): number {
    return (this.consoleText().match(/QGA-E2E-AGENT-STARTED/g) ?? []).length;
  }

  /** Waits for a console line; fails at once if QEMU exits or the guest reports a boot failure. */
  async waitForConsole(re: RegExp, timeoutMs: number, afterOffset = 0): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const text = this.consoleText().slice(afterOffset);
      if (re.test(text)) return;
      if (!this.running) throw new Error(`QEMU exited (${this.child?.exitCode ?? this.child?.signalCode}) before the console showed ${re}: ${readIfExists(this.qemuLog).trim()}`);
      const failed = /QGA-E2E-FAIL.*|Kernel panic.*/.exec(text);
      if (failed) throw new Error(`guest boot failed: ${failed[0]}`);
      if (Date.now() > deadline) throw new Error(`the console did not show ${re} within ${timeoutMs} ms`);
      await sleep(100);
    }
  }

  /** A QMP session on the VM's monitor socket (opened on first use). */
  async monitor(): Promise<Qmp> {
    this.qmp ??= await Qmp.connect(this.qmpSock);
    return this.qmp;
  }

  /**
   * Connects to the agent channel and resyncs (0xFF + guest-sync-delimited) until the agent answers;
   * everything before its answer (replies meant for an earlier connection) is dropped.
   */
  async connectAgent(timeoutMs: number): Promise<RawClient> {
    const deadline = Date.now() + timeoutMs;
    let last: unknown;
    for (let attempt = 1; ; attempt++) {
      if (!this.running) throw new Error(`QEMU exited while connecting to the agent: ${readIfExists(this.qemuLog).trim()}`);
      let client: RawClient | undefined;
      try {
        client = await RawClient.connect(this.agentSock);
        // One connection, a fresh sync id every few seconds until one is answered.
        while (Date.now() < deadline && !client.closed) {
          try {
            await client.resync(BigInt(Date.now()) * 1000n + BigInt(attempt));
            return client;
          } catch (err) {
            last = err;
            if (!this.running) break;
          }
        }
        client.close();
      } catch (err) {
        last = err;
        client?.close();
      }
      if (Date.now() > deadline) throw new Error(`the agent did not answer guest-sync-delimited within ${timeoutMs} ms (${String(last)})`);
      await sleep(200);
    }
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

  /** Last lines of the console, the agent log and QEMU's own output: printed when something fails. */
  diagnostics(lines = 80): string {
    const tail = (s: string): string => s.split('\n').slice(-lines).join('\n');
    return [
      `---- ${this.opts.name}: guest console (${this.consoleLog}, last ${lines} lines) ----`,
      tail(this.consoleText()),
      `---- ${this.opts.name}: agent log (${this.agentLog}, last ${lines} lines) ----`,
      tail(this.agentLogText()),
      `---- ${this.opts.name}: QEMU output ----`,
      tail(readIfExists(this.qemuLog)),
    ].join('\n');
  }

  /** QMP quit, then SIGTERM, then SIGKILL: the VM is gone when this returns. */
  async stop(): Promise<void> {
    const child = this.child;
    if (child && this.running) {
      try {
        const qmp = await Promise.race([this.monitor(), sleep(3000).then(() => undefined)]);
        await qmp?.execute('quit', undefined, 3000).catch(() => {});
      } catch {
        // the monitor is unreachable: signals below
      }
      if (!(await exitedWithin(this.exited, 5000))) {
        child.kill('SIGTERM');
        if (!(await exitedWithin(this.exited, 3000))) {
          child.kill('SIGKILL');
          await this.exited;
        }
      }
    }
    this.qmp?.close();
    this.qmp = undefined;
  }
}

async function exitedWithin(exited: Promise<void>, ms: number): Promise<boolean> {
  return Promise.race([exited.then(() => true), sleep(ms).then(() => false)]);
}

function readIfExists(file: string): string {
  try {
    return fs.readFileSync(file, 'utf8');
  } catch {
    return '';
  }
}

export const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));
