# The guest agent under test, started once by busybox init. Its output goes to the agent-log
# virtio-serial port (a file on the host); the start and exit markers go to the console.
BB=/qga-e2e/busybox
. /qga-e2e/config.sh
export PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin HOME=/root LANG=C.UTF-8
cd /
log=/dev/virtio-ports/qga-e2e.agent-log
[ -e "$log" ] || log=/dev/console
/bin/sh -c "exec $E2E_AGENT" </dev/null >>"$log" 2>&1 &
pid=$!
echo "QGA-E2E-AGENT-STARTED pid=$pid at $($BB cut -d' ' -f1 /proc/uptime)s"
wait "$pid"
echo "QGA-E2E-AGENT-EXITED pid=$pid rc=$? at $($BB cut -d' ' -f1 /proc/uptime)s"
