// The GLib key-file config, its error texts, the channel defaults and the byte-exact -D dump.
// Expected texts were checked against Debian's qemu-ga 7.2 (same GLib), plus 10.2's allow-rpcs line.
import { strict as assert } from 'node:assert';
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { describe, it } from 'node:test';
import { applyDefaults, dumpConfig, loadConfigFile, newConfigDraft, resolveChannel, type AgentConfig } from '../../src/agent/config.ts';
import { escapeKeyFileString, KeyFile, KeyFileError, parseBoolean, parseInteger } from '../../src/keyfile/keyfile.ts';
import { parseCommandLine } from '../../src/agent/options.ts';

const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'qga-config-'));
let n = 0;
function conf(text: string | Buffer): string {
  const p = path.join(dir, `c${n++}.conf`);
  fs.writeFileSync(p, text);
  return p;
}

function load(text: string | Buffer, required = false) {
  const draft = newConfigDraft();
  const r = loadConfigFile(draft, conf(text), required);
  return { ...r, draft };
}

/** The error text after `error loading configuration from path: <p>, `. */
function loadError(text: string | Buffer): string {
  const r = load(text);
  assert.equal(r.ok, false);
  const last = r.messages[r.messages.length - 1];
  assert.equal(last.level, 'critical');
  return last.text.replace(/^error loading configuration from path: [^,]*, /, '');
}

/** -D output for a command line, through the same steps main() takes. */
function dump(args: string[], env: NodeJS.ProcessEnv = { QGA_CONF: '/nonexistent' }): string {
  const r = parseCommandLine(args, { argv0: 'qemu-ga', env, commandNames: [] });
  if (r.kind !== 'run') throw new Error(JSON.stringify(r));
  const c = resolveChannel(r.config, null);
  if (!c.ok) throw new Error(c.critical);
  return dumpConfig(c.config);
}

const DEFAULT_DUMP =
  '[general]\ndaemon=false\nmethod=virtio-serial\npath=/dev/virtio-ports/org.qemu.guest_agent.0\n' +
  'pidfile=/var/run/qemu-ga.pid\nstatedir=/var/run\nverbose=false\nretry-path=false\nblock-rpcs=\nallow-rpcs=\n';

