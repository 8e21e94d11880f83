"""Finding the server tritonkit started (registry.find_server / server_url, `--server`), without a server.

The records point at this test process (alive, with its real start time), so they count as running.
"""

from __future__ import annotations

import os

import pytest

from serve_support import cli
from tritonkit.errors import UsageError
from tritonkit.serve.process import identify
from tritonkit.serve.registry import ServerRecord, find_server, save_local, server_url


def _running(name: str, port: int, **values: object) -> ServerRecord:
    ident = identify(os.getpid())
    assert ident is not None
    record = ServerRecord(
        name=name, kind="local", status="running", http=f"127.0.0.1:{port}", grpc=f"127.0.0.1:{port + 1}",
        pid=ident.pid, start_time=ident.start_time, pgid=ident.pgid, shm_prefix=f"tritonkit_0_{name}_",
        **values,  # type: ignore[arg-type]
    )  # fmt: skip
    save_local(record)
    return record


def test_no_server_means_the_client_default() -> None:
    assert server_url(None, None, "http") is None
    with pytest.raises(UsageError, match="no server started by tritonkit is running"):
        find_server(None)
    assert server_url("h:1", None, "http") == "h:1"


def test_the_only_server_is_used_and_several_are_listed() -> None:
    _running("alpha", 18100, runtime_models={"lin": "pytorch"})
    assert server_url(None, None, "http") == "127.0.0.1:18100"
    assert server_url(None, None, "grpc") == "127.0.0.1:18101"
    assert find_server(None).runtime_models == {"lin": "pytorch"}
    from tritonkit.serve.registry import find_by_url

    found = find_by_url("http://localhost:18101")
    assert found is not None and found.name == "alpha" and find_by_url("127.0.0.1:9") is None
    _running("beta", 18200)
    with pytest.raises(UsageError) as info:
        server_url(None, None, "http")
    assert (
        "2 servers" in info.value.message and "alpha" in info.value.message and "beta" in info.value.message
    )
    assert "--server NAME" in str(info.value.hint)
    assert server_url(None, "beta", "http") == "127.0.0.1:18200"
    with pytest.raises(UsageError, match="no server 'gamma'"):
        server_url(None, "gamma", "http")
    with pytest.raises(UsageError, match="exclude each other"):
        server_url("h:1", "beta", "http")


def test_an_exited_server_is_named_with_its_log() -> None:
    record = _running("gone", 18300)
    record.start_time = (record.start_time or 0) - 1  # not this process any more: it died
    save_local(record)
    with pytest.raises(UsageError, match="'gone' is exited") as info:
        find_server("gone")
    assert "tritonkit logs gone" in str(info.value.hint)
    assert server_url(None, None, "http") is None


def test_client_commands_find_the_server_or_list_the_candidates() -> None:
    _running("one", 18400)
    _running("two", 18500)
    several = cli("infer", "add_sub", "--random", "--timeout", "2")
    assert several.returncode == 2
    assert "one (http 127.0.0.1:18400" in several.stderr and "two (http 127.0.0.1:18500" in several.stderr
    picked = cli("infer", "add_sub", "--random", "--server", "two", "--timeout", "2")
    assert picked.returncode == 3 and "127.0.0.1:18500" in picked.stderr  # it tried that server
    benched = cli("bench", "add_sub", "--server", "one", "--duration", "1", "--quiet")
    assert benched.returncode == 3 and "127.0.0.1:18400" in benched.stderr
