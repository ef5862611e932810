#!/usr/bin/env bash
# fixture-vm.sh - a copy of /work/shared/vm/qga-vm.sh adapted to boot guests with many kinds of disks, for
# the guest-get-fsinfo / guest-get-disks fixtures (tools/fixture-vm-capture.sh drives it). Changes from
# the original: --machine, --modules (extra guest modules), --hook (a host-visible script that stage 2
# runs after its own setup, e.g. to start udevd and mount the disks); everything else is unchanged.
#
# qga-vm.sh - boot a throw-away Linux VM whose root filesystem is the HOST's
# root filesystem (read-only over virtio-9p, made writable in the guest with a
# tmpfs overlay), with a virtio-serial port "org.qemu.guest_agent.0" wired to a
# unix socket on the host, and run a guest agent command inside it.
#
#   qga-vm.sh start [options] [-- AGENT-COMMAND [ARGS...]]
#   qga-vm.sh build [options] [-- AGENT-COMMAND [ARGS...]]   (kernel/initrd/disk only)
#   qga-vm.sh stop   [--workdir DIR]
#   qga-vm.sh status [--workdir DIR]
#   qga-vm.sh qmp    [--workdir DIR] '{"execute":"query-status"}'
#
# Default agent command (Debian's qemu-guest-agent, as a guest would run it):
#   /usr/sbin/qemu-ga -m virtio-serial -p /dev/virtio-ports/org.qemu.guest_agent.0
#
# Needs (Debian): qemu-system-x86 linux-image-amd64 busybox-static e2fsprogs
#                 kmod python3 (+ qemu-guest-agent for the default command)
# See README.md next to this script.
set -euo pipefail

PROG=$(basename "$0")

die() { echo "$PROG: error: $*" >&2; exit 1; }
log() { echo "$PROG: $*" >&2; }

usage() {
  cat <<EOF
usage: $PROG start [options] [-- AGENT-COMMAND [ARGS...]]
       $PROG build [options] [-- AGENT-COMMAND [ARGS...]]
       $PROG stop   [--workdir DIR]
       $PROG status [--workdir DIR]
       $PROG qmp    [--workdir DIR] JSON-COMMAND

start options:
  --workdir DIR      state dir (pidfile, logs, sockets, disk image, initrd)
                     default: \${TMPDIR:-/tmp}/qga-vm-\$(id -u)   [env QGA_VM_WORKDIR]
  --socket PATH      host unix socket of the guest agent channel
                     default: WORKDIR/qga.sock
  --cmd STRING       agent command as one shell string (run by bash -c in the guest)
  --accel A          auto|kvm|tcg (default auto: kvm only if kvm_intel/kvm_amd is
                     loaded and /dev/kvm is usable, else tcg)   [env QGA_VM_ACCEL]
  --cpu MODEL        QEMU -cpu model (default: host with kvm, max with tcg)
  --smp N            vCPUs online at boot (default 2); maxcpus = --maxcpus (default 4)
  --maxcpus N
  --mem SIZE         boot RAM (default 512M); slots=2,maxmem=--maxmem (default 2G)
  --maxmem SIZE
  --data-size SIZE   size of the ext4 data disk mounted at /mnt/data (default 64M)
  --no-data          no data disk
  --keep-data        reuse WORKDIR/data.img instead of recreating it
  --no-nic           no virtio-net NIC (default: one NIC with no backend at all,
                     so guest-network-get-interfaces has a MAC/IP to report but
                     no packet ever leaves QEMU)
  --respawn          restart the agent command whenever it exits
  --guest-user NAME  create user NAME (useradd -m, no password) in the guest at boot
                     (repeatable)
  --kernel PATH      kernel image (default: newest /boot/vmlinuz-*); modules must be
                     in /lib/modules/VERSION, VERSION taken from the vmlinuz-VERSION name
  --no-pvh           boot the bzImage through SeaBIOS instead of the uncompressed
                     vmlinux through PVH (PVH, the default, saves ~2 s of in-guest
                     decompression under TCG; the vmlinux is cached in WORKDIR)
  --append STRING    extra kernel command line
  --wait MODE        ping (default): wait until the agent answers guest-ping;
                     launch: wait until the guest has launched the agent command;
                     none: return right after QEMU started
  --timeout S        readiness timeout in seconds (default 180)
  --qemu-arg ARG     extra QEMU argument (repeatable)
  --machine M        QEMU machine type (default q35)
  --modules LIST     extra guest kernel modules (space separated; dependencies are added)
  --hook PATH        script (a path the guest sees, i.e. on the host root) run by stage 2 with bash

build takes the start options but boots nothing: it prepares the kernel (PVH
vmlinux), initrd.cpio and data.img in WORKDIR and writes WORKDIR/build.env
(shell assignments BOOT_KERNEL INITRD DATA_IMG APPEND KVER ACCEL) for other
launchers, e.g. libvirt/virsh-e2e.sh.

Files in WORKDIR: qemu.pid, qemu.log, console.log (guest kernel + init),
agent.log (agent stdout/stderr), qmp.sock (free for tests), qmp-ctl.sock (used by
stop/status/qmp), qga.sock (default agent socket), data.img, initrd.cpio.
EOF
}

