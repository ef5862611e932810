#!/usr/bin/env python3
"""make-synthetic-fixtures.py - write the hand-made fixture trees of test/fixtures/sysroot/synthetic-*.

These cover what no VM on this machine can produce (s390x CCW disks, virtio-mmio, odd /proc contents,
error paths). Entries are listed in the order a directory should list them (the .manifest order). The
expected answers come from Debian's qemu-ga run against each tree: tools/fixture-oracle.py (with
--qemu-ga /var/tmp/qga-newest/qemu-ga-newest for the 10.2-equivalent answers).

    make-synthetic-fixtures.py [--oracle] [DEST]      (default DEST: test/fixtures/sysroot)

--oracle (root only) also records the answers: expected-oracle/ from /usr/sbin/qemu-ga (7.2) and
expected-oracle-newest/ from /var/tmp/qga-newest/qemu-ga-newest when it exists.
"""
import os
import shutil
import struct
import subprocess
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
ARGS = [a for a in sys.argv[1:] if a != '--oracle']
ORACLE = '--oracle' in sys.argv[1:]
DEST = ARGS[0] if ARGS else os.path.join(os.path.dirname(HERE), 'test/fixtures/sysroot')
NAMES = []


class Tree:
    def __init__(self, name):
        NAMES.append(name)
        self.root = os.path.join(DEST, name)
        shutil.rmtree(self.root, ignore_errors=True)
        os.makedirs(self.root)
        self.lines = []
        self.dirs = {''}

    def _parents(self, rel):
        parts = rel.split('/')[:-1]
        for i in range(1, len(parts) + 1):
            self.d('/'.join(parts[:i]))

    def d(self, rel):
        if rel in self.dirs:
            return
        self._parents(rel)
        os.mkdir(os.path.join(self.root, rel))
        self.dirs.add(rel)
        self.lines.append(f'd\t{rel}')

    def f(self, rel, content):
        self._parents(rel)
        data = content.encode('latin1') if isinstance(content, str) else content
        with open(os.path.join(self.root, rel), 'wb') as fh:
            fh.write(data)
        self.lines.append(f'f\t{rel}')

    def l(self, rel, target):
        self._parents(rel)
        os.symlink(target, os.path.join(self.root, rel))
        self.lines.append(f'l\t{rel}\t{target}')

    def block(self, devdir, name, major, minor, size='65536\n', serial=None, dm_name=None, slaves=(), partitions=(),
              subsystem_up=None):
        """A block device directory (devdir is its parent, e.g. sys/devices/.../block)."""
        path = f'{devdir}/{name}'
        self.d(path)
        self.f(f'{path}/uevent', f'MAJOR={major}\nMINOR={minor}\nDEVNAME={name}\nDEVTYPE=disk\n')
        self.f(f'{path}/dev', f'{major}:{minor}\n')
        self.f(f'{path}/size', size)
        depth = path.count('/')  # components below sys/
        self.l(f'{path}/subsystem', '../' * depth + 'class/block')
        self.d(f'{path}/holders')
        self.d(f'{path}/slaves')
        for sname, target in slaves:
            self.l(f'{path}/slaves/{sname}', target)
        self.d(f'{path}/queue')
        self.d(f'{path}/power')
        props = []
        if serial:
            props.append(f'E:ID_SERIAL={serial}\n')
        if dm_name is not None:
            props.append(f'E:DM_NAME={dm_name}\n')
        if props:
            self.f(f'run/udev/data/b{major}:{minor}', 'S:disk/by-id/x\nI:1\n' + ''.join(props) + 'G:systemd\n')
        self.l(f'sys/dev/block/{major}:{minor}', '../../' + path[len('sys/'):])
        for pname, pminor in partitions:
            pp = f'{path}/{pname}'
            self.d(pp)
            self.f(f'{pp}/uevent', f'MAJOR={major}\nMINOR={pminor}\nDEVNAME={pname}\nDEVTYPE=partition\nPARTN=1\n')
            self.f(f'{pp}/dev', f'{major}:{pminor}\n')
            self.f(f'{pp}/size', '2048\n')
            self.l(f'{pp}/subsystem', '../' * (depth + 1) + 'class/block')
            self.l(f'sys/dev/block/{major}:{pminor}', '../../' + pp[len('sys/'):])
            if serial:
                self.f(f'run/udev/data/b{major}:{pminor}', f'E:ID_SERIAL={serial}\nE:PARTN=1\n')
        return path

    def save(self):
        with open(os.path.join(self.root, '.manifest'), 'w') as fh:
            fh.write('\n'.join(self.lines) + '\n')


