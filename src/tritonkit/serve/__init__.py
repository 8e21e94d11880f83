"""Run the real Triton server on a repository: in Docker through the SDK, or as a local process.

`plan_server` computes what would run (a ContainerSpec or a LocalCommand, plain values);
`start_server` runs it and returns once the server is ready (or raises after cleaning up).
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timezone
from pathlib import Path
from typing import TYPE_CHECKING, Any

from tritonkit.serve.local import (
    LocalOptions,
    LocalServer,
    ModelsNotReadyError,
    free_port,
    start_local_server,
)
from tritonkit.serve.plan import ContainerSpec, LocalCommand, ServeOptions, parse_gpus, plan_container

if TYPE_CHECKING:
    from tritonkit.serve.docker import ContainerServer, PullProgress

    RunningServer = ContainerServer | LocalServer

__all__ = [
    "ContainerSpec",
    "LocalCommand",
    "LocalOptions",
    "LocalServer",
    "ModelsNotReadyError",
    "ServeOptions",
    "plan_server",
    "start_local_server",
    "start_server",
]


def _local_options(
    options: ServeOptions, server_bin: Path | None, log_path: Path | None = None
) -> LocalOptions:
    return LocalOptions(
        server_bin=server_bin,
        http_port=options.http_port,
        grpc_port=options.grpc_port,
        metrics_port=options.metrics_port,
        model_control_mode=options.model_control_mode,
        load_models=list(options.load_models),
        extra_args=list(options.server_args),
        startup_timeout=options.startup_timeout,
        log_path=log_path,
        bind=options.host_ip or "0.0.0.0",
    )


def _concrete_ports(options: ServeOptions) -> ServeOptions:
    """Options with ports 0 replaced by free ports (Docker publishes exactly what the spec says)."""
    from dataclasses import replace

    taken: set[int] = set()

    def pick(port: int) -> int:
        while not port or port in taken:
            port = free_port()
        taken.add(port)
        return port

    return replace(
        options,
        http_port=pick(options.http_port),
        grpc_port=pick(options.grpc_port),
        metrics_port=pick(options.metrics_port),
    )


def plan_server(
    repository: Path,
    options: ServeOptions | None = None,
    *,
    local: bool = False,
    server_bin: Path | None = None,
) -> ContainerSpec | LocalCommand:
    """What `start_server` would run, without running it (for --dry-run)."""
    from tritonkit.serve.local import plan_local_server

    options = options or ServeOptions()
    if local:
        _check_local_gpus(options)
        return plan_local_server(repository, _local_options(options, server_bin), create=False)
    return plan_container(repository, _concrete_ports(options))


def _check_local_gpus(options: ServeOptions) -> None:
    if parse_gpus(options.gpus) is not None:
        from tritonkit.errors import UsageError

        raise UsageError(
            "--gpus is for Docker", hint="a local tritonserver uses the GPUs it sees; drop --gpus"
        )


def _expected_models(repository: Path, options: ServeOptions) -> list[str]:
    if options.model_control_mode == "explicit":
        return list(options.load_models)
    from tritonkit.repository.scan import list_model_dirs

    return [m.name for m in list_model_dirs(repository) if m.has_config]


def start_server(
    repository: Path,
    options: ServeOptions | None = None,
    *,
    local: bool = False,
    server_bin: Path | None = None,
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
    from tritonkit.serve import registry
    from tritonkit.serve.local import state_dir

    options = options or ServeOptions()
    repository = Path(repository).absolute()
    if not repository.is_dir():
        raise UsageError(f"repository {repository} is not a folder", hint="create one with `tritonkit init`")
    started = datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")
    if local:
        from tritonkit.serve.plan import container_name

        name = container_name(repository, options.name)
        log_path = state_dir() / "logs" / f"{name}.log"
        _check_local_gpus(options)
        local_opts = _local_options(options, server_bin, log_path)
        server = start_local_server(repository, local_opts)
        server.name = name
        registry.save_local(
            registry.ServerRecord(
                name=name,
                kind="local",
                status="running",
                http=server.http_url,
                grpc=server.grpc_url,
                metrics=server.metrics_url,
                repository=str(repository),
                started=started,
                pid=server.pid,
                log_path=str(server.log_path),
                shm_prefix=server.shm_prefix,
            )
        )
        server.on_stop.append(lambda: registry.forget_local(name))
        return server

    from tritonkit.serve import docker as engine

    spec = plan_container(repository, _concrete_ports(options))
    client = client or engine.connect()
    for event in engine.ensure_image(client, spec.image, pull=spec.pull, key_provider=key_provider):
        if on_progress is not None:
            on_progress(event)
    if build:
        requirements = engine.find_requirements(repository)
        if requirements is None:
            raise UsageError(
                f"--build needs a requirements.txt in {repository} or beside it", hint="or drop --build"
            )
        from dataclasses import replace

        tag, _ = engine.build_image(client, spec.image, requirements)
        spec = replace(spec, image=tag)
    return engine.start_container(
        client, spec, timeout=options.startup_timeout, expected_models=_expected_models(repository, options)
    )
