#!/bin/bash
# Stage-2 hook of tools/fixture-vm.ts (runs inside the guest, before the agent starts): udev, so that
# the udev database (ID_SERIAL, DM_NAME) exists as on a normal guest; a device-mapper volume; and every
# test disk mounted under /mnt/<label>, plus one bind mount (10.2 lists a device once, 7.2 per mount).
export PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin
echo "QGA-FX: udev"
/lib/systemd/systemd-udevd --daemon --resolve-names=never
udevadm trigger --type=subsystems --action=add
udevadm trigger --type=devices --action=add
udevadm settle --timeout=120
dmpart=$(blkid -o device -t LABEL=qga-dm 2>/dev/null | head -n1)
if [ -n "$dmpart" ]; then
  echo "QGA-FX: dm linear over $dmpart"
  dmsetup create qgadm --table "0 $(blockdev --getsz "$dmpart") linear $dmpart 0"
  udevadm settle --timeout=60
  mkdir -p /mnt/qga-dm && mount /dev/mapper/qgadm /mnt/qga-dm
fi
for l in qga-vp1 qga-scsi0 qga-scsi3 qga-nvme qga-sata qga-usb qga-ide00 qga-ide11 qga-lsi; do
  dev=$(blkid -o device -t LABEL=$l 2>/dev/null | head -n1)
  [ -n "$dev" ] || continue
  mkdir -p /mnt/$l && mount "$dev" /mnt/$l && echo "QGA-FX: $dev on /mnt/$l"
done
if mountpoint -q /mnt/qga-scsi0; then
  mkdir -p /mnt/qga-scsi0-bind && mount --bind /mnt/qga-scsi0 /mnt/qga-scsi0-bind
fi
echo "QGA-FX: hook done"
