#!/usr/bin/env bash
# Stop the private Docker engine started by scripts/start-dockerd.sh [DIR] (SIGTERM, then SIGKILL).
set -euo pipefail
dir="${1:-${TRITONKIT_DOCKERD_DIR:-/tmp/tritonkit-dockerd}}"
pidfile="$dir/dockerd.pid"
# The engine leaves its network-namespace mount (exec-root/netns/default) when it dies hard; a mount
# there makes the folder impossible to delete.
unmount_netns() {
  for ns in "$dir"/exec/netns/*; do
    [ -e "$ns" ] && umount "$ns" 2>/dev/null || true
  done
}
trap unmount_netns EXIT
[ -f "$pidfile" ] || exit 0
pid="$(cat "$pidfile")"
kill -TERM "$pid" 2>/dev/null || exit 0
for _ in $(seq 1 100); do
  kill -0 "$pid" 2>/dev/null || exit 0
  sleep 0.1
done
kill -KILL "$pid" 2>/dev/null || true
