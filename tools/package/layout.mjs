// The files both Debian packages share (unit, udev rule, fsfreeze hook, man pages, docs) and the
// two ways of shipping the agent itself: bundled JavaScript for the distribution's nodejs, or the
// standalone executable. Each function stages into `root`, the future package's `/`.
import { existsSync, readdirSync, symlinkSync } from 'node:fs';
import { join } from 'node:path';
import { fill, install, mkdirs, put, putGzip, readText } from './fsutil.mjs';

const P = 'packaging';

/** Everything but the agent: what makes it a system service, and its documentation. */
export function stageCommon(root, { pkg, version, maintainer }) {
  install(`${P}/fsfreeze/fsfreeze-hook`, join(root, 'etc/qemu/fsfreeze-hook'), 0o755);
  mkdirs(join(root, 'etc/qemu/fsfreeze-hook.d'));
  install(`${P}/systemd/qga-ts.service`, join(root, 'usr/lib/systemd/system/qga-ts.service'));
  install(`${P}/udev/60-qga-ts.rules`, join(root, 'usr/lib/udev/rules.d/60-qga-ts.rules'));
  for (const [page, section] of [['qga-ts', 8], ['qga-client', 1]]) {
    const text = fill(readText(`${P}/man/${page}.${section}`), { VERSION: version });
    putGzip(join(root, `usr/share/man/man${section}/${page}.${section}.gz`), text);
  }
  const doc = join(root, 'usr/share/doc', pkg);
  install('README.md', join(doc, 'README.md'));
  for (const f of readdirSync('docs').filter((f) => f.endsWith('.md')).sort()) install(join('docs', f), join(doc, 'docs', f));
  put(join(doc, 'copyright'), readText(`${P}/debian/copyright`));
  put(join(root, 'usr/share/lintian/overrides', pkg), fill(readText(`${P}/debian/lintian-overrides`), { PACKAGE: pkg }));
  putGzip(join(doc, 'changelog.Debian.gz'), fill(readText(`${P}/debian/changelog`), { VERSION: version, MAINTAINER: maintainer }));
}

/** koffi's native module inside the JavaScript package (its libc needs go into Depends). */
export const KOFFI_NODE = 'node_modules/@koromix/koffi-linux-x64/linux_x64/koffi.node';

/** koffi's JavaScript entry and its prebuilt module for this machine, as require('koffi') finds them. */
const KOFFI_FILES = ['package.json', 'index.cjs', 'LICENSE.txt', 'src/koffi/index.cjs', 'src/koffi/src/static.cjs'];

/** The bundled agent and client (dist/), run by /usr/bin/node through two small launchers. */
export function stageJs(root) {
  const lib = join(root, 'usr/lib/qga-ts');
  for (const f of ['main.js', 'agent.js', 'agent.js.cache', 'client.js', 'package.json']) {
    if (!existsSync(join('dist', f))) throw new Error(`dist/${f} is missing: run npm run build first`);
    // Scripts with a #! line are executable, as lintian expects.
    install(join('dist', f), join(lib, f), readText(join('dist', f)).startsWith('#!') ? 0o755 : 0o644);
  }
  for (const f of KOFFI_FILES) install(join('node_modules/koffi', f), join(lib, 'node_modules/koffi', f));
  const native = '@koromix/koffi-linux-x64';
  for (const f of ['package.json', 'index.js', 'linux_x64/koffi.node']) install(join('node_modules', native, f), join(lib, 'node_modules', native, f));
  // Built by postinst with the guest's own node: a V8 startup snapshot is tied to one node binary.
  install(`${P}/snapshot/make-snapshot.js`, join(lib, 'make-snapshot.js'), 0o755);
  // /usr/bin/node, not whatever `node` is first on PATH: the package depends on Debian's nodejs.
  // The agent's launcher starts it from that snapshot when it matches.
  install(`${P}/launcher/qga-ts`, join(root, 'usr/sbin/qga-ts'), 0o755);
  put(join(root, 'usr/bin/qga-client'), '#!/bin/sh\nexec /usr/bin/node /usr/lib/qga-ts/client.js "$@"\n', 0o755);
}

/** The standalone executable as /usr/sbin/qga-ts; qga-client is the same file under another name. */
export function stageStandalone(root, { pkg, executable, nodeLicense }) {
  install(executable, join(root, 'usr/sbin/qga-ts'), 0o755);
  mkdirs(join(root, 'usr/bin'));
  symlinkSync('../sbin/qga-ts', join(root, 'usr/bin/qga-client'));
  const doc = join(root, 'usr/share/doc', pkg);
  put(join(doc, 'copyright'), readText(`${P}/debian/copyright`) + readText(`${P}/debian/copyright-standalone.in`));
  putGzip(join(doc, 'node-LICENSE.gz'), readText(nodeLicense));
  const overrides = join(root, 'usr/share/lintian/overrides', pkg);
  put(overrides, readText(overrides) + fill(readText(`${P}/debian/lintian-overrides-standalone`), { PACKAGE: pkg }));
}
