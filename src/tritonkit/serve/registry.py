"""The servers tritonkit started: containers (found by label) and local processes (record files).

A local server's record ($XDG_STATE_HOME/tritonkit/servers/<name>.json) is written BEFORE its process
starts (status `starting`, the launcher's identity, the server's token), completed with the server's
identity (pid, start time, process group) the moment it is spawned, and marked `running` once ready.
So a launcher killed at any point leaves a record that `status` shows and `stop --all` ends, and a pid
is signalled only while its start time matches (never a reused pid). A server that died stays listed as
`exited`, so `tritonkit logs` still shows why; `stop` removes its record, log and leftovers.
"""

from __future__ import annotations

import contextlib
import json
import os
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path
from typing import Any

from tritonkit.errors import UsageError
from tritonkit.serve.local import state_dir
from tritonkit.serve.plan import LABEL_PREFIX
from tritonkit.serve.process import ProcessId, end_server, identify, is_alive, remove_shm, tagged_pids

__all__ = [
    "ServerRecord",
    "find_by_url",
    "find_server",
    "list_servers",
    "read_log",
    "server_url",
    "stop",
    "url_of",
]

RUNNING = ("running", "orphaned")  # statuses of a server that serves


@dataclass
class ServerRecord:
    """One server tritonkit started."""

    name: str
    kind: str  # "docker" or "local"
    status: str  # local: starting, running, orphaned (its launcher died), exited; docker: the engine's
    http: str = ""
    grpc: str = ""
    metrics: str = ""
    repository: str = ""
    started: str = ""
    pid: int | None = None
    container_id: str | None = None
    image: str | None = None
    log_path: str | None = None
    shm_prefix: str | None = None  # also the token in the argv of the server and its stubs
    pgid: int | None = None
    start_time: int | None = None  # /proc start time of `pid`, in clock ticks since boot
    owner_pid: int | None = None  # the launching tritonkit process
    owner_start_time: int | None = None
    alias: str | None = None  # a symlink tritonkit made for a repository path the stub cannot take
    own_log: bool = True  # the log was created by tritonkit (stop deletes it)
    # Models served by tritonkit's Python-backend runtime instead of their real backend: {model: backend}.
    runtime_models: dict[str, str] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @property
    def identity(self) -> ProcessId | None:
        if self.pid is None or self.start_time is None or self.pgid is None:
            return None
        return ProcessId(self.pid, self.start_time, self.pgid)


def servers_dir() -> Path:
    return state_dir() / "servers"


def _record_path(name: str) -> Path:
    return servers_dir() / f"{name}.json"


def save_local(record: ServerRecord) -> Path:
    """Write a local server's record (atomically: a unique temporary file, then a rename)."""
    folder = servers_dir()
    folder.mkdir(parents=True, exist_ok=True)
    path = _record_path(record.name)
    tmp = path.with_suffix(f".{os.getpid()}.tmp")
    tmp.write_text(json.dumps(record.to_dict(), indent=2) + "\n")
    os.replace(tmp, path)
    return path


def starting_record(name: str, **values: Any) -> ServerRecord:
    """The record of a local server about to start, owned by this process."""
    owner = identify(os.getpid())
    return ServerRecord(
        name=name,
        kind="local",
        status="starting",
        owner_pid=os.getpid(),
        owner_start_time=owner.start_time if owner else None,
        **values,
    )


def forget_local(name: str) -> None:
    with contextlib.suppress(FileNotFoundError):
        _record_path(name).unlink()


def _load(path: Path) -> ServerRecord | None:
    try:
        data = json.loads(path.read_text())
        known = {f.name for f in fields(ServerRecord)}
        return ServerRecord(**{k: v for k, v in data.items() if k in known})
    except (OSError, ValueError, TypeError):
        return None


def _adopt(record: ServerRecord) -> bool:
    """Find the server of a record written before its spawn was recorded (the launcher was killed)."""
    flag = f"shm-region-prefix-name={record.shm_prefix}".encode()
    for pid in tagged_pids(record.shm_prefix or ""):
        with contextlib.suppress(OSError):
            if flag in Path(f"/proc/{pid}/cmdline").read_bytes():
                ident = identify(pid)
                if ident is not None:
                    record.pid, record.start_time, record.pgid = ident.pid, ident.start_time, ident.pgid
                    return True
    return False


def _owner_alive(record: ServerRecord) -> bool:
    if record.owner_pid is None or record.owner_start_time is None:
        return False
    return is_alive(ProcessId(record.owner_pid, record.owner_start_time, 0))


def _clean_leftovers(record: ServerRecord) -> None:
    """What a dead server leaves: orphaned stubs (by token), shared memory, the repository alias."""
    end_server(None, record.shm_prefix or "")
    if record.shm_prefix:
        remove_shm(record.shm_prefix)
    if record.alias:
        with contextlib.suppress(OSError):
            Path(record.alias).unlink()


def _refresh(record: ServerRecord) -> bool:
    """Bring a record up to date with /proc; returns whether it changed."""
    before = record.to_dict()
    ident = record.identity
    alive = is_alive(ident) if ident else _adopt(record)
    if alive:
        if not _owner_alive(record) and record.status == "starting":
            record.status = "orphaned"  # its launcher died before ready: nobody will stop it but `stop`
    elif record.status == "starting" and _owner_alive(record):
        pass  # its launcher is still at work
    elif record.status != "exited":
        _clean_leftovers(record)
        record.status = "exited"
    return record.to_dict() != before


