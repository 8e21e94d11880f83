"""`tritonkit serve` through the Docker SDK, on a private dockerd, with a local CPU image of the real server.

The image is tagged as the default NGC image, so the default path (no --image) runs without a pull.
Every test checks that no container carrying tritonkit's label is left behind.
"""

from __future__ import annotations

import io
import json
import socket
from collections.abc import Iterator
from pathlib import Path

import pytest

import s3_support
from s3_support import S3Server
from serve_support import (
    Engine,
    Registry,
    break_config,
    cli,
    cpu_image,  # noqa: F401  (session fixture)
    docker_engine,  # noqa: F401  (session fixture)
    http_url_from,
    infer_add_sub,
    interrupt,
    local_registry,  # noqa: F401  (session fixture)
    managed_containers,
    scaffold_add_sub,
    serve_foreground,
    start_registry,
    stop_registry,
)

pytestmark = pytest.mark.docker

s3_server = s3_support.s3_server  # the session's one S3 server (issue 12)
FREE_PORTS = ["--http-port", "0", "--grpc-port", "0", "--metrics-port", "0"]


@pytest.fixture
def engine(docker_engine: Engine, cpu_image: str, monkeypatch: pytest.MonkeyPatch) -> Iterator[Engine]:  # noqa: F811
    """The private engine for this test's CLI runs; asserts the test left no tritonkit container behind."""
    monkeypatch.setenv("DOCKER_HOST", docker_engine.docker_host)
    monkeypatch.delenv("NGC_API_KEY", raising=False)
    monkeypatch.delenv("TRITONKIT_IMAGE", raising=False)
    monkeypatch.delenv("TRITONKIT_TAG", raising=False)
    yield docker_engine
    left = managed_containers(docker_engine)
    for name in left:
        docker_engine.client.containers.get(name).remove(force=True)  # type: ignore[attr-defined]
    assert left == [], f"containers left behind: {left}"


def test_serve_detach_infer_status_stop(engine: Engine, tmp_path: Path) -> None:
    repo = scaffold_add_sub(tmp_path)
    started = cli("serve", str(repo), "--detach", "--name", "dk1", *FREE_PORTS)
    assert started.returncode == 0, started.stderr
    assert "model add_sub v1: READY" in started.stdout
    http = http_url_from(started.stdout)
    try:
        assert infer_add_sub(http) == {"OUTPUT0": [1.0, 2.0, 3.0, 4.0], "OUTPUT1": [0.5, 0.5, 0.5, 0.5]}
        (row,) = json.loads(cli("status", "--json").stdout)
        assert row["name"] == "dk1" and row["kind"] == "docker" and row["ready"] is True
        assert row["http"] == http and row["repository"] == str(repo)
        container = engine.client.containers.get("dk1")  # type: ignore[attr-defined]
        config = container.attrs["HostConfig"]
        (mount,) = config["Mounts"]
        assert (mount["Source"], mount["Target"], mount["ReadOnly"]) == (str(repo), "/models", True)
        assert config["ShmSize"] == 1024**3
        assert "Started HTTPService" in cli("logs", "dk1").stdout
    finally:
        stopped = cli("stop", "dk1")
    assert stopped.returncode == 0, stopped.stderr
    assert managed_containers(engine) == []


def test_serve_foreground_sigint_removes_the_container(engine: Engine, tmp_path: Path) -> None:
    repo = scaffold_add_sub(tmp_path)
    process, output = serve_foreground([str(repo), "--name", "dkfg", *FREE_PORTS])
    try:
        assert infer_add_sub(http_url_from(output))["OUTPUT0"] == [1.0, 2.0, 3.0, 4.0]
        assert managed_containers(engine) == ["dkfg"]
    finally:
        code, rest = interrupt(process)
    assert code == 130
    assert "stopped and removed dkfg" in rest
    assert managed_containers(engine) == []