describe('key file parsing (GLib rules)', () => {
  it('handles comments, blank lines, whitespace, CRLF, repeated groups and the last duplicate key', () => {
    const kf = KeyFile.parse('  # c\n\n[x]\nmethod=foo\n[general]  \t\n  daemon = 1  \r\n[x]\n[general]\nmethod=a\nmethod=b\nstatedir=s\r');
    assert.equal(kf.getString('general', 'method').value, 'b');
    assert.equal(kf.getBoolean('general', 'daemon').value, true);
    assert.equal(kf.getString('x', 'method').value, 'foo');
    // CR is only dropped before LF: the last line keeps it.
    assert.equal(kf.getString('general', 'statedir').value, 's\r');
    assert.equal(kf.hasKey('general', 'path'), false);
  });

  it('decodes the string escapes and keeps trailing spaces', () => {
    const kf = KeyFile.parse('[g]\nk=\\s a b \\t\\n\\r\\\\ x \n');
    assert.equal(kf.getString('g', 'k').value, '  a b \t\n\r\\ x ');
  });

  it('reports GLib parse errors', () => {
    const perr = (t: string): string => {
      try {
        KeyFile.parse(t);
      } catch (e) {
        return (e as Error).message;
      }
      return '';
    };
    assert.throws(() => KeyFile.parse('[general\n'), KeyFileError);
    assert.equal(perr('[general\n'), 'Key file contains line \u201c[general\u201d which is not a key-value pair, group, or comment');
    assert.equal(perr('  x\n'), 'Key file contains line \u201c  x\u201d which is not a key-value pair, group, or comment');
    assert.equal(perr('=v\n'), 'Key file contains line \u201c=v\u201d which is not a key-value pair, group, or comment');
    assert.equal(perr('[general]\r'), 'Key file contains line \u201c[general]\r\u201d which is not a key-value pair, group, or comment');
    assert.equal(perr('daemon=1\n'), 'Key file does not start with a group');
    assert.equal(perr('[general]\n[]\n'), 'Invalid group name: ');
    assert.equal(perr('[gen\x01]\n'), 'Invalid group name: gen\x01');
    assert.equal(perr('[general]\n[a=b]x\n'), 'Invalid key name: [a');
    assert.equal(perr('[general]\nEncoding=latin1\n'), 'Key file contains unsupported encoding \u201clatin1\u201d');
    assert.equal(perr('[general]\nEncoding=utf-8\nkey[de]=x\nke y = v\n\u00e9=\n'), '');
  });

  it('cuts a line at a NUL byte, as the C string it is', () => {
    assert.equal(KeyFile.parse(Buffer.from('[g]\nm=x\0y\np=/p\n')).getString('g', 'm').value, 'x');
  });

  it('parses booleans the GLib way', () => {
    for (const v of ['true', '1', 'true \t', '1 ']) assert.equal(parseBoolean(v), true, v);
    for (const v of ['false', '0', 'false  ']) assert.equal(parseBoolean(v), false, v);
    for (const v of ['yes', 'tru', 'True', '', '0x', '1x', 'true x', 'on']) assert.equal(parseBoolean(v), undefined, v);
  });

  it('parses integers like strtol into a C int', () => {
    assert.equal(parseInteger('1000'), 1000);
    assert.equal(parseInteger('+5'), 5);
    assert.equal(parseInteger('-7'), -7);
    assert.equal(parseInteger('12 junk'), 12);
    assert.equal(parseInteger(' '), 0);
    assert.equal(parseInteger('2147483647'), 2147483647);
    for (const v of ['', 'abc', '12abc', '-', '2147483648', '99999999999999999999']) assert.equal(parseInteger(v), undefined, v);
  });

  it('loads files with GLib I/O messages', () => {
    assert.throws(() => KeyFile.load(dir), { message: 'Not a regular file' });
    assert.throws(() => KeyFile.load(path.join(dir, 'none')), { message: 'No such file or directory', code: 'ENOENT' });
  });

  it('escapes strings like g_key_file_set_string', () => {
    assert.equal(escapeKeyFileString('  a b \t\n\r\\ x '), '\\s\\sa b \t\\n\\r\\\\ x ');
    assert.equal(escapeKeyFileString('\t \\ '), '\\t\\s\\\\ ');
    assert.equal(escapeKeyFileString('/plain/path'), '/plain/path');
  });
});

