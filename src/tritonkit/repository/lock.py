"""One advisory lock per repository around every read-modify-write of it and of its tritonkit.yaml.

`add`, `render`, `init --force`, `export` and `bench --apply` each read the spec file, change it and write
it back; two of them at once would each write their own copy and one change would be lost. They all run
their read-modify-write inside `repository_lock(repository)`: an exclusive `fcntl.flock` on the folder
that holds the repository and its tritonkit.yaml (the spec file is what they share: every repository of
one folder records its models there). Locking the folder itself creates no file, needs no write
permission, and the kernel drops the lock when the process dies, even by SIGKILL, so a crash never
leaves the repository locked. Staging folders (`staging.py`) are made and cleaned under this lock.

The lock is re-entrant inside one process (an export that calls another locking helper does not
deadlock on itself) and serialises threads of one process too.
"""

from __future__ import annotations

import contextlib
import functools
import inspect
import os
import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import ParamSpec, TypeVar

_guard = threading.Lock()
_held: dict[str, tuple[threading.RLock, list[int]]] = {}  # folder -> (thread lock, [depth, fd])


def lock_folder(repository: Path) -> Path:
    """The folder whose flock guards `repository`: the one holding it and its tritonkit.yaml."""
    return Path(repository).absolute().parent


@contextlib.contextmanager
def repository_lock(repository: Path | str) -> Iterator[None]:
    """Hold the repository's exclusive lock for the block (blocks until other writers finish).

    Where the folder does not exist yet (`init` of a new tree) there is nothing to protect: no lock.
    """
    import fcntl

    folder = lock_folder(Path(repository))
    key = str(folder)
    with _guard:
        entry = _held.setdefault(key, (threading.RLock(), [0, -1]))
    thread_lock, state = entry
    with thread_lock:
        if state[0] == 0:
            try:
                fd = os.open(folder, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
            except OSError:
                fd = -1
            if fd >= 0:
                try:
                    fcntl.flock(fd, fcntl.LOCK_EX)
                except BaseException:  # Ctrl-C while waiting for another writer
                    os.close(fd)
                    raise
            state[1] = fd
        state[0] += 1
        try:
            yield
        finally:
            state[0] -= 1
            if state[0] == 0 and state[1] >= 0:
                os.close(state[1])  # closing the descriptor releases the flock
                state[1] = -1


P = ParamSpec("P")
R = TypeVar("R")


def locked(parameter: str) -> Callable[[Callable[P, R]], Callable[P, R]]:
    """Run the decorated function inside `repository_lock` of its argument named `parameter`."""

    def decorate(func: Callable[P, R]) -> Callable[P, R]:
        signature = inspect.signature(func)

        @functools.wraps(func)
        def wrapper(*args: P.args, **kwargs: P.kwargs) -> R:
            if parameter in kwargs:  # the usual call, by keyword: no binding of the whole signature
                repository = kwargs[parameter]
            else:
                repository = signature.bind_partial(*args, **kwargs).arguments.get(parameter)
            if repository is None:
                return func(*args, **kwargs)
            with repository_lock(Path(str(repository))):
                return func(*args, **kwargs)

        return wrapper

    return decorate
