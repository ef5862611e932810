// Turns a staged root into a .deb: DEBIAN/ (control, conffiles, maintainer scripts, md5sums), then
// dpkg-deb --root-owner-group --build, so every file is root:root without fakeroot.
import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { lstatSync, readFileSync, readdirSync } from 'node:fs';
import { join, relative } from 'node:path';
import { fill, install, put, readText } from './fsutil.mjs';

/** Every path under `dir`, depth first, in a stable order. */
function walk(dir) {
  return readdirSync(dir).sort().flatMap((name) => {
    const p = join(dir, name);
    return lstatSync(p).isDirectory() ? [p, ...walk(p)] : [p];
  });
}

/** Installed-Size as dpkg-gencontrol counts it: KiB per file rounded up, 1 per directory or link. */
function installedSize(root) {
  let kib = 0;
  for (const p of walk(root)) {
    if (relative(root, p).startsWith('DEBIAN')) continue;
    const st = lstatSync(p);
    kib += st.isFile() ? Math.ceil(st.size / 1024) : 1;
  }
  return kib;
}

/** DEBIAN/md5sums: every regular file but the conffiles (dpkg tracks those itself). */
function md5sums(root, conffiles) {
  return walk(root)
    .filter((p) => !relative(root, p).startsWith('DEBIAN') && lstatSync(p).isFile())
    .map((p) => `/${relative(root, p)}`)
    .filter((p) => !conffiles.includes(p))
    .map((p) => `${createHash('md5').update(readFileSync(join(root, p))).digest('hex')}  ${p.slice(1)}\n`)
    .join('');
}

/** Writes DEBIAN/ for `fields` (the control template's @NAMES@) and builds `out`; `triggers` adds DEBIAN/triggers. */
export function buildDeb(root, fields, out, { compress, triggers = false } = {}) {
  const D = 'packaging/debian';
  const control = fill(readText(`${D}/control.in`), { ...fields, INSTALLED_SIZE: String(installedSize(root)) })
    .replace(/^[A-Za-z-]+: *\n/gm, '') // a field left empty (e.g. no Provides) is left out
    .replace(/\n+$/, '\n');
  put(join(root, 'DEBIAN/control'), control);
  const conffiles = readText(`${D}/conffiles`);
  put(join(root, 'DEBIAN/conffiles'), conffiles);
  for (const script of ['postinst', 'prerm', 'postrm']) install(`${D}/${script}`, join(root, 'DEBIAN', script), 0o755);
  if (triggers) install(`${D}/triggers`, join(root, 'DEBIAN/triggers'));
  put(join(root, 'DEBIAN/md5sums'), md5sums(root, conffiles.split('\n').filter(Boolean)));
  const args = ['--root-owner-group', ...(compress === undefined ? [] : [`-Z${compress}`]), '--build', root, out];
  const r = spawnSync('dpkg-deb', args, { stdio: ['ignore', 'ignore', 'inherit'] });
  if (r.status !== 0) throw new Error(`dpkg-deb ${args.join(' ')} failed: ${r.error?.message ?? r.status ?? r.signal}`);
}
