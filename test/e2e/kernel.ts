// The kernel the e2e guests boot: the host's newest /boot/vmlinuz-* whose modules are installed, as an
// uncompressed vmlinux through PVH when it can be extracted (about 2 s faster a boot under TCG).
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import * as zlib from 'node:zlib';


export interface Kernel {
  version: string;
  /** What QEMU boots: the uncompressed vmlinux (PVH) when it could be extracted, else the bzImage. */
  image: string;
  pvh: boolean;
}

export function findKernel(): { file: string; version: string } {
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

export function decompressWith(cmd: string, args: string[], input: Buffer): Buffer {
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

export const align4 = (n: number): number => (n + 3) & ~3;

