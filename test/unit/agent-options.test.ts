// qemu-ga's command line: getopt_long's odd corners, the two passes, and the immediate actions.
import { strict as assert } from 'node:assert';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { describe, it } from 'node:test';
import { getoptLong, parseCommandLine, QGA_LONG_OPTIONS, QGA_SHORT_OPTIONS, usageText, type ParseResult } from '../../src/agent/options.ts';

const ARGV0 = 'qemu-ga';
const NAMES = ['guest-sync-delimited', 'guest-sync', 'guest-ping'];
// An env without QGA_CONF points at a file that does not exist, so no system config leaks in.
const NOCONF = { QGA_CONF: '/nonexistent/qga-ts-test.conf' };

function parse(args: string[], env: NodeJS.ProcessEnv = NOCONF): ParseResult {
  return parseCommandLine(args, { argv0: ARGV0, env, commandNames: NAMES, pid: 4242, clock: () => 0n });
}

function run(args: string[], env: NodeJS.ProcessEnv = NOCONF) {
  const r = parse(args, env);
  assert.equal(r.kind, 'run', JSON.stringify(r));
  if (r.kind !== 'run') throw new Error('unreachable');
  return r.config;
}

const opts = (args: string[], posix = false) => getoptLong(ARGV0, args, QGA_SHORT_OPTIONS, QGA_LONG_OPTIONS, posix);

describe('getoptLong', () => {
  it('takes options in any order and ignores stray arguments', () => {
    assert.deepEqual(opts(['stray', '-v', 'x', '-d']), [
      { opt: 'v', arg: null },
      { opt: 'd', arg: null },
    ]);
  });

  it('stops at the first non-option under POSIXLY_CORRECT, and at --', () => {
    assert.deepEqual(opts(['-v', 'stray', '-d'], true), [{ opt: 'v', arg: null }]);
    assert.deepEqual(opts(['-v', '--', '-d']), [{ opt: 'v', arg: null }]);
    assert.deepEqual(opts(['-', '-v']), [{ opt: 'v', arg: null }]);
  });

  it('reads required arguments attached, separate, or as the rest of a cluster', () => {
    assert.deepEqual(opts(['-p/a', '-p', '/b', '-vp/c', '-pv', '-p', '-v']), [
      { opt: 'p', arg: '/a' },
      { opt: 'p', arg: '/b' },
      { opt: 'v', arg: null },
      { opt: 'p', arg: '/c' },
      { opt: 'p', arg: 'v' },
      { opt: 'p', arg: '-v' },
    ]);
    assert.deepEqual(opts(['--path=/a', '--path', '/b', '--path=']), [
      { opt: 'p', arg: '/a' },
      { opt: 'p', arg: '/b' },
      { opt: 'p', arg: '' },
    ]);
  });

  it('gives -F an argument only when attached', () => {
    assert.deepEqual(opts(['-F', '/x', '-F/y', '-vF/z', '-Fv', '--fsfreeze-hook', '/w', '--fsfreeze-hook=/u']), [
      { opt: 'F', arg: null },
      { opt: 'F', arg: '/y' },
      { opt: 'v', arg: null },
      { opt: 'F', arg: '/z' },
      { opt: 'F', arg: 'v' },
      { opt: 'F', arg: null },
      { opt: 'F', arg: '/u' },
    ]);
  });

  it('accepts unambiguous abbreviations and prints glibc diagnostics otherwise', () => {
    assert.deepEqual(opts(['--verb', '--fsf=/h', '--c', 'f']), [
      { opt: 'v', arg: null },
      { opt: 'F', arg: '/h' },
      { opt: 'c', arg: 'f' },
    ]);
    const diags = (args: string[]) => opts(args).map((i) => i.diagnostic);
    assert.deepEqual(diags(['--d']), ["qemu-ga: option '--d' is ambiguous; possibilities: '--dump-conf' '--daemonize'\n"]);
    assert.deepEqual(diags(['--d=1']), ["qemu-ga: option '--d=1' is ambiguous; possibilities: '--dump-conf' '--daemonize'\n"]);
    assert.deepEqual(diags(['--foo=bar']), ["qemu-ga: unrecognized option '--foo=bar'\n"]);
    assert.deepEqual(diags(['--verbose=1']), ["qemu-ga: option '--verbose' doesn't allow an argument\n"]);
    assert.deepEqual(diags(['--path']), ["qemu-ga: option '--path' requires an argument\n"]);
    assert.deepEqual(diags(['-p']), ["qemu-ga: option requires an argument -- 'p'\n"]);
    assert.deepEqual(diags(['-x']), ["qemu-ga: invalid option -- 'x'\n"]);
    assert.deepEqual(diags(['-:']), ["qemu-ga: invalid option -- ':'\n"]);
    assert.deepEqual(diags(['--service', 'x']), ["qemu-ga: unrecognized option '--service'\n"]);
    assert.deepEqual(diags(['--blacklist=a']), ["qemu-ga: unrecognized option '--blacklist=a'\n"]);
  });

  it('continues a cluster after an invalid character', () => {
    assert.deepEqual(opts(['-xv']), [{ opt: '?', diagnostic: "qemu-ga: invalid option -- 'x'\n" }, { opt: 'v', arg: null }]);
  });

  it('keeps qemu-ga abbreviations working despite our extension option', () => {
    // --fsfreeze-timeout is exact-only, so --fsfreeze still means --fsfreeze-hook.
    assert.deepEqual(opts(['--fsfreeze']), [{ opt: 'F', arg: null }]);
    assert.deepEqual(opts(['--fsfreeze-t=5']), [{ opt: '?', diagnostic: "qemu-ga: unrecognized option '--fsfreeze-t=5'\n" }]);
    assert.deepEqual(opts(['--fsfreeze-timeout', '5']), [{ opt: 'fsfreeze-timeout', arg: '5' }]);
    // An empty name matches every qemu-ga option.
    assert.match(opts(['--=x'])[0].diagnostic!, /^qemu-ga: option '--=x' is ambiguous; possibilities: '--help' '--version' '--config' .* '--retry-path'\n$/);
  });
});