describe('loadConfigFile', () => {
  it('reads every key of [general] and ignores other groups and blacklist', () => {
    const { ok, messages, draft } = load(
      '[other]\nmethod=nope\n[general]\ndaemon=true\nmethod=unix-listen\npath=/tmp/x\nlogfile=/tmp/l\npidfile=/p\n' +
        'fsfreeze-hook=/h\nstatedir=/s\nverbose=1\nretry-path=1\nblock-rpcs=guest-ping;guest-get-time\nallow-rpcs=a,b\n' +
        'blacklist=z\nfsfreeze-timeout=20\nexec-allow=/bin/sh,/usr/bin/uname\nexec-audit=true\nmax-clients=3\n',
    );
    assert.ok(ok);
    assert.deepEqual(messages, []);
    assert.deepEqual(draft, {
      daemonize: true, method: 'unix-listen', channelPath: '/tmp/x', logFile: '/tmp/l', pidFile: '/p', fsfreezeHook: '/h',
      stateDir: '/s', verbose: true, retryPath: true, blockRpcs: ['guest-ping;guest-get-time'], allowRpcs: ['b', 'a'],
      dumpConf: false, fsfreezeTimeout: 20, execAllow: ['/bin/sh', '/usr/bin/uname'], execAudit: true, excludeInterfaces: [],
      maxClients: 3,
    });
  });

  it('verbose=false and daemon=0 leave the defaults alone; an empty file is fine', () => {
    assert.equal(load('[general]\nverbose=false\n').draft.verbose, false);
    assert.equal(load('').ok, true);
    assert.equal(load('# nothing\n').ok, true);
  });

  it('a missing file is an error only when required', () => {
    const missing = path.join(dir, 'missing');
    assert.deepEqual(loadConfigFile(newConfigDraft(), missing, false), { ok: true, messages: [] });
    assert.deepEqual(loadConfigFile(newConfigDraft(), missing, true), {
      ok: false,
      messages: [{ level: 'critical', text: `error loading configuration from path: ${missing}, No such file or directory` }],
    });
    // Any other failure is fatal even for the default path.
    assert.equal(loadConfigFile(newConfigDraft(), dir, false).ok, false);
  });

  it('reports bad values with GLib texts', () => {
    const cannot = (k: string) => `Key file contains key \u201c${k}\u201d which has a value that cannot be interpreted.`;
    assert.equal(loadError('[general]\ndaemon=yes\n'), cannot('daemon'));
    assert.equal(loadError('[general]\ndaemon=\n'), cannot('daemon'));
    assert.equal(loadError('[general]\nmethod=a\\qb\n'), cannot('method'));
    assert.equal(loadError('[general]\nmethod=a\\\n'), cannot('method'));
    assert.equal(loadError('[general]\nretry-path=2\n'), cannot('retry-path'));
    assert.equal(
      loadError(Buffer.from('[general]\nmethod=\xff\n', 'latin1')),
      'Key file contains key \u201cmethod\u201d with value \u201c\ufffd\u201d which is not UTF-8',
    );
    assert.equal(loadError('[general\n'), 'Key file contains line \u201c[general\u201d which is not a key-value pair, group, or comment');
  });

  it('reports the first bad key, with a GLib warning for each later one', () => {
    const r = load('[general]\ndaemon=yes\nverbose=maybe\n');
    assert.equal(r.ok, false);
    assert.equal(r.messages.length, 2);
    assert.deepEqual(r.messages[0], {
      level: 'warning',
      domain: 'GLib',
      text:
        'GError set over the top of a previous GError or uninitialized memory.\n' +
        "This indicates a bug in someone's code. You must ensure an error is NULL before it's set.\n" +
        'The overwriting error message was: Key file contains key \u201cverbose\u201d which has a value that cannot be interpreted.',
    });
    assert.match(r.messages[1].text, /Key file contains key “daemon” which has/);
  });

  it('validates our exec-allow and exec-audit keys', () => {
    assert.match(loadError('[general]\nexec-allow=sh\n'), /exec-allow entries must be absolute paths, not 'sh'/);
    assert.match(loadError('[general]\nexec-audit=maybe\n'), /exec-audit/);
    assert.deepEqual(load('[general]\nexec-allow=\n').draft.execAllow, []);
  });

  it('validates our fsfreeze-timeout key', () => {
    assert.match(loadError('[general]\nfsfreeze-timeout=-1\n'), /fsfreeze-timeout/);
    assert.match(loadError('[general]\nfsfreeze-timeout=soon\n'), /fsfreeze-timeout/);
  });

  it('reads our exclude-interfaces key: patterns in order, empty items dropped, unsupported ones refused in words', () => {
    assert.deepEqual(load('[general]\nexclude-interfaces=veth*,,docker*,br-*\n').draft.excludeInterfaces, ['veth*', 'docker*', 'br-*']);
    assert.equal(
      loadError('[general]\nexclude-interfaces=veth*,[[:digit:]]\n'),
      "exclude-interfaces: pattern '[[:digit:]]': " +
        "'[:' (a POSIX class or collating element) is not supported in a pattern",
    );
  });
  it('reads our max-clients key and refuses a bad one in words', () => {
    assert.equal(load('[general]\nmax-clients=8\n').draft.maxClients, 8);
    assert.equal(load('[general]\n').draft.maxClients, 1);
    assert.equal(loadError('[general]\nmax-clients=0\n'), "max-clients: needs a number of connections from 1 to 16, not '0'");
    assert.equal(loadError('[general]\nmax-clients=many\n'), "max-clients: needs a number of connections from 1 to 16, not 'many'");
  });
});

