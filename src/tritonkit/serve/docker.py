"""Execute a ContainerSpec with the Docker SDK: create+start, readiness, logs, removal.

The client is created at the edge (`connect`) and passed in. No failure leaves a container behind:
whatever goes wrong after create (a GPU request without the NVIDIA runtime, a taken port, a model that
fails, Ctrl-C) removes the container before the error propagates. Images (pull, login, --build) are
in images.py.
"""

from __future__ import annotations

import contextlib
import json
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from tritonkit.errors import EngineUnavailableError, MissingDependencyError, UsageError, import_optional
from tritonkit.serve.plan import LABEL, LABEL_PREFIX, ContainerSpec
from tritonkit.serve.ports import check_ports_free
from tritonkit.serve.ready import Readiness, fatal_log_line, not_ready_error, wait_ready

if TYPE_CHECKING:
    # The SDK has no type information; mypy also confuses `docker` with this module.
    DockerClient = Any
    Container = Any


def connect() -> DockerClient:
    """A Docker client from the environment (DOCKER_HOST, ...), checked with a ping."""
    docker: Any = import_optional(
        "docker", package="the docker SDK", extra="docker", needed_for="serve", instead="use --local"
    )
    from docker.errors import DockerException

    try:
        client = docker.from_env(timeout=120)
        client.ping()
    except DockerException as exc:
        raise EngineUnavailableError(
            f"cannot reach the Docker engine: {_explain(exc)}",
            hint="start Docker (or set DOCKER_HOST), or run without Docker: tritonkit serve --local",
        ) from exc
    return client


def connect_or_none() -> DockerClient | None:
    """A Docker client when the SDK is installed and an engine answers; else None (local servers only)."""
    try:
        return connect()
    except (EngineUnavailableError, MissingDependencyError):
        return None


