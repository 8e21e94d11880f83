"""What a `serve` will run, as plain values: the container spec (Docker) and the local command line.

Pure: no engine, no network, no sockets, no environment read, no files touched: ports, names, the
environment and the binary are resolved at the edge (`serve/__init__.py`, `local.py`) and passed in.
`docker.py` and `local.py` execute these values.
"""

from __future__ import annotations

import os
import re
import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

from tritonkit.errors import UsageError
from tritonkit.model.release import DEFAULT_TAG
from tritonkit.serve.masking import mask_args, mask_env, mask_text

IMAGE_REPOSITORY = "nvcr.io/nvidia/tritonserver"
IMAGE_ENV = "TRITONKIT_IMAGE"  # a full image reference, e.g. my-registry/tritonserver:24.10-py3
TAG_ENV = "TRITONKIT_TAG"  # just the NGC tag, e.g. 24.09
NGC_REGISTRY = "nvcr.io"
NGC_USERNAME = "$oauthtoken"  # NGC's fixed user name for API-key logins

CONTAINER_REPOSITORY = "/models"
CONTAINER_PORTS = {"http": 8000, "grpc": 8001, "metrics": 8002}
# Large enough for the Python backend's shared-memory regions (NVIDIA's examples use 1g).
DEFAULT_SHM_SIZE = "1g"
# NVIDIA's recommended ulimits for Triton containers: unlimited locked memory, a 64 MiB stack.
ULIMITS = (("memlock", -1, -1), ("stack", 67108864, 67108864))

LABEL = "io.tritonkit.managed"  # every container tritonkit starts carries LABEL=true
LABEL_PREFIX = "io.tritonkit."
MODEL_CONTROL_MODES = ("none", "explicit", "poll")
PULL_POLICIES = ("missing", "always", "never")
_SHM_SIZE = re.compile(r"^\d+(\.\d+)?[bkmgBKMG]?$")


def default_image(tag: str | None = None, image: str | None = None, env: dict[str, str] | None = None) -> str:
    """The image to run: --image, else $TRITONKIT_IMAGE, else nvcr.io/nvidia/tritonserver:<tag>-py3."""
    env = dict(os.environ) if env is None else env
    if image:
        return image
    if not tag and env.get(IMAGE_ENV):
        return env[IMAGE_ENV]
    tag = tag or env.get(TAG_ENV) or DEFAULT_TAG
    return f"{IMAGE_REPOSITORY}:{tag}-py3"


def image_registry(image: str) -> str:
    """The registry host of an image reference ("docker.io" when none is named)."""
    first = image.split("/", 1)[0]
    if "/" in image and ("." in first or ":" in first or first == "localhost"):
        return first
    return "docker.io"


@dataclass(frozen=True)
class GpuRequest:
    """Docker's --gpus: all GPUs (count -1), a count, or device ids; never a count and ids together."""

    count: int | None = None
    device_ids: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        if self.count is not None and self.device_ids:
            raise UsageError("a GPU request takes a count or device ids, not both")
        if self.count is None and not self.device_ids:
            raise UsageError("a GPU request needs a count or device ids")

    def to_dict(self) -> dict[str, object]:
        # The shape of the Engine API's DeviceRequest.
        return {
            "Driver": "",
            "Count": self.count if self.count is not None else 0,
            "DeviceIDs": list(self.device_ids),
            "Capabilities": [["gpu"]],
        }


def parse_gpus(value: str | int | None) -> GpuRequest | None:
    """`--gpus` like docker's: None/""/"0" = CPU only, "all", a count "2", or "device=0,1" (ids or UUIDs)."""
    if value is None:
        return None
    text = str(value).strip().strip("'\"")
    if text in ("", "0", "none"):
        return None
    if text == "all":
        return GpuRequest(count=-1)
    if text.startswith("device="):
        ids = tuple(i.strip() for i in text[len("device=") :].strip("'\"").split(",") if i.strip())
        if not ids:
            raise UsageError(f"--gpus {value!r} names no device", hint='e.g. --gpus "device=0,1"')
        if "all" in ids:
            raise UsageError(f"--gpus {value!r}: use --gpus all for every GPU")
        return GpuRequest(device_ids=ids)
    if text.isdigit():
        return GpuRequest(count=int(text)) if int(text) else None
    if "," in text and all(p.strip().isdigit() for p in text.split(",")):
        raise UsageError(
            f"--gpus {value!r} is ambiguous (a count or device ids?)",
            hint=f'for devices use --gpus "device={text}"',
        )
    raise UsageError(
        f"bad --gpus {value!r}", hint='use all, a count (1, 2...), "device=0,1", or 0 for CPU only'
    )


