#!/usr/bin/env bash
# Start a private Docker engine for tritonkit's tests and benchmarks (PLATFORM.md), installing
# Debian's docker.io (and debootstrap for the local CPU test image, docker-registry for the pull
# tests) when missing.
#   scripts/start-dockerd.sh [DIR]     (DIR default: /tmp/tritonkit-dockerd)
# Prints `export DOCKER_HOST=unix://DIR/docker.sock`; use: eval "$(scripts/start-dockerd.sh)".
set -euo pipefail
dir="${1:-${TRITONKIT_DOCKERD_DIR:-/tmp/tritonkit-dockerd}}"

need=()
command -v dockerd >/dev/null 2>&1 || need+=(docker.io)
command -v debootstrap >/dev/null 2>&1 || need+=(debootstrap)
# A local registry (Debian's distribution v2) lets the tests exercise a real pull with progress.
command -v docker-registry >/dev/null 2>&1 || need+=(docker-registry)
if [ "${#need[@]}" -gt 0 ]; then
  echo "installing ${need[*]}" >&2
  apt-get update -q >&2
  DEBIAN_FRONTEND=noninteractive apt-get install -y -q "${need[@]}" >&2
fi

mkdir -p "$dir"
sock="$dir/docker.sock"
if [ -f "$dir/dockerd.pid" ] && kill -0 "$(cat "$dir/dockerd.pid")" 2>/dev/null \
   && DOCKER_HOST="unix://$sock" docker info >/dev/null 2>&1; then
  echo "export DOCKER_HOST=unix://$sock"
  exit 0
fi
# setsid: the engine outlives this script and is not hit by the caller's Ctrl-C.
setsid dockerd --data-root "$dir/data" --exec-root "$dir/exec" --pidfile "$dir/dockerd.pid" \
  -H "unix://$sock" >"$dir/dockerd.log" 2>&1 </dev/null &
for _ in $(seq 1 150); do
  if DOCKER_HOST="unix://$sock" docker info >/dev/null 2>&1; then
    echo "export DOCKER_HOST=unix://$sock"
    exit 0
  fi
  sleep 0.2
done
echo "dockerd did not start; log: $dir/dockerd.log" >&2
tail -20 "$dir/dockerd.log" >&2 || true
exit 1
