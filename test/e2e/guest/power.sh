#!/qga-e2e/busybox sh
# Stand-in for shutdown(8), poweroff, reboot, halt and systemctl in the e2e guest, where PID 1 is
# busybox init. poweroff/reboot/halt (and "systemctl poweroff|reboot|halt") signal init, which runs
# stop.sh and then reboot(2).
#
# systemctl answers what the agents' suspend strategies ask the way systemd does: "status" of
# systemd-hybrid-sleep exits 3 (the unit exists, inactive), of any other unit 4 (no such unit), so
# the agents' hibernate and suspend go to /sys/power/state and their hybrid-sleep comes here;
# "hybrid-sleep" does what systemd-sleep does for it (HibernateMode=suspend, HibernateState=disk).
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
      status)
        shift
        [ $# -gt 0 ] || { echo "systemctl: status without a unit is not modelled in the e2e guest" >&2; exit 1; }
        for u in "$@"; do
          case "$u" in
            systemd-hybrid-sleep | systemd-hybrid-sleep.service) ;;
            *) echo "Unit ${u%.service}.service could not be found." >&2; exit 4 ;;
          esac
        done
        echo "* systemd-hybrid-sleep.service - Hybrid Suspend+Hibernate"
        echo "     Loaded: loaded (e2e stand-in; static)"
        echo "     Active: inactive (dead)"
        exit 3 ;;
      hybrid-sleep)
        echo "QGA-E2E: $name $* -> hybrid-sleep" >/dev/console
        echo suspend >/sys/power/disk && echo disk >/sys/power/state
        rc=$?
        echo "QGA-E2E: $name $*: exit status $rc" >/dev/console
        exit $rc ;;
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