describe('parseCommandLine', () => {
  it('prints an unknown option diagnostic twice (two passes), then the hint on stdout, exit 1', () => {
    assert.deepEqual(parse(['-D', '-x']), {
      kind: 'exit',
      code: 1,
      stdout: "Unknown option, try 'qemu-ga --help' for more information.\n",
      stderr: "qemu-ga: invalid option -- 'x'\nqemu-ga: invalid option -- 'x'\n",
    });
  });

  it('prints every pass-1 diagnostic but stops pass 2 at the first', () => {
    const r = parse(['-x', '--foo']);
    assert.equal(r.kind === 'exit' && r.stderr,
      "qemu-ga: invalid option -- 'x'\nqemu-ga: unrecognized option '--foo'\nqemu-ga: invalid option -- 'x'\n");
  });

  it('acts on -V, -h and -b/-a help as soon as pass 2 reaches them', () => {
    assert.deepEqual(parse(['-V', '-x']), {
      kind: 'exit',
      code: 0,
      stdout: 'QEMU Guest Agent 10.2.0\n',
      stderr: "qemu-ga: invalid option -- 'x'\n",
    });
    for (const args of [['-b', 'help'], ['-a', 'help'], ['-b', '?'], ['--allow-rpcs=help', '-V']]) {
      assert.deepEqual(parse(args), { kind: 'exit', code: 0, stdout: 'guest-sync-delimited\nguest-sync\nguest-ping\n', stderr: '' });
    }
    const h = parse(['-D', '--he']);
    assert.equal(h.kind === 'exit' && h.code, 0);
    assert.equal(h.kind === 'exit' && h.stdout, usageText('qemu-ga'));
  });

  it('help text embeds the defaults in qemu-ga 10.2 layout', () => {
    const u = usageText('/usr/sbin/qemu-ga');
    assert.match(u, /^Usage: \/usr\/sbin\/qemu-ga \[-m <method> -p <path>\] \[<options>\]\nQEMU Guest Agent 10\.2\.0 /);
    for (const s of ['/etc/qemu/qemu-ga.conf', '/dev/virtio-ports/org.qemu.guest_agent.0', '/dev/ttyS0', '/var/run/qemu-ga.pid',
      '/etc/qemu/fsfreeze-hook', '/var/run', '"--block-rpcs=help"', '"--allow-rpcs=help"']) {
      assert.ok(u.includes(s), s);
    }
    for (const o of ['-c, --config', '-m, --method', '-p, --path', '-l, --logfile', '-f, --pidfile', '-F, --fsfreeze-hook',
      '-t, --statedir', '-v, --verbose', '-V, --version', '-d, --daemonize', '-b, --block-rpcs', '-a, --allow-rpcs',
      '-D, --dump-conf', '-r, --retry-path', '-h, --help']) {
      assert.ok([' ', '=', '\n'].some((end) => u.includes(`\n  ${o}${end}`)), o);
    }
  });

  it('applies the defaults', () => {
    assert.deepEqual(run([]), {
      daemonize: false, method: 'virtio-serial', channelPath: null, logFile: null, pidFile: '/var/run/qemu-ga.pid',
      fsfreezeHook: null, stateDir: '/var/run', verbose: false, retryPath: false, blockRpcs: [], allowRpcs: [],
      dumpConf: false, fsfreezeTimeout: 0, execAllow: null, execAudit: false, excludeInterfaces: [], maxClients: 1,
    });
  });

  it('maps every option, the last scalar winning', () => {
    const c = run(['-m', 'isa-serial', '-m', 'unix-listen', '-p', '/s', '-l', '/l', '-f', '/p', '-t', '/t', '-v', '-d', '-r', '-D',
      '-s', 'ignored', '--fsfreeze-timeout=30', '-F']);
    assert.equal(c.method, 'unix-listen');
    assert.equal(c.channelPath, '/s');
    assert.equal(c.logFile, '/l');
    assert.equal(c.pidFile, '/p');
    assert.equal(c.stateDir, '/t');
    assert.equal(c.fsfreezeHook, '/etc/qemu/fsfreeze-hook');
    assert.equal(c.fsfreezeTimeout, 30);
    assert.ok(c.verbose && c.daemonize && c.retryPath && c.dumpConf);
  });

  it('rejects a bad --fsfreeze-timeout', () => {
    const r = parse(['--fsfreeze-timeout', 'soon']);
    assert.equal(r.kind === 'exit' && r.code, 1);
    assert.match(r.kind === 'exit' ? r.stderr : '', /fsfreeze-timeout/);
  });

  it('--exec-allow adds up absolute, normalised paths; --exec-audit; both exact-only', () => {
    const c = run(['--exec-allow=/usr/bin/uname,/bin//sh', '--exec-allow', '/usr/bin/id', '--exec-audit']);
    assert.deepEqual([c.execAllow, c.execAudit], [['/usr/bin/uname', '/bin/sh', '/usr/bin/id'], true]);
    assert.deepEqual(run(['--exec-allow=']).execAllow, []);
    const r = parse(['--exec-allow=uname']);
    assert.equal(r.kind === 'exit' && r.code, 1);
    assert.equal(r.kind === 'exit' ? r.stderr : '', `${ARGV0}: option '--exec-allow': exec-allow entries must be absolute paths, not 'uname'\n`);
    assert.equal(parse(['--exec-a']).kind, 'exit');
  });

  it('takes --exclude-interfaces patterns and refuses an unsupported one in words', () => {
    assert.deepEqual(run(['--exclude-interfaces=veth*,docker*', '--exclude-interfaces', 'br-*']).excludeInterfaces, ['veth*', 'docker*', 'br-*']);
    assert.deepEqual(parse(['--exclude-interfaces=eth[[.0.]]']), {
      kind: 'exit',
      code: 1,
      stdout: '',
      stderr: "qemu-ga: option '--exclude-interfaces': pattern 'eth[[.0.]]': '[.' (a POSIX class or collating element) is not supported in a pattern\n",
    });
  });

  it('takes --max-clients from 1 to 16 and refuses anything else in words', () => {
    assert.equal(run([]).maxClients, 1);
    assert.equal(run(['--max-clients=4']).maxClients, 4);
    assert.equal(run(['--max-clients', '16']).maxClients, 16);
    for (const bad of ['0', '17', 'four', '-1', '2.5', '', '1e1']) {
      assert.deepEqual(parse([`--max-clients=${bad}`]), {
        kind: 'exit',
        code: 1,
        stdout: '',
        stderr: `qemu-ga: option '--max-clients' needs a number of connections from 1 to 16, not '${bad}'\n`,
      });
    }
    // Exact-only, like our other long options: no abbreviation of it is taken.
    assert.equal(parse(['--max-c=2']).kind, 'exit');
  });

  it('stores each list string reversed and accumulates them in order', () => {
    const c = run(['-b', 'a,b,c', '-b', 'd', '-a', 'x,y', '-b', '', '-a', '']);
    assert.deepEqual(c.blockRpcs, ['c', 'b', 'a', 'd']);
    assert.deepEqual(c.allowRpcs, ['y', 'x']);
    assert.deepEqual(run(['-b', 'a,', '-b', ',b']).blockRpcs, ['', 'a', 'b', '']);
  });

  describe('with a config file', () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'qga-opts-'));
    const conf = (name: string, text: string): string => {
      const p = path.join(dir, name);
      fs.writeFileSync(p, text);
      return p;
    };

    it('reads QGA_CONF, lets the command line override scalars and appends lists after the config', () => {
      const p = conf('a.conf', '[general]\nmethod=isa-serial\npath=/conf\nverbose=false\nblock-rpcs=a,b\nallow-rpcs=z\n');
      const c = run(['-p', '/cli', '-v', '-b', 'c'], { QGA_CONF: p });
      assert.equal(c.method, 'isa-serial');
      assert.equal(c.channelPath, '/cli');
      assert.equal(c.verbose, true, 'verbose=false does not cancel -v');
      assert.deepEqual(c.blockRpcs, ['b', 'a', 'c']);
      assert.deepEqual(c.allowRpcs, ['z']);
    });

    it('-c overrides QGA_CONF and must exist', () => {
      const p = conf('b.conf', '[general]\nstatedir=/from-c\n');
      assert.equal(run(['-c', p], { QGA_CONF: '/nonexistent' }).stateDir, '/from-c');
      assert.equal(run(['--config', p, '-t', '/cli']).stateDir, '/cli');
      const missing = path.join(dir, 'missing.conf');
      assert.deepEqual(parse(['-c', missing, '-h']), {
        kind: 'exit',
        code: 1,
        stdout: '',
        stderr: `\n** (process:4242): CRITICAL **: ${hms0()}: error loading configuration from path: ${missing}, No such file or directory\n`,
      });
    });

    it('silently ignores a missing QGA_CONF file (and an empty QGA_CONF)', () => {
      assert.equal(parse([], { QGA_CONF: path.join(dir, 'nope.conf') }).kind, 'run');
      assert.equal(parse([], { QGA_CONF: '' }).kind, 'run');
    });

    it('prints pass-1 diagnostics before a fatal config error', () => {
      const p = conf('bad.conf', '[general]\ndaemon=yes\n');
      const r = parse(['-x'], { QGA_CONF: p });
      assert.equal(r.kind === 'exit' && r.code, 1);
      assert.equal(r.kind === 'exit' && r.stderr,
        "qemu-ga: invalid option -- 'x'\n" +
        `\n** (process:4242): CRITICAL **: ${hms0()}: error loading configuration from path: ${p}, ` +
        'Key file contains key ?daemon? which has a value that cannot be interpreted.\n');
    });
  });
});

/** GLib's HH:MM:SS.mmm for the test clock (epoch 0) in the local time zone. */
function hms0(): string {
  const d = new Date(0);
  const two = (n: number) => String(n).padStart(2, '0');
  return `${two(d.getHours())}:${two(d.getMinutes())}:${two(d.getSeconds())}.000`;
}
