#!/usr/bin/env python3
"""fixture-vm-capture.py - boot a guest with test disks on many buses, capture a fixture in it.

    fixture-vm-capture.py PROFILE [--workdir DIR] [--dest test/fixtures/sysroot/NAME] [--keep]

(--keep leaves the VM up after the capture, until Ctrl-C.)

PROFILE  q35   virtio-blk (whole disk, and an MBR disk with a partition and a device-mapper volume on
               the other partition), virtio-scsi (LUN 0 and LUN 3, plus a bind mount), NVMe, SATA
               (ich9 AHCI, third port) and USB storage (xHCI)
         pc    i440fx: IDE (PIIX, secondary bus / slave and primary / master) and an LSI 53C895A SCSI
               disk (sym53c8xx)

The guest (tools/fixture-vm.ts: the e2e VM of test/e2e/vm.ts with these disks) runs udevd and mounts
every disk (tools/fixture-vm-guest.sh). Over the agent channel (Debian's qemu-ga in the guest) the host then runs
tools/fixture-vm-inside.sh with guest-exec, which captures the tree and asks qemu-ga 7.2, qemu-ga sid
(when /var/tmp/qga-newest exists) and qga-ts; the packed result is read back with guest-file-read and
unpacked into DEST: the tree, expected-7.2/, expected-newest/ (the 10.2-equivalent answers the tests
use), ours-vm.json (qga-ts live in the guest), mounts.txt and devices.txt.
"""
import base64
import io
import json
import os
import shutil
import socket
import subprocess
import sys
import tarfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(HERE)

PROFILES = {
    'q35': {
        'machine': 'q35',
        'modules': 'virtio_scsi sd_mod nvme ahci dm_mod xhci_pci usb_storage',
        'disks': {
            # name: (size MiB, layout)
            'vparts': (64, 'parts'),
            'scsi0': (32, 'qga-scsi0'),
            'scsi3': (32, 'qga-scsi3'),
            'nvme': (32, 'qga-nvme'),
            'sata': (32, 'qga-sata'),
            'usb': (32, 'qga-usb'),
        },
        'devices': [
            '-device', 'virtio-blk-pci,drive=vparts,serial=qga-vparts,id=vparts0',
            '-device', 'virtio-scsi-pci,id=scsi0',
            '-device', 'scsi-hd,bus=scsi0.0,channel=0,scsi-id=0,lun=0,drive=scsi0,serial=qga-scsi0',
            '-device', 'scsi-hd,bus=scsi0.0,channel=0,scsi-id=0,lun=3,drive=scsi3,serial=qga-scsi3',
            '-device', 'nvme,drive=nvme,serial=qga-nvme0',
            '-device', 'ide-hd,bus=ide.2,drive=sata,serial=qga-sata2',
            '-device', 'qemu-xhci,id=xhci',
            '-device', 'usb-storage,bus=xhci.0,drive=usb,serial=qga-usb0',
        ],
    },
    'pc': {
        'machine': 'pc',
        'modules': 'ata_piix sd_mod sym53c8xx',
        'disks': {
            'ide00': (32, 'qga-ide00'),
            'ide11': (32, 'qga-ide11'),
            'lsi': (32, 'qga-lsi'),
        },
        'devices': [
            '-device', 'ide-hd,bus=ide.0,unit=0,drive=ide00,serial=qga-ide00',
            '-device', 'ide-hd,bus=ide.1,unit=1,drive=ide11,serial=qga-ide11',
            '-device', 'lsi53c895a,id=lsi0',
            '-device', 'scsi-hd,bus=lsi0.0,scsi-id=2,drive=lsi,serial=qga-lsi2',
        ],
    },
}


# No background inode-table initialisation in the guest: the disks stay idle between capture and queries.
NOLAZY = 'lazy_itable_init=0,lazy_journal_init=0'


def make_disk(path, size_mib, layout):
    with open(path, 'wb') as f:
        f.truncate(size_mib << 20)
    if layout == 'parts':
        # An MBR with p1: 1 MiB..33 MiB (ext4 qga-vp1) and p2: 33 MiB..63 MiB (ext4 qga-dm, used under a
        # device-mapper linear volume).
        mbr = bytearray(512)
        for i, (start, count) in enumerate(((2048, 65536), (67584, 61440))):
            mbr[446 + 16 * i:446 + 16 * (i + 1)] = (bytes([0, 0xfe, 0xff, 0xff, 0x83, 0xfe, 0xff, 0xff])
                                                    + start.to_bytes(4, 'little') + count.to_bytes(4, 'little'))
        mbr[510:512] = b'\x55\xaa'
        with open(path, 'r+b') as f:
            f.write(mbr)
        subprocess.check_call(['mkfs.ext4', '-q', '-F', '-L', 'qga-vp1', '-E', 'offset=%d,%s' % (2048 * 512, NOLAZY), path, '32M'])
        subprocess.check_call(['mkfs.ext4', '-q', '-F', '-L', 'qga-dm', '-E', 'offset=%d,%s' % (67584 * 512, NOLAZY), path, '30M'])
    else:
        subprocess.check_call(['mkfs.ext4', '-q', '-F', '-E', NOLAZY, '-L', layout, path])


