// The npm package as a user gets it: `npm pack` of a fresh checkout (no dist/, so prepack must
// build), then `npm install -g` of the tarball and a host program that installs it as a library.
import { after, before, describe, it } from 'node:test';
import * as assert from 'node:assert/strict';
import { spawnSync, type SpawnSyncOptions } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { Agent, REPO } from '../support/agent.ts';

// npm runs under the Node on PATH (npm may not support the Node under test); the package's own
// programs run under the Node running this test, put first on PATH for their `env node` shebangs.
const PATH = `${path.dirname(process.execPath)}${path.delimiter}${process.env.PATH ?? ''}`;
const NPM_FLAGS = ['--no-audit', '--no-fund', '--prefer-offline', '--loglevel=error'];

function run(cmd: string, args: string[], opts: SpawnSyncOptions = {}): string {
  const r = spawnSync(cmd, args, { encoding: 'utf8', timeout: 300_000, ...opts });
  const out = `${r.stdout ?? ''}${r.stderr ?? ''}`;
  assert.equal(r.status, 0, `${cmd} ${args.join(' ')} failed (${r.status ?? r.signal ?? r.error}):\n${out}`);
  return String(r.stdout);
}

/** A copy of the checkout without dist/ or .git, as a fresh clone has before any build. */
function freshCheckout(to: string): void {
  const skip = new Set(['node_modules', 'dist', '.git']);
  for (const name of fs.readdirSync(REPO)) {
    if (!skip.has(name)) fs.cpSync(path.join(REPO, name), path.join(to, name), { recursive: true });
  }
  fs.symlinkSync(path.join(REPO, 'node_modules'), path.join(to, 'node_modules'));
}

describe('npm package', () => {
  let tmp = '';
  let tarball = '';
  let entries: string[] = [];
  let prefix = '';

  before(() => {
    tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'qga-package-'));
    if (process.env.QGA_TS_TARBALL) {
      // tools/test-node-versions.sh packs once for every Node it runs this file under.
      tarball = process.env.QGA_TS_TARBALL;
    } else {
      const src = path.join(tmp, 'src');
      fs.mkdirSync(src);
      freshCheckout(src);
      run('npm', ['pack', '--pack-destination', tmp, ...NPM_FLAGS], { cwd: src });
      const found = fs.readdirSync(tmp).filter((f) => f.endsWith('.tgz'));
      assert.equal(found.length, 1, `one tarball expected, got ${found.join(', ')}`);
      tarball = path.join(tmp, found[0]);
    }
    entries = run('tar', ['-tzf', tarball]).trim().split('\n');
    prefix = path.join(tmp, 'global');
  });

  after(() => {
    if (tmp) fs.rmSync(tmp, { recursive: true, force: true });
  });

  it('holds the bins, the library with its types and LICENSE; no tests, fixtures or code cache', () => {
    for (const f of ['dist/main.js', 'dist/agent.js', 'dist/client.js', 'dist/index.js', 'dist/types/client/index.d.ts', 'LICENSE', 'README.md']) {
      assert.ok(entries.includes(`package/${f}`), `${f} missing from the tarball`);
    }
    const unwanted = entries.filter((e) => /^package\/(test|bench|tools|src|schema)\//.test(e) || /fixtures|\.cache$|\.tgz$/.test(e));
    assert.deepEqual(unwanted, []);
    const license = run('tar', ['-xzOf', tarball, 'package/LICENSE']);
    assert.match(license, /^\s*GNU GENERAL PUBLIC LICENSE\s+Version 2, June 1991/);
    assert.match(license, /END OF TERMS AND CONDITIONS/);
    const pkg = JSON.parse(run('tar', ['-xzOf', tarball, 'package/package.json'])) as { license: string };
    assert.equal(pkg.license, 'GPL-2.0-or-later');
  });

  it('npm install -g: qga-ts -V and qga-client --help run, and the agent answers', async () => {
    run('npm', ['install', '-g', '--prefix', prefix, ...NPM_FLAGS, tarball]);
    const bin = path.join(prefix, 'bin');
    const env = { ...process.env, PATH };
    assert.match(run(path.join(bin, 'qga-ts'), ['-V'], { env }), /^QEMU Guest Agent \d+\.\d+\.\d+\n$/);
    assert.match(run(path.join(bin, 'qga-client'), ['--help'], { env }), /qga-client/);
    // koffi's native module loads from the installed tree under this Node (set-time, fsfreeze, syslog need it).
    const installed = path.join(prefix, 'lib/node_modules/qga-ts');
    const getpid = "const k = require('koffi'); console.log(k.load('libc.so.6').func('int getpid()')() === process.pid)";
    assert.equal(run(process.execPath, ['-e', getpid], { cwd: installed }), 'true\n');
    const agent = await Agent.start([path.join(bin, 'qga-ts')], { env });
    try {
      const c = await agent.connect();
      c.send('{"execute":"guest-ping","id":1}');
      assert.deepEqual(await c.lines(1), ['{"return": {}, "id": 1}']);
      c.close();
    } finally {
      await agent.stop();
      agent.cleanup();
    }
  });

  it('a host program installs it and uses QgaClient: import, require, and its types', async () => {
    const app = path.join(tmp, 'app');
    fs.mkdirSync(app);
    fs.writeFileSync(path.join(app, 'package.json'), '{ "name": "host-app", "version": "1.0.0", "private": true, "type": "module" }\n');
    run('npm', ['install', ...NPM_FLAGS, tarball], { cwd: app });
    const agent = await Agent.start([process.execPath, path.join(app, 'node_modules/qga-ts/dist/main.js')]);
    try {
      const esm = `import { QgaClient } from 'qga-ts';
        const qga = await QgaClient.connect({ address: process.argv[1] });
        const info = await qga.guestInfo();
        console.log(info.version, typeof (await qga.guestGetTime()));
        await qga.close();`;
      assert.match(run(process.execPath, ['--input-type=module', '-e', esm, agent.sock], { cwd: app }), /^\d+\.\d+\.\d+ bigint\n$/);
      const cjs = `const { QgaClient, QgaCommandError } = require('qga-ts'); console.log(typeof QgaClient.connect, typeof QgaCommandError);`;
      assert.equal(run(process.execPath, ['-e', cjs], { cwd: app }), 'function function\n');
    } finally {
      await agent.stop();
      agent.cleanup();
    }
    // The declarations resolve through "exports" and type the calls (not `any`: the expected error must occur).
    fs.writeFileSync(
      path.join(app, 'main.ts'),
      `import { QgaClient } from 'qga-ts';
const qga = await QgaClient.connect({ address: '/run/qga.sock' });
const version: string = (await qga.guestInfo()).version;
// @ts-expect-error guest-get-time answers a bigint
const ns: string = await qga.guestGetTime();
export { version, ns };
`,
    );
    const tsconfig = {
      compilerOptions: { module: 'nodenext', moduleResolution: 'nodenext', target: 'es2022', strict: true, noEmit: true, types: ['node'], typeRoots: [path.join(REPO, 'node_modules/@types')] },
      files: ['main.ts'],
    };
    fs.writeFileSync(path.join(app, 'tsconfig.json'), JSON.stringify(tsconfig));
    run(process.execPath, [path.join(REPO, 'node_modules/typescript/bin/tsc'), '-p', app]);
  });
});
