"""Finding the tritonserver to run locally: `--server-bin`, PATH, or the nvidia-pytriton wheel.

Also the environment that binary's Python backend needs (PLATFORM.md): the interpreter's libdir and the
wheel's libraries on LD_LIBRARY_PATH (copied stubs lose their RPATH), the venv's bin first on PATH.
"""

from __future__ import annotations

import os
import shutil
import sys
import sysconfig
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from tritonkit.errors import EngineUnavailableError

STUB = "triton_python_backend_stub"


@dataclass
class ServerInstall:
    """Where a tritonserver binary and its Python backend pieces are."""

    binary: Path
    python_backend: Path | None  # folder with libtriton_python.so + triton_python_backend_utils.py
    stub: Path | None  # triton_python_backend_stub for the running Python
    libs: list[Path] = field(default_factory=list)  # extra LD_LIBRARY_PATH entries


def wheel_root() -> Path | None:
    """The nvidia-pytriton wheel's tritonserver folder, without importing pytriton (it is heavy)."""
    import importlib.util

    try:
        spec = importlib.util.find_spec("pytriton")
    except (ImportError, ValueError):
        return None
    if spec is None or not spec.submodule_search_locations:
        return None
    root = Path(next(iter(spec.submodule_search_locations))) / "tritonserver"
    return root if (root / "bin" / "tritonserver").is_file() else None


def install_of(binary: Path) -> ServerInstall:
    """Locate the Python backend pieces that belong to a binary (wheel layout or /opt/tritonserver)."""
    root = binary.resolve().parent.parent
    backend = root / "backends" / "python"
    python_backend = backend if (backend / "libtriton_python.so").is_file() else None
    pyver = f"{sys.version_info.major}.{sys.version_info.minor}"
    stub: Path | None = None
    for candidate in (root / "python_backend_stubs" / pyver / STUB, backend / STUB):
        if candidate.is_file():
            stub = candidate
            break
    libs = [p for p in (root.parent.parent / "nvidia_pytriton.libs", root / "lib") if p.is_dir()]
    return ServerInstall(binary=binary, python_backend=python_backend, stub=stub, libs=libs)


def find_install(server_bin: Path | None = None) -> ServerInstall:
    """The tritonserver to run: `server_bin`, else one on PATH, else the nvidia-pytriton wheel's."""
    if server_bin is not None:
        path = Path(server_bin).expanduser()
        if not (path.is_file() and os.access(path, os.X_OK)):
            raise EngineUnavailableError(
                f"--server-bin {path} is not an executable file",
                hint="give the path of a tritonserver binary",
            )
        return install_of(path.absolute())
    on_path = shutil.which("tritonserver")
    if on_path:
        return install_of(Path(on_path))
    root = wheel_root()
    if root is not None:
        return install_of(root / "bin" / "tritonserver")
    raise EngineUnavailableError(
        "no tritonserver binary found (not on PATH, no nvidia-pytriton wheel)",
        hint="pip install 'tritonkit[server]' (nvidia-pytriton), give --server-bin, or serve with Docker",
    )


def server_env(install: ServerInstall, base: Mapping[str, str]) -> dict[str, str]:
    """Environment additions for the server, given the launching environment `base`."""
    libdir = sysconfig.get_config_var("LIBDIR")
    lib_paths = [str(libdir)] if libdir else []
    lib_paths += [str(p) for p in install.libs]
    if base.get("LD_LIBRARY_PATH"):
        lib_paths.append(base["LD_LIBRARY_PATH"])
    bin_dir = str(Path(sys.executable).parent)
    path = base.get("PATH", "")
    return {
        "LD_LIBRARY_PATH": os.pathsep.join(lib_paths),
        "PATH": bin_dir + (os.pathsep + path if path else ""),
    }
