#!/usr/bin/env python3
"""hung-fuse.py MOUNTPOINT -- COMMAND...: run COMMAND while MOUNTPOINT holds a FUSE mount that never answers.

Run it inside a private mount namespace (unshare -m --propagation private). /dev/fuse is opened and
mounted but never read, so the kernel's INIT request stays unanswered and every operation on the mount,
statfs() included, blocks. When COMMAND prints a line starting with "done" (or exits), the /dev/fuse
descriptor is closed: the connection is aborted and the blocked calls fail with ENOTCONN. COMMAND's
output is passed through; the exit status is COMMAND's.
"""
import ctypes
import os
import subprocess
import sys


def main():
    point = sys.argv[1]
    cmd = sys.argv[3:]
    os.makedirs(point, exist_ok=True)
    fd = os.open('/dev/fuse', os.O_RDWR)
    libc = ctypes.CDLL(None, use_errno=True)
    data = f'fd={fd},rootmode=40000,user_id=0,group_id=0'.encode()
    if libc.mount(b'qga-hung', point.encode(), b'fuse', 0, data) != 0:
        err = ctypes.get_errno()
        raise SystemExit(f'mount fuse: {os.strerror(err)}')
    p = subprocess.Popen(cmd, stdout=subprocess.PIPE)
    for line in p.stdout:
        sys.stdout.buffer.write(line)
        sys.stdout.flush()
        if line.startswith(b'done'):
            break
    os.close(fd)  # abort the connection: the stuck statfs() returns
    rest = p.stdout.read()
    sys.stdout.buffer.write(rest)
    rc = p.wait()
    libc.umount2(point.encode(), 2)  # MNT_DETACH
    return rc


if __name__ == '__main__':
    sys.exit(main())
