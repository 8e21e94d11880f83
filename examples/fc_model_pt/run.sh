#!/usr/bin/env bash
# Replay the tutorial end to end on this machine with tritonkit:
#   init -> export (TorchScript) -> validate -> serve --local --detach -> infer (HTTP, gRPC) -> test -> stop
#
# Usage: examples/fc_model_pt/run.sh [WORKDIR]     (default: a new temporary folder)
# Ports: HTTP_PORT, GRPC_PORT, METRICS_PORT (default 8000, 8001, 8002).
# Needs: tritonkit with torch and nvidia-pytriton installed (`make setup`), its venv's bin on PATH.
set -euo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
WORKDIR="${1:-$(mktemp -d -t tritonkit-demo-XXXXXX)}"
HTTP_PORT="${HTTP_PORT:-8000}"
GRPC_PORT="${GRPC_PORT:-8001}"
METRICS_PORT="${METRICS_PORT:-8002}"
REPO="$WORKDIR/model_repository"
SERVER_NAME="${SERVER_NAME:-tritonkit-demo-$$}"
SERVER_STARTED=0

step() { printf '\n==> %s\n' "$*"; }

cleanup() {
  status=$?
  if [ "$SERVER_STARTED" = 1 ]; then
    if [ "$status" != 0 ]; then echo "(failed: stopping the server)" >&2; fi
    tritonkit stop "$SERVER_NAME" >/dev/null 2>&1 || true
  fi
  exit "$status"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

command -v tritonkit >/dev/null || { echo "error: tritonkit is not on PATH (run make setup; use .venv/bin)" >&2; exit 2; }
mkdir -p "$WORKDIR"
cd "$WORKDIR"
echo "working in $WORKDIR"

step "1/7 init: a model repository and its tritonkit.yaml"
tritonkit init "$REPO"

step "2/7 export: the FC model to TorchScript, config inferred, proven against eager, golden sample saved"
tritonkit export "$HERE/fc_model.py:build" --name fc_model_pt \
  --example-input fp32:1,16 --max-batch-size 8 --repo "$REPO"
cat "$REPO/fc_model_pt/config.pbtxt"

step "3/7 validate: offline, the way Triton would load it"
tritonkit validate "$REPO"

step "4/7 serve: the real Triton server from the nvidia-pytriton wheel, in the background"
SERVER_STARTED=1
tritonkit serve --local --detach --repo "$REPO" --name "$SERVER_NAME" \
  --http-port "$HTTP_PORT" --grpc-port "$GRPC_PORT" --metrics-port "$METRICS_PORT"

step "5/7 infer over HTTP: types, shapes and the batch dim come from the server"
tritonkit infer fc_model_pt --url "localhost:$HTTP_PORT" \
  --input 'INPUT__0=[0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9, 1.0, 1.1, 1.2, 1.3, 1.4, 1.5, 1.6]'

step "6/7 infer over gRPC (random input, batch of 2) and test the golden sample"
tritonkit infer fc_model_pt --protocol grpc --url "localhost:$GRPC_PORT" --random --batch-size 2
tritonkit test --repo "$REPO" --url "localhost:$HTTP_PORT"

step "7/7 stop"
tritonkit stop "$SERVER_NAME"
SERVER_STARTED=0
echo
echo "done: the repository is in $REPO"
