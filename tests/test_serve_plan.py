"""The serve plan as plain values: every --gpus form, the container spec, image choice, masking. No engine."""

from __future__ import annotations

import json
from datetime import datetime, timezone
from pathlib import Path

import pytest

from tritonkit.cli import run
from tritonkit.errors import UsageError
from tritonkit.serve.plan import (
    DEFAULT_TAG,
    LABEL,
    GpuRequest,
    ServeOptions,
    container_name,
    default_image,
    image_registry,
    mask_env,
    parse_env,
    parse_gpus,
    plan_container,
)


@pytest.mark.parametrize("value", [None, "", "0", 0, "none", "'0'", "00"])
def test_gpus_cpu_only_forms_request_no_device(value: object) -> None:
    assert parse_gpus(value) is None  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("value", "count", "ids"),
    [
        ("all", -1, ()),
        ("1", 1, ()),
        (2, 2, ()),
        ("device=0", None, ("0",)),
        ("device=0,1", None, ("0", "1")),
        ('"device=0,1"', None, ("0", "1")),
        (
            "device=GPU-3a23c669-1f69-c64e-cf85-44e9b07e7a2a",
            None,
            ("GPU-3a23c669-1f69-c64e-cf85-44e9b07e7a2a",),
        ),
    ],
)
def test_gpus_forms(value: object, count: int | None, ids: tuple[str, ...]) -> None:
    request = parse_gpus(value)  # type: ignore[arg-type]
    assert request == GpuRequest(count=count, device_ids=ids)
    as_api = request.to_dict()
    assert as_api["Capabilities"] == [["gpu"]]
    # Never a count and ids together: exactly one of them is set.
    assert (as_api["Count"] != 0) != bool(as_api["DeviceIDs"])


@pytest.mark.parametrize("value", ["-1", "two", "device=", "0,1", "device=all", "1.5"])
def test_bad_gpus_forms_are_usage_errors(value: str) -> None:
    with pytest.raises(UsageError):
        parse_gpus(value)


def test_gpu_request_refuses_count_and_ids_together() -> None:
    with pytest.raises(UsageError):
        GpuRequest(count=1, device_ids=("0",))
    with pytest.raises(UsageError):
        GpuRequest()


def _spec(tmp_path: Path, **options: object):  # type: ignore[no-untyped-def]
    repo = tmp_path / "repo"
    repo.mkdir(exist_ok=True)
    now = datetime(2026, 1, 2, 3, 4, 5, tzinfo=timezone.utc)
    values = {"http_port": 8000, "grpc_port": 8001, "metrics_port": 8002, **options}
    values["name"] = container_name(repo, options.get("name"))  # type: ignore[arg-type]
    return plan_container(repo, ServeOptions(**values), environ={}, now=now)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("gpus", "device_requests"),
    [
        (None, []),
        ("0", []),
        ("all", [{"Driver": "", "Count": -1, "DeviceIDs": [], "Capabilities": [["gpu"]]}]),
        ("1", [{"Driver": "", "Count": 1, "DeviceIDs": [], "Capabilities": [["gpu"]]}]),
        ("device=0,1", [{"Driver": "", "Count": 0, "DeviceIDs": ["0", "1"], "Capabilities": [["gpu"]]}]),
    ],
)
def test_container_spec_for_each_gpus_form(
    tmp_path: Path, gpus: str | None, device_requests: list[object]
) -> None:
    spec = _spec(tmp_path, gpus=gpus)
    data = spec.to_dict()
    assert data["device_requests"] == device_requests
    cpu_flags = {"--allow-gpu-metrics=false", "--pinned-memory-pool-byte-size=0"}
    if device_requests:
        assert not cpu_flags & set(spec.command)
    else:
        assert cpu_flags <= set(spec.command)
    assert spec.labels[f"{LABEL.rsplit('.', 1)[0]}.gpus"] == (gpus or "0")


def test_container_spec_value(tmp_path: Path) -> None:
    spec = _spec(tmp_path, http_port=18000, grpc_port=18001, metrics_port=18002, name="srv", env={"A": "1"})
    data = spec.to_dict()
    assert data["image"] == f"nvcr.io/nvidia/tritonserver:{DEFAULT_TAG}-py3"
    assert spec.command[:2] == ["tritonserver", "--model-repository=/models"]
    assert "--exit-on-error=false" in spec.command
    assert "--model-control-mode=none" in spec.command
    assert data["ports"] == {
        "8000/tcp": "127.0.0.1:18000",
        "8001/tcp": "127.0.0.1:18001",
        "8002/tcp": "127.0.0.1:18002",
    }
    assert data["mounts"] == [{"source": str(tmp_path / "repo"), "target": "/models", "read_only": True}]
    assert data["shm_size"] == "1g"
    assert data["ulimits"] == [
        {"name": "memlock", "soft": -1, "hard": -1},
        {"name": "stack", "soft": 67108864, "hard": 67108864},
    ]
    assert spec.labels[LABEL] == "true"
    assert spec.labels["io.tritonkit.http"] == "127.0.0.1:18000"
    assert spec.labels["io.tritonkit.started"] == "2026-01-02T03:04:05Z"
    assert spec.name == "srv"
    assert data["env"] == {"A": "1"}
    assert spec.endpoint("grpc") == "127.0.0.1:18001"
    json.dumps(data)  # JSON-able as printed by --dry-run