def utmp_record(ut_type, user, sec, usec, line='pts/0', host=''):
    rec = bytearray(384)
    struct.pack_into('<hxxi', rec, 0, ut_type, 1234)
    rec[8:8 + len(line)] = line.encode()
    u = user.encode()
    rec[44:44 + min(len(u), 32)] = u[:32]
    if len(u) > 32:
        rec[76:76 + len(u) - 32] = u[32:]
    h = host.encode()
    if len(u) <= 32:
        rec[76:76 + len(h)] = h
    struct.pack_into('<ii', rec, 340, sec, usec)
    return bytes(rec)


def synthetic_topology():
    t = Tree('synthetic-topology')
    t.d('proc/self')
    t.d('sys/block')
    t.d('sys/dev/block')
    # s390x: virtio-blk and virtio-scsi on the channel subsystem
    ccw1 = 'sys/devices/css0/0.0.0000/0.0.0000'
    t.f(f'{ccw1}/uevent', 'DRIVER=virtio_ccw\n')
    t.l(f'{ccw1}/driver', '../../../../bus/ccw/drivers/virtio_ccw')
    vda = t.block(f'{ccw1}/virtio0/block', 'vda', 94, 0, serial='ccw-blk-0', partitions=[('vda1', 1)])
    t.l('sys/block/vda', '../' + vda[len('sys/'):])
    ccw2 = 'sys/devices/css0/0.0.0002/0.0.001f'
    t.d(f'{ccw2}/virtio1/host0')
    sda = t.block(f'{ccw2}/virtio1/host0/target0:0:3/0:0:3:5/block', 'sda', 8, 0, serial='0QEMU_QEMU_HARDDISK_ccw-scsi')
    t.l('sys/block/sda', '../' + sda[len('sys/'):])
    # virtio-mmio (arm/microvm): neither PCI nor CCW
    mmio = 'sys/devices/platform/a003e00.virtio_mmio'
    vdb = t.block(f'{mmio}/virtio2/block', 'vdb', 254, 16)
    t.l('sys/block/vdb', '../' + vdb[len('sys/'):])
    # an SD card on a platform controller: no hardware info, but a devnode
    mmc = 'sys/devices/platform/fe340000.mmc/mmc_host/mmc0/mmc0:0001/block'
    mmcblk = t.block(mmc, 'mmcblk0', 179, 0, serial='sd-card-1')
    t.l('sys/block/mmcblk0', '../' + mmcblk[len('sys/'):])
    # a zero-sized disk (skipped by guest-get-disks)
    z = t.block('sys/devices/virtual/block', 'zram0', 252, 0, size='0\n')
    t.l('sys/block/zram0', '../' + z[len('sys/'):])
    # device-mapper over two disks' slaves (a striped volume): dm-0 -> vda1 and sda
    dm = t.block('sys/devices/virtual/block', 'dm-0', 253, 0, dm_name='vg0-lv0',
                 slaves=[('vda1', '../../../../css0/0.0.0000/0.0.0000/virtio0/block/vda/vda1'),
                         ('sda', '../../../../css0/0.0.0002/0.0.001f/virtio1/host0/target0:0:3/0:0:3:5/block/sda')])
    t.l('sys/block/dm-0', '../' + dm[len('sys/'):])
    # dm with an empty alias and no slaves
    dm1 = t.block('sys/devices/virtual/block', 'dm-1', 253, 1, dm_name='')
    t.l('sys/block/dm-1', '../' + dm1[len('sys/'):])
    # a loop device (virtual, no slaves)
    loop = t.block('sys/devices/virtual/block', 'loop0', 7, 0)
    t.l('sys/block/loop0', '../' + loop[len('sys/'):])
    mi = [
        '22 1 0:21 / /proc rw,relatime - proc proc rw\n',
        '27 1 94:0 / / rw,relatime shared:1 - ext4 /dev/vda rw\n',
        '30 27 94:1 / /srv/part rw,relatime - ext4 /dev/vda1 rw\n',
        '31 27 8:0 / /srv/scsi\\040disk rw - xfs /dev/sda rw\n',
        '32 27 254:16 / /srv/mmio rw - ext4 /dev/vdb rw\n',
        '33 27 179:0 / /srv/sd rw - vfat /dev/mmcblk0 rw\n',
        '34 27 253:0 / /srv/lv rw - ext4 /dev/mapper/vg0-lv0 rw\n',
        '35 27 7:0 / /srv/loop rw - squashfs /dev/loop0 ro\n',
        '36 27 9:9 / /srv/gone rw - ext4 /dev/md9 rw\n',
        '37 27 94:1 /sub /srv/part-bind rw,relatime - ext4 /dev/vda1 rw\n',
        '38 27 0:45 / /srv/btrfs rw - btrfs /dev/nonexistent-btrfs rw\n',
        '39 27 0:46 / /tmp rw - tmpfs tmpfs rw\n',
        '40 27 253:1 / /srv/with\\134backslash rw - ext4 /dev/dm-1 rw\n',
    ]
    t.f('proc/self/mountinfo', ''.join(mi))
    t.save()


