// The Depends of the standalone package, from the symbol versions its Node.js binary needs
// (what dpkg-shlibdeps would find, without needing a Debian source tree).
import { spawnSync } from 'node:child_process';

/** First GCC release whose libstdc++ defines GLIBCXX_3.4.<n>. */
const GLIBCXX_GCC = { 21: '5', 22: '6', 23: '7', 24: '7', 25: '8', 26: '9', 27: '9', 28: '10', 29: '11', 30: '12', 31: '13', 32: '14' };

const newest = (versions) =>
  versions.sort((a, b) => a.localeCompare(b, 'en', { numeric: true })).at(-1);

export function elfDepends(file) {
  const r = spawnSync('objdump', ['-T', file], { encoding: 'utf8', maxBuffer: 64 << 20 });
  if (r.status !== 0) throw new Error(`objdump -T ${file} failed (binutils installed?): ${r.stderr || r.error?.message}`);
  const glibc = newest([...r.stdout.matchAll(/\bGLIBC_(\d+\.\d+(?:\.\d+)?)/g)].map((m) => m[1]));
  const cxx = newest([...r.stdout.matchAll(/\bGLIBCXX_3\.4\.(\d+)/g)].map((m) => m[1]));
  const deps = [`libc6 (>= ${glibc})`, 'libgcc-s1'];
  if (cxx !== undefined) {
    // Below 3.4.21 every libstdc++6 Debian has shipped since 2016 will do.
    const gcc = Number(cxx) < 21 ? '' : GLIBCXX_GCC[cxx];
    if (gcc === undefined) throw new Error(`GLIBCXX_3.4.${cxx}: add its GCC release to tools/package/elf-deps.mjs`);
    deps.push(gcc ? `libstdc++6 (>= ${gcc})` : 'libstdc++6');
  }
  return deps.join(', ');
}
