# The host's own line into the e2e guest, for what the agent cannot do (while it is frozen, or dead):
# the qga-e2e.control virtio-serial port (a socket on the host, Vm.control()), one command a line, one
# answer a line. Started once by busybox init.
#   kill-agent   SIGKILL the agent; agent.sh starts it again, as a service manager would after a crash
#   agent-args [WORDS]  the extra words agent.sh puts after the agent's command line from its next
#                start on (agent.args); none: back to the plain command line
BB=/qga-e2e/busybox
. /qga-e2e/config.sh
port=/dev/virtio-ports/qga-e2e.control
[ -e "$port" ] || exit 0
exec 3<>"$port"
while :; do
  # End of file: no host on the socket. Look again a second later.
  read -r cmd <&3 || { $BB sleep 1; continue; }
  case "$cmd" in
    kill-agent)
      pid=$($BB cat "$E2E_RUN_DIR/agent.pid")
      : >"$E2E_RUN_DIR/agent.restart"
      if $BB kill -KILL "$pid"; then
        echo "killed $pid" >&3
      else
        $BB rm -f "$E2E_RUN_DIR/agent.restart"
        echo "error: cannot kill $pid" >&3
      fi ;;
    agent-args)
      $BB rm -f "$E2E_RUN_DIR/agent.args"
      echo "agent args: none" >&3 ;;
    agent-args\ *)
      echo "${cmd#agent-args }" >"$E2E_RUN_DIR/agent.args"
      echo "agent args: $($BB cat "$E2E_RUN_DIR/agent.args")" >&3 ;;
    *) echo "error: unknown command: $cmd" >&3 ;;
  esac
done
