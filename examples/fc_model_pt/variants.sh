#!/usr/bin/env bash
# The tutorial's multi-instance and dynamic-batching variants of fc_model_pt, measured.
#
# The tutorial edits config.pbtxt by hand (instance_group count, dynamic_batching {}), restarts the
# server and measures each time. Here: export once, serve in explicit model-control mode, then
# `tritonkit bench --sweep` loads every variant (1/2 instances x dynamic batching off/on) through
# the load API, measures it and prints the table, marking the best. Add --apply to write the winner
# to config.pbtxt and tritonkit.yaml; without it nothing is written and the original is reloaded.
#
# The same variants, written statically at export time instead:
#   tritonkit export examples/fc_model_pt/fc_model.py:build --name fc_model_pt --example-input fp32:1,16 \
#       --max-batch-size 8 --instances 2                                  # multi-instance
#   tritonkit export ... --max-batch-size 8 --dynamic-batching --max-queue-delay-us 100   # dynamic batching
#
# Usage: examples/fc_model_pt/variants.sh [WORKDIR]
# Env: HTTP_PORT/GRPC_PORT/METRICS_PORT, SWEEP_DURATION (default 2), SWEEP_CONCURRENCY (default 1,4),
#      SWEEP_PLOT (a .png path for the throughput/p99 plot; needs matplotlib),
#      BENCH_ENGINE (auto = perf_analyzer when set up, builtin, perf_analyzer).
set -euo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
WORKDIR="${1:-$(mktemp -d -t tritonkit-variants-XXXXXX)}"
HTTP_PORT="${HTTP_PORT:-8000}"
GRPC_PORT="${GRPC_PORT:-8001}"
METRICS_PORT="${METRICS_PORT:-8002}"
SERVER_NAME="${SERVER_NAME:-tritonkit-variants-$$}"
REPO="$WORKDIR/model_repository"
SERVER_STARTED=0

step() { printf '\n==> %s\n' "$*"; }
cleanup() {
  status=$?
  if [ "$SERVER_STARTED" = 1 ]; then tritonkit stop "$SERVER_NAME" >/dev/null 2>&1 || true; fi
  exit "$status"
}
trap cleanup EXIT
trap 'exit 130' INT TERM
command -v tritonkit >/dev/null || { echo "error: tritonkit is not on PATH (use .venv/bin)" >&2; exit 2; }
mkdir -p "$WORKDIR"

step "1/4 init + export fc_model_pt (1 instance, no dynamic batching: the tutorial's default)"
tritonkit init "$REPO"
tritonkit export "$HERE/fc_model.py:build" --name fc_model_pt --example-input fp32:1,16 \
  --max-batch-size 8 --repo "$REPO"

step "2/4 serve in explicit model-control mode"
SERVER_STARTED=1
tritonkit serve --local --detach --repo "$REPO" --name "$SERVER_NAME" \
  --http-port "$HTTP_PORT" --grpc-port "$GRPC_PORT" --metrics-port "$METRICS_PORT" \
  --model-control-mode explicit --load-model fc_model_pt

step "3/4 bench --sweep: instances 1,2 x dynamic batching off,on"
plot=()
if [ -n "${SWEEP_PLOT:-}" ]; then plot=(--plot "$SWEEP_PLOT"); fi
tritonkit bench fc_model_pt --sweep --url "localhost:$HTTP_PORT" --instances 1,2 --batching off,on \
  --concurrency "${SWEEP_CONCURRENCY:-1,4}" --duration "${SWEEP_DURATION:-2}" --engine "${BENCH_ENGINE:-auto}" \
  --csv "$WORKDIR/sweep.csv" "${plot[@]}"

step "4/4 stop"
tritonkit stop "$SERVER_NAME"
SERVER_STARTED=0