def test_explicit_mode_and_extra_args(tmp_path: Path) -> None:
    spec = _spec(
        tmp_path,
        model_control_mode="explicit",
        load_models=["a", "b"],
        server_args=["--log-verbose=1"],
        gpus="1",
    )
    assert spec.command[-1] == "--log-verbose=1"
    assert "--load-model=a" in spec.command and "--load-model=b" in spec.command
    with pytest.raises(UsageError):
        _spec(tmp_path, load_models=["a"])
    with pytest.raises(UsageError):
        _spec(tmp_path, model_control_mode="sometimes")


@pytest.mark.parametrize(
    "options",
    [
        {"http_port": 0},
        {"http_port": 70000},
        {"http_port": 9000, "grpc_port": 9000},
        {"shm_size": "lots"},
        {"pull": "sometimes"},
        {"name": "-bad name"},
    ],
)
def test_bad_options_are_usage_errors(tmp_path: Path, options: dict[str, object]) -> None:
    with pytest.raises(UsageError):
        _spec(tmp_path, **options)


def test_default_names_are_unique_and_valid(tmp_path: Path) -> None:
    names = {_spec(tmp_path).name for _ in range(5)}
    assert len(names) == 5
    assert all(n.startswith("tritonkit-repo-") for n in names)


def test_image_choice_order() -> None:
    env = {"TRITONKIT_IMAGE": "mine/triton:1", "TRITONKIT_TAG": "24.01"}
    assert default_image(env={}) == f"nvcr.io/nvidia/tritonserver:{DEFAULT_TAG}-py3"
    assert default_image(env={"TRITONKIT_TAG": "24.01"}) == "nvcr.io/nvidia/tritonserver:24.01-py3"
    assert default_image(env=env) == "mine/triton:1"
    assert default_image(tag="23.12", env=env) == "nvcr.io/nvidia/tritonserver:23.12-py3"
    assert default_image(image="x/y:z", tag="23.12", env=env) == "x/y:z"
    assert image_registry("nvcr.io/nvidia/tritonserver:24.10-py3") == "nvcr.io"
    assert image_registry("tritonkit-test/tritonserver:cpu") == "docker.io"
    assert image_registry("localhost:5000/t:1") == "localhost:5000"


def test_secrets_are_masked() -> None:
    masked = mask_env(
        {"NGC_API_KEY": "nvapi-123", "HF_TOKEN": "t", "PASSWORD": "p", "MODE": "fast", "EMPTY_KEY": ""}
    )
    assert masked == {
        "NGC_API_KEY": "***",
        "HF_TOKEN": "***",
        "PASSWORD": "***",
        "MODE": "fast",
        "EMPTY_KEY": "",
    }


