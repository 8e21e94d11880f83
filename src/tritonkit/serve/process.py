"""Processes of a local server, known by identity rather than by pid alone, and ended with all they leave.

A server is (pid, start time from /proc, process-group id) plus a token unique to it: the shared-memory
prefix tritonkit gives the Python backend, which appears in the server's argv and in every stub's. A pid
whose start time differs is a reused pid and is never signalled; a stub orphaned by a `kill -9` of the
server (parent 1, in the dead server's group, ignoring SIGTERM) is found by its token and killed.
"""

from __future__ import annotations

import contextlib
import os
import signal
import time
from dataclasses import dataclass
from pathlib import Path

SHM_DIR = Path("/dev/shm")


@dataclass(frozen=True)
class ProcessId:
    """A process as /proc knows it: a pid, its start time (clock ticks since boot) and process group."""

    pid: int
    start_time: int
    pgid: int


def _stat(pid: int) -> list[str] | None:
    """The fields of /proc/PID/stat after the command name (state first), or None when gone."""
    try:
        text = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    return text.rsplit(")", 1)[1].split()


def identify(pid: int) -> ProcessId | None:
    """The identity of a live (not zombie) process, or None."""
    fields = _stat(pid)
    if fields is None or fields[0] in ("Z", "X"):
        return None
    # proc(5): field 5 is pgrp, field 22 starttime; `fields` starts at field 3 (state).
    return ProcessId(pid=pid, start_time=int(fields[19]), pgid=int(fields[2]))


def is_alive(ident: ProcessId) -> bool:
    """True when that very process (same pid AND start time) still runs."""
    now = identify(ident.pid)
    return now is not None and now.start_time == ident.start_time


def tagged_pids(token: str) -> list[int]:
    """Live processes whose command line contains `token` (a server and its stubs), this one excluded."""
    if not token:
        return []
    needle = token.encode()
    found: list[int] = []
    for entry in os.scandir("/proc"):
        if not entry.name.isdigit() or int(entry.name) == os.getpid():
            continue
        with contextlib.suppress(OSError):
            if needle in Path(f"/proc/{entry.name}/cmdline").read_bytes() and identify(int(entry.name)):
                found.append(int(entry.name))
    return found


def _reap(pid: int) -> None:
    with contextlib.suppress(ChildProcessError, OSError):
        os.waitpid(pid, os.WNOHANG)


def end_server(ident: ProcessId | None, token: str, *, grace: float = 6.0) -> None:
    """SIGTERM the server's group, SIGKILL it after `grace` s, then SIGKILL anything left with its token."""
    if ident is not None and is_alive(ident):
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(ident.pgid, signal.SIGTERM)
        deadline = time.monotonic() + grace
        while time.monotonic() < deadline:
            _reap(ident.pid)
            if not is_alive(ident):
                break
            time.sleep(0.05)
        if is_alive(ident):
            # Still the same process (checked just above), so its group is still ours.
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(ident.pgid, signal.SIGKILL)
        _reap(ident.pid)
    # Stubs outlive a killed server (parent 1, SIGTERM ignored); they carry the token in their argv.
    for _ in range(3):
        left = tagged_pids(token)
        if not left:
            break
        for pid in left:
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.kill(pid, signal.SIGKILL)
            _reap(pid)
        time.sleep(0.05)


def remove_shm(prefix: str) -> list[Path]:
    """Remove /dev/shm/<prefix>* (the Python backend's regions); return what was removed."""
    removed: list[Path] = []
    if not prefix or not SHM_DIR.is_dir():
        return removed
    for path in SHM_DIR.glob(f"{prefix}*"):
        with contextlib.suppress(OSError):
            path.unlink()
            removed.append(path)
    return removed


def tail(path: Path, n: int) -> str:
    """The last `n` lines of a (log) file, reading at most its last 256 KiB."""
    try:
        with open(path, "rb") as fh:
            fh.seek(0, os.SEEK_END)
            size = fh.tell()
            fh.seek(max(0, size - 256 * 1024))
            data = fh.read().decode("utf-8", "replace")
    except OSError:
        return ""
    return "\n".join(data.splitlines()[-n:])
