# busybox init's shutdown action: flush and unmount the data disk before init kills everything.
BB=/qga-e2e/busybox
echo "QGA-E2E: stopping"
$BB sync
if $BB grep -q ' /mnt/data ' /proc/mounts; then
  $BB umount /mnt/data 2>/dev/null || $BB mount -o remount,ro /mnt/data
fi
$BB sync