def synthetic_proc():
    t = Tree('synthetic-proc')
    t.d('proc/self')
    t.d('proc/net')
    # vCPUs in a scrambled readdir order; cpu0 without "online", cpu2 offline, cpu10, non-cpu entries
    cpu = 'sys/devices/system/cpu'
    t.d(f'{cpu}/cpufreq')
    t.d(f'{cpu}/cpu2')
    t.f(f'{cpu}/cpu2/online', '0\n')
    t.f(f'{cpu}/online', '0-1,10\n')
    t.d(f'{cpu}/cpu10')
    t.f(f'{cpu}/cpu10/online', '1\n')
    t.d(f'{cpu}/cpu0')
    t.d(f'{cpu}/cpuidle')
    t.d(f'{cpu}/cpu1')
    t.f(f'{cpu}/cpu1/online', '1\n')
    # memory blocks: online/offline, removable or not, no removable file, leading zeros in a name
    mem = 'sys/devices/system/memory'
    t.f(f'{mem}/block_size_bytes', '8000000\n')
    for name, state, removable in (('memory33', 'online\n', '1\n'), ('memory0', 'online\n', '0\n'),
                                   ('memory40', 'offline\n', '1\n'), ('memory7', 'going-offline\n', None)):
        t.d(f'{mem}/{name}')
        t.f(f'{mem}/{name}/state', state)
        if removable is not None:
            t.f(f'{mem}/{name}/removable', removable)
    t.f(f'{mem}/memory_not_a_dir', 'x\n')
    t.f(f'{mem}/auto_online_blocks', 'offline\n')
    # /proc/diskstats with every field count qemu-ga distinguishes
    t.f('proc/diskstats', ''.join([
        '   8       0 sda 1 2 3 4 5 6 7 8 9 10 11 12 13 14 15 16 17\n',
        '   8       1 sda1 100 200 300 400\n',
        '   8       2 sda2 1 2 3 4 5 6 7\n',
        '   8      16 sdb 1 2 3 4 5 6 7 8 9 10 11\n',
        '   8      32 sdc 1 2 3 4 5 6 7 8 9 10 11 12 13 14 15\n',
        '   8      48 sdd 1 2 3\n',
        '\n',
        ' 259       0 nvme0n1 18446744073709551615 4294967296 3 4294967295 5 6 7 8 9 10 11 12 13 14 15 16 17\n',
        'garbage line\n',
        '   7       0 loop0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0\n',
    ]))
    t.f('proc/stat', ''.join([
        'cpu  1 2 3 4 5 6 7 8 9 10\n',
        'cpu0 100 200 300 400 500 600 700 800 900 1000\n',
        'cpu1 100 200 300 400\n',
        'cpu2 1 2 3 4 5\n',
        'cpu3 1 2 3 4 5 6 7\n',
        'cpu4 1 2 3 4 5 6 7 8\n',
        'cpu5 1 2 3 4 5 6 7 8 9\n',
        '\n',
        'intr 12345 0 1 2\n',
        'cpu7 3 3 3\n',
        'cpu8 1 2 3 4 5 6 7 8 9 10\n',
    ]))
    t.f('proc/net/route', ''.join([
        'Iface\tDestination\tGateway \tFlags\tRefCnt\tUse\tMetric\tMask\t\tMTU\tWindow\tIRTT\n',
        'eth0\t00000000\t0102A8C0\t0003\t0\t0\t100\t00000000\t0\t0\t0\n',
        'eth0\t0002A8C0\t00000000\t0001\t0\t0\t100\t00FFFFFF\t1500\t0\t0\n',
        'short\t0002A8C0\t00000000\n',
        'br-lan\t0010A8C0\t00000000\t0001\t0\t7\t-5\t00FFFFFF\t0\t0\t0\n',
    ]))
    t.f('proc/net/ipv6_route', ''.join([
        'fd000000000000000000000000000000 40 00000000000000000000000000000000 00 00000000000000000000000000000000 00000100 00000001 00000000 00000001     eth0\n',
        '00000000000000000000000000000000 00 00000000000000000000000000000000 00 fe800000000000000000000000000001 00000400 00000002 00000000 00000003     eth0\n',
        '00000000000000000000ffff0a000001 80 00000000000000000000000000000000 00 00000000000000000000000000000000 00000000 00000001 00000000 80200001     eth0\n',
        '00000000000000000000000000000001 80 00000000000000000000000000000000 00 00000000000000000000000000000000 00000000 00000002 00000000 80200001       lo\n',
        'zz000000000000000000000000000000 40 00000000000000000000000000000000 00 00000000000000000000000000000000 00000100 00000001 00000000 00000001     bad\n',
        '00000000000000000000000000000000 00 00000000000000000000000000000000 00 00000000000000000000000000000000 ffffffff 00000001 00000000 00200200       lo\n',
    ]))
    t.f('proc/self/mountinfo', '')
    recs = [
        utmp_record(2, 'reboot', 1700000000, 0, line='~'),
        utmp_record(7, 'alice', 1700000100, 250000),
        utmp_record(7, 'bob', 1700000200, 999999, line='pts/1'),
        utmp_record(8, 'carol', 1700000300, 0),
        utmp_record(7, 'alice', 1700000050, 500000, line='pts/2'),
        utmp_record(7, 'alice', 1700000900, 1, line='pts/3'),
        utmp_record(7, 'a-user-name-of-exactly-32-chars!', 1600000000, 123456, host='host.example'),
        utmp_record(6, 'LOGIN', 1700000400, 0),
    ]
    t.f('var/run/utmp', b''.join(recs) + b'\x07\x00partial')
    t.save()


