#!/usr/bin/env bash
# The tutorial's Python-backend part, end to end: validate -> serve (explicit model control) ->
# infer add_sub, the BLS pipeline and the ensemble -> test the golden samples ->
# bench --sweep of add_sub (instances x dynamic batching, the tutorial's table) -> stop.
#
# Usage: examples/python_pipeline/run.sh
# Env: HTTP_PORT/GRPC_PORT/METRICS_PORT (default 8000/8001/8002), SWEEP_DURATION (seconds per
# point, default 2), SWEEP_CONCURRENCY (default 1,4), BENCH_ENGINE (auto, builtin, perf_analyzer).
set -euo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
REPO="$HERE/model_repository"
HTTP_PORT="${HTTP_PORT:-8000}"
GRPC_PORT="${GRPC_PORT:-8001}"
METRICS_PORT="${METRICS_PORT:-8002}"
SERVER_NAME="${SERVER_NAME:-tritonkit-pipeline-$$}"
SERVER_STARTED=0
URL="localhost:$HTTP_PORT"

step() { printf '\n==> %s\n' "$*"; }
cleanup() {
  status=$?
  if [ "$SERVER_STARTED" = 1 ]; then tritonkit stop "$SERVER_NAME" >/dev/null 2>&1 || true; fi
  exit "$status"
}
trap cleanup EXIT
trap 'exit 130' INT TERM
command -v tritonkit >/dev/null || { echo "error: tritonkit is not on PATH (use .venv/bin)" >&2; exit 2; }

step "1/6 validate the repository (add_sub, bls_pipeline, scale, add_sub_ensemble)"
tritonkit validate "$REPO"

step "2/6 serve in explicit model-control mode (bench --sweep loads config variants)"
SERVER_STARTED=1
tritonkit serve --local --detach --repo "$REPO" --name "$SERVER_NAME" \
  --http-port "$HTTP_PORT" --grpc-port "$GRPC_PORT" --metrics-port "$METRICS_PORT" \
  --model-control-mode explicit \
  --load-model add_sub --load-model bls_pipeline --load-model scale --load-model add_sub_ensemble

step "3/6 infer: add_sub over HTTP, the BLS pipeline over gRPC, the ensemble"
tritonkit infer add_sub --url "$URL" -i 'INPUT0=[1, 2, 3, 4]' -i 'INPUT1=[1, 1, 1, 1]'
echo "-- bls_pipeline: OUTPUT0 = 10 x add_sub's sum (changed), OUTPUT1 = add_sub's difference (unchanged)"
tritonkit infer bls_pipeline --protocol grpc --url "localhost:$GRPC_PORT" \
  -i 'INPUT0=[1, 2, 3, 4]' -i 'INPUT1=[1, 1, 1, 1]'
echo "-- add_sub_ensemble: SUM_X2 = 2 x (INPUT0 + INPUT1) through scale, DIFF = INPUT0 - INPUT1"
tritonkit infer add_sub_ensemble --url "$URL" -i 'INPUT0=[1, 2, 3, 4]' -i 'INPUT1=[1, 1, 1, 1]' --json

step "4/6 test: every model's golden sample"
tritonkit test --repo "$REPO" --url "$URL"

step "5/6 bench --sweep: 1 and 2 instances x dynamic batching off/on (nothing is written without --apply)"
tritonkit bench add_sub --sweep --url "$URL" --instances 1,2 --batching off,on \
  --concurrency "${SWEEP_CONCURRENCY:-1,4}" --duration "${SWEEP_DURATION:-2}" --engine "${BENCH_ENGINE:-auto}"

step "6/6 stop"
tritonkit stop "$SERVER_NAME"
SERVER_STARTED=0
