// qemu-ga's log format, GLib's default format before the handler, the audit channel, pause/resume.
import { strict as assert } from 'node:assert';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { describe, it } from 'node:test';
import { hostRealtimeNs } from '../support/realtime.ts';
import { AgentLogger, formatGLibMessage, formatLogLine, gatedSyslog, LogFileError, nowMicros, PATH_LOG, type LoggerOptions } from '../../src/agent/log.ts';

const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'qga-log-'));
let n = 0;

/** A logger whose "stderr" is a temp file, with a fixed clock and a recording syslog. */
function setup(opts: Partial<LoggerOptions> = {}) {
  const errPath = path.join(dir, `stderr${n++}`);
  const errFd = fs.openSync(errPath, 'w+');
  const audit: Array<[number, string]> = [];
  let micros = 1795593274716113n;
  const logger = new AgentLogger({
    pid: 4242,
    stderrFd: errFd,
    isatty: false,
    env: {},
    clock: () => micros,
    syslog: (p, l) => audit.push([p, l]),
    ...opts,
  });
  return {
    logger,
    audit,
    stderr: () => fs.readFileSync(errPath, 'utf8'),
    tick: (us: bigint) => (micros += us),
  };
}

function hms(micros: bigint): string {
  const d = new Date(Number(micros / 1000n));
  const two = (x: number) => String(x).padStart(2, '0');
  return `${two(d.getHours())}:${two(d.getMinutes())}:${two(d.getSeconds())}.${String(d.getMilliseconds()).padStart(3, '0')}`;
}

describe('formatLogLine', () => {
  it('writes <seconds>.<6-digit microseconds>: <level>: <message>', () => {
    assert.equal(
      formatLogLine('critical', 'unsupported channel method/type: foo', 1795593274716113n),
      '1795593274.716113: critical: unsupported channel method/type: foo\n',
    );
    assert.equal(formatLogLine('debug', 'x', 1000000000000005n), '1000000000.000005: debug: x\n');
  });
});

describe('nowMicros', () => {
  it('stays within the wall clock\'s current millisecond', () => {
    for (let i = 0; i < 1000; i++) {
      const before = BigInt(Date.now()) * 1000n;
      const t = nowMicros();
      const after = (BigInt(Date.now()) + 1n) * 1000n;
      assert.ok(before <= t && t < after, `${before} <= ${t} < ${after}`);
    }
  });

  it('is one CLOCK_REALTIME read: between two host reads around it, in microseconds', () => {
    let wholeMs = 0;
    for (let i = 0; i < 1000; i++) {
      const before = hostRealtimeNs() / 1000n;
      const t = nowMicros();
      const after = hostRealtimeNs() / 1000n;
      assert.ok(before <= t && t <= after, `${before} <= ${t} <= ${after}`);
      if (t % 1000n === 0n) wholeMs++;
    }
    assert.ok(wholeMs < 100, `${wholeMs} of 1000 readings were whole milliseconds`);
  });
});

describe('formatGLibMessage', () => {
  const t = 1795593274716113n;
  it('matches GLib default handler output for qemu-ga messages', () => {
    assert.equal(
      formatGLibMessage('critical', 'must specify a path for this channel', { pid: 7, micros: t, color: false, utf8: false }),
      `\n** (process:7): CRITICAL **: ${hms(t)}: must specify a path for this channel\n`,
    );
    assert.equal(
      formatGLibMessage('warning', 'w', { pid: 7, micros: t, color: false, utf8: false }),
      `\n** (process:7): WARNING **: ${hms(t)}: w\n`,
    );
  });

  it('puts a domain before the level and drops the leading **', () => {
    assert.equal(
      formatGLibMessage('warning', 'GError set', { pid: 7, micros: t, color: false, utf8: false, domain: 'GLib' }),
      `\n(process:7): GLib-WARNING **: ${hms(t)}: GError set\n`,
    );
  });

  it('colours the level and time on a terminal', () => {
    assert.equal(
      formatGLibMessage('critical', 'm', { pid: 7, micros: t, color: true, utf8: false }),
      `\n** (process:7): \x1b[1;35mCRITICAL\x1b[0m **: \x1b[34m${hms(t)}\x1b[0m: m\n`,
    );
  });

  it('escapes control characters and turns non-ASCII into ? outside UTF-8 consoles', () => {
    const o = { pid: 7, micros: t, color: false, utf8: false };
    assert.match(formatGLibMessage('critical', 'key \u201cdaemon\u201d gen\x01 a\r\nb\rc\td', o), /: key \?daemon\? gen\\u0001 a\r\nb\\u000dc\td\n$/);
    assert.match(formatGLibMessage('critical', 'key \u201cdaemon\u201d', { ...o, utf8: true }), /: key \u201cdaemon\u201d\n$/);
  });
});

