# The guest agent under test, started by busybox init. Its output goes to the agent-log virtio-serial
# port (a file on the host); the start and exit markers go to the console. It is started again only
# when the host asked for its death (control.sh's kill-agent leaves agent.restart), never after a crash.
# The words in agent.args (control.sh's agent-args), if any, are appended to its command line.
BB=/qga-e2e/busybox
. /qga-e2e/config.sh
export PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin HOME=/root LANG=C.UTF-8
cd /
log=/dev/virtio-ports/qga-e2e.agent-log
[ -e "$log" ] || log=/dev/console
while :; do
  extra=$($BB cat "$E2E_RUN_DIR/agent.args" 2>/dev/null)
  /bin/sh -c "exec $E2E_AGENT $extra" </dev/null >>"$log" 2>&1 &
  pid=$!
  echo "$pid" >"$E2E_RUN_DIR/agent.pid"
  echo "QGA-E2E-AGENT-STARTED pid=$pid at $($BB cut -d' ' -f1 /proc/uptime)s"
  wait "$pid"
  echo "QGA-E2E-AGENT-EXITED pid=$pid rc=$? at $($BB cut -d' ' -f1 /proc/uptime)s"
  [ -e "$E2E_RUN_DIR/agent.restart" ] || break
  $BB rm -f "$E2E_RUN_DIR/agent.restart"
done
