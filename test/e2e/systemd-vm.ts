// The systemd e2e guest: the host's kernel (PVH when possible) with a small initramfs that mounts a
// per-run sparse copy of the cached Debian 12 image (systemd/init.sh), so the cached image is never
// written. Ports: org.qemu.guest_agent.0 (hot-pluggable, id `qgaport`), qga-e2e.control (the host's
// control line, systemd/control.sh); a 9p share `pkgs` with the packages under test; the data disk.
import { execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { RawClient } from '../support/agent.ts';
import { Cpio, guestModules } from './initramfs.ts';
import type { Kernel } from './kernel.ts';
import { AGENT_PORT, CONTROL_PORT, qemuEsc, QemuVm, sleep } from './qemu.ts';
import { SYSTEMD_DIR } from './systemd-image.ts';
import { dataDiskArgs, makeDataDisk } from './vm.ts';

const MODULES = ['virtio_pci', 'virtio_blk', 'virtio_console', 'ext4', '9pnet_virtio', '9p'];
/** The agent port's device id, for QMP device_del/device_add. */
export const AGENT_PORT_ID = 'qgaport';
export const SHARE_TAG = 'pkgs';

export interface SystemdVmOptions {
  name: string;
  rundir: string;
  kernel: Kernel;
  /** The cached base image (raw ext4), copied, never written. */
  image: string;
  /** A host directory the guest can mount read-only: mount -t 9p -o trans=virtio pkgs DIR. */
  share: string;
}

export interface RunResult {
  rc: number;
  out: string;
}

export class SystemdVm extends QemuVm {
  readonly overlay: string;
  private readonly dataImg: string;
  private readonly initrd: string;
  private ctl: RawClient | undefined;
  private nextId = 1;

  constructor(readonly opts: SystemdVmOptions) {
    super(opts.name, opts.rundir);
    this.overlay = path.join(this.dir, 'root.img');
    this.dataImg = path.join(this.dir, 'data.img');
    this.initrd = path.join(this.dir, 'initrd.cpio');
    execFileSync('cp', ['--sparse=always', opts.image, this.overlay]);
    makeDataDisk(this.dataImg);
    const cpio = new Cpio();
    for (const d of ['bin', 'dev', 'proc', 'sys', 'lib', 'lib/modules']) cpio.dir(d);
    cpio.charDevice('dev/console', 5, 1);
    cpio.file('bin/busybox', fs.readFileSync(process.env.QGA_E2E_BUSYBOX ?? '/bin/busybox'), 0o755);
    const modules = guestModules(opts.kernel.version, MODULES);
    for (const m of modules) cpio.file(`lib/modules/${m.name}`, m.data);
    cpio.file('modules.list', modules.map((m) => m.name).join('\n') + '\n');
    cpio.file('init', fs.readFileSync(path.join(SYSTEMD_DIR, 'init.sh')), 0o755);
    fs.writeFileSync(this.initrd, cpio.finish());
  }

  /** Starts QEMU on the run's copy (the guest's changes survive a power-off); `agentPort`: plug the agent's port. */
  launch(agentPort = true): void {
    this.ctl?.close();
    this.ctl = undefined;
    const esc = qemuEsc;
    this.spawnQemu([
      '-name', `qga-e2e-${this.name},debug-threads=on`,
      // no_timer_check: on a loaded host, TCG's timer can miss the kernel's IO-APIC check (a panic).
      '-machine', 'q35', ...this.accelArgs(), '-smp', '2', '-m', '512M',
      '-nodefaults', '-no-user-config', '-display', 'none', '-no-reboot', '-rtc', 'base=utc',
      '-kernel', this.opts.kernel.image, '-initrd', this.initrd,
      '-append', 'console=ttyS0 panic=-1 quiet loglevel=4 8250.nr_uarts=1 systemd.show_status=0 no_timer_check',
      '-chardev', `file,id=con0,path=${esc(this.consoleLog)},append=on`, '-serial', 'chardev:con0',
      '-blockdev', `driver=file,node-name=root0f,filename=${esc(this.overlay)}`,
      '-blockdev', 'driver=raw,node-name=root0,file=root0f',
      '-device', 'virtio-blk-pci,drive=root0,id=rootdisk',
      ...dataDiskArgs(this.dataImg),
      '-fsdev', `local,id=pkgs,path=${esc(this.opts.share)},security_model=none,readonly=on`,
      '-device', `virtio-9p-pci,fsdev=pkgs,mount_tag=${SHARE_TAG}`,
      '-device', 'virtio-serial-pci,id=vser0',
      '-chardev', `socket,id=qga0,path=${esc(this.agentSock)},server=on,wait=off`,
      ...(agentPort ? ['-device', this.agentPortSpec()] : []),
      '-chardev', `socket,id=ctl0,path=${esc(this.controlSock)},server=on,wait=off`,
      '-device', `virtserialport,bus=vser0.0,chardev=ctl0,name=${CONTROL_PORT}`,
      ...this.qmpArgs(),
    ]);
  }

  private agentPortSpec(): string {
    return `virtserialport,bus=vser0.0,chardev=qga0,name=${AGENT_PORT},id=${AGENT_PORT_ID}`;
  }

  /** QMP device_del of the agent's port; returns once QEMU reports it gone. */
  async unplugAgentPort(): Promise<void> {
    const qmp = await this.monitor();
    const from = qmp.events.length;
    await qmp.execute('device_del', { id: AGENT_PORT_ID });
    await qmp.waitEvent('DEVICE_DELETED', 30_000, from);
  }

  /** QMP device_add of the agent's port, on the same chardev. */
  async plugAgentPort(): Promise<void> {
    const qmp = await this.monitor();
    await qmp.execute('device_add', { driver: 'virtserialport', bus: 'vser0.0', chardev: 'qga0', name: AGENT_PORT, id: AGENT_PORT_ID });
  }

  /** Waits until the guest's control service answers (systemd is up to multi-user); ms since QEMU started. */
  async waitControl(timeoutMs = 180_000): Promise<number> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      try {
        await this.run('true', 5000);
        return Date.now() - this.startedAt;
      } catch (err) {
        if (!this.running) throw new Error(`QEMU exited (${this.exitStatus()}) before the guest's control service answered`);
        if (Date.now() > deadline) throw new Error(`the guest's control service did not answer within ${timeoutMs} ms: ${(err as Error).message}`);
      }
    }
  }

  /** Runs a bash script in the guest (as root) over the control port: its exit status and output. */
  async run(script: string, timeoutMs = 60_000): Promise<RunResult> {
    this.ctl ??= await RawClient.connect(this.controlSock);
    const id = this.nextId++;
    this.ctl.send(`${id} ${Buffer.from(script).toString('base64')}\n`);
    const deadline = Date.now() + timeoutMs;
    // Answers to requests that timed out earlier may still come: skip every id but ours.
    while (Date.now() < deadline) {
      const [line] = await this.ctl.lines(1, deadline - Date.now());
      if (line === undefined) break;
      const [rid, rc, out] = line.split(' ');
      if (Number(rid) === id) return { rc: Number(rc), out: Buffer.from(out ?? '', 'base64').toString() };
    }
    if (this.ctl.closed) this.ctl = undefined;
    throw new Error(`the guest's control service did not answer within ${timeoutMs} ms: ${script.slice(0, 200)}`);
  }

  /** Runs a script that must succeed; returns its output. */
  async sh(script: string, timeoutMs?: number): Promise<string> {
    const r = await this.run(script, timeoutMs);
    if (r.rc !== 0) throw new Error(`guest script failed (exit status ${r.rc}): ${script}\n${r.out}`);
    return r.out;
  }

  /** Powers the guest off from inside (systemctl poweroff) and waits for QEMU to exit. */
  async poweroff(timeoutMs = 120_000): Promise<void> {
    await this.run('systemctl --no-block poweroff', 30_000);
    if (!(await this.exitedWithin(timeoutMs))) throw new Error(`the guest did not power off within ${timeoutMs} ms`);
    this.ctl?.close();
    this.ctl = undefined;
    this.qmp?.close();
    this.qmp = undefined;
  }

  override async stop(): Promise<void> {
    this.ctl?.close();
    this.ctl = undefined;
    await super.stop();
  }
}

export { sleep };