def _explain(exc: BaseException) -> str:
    explanation = getattr(exc, "explanation", None)
    text = str(explanation or exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__


# ---------------------------------------------------------------------------------------------- containers


def run_kwargs(spec: ContainerSpec) -> dict[str, Any]:
    """SDK `containers.create` keyword arguments for a spec."""
    from docker.types import DeviceRequest, Mount, Ulimit

    device_requests = []
    if spec.gpus is not None:
        device_requests.append(
            DeviceRequest(
                count=spec.gpus.count if spec.gpus.count is not None else None,
                device_ids=list(spec.gpus.device_ids) or None,
                capabilities=[["gpu"]],
            )
        )
    network: dict[str, Any] = {"ports": {f"{c}/tcp": (spec.host_ip, h) for c, h in spec.ports.items()}}
    if spec.network:  # host networking publishes nothing: the command names the host ports
        network = {"network_mode": spec.network}
    return {
        "image": spec.image,
        "command": spec.command,
        "name": spec.name,
        "detach": True,
        **network,
        "mounts": [
            Mount(target=m.target, source=m.source, type="bind", read_only=m.read_only) for m in spec.mounts
        ],
        "device_requests": device_requests or None,
        "shm_size": spec.shm_size,
        "ulimits": [Ulimit(name=u.name, soft=u.soft, hard=u.hard) for u in spec.ulimits],
        "labels": spec.labels,
        "environment": spec.env,
    }


def remove_container(container: Container) -> None:
    """Stop and remove a container, whatever its state (errors ignored: it may be gone already)."""
    from docker.errors import DockerException

    with contextlib.suppress(DockerException):
        container.remove(force=True, v=True)


_RLIMIT_TYPES = {3: "stack", 8: "memlock"}  # Linux RLIMIT_* numbers in runc's "error setting rlimit type N"


def create_and_start(
    client: DockerClient, spec: ContainerSpec, warnings: list[str] | None = None
) -> Container:
    """Create and start the container; on ANY failure it is removed before the error propagates.

    An engine that may not raise a recommended ulimit (a rootless or nested engine refuses
    memlock=-1) gets the container again without that ulimit, and a warning says so.
    """
    from dataclasses import replace

    from docker.errors import APIError, ImageNotFound

    check_ports_free({k: spec.host_port(k) for k in ("http", "grpc", "metrics")}, spec.host_ip)
    # The engine's address as the user gave it (every unix socket has the same SDK base_url).
    engine_key = os.environ.get("DOCKER_HOST") or str(getattr(client.api, "base_url", ""))
    known = _known_refused(engine_key)
    if known & {u.name for u in spec.ulimits}:
        # Remembered from an earlier refusal by this engine: skip the doomed first attempt.
        if warnings is not None:
            warnings.append(f"this engine refuses ulimit {', '.join(sorted(known))}; running without it")
        spec = replace(spec, ulimits=[u for u in spec.ulimits if u.name not in known])
    while True:
        try:
            container = client.containers.create(**run_kwargs(spec))
        except ImageNotFound as exc:
            raise EngineUnavailableError(f"image {spec.image} is not present: {_explain(exc)}") from exc
        except APIError as exc:
            if "Conflict" in str(exc) and spec.name in str(exc):
                raise UsageError(
                    f"a container named {spec.name!r} exists", hint="tritonkit stop it or pick --name"
                ) from exc
            raise EngineUnavailableError(f"cannot create the server container: {_explain(exc)}") from exc
        try:
            container.start()
        except BaseException as exc:
            remove_container(container)
            if isinstance(exc, APIError):
                text = _explain(exc)
                refused = _refused_ulimit(text)
                if refused and any(u.name == refused for u in spec.ulimits):
                    _remember_refused(engine_key, refused)
                    if warnings is not None:
                        warnings.append(f"the engine refused ulimit {refused}; running without it")
                    spec = replace(spec, ulimits=[u for u in spec.ulimits if u.name != refused])
                    continue
                raise _start_error(spec, text) from exc
            raise
        return container


def _refused_path() -> Path:
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "tritonkit" / "refused-ulimits.json"


def _known_refused(engine_key: str) -> set[str]:
    """Ulimits this engine refused before (a cache: a wrong entry only costs the recommended ulimit)."""
    try:
        data = json.loads(_refused_path().read_text())
    except (OSError, ValueError):
        return set()
    names = data.get(engine_key, []) if isinstance(data, dict) else []
    return {str(n) for n in names}


def _remember_refused(engine_key: str, name: str) -> None:
    path = _refused_path()
    try:
        data = json.loads(path.read_text())
        data = data if isinstance(data, dict) else {}
    except (OSError, ValueError):
        data = {}
    data[engine_key] = sorted(set(data.get(engine_key, [])) | {name})
    with contextlib.suppress(OSError):
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(f".{os.getpid()}.tmp")
        tmp.write_text(json.dumps(data))
        os.replace(tmp, path)


def _refused_ulimit(text: str) -> str | None:
    import re

    match = re.search(r"error setting rlimit type (\d+)", text)
    return _RLIMIT_TYPES.get(int(match.group(1))) if match else None


def _start_error(spec: ContainerSpec, text: str) -> EngineUnavailableError:
    lowered = text.lower()
    if "device driver" in lowered or "nvidia" in lowered or "capabilities: [[gpu]]" in lowered:
        return EngineUnavailableError(
            f"--gpus {spec.labels.get(LABEL_PREFIX + 'gpus', '')} needs the NVIDIA container runtime, "
            f"which this Docker engine does not have ({text}); the container was removed",
            hint="install the NVIDIA Container Toolkit, or serve on CPU with --gpus 0",
        )
    if "port is already allocated" in lowered or "address already in use" in lowered:
        return EngineUnavailableError(
            f"a host port is already in use ({text}); the container was removed",
            hint="pick other --http-port/--grpc-port/--metrics-port (0 = any free), see `tritonkit status`",
        )
    return EngineUnavailableError(f"the server container failed to start: {text}; it was removed")


def container_running(container: Container) -> bool:
    from docker.errors import DockerException

    try:
        container.reload()
    except DockerException:
        return False
    return container.status in ("created", "running", "restarting")


def container_logs(container: Container, tail: int | str = "all") -> str:
    from docker.errors import DockerException

    try:
        data = container.logs(stdout=True, stderr=True, tail=tail)
    except DockerException:
        return ""
    return data.decode("utf-8", "replace") if isinstance(data, bytes) else str(data)


@dataclass
class ContainerServer:
    """A running server container started by tritonkit."""

    container: Container
    spec: ContainerSpec
    readiness: Readiness | None = None
    warnings: list[str] = field(default_factory=list)
    # The same field as LocalServer's: an NGC image has the real libtorch / ONNX Runtime backends.
    runtime_models: dict[str, str] = field(default_factory=dict)

    @property
    def name(self) -> str:
        return self.spec.name

    @property
    def http_url(self) -> str:
        return self.spec.endpoint("http")

    @property
    def grpc_url(self) -> str:
        return self.spec.endpoint("grpc")

    @property
    def metrics_url(self) -> str:
        return self.spec.endpoint("metrics")

    def log_tail(self, n: int = 40) -> str:
        return container_logs(self.container, tail=n)

    def running(self) -> bool:
        return container_running(self.container)

    def stop(self) -> None:
        """Stop and remove the container."""
        remove_container(self.container)

    def __enter__(self) -> ContainerServer:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()


def start_container(
    client: DockerClient,
    spec: ContainerSpec,
    *,
    timeout: float = 120.0,
    expected_models: list[str] | None = None,
) -> ContainerServer:
    """Create, start and wait for the server; on failure the container is removed and the error says why."""
    warnings: list[str] = []
    container = create_and_start(client, spec, warnings)
    server = ContainerServer(container, spec, warnings=warnings)
    try:
        readiness = wait_ready(
            server.http_url,
            timeout=timeout,
            is_running=server.running,
            expected_models=expected_models or [],
            read_log=lambda: container_logs(container),
            fatal=lambda: fatal_log_line(container_logs(container, tail=60)),
        )
        server.readiness = readiness
        if not readiness.ready:
            raise not_ready_error(
                readiness,
                log_tail=server.log_tail(30),
                exited=None if server.running() else "container exited",
                timeout=timeout,
                where="the container was removed",
            )
    except BaseException:
        remove_container(container)
        raise
    return server


def managed_containers(client: DockerClient) -> list[Container]:
    """Every container (running or not) that tritonkit started, found by its label."""
    from docker.errors import DockerException

    try:
        return list(client.containers.list(all=True, filters={"label": f"{LABEL}=true"}))
    except DockerException as exc:
        raise EngineUnavailableError(f"cannot list containers: {_explain(exc)}") from exc