def error_fixture(name, build):
    t = Tree(name)
    build(t)
    t.save()


def synthetic_errors():
    # Each tree makes one command fail the way qemu-ga fails.
    def vcpu_eof(t):
        t.d('sys/devices/system/cpu/cpu0')
        t.d('sys/devices/system/cpu/cpu1')
        t.f('sys/devices/system/cpu/cpu1/online', '')
        t.d('sys/devices/system/memory/memory005')
        t.f('sys/devices/system/memory/memory005/state', 'online\n')
        t.f('sys/devices/system/memory/block_size_bytes', '')
        t.d('proc/self')
        t.f('proc/self/mounts', '/dev/xvda / ext4 rw 0 0\n/dev/xvda1 /boot ext4 rw 0 0\n//server/share /mnt/smb cifs rw 0 0\nproc /proc proc rw 0 0\n/dev/xvdb /mnt/with\\040space ext4 rw 0 0\n')
        t.d('proc/net')
        t.f('proc/net/ipv6_route', '')
    error_fixture('synthetic-errors-1', vcpu_eof)

    def vcpu_nodir(t):
        # cpu7 listed but its directory is not a directory; memory blocks without a state file
        t.d('sys/devices/system/cpu')
        t.f('sys/devices/system/cpu/cpu7', 'not a directory\n')
        t.d('sys/devices/system/memory/memory3')
        t.d('sys/devices/system/memory/memory4')
        t.f('sys/devices/system/memory/memory4/state', 'online\n')
        t.f('sys/devices/system/memory/memory4/removable', '')
        t.d('proc/net')
        t.f('proc/net/route', 'Iface\tDestination\n')
    error_fixture('synthetic-errors-2', vcpu_nodir)

    def empty(t):
        # no sys at all, no proc files: the "cannot open" errors
        t.d('sys/devices/system/memory')
        t.d('proc')
    error_fixture('synthetic-errors-3', empty)


if __name__ == '__main__':
    synthetic_topology()
    synthetic_proc()
    synthetic_errors()
    print('written under', DEST)
    if ORACLE:
        newest = '/var/tmp/qga-newest/qemu-ga-newest'
        for n in NAMES:
            tree = os.path.join(DEST, n)
            subprocess.check_call([sys.executable, os.path.join(HERE, 'fixture-oracle.py'), tree,
                                   '--out', os.path.join(tree, 'expected-oracle')])
            if os.path.exists(newest):
                subprocess.check_call([sys.executable, os.path.join(HERE, 'fixture-oracle.py'), tree,
                                       '--qemu-ga', newest, '--out', os.path.join(tree, 'expected-oracle-newest')])
