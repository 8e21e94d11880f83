"""`tritonkit serve --local` and the local launcher, against the real tritonserver of the pytriton wheel."""

from __future__ import annotations

import os
import socket
import subprocess
from pathlib import Path

import pytest

from conftest import require
from serve_support import (
    break_config,
    cli,
    http_url_from,
    infer_add_sub,
    interrupt,
    scaffold_add_sub,
    serve_foreground,
)
from tritonkit.errors import EngineUnavailableError, ModelsNotReadyError, ServerNotReadyError
from tritonkit.serve.binary import wheel_root
from tritonkit.serve.local import start_local_server
from tritonkit.serve.plan import ServeOptions
from tritonkit.serve.process import SHM_DIR

pytestmark = pytest.mark.server

FREE_PORTS = ["--http-port", "0", "--grpc-port", "0", "--metrics-port", "0"]


@pytest.fixture(autouse=True)
def _need_server() -> None:
    require(
        wheel_root() is not None,
        "the Triton server",
        "pip install nvidia-pytriton==0.7.0 (tritonkit[server])",
    )


def _shm(prefix: str) -> list[str]:
    return [p.name for p in SHM_DIR.glob(f"{prefix}*")]


def _process_gone(pid: int) -> bool:
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return True
    return stat.rsplit(")", 1)[1].split()[0] == "Z"


def test_api_start_infer_stop(tmp_path: Path) -> None:
    repo = scaffold_add_sub(tmp_path)
    with start_local_server(repo, ServeOptions(startup_timeout=60)) as server:
        assert server.readiness is not None and server.readiness.ready
        assert [m.name for m in server.readiness.models] == ["add_sub"]
        outputs = infer_add_sub(server.http_url)
        assert outputs == {"OUTPUT0": [1.0, 2.0, 3.0, 4.0], "OUTPUT1": [0.5, 0.5, 0.5, 0.5]}
        assert server.http_url.startswith("127.0.0.1:") and server.grpc_url != server.http_url
        assert _shm(server.shm_prefix), "the python backend maps its region under our unique prefix"
        pid, prefix = server.pid, server.shm_prefix
        assert "Started HTTPService" in server.log_tail(20)
    assert _process_gone(pid)
    assert _shm(prefix) == []


def test_api_failed_models_give_reasons_and_clean_up(tmp_path: Path) -> None:
    repo = scaffold_add_sub(tmp_path)
    assert (
        cli(
            "add", "nofile", "-b", "python", "--repo", str(repo), "-i", "X:fp32:4", "-o", "Y:fp32:4"
        ).returncode
        == 0
    )
    (repo / "nofile" / "1" / "model.py").unlink()  # a stub that cannot start: the load would hang forever
    break_config(repo)
    log = tmp_path / "server.log"
    with pytest.raises(ModelsNotReadyError) as info:
        start_local_server(repo, ServeOptions(startup_timeout=60, log_path=log))
    error = info.value
    assert isinstance(error, ServerNotReadyError) and error.exit_code == 3
    failed = {m.name: m for m in error.readiness.failed} if error.readiness else {}
    assert set(failed) == {"add_sub", "nofile"}
    assert "6:1" in failed["add_sub"].reason and "bogus_field" in failed["add_sub"].reason
    assert "model.py" in failed["nofile"].reason
    assert "add_sub" in error.message and "nofile" in error.message
    # Nothing left: no tritonserver on this repository, no shared memory with the prefix in the log.
    ps = subprocess.run(["ps", "-eo", "args"], capture_output=True, text=True).stdout
    assert f"--model-repository={repo}" not in ps
    assert _shm(f"tritonkit_{os.getpid()}_") == []  # every prefix this process used embeds its pid
    assert "Failed to preinitialize Python stub" in log.read_text()


def test_api_port_in_use_is_a_clear_error(tmp_path: Path) -> None:
    repo = scaffold_add_sub(tmp_path)
    with socket.socket() as sock:
        sock.bind(("0.0.0.0", 0))
        sock.listen()
        port = sock.getsockname()[1]
        with pytest.raises(EngineUnavailableError, match=f"port {port}.*already in use"):
            start_local_server(repo, ServeOptions(http_port=port))


def test_cli_detach_status_logs_stop(tmp_path: Path) -> None:
    repo = scaffold_add_sub(tmp_path)
    started = cli("serve", str(repo), "--local", "--detach", "--name", "loc1", *FREE_PORTS)
    assert started.returncode == 0, started.stderr
    assert "model add_sub v1: READY" in started.stdout
    http = http_url_from(started.stdout)
    try:
        assert infer_add_sub(http)["OUTPUT0"] == [1.0, 2.0, 3.0, 4.0]
        status = cli("status", "--json")
        assert status.returncode == 0
        import json

        rows = json.loads(status.stdout)
        (row,) = [r for r in rows if r["name"] == "loc1"]
        assert row["kind"] == "local" and row["ready"] is True and row["http"] == http
        assert row["status"] == "running" and row["runtime_models"] == {}  # a Python model: no runtime
        logs = cli("logs", "loc1", "--tail", "5")
        assert "Started" in logs.stdout
    finally:
        stopped = cli("stop", "loc1")
    assert stopped.returncode == 0, stopped.stderr
    assert _process_gone(row["pid"])
    assert _shm(row["shm_prefix"]) == []
    assert "loc1" not in cli("status").stdout