@dataclass(frozen=True)
class Mount:
    source: str
    target: str
    read_only: bool = True


@dataclass(frozen=True)
class Ulimit:
    name: str
    soft: int
    hard: int


@dataclass
class ContainerSpec:
    """Everything `docker.py` needs to create the server container."""

    image: str
    command: list[str]
    name: str
    ports: dict[int, int]  # container port -> host port
    host_ip: str
    mounts: list[Mount]
    gpus: GpuRequest | None
    shm_size: str
    ulimits: list[Ulimit]
    labels: dict[str, str]
    env: dict[str, str] = field(default_factory=dict)
    pull: str = "missing"
    network: str = ""  # "" = the engine's default bridge; "host" = the host's network (no publishing)

    def host_port(self, kind: str) -> int:
        return self.ports[CONTAINER_PORTS[kind]]

    def endpoint(self, kind: str) -> str:
        host = "127.0.0.1" if self.host_ip in ("0.0.0.0", "") else self.host_ip
        return f"{host}:{self.host_port(kind)}"

    def to_dict(self, *, mask_secrets: bool = True) -> dict[str, object]:
        """A JSON-able view (for --dry-run); values that look like credentials are masked."""
        return {
            "kind": "docker",
            "image": self.image,
            "pull": self.pull,
            "name": self.name,
            "command": mask_args(self.command) if mask_secrets else list(self.command),
            "ports": {f"{c}/tcp": f"{self.host_ip}:{h}" for c, h in self.ports.items()},
            "mounts": [
                {"source": m.source, "target": m.target, "read_only": m.read_only} for m in self.mounts
            ],
            "device_requests": [self.gpus.to_dict()] if self.gpus else [],
            "shm_size": self.shm_size,
            "ulimits": [{"name": u.name, "soft": u.soft, "hard": u.hard} for u in self.ulimits],
            "labels": self.labels,
            "env": mask_env(self.env) if mask_secrets else dict(self.env),
            "network": self.network or "bridge",
        }


@dataclass
class LocalCommand:
    """The plan of a local server: command line, environment additions, ports (a plain value)."""

    argv: list[str]
    env: dict[str, str]
    http_port: int
    grpc_port: int
    metrics_port: int
    shm_prefix: str  # also the token that finds the server's processes (serve/process.py)
    backend_dir: Path
    repository: str  # the repository as the server is given it (a path, an alias of one, or a URI)
    bind: str = "127.0.0.1"
    runtime_backends: tuple[str, ...] = ()  # backends served by tritonkit's Python-backend runtimes
    source: str = ""  # the repository as the user named it, when `repository` is an alias of it
    alias: Path | None = None  # the symlink to create (and remove) for a path the stub cannot take

    @property
    def ports(self) -> dict[str, int]:
        return {"http": self.http_port, "grpc": self.grpc_port, "metrics": self.metrics_port}

    def to_dict(self, *, mask_secrets: bool = True) -> dict[str, object]:
        """A JSON-able view (for --dry-run); values that look like credentials are masked."""
        return {
            "kind": "local",
            "argv": mask_args(self.argv) if mask_secrets else list(self.argv),
            "env": mask_env(self.env) if mask_secrets else dict(self.env),
            "ports": self.ports,
            "shm_prefix": self.shm_prefix,
            "backend_dir": str(self.backend_dir),
            "repository": mask_text(self.repository) if mask_secrets else self.repository,
            "runtime_backends": list(self.runtime_backends),
        }


