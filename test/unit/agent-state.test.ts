// The state directory: qga.state's counter rules and atomic rewrite, the isfrozen marker.
import { strict as assert } from 'node:assert';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { describe, it } from 'node:test';
import { QgaError } from '../../src/protocol/errors.ts';
import {
  checkFrozenAtStart, clearFrozenMarker, PersistentState, setFrozenMarker, StateInitError, statePaths, writeFileAtomic,
} from '../../src/agent/state.ts';

const root = fs.mkdtempSync(path.join(os.tmpdir(), 'qga-state-'));
let n = 0;
const newDir = (): string => {
  const d = path.join(root, `d${n++}`);
  fs.mkdirSync(d);
  return d;
};

function recorder() {
  const lines: string[] = [];
  return {
    lines,
    critical: (m: string) => lines.push(`critical: ${m}`),
    warning: (m: string) => lines.push(`warning: ${m}`),
  };
}

describe('statePaths', () => {
  it('concatenates like g_strdup_printf', () => {
    assert.deepEqual(statePaths('/var/run/'), {
      stateDir: '/var/run/',
      stateFile: '/var/run//qga.state',
      frozenMarker: '/var/run//qga.state.isfrozen',
    });
  });
});

describe('PersistentState', () => {
  it('creates the file at once with exactly [global]\\nfd_counter=1000\\n', () => {
    const p = statePaths(newDir());
    const log = recorder();
    const s = PersistentState.open(p, { frozen: false, log });
    assert.equal(s.fdCounter, 1000n);
    assert.equal(fs.readFileSync(p.stateFile, 'utf8'), '[global]\nfd_counter=1000\n');
    assert.deepEqual(log.lines, []);
  });

  it('creates the file with mode 0666 & ~umask', () => {
    const p = statePaths(newDir());
    const old = process.umask(0o022);
    try {
      PersistentState.open(p, { frozen: false, log: recorder() });
    } finally {
      process.umask(old);
    }
    assert.equal(fs.statSync(p.stateFile).mode & 0o777, 0o644);
  });

  it('defers creation while frozen, until the first handle', () => {
    const p = statePaths(newDir());
    const s = PersistentState.open(p, { frozen: true, log: recorder() });
    assert.equal(fs.existsSync(p.stateFile), false);
    assert.equal(s.allocateHandle(), 1000n);
    assert.equal(fs.readFileSync(p.stateFile, 'utf8'), '[global]\nfd_counter=1001\n');
  });

  it('persists the advanced counter before returning each handle, atomically', () => {
    const d = newDir();
    const p = statePaths(d);
    const s = PersistentState.open(p, { frozen: false, log: recorder() });
    const before = fs.statSync(p.stateFile).ino;
    assert.equal(s.allocateHandle(), 1000n);
    assert.equal(fs.readFileSync(p.stateFile, 'utf8'), '[global]\nfd_counter=1001\n');
    // (Checked at once: a later temporary file may reuse the freed inode.)
    assert.notEqual(fs.statSync(p.stateFile).ino, before, 'replaced by rename, not rewritten in place');
    assert.equal(s.allocateHandle(), 1001n);
    assert.equal(fs.readFileSync(p.stateFile, 'utf8'), '[global]\nfd_counter=1002\n');
    assert.deepEqual(fs.readdirSync(d), ['qga.state'], 'no temporary file left behind');
    // A restart continues from the stored counter.
    assert.equal(PersistentState.open(p, { frozen: false, log: recorder() }).allocateHandle(), 1002n);
  });

  it('reads the counter with GLib rules: missing key 1000, unparsable 0', () => {
    const cases: Array<[string, bigint]> = [
      ['[global]\nfd_counter=1234\n', 1234n],
      ['[global]\nfd_counter= 77 \n', 77n],
      ['[global]\n', 1000n],
      ['[other]\nfd_counter=5\n', 1000n],
      ['', 1000n],
      ['[global]\nfd_counter=abc\n', 0n],
      ['[global]\nfd_counter=\n', 0n],
      ['[global]\nfd_counter=5000000000\n', 0n],
      ['[global]\nfd_counter=-3\n', -3n],
    ];
    for (const [text, expected] of cases) {
      const p = statePaths(newDir());
      fs.writeFileSync(p.stateFile, text);
      const s = PersistentState.open(p, { frozen: false, log: recorder() });
      assert.equal(s.fdCounter, expected, JSON.stringify(text));
      assert.equal(fs.readFileSync(p.stateFile, 'utf8'), text, 'an existing file is only read');
    }
  });

  it('stores the counter as a C int, like g_key_file_set_integer', () => {
    const p = statePaths(newDir());
    fs.writeFileSync(p.stateFile, '[global]\nfd_counter=2147483647\n');
    const s = PersistentState.open(p, { frozen: false, log: recorder() });
    assert.equal(s.allocateHandle(), 2147483647n);
    assert.equal(s.fdCounter, 2147483648n);
    assert.equal(fs.readFileSync(p.stateFile, 'utf8'), '[global]\nfd_counter=-2147483648\n');
  });

  it('fails startup on a missing state directory with qemu-ga\'s criticals', () => {
    const p = statePaths(path.join(root, 'missing'));
    const log = recorder();
    assert.throws(() => PersistentState.open(p, { frozen: false, log }), StateInitError);
    assert.equal(log.lines.length, 3);
    assert.match(
      log.lines[0],
      new RegExp(`^critical: failed to write persistent state to ${p.stateFile}: Failed to create file \u201c${p.stateFile}\\.[A-Za-z0-9]{6}\u201d: No such file or directory$`),
    );
    assert.deepEqual(log.lines.slice(1), [`critical: unable to create state file at path ${p.stateFile}`, 'critical: failed to load persistent state']);
  });

  it('fails startup on an unloadable state file', () => {
    const p = statePaths(newDir());
    fs.writeFileSync(p.stateFile, '[global\n');
    const log = recorder();
    assert.throws(() => PersistentState.open(p, { frozen: false, log }), StateInitError);
    assert.deepEqual(log.lines, [
      `critical: error loading persistent state from path: ${p.stateFile}, Key file contains line \u201c[global\u201d which is not a key-value pair, group, or comment`,
      'critical: failed to load persistent state',
    ]);
  });

  it('fails startup when the state file cannot be stat()ed', () => {
    const p = statePaths(path.join(root, 'not-a-dir'));
    fs.writeFileSync(p.stateDir, '');
    const log = recorder();
    assert.throws(() => PersistentState.open(p, { frozen: false, log }), StateInitError);
    assert.deepEqual(log.lines, [
      `critical: unable to access state file at path ${p.stateFile}: Not a directory`,
      'critical: failed to load persistent state',
    ]);
  });

  it('reports a failed commit as GenericError, keeping the counter advanced', () => {
    const d = newDir();
    const p = statePaths(d);
    const log = recorder();
    const s = PersistentState.open(p, { frozen: false, log });
    fs.rmSync(d, { recursive: true });
    assert.throws(
      () => s.allocateHandle(),
      (e: unknown) => e instanceof QgaError && e.errorClass === 'GenericError' && e.desc === 'failed to commit persistent state to disk',
    );
    assert.equal(s.fdCounter, 1001n);
    assert.match(log.lines[0], /^critical: failed to write persistent state to .*: Failed to create file .*: No such file or directory$/);
  });
});

