"""Session fixtures and helpers for the serve tests: a private dockerd, the local CPU test image, the CLI.

The dockerd has its own data/exec root and socket under a tmp dir and is stopped at the end of the
session. The image is built once per session by docker/test-image/build.sh (its rootfs tarball is
cached across runs in $TRITONKIT_IMAGE_CACHE, default /var/tmp/tritonkit-image-cache, keyed by the
script and the wheel) and tagged both as tritonkit-test/tritonserver:cpu and as the default NGC
image, so `tritonkit serve` runs its default path without a pull.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from conftest import require

ROOT = Path(__file__).resolve().parent.parent
TEST_IMAGE = "tritonkit-test/tritonserver:cpu"
TRITONKIT = [sys.executable, "-m", "tritonkit"]


def default_ngc_image() -> str:
    from tritonkit.serve.plan import DEFAULT_TAG, IMAGE_REPOSITORY

    return f"{IMAGE_REPOSITORY}:{DEFAULT_TAG}-py3"


@dataclass
class Engine:
    """A private Docker engine: its DOCKER_HOST and an SDK client."""

    docker_host: str
    folder: Path
    client: object

    def env(self) -> dict[str, str]:
        return {"DOCKER_HOST": self.docker_host}


def _docker_ok() -> tuple[bool, str]:
    if os.geteuid() != 0:
        return False, "dockerd needs root"
    if not shutil.which("dockerd") or not shutil.which("docker"):
        return False, "install Debian's docker.io (scripts/start-dockerd.sh does)"
    if not shutil.which("debootstrap"):
        return False, "install debootstrap (scripts/start-dockerd.sh does)"
    try:
        import docker  # noqa: F401
    except ImportError:
        return False, "pip install 'tritonkit[docker]'"
    return True, ""


@pytest.fixture(scope="session")
def docker_engine(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Engine]:
    """Start our own dockerd (scripts/start-dockerd.sh) for the session; stop it at the end."""
    ok, how = _docker_ok()
    require(ok, "a Docker engine (dockerd)", how)
    folder = tmp_path_factory.mktemp("dockerd")
    result = subprocess.run(
        ["bash", str(ROOT / "scripts" / "start-dockerd.sh"), str(folder)],
        capture_output=True,
        text=True,
        timeout=180,
    )
    require(
        result.returncode == 0,
        "a private dockerd",
        f"scripts/start-dockerd.sh failed: {result.stderr[-2000:]}",
    )
    docker_host = f"unix://{folder}/docker.sock"
    import docker

    client = docker.DockerClient(base_url=docker_host, timeout=120)
    try:
        yield Engine(docker_host=docker_host, folder=folder, client=client)
    finally:
        for container in client.containers.list(all=True):
            container.remove(force=True)
        client.close()
        subprocess.run(
            ["bash", str(ROOT / "scripts" / "stop-dockerd.sh"), str(folder)], timeout=60, check=False
        )
        # The engine's data root is big (the image); do not keep it in pytest's tmp folders.
        subprocess.run(["rm", "-rf", str(folder / "data"), str(folder / "exec")], check=False)


@pytest.fixture(scope="session")
def cpu_image(docker_engine: Engine) -> str:
    """The local CPU image, tagged as tritonkit-test/tritonserver:cpu and as the default NGC image."""
    env = os.environ | docker_engine.env() | {"PYTHON": sys.executable}
    result = subprocess.run(
        ["bash", str(ROOT / "docker" / "test-image" / "build.sh"), TEST_IMAGE, default_ngc_image()],
        capture_output=True,
        text=True,
        env=env,
        timeout=900,
    )
    require(
        result.returncode == 0,
        "the local CPU test image",
        f"docker/test-image/build.sh failed: {result.stderr[-3000:]}",
    )
    return TEST_IMAGE


def managed_containers(engine: Engine) -> list[str]:
    """Names of every container (any state) carrying tritonkit's label."""
    from tritonkit.serve.plan import LABEL

    client = engine.client
    return [c.name for c in client.containers.list(all=True, filters={"label": f"{LABEL}=true"})]  # type: ignore[attr-defined]


# ---------------------------------------------------------------------------------------------- CLI + repos


