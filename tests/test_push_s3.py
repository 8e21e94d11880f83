"""push, validate and the real Triton server against a real S3 server (SeaweedFS, one per session).

The polling test runs one real tritonserver on `s3://...` in poll mode through four pushes: version 2
is picked up with no failed load in the log, and pushes killed with SIGKILL and SIGINT in the middle of
a large upload leave it serving version 2; the next push finishes the job and version 3 loads; a new
model pushed config-first (no timestamp wait) loads only once complete.
"""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

import s3_support
from conftest import require
from s3_support import S3Server, free_ports
from serve_support import TRITONKIT, break_config, cli, infer_add_sub, scaffold_add_sub

pytestmark = pytest.mark.server
s3_server = s3_support.s3_server  # the session fixture: one S3 server for every test here


def _env(s3: S3Server, **kw: str) -> dict[str, str]:
    return s3.env(**kw)


def _one_line_error(result: subprocess.CompletedProcess[str]) -> str:
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert lines and lines[0].startswith("error: "), result.stderr
    assert len(lines) == 2 and lines[1].startswith("hint: "), result.stderr
    assert "Traceback" not in result.stderr
    return lines[0]


def test_push_is_incremental_and_validate_s3_matches_the_local_copy(
    s3_server: S3Server, tmp_path: Path
) -> None:
    repo = scaffold_add_sub(tmp_path)
    uri = s3_server.uri("incremental")
    dry = cli("push", str(repo), uri, "--dry-run", env=_env(s3_server))
    assert dry.returncode == 0, dry.stderr
    assert "upload add_sub/1/model.py" in dry.stdout and "config add_sub/config.pbtxt" in dry.stdout
    assert s3_server.client().list_objects_v2(Bucket="models", Prefix="incremental/").get("KeyCount") == 0  # type: ignore[attr-defined]
    first = cli("push", str(repo), uri, env=_env(s3_server))
    assert first.returncode == 0, first.stderr
    assert "2 upload(s)" in first.stdout
    assert s3_server.env()["AWS_SECRET_ACCESS_KEY"] not in first.stdout + first.stderr
    again = cli("push", str(repo), uri, env=_env(s3_server))
    assert again.returncode == 0 and "0 upload(s)" in again.stdout and "2 unchanged" in again.stdout

    # The same findings on s3:// as on disk: a repository with an error, uploaded as it is (push refuses it).
    break_config(repo)
    (repo / "add_sub" / "01").mkdir()
    (repo / "add_sub" / "01" / "model.py").write_text("x = 1\n")
    refused = cli("push", str(repo), uri, env=_env(s3_server))
    assert refused.returncode == 1 and "validation error" in _one_line_error(refused)
    client = s3_server.client()
    for path in sorted(p for p in repo.rglob("*") if p.is_file()):
        client.upload_file(str(path), "models", f"broken/{path.relative_to(repo).as_posix()}")  # type: ignore[attr-defined]
    remote = cli("validate", s3_server.uri("broken"), "--format", "json", env=_env(s3_server))
    local = cli("validate", str(repo), "--format", "json", env=_env(s3_server))
    assert remote.returncode == local.returncode == 1
    shown = json.loads(remote.stdout)
    assert shown["findings"], "the broken repository has findings"
    for finding in shown["findings"]:
        assert finding["file"] is None or finding["file"].startswith(s3_server.uri("broken"))
    mapped = remote.stdout.replace(s3_server.uri("broken"), str(repo))
    assert json.loads(mapped) == json.loads(local.stdout)
    # describe reads the remote copy too
    described = cli("describe", "add_sub", "--repo", uri, env=_env(s3_server))
    assert described.returncode == 0 and "INPUT0" in described.stdout