def local_records() -> list[ServerRecord]:
    """Records of local servers, brought up to date (a dead server's leftovers are removed)."""
    folder = servers_dir()
    if not folder.is_dir():
        return []
    records: list[ServerRecord] = []
    for path in sorted(folder.glob("*.json")):
        record = _load(path)
        if record is None:
            continue
        if _refresh(record):
            save_local(record)
        records.append(record)
    return records


def container_record(container: Any) -> ServerRecord:
    labels = container.labels or {}
    tags = getattr(container.image, "tags", None) if container.attrs else None
    return ServerRecord(
        name=container.name,
        kind="docker",
        status=container.status,
        http=labels.get(f"{LABEL_PREFIX}http", ""),
        grpc=labels.get(f"{LABEL_PREFIX}grpc", ""),
        metrics=labels.get(f"{LABEL_PREFIX}metrics", ""),
        repository=labels.get(f"{LABEL_PREFIX}repository", ""),
        started=labels.get(f"{LABEL_PREFIX}started", ""),
        container_id=container.short_id,
        image=(tags[0] if tags else container.attrs.get("Config", {}).get("Image")),
    )


def list_servers(client: Any | None) -> list[ServerRecord]:
    """Local servers, then containers (when a Docker client is given)."""
    records = local_records()
    if client is not None:
        from tritonkit.serve.docker import managed_containers

        records += [container_record(c) for c in managed_containers(client)]
    return records


def find(records: list[ServerRecord], name: str) -> ServerRecord:
    """The record called `name` (or whose container id starts with it)."""
    for record in records:
        if record.name == name or (record.container_id and name and record.container_id.startswith(name)):
            return record
    known = ", ".join(r.name for r in records) or "none"
    raise UsageError(
        f"no server {name!r} started by tritonkit (known: {known})", hint="see `tritonkit status`"
    )


def _describe(records: list[ServerRecord]) -> str:
    return ", ".join(f"{r.name} (http {r.http}, grpc {r.grpc})" for r in records)


def find_server(name: str | None, client: Any | None = None) -> ServerRecord:
    """The running server called `name`, or the only one running; a clear error listing the candidates.

    `client` (a Docker SDK client) adds tritonkit's containers to the local servers.
    """
    records = list_servers(client)
    if name:
        record = find(records, name)
        if record.status not in RUNNING:
            raise UsageError(
                f"server {record.name!r} is {record.status}",
                hint=f"see why: tritonkit logs {record.name}; remove it: tritonkit stop {record.name}",
            )
        return record
    running = [r for r in records if r.status in RUNNING]
    if len(running) == 1:
        return running[0]
    if not running:
        raise UsageError(
            "no server started by tritonkit is running",
            hint="start one with `tritonkit serve --local --detach`, or pass --url host:port",
        )
    raise UsageError(
        f"{len(running)} servers started by tritonkit are running: {_describe(running)}",
        hint="pick one with --server NAME (or --url host:port)",
    )


def find_by_url(url: str, client: Any | None = None) -> ServerRecord | None:
    """The server tritonkit started that answers at `url` (host:port, http or grpc), if any.

    For a caller given only --url that needs the record (e.g. its `runtime_models`).
    """
    wanted = url.split("://", 1)[-1].rstrip("/").replace("localhost:", "127.0.0.1:")
    for record in list_servers(client):
        if wanted in (record.http, record.grpc) and record.status in RUNNING:
            return record
    return None


def url_of(record: ServerRecord, protocol: str) -> str:
    """The record's endpoint for `protocol` (http or grpc)."""
    return record.grpc if protocol == "grpc" else record.http


def server_url(url: str | None, server: str | None, protocol: str, client: Any | None = None) -> str | None:
    """The URL a client command talks to: `--url`, else `--server NAME`'s, else the one running server's.

    None when tritonkit runs no server (the client's default, localhost, applies); a clear error when
    the named server is unknown or stopped, or when several run and none is named.
    """
    if url:
        if server:
            raise UsageError("--url and --server exclude each other", hint="give one of them")
        return url
    if not server and not any(r.status in RUNNING for r in list_servers(client)):
        return None
    return url_of(find_server(server, client), protocol)


def stop(record: ServerRecord, client: Any | None) -> None:
    """Stop a server and remove what it left: the container, or the processes, shm, alias, log, record."""
    if record.kind == "docker":
        if client is None:
            raise UsageError(f"{record.name} is a container; the Docker engine is needed to stop it")
        from docker.errors import NotFound

        from tritonkit.serve.docker import remove_container

        try:
            container = client.containers.get(record.container_id or record.name)
        except NotFound:
            return
        remove_container(container)
        return
    if record.identity is None:
        _adopt(record)
    end_server(record.identity, record.shm_prefix or "")
    _clean_leftovers(record)
    if record.log_path and record.own_log:
        with contextlib.suppress(OSError):
            Path(record.log_path).unlink()
    forget_local(record.name)


def read_log(record: ServerRecord, client: Any | None, tail: int | None = None) -> str:
    """The server's log (the last `tail` lines when given)."""
    if record.kind == "docker":
        from tritonkit.serve.docker import container_logs

        container = client.containers.get(record.container_id or record.name) if client else None
        return container_logs(container, tail=tail if tail is not None else "all") if container else ""
    if not record.log_path:
        return ""
    try:
        text = Path(record.log_path).read_text(errors="replace")
    except OSError:
        return ""
    if tail is not None:
        return "\n".join(text.splitlines()[-tail:]) + "\n"
    return text
