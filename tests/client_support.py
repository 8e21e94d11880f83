"""Servers and repositories for the client/bench/example tests.

Uses the serve area's `tritonkit.serve.local.start_local_server` when it is there; otherwise a small
launcher of the same real `tritonserver` binary from the nvidia-pytriton wheel (PLATFORM.md), so these
tests never depend on the order in which the areas land.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import socket
import subprocess
import sys
import sysconfig
import tempfile
import time
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[1]
EXAMPLES = REPO_ROOT / "examples"


def site_packages() -> Path:
    return Path(sysconfig.get_paths()["purelib"])


def server_binary() -> Path | None:
    binary = site_packages() / "pytriton" / "tritonserver" / "bin" / "tritonserver"
    return binary if binary.is_file() else None


def have_torch() -> bool:
    import importlib.util

    return importlib.util.find_spec("torch") is not None


@dataclass
class TestServer:
    http_url: str
    grpc_url: str
    handle: object

    def stop(self) -> None:
        stop = getattr(self.handle, "stop", None)
        if stop is not None:
            stop()


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


_TORCH_RUNTIME = """
import json, os
import numpy as np
import torch
import triton_python_backend_utils as pb_utils

class TritonPythonModel:
    def initialize(self, args):
        cfg = json.loads(args["model_config"])
        path = os.path.join(args["model_repository"], args["model_version"], "model.pt")
        self.model = torch.jit.load(path).eval()
        self.inputs = [i["name"] for i in cfg["input"]]
        self.outputs = [(o["name"], pb_utils.triton_string_to_numpy(o["data_type"])) for o in cfg["output"]]

    def execute(self, requests):
        out = []
        for r in requests:
            xs = [torch.from_numpy(pb_utils.get_input_tensor_by_name(r, n).as_numpy().copy())
                  for n in self.inputs]
            with torch.no_grad():
                ys = self.model(*xs)
            if isinstance(ys, torch.Tensor):
                ys = [ys]
            elif isinstance(ys, dict):
                ys = list(ys.values())
            out.append(pb_utils.InferenceResponse(output_tensors=[
                pb_utils.Tensor(n, y.numpy().astype(t)) for (n, t), y in zip(self.outputs, ys)]))
        return out
"""


class _FallbackServer:
    """A bare tritonserver process (only used until tritonkit.serve.local exists)."""

    def __init__(self, repository: Path, explicit: bool, load_models: list[str]) -> None:
        sp = site_packages()
        root = sp / "pytriton" / "tritonserver"
        self.workdir = Path(tempfile.mkdtemp(prefix="tk-client-test-"))
        backends = self.workdir / "backends"
        py = backends / "python"
        py.mkdir(parents=True)
        shutil.copy2(root / "backends" / "python" / "libtriton_python.so", py)
        shutil.copy2(root / "backends" / "python" / "triton_python_backend_utils.py", py)
        ver = f"{sys.version_info.major}.{sys.version_info.minor}"
        shutil.copy2(root / "python_backend_stubs" / ver / "triton_python_backend_stub", py)
        pt = backends / "pytorch"
        pt.mkdir()
        shutil.copy2(root / "backends" / "python" / "libtriton_python.so", pt)
        (pt / "model.py").write_text(_TORCH_RUNTIME)
        self.prefix = f"tktest{os.getpid()}x{_free_port()}"
        self.http_port, self.grpc_port, metrics = _free_port(), _free_port(), _free_port()
        env = dict(os.environ)
        env["LD_LIBRARY_PATH"] = f"{sysconfig.get_config_var('LIBDIR')}:{sp / 'nvidia_pytriton.libs'}"
        env["PATH"] = f"{Path(sys.executable).parent}:{env.get('PATH', '')}"
        cmd = [
            str(root / "bin" / "tritonserver"),
            f"--model-repository={repository}",
            f"--backend-directory={backends}",
            f"--http-port={self.http_port}",
            f"--grpc-port={self.grpc_port}",
            f"--metrics-port={metrics}",
            "--backend-config=python,shm-default-byte-size=4194304",
            f"--backend-config=python,shm-region-prefix-name={self.prefix}",
            "--allow-gpu-metrics=false",
            "--pinned-memory-pool-byte-size=0",
            "--exit-timeout-secs=2",
        ]
        if explicit:
            cmd.append("--model-control-mode=explicit")
            cmd += [f"--load-model={m}" for m in load_models]
        self.log = open(self.workdir / "server.log", "wb")  # noqa: SIM115
        self.proc = subprocess.Popen(
            cmd, env=env, stdout=self.log, stderr=subprocess.STDOUT, start_new_session=True
        )
        self.http_url = f"127.0.0.1:{self.http_port}"
        self.grpc_url = f"127.0.0.1:{self.grpc_port}"
        deadline = time.monotonic() + 90
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                break
            try:
                with urllib.request.urlopen(f"http://{self.http_url}/v2/health/ready", timeout=1) as r:
                    if r.status == 200:
                        return
            except OSError:
                pass
            time.sleep(0.1)
        log = (self.workdir / "server.log").read_text(errors="replace")[-3000:]
        self.stop()
        raise RuntimeError(f"test server did not become ready:\n{log}")

    def stop(self) -> None:
        if self.proc.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.proc.pid, signal.SIGTERM)
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait(5)
        self.log.close()
        for shm in Path("/dev/shm").glob(f"{self.prefix}*"):
            shm.unlink(missing_ok=True)
        shutil.rmtree(self.workdir, ignore_errors=True)


def start_test_server(
    repository: Path, *, explicit: bool = False, load_models: list[str] | None = None
) -> TestServer:
    """A real Triton server on free ports over `repository`."""
    try:
        from tritonkit.serve.local import LocalOptions, start_local_server
    except ImportError:
        fb = _FallbackServer(repository, explicit, load_models or [])
        return TestServer(fb.http_url, fb.grpc_url, fb)
    options = LocalOptions(
        http_port=0,
        grpc_port=0,
        model_control_mode="explicit" if explicit else "none",
        load_models=list(load_models or []),
    )
    server = start_local_server(repository, options)
    return TestServer(server.http_url, server.grpc_url, server)


@contextlib.contextmanager
def running_server(repository: Path, **kwargs: object) -> Iterator[TestServer]:
    server = start_test_server(repository, **kwargs)  # type: ignore[arg-type]
    try:
        yield server
    finally:
        server.stop()


def copy_example(name: str, dest: Path) -> Path:
    """Copy examples/<name> into `dest` and return the copy."""
    target = dest / name
    shutil.copytree(EXAMPLES / name, target)
    return target
