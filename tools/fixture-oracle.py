#!/usr/bin/env python3
"""fixture-oracle.py - run Debian's qemu-ga against a captured fixture tree and record its answers.

    fixture-oracle.py FIXTURE_DIR [--out DIR] [--qemu-ga PATH] [COMMAND ...]

The tree is rebuilt from FIXTURE_DIR/.manifest on tmpfs (readdir order as captured). qemu-ga then runs in a
private mount namespace (unshare -m, needs root) in which the tree's sys/ is bind-mounted on /sys, its
proc/ on /proc (qemu-ga reads /proc/self/mountinfo, /proc/diskstats, /proc/stat, /proc/net/*), and a tmpfs
holding the tree's run/udev and var/run/utmp on /run. Nothing outside that namespace changes. The client
talks to it from outside over its unix socket.

libudev accepts a device only on a filesystem whose statfs() type is sysfs, so qemu-ga runs with a tiny
LD_PRELOAD shim (compiled here with cc) that reports tmpfs as sysfs to fstatfs()/statfs().

Each answer is written verbatim (qemu-ga's own bytes) to DIR/<command>.json (default FIXTURE_DIR/expected).
What the oracle cannot reproduce: statvfs() sizes (the mount points are the host's; the fixture's
mountinfo points elsewhere), interfaces (getifaddrs() is the host's) and NVMe SMART (no device nodes).
"""
import json
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time

DEFAULT_COMMANDS = [
    'guest-get-fsinfo', 'guest-get-disks', 'guest-get-vcpus', 'guest-get-memory-blocks',
    'guest-get-memory-block-info', 'guest-get-diskstats', 'guest-get-cpustats', 'guest-get-users',
    'guest-network-get-route',
]


SHIM = r"""
#define _GNU_SOURCE
#include <dlfcn.h>
#include <sys/vfs.h>
#define TMPFS_MAGIC 0x01021994
#define SYSFS_MAGIC 0x62656572
int fstatfs(int fd, struct statfs *buf) {
    static int (*real)(int, struct statfs *);
    if (!real) real = (int (*)(int, struct statfs *))dlsym(RTLD_NEXT, "fstatfs");
    int r = real(fd, buf);
    if (r == 0 && buf->f_type == TMPFS_MAGIC) buf->f_type = SYSFS_MAGIC;
    return r;
}
int fstatfs64(int fd, struct statfs64 *buf) {
    static int (*real)(int, struct statfs64 *);
    if (!real) real = (int (*)(int, struct statfs64 *))dlsym(RTLD_NEXT, "fstatfs64");
    int r = real(fd, buf);
    if (r == 0 && buf->f_type == TMPFS_MAGIC) buf->f_type = SYSFS_MAGIC;
    return r;
}
int statfs(const char *path, struct statfs *buf) {
    static int (*real)(const char *, struct statfs *);
    if (!real) real = (int (*)(const char *, struct statfs *))dlsym(RTLD_NEXT, "statfs");
    int r = real(path, buf);
    if (r == 0 && buf->f_type == TMPFS_MAGIC) buf->f_type = SYSFS_MAGIC;
    return r;
}
"""


def build_shim(work):
    src = os.path.join(work, 'sysfs-shim.c')
    lib = os.path.join(work, 'sysfs-shim.so')
    open(src, 'w').write(SHIM)
    subprocess.check_call(['cc', '-shared', '-fPIC', '-O2', '-o', lib, src, '-ldl'])
    return lib


def materialize(src, dst):
    tree = {'': []}
    for line in open(os.path.join(src, '.manifest')):
        line = line.rstrip('\n')
        if not line:
            continue
        parts = line.split('\t')
        kind, rel = parts[0], parts[1]
        parent = os.path.dirname(rel)
        tree.setdefault(parent, []).append((kind, rel, parts[2] if len(parts) > 2 else None))
        if kind == 'd':
            tree.setdefault(rel, [])
    # tmpfs lists a directory newest first: create children in reverse order.
    def build(rel):
        for kind, child, target in reversed(tree.get(rel, [])):
            d = os.path.join(dst, child)
            if kind == 'd':
                os.mkdir(d)
            elif kind == 'l':
                os.symlink(target, d)
            else:
                shutil.copyfile(os.path.join(src, child), d)
        for kind, child, _ in tree.get(rel, []):
            if kind == 'd':
                build(child)
    build('')


def main():
    args = sys.argv[1:]
    if not args or args[0] in ('-h', '--help'):
        print(__doc__)
        return 0
    fixture = os.path.abspath(args.pop(0))
    out = os.path.join(fixture, 'expected')
    qga = '/usr/sbin/qemu-ga'
    commands = []
    while args:
        a = args.pop(0)
        if a == '--out':
            out = args.pop(0)
        elif a == '--qemu-ga':
            qga = args.pop(0)
        else:
            commands.append(a)
    commands = commands or DEFAULT_COMMANDS
    base = '/dev/shm' if os.path.isdir('/dev/shm') else None
    work = tempfile.mkdtemp(prefix='qga-oracle-', dir=base)
    tree = os.path.join(work, 'tree')
    os.mkdir(tree)
    materialize(fixture, tree)
    shim = build_shim(work)
    state = tempfile.mkdtemp(prefix='qga-oracle-state-')
    sock = os.path.join(state, 'qga.sock')
    for d in ('sys', 'proc', 'run/udev', 'var/run'):
        os.makedirs(os.path.join(tree, d), exist_ok=True)
    script = f'''
set -e
mount --bind {tree}/sys /sys
mount --bind {tree}/proc /proc
mount -t tmpfs qga-oracle-run /run
mkdir -p /run/udev
cp -a {tree}/run/udev/. /run/udev/
[ -f {tree}/var/run/utmp ] && cp {tree}/var/run/utmp /run/utmp
exec env LD_PRELOAD={shim} {qga} -m unix-listen -p {sock} -t {state} -f {state}/qemu-ga.pid -l {state}/qemu-ga.log
'''
    proc = subprocess.Popen(['unshare', '-m', '--propagation', 'private', 'sh', '-c', script])
    try:
        for _ in range(500):
            if os.path.exists(sock):
                break
            if proc.poll() is not None:
                raise SystemExit(f'qemu-ga exited with {proc.returncode}')
            time.sleep(0.01)
        s = socket.socket(socket.AF_UNIX)
        s.connect(sock)
        f = s.makefile('rwb')
        os.makedirs(out, exist_ok=True)
        for c in commands:
            f.write(json.dumps({'execute': c}).encode() + b'\n')
            f.flush()
            line = f.readline()
            with open(os.path.join(out, c + '.json'), 'wb') as o:
                o.write(line)
            print(c, line[:100].decode('utf8', 'replace').rstrip(), file=sys.stderr)
        s.close()
    finally:
        proc.terminate()
        proc.wait()
        shutil.rmtree(work, ignore_errors=True)
        shutil.rmtree(state, ignore_errors=True)
    return 0


if __name__ == '__main__':
    sys.exit(main())