def test_each_bad_remote_is_one_line_with_a_hint_in_bounded_time(s3_server: S3Server, tmp_path: Path) -> None:
    repo = scaffold_add_sub(tmp_path)
    nothing = free_ports(1)[0]
    cases = [
        (["validate", f"s3://127.0.0.1:{nothing}/models/x"], {}, 3, "cannot reach"),
        (["push", str(repo), f"s3://127.0.0.1:{nothing}/models/x"], {}, 3, "cannot reach"),
        (["validate", f"s3://{s3_server.endpoint}/nosuchbucket/x"], {}, 2, "does not exist"),
        (["push", str(repo), f"s3://{s3_server.endpoint}/nosuchbucket/x"], {}, 2, "does not exist"),
        (["validate", s3_server.uri("never-pushed")], {}, 2, "no repository at"),
        (["validate", s3_server.uri("x")], {"secret": "wrong-secret"}, 2, "refused the credentials"),
        (["push", str(repo), s3_server.uri("x")], {"secret": "wrong-secret"}, 2, "refused the credentials"),
        (["push", str(repo), "gs://bucket/models"], {}, 2, "cannot open gs://"),
    ]
    for args, env, code, text in cases:
        started = time.monotonic()
        result = cli(*args, env=_env(s3_server, **env))
        elapsed = time.monotonic() - started
        line = _one_line_error(result)
        assert result.returncode == code, (args, result.stderr)
        assert text in line, (args, line)
        assert "wrong-secret" not in result.stderr
        assert elapsed < 20, (args, elapsed)  # never Triton's ~52 s hang


# ---------------------------------------------------------------------------------------------- polling


@dataclass
class PollingServer:
    process: subprocess.Popen[bytes]
    http: str
    log: Path
    shm_prefix: str

    def version_ready(self, version: int, model: str = "add_sub") -> bool:
        try:
            with urllib.request.urlopen(
                f"http://{self.http}/v2/models/{model}/versions/{version}/ready", timeout=2
            ) as answer:
                return answer.status == 200
        except (urllib.error.HTTPError, OSError):
            return False

    def errors(self) -> list[str]:
        """Error lines of the log (Triton's "E1201 ..." lines), less the one every CPU server logs."""
        lines = self.log.read_text(errors="replace").splitlines()
        return [
            line
            for line in lines
            if (re.match(r"^E\d{4} ", line) or "failed to load" in line or "Poll failed" in line)
            and "CudaDriverHelper" not in line
        ]


def _wait(condition: object, timeout: float, what: str, server: PollingServer) -> None:
    deadline = time.monotonic() + timeout
    while not condition():  # type: ignore[operator]
        if time.monotonic() > deadline or server.process.poll() is not None:
            pytest.fail(f"{what} within {timeout}s; server log:\n{server.log.read_text()[-4000:]}")
        time.sleep(0.25)


