"""The servers tritonkit started: containers (found by label) and local processes (state files).

Local servers are recorded in $XDG_STATE_HOME/tritonkit/servers/<name>.json (or
~/.local/state/tritonkit/servers); records of processes that are gone are dropped when read.
"""

from __future__ import annotations

import contextlib
import json
import os
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from tritonkit.errors import UsageError
from tritonkit.serve.local import kill_process_group, remove_shm, state_dir
from tritonkit.serve.plan import LABEL_PREFIX


@dataclass
class ServerRecord:
    """One server tritonkit started."""

    name: str
    kind: str  # "docker" or "local"
    status: str  # running, exited, created...
    http: str = ""
    grpc: str = ""
    metrics: str = ""
    repository: str = ""
    started: str = ""
    pid: int | None = None
    container_id: str | None = None
    image: str | None = None
    log_path: str | None = None
    shm_prefix: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def servers_dir() -> Path:
    return state_dir() / "servers"


def _record_path(name: str) -> Path:
    return servers_dir() / f"{name}.json"


def save_local(record: ServerRecord) -> Path:
    """Write a local server's record (atomically)."""
    folder = servers_dir()
    folder.mkdir(parents=True, exist_ok=True)
    path = _record_path(record.name)
    tmp = path.with_suffix(".json.tmp")
    tmp.write_text(json.dumps(record.to_dict(), indent=2) + "\n")
    os.replace(tmp, path)
    return path


def forget_local(name: str) -> None:
    with contextlib.suppress(FileNotFoundError):
        _record_path(name).unlink()


def is_tritonserver(pid: int) -> bool:
    """True when `pid` is alive and still a tritonserver (not a reused pid)."""
    try:
        cmdline = Path(f"/proc/{pid}/cmdline").read_bytes()
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    if stat.rsplit(")", 1)[1].split()[0] == "Z":
        return False
    return b"tritonserver" in cmdline


def local_records() -> list[ServerRecord]:
    """Records of local servers still running; stale ones are removed (and their shared memory)."""
    folder = servers_dir()
    if not folder.is_dir():
        return []
    records: list[ServerRecord] = []
    for path in sorted(folder.glob("*.json")):
        try:
            data = json.loads(path.read_text())
            record = ServerRecord(**data)
        except (OSError, ValueError, TypeError):
            continue
        if record.pid is None or not is_tritonserver(record.pid):
            if record.shm_prefix:
                remove_shm(record.shm_prefix)
            forget_local(record.name)
            continue
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
        f"no server {name!r} started by tritonkit (running: {known})", hint="see `tritonkit status`"
    )


def stop(record: ServerRecord, client: Any | None) -> None:
    """Stop a server and remove what it left: the container, or the process group + shared memory."""
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
    if record.pid is not None and is_tritonserver(record.pid):
        kill_process_group(record.pid)
    if record.shm_prefix:
        remove_shm(record.shm_prefix)
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
