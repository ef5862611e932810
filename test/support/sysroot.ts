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


/** JSON.parse that keeps integer literals exact (as bigint); other numbers are doubles. */
export function parseJsonExact(text: string): unknown {
  let i = 0;
  const ws = () => {
    while (i < text.length && ' \t\r\n'.includes(text[i])) i++;
  };
  const value = (): unknown => {
    ws();
    const c = text[i];
    if (c === '{') {
      i++;
      const o: Record<string, unknown> = {};
      ws();
      if (text[i] === '}') {
        i++;
        return o;
      }
      for (;;) {
        ws();
        const k = value() as string;
        ws();
        i++; // :
        o[k] = value();
        ws();
        if (text[i++] === '}') return o;
      }
    }
    if (c === '[') {
      i++;
      const a: unknown[] = [];
      ws();
      if (text[i] === ']') {
        i++;
        return a;
      }
      for (;;) {
        a.push(value());
        ws();
        if (text[i++] === ']') return a;
      }
    }
    if (c === '"') {
      const start = i;
      i++;
      while (text[i] !== '"') i += text[i] === '\\' ? 2 : 1;
      i++;
      return JSON.parse(text.slice(start, i));
    }
    const m = /^(-?\d+)(\.\d+)?([eE][-+]?\d+)?|^(true|false|null)/.exec(text.slice(i));
    if (!m) throw new Error(`bad JSON at ${i}: ${text.slice(i, i + 20)}`);
    i += m[0].length;
    if (m[4]) return JSON.parse(m[4]);
    return m[2] || m[3] ? Number(m[0]) : BigInt(m[0]);
  };
  return value();
}

/** A handler result in the shape parseJsonExact() gives: integers as bigint, undefined members dropped. */
export function normalize(v: unknown): unknown {
  if (typeof v === 'number') return Number.isInteger(v) ? BigInt(v) : v;
  if (Array.isArray(v)) return v.map(normalize);
  if (v !== null && typeof v === 'object') {
    const o: Record<string, unknown> = {};
    for (const [k, x] of Object.entries(v)) if (x !== undefined) o[k] = normalize(x);
    return o;
  }
  return v;
}

/** A fixture's recorded answer (DIR/<command>.json under the fixture), or undefined when absent or empty. */
export function fixtureAnswer(name: string, dir: string, command: string): unknown {
  const p = path.join(SYSROOTS, name, dir, `${command}.json`);
  if (!fs.existsSync(p)) return undefined;
  const text = fs.readFileSync(p, 'utf8').trim();
  return text === '' ? undefined : parseJsonExact(text);
}

/** The fixtures present (directories with a .manifest). */
export function listSysroots(): string[] {
  return fs
    .readdirSync(SYSROOTS)
    .filter((n) => fs.existsSync(path.join(SYSROOTS, n, '.manifest')))
    .sort();
}