# ---------------------------------------------------------------- helpers
qmp_call() { # qmp_call SOCKET JSON  -> prints the reply (one JSON line)
  python3 - "$1" "$2" <<'PYEOF'
import json, socket, sys
path, cmd = sys.argv[1], sys.argv[2]
s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
s.settimeout(10)
s.connect(path)
f = s.makefile("rwb", buffering=0)
def read_reply():
    while True:
        line = f.readline()
        if not line:
            return None
        msg = json.loads(line)
        if "return" in msg or "error" in msg:
            return msg
json.loads(f.readline())                       # greeting
f.write(b'{"execute":"qmp_capabilities"}\n'); read_reply()
f.write(cmd.encode() + b"\n")
try:
    r = read_reply()
except (socket.timeout, ConnectionResetError):
    r = None
print(json.dumps(r))
PYEOF
}

qga_ping_loop() { # qga_ping_loop SOCKET TIMEOUT PIDFILE -> 0 when guest-ping answered
  python3 - "$1" "$2" "$3" <<'PYEOF'
import json, os, random, socket, sys, time
path, timeout, pidfile = sys.argv[1], float(sys.argv[2]), sys.argv[3]
deadline = time.time() + timeout
def alive():
    try:
        os.kill(int(open(pidfile).read().strip()), 0); return True
    except Exception:
        return False
def replies(buf):
    # complete JSON lines after the last 0xFF (guest-sync-delimited framing)
    if b"\xff" in buf:
        buf = buf[buf.rindex(b"\xff") + 1:]
    out = []
    for line in buf.split(b"\n")[:-1]:
        try:
            out.append(json.loads(line))
        except ValueError:
            pass
    return out
while time.time() < deadline:
    if not alive():
        print("qemu exited", file=sys.stderr); sys.exit(2)
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    try:
        s.connect(path)
        s.settimeout(0.5)
        sent, buf, last = set(), b"", 0.0
        # one connection; resend a guest-sync-delimited every second until one is answered
        while time.time() < deadline and alive():
            if time.time() - last >= 1.0:
                sid = random.randint(1, 2**31); sent.add(sid); last = time.time()
                s.sendall(b"\xff" + json.dumps({"execute": "guest-sync-delimited",
                                                "arguments": {"id": sid}}).encode() + b"\n")
            try:
                chunk = s.recv(4096)
            except socket.timeout:
                continue
            if not chunk:
                raise OSError("eof")
            buf += chunk
            if any(r.get("return") in sent for r in replies(buf)):
                break
        else:
            break
        s.settimeout(10)
        s.sendall(b'{"execute":"guest-ping"}\n')
        buf = b""
        while True:
            chunk = s.recv(4096)
            if not chunk:
                raise OSError("eof")
            buf += chunk
            if any(r.get("return") == {} for r in replies(buf)):
                s.close(); sys.exit(0)
    except (OSError, ValueError):
        time.sleep(0.2)
    finally:
        s.close()
sys.exit(1)
PYEOF
}

