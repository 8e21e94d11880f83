"""The backend folder a local server runs with: real copies of the Python backend, plus tritonkit's runtimes.

The server refuses symlinked backend libraries ("escapes backend directory", PLATFORM.md), so the folder
holds copies: `python/` and one folder per runtime in `templates/runtimes/<backend>/model.py` (pytorch,
onnxruntime...), each beside its own libtriton_python.so. A model of such a backend is then served by
tritonkit's Python-backend runtime, not by the real libtorch / ONNX Runtime backend (`runtime_backends`).
The folder is cached by a content key, shared read-only, built in a temporary sibling and renamed.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import shutil
import tempfile
from pathlib import Path

from tritonkit.serve.binary import ServerInstall

PYTHON_BACKEND_FILES = ("libtriton_python.so", "triton_python_backend_utils.py")
# The module the runtimes share (templates/runtimes/tritonkit_runtime.py), copied beside each model.py.
RUNTIME_COMMON = "tritonkit_runtime.py"
_BUILD_PREFIX = ".build-"


def runtimes_dir() -> Path:
    """Python-backend runtimes shipped with tritonkit: templates/runtimes/<backend>/model.py."""
    from tritonkit.repository.render import templates_dir

    return templates_dir() / "runtimes"


def _runtime_files() -> dict[str, Path]:
    root = runtimes_dir()
    if not root.is_dir():
        return {}
    return {d.name: d / "model.py" for d in sorted(root.iterdir()) if (d / "model.py").is_file()}


def runtime_backends(install: ServerInstall) -> tuple[str, ...]:
    """Backends this install serves through tritonkit's runtimes (none when it has its own backends)."""
    return tuple(_runtime_files()) if install.python_backend is not None else ()


def cache_root() -> Path:
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "tritonkit" / "backends"


def _clean_stale_builds(root: Path) -> None:
    """Remove half-built folders whose builder is gone (killed while copying)."""
    for entry in root.glob(f"{_BUILD_PREFIX}*"):
        pid = entry.name[len(_BUILD_PREFIX) :].split("-", 1)[0]
        if pid.isdigit() and not Path(f"/proc/{pid}").exists():
            shutil.rmtree(entry, ignore_errors=True)


def prepare_backend_dir(install: ServerInstall, root: Path | None = None, *, create: bool = True) -> Path:
    """A backend directory of real copies: python/ and one folder per runtime (cached by content key)."""
    if install.python_backend is None:
        # Not the wheel layout: let the binary use its own backends (e.g. /opt/tritonserver/backends).
        return install.binary.resolve().parent.parent / "backends"
    sources = [install.python_backend / f for f in PYTHON_BACKEND_FILES]
    if install.stub is not None:
        sources.append(install.stub)
    runtimes = _runtime_files()
    common = runtimes_dir() / RUNTIME_COMMON
    key = hashlib.sha256()
    for src in [*sources, *runtimes.values(), *([common] if runtimes else [])]:
        st = src.stat()
        key.update(f"{src}\0{st.st_size}\0{st.st_mtime_ns}\n".encode())
    root = root or cache_root()
    target = root / key.hexdigest()[:16]
    if not create or (target / "python" / "libtriton_python.so").is_file():
        return target
    root.mkdir(parents=True, exist_ok=True)
    _clean_stale_builds(root)
    tmp = Path(tempfile.mkdtemp(prefix=f"{_BUILD_PREFIX}{os.getpid()}-", dir=root))
    try:
        for folder, model_py in [("python", None), *runtimes.items()]:
            dest = tmp / folder
            dest.mkdir()
            for src in sources:
                shutil.copy2(src, dest / src.name)  # real copies: symlinks "escape backend directory"
            if model_py is not None:
                shutil.copy2(model_py, dest / "model.py")
                shutil.copy2(common, dest / RUNTIME_COMMON)
        with contextlib.suppress(OSError):  # another process built it first
            os.rename(tmp, target)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return target
