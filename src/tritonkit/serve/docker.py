"""Execute a ContainerSpec with the Docker SDK: image (pull with progress), login, create+start, readiness.

The client is created at the edge (`connect`) and passed in. No failure leaves a container behind:
whatever goes wrong after create (a GPU request without the NVIDIA runtime, a taken port, a model that
fails, Ctrl-C) removes the container before the error propagates.
The NGC API key only ever travels in the SDK's auth config: never printed, logged, written or put
in a command line.
"""

from __future__ import annotations

import contextlib
import importlib
import json
import os
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from tritonkit.errors import EngineUnavailableError, UsageError
from tritonkit.serve.local import ModelsNotReadyError, fatal_log_line, port_in_use
from tritonkit.serve.plan import (
    LABEL,
    LABEL_PREFIX,
    NGC_REGISTRY,
    NGC_USERNAME,
    ContainerSpec,
    image_registry,
)
from tritonkit.serve.ready import Readiness, describe_failure, wait_ready

if TYPE_CHECKING:
    # The SDK has no type information; mypy also confuses `docker` with this module.
    DockerClient = Any
    Container = Any

KeyProvider = Callable[[], "str | None"]
_AUTH_WORDS = ("unauthorized", "denied", "authentication required", "401", "403")


@dataclass
class PullProgress:
    """One pull event: a layer's status and byte counts (when the engine gives them)."""

    layer: str
    status: str
    current: int | None = None
    total: int | None = None


def connect() -> DockerClient:
    """A Docker client from the environment (DOCKER_HOST, ...), checked with a ping."""
    try:
        docker: Any = importlib.import_module("docker")
        from docker.errors import DockerException
    except ImportError as exc:
        raise EngineUnavailableError(
            "the docker Python SDK is not installed", hint="pip install 'tritonkit[docker]', or use --local"
        ) from exc
    try:
        client = docker.from_env(timeout=120)
        client.ping()
    except DockerException as exc:
        raise EngineUnavailableError(
            f"cannot reach the Docker engine: {_explain(exc)}",
            hint="start Docker (or set DOCKER_HOST), or run without Docker: tritonkit serve --local",
        ) from exc
    return client