extract_vmlinux() { # extract_vmlinux BZIMAGE OUT -> 0 if OUT is an ELF vmlinux with a PVH entry note
  python3 - "$1" "$2" <<'PYEOF'
import gzip, lzma, shutil, struct, subprocess, sys, zlib
src, dst = sys.argv[1], sys.argv[2]
data = open(src, "rb").read()
def has_pvh_note(elf):
    if elf[:4] != b"\x7fELF" or elf[4] != 2:
        return False
    phoff, = struct.unpack_from("<Q", elf, 0x20)
    phentsize, phnum = struct.unpack_from("<HH", elf, 0x36)
    for i in range(phnum):
        ptype, _, off, _, _, filesz, _, _ = struct.unpack_from("<IIQQQQQQ", elf, phoff + i * phentsize)
        if ptype != 4:                      # PT_NOTE
            continue
        p, end = off, off + filesz
        while p + 12 <= end:
            namesz, descsz, ntype = struct.unpack_from("<III", elf, p)
            name = elf[p + 12:p + 12 + namesz].rstrip(b"\0")
            if name == b"Xen" and ntype == 18:   # XEN_ELFNOTE_PHYS32_ENTRY
                return True
            p += 12 + ((namesz + 3) & ~3) + ((descsz + 3) & ~3)
    return False
def candidates():
    i = data.find(b"\xfd7zXZ\x00")
    if i >= 0:
        yield lambda: lzma.LZMADecompressor(format=lzma.FORMAT_XZ).decompress(data[i:])
    i = data.find(b"\x28\xb5\x2f\xfd")
    if i >= 0 and shutil.which("zstd"):
        yield lambda: subprocess.run(["zstd", "-qdc"], input=data[i:], capture_output=True).stdout
    i = data.find(b"\x1f\x8b\x08")
    if i >= 0:
        yield lambda: zlib.decompressobj(16 + zlib.MAX_WBITS).decompress(data[i:])
for c in candidates():
    try:
        elf = c()
    except Exception:
        continue
    if elf and has_pvh_note(elf):
        open(dst, "wb").write(elf)
        sys.exit(0)
sys.exit(1)
PYEOF
}

pid_alive() { [[ -s "$1" ]] && kill -0 "$(cat "$1")" 2>/dev/null; }

# ---------------------------------------------------------------- args
SUB=${1:-}
[[ -n "$SUB" ]] || { usage; exit 2; }
shift || true
case "$SUB" in -h|--help|help) usage; exit 0;; esac

WORKDIR=${QGA_VM_WORKDIR:-${TMPDIR:-/tmp}/qga-vm-$(id -u)}
SOCK=""
AGENT_CMD=""
ACCEL=${QGA_VM_ACCEL:-auto}
SMP=2; MAXCPUS=4; MEM=512M; MAXMEM=2G
DATA_SIZE=64M; WITH_DATA=1; KEEP_DATA=0; WITH_NIC=1; RESPAWN=0; GUEST_USERS=""
PVH=1; CPU=""; KERNEL=""; EXTRA_APPEND=""; WAIT=ping; TIMEOUT=180
EXTRA_QEMU=()
QMP_JSON=""
MACHINE=q35; EXTRA_MODULES=""; HOOK=""

while [[ $# -gt 0 ]]; do
  case "$1" in
    --workdir) WORKDIR=$2; shift 2;;
    --socket) SOCK=$2; shift 2;;
    --cmd) AGENT_CMD=$2; shift 2;;
    --accel) ACCEL=$2; shift 2;;
    --cpu) CPU=$2; shift 2;;
    --smp) SMP=$2; shift 2;;
    --maxcpus) MAXCPUS=$2; shift 2;;
    --mem) MEM=$2; shift 2;;
    --maxmem) MAXMEM=$2; shift 2;;
    --data-size) DATA_SIZE=$2; shift 2;;
    --no-data) WITH_DATA=0; shift;;
    --keep-data) KEEP_DATA=1; shift;;
    --no-nic) WITH_NIC=0; shift;;
    --respawn) RESPAWN=1; shift;;
    --guest-user) [[ $2 =~ ^[a-z_][a-z0-9_-]*$ ]] || die "bad --guest-user name $2"; GUEST_USERS+="$2 "; shift 2;;
    --kernel) KERNEL=$2; shift 2;;
    --no-pvh) PVH=0; shift;;
    --append) EXTRA_APPEND=$2; shift 2;;
    --wait) WAIT=$2; shift 2;;
    --timeout) TIMEOUT=$2; shift 2;;
    --qemu-arg) EXTRA_QEMU+=("$2"); shift 2;;
    --machine) MACHINE=$2; shift 2;;
    --modules) EXTRA_MODULES=$2; shift 2;;
    --hook) HOOK=$2; shift 2;;
    -h|--help) usage; exit 0;;
    --) shift; if [[ $# -gt 0 ]]; then AGENT_CMD=$(printf '%q ' "$@"); fi; break;;
    -*) die "unknown option $1";;
    *) if [[ "$SUB" == qmp && -z "$QMP_JSON" ]]; then QMP_JSON=$1; shift; else die "unexpected argument $1"; fi;;
  esac
