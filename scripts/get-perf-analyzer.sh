#!/usr/bin/env bash
# Set up NVIDIA's perf_analyzer for `tritonkit bench` on this machine (see PLATFORM.md).
#
# `pip install perf-analyzer` is a placeholder and the newest wheels need glibc 2.38; the
# tritonclient==2.51.0 wheel carries a binary that runs here. It needs libb64.so.0d and
# libcudart.so.12, which the nvidia-pytriton wheel ships under hashed names. This script downloads
# that wheel (not installed: the venv keeps its own tritonclient), unpacks the binary into
# <venv>/perf_analyzer/, links the two libraries beside it, and writes a wrapper
# <venv>/perf_analyzer/perf_analyzer that tritonkit detects.
#
# Usage: scripts/get-perf-analyzer.sh [VENV]   (default: .venv)
set -euo pipefail
VENV="${1:-.venv}"
PY="$VENV/bin/python"
DEST="$VENV/perf_analyzer"
[ -x "$PY" ] || { echo "error: no python at $PY (run make setup first)" >&2; exit 2; }
LIBS="$("$PY" -c 'import sysconfig, pathlib; print(pathlib.Path(sysconfig.get_paths()["purelib"]) / "nvidia_pytriton.libs")')"
[ -d "$LIBS" ] || { echo "error: $LIBS not found: pip install nvidia-pytriton==0.7.0 first" >&2; exit 3; }

TMP="$(mktemp -d)"
trap 'rm -rf "$TMP"' EXIT
echo "== downloading tritonclient==2.51.0 (wheel only, not installed)"
"$PY" -m pip download --quiet --no-deps --only-binary=:all: --platform manylinux1_x86_64 \
  --python-version 3.11 -d "$TMP" "tritonclient==2.51.0"
WHEEL="$(ls "$TMP"/tritonclient-2.51.0-*.whl | head -n1)"
mkdir -p "$DEST/bin" "$DEST/lib"
"$PY" - "$WHEEL" "$DEST/bin/perf_analyzer" <<'PYEOF'
import shutil, sys, zipfile
with zipfile.ZipFile(sys.argv[1]) as wheel, wheel.open("tritonclient-2.51.0.data/data/bin/perf_analyzer") as src:
    with open(sys.argv[2], "wb") as dst:
        shutil.copyfileobj(src, dst)
PYEOF
chmod +x "$DEST/bin/perf_analyzer"
ln -sf "$(ls "$LIBS"/libb64-*.so.0d | head -n1)" "$DEST/lib/libb64.so.0d"
ln -sf "$(ls "$LIBS"/libcudart-*.so.12* | head -n1)" "$DEST/lib/libcudart.so.12"
cat > "$DEST/perf_analyzer" <<'WRAP'
#!/bin/sh
here="$(cd "$(dirname "$0")" && pwd)"
LD_LIBRARY_PATH="$here/lib${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}" exec "$here/bin/perf_analyzer" "$@"
WRAP
chmod +x "$DEST/perf_analyzer"
"$DEST/perf_analyzer" --version >/dev/null 2>&1 || "$DEST/perf_analyzer" --help >/dev/null 2>&1 || {
  echo "error: perf_analyzer does not start; see: $DEST/perf_analyzer --help" >&2; exit 3; }
echo "perf_analyzer ready: $DEST/perf_analyzer (tritonkit bench picks it up)"