describe('resolveChannel', () => {
  const base = (over: Partial<AgentConfig>): AgentConfig => ({ ...applyDefaults(newConfigDraft()), ...over });

  it('fills in the serial defaults and refuses a listener without a path', () => {
    assert.deepEqual(resolveChannel(base({}), null), { ok: true, config: base({ channelPath: '/dev/virtio-ports/org.qemu.guest_agent.0' }) });
    assert.equal(resolveChannel(base({ method: 'isa-serial' }), null).ok && 'ok', 'ok');
    for (const method of ['unix-listen', 'vsock-listen', 'no-such-method']) {
      assert.deepEqual(resolveChannel(base({ method }), null), { ok: false, critical: 'must specify a path for this channel' });
    }
  });

  it('refuses max-clients above 1 on a serial channel, which is a single stream, and takes it on a listener', () => {
    for (const method of ['virtio-serial', 'isa-serial']) {
      assert.deepEqual(resolveChannel(base({ method, maxClients: 4 }), null), {
        ok: false,
        critical: `max-clients=4 needs a listening channel (unix-listen or vsock-listen); ${method} is a single stream`,
      });
      assert.equal(resolveChannel(base({ method, maxClients: 1 }), null).ok, true);
    }
    for (const method of ['unix-listen', 'vsock-listen']) {
      assert.equal(resolveChannel(base({ method, channelPath: '/x', maxClients: 16 }), null).ok, true);
    }
    // Socket activation makes it unix-listen whatever the method said.
    assert.equal(resolveChannel(base({ method: 'virtio-serial', maxClients: 4 }), 'unix-listen').ok, true);
  });

  it('lets socket activation force the method and clear the path', () => {
    const r = resolveChannel(base({ method: 'isa-serial', channelPath: '/x' }), 'vsock-listen');
    assert.deepEqual(r, { ok: true, config: base({ method: 'vsock-listen', channelPath: null }) });
  });
});

