// guest-get-users from systemd-logind's records when utmp has no logins (test/fixtures/logind, made by
// tools/make-logind-fixtures.py).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { guestGetUsers } from '../../src/commands/users.ts';
import { LOGIND_MAX_FILE_BYTES, LOGIND_MAX_SESSIONS, isLoginSession, loginTimeOf, parseLogindRecord } from '../../src/commands/users-logind.ts';
import type { AgentContext } from '../../src/commands/context.ts';
import { toJson } from '../../src/json/serialize.ts';

const FIXTURES = path.join(import.meta.dirname, '../fixtures/logind');
const users = (root: string) => guestGetUsers(undefined, { root } as AgentContext);

// Oldest login first; alice once with her earliest session (8), erin named by her user record, gréta's
// session has no CLASS (systemd before 246). Left out: the greeter, cron's background session, the user
// manager, a closing session, one without REALTIME, the .ref FIFO, logind's temporary file, a symlink.
const FROM_LOGIND =
  '[{"login-time": 1764930000.000001, "user": "bob"}, {"login-time": 1764931100, "user": "alice"}, ' +
  '{"login-time": 1764933000.5, "user": "erin"}, {"login-time": 1764934000, "user": "gr\\u00E9ta"}]';

test('no utmp: the users of logind\'s login sessions, in qemu-ga\'s reply shape', () => {
  assert.equal(toJson(users(path.join(FIXTURES, 'no-utmp'))), FROM_LOGIND);
});

test('a utmp without logins (boot and run-level records only) falls back to logind too', () => {
  assert.equal(toJson(users(path.join(FIXTURES, 'boot-only-utmp'))), FROM_LOGIND);
});

test('a utmp with logins answers alone, as with qemu-ga', () => {
  assert.equal(toJson(users(path.join(FIXTURES, 'utmp-logins'))), '[{"login-time": 1764000100.25, "user": "zoe"}]');
});

test('neither utmp nor logind: an empty list', () => {
  assert.deepEqual(users(path.join(FIXTURES, 'does-not-exist')), []);
});

test('record parsing: comments, repeated keys, quoting, stray lines', () => {
  const r = parseLogindRecord('# c\n; c\nUSER=a\nUSER=b\n  NAME = "x y" \nnoequals\n=v\nCLASS=user\r\n');
  assert.equal(r.get('USER'), 'b');
  assert.equal(r.get('NAME'), 'x y');
  assert.equal(r.get('CLASS'), 'user');
  assert.equal(r.size, 3);
});

test('which sessions are logins', () => {
  const rec = (o: Record<string, string>) => new Map(Object.entries(o));
  for (const cls of ['user', 'user-early', 'user-incomplete', 'user-light']) assert.ok(isLoginSession(rec({ CLASS: cls })), cls);
  for (const cls of ['greeter', 'lock-screen', 'background', 'background-light', 'manager', 'manager-early', 'none', 'username']) {
    assert.ok(!isLoginSession(rec({ CLASS: cls })), cls);
  }
  assert.ok(isLoginSession(rec({})));
  assert.ok(!isLoginSession(rec({ CLASS: 'user', STATE: 'closing' })));
});

test('login time: utmp\'s seconds + microseconds / 1e6, exact for 64-bit microsecond counts', () => {
  assert.equal(loginTimeOf('1764931200123456'), 1764931200 + 123456 / 1e6);
  assert.equal(loginTimeOf('18446744073709551615'), 18446744073709 + 551615 / 1e6);
  for (const bad of [undefined, '', '0', '-1', '1.5', '12x', '18446744073709551616', '123456789012345678901']) {
    assert.equal(loginTimeOf(bad), undefined, String(bad));
  }
});

test('bounded: oversized records are skipped and at most LOGIND_MAX_SESSIONS files are read', () => {
  const root = fs.mkdtempSync(path.join(os.tmpdir(), 'qga-logind-'));
  try {
    const dir = path.join(root, 'run/systemd/sessions');
    fs.mkdirSync(dir, { recursive: true });
    const rec = (user: string, t: number) => `USER=${user}\nCLASS=user\nSTATE=active\nREALTIME=${t}\n`;
    fs.writeFileSync(path.join(dir, '1'), rec('big', 1_000_000) + '#'.repeat(LOGIND_MAX_FILE_BYTES));
    fs.writeFileSync(path.join(dir, '2'), rec('small', 2_000_000));
    assert.deepEqual(users(root), [{ user: 'small', 'login-time': 2 }]);
    for (let i = 3; i < LOGIND_MAX_SESSIONS + 10; i++) fs.writeFileSync(path.join(dir, String(i)), rec(`u${i}`, i * 1_000_000));
    assert.equal(users(root).length, LOGIND_MAX_SESSIONS - 1);
  } finally {
    fs.rmSync(root, { recursive: true, force: true });
  }
});
