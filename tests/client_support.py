"""Servers and example copies for the client, bench and example tests (and benchmarks/bench_client.py).

Servers come from the serve area's `tritonkit.serve.local.start_local_server`: the real tritonserver
binary of the nvidia-pytriton wheel, on free ports.
"""

from __future__ import annotations

import importlib.util
import shutil
import sysconfig
from dataclasses import dataclass
from pathlib import Path

from tritonkit.serve.local import LocalServer, start_local_server
from tritonkit.serve.plan import ServeOptions

REPO_ROOT = Path(__file__).resolve().parents[1]
EXAMPLES = REPO_ROOT / "examples"


def server_binary() -> Path | None:
    """The wheel's tritonserver, if installed."""
    binary = Path(sysconfig.get_paths()["purelib"]) / "pytriton" / "tritonserver" / "bin" / "tritonserver"
    return binary if binary.is_file() else None


def have_torch() -> bool:
    return importlib.util.find_spec("torch") is not None


@dataclass
class TestServer:
    """A running server's endpoints and its handle (stop it with `.stop()`)."""

    __test__ = False  # not a pytest test class

    http_url: str
    grpc_url: str
    handle: LocalServer

    def stop(self) -> None:
        self.handle.stop()


def start_test_server(
    repository: Path, *, explicit: bool = False, load_models: list[str] | None = None
) -> TestServer:
    """A real Triton server on free ports over `repository`; ready when this returns."""
    options = ServeOptions(
        http_port=0,
        grpc_port=0,
        metrics_port=0,
        model_control_mode="explicit" if explicit else "none",
        load_models=list(load_models or []),
    )
    server = start_local_server(Path(repository).absolute(), options)
    return TestServer(server.http_url, server.grpc_url, server)


def copy_example(name: str, dest: Path) -> Path:
    """Copy examples/<name> into `dest` (without caches) and return the copy."""
    target = dest / name
    shutil.copytree(EXAMPLES / name, target, ignore=shutil.ignore_patterns("__pycache__"))
    return target