describe('-D dump', () => {
  it('is byte-identical to qemu-ga 10.2 with no config and no options', () => {
    assert.equal(dump(['-D']), DEFAULT_DUMP);
  });

  it('shows lists in stored order and the optional keys only when set', () => {
    assert.equal(
      dump(['-D', '-vd', 'stray', '-b', 'a,b,c', '-b', 'd', '-F', '-l', '/log', '-a', 'p,q']),
      '[general]\ndaemon=true\nmethod=virtio-serial\npath=/dev/virtio-ports/org.qemu.guest_agent.0\nlogfile=/log\n' +
        'pidfile=/var/run/qemu-ga.pid\nfsfreeze-hook=/etc/qemu/fsfreeze-hook\nstatedir=/var/run\nverbose=true\n' +
        'retry-path=false\nblock-rpcs=c,b,a,d\nallow-rpcs=q,p\n',
    );
    assert.equal(dump(['-D', '-m', 'isa-serial', '-r', '-b', ',']),
      '[general]\ndaemon=false\nmethod=isa-serial\npath=/dev/ttyS0\npidfile=/var/run/qemu-ga.pid\nstatedir=/var/run\n' +
        'verbose=false\nretry-path=true\nblock-rpcs=,\nallow-rpcs=\n');
  });

  it('\\v is not whitespace to GLib (g_ascii_isspace): a key after it is another key; a value keeps it (as qemu-ga 7.2 -D)', () => {
    const p = conf('[general]\n\vverbose=true\n\vretry-path=true\npidfile=\v/x\n');
    assert.equal(
      dump(['-D'], { QGA_CONF: p }),
      '[general]\ndaemon=false\nmethod=virtio-serial\npath=/dev/virtio-ports/org.qemu.guest_agent.0\npidfile=\v/x\n' +
        'statedir=/var/run\nverbose=false\nretry-path=false\nblock-rpcs=\nallow-rpcs=\n',
    );
  });

  it('escapes values on the way out', () => {
    const p = conf('[general]\npath=\\s a b \\t\\n\\r\\\\ x \nblock-rpcs=a,b\n');
    assert.equal(
      dump(['-D', '-b', 'c'], { QGA_CONF: p }),
      '[general]\ndaemon=false\nmethod=virtio-serial\npath=\\s\\sa b \t\\n\\r\\\\ x \npidfile=/var/run/qemu-ga.pid\n' +
        'statedir=/var/run\nverbose=false\nretry-path=false\nblock-rpcs=b,a,c\nallow-rpcs=\n',
    );
  });

  it('matches the shipped test-qga-config expectations (docs/compatibility.md §Upstream tests /qga/config)', () => {
    const p = conf('[general]\ndaemon=false\nmethod=virtio-serial\npath=/path/to/org.qemu.guest_agent.0\n' +
      'pidfile=/var/foo/qemu-ga.pid\nstatedir=/var/state\nverbose=true\nblock-rpcs=guest-ping;guest-get-time\n');
    assert.equal(
      dump(['-D'], { QGA_CONF: p }),
      '[general]\ndaemon=false\nmethod=virtio-serial\npath=/path/to/org.qemu.guest_agent.0\npidfile=/var/foo/qemu-ga.pid\n' +
        'statedir=/var/state\nverbose=true\nretry-path=false\nblock-rpcs=guest-ping;guest-get-time\nallow-rpcs=\n',
    );
  });

  it('adds exec-allow and exec-audit only when set', () => {
    assert.equal(dump(['-D', '--exec-allow=/bin/sh,/usr/bin/id', '--exec-audit']), DEFAULT_DUMP + 'exec-allow=/bin/sh,/usr/bin/id\nexec-audit=true\n');
  });

  it('adds fsfreeze-timeout only when it is set', () => {
    assert.equal(dump(['-D', '--fsfreeze-timeout', '0']), DEFAULT_DUMP);
    assert.equal(dump(['-D', '--fsfreeze-timeout', '15']), DEFAULT_DUMP + 'fsfreeze-timeout=15\n');
  });

  it('adds exclude-interfaces only when set: the config file\'s patterns, then each option\'s', () => {
    assert.equal(dump(['-D', '--exclude-interfaces=']), DEFAULT_DUMP);
    const p = conf('[general]\nexclude-interfaces=veth*\n');
    assert.equal(dump(['-D', '--exclude-interfaces=docker*,br-*', '--exclude-interfaces', 'tap?'], { QGA_CONF: p }),
      DEFAULT_DUMP + 'exclude-interfaces=veth*,docker*,br-*,tap?\n');
  });

  it('adds max-clients only when it is not 1', () => {
    assert.equal(dump(['-D', '-m', 'unix-listen', '-p', '/s', '--max-clients=1']), dump(['-D', '-m', 'unix-listen', '-p', '/s']));
    assert.equal(dump(['-D', '-m', 'unix-listen', '-p', '/s', '--max-clients=3']), dump(['-D', '-m', 'unix-listen', '-p', '/s']) + 'max-clients=3\n');
  });

  const QEMU_GA = '/usr/sbin/qemu-ga';
  it('equals the installed qemu-ga 7.2 apart from 10.2\'s allow-rpcs line', { skip: !fs.existsSync(QEMU_GA) && 'no /usr/sbin/qemu-ga' }, () => {
    const p = conf('[general]\ndaemon=1\nmethod=unix-listen\npath=\\s/odd path\\t\nlogfile=/l\npidfile=/p\nfsfreeze-hook=/h\n' +
      'statedir=/s\nverbose=true\nretry-path=true\nblock-rpcs=x,y\n');
    const cases: Array<[NodeJS.ProcessEnv, string[]]> = [
      [{}, ['-D']],
      [{}, ['-D', '-vd', 'stray', '-b', 'a,b,c', '-b', 'd', '-F']],
      [{}, ['-DFv', '-m', 'isa-serial', '-r', '--fsf=/x', '-b', 'a,', '-b', ',b']],
      [{ QGA_CONF: p }, ['-D', '-b', 'z', '-p', '/cli']],
      [{ QGA_CONF: p }, ['-D', '-t', '/t', '-l', 'rel', '-f', '']],
    ];
    for (const [env, args] of cases) {
      const ref = spawnSync(QEMU_GA, args, { env: { QGA_CONF: '/nonexistent', ...env }, encoding: 'utf8' });
      assert.equal(ref.status, 0, ref.stderr);
      assert.equal(dump(args, { QGA_CONF: '/nonexistent', ...env }).replace(/^allow-rpcs=.*\n/m, ''), ref.stdout, args.join(' '));
    }
  });
});