def test_broken_model_reason_and_exit_3(engine: Engine, tmp_path: Path) -> None:
    repo = scaffold_add_sub(tmp_path)
    break_config(repo)
    result = cli("serve", str(repo), "--timeout", "60", *FREE_PORTS)
    assert result.returncode == 3
    assert "add_sub" in result.stderr and "6:1" in result.stderr and "bogus_field" in result.stderr
    assert "Traceback" not in result.stderr


def test_missing_image_that_cannot_be_pulled(engine: Engine, tmp_path: Path) -> None:
    repo = scaffold_add_sub(tmp_path)
    result = cli("serve", str(repo), "--tag", "0.0", *FREE_PORTS)
    assert result.returncode == 3
    assert "nvcr.io/nvidia/tritonserver:0.0-py3 is not present and cannot be pulled" in result.stderr
    assert "Traceback" not in result.stderr


def test_gpu_request_without_nvidia_runtime(engine: Engine, tmp_path: Path) -> None:
    repo = scaffold_add_sub(tmp_path)
    result = cli("serve", str(repo), "--gpus", "1", *FREE_PORTS)
    assert result.returncode == 3
    assert "NVIDIA container runtime" in result.stderr
    assert "--gpus 0" in result.stderr
    all_containers = engine.client.containers.list(all=True)  # type: ignore[attr-defined]
    assert all_containers == []


def test_port_in_use_is_a_clear_error(engine: Engine, tmp_path: Path) -> None:
    repo = scaffold_add_sub(tmp_path)
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        sock.listen()
        port = sock.getsockname()[1]
        result = cli("serve", str(repo), "--http-port", str(port), "--grpc-port", "0", "--metrics-port", "0")
    assert result.returncode == 3
    assert f"port {port} (--http-port) is already in use" in result.stderr