done

mkdir -p "$WORKDIR"
WORKDIR=$(cd "$WORKDIR" && pwd)
PIDFILE=$WORKDIR/qemu.pid
QMP_SOCK=$WORKDIR/qmp.sock
QMP_CTL=$WORKDIR/qmp-ctl.sock
[[ -n "$SOCK" ]] || SOCK=$WORKDIR/qga.sock
[[ -n "$AGENT_CMD" ]] || AGENT_CMD="/usr/sbin/qemu-ga -m virtio-serial -p /dev/virtio-ports/org.qemu.guest_agent.0"

# ---------------------------------------------------------------- stop/status/qmp
case "$SUB" in
  stop)
    if ! pid_alive "$PIDFILE"; then log "not running"; rm -f "$PIDFILE"; exit 0; fi
    PID=$(cat "$PIDFILE")
    qmp_call "$QMP_CTL" '{"execute":"quit"}' >/dev/null 2>&1 || true
    for _ in $(seq 1 100); do kill -0 "$PID" 2>/dev/null || break; sleep 0.1; done
    if kill -0 "$PID" 2>/dev/null; then log "QMP quit did not stop pid $PID, sending SIGTERM"; kill "$PID" || true; sleep 1; fi
    if kill -0 "$PID" 2>/dev/null; then log "sending SIGKILL to pid $PID"; kill -9 "$PID" || true; fi
    rm -f "$PIDFILE"
    log "stopped (pid $PID)"
    exit 0;;
  status)
    if pid_alive "$PIDFILE"; then
      echo "running pid=$(cat "$PIDFILE") $(qmp_call "$QMP_CTL" '{"execute":"query-status"}')"
      exit 0
    fi
    echo "not running"; exit 1;;
  qmp)
    [[ -n "$QMP_JSON" ]] || die "qmp needs a JSON command"
    pid_alive "$PIDFILE" || die "not running"
    qmp_call "$QMP_CTL" "$QMP_JSON"; exit 0;;
  start|build) ;;
  *) usage; exit 2;;
esac