def cli(
    *args: str, env: dict[str, str] | None = None, timeout: float = 180, cwd: Path | None = None
) -> subprocess.CompletedProcess[str]:
    """Run the real `tritonkit` command (a subprocess) and capture its output.

    On timeout it gets SIGINT first (Ctrl-C: tritonkit removes what it started), then the test fails.
    """
    process = subprocess.Popen(
        [*TRITONKIT, *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        stdin=subprocess.DEVNULL,  # never a terminal: no prompt can block a test
        text=True,
        env=os.environ | (env or {}),
        cwd=cwd,
    )
    try:
        out, err = process.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        process.send_signal(signal.SIGINT)
        try:
            out, err = process.communicate(timeout=30)
        except subprocess.TimeoutExpired:
            process.kill()
            out, err = process.communicate()
        raise AssertionError(
            f"tritonkit {' '.join(args)} timed out after {timeout}s:\n{out}\n{err}"
        ) from None
    return subprocess.CompletedProcess(process.args, process.returncode, out, err)


def scaffold_add_sub(base: Path, name: str = "add_sub") -> Path:
    """A repository with one plain python model (output i echoes input i), scaffolded by `tritonkit add`."""
    repo = base / "model_repository"
    assert cli("init", str(repo)).returncode == 0
    added = cli(
        "add", name, "--backend", "python", "--repo", str(repo),
        "-i", "INPUT0:fp32:4", "-i", "INPUT1:fp32:4", "-o", "OUTPUT0:fp32:4", "-o", "OUTPUT1:fp32:4",
    )  # fmt: skip
    assert added.returncode == 0, added.stderr
    return repo


def break_config(repo: Path, model: str = "add_sub") -> None:
    """Make a model's config unparseable (a field that does not exist, on line 6)."""
    config = repo / model / "config.pbtxt"
    lines = config.read_text().splitlines()
    lines.insert(5, "bogus_field: 1")
    config.write_text("\n".join(lines) + "\n")


def infer_add_sub(http_url: str, model: str = "add_sub") -> dict[str, list[float]]:
    """One HTTP inference (plain JSON), outputs by name."""
    body = {
        "inputs": [
            {"name": "INPUT0", "shape": [4], "datatype": "FP32", "data": [1.0, 2.0, 3.0, 4.0]},
            {"name": "INPUT1", "shape": [4], "datatype": "FP32", "data": [0.5, 0.5, 0.5, 0.5]},
        ]
    }
    request = urllib.request.Request(
        f"http://{http_url}/v2/models/{model}/infer", data=json.dumps(body).encode(), method="POST"
    )
    with urllib.request.urlopen(request, timeout=30) as response:
        data = json.loads(response.read())
    return {o["name"]: o["data"] for o in data["outputs"]}


def http_url_from(output: str) -> str:
    """The HTTP endpoint printed by `tritonkit serve` ("HTTP    http://host:port")."""
    for line in output.splitlines():
        if line.strip().startswith("HTTP"):
            return line.split("http://", 1)[1].strip()
    raise AssertionError(f"no HTTP endpoint in output:\n{output}")


def serve_foreground(
    args: list[str], env: dict[str, str] | None = None, timeout: float = 120
) -> tuple[subprocess.Popen[str], str]:
    """Start `tritonkit serve` in the foreground; return the process once it printed its readiness."""
    process = subprocess.Popen(
        [*TRITONKIT, "serve", *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        env=os.environ | (env or {}),
    )
    assert process.stdout is not None
    seen: list[str] = []
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        line = process.stdout.readline()
        if not line:
            break
        seen.append(line)
        if "streaming logs" in line:
            return process, "".join(seen)
    process.send_signal(signal.SIGINT)
    process.wait(30)
    raise AssertionError("serve did not become ready:\n" + "".join(seen))


def interrupt(process: subprocess.Popen[str], timeout: float = 60) -> tuple[int, str]:
    """SIGINT a foreground serve (Ctrl-C) and wait for it; returns (exit code, rest of its output)."""
    process.send_signal(signal.SIGINT)
    out, _ = process.communicate(timeout=timeout)
    return process.returncode, out or ""


@dataclass
class Registry:
    """A local registry (Debian's docker-registry, plain HTTP on 127.0.0.1: docker allows it insecure)."""

    address: str
    process: subprocess.Popen[bytes]
    folder: Path


def start_registry(folder: Path, htpasswd: str | None = None) -> Registry:
    """Start docker-registry on a free 127.0.0.1 port, storing under `folder` (basic auth when htpasswd)."""
    from tritonkit.serve.ports import free_port

    folder.mkdir(parents=True, exist_ok=True)
    port = free_port()
    auth = ""
    if htpasswd is not None:
        (folder / "htpasswd").write_text(htpasswd)
        auth = f"auth:\n  htpasswd:\n    realm: tritonkit-test\n    path: {folder / 'htpasswd'}\n"
    config = folder / "config.yml"
    config.write_text(
        "version: 0.1\n"
        "log:\n  level: warn\n"
        f"storage:\n  filesystem:\n    rootdirectory: {folder / 'data'}\n"
        f"http:\n  addr: 127.0.0.1:{port}\n" + auth
    )
    log = open(folder / "registry.log", "wb")  # noqa: SIM115
    process = subprocess.Popen(
        ["docker-registry", "serve", str(config)], stdout=log, stderr=subprocess.STDOUT
    )
    log.close()
    address = f"127.0.0.1:{port}"
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(f"http://{address}/v2/", timeout=1):
                return Registry(address=address, process=process, folder=folder)
        except urllib.error.HTTPError as exc:
            if exc.code == 401:  # up, and asking for credentials
                return Registry(address=address, process=process, folder=folder)
        except OSError:
            pass
        time.sleep(0.1)
    stop_registry(Registry(address=address, process=process, folder=folder))
    raise AssertionError("docker-registry did not start: " + (folder / "registry.log").read_text())


def stop_registry(registry: Registry) -> None:
    registry.process.terminate()
    try:
        registry.process.wait(10)
    except subprocess.TimeoutExpired:
        registry.process.kill()
        registry.process.wait()
    shutil.rmtree(registry.folder / "data", ignore_errors=True)


@pytest.fixture(scope="session")
def local_registry(tmp_path_factory: pytest.TempPathFactory, docker_engine: Engine) -> Iterator[Registry]:
    """A registry without auth, for the session."""
    require(bool(shutil.which("docker-registry")), "docker-registry", "apt-get install docker-registry")
    registry = start_registry(tmp_path_factory.mktemp("registry"))
    try:
        yield registry
    finally:
        stop_registry(registry)
