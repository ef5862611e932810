#!/qga-e2e/busybox sh
# Stand-in for shutdown(8), poweroff, reboot, halt and "systemctl poweroff|reboot|halt" in the e2e
# guest, where PID 1 is busybox init: it signals init, which runs stop.sh and then reboot(2).
BB=/qga-e2e/busybox
name=${0##*/}
act=poweroff
case "$name" in
  reboot) act=reboot ;;
  halt) act=halt ;;
  systemctl)
    case "${1:-}" in
      poweroff | reboot | halt) act=$1 ;;
      is-system-running) echo running; exit 0 ;;
      *) echo "systemctl: no systemd in the e2e guest" >&2; exit 1 ;;
    esac ;;
  shutdown)
    for a in "$@"; do
      case "$a" in
        -r | --reboot) act=reboot ;;
        -H | --halt) act=halt ;;
        -c) exit 0 ;;
      esac
    done ;;
esac
echo "QGA-E2E: $name $* -> $act" >/dev/console
for a in "$@"; do
  case "$a" in -f | --force) exec $BB $act -f ;; esac
done
exec $BB $act