# ---------------------------------------------------------------- start
pid_alive "$PIDFILE" && die "a VM is already running from $WORKDIR (pid $(cat "$PIDFILE")); run '$PROG stop --workdir $WORKDIR'"
for s in "$SOCK" "$QMP_SOCK" "$QMP_CTL"; do
  [[ ${#s} -lt 100 ]] || die "socket path too long for AF_UNIX (${#s} chars): $s -- use a shorter --workdir/--socket"
done
command -v qemu-system-x86_64 >/dev/null || die "qemu-system-x86_64 missing (apt-get install qemu-system-x86)"
command -v python3 >/dev/null || die "python3 missing"
BUSYBOX=${QGA_VM_BUSYBOX:-/bin/busybox}
[[ -x "$BUSYBOX" ]] || die "busybox missing (apt-get install busybox-static)"
if ldd "$BUSYBOX" >/dev/null 2>&1; then die "$BUSYBOX is dynamically linked; apt-get install busybox-static"; fi

if [[ -z "$KERNEL" ]]; then
  KERNEL=$(ls -1 /boot/vmlinuz-* 2>/dev/null | sort -V | tail -n1 || true)
  [[ -n "$KERNEL" ]] || die "no /boot/vmlinuz-* (apt-get install linux-image-amd64)"
fi
[[ -r "$KERNEL" ]] || die "cannot read kernel $KERNEL"
KVER=$(basename "$KERNEL"); KVER=${KVER#vmlinuz-}
[[ -d /lib/modules/$KVER ]] || die "/lib/modules/$KVER missing (the guest loads its modules from there)"

case "$ACCEL" in
  auto)
    if [[ -r /dev/kvm && -w /dev/kvm ]] && [[ -d /sys/module/kvm_intel || -d /sys/module/kvm_amd ]]; then ACCEL=kvm; else ACCEL=tcg; fi;;
  kvm|tcg) ;;
  *) die "--accel must be auto, kvm or tcg";;
esac
if [[ $ACCEL == kvm ]]; then ACCEL_ARGS=(-accel kvm -cpu "${CPU:-host}"); else ACCEL_ARGS=(-accel tcg,thread=multi -cpu "${CPU:-max}"); fi

BOOT_KERNEL=$KERNEL
if [[ $PVH == 1 ]]; then
  VMLINUX=$WORKDIR/vmlinux-$KVER
  if [[ ! -s $VMLINUX || $KERNEL -nt $VMLINUX ]]; then
    rm -f "$VMLINUX"
    extract_vmlinux "$KERNEL" "$VMLINUX.tmp" && mv "$VMLINUX.tmp" "$VMLINUX" || { rm -f "$VMLINUX.tmp"; log "no PVH-bootable vmlinux in $KERNEL; booting it through SeaBIOS"; }
  fi
  if [[ -s $VMLINUX ]]; then BOOT_KERNEL=$VMLINUX; fi
fi

rm -f "$WORKDIR"/{qemu.log,console.log,agent.log,qmp.sock,qmp-ctl.sock} "$SOCK"

# --- initramfs ---------------------------------------------------------------
IR=$WORKDIR/initramfs
rm -rf "$IR"; mkdir -p "$IR"/{bin,lib/modules,qga-vm,proc,sys,dev,lower,rw,newroot}
cp "$BUSYBOX" "$IR/bin/busybox"
MODULES="virtio_pci virtio_console virtio_blk virtio_net virtio_rng 9pnet_virtio 9p overlay ext4 $EXTRA_MODULES"
: > "$IR/modules.list"
declare -A SEEN=()
for m in $MODULES; do
  while read -r kind path _; do
    [[ $kind == insmod ]] || continue
    [[ -n ${SEEN[$path]:-} ]] && continue
    SEEN[$path]=1
    base=$(basename "$path"); base=${base%.xz}; base=${base%.zst}; base=${base%.gz}
    case "$path" in
      *.ko.xz) xz -dc "$path" > "$IR/lib/modules/$base";;
      *.ko.zst) zstd -qdc "$path" > "$IR/lib/modules/$base";;
      *.ko.gz) gzip -dc "$path" > "$IR/lib/modules/$base";;
      *) cp "$path" "$IR/lib/modules/$base";;
    esac
    echo "$base" >> "$IR/modules.list"
  done < <(modprobe -S "$KVER" --show-depends "$m" 2>/dev/null || /sbin/modprobe -S "$KVER" --show-depends "$m")
done
printf '%s\n' "$AGENT_CMD" > "$IR/qga-vm/cmd"
echo "$RESPAWN" > "$IR/qga-vm/respawn"
echo "$GUEST_USERS" > "$IR/qga-vm/users"
echo "$HOOK" > "$IR/qga-vm/hook"

cat > "$IR/init" <<'EOF'
#!/bin/busybox sh
# stage 1 (initramfs): load modules, mount host root (9p, ro) + tmpfs overlay, switch_root
/bin/busybox --install -s /bin
export PATH=/bin
mount -t devtmpfs devtmpfs /dev
exec </dev/console >/dev/console 2>&1
mount -t proc proc /proc
mount -t sysfs sysfs /sys
echo "QGA-VM: stage1 $(cut -d' ' -f1 /proc/uptime)s"
fail() { echo "QGA-VM-FAIL: $*"; sleep 1; poweroff -f; }
for m in $(cat /modules.list); do insmod /lib/modules/$m || echo "QGA-VM: insmod $m failed"; done
mount -t 9p -o ro,trans=virtio,version=9p2000.L,msize=512000,cache=loose hostroot /lower || fail "mount 9p hostroot"
mount -t tmpfs -o mode=0755 rw /rw || fail "tmpfs"
mkdir -p /rw/upper /rw/work
mount -t overlay -o lowerdir=/lower,upperdir=/rw/upper,workdir=/rw/work overlay /newroot || fail "overlay"
mkdir -p /newroot/qga-vm
cp -a /qga-vm/. /newroot/qga-vm/
cp /bin/busybox /newroot/qga-vm/busybox
ln -sf busybox /newroot/qga-vm/init
# busybox init configuration (the host's /etc/inittab, if any, is shadowed in the overlay)
cat > /newroot/etc/inittab <<'EOT'
::sysinit:/qga-vm/busybox sh /qga-vm/stage2.sh
::once:/qga-vm/busybox sh /qga-vm/run-agent.sh
::ctrlaltdel:/qga-vm/busybox reboot
::shutdown:/qga-vm/busybox sh /qga-vm/stop.sh
EOT
# shutdown(8)/poweroff/reboot/halt/systemctl stand-ins that signal busybox init
put() { for d in $2; do [ -d /newroot$d ] && [ ! -L /newroot$d ] || continue
  rm -f /newroot$d/$1; cp /qga-vm/power.sh /newroot$d/$1; chmod 755 /newroot$d/$1; done; }
