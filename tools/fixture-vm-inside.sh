#!/bin/bash
# Runs inside a tools/fixture-vm.ts guest (started through guest-exec by tools/fixture-vm-capture.py):
# captures the fixture tree, then records the answers of Debian's qemu-ga 7.2 (/usr/sbin/qemu-ga) and, when
# present, Debian sid's qemu-ga (/var/tmp/qga-newest/qemu-ga-newest) run as second instances on unix
# sockets, and qga-ts's own answers on the live guest; everything is packed into OUT.tgz.
#
#   fixture-vm-inside.sh OUT        (OUT/tree, OUT/expected-7.2, OUT/expected-newest, OUT/ours.json)
set -euo pipefail
export PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin HOME=/root
here=$(cd "$(dirname "$0")" && pwd)
out=$1
rm -rf "$out" "$out.tgz"
mkdir -p "$out"
"$here/capture-fixtures.sh" "$out/tree" 2> "$out/capture.log"
COMMANDS="guest-get-fsinfo guest-get-disks guest-get-vcpus guest-get-memory-blocks guest-get-memory-block-info guest-get-diskstats guest-get-cpustats guest-get-users guest-network-get-interfaces guest-network-get-route"
ask() { # ask NAME AGENT...
  local name=$1; shift
  python3 - "$out/$name" "$@" <<PYEOF
import json, os, socket, subprocess, sys, tempfile, time
out, agent = sys.argv[1], sys.argv[2:]
d = tempfile.mkdtemp(dir='/run')
sock = os.path.join(d, 's')
p = subprocess.Popen(agent + ['-m', 'unix-listen', '-p', sock, '-t', d, '-f', d + '/pid', '-l', d + '/log'])
for _ in range(1000):
    if os.path.exists(sock): break
    time.sleep(0.01)
s = socket.socket(socket.AF_UNIX); s.connect(sock); f = s.makefile('rwb')
os.makedirs(out, exist_ok=True)
for c in "$COMMANDS".split():
    f.write(json.dumps({'execute': c}).encode() + b'\n'); f.flush()
    open(os.path.join(out, c + '.json'), 'wb').write(f.readline())
p.terminate(); p.wait()
PYEOF
}
ask expected-7.2 /usr/sbin/qemu-ga
if [ -x /var/tmp/qga-newest/qemu-ga-newest ]; then
  ask expected-newest /var/tmp/qga-newest/qemu-ga-newest
  /var/tmp/qga-newest/qemu-ga-newest --version > "$out/expected-newest/VERSION" 2>&1 || true
fi
( cd "$here/.." && node --import tsx tools/inventory-dump.ts $COMMANDS ) > "$out/ours.json" 2> "$out/ours.err" || true
cat /proc/mounts > "$out/mounts.txt"
ls -l /sys/block /dev/disk/by-id > "$out/devices.txt" 2>&1 || true
tar -czf "$out.tgz" -C "$out" .
echo "packed $out.tgz"
