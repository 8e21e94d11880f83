#!/usr/bin/env bash
# `make demo`: the main job end to end on this machine (no Docker or GPU needed):
# init, export, validate, serve --local --detach, infer over HTTP and gRPC, test, stop.
# The work goes to DEMO_DIR (default: a new temporary folder); the server is stopped on failure.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
DEMO_DIR="${DEMO_DIR:-$(mktemp -d -t tritonkit-demo-XXXXXX)}"
exec bash "$ROOT/examples/fc_model_pt/run.sh" "$DEMO_DIR"