for f in shutdown poweroff reboot halt; do put $f "/sbin /usr/sbin"; done
put systemctl "/bin /usr/bin"
umount /proc /sys
mount --move /dev /newroot/dev
exec switch_root /newroot /qga-vm/init
EOF
chmod 755 "$IR/init"

cat > "$IR/qga-vm/power.sh" <<'EOF'
#!/qga-vm/busybox sh
# Stand-in for shutdown(8), poweroff, reboot, halt and "systemctl poweroff|reboot|halt"
# in the qga-vm guest (PID 1 is busybox init, not systemd).
# qemu-ga runs: /sbin/shutdown -h -P|-H|-r +0 "hypervisor initiated shutdown"
BB=/qga-vm/busybox
name=${0##*/}
act=poweroff
case "$name" in
  reboot) act=reboot;; halt) act=halt;;
  systemctl)
    case "${1:-}" in
      poweroff|reboot|halt) act=$1;;
      is-system-running) echo running; exit 0;;
      *) echo "systemctl: systemd is not running in this qga-vm guest" >&2; exit 1;;
    esac;;
  shutdown)
    for a in "$@"; do
      case "$a" in
        -r|--reboot) act=reboot;;
        -H|--halt) act=halt;;
        -c) echo "shutdown: nothing to cancel" >&2; exit 0;;
      esac
    done;;
esac
for a in "$@"; do case "$a" in -f|--force) exec $BB $act -f;; esac; done
echo "QGA-VM: $name $* -> $act" > /dev/console
exec $BB $act
EOF

cat > "$IR/qga-vm/stage2.sh" <<'EOF'
# stage 2 (busybox init sysinit, real root = overlay over the host root)
BB=/qga-vm/busybox
export PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin
$BB mount -t proc proc /proc
$BB mount -t sysfs sysfs /sys
$BB mkdir -p /dev/pts /dev/shm /dev/virtio-ports
$BB mount -t devpts -o gid=5,mode=620,ptmxmode=666 devpts /dev/pts
$BB mount -t tmpfs -o mode=1777 tmpfs /dev/shm
$BB mount -t tmpfs -o mode=0755 tmpfs /run
$BB mount -t tmpfs -o mode=1777 tmpfs /tmp
$BB mkdir -p /run/lock /var/log
$BB mount -t cgroup2 cgroup2 /sys/fs/cgroup 2>/dev/null
$BB ln -sf /proc/self/fd /dev/fd; $BB ln -sf /proc/self/fd/0 /dev/stdin
$BB ln -sf /proc/self/fd/1 /dev/stdout; $BB ln -sf /proc/self/fd/2 /dev/stderr
[ -e /dev/ptmx ] || $BB ln -sf pts/ptmx /dev/ptmx
# udev is not running: create the /dev/virtio-ports/NAME links ourselves
for p in /sys/class/virtio-ports/*; do
  [ -r "$p/name" ] || continue
  n=$($BB cat "$p/name"); [ -n "$n" ] && $BB ln -sf "../${p##*/}" "/dev/virtio-ports/$n"
done
echo qga-guest > /proc/sys/kernel/hostname
echo qga-guest > /etc/hostname
$BB cat /proc/sys/kernel/random/uuid | $BB tr -d '-' > /etc/machine-id
$BB ip link set lo up
if [ -e /sys/class/net/eth0 ]; then
  $BB ip link set eth0 up
  $BB ip addr add 192.0.2.15/24 dev eth0   # TEST-NET-1: the NIC has no backend, nothing leaves QEMU
