// npm run package's outputs: the standalone executable runs with no node on PATH (koffi included),
// both .debs hold the unit, udev rule, hook and man pages with the right control fields, and
// lintian finds no errors. Runs tools/package/main.mjs itself (about 35 s on an idle machine).
import { before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { REPO, RawClient } from '../support/agent.ts';

const have = (cmd: string, arg = '--version') => spawnSync(cmd, [arg], { stdio: 'ignore' }).status === 0;
const missing = ['dpkg-deb', 'lintian', 'objdump', 'strip'].filter((c) => !have(c));
const skip = missing.length > 0 ? `needs ${missing.join(', ')} (apt-get install dpkg-dev lintian binutils)` : false;

const version = JSON.parse(fs.readFileSync(path.join(REPO, 'package.json'), 'utf8')).version as string;
const OUT = path.join(REPO, 'dist/pkg');
const SEA = path.join(OUT, `qga-ts-${version}-linux-x64`);
const JS_DEB = path.join(OUT, `qga-ts_${version}_amd64.deb`);
const SEA_DEB = path.join(OUT, `qga-ts-standalone_${version}_amd64.deb`);
/** No node anywhere on it: the executable must not need one. */
const NO_NODE_ENV = { PATH: '/nonexistent', HOME: os.tmpdir() };

const dpkg = (...args: string[]) => {
  const r = spawnSync('dpkg-deb', args, { encoding: 'utf8' });
  assert.equal(r.status, 0, r.stderr);
  return r.stdout;
};
const field = (deb: string, name: string) => dpkg('-f', deb, name).trim();

async function ping(sock: string, line: string): Promise<string> {
  const c = await RawClient.connect(sock);
  try {
    c.send(line);
    return (await c.lines(1))[0];
  } finally {
    c.close();
  }
}

describe('npm run package', { skip }, () => {
  let lintianOutput = '';
  before(() => {
    const r = spawnSync(process.execPath, ['tools/package/main.mjs'], { cwd: REPO, encoding: 'utf8', timeout: 600_000 });
    lintianOutput = r.stdout + r.stderr;
    assert.equal(r.status, 0, lintianOutput);
  });

  it('lintian reports no errors and no warnings for either package', () => {
    for (const deb of [JS_DEB, SEA_DEB]) assert.ok(lintianOutput.includes(`lintian dist/pkg/${path.basename(deb)}:`), lintianOutput);
    assert.doesNotMatch(lintianOutput, /^[EW]: /m);
  });

  it('both packages hold the unit, udev rule, hook, man pages and docs; the launchers are in place', () => {
    for (const deb of [JS_DEB, SEA_DEB]) {
      const pkg = field(deb, 'Package');
      const files = dpkg('-c', deb);
      for (const f of [
        './usr/sbin/qga-ts',
        './usr/bin/qga-client',
        './usr/lib/systemd/system/qga-ts.service',
        './usr/lib/udev/rules.d/60-qga-ts.rules',
        './etc/qemu/fsfreeze-hook',
        './etc/qemu/fsfreeze-hook.d/',
        './usr/share/man/man8/qga-ts.8.gz',
        './usr/share/man/man1/qga-client.1.gz',
        `./usr/share/doc/${pkg}/copyright`,
        `./usr/share/doc/${pkg}/changelog.Debian.gz`,
        `./usr/share/doc/${pkg}/README.md`,
      ]) {
        assert.match(files, new RegExp(` ${f.replace(/[.]/g, '\\.')}( |$)`, 'm'), `${pkg}: ${f}`);
      }
      assert.match(files, /^-rwxr-xr-x root\/root .* \.\/etc\/qemu\/fsfreeze-hook$/m);
      assert.equal(dpkg('--ctrl-tarfile', deb).length > 0, true);
      const conffiles = spawnSync('sh', ['-c', `dpkg-deb -I '${deb}' conffiles`], { encoding: 'utf8' }).stdout;
      assert.equal(conffiles, '/etc/qemu/fsfreeze-hook\n');
      for (const f of ['Conflicts', 'Replaces']) assert.match(field(deb, f), /\bqemu-guest-agent\b/, `${pkg} ${f}`);
    }
    assert.match(dpkg('-c', JS_DEB), / \.\/usr\/lib\/qga-ts\/node_modules\/@koromix\/koffi-linux-x64\/linux_x64\/koffi\.node$/m);
    assert.match(dpkg('-c', SEA_DEB), /^lrwxrwxrwx .* \.\/usr\/bin\/qga-client -> \.\.\/sbin\/qga-ts$/m);
    // The startup snapshot: its builder, and the trigger that rebuilds it when nodejs changes /usr/bin/node.
    assert.match(dpkg('-c', JS_DEB), /^-rwxr-xr-x root\/root .* \.\/usr\/lib\/qga-ts\/make-snapshot\.js$/m);
    assert.match(dpkg('-I', JS_DEB, 'triggers'), /^interest-noawait \/usr\/bin\/node$/m);
  });

  it('control fields: nodejs dependency for qga-ts, none for the standalone one, and they exclude each other', () => {
    assert.equal(field(JS_DEB, 'Package'), 'qga-ts');
    assert.equal(field(JS_DEB, 'Version'), `${version}-1`);
    assert.match(field(JS_DEB, 'Depends'), /^nodejs \(>= 18\), libc6 \(>= [\d.]+\)/);
    assert.match(field(JS_DEB, 'Conflicts'), /\bqga-ts-standalone\b/);
    assert.equal(field(SEA_DEB, 'Package'), 'qga-ts-standalone');
    assert.equal(field(SEA_DEB, 'Architecture'), 'amd64');
    assert.doesNotMatch(field(SEA_DEB, 'Depends'), /nodejs/);
    assert.equal(field(SEA_DEB, 'Provides'), `qga-ts (= ${version}-1)`);
    assert.match(field(SEA_DEB, 'Conflicts'), /\bqga-ts\b/);
    assert.match(field(SEA_DEB, 'Replaces'), /\bqga-ts\b/);
  });

  it('the unit is bound to the virtio port, restarts at once, and the udev rule wants it', () => {
    const unit = fs.readFileSync(path.join(REPO, 'packaging/systemd/qga-ts.service'), 'utf8');
    assert.match(unit, /^BindsTo=dev-virtio\\x2dports-org\.qemu\.guest_agent\.0\.device$/m);
    assert.match(unit, /^After=dev-virtio\\x2dports-org\.qemu\.guest_agent\.0\.device$/m);
    assert.match(unit, /^Restart=always$/m);
    assert.match(unit, /^ExecStart=-\/usr\/sbin\/qga-ts --fsfreeze-hook$/m);
    const rule = fs.readFileSync(path.join(REPO, 'packaging/udev/60-qga-ts.rules'), 'utf8');
    assert.match(rule, /ATTR\{name\}=="org\.qemu\.guest_agent\.0"/);
    assert.match(rule, /SYSTEMD_WANTS\}\+?="qga-ts\.service"/);
  });

  it('the man pages render without warnings', () => {
    for (const page of ['packaging/man/qga-ts.8', 'packaging/man/qga-client.1']) {
      const r = spawnSync('man', ['--warnings', '-l', path.join(REPO, page)], { encoding: 'utf8', env: { ...process.env, MANWIDTH: '80', MAN_DISABLE_SECCOMP: '1' } });
      if (r.error) continue; // no man(1) here: dpkg-deb and lintian are the required tools
      assert.equal(r.stderr, '', page);
      assert.match(r.stdout, /SYNOPSIS/);
    }
  });

  it('qga-ts .deb: make-snapshot.js builds a startup snapshot the launcher starts from; a corrupt, foreign, stale or missing one, or another CPU, falls back to the plain start', async () => {
    const root = fs.mkdtempSync(path.join(os.tmpdir(), 'qga-snap-'));
    try {
      dpkg('-x', JS_DEB, root);
      const lib = path.join(root, 'usr/lib/qga-ts');
      const cache = path.join(root, 'cache');
      // The packaged launcher with its three fixed paths pointed into this tree and at this node.
      const launcher = path.join(root, 'qga-ts');
      fs.writeFileSync(launcher, fs.readFileSync(path.join(root, 'usr/sbin/qga-ts'), 'utf8')
        .replaceAll('/var/cache/qga-ts', cache).replaceAll('/usr/lib/qga-ts', lib).replaceAll('/usr/bin/node', process.execPath), { mode: 0o755 });
      const build = spawnSync(process.execPath, [path.join(lib, 'make-snapshot.js'), cache], { encoding: 'utf8', timeout: 120_000 });
      assert.equal(build.status, 0, build.stderr);
      assert.equal(build.stderr, '');
      const [files, want] = fs.readFileSync(path.join(cache, 'agent.blob.id'), 'utf8').split('\n');
      assert.deepEqual(files.split(' ').slice(-2), [path.join(lib, 'agent.js'), path.join(cache, 'agent.blob')]);
      assert.match(want, /^(\d+:\d+:\d+:\d+;){3,}$/);
      /** Starts the launcher, answers guest-ping?, and says whether the agent runs from the snapshot. */
      const start = async (label: string): Promise<boolean> => {
        const sock = path.join(root, 's');
        fs.rmSync(sock, { force: true });
        const child = spawn(launcher, ['-m', 'unix-listen', '-p', sock, '-t', root], { stdio: ['ignore', 'ignore', 'pipe'] });
        let stderr = '';
        child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
        try {
          for (let i = 0; i < 200 && !fs.existsSync(sock); i++) await new Promise((r) => setTimeout(r, 50));
          assert.equal(await ping(sock, '{"execute":"guest-ping"}'), '{"return": {}}', `${label}: ${stderr}`);
          return fs.readFileSync(`/proc/${child.pid}/cmdline`, 'utf8').split('\0').includes('--snapshot-blob');
        } finally {
          child.kill('SIGTERM');
          await new Promise((r) => child.once('exit', r));
        }
      };
      const blob = path.join(cache, 'agent.blob');
      assert.equal(await start('snapshot'), true, 'the launcher did not use the snapshot');
      const good = fs.readFileSync(blob);
      // Truncated in place (a full disk), then a foreign blob (another program's) in its place.
      fs.truncateSync(blob, 100_000);
      assert.equal(await start('truncated'), false);
      fs.writeFileSync(path.join(root, 'other.js'), 'globalThis.other = 1;\n');
      const foreign = spawnSync(process.execPath, ['--snapshot-blob', blob, '--build-snapshot', path.join(root, 'other.js')], { cwd: root, encoding: 'utf8' });
      assert.ok(fs.statSync(blob).size > 0, foreign.stderr);
      assert.equal(await start('foreign'), false);
      // Garbage of the right size, and a rebuilt agent.js the snapshot does not hold.
      fs.writeFileSync(blob, Buffer.alloc(good.length, 0x5a));
      assert.equal(await start('garbage'), false);
      assert.equal(spawnSync(process.execPath, [path.join(lib, 'make-snapshot.js'), cache]).status, 0);
      assert.equal(await start('rebuilt'), true);
      // Another CPU model (a VM's CPU changed): the flags line differs.
      const idFile = path.join(cache, 'agent.blob.id');
      const id = fs.readFileSync(idFile, 'utf8');
      assert.match(id.split('\n')[2], /^flags\s*: /);
      fs.writeFileSync(idFile, id.replace(/^flags.*$/m, 'flags\t\t: fpu vme'));
      assert.equal(await start('other cpu'), false);
      fs.writeFileSync(idFile, id);
      fs.utimesSync(path.join(lib, 'agent.js'), new Date(), new Date(Date.now() + 5000));
      assert.equal(await start('stale'), false);
      // Gone: no blob, no id file.
      assert.equal(spawnSync(process.execPath, [path.join(lib, 'make-snapshot.js'), '--remove', cache]).status, 0);
      assert.equal(fs.existsSync(cache), false);
      assert.equal(await start('missing'), false);
    } finally {
      fs.rmSync(root, { recursive: true, force: true });
    }
  });

  it('the standalone executable answers -V, and serves guest-ping and a koffi-backed daemon start with no node on PATH', async () => {
    const v = spawnSync(SEA, ['-V'], { encoding: 'utf8', env: NO_NODE_ENV });
    assert.equal(v.status, 0, v.stderr);
    assert.match(v.stdout, /^QEMU Guest Agent \d+\.\d+\.\d+\n$/);
    // -d with a pidfile: the pidfile's fcntl lock and the daemon's dup2 are libc calls through koffi.
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'qga-sea-'));
    const pidfile = path.join(dir, 'qga.pid');
    const sock = path.join(dir, 's');
    try {
      const d = spawnSync(SEA, ['-d', '-f', pidfile, '-m', 'unix-listen', '-p', sock, '-t', dir], { encoding: 'utf8', env: NO_NODE_ENV, timeout: 20_000 });
      assert.equal(d.status, 0, d.stderr);
      const pid = Number(fs.readFileSync(pidfile, 'utf8'));
      try {
        assert.equal(await ping(sock, '{"execute":"guest-ping"}'), '{"return": {}}');
        // A second daemon on the same pidfile fails on the koffi-taken lock.
        const second = spawnSync(SEA, ['-d', '-f', pidfile, '-m', 'unix-listen', '-p', `${sock}2`, '-t', dir], { encoding: 'utf8', env: NO_NODE_ENV, timeout: 20_000 });
        assert.equal(second.status, 1);
        assert.match(second.stderr, /Cannot lock pid file/);
      } finally {
        process.kill(pid, 'SIGTERM');
      }
      // The executable leaves no copy of koffi's module behind.
      assert.deepEqual(fs.readdirSync(os.tmpdir()).filter((f) => f.startsWith('qga-ts-koffi-')), []);
      // Called qga-client, the same file is the client.
      const client = path.join(dir, 'qga-client');
      fs.symlinkSync(SEA, client);
      const h = spawnSync(client, ['--help'], { encoding: 'utf8', env: NO_NODE_ENV });
      assert.equal(h.status, 0, h.stderr);
      assert.match(h.stdout, /^Usage: qga-client /);
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });
});