class Qga:
    def __init__(self, path):
        self.s = socket.socket(socket.AF_UNIX)
        self.s.connect(path)
        self.s.settimeout(600)
        self.f = self.s.makefile('rwb')
        self.f.write(b'\xff' + json.dumps({'execute': 'guest-sync-delimited', 'arguments': {'id': 4711}}).encode() + b'\n')
        self.f.flush()
        buf = b''
        while b'\xff{"return": 4711}' not in buf:
            buf += self.s.recv(4096)
        self.f = self.s.makefile('rwb')

    def cmd(self, name, **args):
        req = {'execute': name}
        if args:
            req['arguments'] = args
        self.f.write(json.dumps(req).encode() + b'\n')
        self.f.flush()
        while True:
            line = self.f.readline()
            if not line:
                raise RuntimeError('agent channel closed')
            line = line.strip(b'\xff\n')
            if not line:
                continue
            msg = json.loads(line)
            if 'error' in msg:
                raise RuntimeError(f'{name}: {msg["error"]}')
            return msg['return']


def main():
    args = sys.argv[1:]
    if not args or args[0] in PROFILES is False or args[0] in ('-h', '--help'):
        print(__doc__)
        return 0
    profile = args.pop(0)
    p = PROFILES[profile]
    workdir = '/var/tmp/qga-fx-' + profile
    dest = os.path.join(REPO, 'test/fixtures/sysroot', 'vm-' + profile)
    keep = False
    while args:
        a = args.pop(0)
        if a == '--workdir':
            workdir = args.pop(0)
        elif a == '--dest':
            dest = args.pop(0)
        elif a == '--keep':
            keep = True
        else:
            raise SystemExit(f'unknown argument {a}')
    os.makedirs(workdir, exist_ok=True)
    if 'QGA_VM_SOCKET' not in os.environ:
        # Make the disks, boot the VM, and run this script again while it is up, with QGA_VM_SOCKET set.
        qemu_args = []
        for name, (size, layout) in p['disks'].items():
            img = os.path.join(workdir, name + '.img')
            make_disk(img, size, layout)
            qemu_args += ['-blockdev', f'driver=file,node-name={name}f,filename={img}',
                          '-blockdev', f'driver=raw,node-name={name},file={name}f']
        qemu_args += p['devices']
        vm = ['npx', 'tsx', os.path.join(HERE, 'fixture-vm.ts'), '--workdir', workdir, '--machine', p['machine'],
              '--modules', p['modules'], '--hook', os.path.join(HERE, 'fixture-vm-guest.sh'), '--timeout', '600']
        for a in qemu_args:
            vm += ['--qemu-arg=' + a]
        if keep:
            vm.append('--keep')
        return subprocess.call(vm + ['--', sys.executable, os.path.abspath(__file__), profile, '--workdir', workdir, '--dest', dest], cwd=REPO)
    q = Qga(os.environ['QGA_VM_SOCKET'])
    pid = q.cmd('guest-exec', path='/bin/bash',
                arg=[os.path.join(HERE, 'fixture-vm-inside.sh'), '/root/qga-fx'], **{'capture-output': True})['pid']
    while True:
        st = q.cmd('guest-exec-status', pid=pid)
        if st.get('exited'):
            break
        time.sleep(1)
    sys.stderr.write(base64.b64decode(st.get('out-data', '')).decode(errors='replace'))
    sys.stderr.write(base64.b64decode(st.get('err-data', '')).decode(errors='replace'))
    if st.get('exitcode') != 0:
        raise SystemExit(f'capture in the guest failed: {st}')
    h = q.cmd('guest-file-open', path='/root/qga-fx.tgz', mode='r')
    data = b''
    while True:
        r = q.cmd('guest-file-read', handle=h, count=1 << 20)
        data += base64.b64decode(r.get('buf-b64', ''))
        if r['eof'] or r['count'] == 0:
            break
    q.cmd('guest-file-close', handle=h)
    shutil.rmtree(dest, ignore_errors=True)
    os.makedirs(dest)
    with tarfile.open(fileobj=io.BytesIO(data)) as t:
        t.extractall(os.path.join(workdir, 'unpacked'))
    src = os.path.join(workdir, 'unpacked')
    for entry in os.listdir(os.path.join(src, 'tree')):
        shutil.move(os.path.join(src, 'tree', entry), os.path.join(dest, entry))
    for extra in ('expected-7.2', 'expected-newest'):
        if os.path.isdir(os.path.join(src, extra)):
            shutil.move(os.path.join(src, extra), os.path.join(dest, extra))
    for f, to in (('ours.json', 'ours-vm.json'), ('mounts.txt', 'mounts.txt'), ('devices.txt', 'devices.txt')):
        if os.path.exists(os.path.join(src, f)):
            shutil.move(os.path.join(src, f), os.path.join(dest, to))
    shutil.rmtree(src, ignore_errors=True)
    print(f'fixture written to {dest}')
    return 0


if __name__ == '__main__':
    sys.exit(main())
