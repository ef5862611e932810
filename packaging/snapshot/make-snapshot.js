#!/usr/bin/node
// /usr/lib/qga-ts/make-snapshot.js: builds the agent's V8 startup snapshot with the node that runs
// this script (/usr/bin/node: postinst runs it at install and whenever nodejs changes), so that
// /usr/sbin/qga-ts starts from it instead of compiling and running Node's bootstrap and the agent's
// module code on every start (docs/packaging.md). Never fails the caller: without a snapshot the
// launcher starts the agent from its JavaScript.
//   make-snapshot.js [CACHE_DIR]     (default /var/cache/qga-ts; a directory for tests)
//   make-snapshot.js --remove [CACHE_DIR]
'use strict';
const { spawnSync } = require('child_process');
const fs = require('fs');
const path = require('path');

const args = process.argv.slice(2);
const remove = args[0] === '--remove';
const cache = (remove ? args[1] : args[0]) || '/var/cache/qga-ts';
const agent = path.join(__dirname, 'agent.js');
const main = path.join(__dirname, 'main.js');
const blob = path.join(cache, 'agent.blob');
// Line 1: the files the snapshot depends on; line 2: their identity, as the launcher's
// `stat -L --printf '%d:%i:%s:%Y;'` prints it; line 3: the CPU's flags line from /proc/cpuinfo
// (V8 ties a snapshot to the CPU features it saw). Any of them changed: no match.
const idFile = path.join(cache, 'agent.blob.id');

function clear() {
  for (const f of [idFile, blob, `${blob}.new`, `${idFile}.new`]) fs.rmSync(f, { force: true });
}

/** What the launcher compares: device, inode, size and mtime of each file, following links. */
function identity(files) {
  return files.map((f) => {
    const st = fs.statSync(f);
    return `${st.dev}:${st.ino}:${st.size}:${Math.floor(st.mtimeMs / 1000)};`;
  }).join('');
}

/** This node's executable and the shared libnode that holds V8 (Debian's), if any: what the blob is tied to. */
function nodeFiles() {
  const libs = fs.readFileSync('/proc/self/maps', 'utf8').split('\n')
    .map((l) => l.slice(l.indexOf('/')))
    .filter((p) => p.startsWith('/') && /\/libnode\.so[.\d]*$/.test(p));
  return [process.execPath, ...new Set(libs)];
}

function run(argv) {
  // A clean environment: the build runs the agent's module code, which must see nothing of postinst's.
  const r = spawnSync(process.execPath, argv, { encoding: 'utf8', env: { PATH: '/usr/sbin:/usr/bin:/sbin:/bin' }, timeout: 300_000 });
  if (r.error) throw r.error;
  if (r.status !== 0) throw new Error(`node ${argv.join(' ')}: ${(r.stderr || '').trim().split('\n').slice(-1)[0] || `exit ${r.status ?? r.signal}`}`);
  return r.stdout;
}

function build() {
  clear();
  fs.mkdirSync(cache, { recursive: true, mode: 0o755 });
  const tmp = `${blob}.new`;
  run(['--no-warnings', '--snapshot-blob', tmp, '--build-snapshot', agent]);
  // The blob must start the same agent as the JavaScript does, or it is not used.
  const want = run([main, '-V']);
  const got = run(['--snapshot-blob', tmp, main, '-V']);
  if (got !== want) throw new Error(`the snapshot answers -V with ${JSON.stringify(got)}, not ${JSON.stringify(want)}`);
  fs.chmodSync(tmp, 0o644);
  fs.renameSync(tmp, blob);
  const files = [...nodeFiles(), agent, blob];
  const cpu = fs.readFileSync('/proc/cpuinfo', 'utf8').split('\n').find((l) => l.startsWith('flags'));
  if (cpu === undefined) throw new Error('/proc/cpuinfo has no flags line');
  fs.writeFileSync(`${idFile}.new`, `${files.join(' ')}\n${identity(files)}\n${cpu}\n`, { mode: 0o644 });
  fs.renameSync(`${idFile}.new`, idFile);
}

try {
  if (remove) {
    clear();
    fs.rmSync(cache, { recursive: true, force: true });
  } else {
    build();
  }
} catch (err) {
  try {
    clear();
  } catch {
    // nothing more to undo
  }
  process.stderr.write(`qga-ts: no startup snapshot (${err instanceof Error ? err.message : String(err)}); the agent starts without one\n`);
}