@dataclass
class ServeOptions:
    """How to serve, for Docker and --local alike (a field of one engine is ignored by the other).

    Ports 0 mean any free port: the edge (`serve.plan_server`, `serve.start_server`) picks them
    before planning, so a plan always holds concrete ports. The CLI's defaults are 8000-8002.
    """

    image: str | None = None  # Docker
    tag: str | None = None  # Docker
    gpus: str | None = None  # Docker (a local server uses the GPUs it sees)
    http_port: int = 0
    grpc_port: int = 0
    metrics_port: int = 0
    host_ip: str = "127.0.0.1"  # the address the three endpoints listen on
    shm_size: str = DEFAULT_SHM_SIZE  # Docker
    env: dict[str, str] = field(default_factory=dict)  # Docker: the container's environment
    model_control_mode: str = "none"
    load_models: list[str] = field(default_factory=list)
    server_args: list[str] = field(default_factory=list)  # extra tritonserver flags, both engines
    name: str | None = None
    pull: str = "missing"  # Docker
    startup_timeout: float = 120.0
    server_bin: Path | None = None  # local: the tritonserver binary (default: PATH, then the wheel)
    log_path: Path | None = None  # local: where the server log goes (default: tritonkit's state folder)
    network: str = ""  # Docker: "host" runs on the host's network (an s3:// endpoint on 127.0.0.1 needs it)

    @property
    def ports(self) -> dict[str, int]:
        return {"http": self.http_port, "grpc": self.grpc_port, "metrics": self.metrics_port}


def container_name(repository: Path, name: str | None = None) -> str:
    """A valid, unique container name: --name, else tritonkit-<repo folder>-<random>."""
    if name:
        if not re.fullmatch(r"[a-zA-Z0-9][a-zA-Z0-9_.-]+", name):
            raise UsageError(f"bad --name {name!r}", hint="letters, digits, _ . - (not first)")
        return name
    stem = re.sub(r"[^a-zA-Z0-9_.-]+", "-", repository.name).strip("-.") or "repo"
    return f"tritonkit-{stem[:40]}-{uuid.uuid4().hex[:6]}"


def check_model_control(mode: str, load_models: list[str]) -> None:
    """A known --model-control-mode, and --load-model only with explicit control (both engines)."""
    if mode not in MODEL_CONTROL_MODES:
        raise UsageError(
            f"unknown --model-control-mode {mode!r}", hint=f"use one of {', '.join(MODEL_CONTROL_MODES)}"
        )
    if load_models and mode != "explicit":
        raise UsageError("--load-model needs --model-control-mode explicit")


def server_args(options: ServeOptions, *, cpu_only: bool) -> list[str]:
    """tritonserver flags common to both engines (besides ports and paths)."""
    check_model_control(options.model_control_mode, options.load_models)
    args = [
        f"--model-control-mode={options.model_control_mode}",
        *(f"--load-model={m}" for m in options.load_models),
        # Stay up when a model fails, so its reason can be read from the repository index.
        "--exit-on-error=false",
        "--strict-readiness=true",
    ]
    if cpu_only:
        args += ["--allow-gpu-metrics=false", "--pinned-memory-pool-byte-size=0"]
    return args


def check_ports(ports: dict[str, int]) -> None:
    """Concrete, valid and distinct ports (a plan never holds 0: the edge resolves it first)."""
    seen: dict[int, str] = {}
    for kind, port in ports.items():
        if not 0 < port < 65536:
            raise UsageError(f"--{kind}-port {port} is not a port (0 must be resolved to a free port first)")
        if port in seen:
            raise UsageError(
                f"--{kind}-port {port} is also the --{seen[port]}-port", hint="give distinct ports"
            )
        seen[port] = kind


def is_uri(repository: str | Path) -> bool:
    """True for a remote repository (s3://, gs://, as://...), which is passed to the server as it is."""
    return "://" in str(repository)


