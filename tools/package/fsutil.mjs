// Small file-tree helpers for staging package roots: explicit modes, so the umask never leaks in.
import { chmodSync, copyFileSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname } from 'node:path';
import { gzipSync } from 'node:zlib';

/** Creates `dir` and its missing parents with mode 0755. */
export function mkdirs(dir) {
  mkdirSync(dir, { recursive: true, mode: 0o755 });
}

/** Copies `from` to `to` (parents created) and sets `mode`. */
export function install(from, to, mode = 0o644) {
  mkdirs(dirname(to));
  copyFileSync(from, to);
  chmodSync(to, mode);
}

/** Writes `text` to `to` (parents created) with `mode`. */
export function put(to, text, mode = 0o644) {
  mkdirs(dirname(to));
  writeFileSync(to, text);
  chmodSync(to, mode);
}

/** gzip -9n: no name and no timestamp in the header, as Debian wants for reproducible docs. */
export function putGzip(to, data) {
  put(to, gzipSync(typeof data === 'string' ? Buffer.from(data) : data, { level: 9 }));
}

export function readText(file) {
  return readFileSync(file, 'utf8');
}

/** Replaces each @NAME@ in `text` with vars[NAME]; an unknown name is a build error. */
export function fill(text, vars) {
  return text.replace(/@([A-Z_]+)@/g, (m, name) => {
    if (!(name in vars)) throw new Error(`no value for ${m}`);
    return vars[name];
  });
}
