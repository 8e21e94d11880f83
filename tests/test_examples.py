"""Every example, end to end, against the real Triton server (nvidia-pytriton wheel) and real torch.

The scripts run as a user runs them (bash, the venv's bin first on PATH), on free ports, with short
bench durations. Each script stops its own server, also on failure.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from client_support import EXAMPLES, REPO_ROOT, copy_example, have_torch, server_binary, start_test_server
from conftest import require
from tritonkit.cli import run
from tritonkit.client.client import Client
from tritonkit.serve.ports import free_port

pytestmark = pytest.mark.server


def _need_server_and_torch() -> None:
    require(server_binary() is not None, "the Triton server", "pip install nvidia-pytriton==0.7.0")
    require(have_torch(), "torch", "pip install torch==2.13.0")


def _env(**extra: str) -> dict[str, str]:
    ports = {"HTTP_PORT": free_port(), "GRPC_PORT": free_port(), "METRICS_PORT": free_port()}
    env = dict(os.environ)
    env["PATH"] = f"{Path(sys.executable).parent}:{env.get('PATH', '')}"
    env.update({k: str(v) for k, v in ports.items()})
    env.update(extra)
    return env


def _run_script(
    args: list[str], env: dict[str, str], timeout: float = 300
) -> subprocess.CompletedProcess[str]:
    proc = subprocess.run(["bash", *args], env=env, capture_output=True, text=True, timeout=timeout)
    assert proc.returncode == 0, (
        f"exit {proc.returncode}\n--- stdout\n{proc.stdout[-4000:]}\n--- stderr\n{proc.stderr[-4000:]}"
    )
    return proc


def test_demo_runs_the_fc_model_end_to_end(tmp_path: Path) -> None:
    _need_server_and_torch()
    proc = _run_script([str(REPO_ROOT / "scripts" / "demo.sh")], _env(DEMO_DIR=str(tmp_path / "demo")))
    out = proc.stdout
    for header in (
        "1/7 init",
        "2/7 export",
        "3/7 validate",
        "4/7 serve",
        "5/7 infer over HTTP",
        "6/7",
        "7/7 stop",
    ):
        assert f"==> {header}" in out
    assert "OUTPUT__0  FP32  [4]" in out and "OUTPUT__0  FP32  [2, 4]" in out  # HTTP, then gRPC batch of 2
    assert "PASS  fc_model_pt" in out and "1 passed, 0 failed" in out
    assert (tmp_path / "demo" / "model_repository" / "fc_model_pt" / "1" / "model.pt").is_file()
    assert "stopped" in out


def test_demo_stops_the_server_when_a_step_fails(tmp_path: Path) -> None:
    _need_server_and_torch()
    work = tmp_path / "demo"
    env = _env(DEMO_DIR=str(work))
    # Break the test step: the golden sample lies about the model, so `tritonkit test` exits 1.
    broken = tmp_path / "bin"
    broken.mkdir()
    real = shutil.which("tritonkit", path=env["PATH"])
    assert real
    wrapper = 'if [ "$1" = test ]; then echo "FAIL  fc_model_pt: injected"; exit 1; fi'
    (broken / "tritonkit").write_text(f'#!/bin/sh\n{wrapper}\nexec {real} "$@"\n')
    (broken / "tritonkit").chmod(0o755)
    env["PATH"] = f"{broken}:{env['PATH']}"
    proc = subprocess.run(
        ["bash", str(REPO_ROOT / "scripts" / "demo.sh")], env=env, capture_output=True, text=True, timeout=300
    )
    assert proc.returncode == 1
    assert "(failed: stopping the server)" in proc.stderr
    assert "==> 7/7 stop" not in proc.stdout
    status = subprocess.run([real, "status"], env=env, capture_output=True, text=True)
    assert "tritonkit-demo" not in status.stdout


def _sweep_rows(out: str) -> list[str]:
    """The sweep table's variant rows (each starts with `* ` when it is the best point, else two spaces)."""
    return [line for line in out.splitlines() if line[2:].startswith(("1 instance", "2 instances"))]


def _cells(row: str) -> list[str]:
    """A table row's cells: config, batch, conc, req/s, infer/s, ..."""
    return re.split(r"\s{2,}", row[2:].strip())


def test_python_pipeline_example(tmp_path: Path) -> None:
    require(server_binary() is not None, "the Triton server", "pip install nvidia-pytriton==0.7.0")
    copy = copy_example("python_pipeline", tmp_path)
    before = {p: p.read_bytes() for p in copy.rglob("*") if p.is_file()}
    env = _env(SWEEP_DURATION="0.5", SWEEP_CONCURRENCY="2", BENCH_ENGINE="builtin")
    proc = _run_script([str(copy / "run.sh")], env)
    out = proc.stdout
    assert "[20., 30., 40., 50.]" in out and "[0., 1., 2., 3.]" in out  # BLS: first changed, second not
    assert '"SUM_X2": {"datatype": "FP32", "shape": [4], "data": [4.0, 6.0, 8.0, 10.0]}' in out
    assert "4 passed, 0 failed" in out
    rows = _sweep_rows(out)
    assert len(rows) == 4 and all(float(_cells(r)[3].replace(",", "")) > 0 for r in rows)  # req/s
    assert sum(r.startswith("* ") for r in rows) == 1  # the best point is marked
    after = {p: p.read_bytes() for p in copy.rglob("*") if p.is_file() and "__pycache__" not in p.parts}
    assert after == {p: b for p, b in before.items() if "__pycache__" not in p.parts}  # nothing written


