// Building blocks of the e2e guests' initramfs: a newc cpio archive written in memory, and the host
// kernel's modules in load order.
import { execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import * as zlib from 'node:zlib';
import { align4, decompressWith } from './kernel.ts';

/** A newc cpio archive, built in memory. */
export class Cpio {
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
export function guestModules(version: string, modules: readonly string[]): { name: string; data: Buffer }[] {
  const seen = new Set<string>();
  const out: { name: string; data: Buffer }[] = [];
  for (const m of modules) {
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