def test_cli_foreground_sigint_stops_everything(tmp_path: Path) -> None:
    repo = scaffold_add_sub(tmp_path)
    process, output = serve_foreground([str(repo), "--local", "--name", "fg1", *FREE_PORTS])
    http = http_url_from(output)
    assert infer_add_sub(http)["OUTPUT1"] == [0.5, 0.5, 0.5, 0.5]
    import json

    (row,) = json.loads(cli("status", "--json").stdout)
    code, rest = interrupt(process)
    assert code == 130
    assert "stopped and removed fg1" in rest
    assert _process_gone(row["pid"])
    assert _shm(row["shm_prefix"]) == []
    assert json.loads(cli("status", "--json").stdout) == []


def test_cli_broken_model_reason_and_exit_3(tmp_path: Path) -> None:
    repo = scaffold_add_sub(tmp_path)
    break_config(repo)
    result = cli("serve", str(repo), "--local", "--timeout", "60", *FREE_PORTS)
    assert result.returncode == 3
    assert "add_sub" in result.stderr and "6:1" in result.stderr and "bogus_field" in result.stderr
    assert "Traceback" not in result.stderr
    assert cli("status", "--json").stdout.strip() == "[]"


def test_cli_bad_server_bin_is_exit_3(tmp_path: Path) -> None:
    repo = scaffold_add_sub(tmp_path)
    result = cli("serve", str(repo), "--local", "--server-bin", str(tmp_path / "nope"))
    assert result.returncode == 3
    assert "not an executable" in result.stderr


def test_pytorch_runtime_serves_torchscript(tmp_path: Path) -> None:
    """A `platform: pytorch_libtorch` config loads through tritonkit's pytorch runtime."""
    import importlib.util

    require(importlib.util.find_spec("torch") is not None, "torch", "pip install torch==2.13.0")
    import torch

    repo = tmp_path / "model_repository"
    assert cli("init", str(repo)).returncode == 0
    added = cli(
        "add", "lin", "-b", "pytorch", "--repo", str(repo), "-i", "INPUT__0:fp32:3", "-o", "OUTPUT__0:fp32:2"
    )
    assert added.returncode == 0, added.stderr
    model = torch.nn.Linear(3, 2)
    with torch.no_grad():
        model.weight.copy_(torch.tensor([[1.0, 0.0, 0.0], [0.0, 1.0, 1.0]]))
        model.bias.zero_()
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        torch.jit.trace(model, torch.zeros(3)).save(str(repo / "lin" / "1" / "model.pt"))
    with start_local_server(repo, ServeOptions(startup_timeout=90)) as server:
        # Said as data: the bench and `status` tell such a model from one on the real libtorch backend.
        assert server.runtime_models == {"lin": "pytorch"}
        import json
        import urllib.request

        body = {"inputs": [{"name": "INPUT__0", "shape": [3], "datatype": "FP32", "data": [1.0, 2.0, 3.0]}]}
        request = urllib.request.Request(
            f"http://{server.http_url}/v2/models/lin/infer", data=json.dumps(body).encode()
        )
        with urllib.request.urlopen(request, timeout=30) as response:
            outputs = json.loads(response.read())["outputs"]
        assert outputs[0]["data"] == [1.0, 5.0]


def test_api_explicit_mode_loads_only_the_named_models(tmp_path: Path) -> None:
    repo = scaffold_add_sub(tmp_path)
    assert (
        cli(
            "add", "other", "-b", "python", "--repo", str(repo), "-i", "X:fp32:4", "-o", "Y:fp32:4"
        ).returncode
        == 0
    )
    assert (repo / "other" / "config.pbtxt").is_file()
    options = ServeOptions(model_control_mode="explicit", load_models=["add_sub"], startup_timeout=60)
    with start_local_server(repo, options) as server:
        assert server.readiness is not None
        states = {m.name: m.state for m in server.readiness.models}
        # Both are in the server's index; only the named one was loaded.
        assert states == {"add_sub": "READY", "other": "NOT_LOADED"}
        assert infer_add_sub(server.http_url)["OUTPUT0"] == [1.0, 2.0, 3.0, 4.0]
        from tritonkit.serve.ready import _request

        assert _request(f"http://{server.http_url}/v2/models/add_sub/ready")[0] == 200
        assert _request(f"http://{server.http_url}/v2/models/other/ready")[0] == 400
