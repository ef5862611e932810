// Fixture trees for the read-only information commands (captured by tools/capture-fixtures.sh):
// rebuilds a tree from its .manifest so that empty directories exist and every directory lists its
// entries in the captured system's readdir order (tmpfs lists a directory newest first, so children
// are created in reverse). Returns the root to use as AgentContext.root.
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';

export const SYSROOTS = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../fixtures/sysroot');

interface Node {
  type: 'd' | 'f' | 'l';
  name: string;
  target?: string;
  children: Node[];
}

export interface Sysroot {
  root: string;
  /** True when every directory lists its entries in the captured order (checked after building). */
  ordered: boolean;
  cleanup(): void;
}

function parseManifest(text: string): Node {
  const top: Node = { type: 'd', name: '', children: [] };
  const dirs = new Map<string, Node>([['', top]]);
  for (const line of text.split('\n')) {
    if (line === '') continue;
    const [type, rel, target] = line.split('\t');
    const parent = dirs.get(path.posix.dirname(rel) === '.' ? '' : path.posix.dirname(rel));
    if (!parent) throw new Error(`manifest: ${rel} before its directory`);
    const node: Node = { type: type as Node['type'], name: path.posix.basename(rel), target, children: [] };
    parent.children.push(node);
    if (node.type === 'd') dirs.set(rel, node);
  }
  return top;
}

function build(src: string, dst: string, dir: Node): void {
  for (const child of [...dir.children].reverse()) {
    const s = path.join(src, child.name);
    const d = path.join(dst, child.name);
    if (child.type === 'd') fs.mkdirSync(d);
    else if (child.type === 'l') fs.symlinkSync(child.target as string, d);
    else fs.copyFileSync(s, d);
  }
  for (const child of dir.children) if (child.type === 'd') build(path.join(src, child.name), path.join(dst, child.name), child);
}

function checkOrder(dst: string, dir: Node): boolean {
  const names: string[] = [];
  const d = fs.opendirSync(dst);
  for (let e = d.readSync(); e; e = d.readSync()) names.push(e.name);
  d.closeSync();
  if (names.join('/') !== dir.children.map((c) => c.name).join('/')) return false;
  return dir.children.every((c) => c.type !== 'd' || checkOrder(path.join(dst, c.name), c));
}

/** Builds fixture `name` (a directory of test/fixtures/sysroot) in a fresh temporary directory. */
export function makeSysroot(name: string): Sysroot {
  const src = path.join(SYSROOTS, name);
  const tree = parseManifest(fs.readFileSync(path.join(src, '.manifest'), 'utf8'));
  const base = fs.existsSync('/dev/shm') ? '/dev/shm' : os.tmpdir();
  const root = fs.mkdtempSync(path.join(base, `sysroot-${name}-`));
  build(src, root, tree);
  return { root, ordered: checkOrder(root, tree), cleanup: () => fs.rmSync(root, { recursive: true, force: true }) };
}

/** The fixture's recorded statvfs() results, by mount point. */
export function fixtureStatvfs(name: string): Record<string, { frsize: number; blocks: number; bfree: number; bavail: number }> {
  const p = path.join(SYSROOTS, name, 'statvfs.json');
  return fs.existsSync(p) ? JSON.parse(fs.readFileSync(p, 'utf8')) : {};
}

/** The fixture's expected outputs (expected/<command>.json), if any. */
export function fixtureExpected(name: string, command: string): unknown {
  const p = path.join(SYSROOTS, name, 'expected', `${command}.json`);
  return fs.existsSync(p) ? JSON.parse(fs.readFileSync(p, 'utf8')) : undefined;
}
