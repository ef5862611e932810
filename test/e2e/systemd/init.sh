#!/bin/busybox sh
# /init of the systemd e2e guest's initramfs: load the host kernel's modules the guest needs (its image
# carries no kernel), mount the Debian image (virtio-blk, /dev/vda) and hand over to systemd.
/bin/busybox --install -s /bin
export PATH=/bin
mount -t devtmpfs devtmpfs /dev
exec </dev/console >/dev/console 2>&1
mount -t proc proc /proc
mount -t sysfs sysfs /sys
fail() { echo "QGA-E2E-FAIL: $*"; sleep 1; poweroff -f; }
while read -r m; do
  insmod "/lib/modules/$m" || fail "insmod $m"
done </modules.list
i=0
while [ ! -b /dev/vda ]; do
  i=$((i + 1))
  [ $i -gt 100 ] && fail "no /dev/vda"
  sleep 0.1
done
mkdir -p /newroot
mount -t ext4 -o ro /dev/vda /newroot || fail "mount /dev/vda"
umount /proc /sys
mount --move /dev /newroot/dev
exec switch_root /newroot /sbin/init