describe('AgentLogger', () => {
  it('uses GLib format before install() and drops info/debug there', () => {
    const s = setup();
    s.logger.warning('previous instance appears to have exited with frozen filesystems.');
    s.logger.debug('not shown');
    s.logger.info('not shown');
    s.logger.audit('not shown either');
    assert.equal(
      s.stderr(),
      `\n** (process:4242): WARNING **: ${hms(1795593274716113n)}: previous instance appears to have exited with frozen filesystems.\n`,
    );
    assert.deepEqual(s.audit, []);
  });

  it('writes only error and critical by default, everything with verbose', () => {
    const s = setup();
    s.logger.install({ verbose: false });
    for (const l of ['error', 'critical', 'warning', 'message', 'info', 'debug'] as const) s.logger[l](`a ${l}`);
    assert.equal(s.stderr(), '1795593274.716113: error: a error\n1795593274.716113: critical: a critical\n');

    const v = setup();
    v.logger.install({ verbose: true });
    for (const l of ['error', 'critical', 'warning', 'message', 'info', 'debug'] as const) {
      v.logger[l](`a ${l}`);
      v.tick(1n);
    }
    assert.equal(
      v.stderr(),
      '1795593274.716113: error: a error\n1795593274.716114: critical: a critical\n1795593274.716115: warning: a warning\n' +
        '1795593274.716116: message: a message\n1795593274.716117: info: a info\n1795593274.716118: debug: a debug\n',
    );
  });

  it('sends audit lines to syslog only, whatever verbose says, with the level as priority', () => {
    const s = setup();
    s.logger.install({ verbose: false });
    s.logger.audit('guest-ping called');
    s.logger.audit('guest-exec called: "/bin/true"', 'warning');
    assert.deepEqual(s.audit, [
      [6, 'info: guest-ping called'],
      [4, 'warning: guest-exec called: "/bin/true"'],
    ]);
    assert.equal(s.stderr(), '');
  });

  it('appends to a log file', () => {
    const s = setup();
    const file = path.join(dir, 'qga.log');
    fs.writeFileSync(file, 'old line\n');
    s.logger.install({ verbose: true });
    s.logger.openFile(file);
    s.logger.debug('new line');
    s.logger.close();
    assert.equal(fs.readFileSync(file, 'utf8'), 'old line\n1795593274.716113: debug: new line\n');
    assert.equal(s.stderr(), '');
  });

  it('record() (exec audit) writes to the log file whatever -v says, never to stderr, not while paused', () => {
    const s = setup();
    const file = path.join(dir, 'qga-record.log');
    s.logger.install({ verbose: false });
    s.logger.record('before any log file');
    s.logger.openFile(file);
    s.logger.info('dropped without -v');
    s.logger.record('guest-exec: pid 1 started: ["/bin/true"]');
    s.logger.pause();
    s.logger.record('while frozen');
    s.logger.resume();
    s.logger.close();
    assert.equal(fs.readFileSync(file, 'utf8'), '1795593274.716113: message: guest-exec: pid 1 started: ["/bin/true"]\n');
    assert.equal(s.stderr(), '');
  });

  it('fails to open a log file with qemu-ga\'s text', () => {
    const s = setup();
    assert.throws(() => s.logger.openFile(path.join(dir, 'no/such/dir/log')), (e: unknown) => {
      assert.ok(e instanceof LogFileError);
      assert.equal(e.message, 'unable to open specified log file: No such file or directory');
      return true;
    });
  });

  it('writes nothing at all while paused, and resumes', () => {
    const s = setup();
    s.logger.install({ verbose: true });
    s.logger.pause();
    assert.equal(s.logger.paused, true);
    s.logger.critical('while frozen');
    s.logger.audit('while frozen');
    s.logger.glib('warning', 'while frozen');
    s.logger.resume();
    s.logger.warning('logging re-enabled due to filesystem unfreeze');
    assert.equal(s.stderr(), '1795593274.716113: warning: logging re-enabled due to filesystem unfreeze\n');
    assert.deepEqual(s.audit, []);
  });

  it('opens a deferred log file on resume, or falls back to stderr', () => {
    const s = setup();
    const file = path.join(dir, 'deferred.log');
    s.logger.install({ verbose: true });
    s.logger.deferFile(file);
    s.logger.pause();
    s.logger.debug('dropped');
    assert.equal(fs.existsSync(file), false, 'not opened while frozen');
    s.logger.resume();
    s.logger.debug('after thaw');
    s.logger.close();
    assert.equal(fs.readFileSync(file, 'utf8'), '1795593274.716113: debug: after thaw\n');

    const f = setup();
    f.logger.install({ verbose: true });
    f.logger.deferFile(path.join(dir, 'no/such/dir/log'));
    f.logger.pause();
    f.logger.resume();
    f.logger.debug('to stderr');
    assert.equal(f.stderr(), '1795593274.716113: debug: to stderr\n');
  });

  it('reaches the real syslog through libc without throwing', () => {
    // Without /dev/log glibc drops the line silently; this only proves the FFI path works.
    const logger = new AgentLogger({ stderrFd: fs.openSync('/dev/null', 'w') });
    logger.install({ verbose: false });
    logger.audit('qga-ts unit test audit line');
  });
});

