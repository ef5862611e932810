// readdir() in the kernel's order with d_type, as qemu-ga walks sysfs. fs.readdirSync() sorts the names
// (libuv's scandir), so directories are read through fs.opendirSync(), which does not.
import * as fs from 'node:fs';

// <dirent.h> d_type values.
export const DT_UNKNOWN = 0;
export const DT_FIFO = 1;
export const DT_CHR = 2;
export const DT_DIR = 4;
export const DT_BLK = 6;
export const DT_REG = 8;
export const DT_LNK = 10;
export const DT_SOCK = 12;

export interface RawDirent {
  name: string;
  /** d_type (DT_*). */
  type: number;
}

function dtype(d: fs.Dirent): number {
  if (d.isDirectory()) return DT_DIR;
  if (d.isSymbolicLink()) return DT_LNK;
  if (d.isFile()) return DT_REG;
  if (d.isBlockDevice()) return DT_BLK;
  if (d.isCharacterDevice()) return DT_CHR;
  if (d.isFIFO()) return DT_FIFO;
  if (d.isSocket()) return DT_SOCK;
  return DT_UNKNOWN;
}

/** Every entry except "." and "..", in readdir order. Throws the opendir()/readdir() error. */
export function readdirRaw(path: string): RawDirent[] {
  const dir = fs.opendirSync(path, { bufferSize: 256 });
  const out: RawDirent[] = [];
  try {
    for (let d = dir.readSync(); d !== null; d = dir.readSync()) out.push({ name: d.name, type: dtype(d) });
  } finally {
    dir.closeSync();
  }
  return out;
}