def test_parse_env(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FROM_HERE", "x")
    assert parse_env(["A=1", "B=", "FROM_HERE", "C=a=b"]) == {"A": "1", "B": "", "FROM_HERE": "x", "C": "a=b"}
    with pytest.raises(UsageError):
        parse_env(["1A=2"])


def test_cli_dry_run_prints_the_spec_with_secrets_masked(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    repo = tmp_path / "repo"
    repo.mkdir()
    code = run(
        ["serve", str(repo), "--dry-run", "--gpus", "device=1", "-e", "MY_SECRET=s3cr3t", "--log-verbose=1"]
    )
    out = capsys.readouterr().out
    assert code == 0
    data = json.loads(out)
    assert data["kind"] == "docker"
    assert data["device_requests"][0]["DeviceIDs"] == ["1"]
    assert data["env"] == {"MY_SECRET": "***"}
    assert "s3cr3t" not in out
    assert data["command"][-1] == "--log-verbose=1"


def test_cli_bad_gpus_is_exit_2(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    repo = tmp_path / "repo"
    repo.mkdir()
    assert run(["serve", str(repo), "--dry-run", "--gpus", "0,1"]) == 2
    assert "device=0,1" in capsys.readouterr().err


def test_plan_local_is_pure_and_writes_each_flag_once(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """plan_local binds no socket and reads no environment: everything comes in as arguments."""
    import socket

    from tritonkit.serve.plan import plan_local, server_args

    def no_socket(*args: object, **kwargs: object) -> None:
        raise AssertionError("the plan opened a socket")

    monkeypatch.setattr(socket, "socket", no_socket)
    monkeypatch.setattr("os.environ", {})
    options = ServeOptions(
        http_port=18000, grpc_port=18001, metrics_port=18002, host_ip="0.0.0.0",
        model_control_mode="explicit", load_models=["a"], server_args=["--log-verbose=1"],
    )  # fmt: skip
    command = plan_local(
        "/r", options, binary=Path("/bin/tritonserver"), backend_dir=Path("/b"),
        env={"PATH": "/venv/bin"}, shm_prefix="tritonkit_1_abc_", runtime_backends=("pytorch",),
    )  # fmt: skip
    argv = command.argv
    assert argv[:3] == ["/bin/tritonserver", "--model-repository=/r", "--backend-directory=/b"]
    for flag in [*server_args(options, cpu_only=True), "--http-port=18000", "--grpc-port=18001",
                 "--metrics-port=18002", "--http-address=0.0.0.0", "--log-verbose=1"]:  # fmt: skip
        assert argv.count(flag) == 1, flag
    flags = [a.split("=", 1)[0] for a in argv[1:] if not a.startswith("--backend-config=")]
    assert len(flags) == len(set(flags)), "a flag written twice"
    assert command.env == {"PATH": "/venv/bin"} and command.ports == {
        "http": 18000,
        "grpc": 18001,
        "metrics": 18002,
    }
    with pytest.raises(UsageError, match="resolved"):
        plan_local("/r", ServeOptions(), binary=Path("/t"), backend_dir=Path("/b"), env={}, shm_prefix="p")


def test_one_serve_options_for_both_engines() -> None:
    import tritonkit.serve.local as local

    assert not hasattr(local, "LocalOptions")
    assert ServeOptions().host_ip == "127.0.0.1"
    assert ServeOptions().ports == {"http": 0, "grpc": 0, "metrics": 0}  # any free port, resolved at the edge


def test_cli_local_dry_run(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """`serve --local --dry-run` prints the exact local plan and starts, binds and builds nothing."""
    from conftest import require
    from tritonkit.serve.binary import wheel_root
    from tritonkit.serve.install import cache_root
    from tritonkit.serve.local import state_dir
    from tritonkit.serve.process import SHM_DIR

    require(wheel_root() is not None, "the Triton server", "pip install nvidia-pytriton==0.7.0")
    repo = tmp_path / "repo"
    repo.mkdir()
    code = run(
        ["serve", str(repo), "--local", "--dry-run", "--http-port", "0", "--grpc-port", "0",
         "--metrics-port", "0", "--log-verbose=1", "--server-arg=--id=https://u:pw@example.org/x"]
    )  # fmt: skip
    out = capsys.readouterr().out
    data = json.loads(out)
    assert code == 0
    assert data["kind"] == "local"
    argv = data["argv"]
    assert argv[0] == str(wheel_root() / "bin" / "tritonserver")
    assert f"--model-repository={repo}" in argv
    ports = data["ports"]
    assert len(set(ports.values())) == 3 and all(0 < p < 65536 for p in ports.values())
    for kind, port in ports.items():
        assert argv.count(f"--{kind}-port={port}") == 1
        assert argv.count(f"--{kind}-address=127.0.0.1") == 1
    for flag in ("--exit-on-error=false", "--model-control-mode=none", "--allow-gpu-metrics=false"):
        assert argv.count(flag) == 1, flag
    assert argv[-2:] == ["--id=https://***@example.org/x", "--log-verbose=1"]
    assert "pw@" not in out
    prefix = data["shm_prefix"]
    assert f"--backend-config=python,shm-region-prefix-name={prefix}" in argv
    assert data["env"]["PATH"].split(":")[0].endswith("bin")
    assert "nvidia_pytriton.libs" in data["env"]["LD_LIBRARY_PATH"]
    # Nothing was made: no backend folder, no record, no log, no shared memory.
    assert Path(data["backend_dir"]).parent == cache_root()
    assert not cache_root().exists()
    assert not state_dir().exists()
    assert list(SHM_DIR.glob(f"{prefix}*")) == []


def test_packaged_dockerfile_matches_docker_folder() -> None:
    from tritonkit.serve.images import REQUIREMENTS_DOCKERFILE

    root = Path(__file__).resolve().parent.parent
    assert (root / "docker" / "Dockerfile").read_text() == REQUIREMENTS_DOCKERFILE


def test_find_requirements(tmp_path: Path) -> None:
    from tritonkit.serve.images import find_requirements

    repo = tmp_path / "repo"
    repo.mkdir()
    assert find_requirements(repo) is None
    (tmp_path / "requirements.txt").write_text("numpy\n")
    assert find_requirements(repo) == tmp_path / "requirements.txt"
    (repo / "requirements.txt").write_text("numpy\n")
    assert find_requirements(repo) == repo / "requirements.txt"


def test_dry_run_never_shows_the_ngc_key(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("NGC_API_KEY", "nvapi-DO-NOT-SHOW")
    repo = tmp_path / "repo"
    repo.mkdir()
    assert run(["serve", str(repo), "--dry-run", "-e", "NGC_API_KEY"]) == 0
    out = capsys.readouterr()
    assert "DO-NOT-SHOW" not in out.out + out.err
    assert json.loads(out.out)["env"] == {"NGC_API_KEY": "***"}


LOG = """\
I1125 06:23:13.396081 7263 cuda_memory_manager.cc:117] "CUDA memory pool disabled"
E1125 06:23:13.396143 7263 server.cc:241] "CudaDriverHelper has not been initialized."
[libprotobuf ERROR text_format.cc:337] Error parsing text-format inference.ModelConfig: 6:1: Message type \
"inference.ModelInput" has no field named "bogus".
E1125 06:23:13.396915 7263 model_repository_manager.cc:1460] "Poll failed for model directory 'add_sub': \
failed to read text proto from /r/add_sub/config.pbtxt"
I1125 06:23:13.397034 7263 model_lifecycle.cc:472] "loading: other:1"
I1125 06:23:13.406240 7271 pb_stub.cc:2105]  Failed to preinitialize Python stub: Python model file \
not found in '/r/other/1/model.py'
I1125 06:23:13.5 7263 model_lifecycle.cc:472] "loading: fine:1"
"""


def test_explaining_lines_pick_the_parse_position_and_the_model() -> None:
    from tritonkit.serve.ready import clean_log_line, explaining_lines

    lines = explaining_lines(LOG, "add_sub")
    assert len(lines) == 2
    assert "6:1" in lines[0] and "Poll failed for model directory 'add_sub'" in lines[1]
    assert clean_log_line(lines[0]).startswith(
        "Error parsing text-format inference.ModelConfig: 6:1: Message type"
    )
    assert clean_log_line(lines[1]).startswith("Poll failed for model directory 'add_sub'")
    assert "model.py" in explaining_lines(LOG, "other")[0]
    assert explaining_lines(LOG, "fine") == []


def test_fatal_log_line() -> None:
    from tritonkit.serve.ready import fatal_log_line

    assert fatal_log_line(LOG) is not None and "Failed to preinitialize Python stub" in fatal_log_line(LOG)  # type: ignore[operator]
    assert fatal_log_line("I1125 all good") is None


def test_model_states_from_log_only() -> None:
    from tritonkit.serve.ready import model_states

    states = {m.name: m for m in model_states(None, ["add_sub", "other", "fine"], LOG)}
    assert set(states) == {"add_sub", "other"}  # only models the log explains
    assert states["add_sub"].state == "FAILED" and "6:1" in states["add_sub"].reason


def test_a_remote_repository_is_passed_as_it_is(tmp_path: Path) -> None:
    options = ServeOptions(http_port=8000, grpc_port=8001, metrics_port=8002, name="s3srv")
    now = datetime(2026, 1, 2, tzinfo=timezone.utc)
    spec = plan_container("s3://u:pw@127.0.0.1:9000/models/p", options, environ={}, now=now)
    assert "--model-repository=s3://u:pw@127.0.0.1:9000/models/p" in spec.command and spec.mounts == []
    shown = json.dumps(spec.to_dict())
    assert "pw@" not in shown and "s3://***@127.0.0.1:9000/models/p" in shown


def test_serve_says_which_models_run_through_a_tritonkit_runtime(capsys: pytest.CaptureFixture[str]) -> None:
    from types import SimpleNamespace

    from tritonkit.cli.serve import _print_ready
    from tritonkit.serve.ready import ModelState, Readiness

    models = [ModelState("lin", "1", "READY"), ModelState("py", "1", "READY")]
    server = SimpleNamespace(
        name="s", readiness=Readiness(ready=True, live=True, models=models),
        runtime_models={"lin": "pytorch"}, http_url="h:1", grpc_url="h:2", metrics_url="h:3", warnings=[],
    )  # fmt: skip
    _print_ready(server, 1.0)  # type: ignore[arg-type]
    out = capsys.readouterr().out
    assert (
        "model lin v1: READY (through tritonkit's Python-backend runtime for 'pytorch', not the real libtorch"
        in out
    )
    assert "model py v1: READY\n" in out
