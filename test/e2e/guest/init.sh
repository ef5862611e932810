#!/bin/busybox sh
# Stage 1 of the e2e guest, /init in the initramfs: load the modules, lay a tmpfs overlay over the
# host's root (virtio-9p, read-only) and switch_root into busybox init on that overlay.
/bin/busybox --install -s /bin
export PATH=/bin
mount -t devtmpfs devtmpfs /dev
exec </dev/console >/dev/console 2>&1
mount -t proc proc /proc
mount -t sysfs sysfs /sys
say() { echo "QGA-E2E: $* at $(cut -d' ' -f1 /proc/uptime)s"; }
fail() { echo "QGA-E2E-FAIL: $*"; sleep 1; poweroff -f; }
say "stage 1"
while read -r m; do
  insmod "/lib/modules/$m" || fail "insmod $m"
done </qga-e2e/modules.list
mkdir -p /lower /rw /newroot
mount -t 9p -o ro,trans=virtio,version=9p2000.L,msize=512000,cache=loose hostroot /lower || fail "mount the host root (9p)"
mount -t tmpfs -o mode=0755 rw /rw || fail "mount the overlay's tmpfs"
mkdir -p /rw/upper /rw/work
mount -t overlay -o lowerdir=/lower,upperdir=/rw/upper,workdir=/rw/work root /newroot || fail "mount the overlay"

# Our files live in /qga-e2e on the new root; busybox init runs from there.
mkdir -p /newroot/qga-e2e
cp -a /qga-e2e/. /newroot/qga-e2e/
cp /bin/busybox /newroot/qga-e2e/busybox
ln -sf busybox /newroot/qga-e2e/init
cat >/newroot/etc/inittab <<'EOT'
::sysinit:/qga-e2e/busybox sh /qga-e2e/stage2.sh
::once:/qga-e2e/busybox sh /qga-e2e/agent.sh
::once:/qga-e2e/busybox sh /qga-e2e/control.sh
::ctrlaltdel:/qga-e2e/busybox reboot
::shutdown:/qga-e2e/busybox sh /qga-e2e/stop.sh
EOT

# No systemd in this guest: shutdown(8), poweroff, reboot, halt and systemctl become stand-ins that
# signal busybox init. Symlinked directories (merged /usr) are skipped, their target gets the file.
standin() {
  for d in $2; do
    [ -d "/newroot$d" ] && [ ! -L "/newroot$d" ] || continue
    rm -f "/newroot$d/$1"
    cp /qga-e2e/power.sh "/newroot$d/$1"
    chmod 755 "/newroot$d/$1"
  done
}
for f in shutdown poweroff reboot halt; do standin "$f" "/sbin /usr/sbin"; done
standin systemctl "/bin /usr/bin"

umount /proc /sys
mount --move /dev /newroot/dev
exec switch_root /newroot /qga-e2e/init
