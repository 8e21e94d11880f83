"""Host ports: pick free ones (at the edge, before planning), check them, and tell who listens on one.

Used by both executors; the plan itself only checks that the ports it is given are valid and distinct.
"""

from __future__ import annotations

import contextlib
import os
import socket
from pathlib import Path

from tritonkit.errors import EngineUnavailableError

KINDS = ("http", "grpc", "metrics")


def free_port() -> int:
    """A TCP port free on 127.0.0.1 right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def concrete_ports(ports: dict[str, int]) -> dict[str, int]:
    """`ports` with each 0 replaced by a free port, never one given or picked twice."""
    taken = {p for p in ports.values() if p}
    out: dict[str, int] = {}
    for kind, port in ports.items():
        while not port or (port in taken and not ports[kind]):
            port = free_port()
        taken.add(port)
        out[kind] = port
    return out


def port_in_use(port: int, host: str = "0.0.0.0") -> bool:
    """True when something listens on (or holds) `port`."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((host or "0.0.0.0", port))
        except OSError:
            return True
    return False


def check_ports_free(ports: dict[str, int], host: str = "0.0.0.0") -> None:
    """Raise a clear error (exit 3) for a port that something already holds."""
    for kind, port in ports.items():
        if port_in_use(port, host):
            raise EngineUnavailableError(
                f"port {port} (--{kind}-port) is already in use",
                hint=f"stop what uses it (`tritonkit status`) or pick another --{kind}-port (0 = any free)",
            )


def _listening_inodes(port: int) -> set[str]:
    """Socket inodes in LISTEN state on `port` (IPv4 and IPv6), from /proc/net/tcp{,6}."""
    inodes: set[str] = set()
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        with contextlib.suppress(OSError):
            for line in Path(table).read_text().splitlines()[1:]:
                fields = line.split()
                # local_address is ADDR:PORT in hex; state 0A is LISTEN; the inode is field 9.
                if len(fields) > 9 and fields[3] == "0A" and int(fields[1].rsplit(":", 1)[1], 16) == port:
                    inodes.add(fields[9])
    return inodes


def _holds(pid: int, inodes: set[str]) -> bool:
    """True when process `pid` has one of the sockets `inodes` ("socket:[N]") open."""
    with contextlib.suppress(OSError):
        for fd in os.scandir(f"/proc/{pid}/fd"):
            with contextlib.suppress(OSError):
                if os.readlink(fd.path) in inodes:
                    return True
    return False


def listener_pids(port: int) -> set[int]:
    """The processes that hold a listening socket on `port` (those this user may inspect)."""
    inodes = {f"socket:[{i}]" for i in _listening_inodes(port)}
    if not inodes:
        return set()
    return {int(e.name) for e in os.scandir("/proc") if e.name.isdigit() and _holds(int(e.name), inodes)}


def foreign_port_error(ports: dict[str, int], pid: int) -> EngineUnavailableError | None:
    """The error to raise when one of `ports` is not listened on by process `pid`, else None.

    Two servers started at once on the same ports both pass the check before start; only the first
    binds, and the readiness check of the second would be answered by the first. Only `pid`'s own
    descriptors are read unless a port is not its own (then every process is, to name the holder).
    """
    for kind, port in ports.items():
        if _holds(pid, {f"socket:[{i}]" for i in _listening_inodes(port)}):
            continue
        others = ", ".join(str(p) for p in sorted(listener_pids(port))) or "none found"
        return EngineUnavailableError(
            f"port {port} (--{kind}-port) is held by another process (pid {others}), not by the "
            "server just started",
            hint=f"stop the other server (`tritonkit status`) or pick another --{kind}-port",
        )
    return None