def _explain(exc: BaseException) -> str:
    explanation = getattr(exc, "explanation", None)
    text = str(explanation or exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__


def ngc_auth(key: str, registry: str = NGC_REGISTRY) -> dict[str, str]:
    """The SDK auth config for NGC: user `$oauthtoken`, the API key as password."""
    return {"username": NGC_USERNAME, "password": key, "serveraddress": registry}


def login(client: DockerClient, key: str, registry: str = NGC_REGISTRY) -> str:
    """Log the engine in to `registry` with the NGC API key; returns the registry's status text."""
    if not key:
        raise UsageError("an empty NGC API key", hint="set NGC_API_KEY or type the key at the prompt")
    from docker.errors import APIError, DockerException

    try:
        result = client.login(username=NGC_USERNAME, password=key, registry=registry, reauth=True)
    except APIError as exc:
        text = _explain(exc)
        if any(w in text.lower() for w in _AUTH_WORDS):
            raise EngineUnavailableError(
                f"login to {registry} refused: {text}", hint="check the NGC API key (ngc.nvidia.com > Setup)"
            ) from None
        raise EngineUnavailableError(f"cannot log in to {registry}: {text}") from None
    except DockerException as exc:
        raise EngineUnavailableError(f"cannot log in to {registry}: {_explain(exc)}") from None
    status = result.get("Status", "") if isinstance(result, dict) else ""
    return str(status or "Login Succeeded")


def image_present(client: DockerClient, image: str) -> bool:
    from docker.errors import ImageNotFound

    try:
        client.images.get(image)
    except ImageNotFound:
        return False
    return True


def pull_image(
    client: DockerClient, image: str, auth: dict[str, str] | None = None
) -> Iterator[PullProgress]:
    """Pull `image`, yielding per-layer progress; a failure raises EngineUnavailableError (exit 3)."""
    from docker.errors import APIError, DockerException
    from docker.utils import parse_repository_tag

    repository, tag = parse_repository_tag(image)
    try:
        for event in client.api.pull(repository, tag or "latest", stream=True, decode=True, auth_config=auth):
            if "error" in event:
                raise _pull_error(image, str(event.get("error")), auth is not None)
            detail = event.get("progressDetail") or {}
            yield PullProgress(
                layer=str(event.get("id", "")),
                status=str(event.get("status", "")),
                current=detail.get("current"),
                total=detail.get("total"),
            )
    except APIError as exc:
        raise _pull_error(image, _explain(exc), auth is not None) from None
    except DockerException as exc:
        raise _pull_error(image, _explain(exc), auth is not None) from None


class PullAuthError(EngineUnavailableError):
    """The registry wants credentials (or refused the ones given)."""


def _pull_error(image: str, text: str, had_auth: bool) -> EngineUnavailableError:
    if any(w in text.lower() for w in _AUTH_WORDS):
        hint = "the NGC API key was refused" if had_auth else "log in: tritonkit login (or set NGC_API_KEY)"
        return PullAuthError(f"cannot pull {image}: {text}", hint=hint)
    return EngineUnavailableError(
        f"image {image} is not present and cannot be pulled: {text}",
        hint="check the name/tag (--image, --tag), load or build the image locally (docker/), or use --local",
    )


def ensure_image(
    client: DockerClient,
    image: str,
    *,
    pull: str = "missing",
    key_provider: KeyProvider | None = None,
) -> Iterator[PullProgress]:
    """Make `image` available: nothing when present (unless pull=always), else pull with progress.

    For nvcr.io the key comes from `key_provider` (NGC_API_KEY or a hidden prompt); it is asked for
    only when the registry wants credentials.
    """
    present = image_present(client, image)
    if present and pull != "always":
        return
    if not present and pull == "never":
        raise EngineUnavailableError(
            f"image {image} is not present (--pull never)", hint="pull or build it first"
        )
    is_ngc = image_registry(image) == NGC_REGISTRY
    key = os.environ.get("NGC_API_KEY") if is_ngc else None
    auth = ngc_auth(key) if key else None
    try:
        yield from pull_image(client, image, auth)
    except PullAuthError:
        if auth is not None or key_provider is None or not is_ngc:
            raise
        asked = key_provider()
        if not asked:
            raise
        yield from pull_image(client, image, ngc_auth(asked))


# ---------------------------------------------------------------------------------------------- --build

# The same text as docker/Dockerfile (tests/test_serve_plan.py keeps them equal); the wheel ships this copy.
REQUIREMENTS_DOCKERFILE = r"""# tritonkit: NVIDIA's Triton image + a repository's Python requirements.
# For Python-backend models that import packages the image lacks. `tritonkit serve REPO --build`
# builds this same file (a copy ships inside the package; a test keeps the two equal) from
# REPO/requirements.txt, or the requirements.txt beside REPO, and runs the result. By hand:
#   docker build -f docker/Dockerfile --build-arg BASE_IMAGE=nvcr.io/nvidia/tritonserver:24.10-py3 \
#     -t my-tritonserver:24.10 DIR_WITH_REQUIREMENTS_TXT
ARG BASE_IMAGE=nvcr.io/nvidia/tritonserver:24.10-py3
FROM ${BASE_IMAGE}
COPY requirements.txt /opt/tritonkit/requirements.txt
# PIP_BREAK_SYSTEM_PACKAGES: a Debian-based image marks its Python as externally managed.
RUN PIP_BREAK_SYSTEM_PACKAGES=1 python3 -m pip install --no-cache-dir -r /opt/tritonkit/requirements.txt
"""


def find_requirements(repository: Path) -> Path | None:
    """REPO/requirements.txt, else the requirements.txt beside the repository (next to tritonkit.yaml)."""
    for candidate in (repository / "requirements.txt", repository.parent / "requirements.txt"):
        if candidate.is_file():
            return candidate
    return None


def build_image(client: DockerClient, base_image: str, requirements: Path) -> tuple[str, bool]:
    """Build (or reuse) the base image + requirements; returns (tag, built_now).

    The tag is keyed by the base image id and the requirements, so an unchanged pair is not rebuilt.
    """
    import hashlib
    import io
    import tarfile

    from docker.errors import BuildError, DockerException

    text = requirements.read_bytes()
    base_id = client.images.get(base_image).id
    key = hashlib.sha256(base_id.encode() + b"\0" + text + REQUIREMENTS_DOCKERFILE.encode()).hexdigest()[:12]
    tag = f"tritonkit-built/tritonserver:{key}"
    if image_present(client, tag):
        return tag, False
    context = io.BytesIO()
    with tarfile.open(fileobj=context, mode="w") as tar:
        for name, data in (("Dockerfile", REQUIREMENTS_DOCKERFILE.encode()), ("requirements.txt", text)):
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    context.seek(0)
    try:
        client.images.build(
            fileobj=context,
            custom_context=True,
            tag=tag,
            buildargs={"BASE_IMAGE": base_image},
            rm=True,
            pull=False,
        )
    except BuildError as exc:
        lines = [str(chunk.get("stream", "")).rstrip() for chunk in exc.build_log if isinstance(chunk, dict)]
        tail = "\n".join(line for line in lines if line)[-1500:]
        raise EngineUnavailableError(
            f"building {base_image} + {requirements} failed: {exc.msg}\n{tail}",
            hint="fix requirements.txt (the packages must install with pip inside the image)",
        ) from None
    except DockerException as exc:
        raise EngineUnavailableError(f"cannot build the image: {_explain(exc)}") from None
    return tag, True


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
    return {
        "image": spec.image,
        "command": spec.command,
        "name": spec.name,
        "detach": True,
        "ports": {f"{c}/tcp": (spec.host_ip, h) for c, h in spec.ports.items()},
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


def check_host_ports(spec: ContainerSpec) -> None:
    for port, kind in zip(spec.ports.values(), ("http", "grpc", "metrics"), strict=False):
        if port_in_use(port, spec.host_ip or "0.0.0.0"):
            raise EngineUnavailableError(
                f"port {port} (--{kind}-port) is already in use",
                hint=f"stop what uses it (`tritonkit status`) or pick another --{kind}-port (0 = any free)",
            )


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

    check_host_ports(spec)
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
            raise EngineUnavailableError(f"image {spec.image} is not present: {_explain(exc)}") from None
        except APIError as exc:
            if "Conflict" in str(exc) and spec.name in str(exc):
                raise UsageError(
                    f"a container named {spec.name!r} exists", hint="tritonkit stop it or pick --name"
                ) from None
            raise EngineUnavailableError(f"cannot create the server container: {_explain(exc)}") from None
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
                raise _start_error(spec, text) from None
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
            tail = server.log_tail(30)
            raise _not_ready(server, readiness, timeout, tail)
    except BaseException:
        remove_container(container)
        raise
    return server


def _not_ready(
    server: ContainerServer, readiness: Readiness, timeout: float, tail: str
) -> ModelsNotReadyError:
    if readiness.failed:
        names = ", ".join(m.name for m in readiness.failed)
        message = f"model(s) failed to load: {names}\n{describe_failure(readiness)}"
        hint = "fix the model(s) (`tritonkit validate`); the container was removed"
    elif readiness.fatal:
        message = f"the server cannot finish loading: {readiness.fatal}\n--- server log (tail) ---\n{tail}"
        hint = "the Python backend stub could not start; the container was removed"
    elif not server.running():
        message = f"the server container exited before it was ready\n--- server log (tail) ---\n{tail}"
        hint = "the container was removed"
    else:
        message = f"server not ready after {timeout:.0f}s\n--- server log (tail) ---\n{tail}"
        hint = "raise --timeout, or check the model (a Python model whose stub cannot start hangs the load)"
    return ModelsNotReadyError(message, hint=hint, readiness=readiness, log_tail=tail)


def managed_containers(client: DockerClient) -> list[Container]:
    """Every container (running or not) that tritonkit started, found by its label."""
    from docker.errors import DockerException

    try:
        return list(client.containers.list(all=True, filters={"label": f"{LABEL}=true"}))
    except DockerException as exc:
        raise EngineUnavailableError(f"cannot list containers: {_explain(exc)}") from None