fi
# data disk: the virtio-blk disk whose serial is qga-data0
for b in /sys/block/vd*; do
  [ "$($BB cat $b/serial 2>/dev/null)" = qga-data0 ] || continue
  $BB mkdir -p /mnt/data
  $BB mount -t ext4 /dev/${b##*/} /mnt/data && echo "QGA-VM: /dev/${b##*/} mounted on /mnt/data"
done
for u in $($BB cat /qga-vm/users 2>/dev/null); do
  /usr/sbin/useradd -m -s /bin/sh "$u" && echo "QGA-VM: user $u created"
done
HOOK=$($BB cat /qga-vm/hook 2>/dev/null)
if [ -n "$HOOK" ]; then
  echo "QGA-VM: hook $HOOK"
  /bin/bash "$HOOK" > /dev/console 2>&1 || echo "QGA-VM: hook failed rc=$?"
fi
echo "QGA-VM: stage2 done $($BB cut -d' ' -f1 /proc/uptime)s"
EOF

cat > "$IR/qga-vm/run-agent.sh" <<'EOF'
BB=/qga-vm/busybox
export PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin HOME=/root LANG=C.UTF-8
cd /
LOG=/dev/virtio-ports/qga-vm.agent-log
[ -e $LOG ] || LOG=/dev/console
CMD=$($BB cat /qga-vm/cmd)
while :; do
  echo "QGA-VM-READY launching agent at $($BB cut -d' ' -f1 /proc/uptime)s: $CMD"
  /bin/bash -c "$CMD" </dev/null >$LOG 2>&1
  rc=$?
  echo "QGA-VM: agent exited rc=$rc at $($BB cut -d' ' -f1 /proc/uptime)s"
  [ "$($BB cat /qga-vm/respawn)" = 1 ] || break
  $BB sleep 1
done
EOF

cat > "$IR/qga-vm/stop.sh" <<'EOF'
BB=/qga-vm/busybox
echo "QGA-VM: shutting down"
$BB sync
if $BB grep -q ' /mnt/data ' /proc/mounts; then
  $BB umount /mnt/data 2>/dev/null || $BB mount -o remount,ro /mnt/data
fi
$BB sync
EOF

( cd "$IR" && find . | "$BUSYBOX" cpio -o -H newc 2>/dev/null ) > "$WORKDIR/initrd.cpio"

esc() { printf '%s' "${1//,/,,}"; }   # QEMU option escaping of commas

# --- data disk ---------------------------------------------------------------
DATA_ARGS=()
if [[ $WITH_DATA == 1 ]]; then
  if [[ $KEEP_DATA == 0 || ! -f $WORKDIR/data.img ]]; then
    rm -f "$WORKDIR/data.img"
    truncate -s "$DATA_SIZE" "$WORKDIR/data.img"
    mkfs.ext4 -q -F -L qga-data "$WORKDIR/data.img" || die "mkfs.ext4 failed (apt-get install e2fsprogs)"
  fi
  DATA_ARGS=(-blockdev "driver=file,node-name=data0f,filename=$(esc "$WORKDIR/data.img"),discard=unmap"
             -blockdev "driver=raw,node-name=data0,file=data0f,discard=unmap"
             -device "virtio-blk-pci,drive=data0,serial=qga-data0,id=datadisk0")
fi
NIC_ARGS=()
if [[ $WITH_NIC == 1 ]]; then NIC_ARGS=(-device virtio-net-pci,mac=52:54:00:12:34:56,id=nic0); fi

APPEND="console=ttyS0 panic=-1 quiet loglevel=4 8250.nr_uarts=1 $EXTRA_APPEND"

if [[ $SUB == build ]]; then
  DATA_IMG=""; [[ $WITH_DATA == 1 ]] && DATA_IMG=$WORKDIR/data.img
  { printf 'BOOT_KERNEL=%q\n' "$BOOT_KERNEL"; printf 'INITRD=%q\n' "$WORKDIR/initrd.cpio"
    printf 'DATA_IMG=%q\n' "$DATA_IMG"; printf 'APPEND=%q\n' "$APPEND"
    printf 'KVER=%q\n' "$KVER"; printf 'ACCEL=%q\n' "$ACCEL"; } > "$WORKDIR/build.env"
  echo "BUILT kernel=$BOOT_KERNEL initrd=$WORKDIR/initrd.cpio data=${DATA_IMG:-none} env=$WORKDIR/build.env"
  exit 0
fi

QEMU=(qemu-system-x86_64
  -name qga-vm,debug-threads=on
  -machine "$MACHINE" "${ACCEL_ARGS[@]}"
  -smp "$SMP,maxcpus=$MAXCPUS" -m "$MEM,slots=2,maxmem=$MAXMEM"
  -nodefaults -no-user-config -display none -no-shutdown
  -rtc base=utc
  -kernel "$BOOT_KERNEL" -initrd "$WORKDIR/initrd.cpio" -append "$APPEND"
  -chardev "file,id=con0,path=$(esc "$WORKDIR/console.log")" -serial chardev:con0
  -fsdev local,id=hostroot,path=/,security_model=none,readonly=on,multidevs=remap
  -device virtio-9p-pci,fsdev=hostroot,mount_tag=hostroot
  -device virtio-serial-pci,id=vser0
  -chardev "socket,id=qga0,path=$(esc "$SOCK"),server=on,wait=off"
  -device virtserialport,bus=vser0.0,chardev=qga0,name=org.qemu.guest_agent.0
  -chardev "file,id=agentlog,path=$(esc "$WORKDIR/agent.log")"
  -device virtserialport,bus=vser0.0,chardev=agentlog,name=qga-vm.agent-log
  -device virtio-rng-pci
  "${DATA_ARGS[@]}" "${NIC_ARGS[@]}"
  -chardev "socket,id=qmp0,path=$(esc "$QMP_SOCK"),server=on,wait=off" -mon chardev=qmp0,mode=control
  -chardev "socket,id=qmp1,path=$(esc "$QMP_CTL"),server=on,wait=off" -mon chardev=qmp1,mode=control
  -pidfile "$PIDFILE"
  "${EXTRA_QEMU[@]}")

printf '%q ' "${QEMU[@]}" > "$WORKDIR/qemu.cmdline"; echo >> "$WORKDIR/qemu.cmdline"
T0=$(date +%s.%N)
rm -f "$PIDFILE"
setsid "${QEMU[@]}" </dev/null >"$WORKDIR/qemu.log" 2>&1 &
for _ in $(seq 1 100); do [[ -s $PIDFILE ]] && break; sleep 0.1; done
QPID=$(cat "$PIDFILE" 2>/dev/null || true)
if [[ -z "$QPID" ]] || ! kill -0 "$QPID" 2>/dev/null; then cat "$WORKDIR/qemu.log" >&2; rm -f "$PIDFILE"; die "qemu failed to start"; fi
log "qemu pid $QPID accel=$ACCEL kernel=$KVER$([[ $BOOT_KERNEL != "$KERNEL" ]] && echo ' (PVH)') workdir=$WORKDIR"
log "agent socket: $SOCK   qmp: $QMP_SOCK   console: $WORKDIR/console.log   agent log: $WORKDIR/agent.log"

elapsed() { python3 -c "import sys,time; print('%.1f' % (time.time()-float(sys.argv[1])))" "$T0"; }
case "$WAIT" in
  none) echo "STARTED pid=$QPID socket=$SOCK"; exit 0;;
  launch|ping)
    end=$(( $(date +%s) + TIMEOUT ))
    until grep -q 'QGA-VM-READY' "$WORKDIR/console.log" 2>/dev/null; do
      kill -0 $QPID 2>/dev/null || { tail -n 30 "$WORKDIR/console.log" >&2; die "qemu exited during boot"; }
      if grep -q 'QGA-VM-FAIL\|Kernel panic' "$WORKDIR/console.log" 2>/dev/null; then tail -n 30 "$WORKDIR/console.log" >&2; die "guest boot failed"; fi
      (( $(date +%s) < end )) || { tail -n 30 "$WORKDIR/console.log" >&2; die "timeout waiting for the guest to launch the agent"; }
      sleep 0.2
    done
    log "guest launched the agent after $(elapsed)s"
    if [[ $WAIT == ping ]]; then
      left=$(( end - $(date +%s) )); (( left > 0 )) || left=1
      if ! qga_ping_loop "$SOCK" "$left" "$PIDFILE"; then
        tail -n 20 "$WORKDIR/agent.log" >&2 || true
        die "agent did not answer guest-ping within ${TIMEOUT}s (VM left running; '$PROG stop' to stop it)"
      fi
      echo "READY pid=$QPID socket=$SOCK first-ping=$(elapsed)s accel=$ACCEL"
    else
      echo "LAUNCHED pid=$QPID socket=$SOCK t=$(elapsed)s accel=$ACCEL"
    fi;;
  *) die "--wait must be ping, launch or none";;
esac