def test_fc_variants_example(tmp_path: Path) -> None:
    _need_server_and_torch()
    env = _env(SWEEP_DURATION="0.5", SWEEP_CONCURRENCY="2", BENCH_ENGINE="builtin")
    proc = _run_script([str(EXAMPLES / "fc_model_pt" / "variants.sh"), str(tmp_path / "v")], env)
    rows = _sweep_rows(proc.stdout)
    assert len(rows) == 4 and sum(r.startswith("* ") for r in rows) == 1
    csv_lines = (tmp_path / "v" / "sweep.csv").read_text().splitlines()
    assert len(csv_lines) == 5
    config = (tmp_path / "v" / "model_repository" / "fc_model_pt" / "config.pbtxt").read_text()
    assert "instance_group" not in config and "dynamic_batching" not in config  # nothing applied


@pytest.fixture(scope="module")
def exported(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[object, Path]]:
    """fc_model_pt exported by the CLI and served in explicit mode (so a changed model can be reloaded)."""
    _need_server_and_torch()
    work = tmp_path_factory.mktemp("fc")
    repo = work / "model_repository"
    assert run(["init", str(repo)]) == 0
    target = f"{EXAMPLES / 'fc_model_pt' / 'fc_model.py'}:build"
    argv = [
        "export",
        target,
        "--name",
        "fc_model_pt",
        "--example-input",
        "fp32:1,16",
        "--max-batch-size",
        "8",
    ]
    assert run([*argv, "--repo", str(repo)]) == 0
    server = start_test_server(repo, explicit=True, load_models=["fc_model_pt"])
    try:
        yield server, repo
    finally:
        server.stop()


def test_exported_model_over_http_and_grpc(
    exported: tuple[object, Path], capsys: pytest.CaptureFixture[str]
) -> None:
    import numpy as np
    import torch

    server, repo = exported
    sys.path.insert(0, str(EXAMPLES / "fc_model_pt"))
    try:
        import fc_model
    finally:
        sys.path.remove(str(EXAMPLES / "fc_model_pt"))
    x = np.linspace(-1, 1, 16, dtype=np.float32)
    with torch.no_grad():
        expected = fc_model.build()(torch.from_numpy(x[None])).numpy()[0]
    for url, protocol in ((server.http_url, "http"), (server.grpc_url, "grpc")):  # type: ignore[attr-defined]
        with Client(url, protocol) as client:
            got = client.infer("fc_model_pt", x)["OUTPUT__0"]
        np.testing.assert_allclose(got, expected, rtol=1e-5, atol=1e-6)
    assert run(["test", "--repo", str(repo), "--url", server.grpc_url, "-p", "grpc"]) == 0  # type: ignore[attr-defined]
    assert "PASS  fc_model_pt" in capsys.readouterr().out


def test_test_fails_when_the_exported_model_changes(
    exported: tuple[object, Path], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    server, repo = exported
    url = server.http_url  # type: ignore[attr-defined]
    model_pt = repo / "fc_model_pt" / "1" / "model.pt"
    original = model_pt.read_bytes()
    (tmp_path / "other.py").write_text(
        "import torch\nfrom torch import nn\n\n"
        "def build():\n    torch.manual_seed(1)\n"
        "    return nn.Sequential(nn.Linear(16, 32), nn.ReLU(), nn.Linear(32, 4)).eval()\n"
    )
    other = tmp_path / "other_repo"
    assert run(["init", str(other)]) == 0
    argv = [
        "export",
        f"{tmp_path / 'other.py'}:build",
        "--name",
        "fc_model_pt",
        "--example-input",
        "fp32:1,16",
    ]
    assert run([*argv, "--max-batch-size", "8", "--repo", str(other)]) == 0
    try:
        shutil.copy2(other / "fc_model_pt" / "1" / "model.pt", model_pt)  # other weights, same golden sample
        with Client(url) as client:
            client.unload_model("fc_model_pt")
            client.load_model("fc_model_pt")
        capsys.readouterr()
        assert run(["test", "--repo", str(repo), "--url", url]) == 1
        captured = capsys.readouterr()
        assert "FAIL  fc_model_pt: output OUTPUT__0 differs" in captured.out
        assert "1 model(s) failed: fc_model_pt" in captured.err
    finally:
        model_pt.write_bytes(original)
        with Client(url) as client:
            client.unload_model("fc_model_pt")
            client.load_model("fc_model_pt")
    assert run(["test", "--repo", str(repo), "--url", url]) == 0
