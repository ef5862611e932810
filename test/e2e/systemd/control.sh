#!/bin/bash
# The host's own line into the systemd e2e guest (qga-e2e-control.service), for what the agent under
# test cannot do: install packages, systemctl, journalctl, kill. One request a line, "ID BASE64(script)";
# the script runs in bash, and the answer is one line, "ID EXIT-STATUS BASE64(stdout and stderr)".
# Only the test host is on the other end of this port; the guest is a throw-away VM.
port=/dev/virtio-ports/qga-e2e.control
exec 3<>"$port"
while :; do
  # End of file: no host on the socket. Look again a moment later.
  if ! read -r id script <&3; then sleep 0.2; continue; fi
  out=$(bash -c "$(printf '%s' "$script" | base64 -d)" 2>&1 </dev/null)
  rc=$?
  printf '%s %s %s\n' "$id" "$rc" "$(printf '%s' "$out" | base64 -w0)" >&3
done