describe('writeFileAtomic', () => {
  it('replaces the file and leaves no temporary behind', () => {
    const d = newDir();
    const f = path.join(d, 'f');
    fs.writeFileSync(f, 'old');
    writeFileAtomic(f, 'new contents');
    assert.equal(fs.readFileSync(f, 'utf8'), 'new contents');
    assert.deepEqual(fs.readdirSync(d), ['f']);
  });

  it('reports a failed rename with GLib\'s text and cleans up', () => {
    const d = newDir();
    const target = path.join(d, 'dir');
    fs.mkdirSync(target);
    fs.writeFileSync(path.join(target, 'x'), '');
    assert.throws(() => writeFileAtomic(target, 'x'), /^Error: Failed to rename file “.*dir\.[A-Za-z0-9]{6}” to “.*dir”: g_rename\(\) failed: /);
    assert.deepEqual(fs.readdirSync(d), ['dir']);
  });
});

describe('the isfrozen marker', () => {
  it('is absent normally: not frozen, nothing logged', () => {
    const log = recorder();
    assert.equal(checkFrozenAtStart(statePaths(newDir()), log), false);
    assert.deepEqual(log.lines, []);
  });

  it('is created 0600 and empty, detected at start, and deleted', () => {
    const p = statePaths(newDir());
    const log = recorder();
    const old = process.umask(0o022);
    try {
      assert.equal(setFrozenMarker(p, log), true);
    } finally {
      process.umask(old);
    }
    const st = fs.statSync(p.frozenMarker);
    assert.equal(st.mode & 0o777, 0o600);
    assert.equal(st.size, 0);
    assert.equal(checkFrozenAtStart(p, log), true);
    assert.deepEqual(log.lines, [
      'warning: previous instance appears to have exited with frozen filesystems. deferring logging/pidfile creation ' +
        'and disabling non-fsfreeze-safe commands until guest-fsfreeze-thaw is issued, or filesystems are manually ' +
        `unfrozen and the file ${p.frozenMarker} is removed`,
    ]);
    assert.equal(clearFrozenMarker(p, log), true);
    assert.equal(fs.existsSync(p.frozenMarker), false);
  });

  it('counts as frozen when stat() fails with anything but ENOENT', () => {
    const p = statePaths(path.join(root, 'file-as-dir'));
    fs.writeFileSync(p.stateDir, '');
    const log = recorder();
    assert.equal(checkFrozenAtStart(p, log), true);
    assert.deepEqual(log.lines, [`critical: unable to access state file at path ${p.frozenMarker}: Not a directory`]);
  });

  it('warns twice when it cannot be created or deleted', () => {
    const p = statePaths(path.join(root, 'gone'));
    const log = recorder();
    assert.equal(setFrozenMarker(p, log), false);
    assert.equal(clearFrozenMarker(p, log), false);
    assert.deepEqual(log.lines, [
      `warning: unable to open/create file ${p.frozenMarker}: No such file or directory`,
      `warning: unable to create ${p.frozenMarker}, fsfreeze may not function properly`,
      `warning: unable to delete file: ${p.frozenMarker}: No such file or directory`,
      `warning: unable to delete ${p.frozenMarker}, fsfreeze may not function properly`,
    ]);
  });
});
