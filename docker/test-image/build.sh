#!/usr/bin/env bash
# Build a LOCAL CPU image that runs the real tritonserver (Triton 2.51, = NGC 24.10) from the
# nvidia-pytriton wheel, laid out like NGC's image (/opt/tritonserver/{bin,backends,lib}).
# No container registry is reachable here, so the rootfs comes from Debian packages (debootstrap
# minbase + python3, numpy, libpython3.11 for the Python backend stub, pip for `serve --build`) and
# the PyPI wheel.
#
#   docker/test-image/build.sh [TAG...]        (default tag: tritonkit-test/tritonserver:cpu)
#
# Env: PYTHON (an interpreter with nvidia-pytriton==0.7.0 installed, default python3),
#      TRITONKIT_IMAGE_CACHE (folder caching the rootfs tarball, keyed by this script + the wheel),
#      DEBIAN_MIRROR (default http://deb.debian.org/debian). Needs root, debootstrap, docker.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
tags=("$@")
[ "${#tags[@]}" -gt 0 ] || tags=(tritonkit-test/tritonserver:cpu)
python="${PYTHON:-python3}"
mirror="${DEBIAN_MIRROR:-http://deb.debian.org/debian}"
cache="${TRITONKIT_IMAGE_CACHE:-/var/tmp/tritonkit-image-cache}"

site="$("$python" - <<'PY'
import importlib.util, pathlib
spec = importlib.util.find_spec("pytriton")
assert spec and spec.submodule_search_locations, "nvidia-pytriton is not installed"
print(pathlib.Path(next(iter(spec.submodule_search_locations))).parent)
PY
)"
server="$site/pytriton/tritonserver"
libs="$site/nvidia_pytriton.libs"
[ -x "$server/bin/tritonserver" ] || { echo "no tritonserver in $server" >&2; exit 3; }

# Cache key: this script and the wheel's server files (sizes + names).
key="$( { cat "$0"; find "$server" "$libs" -type f -printf '%P %s\n' | sort; } | sha256sum | cut -c1-16)"
tarball="$cache/tritonserver-cpu-$key.tar"
mkdir -p "$cache"

if [ ! -f "$tarball" ]; then
  work="$(mktemp -d "$cache/.build-XXXXXX")"
  trap 'rm -rf "$work"' EXIT
  rootfs="$work/rootfs"
  echo "debootstrap (bookworm minbase + python3, numpy, pip) into $rootfs" >&2
  debootstrap --variant=minbase --include=python3,python3-numpy,python3-pip,libpython3.11 \
    bookworm "$rootfs" "$mirror" >"$work/debootstrap.log" 2>&1 \
    || { tail -30 "$work/debootstrap.log" >&2; exit 1; }
  opt="$rootfs/opt/tritonserver"
  mkdir -p "$opt/bin" "$opt/lib" "$opt/backends/python" "$opt/caches"
  cp "$server/bin/tritonserver" "$opt/bin/"
  cp "$libs"/* "$opt/lib/"                       # the binary's RPATH has ${ORIGIN}/../lib
  # Real copies (a symlinked backend library "escapes backend directory"); the stub for Debian's 3.11.
  cp "$server/backends/python/libtriton_python.so" "$server/backends/python/triton_python_backend_utils.py" \
    "$server/python_backend_stubs/3.11/triton_python_backend_stub" "$opt/backends/python/"
  # Smaller image: no docs, locales, apt caches.
  rm -rf "$rootfs"/usr/share/{doc,man,info,locale} "$rootfs"/var/cache/apt/* "$rootfs"/var/lib/apt/lists/*
  tar -C "$rootfs" -cf "$work/rootfs.tar" .
  mv "$work/rootfs.tar" "$tarball"
  # Keep one tarball: drop those of older inputs.
  find "$cache" -maxdepth 1 -name 'tritonserver-cpu-*.tar' ! -name "$(basename "$tarball")" -delete
fi

first="${tags[0]}"
docker import \
  --change 'ENV PATH=/opt/tritonserver/bin:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin' \
  --change 'ENV LD_LIBRARY_PATH=/opt/tritonserver/lib' \
  --change 'WORKDIR /opt/tritonserver' \
  --change 'CMD ["tritonserver", "--model-repository=/models"]' \
  --message "tritonkit local CPU test image (nvidia-pytriton 0.7.0 tritonserver)" \
  "$tarball" "$first" >/dev/null
for tag in "${tags[@]:1}"; do docker tag "$first" "$tag"; done
echo "built ${tags[*]} from $tarball" >&2