def test_no_engine_is_exit_3(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DOCKER_HOST", f"unix://{tmp_path}/none.sock")
    repo = scaffold_add_sub(tmp_path)
    result = cli("serve", str(repo), *FREE_PORTS)
    assert result.returncode == 3
    assert "cannot reach the Docker engine" in result.stderr and "--local" in result.stderr


def test_build_extends_the_image_with_requirements(engine: Engine, tmp_path: Path) -> None:
    repo = scaffold_add_sub(tmp_path)
    (repo.parent / "requirements.txt").write_text("numpy\n")  # already in the image: pip needs no network
    started = cli("serve", str(repo), "--build", "--detach", "--name", "dkb", *FREE_PORTS, timeout=600)
    assert started.returncode == 0, started.stderr
    try:
        container = engine.client.containers.get("dkb")  # type: ignore[attr-defined]
        assert container.attrs["Config"]["Image"].startswith("tritonkit-built/tritonserver:")
        assert infer_add_sub(http_url_from(started.stdout))["OUTPUT0"] == [1.0, 2.0, 3.0, 4.0]
    finally:
        assert cli("stop", "dkb").returncode == 0


def test_login_and_pull_never_show_the_key(
    engine: Engine, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("NGC_API_KEY", "nvapi-DO-NOT-SHOW")
    login = cli("login")
    assert login.returncode == 3
    assert "nvcr.io" in login.stderr
    repo = scaffold_add_sub(tmp_path)
    pulled = cli("serve", str(repo), "--tag", "0.0", *FREE_PORTS)
    assert pulled.returncode == 3
    for result in (login, pulled):
        assert "DO-NOT-SHOW" not in result.stdout + result.stderr
        assert "Traceback" not in result.stderr


def test_login_without_a_key_is_a_usage_error(engine: Engine) -> None:
    result = cli("login")  # stdin is not a terminal: no prompt
    assert result.returncode == 2
    assert "NGC_API_KEY" in result.stderr


def test_pull_never_with_a_missing_image(engine: Engine, tmp_path: Path) -> None:
    repo = scaffold_add_sub(tmp_path)
    result = cli("serve", str(repo), "--image", "tritonkit-test/absent:1", "--pull", "never", *FREE_PORTS)
    assert result.returncode == 3
    assert "tritonkit-test/absent:1 is not present (--pull never)" in result.stderr


def test_pull_from_a_registry_with_layer_progress(
    engine: Engine,
    cpu_image: str,  # noqa: F811
    local_registry: Registry,  # noqa: F811
    tmp_path: Path,
) -> None:
    client = engine.client
    remote = f"{local_registry.address}/tritonkit/tritonserver:cpu"
    # One layer of our own on top, so that the pull really downloads something.
    dockerfile = f"FROM {cpu_image}\nRUN head -c 3000000 /dev/urandom > /opt/tritonkit-pull-test.bin\n"
    client.images.build(fileobj=io.BytesIO(dockerfile.encode()), tag=remote, rm=True)  # type: ignore[attr-defined]
    for event in client.images.push(remote, stream=True, decode=True):  # type: ignore[attr-defined]
        assert "error" not in event, event
    client.images.remove(remote)  # type: ignore[attr-defined]
    repo = scaffold_add_sub(tmp_path)
    try:
        started = cli("serve", str(repo), "--image", remote, "--detach", "--name", "dkpull", *FREE_PORTS)
        assert started.returncode == 0, started.stderr
        pull_lines = [line for line in started.stderr.splitlines() if line.startswith("pull ")]
        assert any(line.endswith("Already exists") or "Pull complete" in line for line in pull_lines), (
            pull_lines
        )
        assert "model add_sub v1: READY" in started.stdout
        assert cli("stop", "dkpull").returncode == 0
    finally:
        client.images.remove(remote, force=True)  # type: ignore[attr-defined]


def test_login_uses_oauthtoken_and_the_key(
    engine: Engine, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A registry with basic auth for user `$oauthtoken`: the right key logs in, a wrong one is refused."""
    import shutil
    import warnings

    from conftest import require

    require(bool(shutil.which("docker-registry")), "docker-registry", "apt-get install docker-registry")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        import crypt

        hashed = crypt.crypt("nvapi-RIGHT-KEY", crypt.mksalt(crypt.METHOD_BLOWFISH))
    registry = start_registry(tmp_path / "registry", htpasswd=f"$oauthtoken:{hashed}\n")
    try:
        monkeypatch.setenv("NGC_API_KEY", "nvapi-RIGHT-KEY")
        good = cli("login", "--registry", registry.address)
        assert good.returncode == 0, good.stderr
        assert "Login Succeeded" in good.stdout and "$oauthtoken" in good.stdout
        monkeypatch.setenv("NGC_API_KEY", "nvapi-WRONG-KEY")
        bad = cli("login", "--registry", registry.address)
        assert bad.returncode == 3
        assert "refused" in bad.stderr
        for result in (good, bad):
            assert "RIGHT-KEY" not in result.stdout + result.stderr
            assert "WRONG-KEY" not in result.stdout + result.stderr
        assert not list(Path.home().rglob("config.json")), "tritonkit writes no credentials file"
    finally:
        stop_registry(registry)


def test_serve_from_s3_on_the_host_network(engine: Engine, s3_server: S3Server, tmp_path: Path) -> None:
    # issue 12: in a container 127.0.0.1 is the container; an s3:// endpoint there needs the host network
    repo = scaffold_add_sub(tmp_path)
    uri = s3_server.uri("serve-docker")
    assert cli("push", str(repo), uri, env=s3_server.env()).returncode == 0
    started = cli("serve", uri, "--detach", "--name", "dk-s3", *FREE_PORTS, env=s3_server.env())
    assert started.returncode == 0, started.stdout + started.stderr
    try:
        assert "model add_sub v1: READY" in started.stdout
        http = http_url_from(started.stdout)
        answer = cli("infer", "add_sub", "-i", "INPUT0=[1,2,3,4]", "-i", "INPUT1=[4,3,2,1]", "--url", http)
        assert answer.returncode == 0, answer.stderr
        config = engine.client.containers.get("dk-s3").attrs["HostConfig"]  # type: ignore[attr-defined]
        assert config["NetworkMode"] == "host" and not config.get("Mounts")
    finally:
        stopped = cli("stop", "dk-s3")
    assert stopped.returncode == 0, stopped.stderr
