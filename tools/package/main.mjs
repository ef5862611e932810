// npm run package: from the built dist/, writes to dist/pkg/
//   qga-ts-<version>-linux-x64                the standalone executable (agent, and client as qga-client)
//   qga-ts_<version>_amd64.deb                the bundled JavaScript, for the distribution's nodejs
//   qga-ts-standalone_<version>_amd64.deb     the standalone executable, no Node.js needed
// then runs lintian on both packages when it is installed (QGA_NO_LINTIAN=1 skips it).
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { buildDeb } from './deb.mjs';
import { elfDepends } from './elf-deps.mjs';
import { mkdirs, readText } from './fsutil.mjs';
import { KOFFI_NODE, stageCommon, stageJs, stageStandalone } from './layout.mjs';
import { buildStandalone } from './sea.mjs';

const { version } = JSON.parse(readText('package.json'));
/** npm's 1.2.0-rc.1 sorts after 1.2.0 in Debian unless the hyphen becomes a tilde; -1 is the packaging revision. */
const debVersion = `${version.replace('-', '~')}-1`;
const maintainer = 'qga-ts maintainers <maintainers@users.noreply.r-seed-617ff7a1.example>';
const OUT = 'dist/pkg';

export const outputs = {
  standalone: join(OUT, `qga-ts-${version}-linux-x64`),
  jsDeb: join(OUT, `qga-ts_${version}_amd64.deb`),
  standaloneDeb: join(OUT, `qga-ts-standalone_${version}_amd64.deb`),
};

/** Node's LICENSE (it lists the bundled libraries' licences), from beside the node that is embedded. */
function nodeLicense() {
  const prefix = dirname(dirname(process.execPath));
  const found = [join(prefix, 'share/doc/node/LICENSE'), join(prefix, 'share/doc/nodejs/LICENSE'), '/usr/share/doc/nodejs/LICENSE'].find(existsSync);
  if (!found) throw new Error(`Node.js's LICENSE file was not found beside ${process.execPath}; the standalone package must carry it`);
  return found;
}

const flavours = {
  js: {
    PACKAGE: 'qga-ts',
    // The JavaScript is the same everywhere, but koffi's native module is x86-64 (the one npm
    // installs on the build machine): amd64 keeps dpkg from installing it where it cannot run.
    ARCH: 'amd64',
    OTHER: 'qga-ts-standalone',
    PROVIDES: '',
    FLAVOUR_SHORT: '',
    FLAVOUR_LONG: ' .\n This package runs on the distribution\'s nodejs; qga-ts-standalone\n carries its own runtime instead.',
  },
  standalone: {
    PACKAGE: 'qga-ts-standalone',
    ARCH: 'amd64',
    OTHER: 'qga-ts',
    PROVIDES: `qga-ts (= ${debVersion})`,
    FLAVOUR_SHORT: ' (standalone executable)',
    FLAVOUR_LONG: ' .\n This package needs no Node.js: /usr/sbin/qga-ts is a single executable\n with the Node.js runtime inside. qga-ts is the same agent for the\n distribution\'s nodejs.',
  },
};

function deb(flavour, out, stage, opts = {}) {
  const fields = { ...flavours[flavour], VERSION: debVersion, MAINTAINER: maintainer };
  const root = mkdtempSync(join(tmpdir(), `qga-deb-${flavour}-`));
  try {
    stageCommon(root, { pkg: fields.PACKAGE, version, maintainer });
    stage(root, fields);
    buildDeb(root, fields, out, opts);
  } finally {
    rmSync(root, { recursive: true, force: true });
  }
}

/** lintian's tags for `deb`, one per line; throws when it reports an error. */
export function lintian(deb) {
  const r = spawnSync('lintian', ['--fail-on', 'error', '--tag-display-limit', '0', deb], { encoding: 'utf8' });
  const tags = (r.stdout + r.stderr).replace(/^running with root privileges.*\n?/m, '').trim();
  if (r.status !== 0) throw new Error(`lintian reports errors for ${deb}:\n${tags}`);
  return tags;
}

async function main() {
  mkdirs(OUT);
  const t0 = Date.now();
  await buildStandalone(outputs.standalone);
  const t1 = Date.now();
  deb('js', outputs.jsDeb, (root, fields) => {
    fields.DEPENDS = `nodejs (>= 18), ${elfDepends(KOFFI_NODE)}`;
    stageJs(root);
  }, { triggers: true });
  const t2 = Date.now();
  // gzip: an 86 MB executable takes minutes with dpkg-deb's default xz, seconds with gzip.
  deb('standalone', outputs.standaloneDeb, (root, fields) => {
    fields.DEPENDS = elfDepends(outputs.standalone);
    stageStandalone(root, { pkg: fields.PACKAGE, executable: outputs.standalone, nodeLicense: nodeLicense() });
  }, { compress: 'gzip' });
  const t3 = Date.now();
  const s = (a, b) => `${((b - a) / 1000).toFixed(1)} s`;
  console.log(`package: executable ${s(t0, t1)}, qga-ts deb ${s(t1, t2)}, qga-ts-standalone deb ${s(t2, t3)}`);
  for (const f of Object.values(outputs)) console.log(`  ${f}`);
  const haveLintian = spawnSync('lintian', ['--version']).status === 0;
  if (process.env.QGA_NO_LINTIAN || !haveLintian) {
    console.log(haveLintian ? 'lintian: skipped (QGA_NO_LINTIAN)' : 'lintian: not installed, packages not checked');
    return;
  }
  for (const f of [outputs.jsDeb, outputs.standaloneDeb]) console.log(`lintian ${f}:\n${lintian(f) || '  (no tags)'}`);
}

if (process.argv[1] === fileURLToPath(import.meta.url)) await main();
