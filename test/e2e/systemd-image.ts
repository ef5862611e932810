// The systemd e2e guest's disk image: Debian 12 built by mmdebstrap (systemd/image.sh), made into a raw
// ext4 image with mkfs.ext4 -d, cached outside the repository under a hash of everything that goes
// into it (the recipe, the files it copies in, the mirror). Built once; later runs reuse it.
import { createHash } from 'node:crypto';
import { execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { onPath, sbinEnv } from './qemu.ts';

export const SYSTEMD_DIR = path.join(path.dirname(new URL(import.meta.url).pathname), 'systemd');
/** Files whose text decides the image's content. */
const IMAGE_INPUTS = ['image.sh', 'control.sh', 'qga-e2e-control.service'];
/** Free room in the image beyond its files, for the packages the tests install. */
const SPARE_BYTES = 768 << 20;

export function cacheDir(): string {
  return process.env.QGA_E2E_CACHE ?? path.join(process.env.XDG_CACHE_HOME ?? path.join(os.homedir(), '.cache'), 'qga-ts-e2e');
}

/** The Debian mirror apt already uses here (sources.list or deb822 .sources), else deb.debian.org. */
export function debianMirror(): string {
  if (process.env.QGA_E2E_MIRROR) return process.env.QGA_E2E_MIRROR;
  const files = ['/etc/apt/sources.list'];
  try {
    files.push(...fs.readdirSync('/etc/apt/sources.list.d').map((f) => path.join('/etc/apt/sources.list.d', f)));
  } catch {
    // no sources.list.d
  }
  for (const f of files) {
    let text: string;
    try {
      text = fs.readFileSync(f, 'utf8');
    } catch {
      continue;
    }
    // deb822 stanza with Suites: bookworm, or a one-line "deb URI bookworm main".
    for (const stanza of text.split(/\n\s*\n/)) {
      const uri = /^URIs:\s*(\S+)/m.exec(stanza)?.[1];
      if (uri && /^Suites:.*\bbookworm\b/m.test(stanza) && /\/debian\/?$/.test(uri)) return uri;
    }
    const line = /^deb\s+(?:\[[^\]]*\]\s+)?(\S+\/debian)\/?\s+bookworm\s/m.exec(text);
    if (line) return line[1];
  }
  return 'http://deb.debian.org/debian';
}

/** Why this host cannot build the image, or [] when it can (or the image is already cached). */
export function imageProblems(): string[] {
  if (fs.existsSync(imagePath())) return [];
  const problems: string[] = [];
  if (!onPath('mmdebstrap')) problems.push('mmdebstrap is missing (apt-get install mmdebstrap)');
  if (process.getuid?.() !== 0) problems.push('building the systemd guest image needs root (mmdebstrap --mode=root, mkfs.ext4 -d keeps owners)');
  return problems;
}

/** The cached image's path for the current inputs (it may not exist yet). */
export function imagePath(): string {
  const h = createHash('sha256');
  for (const f of IMAGE_INPUTS) h.update(`${f}\0`).update(fs.readFileSync(path.join(SYSTEMD_DIR, f))).update('\0');
  h.update(`mirror ${debianMirror()}\0`);
  return path.join(cacheDir(), `debian12-${h.digest('hex').slice(0, 16)}.img`);
}

/**
 * The image, built first if it is not cached: mmdebstrap into a directory, then mkfs.ext4 -d. A partial
 * build never takes the cached name (rename at the end). Returns the path and how long a build took.
 */
export function ensureImage(log: (s: string) => void = () => {}): { image: string; builtMs?: number } {
  const image = imagePath();
  if (fs.existsSync(image)) return { image };
  const dir = cacheDir();
  fs.mkdirSync(dir, { recursive: true });
  const t0 = Date.now();
  const tmp = `${image}.${process.pid}.tmp`;
  const root = `${tmp}.d`;
  try {
    log(`building ${image} with mmdebstrap from ${debianMirror()}`);
    execFileSync('bash', [path.join(SYSTEMD_DIR, 'image.sh'), debianMirror(), root], { stdio: ['ignore', 'pipe', 'pipe'], env: sbinEnv(), maxBuffer: 64 << 20 });
    const used = Number(execFileSync('du', ['-sb', root], { encoding: 'utf8' }).split('\t')[0]);
    const size = Math.ceil((used * 1.2 + SPARE_BYTES) / (1 << 20));
    execFileSync('mkfs.ext4', ['-q', '-F', '-L', 'e2e-root', '-d', root, tmp, `${size}M`], { stdio: ['ignore', 'ignore', 'pipe'], env: sbinEnv() });
    fs.renameSync(tmp, image);
  } catch (err) {
    const e = err as Error & { stderr?: Buffer };
    throw new Error(`building the systemd guest image failed: ${e.message}\n${e.stderr?.toString().slice(-4000) ?? ''}`);
  } finally {
    fs.rmSync(root, { recursive: true, force: true });
    fs.rmSync(tmp, { force: true });
  }
  // Images of older recipes are dead weight.
  for (const f of fs.readdirSync(dir)) {
    if (/^debian12-[0-9a-f]{16}\.img$/.test(f) && path.join(dir, f) !== image) fs.rmSync(path.join(dir, f), { force: true });
  }
  return { image, builtMs: Date.now() - t0 };
}
