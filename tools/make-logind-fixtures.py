#!/usr/bin/env python3
"""make-logind-fixtures.py - write the fixture trees of test/fixtures/logind (guest-get-users from logind).

The session and user records follow systemd-logind's session_save() and user_save(): KEY=value lines under
run/systemd/sessions/<id> and run/systemd/users/<uid>, with the ".ref" FIFO names beside the sessions
(stored as regular files here: git keeps no FIFOs). utmp files use the synthetic trees' record layout.

    make-logind-fixtures.py [DEST]      (default DEST: test/fixtures/logind)
"""
import importlib.util
import os
import shutil
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
DEST = sys.argv[1] if len(sys.argv) > 1 else os.path.join(os.path.dirname(HERE), 'test/fixtures/logind')

_spec = importlib.util.spec_from_file_location('synthetic', os.path.join(HERE, 'make-synthetic-fixtures.py'))
_synthetic = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(_synthetic)
utmp_record = _synthetic.utmp_record


def write(root, rel, data):
    path = os.path.join(root, rel)
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, 'wb') as fh:
        fh.write(data.encode('latin1') if isinstance(data, str) else data)


def session(uid, user, cls, state, realtime, tty='pts/0', service='sshd', remote=True):
    lines = ['# This is private data. Do not parse.', f'UID={uid}']
    if user is not None:
        lines.append(f'USER={user}')
    lines += ['ACTIVE=1', 'IS_DISPLAY=0', f'STATE={state}', f'REMOTE={int(remote)}', 'TYPE=tty', 'ORIGINAL_TYPE=tty']
    if cls is not None:
        lines.append(f'CLASS={cls}')
    lines += ['SCOPE=session.scope', f'TTY={tty}', f'SERVICE={service}', 'LEADER=1234', 'AUDIT=3']
    if realtime is not None:
        lines += [f'REALTIME={realtime}', 'MONOTONIC=12345678']
    return '\n'.join(lines) + '\n'


def user_record(name, sessions, realtime=1764900000000000):
    return (f'# This is private data. Do not parse.\nNAME={name}\nSTATE=active\nSTOPPING=no\nGC_MODE=by-pin\n'
            f'RUNTIME=/run/user/x\nREALTIME={realtime}\nMONOTONIC=1000\nSESSIONS={sessions}\n')


def logind_sessions(root):
    s = 'run/systemd/sessions'
    write(root, f'{s}/3', session(1000, 'alice', 'user', 'active', 1764931200123456))
    write(root, f'{s}/3.ref', 'USER=fifo-is-not-a-record\nREALTIME=1\n')
    write(root, f'{s}/5', session(1001, 'bob', 'user', 'online', 1764930000000001, tty='tty1', service='login', remote=False))
    write(root, f'{s}/7', session(1000, 'alice', 'user', 'active', 1764932000000000, tty='pts/1'))
    write(root, f'{s}/8', session(1000, 'alice', 'user', 'active', 1764931100000000, tty='pts/2'))
    write(root, f'{s}/c1', session(120, 'gdm', 'greeter', 'online', 1764920000000000, service='gdm-launch-environment'))
    write(root, f'{s}/9', session(1002, 'carol', 'background', 'active', 1764910000000000, service='cron'))
    write(root, f'{s}/2', session(1000, 'alice', 'manager', 'active', 1764900000000000, service='systemd-user'))
    write(root, f'{s}/11', session(1004, 'dave', 'user', 'closing', 1764905000000000))
    write(root, f'{s}/13', session(1003, None, 'user-early', 'active', 1764933000500000))
    write(root, f'{s}/14', session(1005, 'frank', 'user', 'active', None))
    write(root, f'{s}/15', session(1006, 'gr\xc3\xa9ta', None, 'active', 1764934000000000))
    write(root, f'{s}/.#16abcdef', session(1007, 'tmpfile', 'user', 'active', 1764800000000000))
    # A symlink is never followed, whatever it points at.
    write(root, 'decoy-session', session(1008, 'mallory', 'user', 'active', 1764800000000000))
    os.symlink('../../../decoy-session', os.path.join(root, f'{s}/17'))
    u = 'run/systemd/users'
    write(root, f'{u}/1000', user_record('alice', '3 7 8 2'))
    write(root, f'{u}/1003', user_record('erin', '13'))


def main():
    shutil.rmtree(DEST, ignore_errors=True)
    # A Debian 13 guest: no utmp at all.
    logind_sessions(os.path.join(DEST, 'no-utmp'))
    # utmp exists but holds no login (boot and run-level records only).
    root = os.path.join(DEST, 'boot-only-utmp')
    logind_sessions(root)
    write(root, 'var/run/utmp', utmp_record(2, 'reboot', 1764000000, 0, line='~') + utmp_record(1, 'runlevel', 1764000001, 0, line='~'))
    # utmp has logins: it answers, as in qemu-ga, and logind is not read.
    root = os.path.join(DEST, 'utmp-logins')
    logind_sessions(root)
    write(root, 'var/run/utmp', utmp_record(2, 'reboot', 1764000000, 0, line='~') + utmp_record(7, 'zoe', 1764000100, 250000))
    print('written under', DEST)


if __name__ == '__main__':
    main()
