"""Faults of issue 14 on the serve side, reproduced: kills at any moment, reused pids, orphaned stubs, port
races, hostile paths and flags, credentials in --dry-run. Each test failed before its fix."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import time
from pathlib import Path
from typing import Any

import pytest

from conftest import require
from serve_support import TRITONKIT, cli, http_url_from, infer_add_sub, scaffold_add_sub
from tritonkit.serve.binary import wheel_root
from tritonkit.serve.local import state_dir
from tritonkit.serve.process import SHM_DIR, identify, tagged_pids

pytestmark = pytest.mark.reliability

FREE_PORTS = ["--http-port", "0", "--grpc-port", "0", "--metrics-port", "0"]


def _need_server() -> None:
    require(wheel_root() is not None, "the Triton server", "pip install nvidia-pytriton==0.7.0")


def _record(name: str) -> dict[str, Any] | None:
    try:
        data: dict[str, Any] = json.loads((state_dir() / "servers" / f"{name}.json").read_text())
    except (OSError, ValueError):
        return None
    return data


def _wait_for(check: Any, timeout: float = 90.0, poll: float = 0.005) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = check()
        if value:
            return value
        time.sleep(poll)
    raise AssertionError("condition not reached in time")


def _assert_nothing_left(record: dict[str, Any]) -> None:
    prefix = record["shm_prefix"]
    assert tagged_pids(prefix) == [], "a server or stub process is left"
    assert list(SHM_DIR.glob(f"{prefix}*")) == [], "a /dev/shm region is left"
    assert _record(record["name"]) is None, "the record is left"
    assert not Path(record["log_path"]).exists(), "the log file is left"
    if record.get("alias"):
        assert not os.path.lexists(record["alias"]), "the repository alias is left"


# ---------------------------------------------------------------------------------------------- no server


def test_a_reused_pid_is_never_signalled(tmp_path: Path) -> None:
    """A stale record whose pid now belongs to another process with "tritonserver" in its argv."""
    from tritonkit.serve.registry import ServerRecord, save_local

    victim = subprocess.Popen(["bash", "-c", "exec -a tritonserver sleep 120"], start_new_session=True)
    try:
        ident = _wait_for(lambda: identify(victim.pid))
        _wait_for(lambda: b"tritonserver" in Path(f"/proc/{victim.pid}/cmdline").read_bytes())
        log = state_dir() / "logs" / "stale.log"
        log.parent.mkdir(parents=True)
        log.write_text("old log\n")
        save_local(
            ServerRecord(
                name="stale", kind="local", status="running", pid=victim.pid, pgid=ident.pgid,
                start_time=ident.start_time - 1,  # the recorded server started earlier: not this process
                shm_prefix="tritonkit_1_0badc0de_", log_path=str(log),
            )
        )  # fmt: skip
        status = json.loads(cli("status", "--json").stdout)
        assert [(r["name"], r["status"]) for r in status] == [("stale", "exited")]
        stopped = cli("stop", "stale")
        assert stopped.returncode == 0, stopped.stderr
        time.sleep(0.2)
        assert victim.poll() is None, "the process that reused the pid was signalled"
        assert _record("stale") is None and not log.exists()
    finally:
        victim.kill()
        victim.wait()


def test_a_server_flag_is_not_taken_as_the_repository(tmp_path: Path) -> None:
    work = Path.cwd()
    assert cli("init", "model_repository").returncode == 0
    for flags in (["--log-verbose=1"], ["--log-verbose", "1"]):
        result = cli("serve", *flags, "--dry-run", cwd=work)
        assert result.returncode == 0, result.stderr
        command = json.loads(result.stdout)["command"]
        assert "--model-repository=/models" in command
        assert command[-len(flags) :] == flags
        assert json.loads(result.stdout)["mounts"][0]["source"] == str(work / "model_repository")
    extra = cli("serve", "model_repository", "other", "--dry-run", cwd=work)
    assert extra.returncode == 2 and "unexpected argument 'other'" in extra.stderr


SECRETS = {
    "DATABASE_URL": "postgres://app:hunter2pw@db.internal:5432/app",
    "S3_ENDPOINT": "https://AKIAIOSFODNN7EXAMPLE:wJalrXUtnFEMI%2FK7MDENG@minio:9000",
    "AWS_ID": "AKIAIOSFODNN7EXAMPLE",
    "BLOB": "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY",
    "NGC": "nvapi-Qx7v2mZpL9rT4kW8nB3cF6hJ1sD5gA0eY",
    "HEADER": "Authorization: Bearer eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJ4In0.sig",
    "GH": "ghp_1234567890abcdefghijklmnopqrstuvwxyzAB",
    "LEGACY_NGC": "bXktbGVnYWN5LW5nYy1rZXktdGhhdC1pcy1sb25nOjEyMzQ1Njc4OTBhYmNkZWY",
    "QUERY": "https://api.example.org/v1?user=me&api_key=Zm9vYmFy123&x=1",
}
PLAIN = {
    "MODE": "fast",
    "CACHE": "/var/cache/Models/Triton2024",
    "SHA": "0" * 40,
    "URL": "https://pypi.org/simple",
}


def test_dry_run_masks_values_that_look_like_credentials(tmp_path: Path) -> None:
    repo = tmp_path / "repo"
    repo.mkdir()
    env_flags = [f for k, v in {**SECRETS, **PLAIN}.items() for f in ("-e", f"{k}={v}")]
    result = cli("serve", str(repo), "--dry-run", *env_flags, "--server-arg=--token=s3cr3tT0ken9")
    assert result.returncode == 0, result.stderr
    data = json.loads(result.stdout)
    for secret in ("hunter2pw", "wJalrXUtnFEMI", "AKIAIOSFODNN7EXAMPLE", "nvapi-", "eyJhbGci", "ghp_", "bXkt",
                   "Zm9vYmFy123", "s3cr3tT0ken9"):  # fmt: skip
        assert secret not in result.stdout, secret
    assert data["env"]["DATABASE_URL"] == "postgres://***@db.internal:5432/app"
    assert data["env"]["HEADER"] == "Authorization: Bearer ***"
    assert data["env"]["QUERY"] == "https://api.example.org/v1?user=me&api_key=***&x=1"
    assert {k: data["env"][k] for k in PLAIN} == PLAIN  # nothing else is hidden
    assert data["command"][-1] == "--token=***"


# ---------------------------------------------------------------------------------------------- real server


def _child_server(launcher: int) -> int | None:
    """The tritonserver process `launcher` started, if any (found without tritonkit's record)."""
    for entry in os.scandir("/proc"):
        if entry.name.isdigit():
            try:
                stat = Path(f"/proc/{entry.name}/stat").read_text().rsplit(")", 1)[1].split()
                cmdline = Path(f"/proc/{entry.name}/cmdline").read_bytes()
            except OSError:
                continue
            if int(stat[1]) == launcher and b"tritonserver" in cmdline.split(b"\0")[0]:
                return int(entry.name)
    return None


def _reached(name: str, launcher: int, phase: str) -> bool:
    record = _record(name)
    if phase == "early":  # whichever comes first: the record, or the server process
        return record is not None or _child_server(launcher) is not None
    if phase == "loading":  # the server process runs; its model is still loading (not ready)
        return _child_server(launcher) is not None
    return record is not None and record.get("status") == "running"


@pytest.mark.server
def test_sigkill_of_serve_local_at_any_moment_leaves_nothing_stop_all_misses(tmp_path: Path) -> None:
    _need_server()
    repo = scaffold_add_sub(tmp_path)
    for phase in ("early", "loading", "ready"):
        name = f"kill-{phase}"
        process = subprocess.Popen(
            [*TRITONKIT, "serve", str(repo), "--local", "--name", name, *FREE_PORTS],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        )  # fmt: skip
        _wait_for(lambda name=name, phase=phase, pid=process.pid: _reached(name, pid, phase))
        process.send_signal(signal.SIGKILL)
        process.wait()
        rows = {r["name"]: r for r in json.loads(cli("status", "--json").stdout)}
        assert name in rows, f"{phase}: `status` does not see the server"
        record = rows[name]
        stopped = cli("stop", "--all")
        assert stopped.returncode == 0, stopped.stderr
        assert f"stopped and removed {name}" in stopped.stdout
        _assert_nothing_left(record)


@pytest.mark.server
def test_kill_9_of_the_server_orphans_are_cleaned_and_logs_still_answer(tmp_path: Path) -> None:
    _need_server()
    repo = scaffold_add_sub(tmp_path)
    started = cli("serve", str(repo), "--local", "--detach", "--name", "k9", *FREE_PORTS)
    assert started.returncode == 0, started.stderr
    (row,) = json.loads(cli("status", "--json").stdout)
    prefix = row["shm_prefix"]
    stubs = [p for p in tagged_pids(prefix) if p != row["pid"]]
    assert stubs, "the Python model runs in stub processes carrying the server's token"
    os.kill(row["pid"], signal.SIGKILL)
    _wait_for(lambda: identify(row["pid"]) is None)
    logs = cli("logs", "k9")
    assert logs.returncode == 0 and "Started HTTPService" in logs.stdout  # not "no server"
    (after,) = json.loads(cli("status", "--json").stdout)
    assert after["status"] == "exited" and after["ready"] is False
    assert tagged_pids(prefix) == [], "orphaned stubs were not ended"
    assert list(SHM_DIR.glob(f"{prefix}*")) == []
    stopped = cli("stop", "--all")
    assert stopped.returncode == 0 and "stopped and removed k9" in stopped.stdout
    _assert_nothing_left(row)


@pytest.mark.server
def test_a_second_server_on_the_same_ports_fails_clearly(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Both servers pass the port check before start (started at once); the second must not say ready."""
    _need_server()
    import tritonkit.serve.local as local
    from tritonkit.errors import EngineUnavailableError
    from tritonkit.serve.plan import ServeOptions

    repo = scaffold_add_sub(tmp_path)
    with local.start_local_server(repo, ServeOptions(startup_timeout=60)) as first:
        same = ServeOptions(startup_timeout=60, **{f"{k}_port": p for k, p in first.command.ports.items()})
        monkeypatch.setattr(local, "check_ports_free", lambda *a, **k: None)  # the race: both checked first
        started = time.monotonic()
        with pytest.raises(EngineUnavailableError, match=r"port \d+ .*(held by another process|in use)"):
            local.start_local_server(repo, same)
        assert time.monotonic() - started < 30
        assert infer_add_sub(first.http_url)["OUTPUT0"] == [1.0, 2.0, 3.0, 4.0]
        # The second server was ended; the first one still serves alone.
        assert tagged_pids(f"--http-port={first.command.http_port}") == [first.pid]


@pytest.mark.server
def test_a_repository_path_with_a_space_and_an_umlaut(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    _need_server()
    # tritonkit's own folders (state: the alias; cache: the stubs' backend folder) under a path like it, too.
    odd_home = tmp_path / "home dir ü"
    monkeypatch.setenv("XDG_STATE_HOME", str(odd_home / "state"))
    monkeypatch.setenv("XDG_CACHE_HOME", str(odd_home / "cache"))
    base = tmp_path / "my models ü"
    base.mkdir()
    repo = scaffold_add_sub(base)
    started = cli(
        "serve", str(repo), "--local", "--detach", "--name", "umlaut", "--timeout", "60", *FREE_PORTS
    )
    assert started.returncode == 0, started.stderr
    assert "model add_sub v1: READY" in started.stdout
    assert infer_add_sub(http_url_from(started.stdout))["OUTPUT1"] == [0.5, 0.5, 0.5, 0.5]
    (row,) = json.loads(cli("status", "--json").stdout)
    assert row["repository"] == str(repo) and row["alias"] and os.path.islink(row["alias"])
    assert cli("stop", "umlaut").returncode == 0
    _assert_nothing_left(row)
    # A model folder the stub cannot load is refused at once, in one line, before anything starts.
    (repo / "add_sub").rename(repo / "add sub")
    begun = time.monotonic()
    refused = cli("serve", str(repo), "--local", *FREE_PORTS)
    assert refused.returncode == 2 and time.monotonic() - begun < 15
    assert refused.stderr.count("error:") == 1 and "'add sub'" in refused.stderr
    assert json.loads(cli("status", "--json").stdout) == []


@pytest.mark.server
def test_a_picked_free_port_taken_before_the_server_binds_it_is_picked_again(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Seen in `make bench` on the loaded machine: another process took a port between pick and bind."""
    _need_server()
    import socket

    import tritonkit.serve.local as local
    from tritonkit.serve.plan import ServeOptions

    repo = scaffold_add_sub(tmp_path)
    thief = socket.socket()
    thief.bind(("127.0.0.1", 0))
    thief.listen()
    taken = thief.getsockname()[1]
    plans: list[Any] = []
    real_plan = local.plan_local_server

    def plan(*args: Any, **kwargs: Any) -> Any:
        command = real_plan(*args, **kwargs)
        if not plans:  # the first plan's gRPC port is taken right after it was picked
            from dataclasses import replace

            argv = [a if not a.startswith("--grpc-port=") else f"--grpc-port={taken}" for a in command.argv]
            command = replace(command, argv=argv, grpc_port=taken)
        plans.append(command)
        return command

    monkeypatch.setattr(local, "plan_local_server", plan)
    try:
        with local.start_local_server(repo, ServeOptions(startup_timeout=60)) as server:
            assert len(plans) == 2 and server.command.grpc_port != taken
            assert infer_add_sub(server.http_url)["OUTPUT0"] == [1.0, 2.0, 3.0, 4.0]
        assert tagged_pids(plans[0].shm_prefix) == []
    finally:
        thief.close()