describe('gatedSyslog: the syslog(3) calls that cannot deliver are skipped', () => {
  function gate(present: () => unknown) {
    const calls: string[] = [];
    const deferred: Array<() => void> = [];
    const sink = gatedSyslog({
      stat: (p) => {
        calls.push(`stat ${p}`);
        return present();
      },
      openlog: () => calls.push('openlog'),
      syslog: (pri, line) => calls.push(`syslog ${pri} ${line}`),
      defer: (fn) => deferred.push(fn),
    });
    const endRun = () => deferred.splice(0).forEach((fn) => fn());
    return { calls, sink, endRun };
  }

  it('without /dev/log: one stat per synchronous run, no libc call', () => {
    const g = gate(() => undefined);
    g.sink(6, 'info: a');
    g.sink(6, 'info: b');
    g.sink(6, 'info: c');
    assert.deepEqual(g.calls, [`stat ${PATH_LOG}`]);
    g.endRun();
    g.sink(6, 'info: d');
    assert.deepEqual(g.calls, [`stat ${PATH_LOG}`, `stat ${PATH_LOG}`]);
  });

  it('with /dev/log: openlog once, then every line goes to syslog', () => {
    const g = gate(() => ({}));
    g.sink(6, 'info: a');
    g.sink(4, 'warning: b');
    assert.deepEqual(g.calls, [`stat ${PATH_LOG}`, 'openlog', 'syslog 6 info: a', 'syslog 4 warning: b']);
  });

  it('once a real call was made, a vanished /dev/log is no reason to skip (glibc may be connected)', () => {
    let there = true;
    const g = gate(() => (there ? {} : undefined));
    g.sink(6, 'info: a');
    there = false;
    g.endRun();
    g.sink(6, 'info: b');
    assert.deepEqual(g.calls, [`stat ${PATH_LOG}`, 'openlog', 'syslog 6 info: a', 'syslog 6 info: b']);
  });

  it('a /dev/log that appears is used from the next run on', () => {
    let there = false;
    const g = gate(() => (there ? {} : undefined));
    g.sink(6, 'info: a');
    there = true;
    g.sink(6, 'info: b'); // same run: dropped as if logged at the stat
    g.endRun();
    g.sink(6, 'info: c');
    assert.deepEqual(g.calls, [`stat ${PATH_LOG}`, `stat ${PATH_LOG}`, 'openlog', 'syslog 6 info: c']);
  });

  it('a stat that fails otherwise (ENOTDIR, EACCES) leaves the decision to libc', () => {
    const g = gate(() => {
      throw Object.assign(new Error('EACCES'), { code: 'EACCES' });
    });
    g.sink(6, 'info: a');
    assert.deepEqual(g.calls, [`stat ${PATH_LOG}`, 'openlog', 'syslog 6 info: a']);
  });
});
