# Stage 2 of the e2e guest (busybox init's sysinit), on the overlay root: the usual mounts, the
# virtio-ports links udev would make, identity, network, the data disk, the test user, and the
# optional hook (tools/fixture-vm.ts: udev and test disks).
BB=/qga-e2e/busybox
export PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin
. /qga-e2e/config.sh
say() { echo "QGA-E2E: $* at $($BB cut -d' ' -f1 /proc/uptime)s"; }

$BB mount -t proc proc /proc
$BB mount -t sysfs sysfs /sys
$BB mkdir -p /dev/pts /dev/shm /dev/virtio-ports
$BB mount -t devpts -o gid=5,mode=620,ptmxmode=666 devpts /dev/pts
$BB mount -t tmpfs -o mode=1777 shm /dev/shm

# Host paths the agent needs that a fresh /tmp or /run would hide (a checkout under /tmp):
# bind them aside first, mount the tmpfs, then move them back in place.
i=0
for p in $E2E_BINDS; do
  $BB mkdir -p "/qga-e2e/bind/$i" && $BB mount --bind "$p" "/qga-e2e/bind/$i" || say "cannot bind $p"
  i=$((i + 1))
done
$BB mount -t tmpfs -o mode=0755 run /run
$BB mount -t tmpfs -o mode=1777 tmp /tmp
i=0
for p in $E2E_BINDS; do
  $BB mkdir -p "$p" && $BB mount --move "/qga-e2e/bind/$i" "$p" && say "host path $p bound"
  i=$((i + 1))
done
$BB mkdir -p /run/lock /var/log "$E2E_RUN_DIR"
$BB mount -t cgroup2 cgroup2 /sys/fs/cgroup 2>/dev/null

$BB ln -sf /proc/self/fd /dev/fd
$BB ln -sf /proc/self/fd/0 /dev/stdin
$BB ln -sf /proc/self/fd/1 /dev/stdout
$BB ln -sf /proc/self/fd/2 /dev/stderr
[ -e /dev/ptmx ] || $BB ln -sf pts/ptmx /dev/ptmx
for p in /sys/class/virtio-ports/*; do
  [ -r "$p/name" ] || continue
  n=$($BB cat "$p/name")
  [ -n "$n" ] && $BB ln -sf "../${p##*/}" "/dev/virtio-ports/$n"
done

echo "$E2E_HOSTNAME" >/proc/sys/kernel/hostname
echo "$E2E_HOSTNAME" >/etc/hostname
$BB tr -d '-' </proc/sys/kernel/random/uuid >/etc/machine-id
$BB ip link set lo up
if [ -e /sys/class/net/eth0 ]; then
  # The NIC has no backend: nothing ever leaves QEMU. TEST-NET-1 address.
  $BB ip link set eth0 up
  $BB ip addr add 192.0.2.15/24 dev eth0
fi

for b in /sys/block/vd*; do
  [ "$($BB cat "$b/serial" 2>/dev/null)" = "$E2E_DATA_SERIAL" ] || continue
  $BB mkdir -p /mnt/data
  $BB mount -t ext4 "/dev/${b##*/}" /mnt/data && say "/dev/${b##*/} mounted on /mnt/data"
done

for u in $E2E_USERS; do
  /usr/sbin/useradd -m -s /bin/sh "$u" && say "user $u created"
done
if [ -n "$E2E_HOOK" ]; then
  say "hook $E2E_HOOK"
  /bin/bash "$E2E_HOOK" >/dev/console 2>&1 || say "hook failed with status $?"
fi
say "stage 2 done"