def plan_container(
    repository: str | Path, options: ServeOptions, *, environ: Mapping[str, str], now: datetime
) -> ContainerSpec:
    """The container spec for `tritonkit serve` (Docker). Ports and name must be resolved already."""
    local_repo = not is_uri(repository)
    repository = str(Path(repository).absolute()) if local_repo else str(repository)
    gpus = parse_gpus(options.gpus)
    if options.pull not in PULL_POLICIES:
        raise UsageError(f"bad --pull {options.pull!r}", hint=f"use one of {', '.join(PULL_POLICIES)}")
    if not _SHM_SIZE.match(options.shm_size):
        raise UsageError(f"bad --shm-size {options.shm_size!r}", hint="e.g. 1g, 512m")
    check_ports(options.ports)
    if not options.name:
        raise UsageError("the plan needs a server name (serve.plan_server picks one)")
    command = [
        "tritonserver",
        f"--model-repository={CONTAINER_REPOSITORY if local_repo else repository}",
        *server_args(options, cpu_only=gpus is None),
        *options.server_args,
    ]
    if options.network == "host":  # nothing is published: the server listens on the host ports itself
        command[2:2] = [
            *(f"--{kind}-address={options.host_ip or '0.0.0.0'}" for kind in options.ports),
            *(f"--{kind}-port={port}" for kind, port in options.ports.items()),
        ]
    elif options.network:
        raise UsageError(
            f"bad --network {options.network!r}", hint="use host, or leave it out for the bridge"
        )
    host = "127.0.0.1" if options.host_ip in ("0.0.0.0", "") else options.host_ip
    labels = {
        LABEL: "true",
        # A label is readable by anyone who can inspect the container: never credentials in it.
        f"{LABEL_PREFIX}repository": mask_text(repository),
        **{f"{LABEL_PREFIX}{kind}": f"{host}:{port}" for kind, port in options.ports.items()},
        f"{LABEL_PREFIX}gpus": options.gpus or "0",
        f"{LABEL_PREFIX}started": now.strftime("%Y-%m-%dT%H:%M:%SZ"),
    }
    return ContainerSpec(
        image=default_image(options.tag, options.image, dict(environ)),
        command=command,
        name=options.name,
        ports={CONTAINER_PORTS[k]: p for k, p in options.ports.items()},
        host_ip=options.host_ip,
        mounts=[Mount(repository, CONTAINER_REPOSITORY, read_only=True)] if local_repo else [],
        gpus=gpus,
        shm_size=options.shm_size,
        ulimits=[Ulimit(n, s, h) for n, s, h in ULIMITS],
        labels=labels,
        env=dict(options.env),
        pull=options.pull,
        network=options.network,
    )


def plan_local(
    repository: str,
    options: ServeOptions,
    *,
    binary: Path,
    backend_dir: Path,
    env: dict[str, str],
    shm_prefix: str,
    runtime_backends: tuple[str, ...] = (),
) -> LocalCommand:
    """The command line of a local server. Everything outside the options is resolved by the caller."""
    if parse_gpus(options.gpus) is not None:
        raise UsageError(
            "--gpus is for Docker", hint="a local tritonserver uses the GPUs it sees; drop --gpus"
        )
    check_ports(options.ports)
    bind = options.host_ip or "127.0.0.1"
    argv = [
        str(binary),
        f"--model-repository={repository}",
        f"--backend-directory={backend_dir}",
        *(f"--{kind}-address={bind}" for kind in options.ports),
        *(f"--{kind}-port={port}" for kind, port in options.ports.items()),
        *server_args(options, cpu_only=True),
        "--exit-timeout-secs=1",  # Ctrl-C/stop should not wait 4+ s for idle models to unload
        # With tritonkit's runtimes, a model with configs/tritonkit-local.pbtxt loads that one (export
        # --format aoti writes it: Triton before 26.03 refuses platform torch_aoti); every other model
        # falls back to its config.pbtxt (Triton's custom model configurations).
        *(["--model-config-name=tritonkit-local"] if runtime_backends else []),
        "--backend-config=python,shm-default-byte-size=4194304",
        f"--backend-config=python,shm-region-prefix-name={shm_prefix}",
        *options.server_args,
    ]
    return LocalCommand(
        argv=argv,
        env=dict(env),
        http_port=options.http_port,
        grpc_port=options.grpc_port,
        metrics_port=options.metrics_port,
        shm_prefix=shm_prefix,
        backend_dir=backend_dir,
        repository=repository,
        bind=bind,
        runtime_backends=runtime_backends,
    )


def parse_env(items: list[str]) -> dict[str, str]:
    """--env KEY=VALUE items (KEY alone takes the value from this environment)."""
    env: dict[str, str] = {}
    for item in items:
        key, sep, value = item.partition("=")
        if not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", key):
            raise UsageError(f"bad --env {item!r}", hint="use KEY=VALUE")
        env[key] = value if sep else os.environ.get(key, "")
    return env