@pytest.fixture
def polling_server(
    s3_server: S3Server, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> Iterator[tuple[PollingServer, Path, str]]:
    """A repository pushed to S3, and `serve --local s3://...` polling it every second."""
    from client_support import server_binary

    require(server_binary() is not None, "the Triton server", "pip install 'tritonkit[server]'")
    from tritonkit.serve import ServeOptions, start_server

    repo = scaffold_add_sub(tmp_path)
    uri = s3_server.uri("polling")
    pushed = cli("push", str(repo), uri, env=_env(s3_server))
    assert pushed.returncode == 0, pushed.stderr
    for key, value in _env(s3_server).items():
        monkeypatch.setenv(key, value)
    log = tmp_path / "tritonserver.log"
    options = ServeOptions(
        model_control_mode="poll", server_args=["--repository-poll-secs=1"], log_path=log, startup_timeout=120
    )
    handle = start_server(uri, options, local=True)
    server = PollingServer(handle.process, handle.http_url, log, handle.command.shm_prefix)
    try:
        assert server.version_ready(1)
        yield server, repo, uri
    finally:
        handle.stop()


def _new_version(repo: Path, version: int, scale: float, data_mb: int = 0) -> None:
    """Version `version` of add_sub: outputs are the inputs times `scale`; a big data file read at load."""
    folder = repo / "add_sub" / str(version)
    folder.mkdir()
    text = (repo / "add_sub" / "1" / "model.py").read_text()
    assert "def execute" in text
    if data_mb:
        with open(folder / "weights.bin", "wb") as handle:
            for _ in range(data_mb):
                handle.write(os.urandom(1024 * 1024))
    (folder / "model.py").write_text(text + _SCALE.format(scale=scale, need=bool(data_mb)))


# Appended to the scaffolded model.py: wrap execute so outputs are scaled, and refuse to load when the
# version's data file is missing (a half-uploaded version would then fail its load, loudly).
_SCALE = """

import os as _os

_execute = TritonPythonModel.execute
_initialize = getattr(TritonPythonModel, "initialize", None)


def _scaled_initialize(self, args):
    folder = _os.path.join(args["model_repository"], args["model_version"])
    if {need} and not _os.path.isfile(_os.path.join(folder, "weights.bin")):
        raise RuntimeError("weights.bin missing: half a version")
    if _initialize is not None:
        _initialize(self, args)


def _scaled_execute(self, requests):
    import numpy
    import triton_python_backend_utils as pb

    out = []
    for response in _execute(self, requests):
        tensors = [pb.Tensor(t.name(), (t.as_numpy() * {scale}).astype(numpy.float32))
                   for t in response.output_tensors()]
        out.append(pb.InferenceResponse(output_tensors=tensors))
    return out


TritonPythonModel.initialize = _scaled_initialize
TritonPythonModel.execute = _scaled_execute
"""


def _interrupted_push(repo: Path, uri: str, s3: S3Server, sig: int, after: str = "pin") -> int:
    """Start a push, send `sig` once the `after` step is up and the big upload runs; the exit code."""
    process = subprocess.Popen(
        [*TRITONKIT, "push", str(repo), uri], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        env=os.environ | _env(s3), stdin=subprocess.DEVNULL,
    )  # fmt: skip
    assert process.stderr is not None
    for line in process.stderr:
        if line.strip().startswith(after):
            time.sleep(0.3)
            break
    process.send_signal(sig)
    process.communicate(timeout=60)
    return process.returncode


def test_polling_server_sees_whole_versions_only(
    polling_server: tuple[PollingServer, Path, str], s3_server: S3Server
) -> None:
    server, repo, uri = polling_server
    answer = cli(
        "infer", "add_sub", "-i", "INPUT0=[1,2,3,4]", "-i", "INPUT1=[1,1,1,1]", "--json", "--url", server.http
    )
    assert answer.returncode == 0, answer.stderr
    assert "OUTPUT0" in answer.stdout
    assert infer_add_sub(server.http)["OUTPUT0"] == [1.0, 2.0, 3.0, 4.0]

    _new_version(repo, 2, scale=2.0)
    pushed = cli("push", str(repo), uri, env=_env(s3_server))
    assert pushed.returncode == 0, pushed.stderr
    assert [line.split()[0] for line in pushed.stderr.splitlines()] == ["pin", "upload", "config"]
    _wait(
        lambda: server.version_ready(2) and not server.version_ready(1),
        30,
        "version 2 was not served",
        server,
    )
    assert infer_add_sub(server.http)["OUTPUT0"] == [2.0, 4.0, 6.0, 8.0]

    # Version 3 carries a 64 MB file: pushes killed in the middle leave version 2 served.
    _new_version(repo, 3, scale=3.0, data_mb=64)
    for sig in (signal.SIGKILL, signal.SIGINT):
        code = _interrupted_push(repo, uri, s3_server, sig)
        assert code == (130 if sig == signal.SIGINT else -signal.SIGKILL)
        time.sleep(2.5)  # two polls
        assert server.version_ready(2) and not server.version_ready(3)
        assert infer_add_sub(server.http)["OUTPUT0"] == [2.0, 4.0, 6.0, 8.0]
    finished = cli("push", str(repo), uri, env=_env(s3_server))
    assert finished.returncode == 0, finished.stderr
    _wait(lambda: server.version_ready(3), 30, "version 3 was not served", server)
    assert infer_add_sub(server.http)["OUTPUT0"] == [3.0, 6.0, 9.0, 12.0]
    assert server.errors() == [], "a polling server logged a failed load"

    # A new model on the polled prefix is published config first, its model file last, with no wait:
    # every earlier state fails to load and is retried (core reverts the model's timestamp), so the
    # first state that loads is the complete one. A half version would say "weights.bin missing".
    added = cli(
        "add", "fresh", "--backend", "python", "--repo", str(repo),
        "-i", "INPUT0:fp32:4", "-i", "INPUT1:fp32:4", "-o", "OUTPUT0:fp32:4", "-o", "OUTPUT1:fp32:4",
    )  # fmt: skip
    assert added.returncode == 0, added.stderr
    folder = repo / "fresh" / "1"
    with open(folder / "weights.bin", "wb") as handle:
        handle.write(os.urandom(64 * 1024 * 1024))
    (folder / "model.py").write_text((folder / "model.py").read_text() + _SCALE.format(scale=5.0, need=True))
    dry = cli("push", str(repo), uri, "--dry-run", env=_env(s3_server))
    steps = [
        line.split()[:2] for line in dry.stdout.splitlines() if line.split()[:1] in (["upload"], ["config"])
    ]
    assert steps == [
        ["config", "fresh/config.pbtxt"],
        ["upload", "fresh/1/weights.bin"],
        ["upload", "fresh/1/model.py"],
    ]
    # killed once the config is up: polls see a model with no version and fail; the next push completes it
    process = subprocess.Popen(
        [*TRITONKIT, "push", str(repo), uri], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        env=os.environ | _env(s3_server), stdin=subprocess.DEVNULL,
    )  # fmt: skip
    client = s3_server.client()
    key = f"{uri.split('/', 4)[4]}/fresh/config.pbtxt"
    _wait(
        lambda: client.list_objects_v2(Bucket="models", Prefix=key).get("KeyCount"), 30, "no config", server
    )  # type: ignore[attr-defined]
    process.kill()
    process.wait(timeout=30)
    _wait(
        lambda: any("fresh" in line for line in server.errors()),
        15,
        "no poll of the unfinished model",
        server,
    )
    assert not server.version_ready(1, "fresh")
    finished = cli("push", str(repo), uri, env=_env(s3_server))
    assert finished.returncode == 0, finished.stderr
    _wait(lambda: server.version_ready(1, "fresh"), 30, "the new model was not served", server)
    assert infer_add_sub(server.http, "fresh")["OUTPUT0"] == [5.0, 10.0, 15.0, 20.0]
    assert server.version_ready(3) and infer_add_sub(server.http)["OUTPUT0"] == [3.0, 6.0, 9.0, 12.0]
    failed = server.errors()  # the unfinished model's failed loads, retried each poll; nothing else
    assert failed and all("fresh" in line and "half a version" not in line for line in failed), failed


# ---------------------------------------------------------------------------------------------- serve s3://

FREE_PORTS = ["--http-port", "0", "--grpc-port", "0", "--metrics-port", "0"]


def _serve_and_infer(uri: str, s3: S3Server, *args: str) -> tuple[str, str]:
    """`tritonkit serve URI --detach ...`, then `tritonkit infer`; the server's name and the infer output."""
    from serve_support import http_url_from

    started = cli("serve", uri, "--detach", *FREE_PORTS, *args, env=_env(s3), timeout=240)
    assert started.returncode == 0, started.stdout + started.stderr
    assert "model add_sub v1: READY" in started.stdout
    name = next(line.split()[1] for line in started.stdout.splitlines() if line.startswith("server "))
    try:
        answer = cli(
            "infer", "add_sub", "-i", "INPUT0=[1,2,3,4]", "-i", "INPUT1=[4,3,2,1]", "--json",
            "--url", http_url_from(started.stdout),
        )  # fmt: skip
        assert answer.returncode == 0, answer.stderr
    finally:
        stopped = cli("stop", name)
        assert stopped.returncode == 0, stopped.stderr
    return name, answer.stdout


def test_serve_local_from_s3_answers_infer(s3_server: S3Server, tmp_path: Path) -> None:
    from client_support import server_binary

    require(server_binary() is not None, "the Triton server", "pip install 'tritonkit[server]'")
    repo = scaffold_add_sub(tmp_path)
    uri = s3_server.uri("serve-local")
    assert cli("push", str(repo), uri, env=_env(s3_server)).returncode == 0
    _, output = _serve_and_infer(uri, s3_server, "--local")
    assert json.loads(output)["outputs"]["OUTPUT0"]["data"] == [1.0, 2.0, 3.0, 4.0]
    # a wrong secret is refused by tritonkit's own check, before any server starts
    started = time.monotonic()
    refused = cli("serve", uri, "--local", "--detach", *FREE_PORTS, env=_env(s3_server, secret="nope"))
    assert refused.returncode == 2 and "refused the credentials" in _one_line_error(refused)
    assert time.monotonic() - started < 20
