#!/bin/bash
# Builds the systemd e2e guest's root filesystem: Debian 12 (bookworm), systemd, udev, logind (dbus,
# libpam-systemd), Debian's nodejs and qemu-guest-agent, no recommends, no docs; the kernel is the
# host's (see guest.ts), so none here.
#   image.sh MIRROR OUTDIR
# The e2e caches the result under a hash of this file and the files it copies in (systemd/guest.ts).
set -euo pipefail
mirror=$1 out=$2
here=$(dirname "$0")
mmdebstrap --variant=minbase --mode=root --format=directory \
  --aptopt='APT::Install-Recommends "false"' \
  --dpkgopt='path-exclude=/usr/share/man/*' --dpkgopt='path-exclude=/usr/share/locale/*' \
  --dpkgopt='path-exclude=/usr/share/doc/*' --dpkgopt='path-include=/usr/share/doc/*/copyright' \
  --include=systemd,systemd-sysv,udev,dbus,libpam-systemd,e2fsprogs,nodejs,qemu-guest-agent \
  --customize-hook="cp '$here/control.sh' \"\$1/usr/local/sbin/qga-e2e-control\"" \
  --customize-hook="cp '$here/qga-e2e-control.service' \"\$1/etc/systemd/system/\"" \
  --customize-hook='chmod 755 "$1/usr/local/sbin/qga-e2e-control"' \
  --customize-hook='chroot "$1" systemctl enable qga-e2e-control.service' \
  --customize-hook='echo qga-e2e >"$1/etc/hostname"' \
  --customize-hook='printf "/dev/vda / ext4 defaults 0 1\nLABEL=e2e-data /mnt/data ext4 defaults,nofail 0 2\n" >"$1/etc/fstab"' \
  --customize-hook='mkdir -p "$1/mnt/data"' \
  --customize-hook='passwd --root "$1" -d root' \
  --customize-hook='chroot "$1" systemctl mask serial-getty@ttyS0.service getty@tty1.service getty-static.service apt-daily.timer apt-daily-upgrade.timer dpkg-db-backup.timer e2scrub_all.timer fstrim.timer e2scrub_reap.service systemd-timesyncd.service' \
  --customize-hook='rm -rf "$1/var/cache/apt/archives/"*.deb "$1/var/lib/apt/lists/"*_Packages' \
  bookworm "$out" "$mirror"
