"""Run the real Triton server on a repository: in Docker through the SDK, or as a local process.

This module is the edge: it resolves what the pure plan (plan.py) takes (free ports, the server name,
the environment, the binary) and hands the plan to an executor (docker.py, local.py).
`plan_server` returns what would run (a ContainerSpec or a LocalCommand, plain values);
`start_server` runs it and returns once the server is ready (or raises after cleaning up).
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import replace
from datetime import datetime, timezone
from pathlib import Path
from typing import TYPE_CHECKING, Any

from tritonkit.serve.local import LocalServer, start_local_server
from tritonkit.serve.plan import ContainerSpec, LocalCommand, ServeOptions, container_name, plan_container

if TYPE_CHECKING:
    from tritonkit.serve.docker import ContainerServer
    from tritonkit.serve.images import PullProgress

    RunningServer = ContainerServer | LocalServer

__all__ = [
    "ContainerSpec",
    "LocalCommand",
    "LocalServer",
    "ServeOptions",
    "plan_server",
    "start_local_server",
    "start_server",
]


def _repository(repository: str | Path, *, check: bool = True) -> Path | str:
    """A local repository as an absolute folder; a remote one as its URI, checked (serve/remote.py)."""
    from tritonkit.errors import UsageError
    from tritonkit.serve.remote import check_remote, remote_uri

    uri = remote_uri(repository)
    if uri is not None:
        if check:
            check_remote(uri)
        return str(repository)
    path = Path(repository).absolute()
    if not path.is_dir():
        raise UsageError(f"repository {path} is not a folder", hint="create one with `tritonkit init`")
    return path


def _docker_options(repository: Path | str, options: ServeOptions) -> ServeOptions:
    """Options with ports 0 replaced by free ports and a name (Docker publishes exactly what it is told).

    A remote repository also gets the credential variables the server reads, and the host's network
    when its endpoint is on the loopback."""
    from tritonkit.serve.ports import concrete_ports
    from tritonkit.serve.remote import needs_host_network, remote_uri, server_env

    ports = concrete_ports(options.ports)
    uri = remote_uri(repository)
    if uri is not None:
        env = server_env(uri, os.environ) | options.env
        network = options.network or ("host" if needs_host_network(uri) else "")
        options = replace(options, env=env, network=network)
    return replace(
        options,
        http_port=ports["http"],
        grpc_port=ports["grpc"],
        metrics_port=ports["metrics"],
        name=container_name(Path(repository), options.name),
    )


def _now() -> datetime:
    return datetime.now(timezone.utc)


def plan_server(
    repository: str | Path, options: ServeOptions | None = None, *, local: bool = False
) -> ContainerSpec | LocalCommand:
    """What `start_server` would run, without running it (for --dry-run)."""
    from tritonkit.serve.local import plan_local_server

    options = options or ServeOptions()
    path = _repository(repository, check=False)
    if local:
        return plan_local_server(path, options, create=False)
    return plan_container(path, _docker_options(path, options), environ=os.environ, now=_now())


def start_server(
    repository: str | Path,
    options: ServeOptions | None = None,
    *,
    local: bool = False,
    client: Any | None = None,
    on_progress: Callable[[PullProgress], None] | None = None,
    key_provider: Callable[[], str | None] | None = None,
    build: bool = False,
) -> RunningServer:
    """Start Triton on `repository` (Docker, or `local=True`) and return once it is ready.

    Raises EngineUnavailableError (no engine/image/binary, port taken, no GPU runtime) or
    ServerNotReadyError (with each failed model's reason) after removing whatever it started.
    Docker: `client` is an SDK client (default: `docker.connect()`); `on_progress` sees pull events;
    `key_provider` gives the NGC API key when nvcr.io asks for one; `build` runs the image extended
    with the repository's requirements.txt (docker/Dockerfile). Started servers are recorded
    for `tritonkit status/logs/stop`.
    """
    from tritonkit.errors import UsageError

    options = options or ServeOptions()
    path = _repository(repository)
    if local:
        if build:
            raise UsageError("--build is for Docker", hint="with --local, pip install the requirements here")
        return _start_local(path, options)

    from tritonkit.serve import docker as engine
    from tritonkit.serve import images
    from tritonkit.serve.ready import expected_models

    spec = plan_container(path, _docker_options(path, options), environ=os.environ, now=_now())
    client = client or engine.connect()
    for event in images.ensure_image(client, spec.image, pull=spec.pull, key_provider=key_provider):
        if on_progress is not None:
            on_progress(event)
    if build:
        if not isinstance(path, Path):
            raise UsageError("--build reads requirements.txt beside a local repository", hint="drop --build")
        requirements = images.find_requirements(path)
        if requirements is None:
            raise UsageError(
                f"--build needs a requirements.txt in {path} or beside it", hint="or drop --build"
            )
        tag, _ = images.build_image(client, spec.image, requirements)
        spec = replace(spec, image=tag)
    expected = expected_models(str(path), options.model_control_mode, options.load_models)
    return engine.start_container(client, spec, timeout=options.startup_timeout, expected_models=expected)


def _start_local(repository: Path | str, options: ServeOptions) -> LocalServer:
    """A local server, recorded before its process starts (see registry.py) and forgotten when it stops."""
    from tritonkit.serve import registry
    from tritonkit.serve.local import state_dir

    name = container_name(Path(repository), options.name)
    own_log = options.log_path is None
    log_path = Path(options.log_path) if options.log_path else state_dir() / "logs" / f"{name}.log"
    record = registry.starting_record(name)

    def planned(command: LocalCommand) -> None:
        nonlocal record
        host = "127.0.0.1" if command.bind in ("0.0.0.0", "") else command.bind
        record = registry.starting_record(
            name,
            http=f"{host}:{command.http_port}",
            grpc=f"{host}:{command.grpc_port}",
            metrics=f"{host}:{command.metrics_port}",
            repository=str(repository),
            started=_now().strftime("%Y-%m-%dT%H:%M:%SZ"),
            log_path=str(log_path),
            shm_prefix=command.shm_prefix,
            alias=str(command.alias) if command.alias else None,
            own_log=own_log,
        )
        registry.save_local(record)

    def spawned(server: LocalServer) -> None:
        if server.identity is not None:
            ident = server.identity
            record.pid, record.start_time, record.pgid = ident.pid, ident.start_time, ident.pgid
        registry.save_local(record)

    try:
        server = start_local_server(
            repository,
            replace(options, log_path=log_path),
            on_plan=planned,
            on_spawn=spawned,
            own_log=own_log,
        )
    except BaseException:
        registry.forget_local(name)
        raise
    server.name = name
    record.status = "running"
    record.runtime_models = dict(server.runtime_models)
    registry.save_local(record)
    server.on_stop.append(lambda: registry.forget_local(name))
    return server
