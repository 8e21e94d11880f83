"""serve s3://...: what the plan holds for a remote repository (pure: no server, engine or network)."""

from __future__ import annotations

from datetime import datetime, timezone

import pytest

from tritonkit.errors import UsageError
from tritonkit.serve import _docker_options
from tritonkit.serve.plan import ServeOptions, plan_container
from tritonkit.serve.remote import needs_host_network, remote_uri, server_env

URI = "s3://127.0.0.1:9000/models/prod"
NOW = datetime(2026, 1, 1, tzinfo=timezone.utc)


def _options(**kw: object) -> ServeOptions:
    return ServeOptions(http_port=18000, grpc_port=18001, metrics_port=18002, name="tk-s3", **kw)  # type: ignore[arg-type]


def test_a_loopback_endpoint_runs_on_the_host_network_with_the_credentials(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "key")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "secret")
    monkeypatch.delenv("AWS_EC2_METADATA_DISABLED", raising=False)
    options = _docker_options(URI, _options())
    assert options.network == "host"
    assert options.env["AWS_ACCESS_KEY_ID"] == "key" and options.env["AWS_EC2_METADATA_DISABLED"] == "true"
    spec = plan_container(URI, options, environ={}, now=NOW)
    assert f"--model-repository={URI}" in spec.command and spec.mounts == []
    assert "--http-port=18000" in spec.command and "--http-address=127.0.0.1" in spec.command
    assert spec.network == "host" and spec.endpoint("http") == "127.0.0.1:18000"
    shown = spec.to_dict()
    assert "secret" not in str(shown) and shown["network"] == "host"


def test_a_remote_endpoint_keeps_the_bridge_and_its_published_ports() -> None:
    uri = "s3://minio.internal:9000/models/prod"
    options = _docker_options(uri, _options())
    spec = plan_container(uri, options, environ={}, now=NOW)
    assert spec.network == "" and not any(a.startswith("--http-port") for a in spec.command)
    assert not needs_host_network(remote_uri(uri))  # type: ignore[arg-type]
    with pytest.raises(UsageError, match="network"):
        plan_container(uri, _options(network="overlay"), environ={}, now=NOW)


def test_server_env_forwards_only_what_is_set() -> None:
    uri = remote_uri("s3://bucket/models")
    assert uri is not None and remote_uri("model_repository") is None
    assert server_env(uri, {"AWS_PROFILE": "p", "HOME": "/root"}) == {"AWS_PROFILE": "p"}
