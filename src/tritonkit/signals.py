"""One signal policy for every command: SIGINT and SIGTERM both end it the way Ctrl-C does.

`terminate_as_interrupt` (installed by the CLI around each command) makes SIGTERM raise
KeyboardInterrupt like SIGINT, so `kill PID`, `docker stop`, `timeout` and Kubernetes take the same
clean-up path as Ctrl-C (staging folders removed, servers stopped, the model restored) and exit 130.

`deferred` holds both signals during a state change that must not be cut in half (an unload then load
of a model, the write of an applied config): a signal that arrives inside is raised as
KeyboardInterrupt when the block ends, so the state is always the old one or the new one. A signal
that lands inside an `import` is taken again once the import is done (a half-imported numpy breaks
every later import of it). `say` records what an interrupt at this point leaves, for the message.
"""

from __future__ import annotations

import contextlib
import os
import signal
import sys
import threading
import time
from collections.abc import Iterator
from types import FrameType
from typing import Any

SIGNALS = (signal.SIGINT, signal.SIGTERM)

_last = [int(signal.SIGINT)]
_state_note: list[str] = []
_held_since: dict[int, float] = {}  # signal -> when it was first held back because an import was running
_IMPORT_GRACE_S = 20.0  # what an interrupt now leaves behind, for the CLI's message
_pending: list[int] = []  # signals held by `deferred`, raised when the outermost block ends
_depth = [0]


def received() -> str:
    """The name of the last signal that interrupted (SIGINT or SIGTERM), for messages."""
    return signal.Signals(_last[0]).name


def say(state: str) -> None:
    """Record what an interrupt from now on leaves behind ("nothing was written..."), for the message."""
    _state_note[:] = [state]


def said() -> str | None:
    """The state recorded by `say`, if any."""
    return _state_note[0] if _state_note else None


def _raise(signum: int, frame: FrameType | None) -> None:
    _last[0] = signum
    now = time.monotonic()
    if _importing(frame) and now - _held_since.setdefault(signum, now) < _IMPORT_GRACE_S:
        # An interrupted import leaves the module half-made (numpy turns the interrupt into an ImportError,
        # "tritonclient is not installed"): let the import finish, then take the signal again. Bounded:
        # code that runs tritonkit from inside an import of its own is interrupted after the grace time.
        timer = threading.Timer(0.05, os.kill, (os.getpid(), signum))
        timer.daemon = True
        timer.start()
        return
    _held_since.pop(signum, None)
    _quiet_gevent_hub()
    raise KeyboardInterrupt


def _importing(frame: FrameType | None) -> bool:
    """True when `frame` runs inside an import (a frame of importlib's bootstrap is on the stack)."""
    while frame is not None:
        if frame.f_code.co_filename.startswith("<frozen importlib._bootstrap"):
            return True
        frame = frame.f_back
    return False


def _quiet_gevent_hub() -> None:
    """tritonclient's HTTP client runs on gevent: a signal that lands while its hub waits on a socket
    raises there, and the hub prints a traceback before passing the interrupt on to the main greenlet.
    Marking KeyboardInterrupt "not an error" for the hub stops the print; the hub still re-raises it
    (it is in the hub's SYSTEM_ERROR), so the clean-up path is the same."""
    gevent = sys.modules.get("gevent")
    if gevent is None:
        return
    with contextlib.suppress(Exception):
        hub = gevent.get_hub()
        if not issubclass(KeyboardInterrupt, hub.NOT_ERROR):
            hub.NOT_ERROR = (*hub.NOT_ERROR, KeyboardInterrupt)


def _hold(signum: int, frame: FrameType | None) -> None:
    _last[0] = signum
    _pending.append(signum)


def _main_thread() -> bool:
    return threading.current_thread() is threading.main_thread()


@contextlib.contextmanager
def _handlers(handler: Any) -> Iterator[None]:
    previous = {s: signal.getsignal(s) for s in SIGNALS}
    for s in SIGNALS:
        signal.signal(s, handler)
    try:
        yield
    finally:
        for s, old in previous.items():
            signal.signal(s, old)


@contextlib.contextmanager
def terminate_as_interrupt() -> Iterator[None]:
    """For the block, SIGINT and SIGTERM raise KeyboardInterrupt; the old handlers come back after.

    Each block is one command: what an earlier command in this process recorded with `say` is dropped,
    so its state is never reported for this one (the API and tests run many commands in one process).
    """
    _state_note.clear()
    if not _main_thread():  # signal handlers can only be set in the main thread
        yield
        return
    with _handlers(_raise):
        yield


@contextlib.contextmanager
def deferred() -> Iterator[None]:
    """Hold SIGINT/SIGTERM until the block ends, then raise KeyboardInterrupt if one came."""
    if not _main_thread():
        yield
        return
    _depth[0] += 1
    held = False
    try:
        with _handlers(_hold):
            yield
    finally:
        _depth[0] -= 1
        if _depth[0] == 0:
            held = bool(_pending)
            _pending.clear()
    if held:  # no other exception is in flight: the held signal is the news
        raise KeyboardInterrupt


def ignore() -> None:
    """Ignore SIGINT and SIGTERM from now on: for a process whose command is over and that only exits."""
    if _main_thread():
        for s in SIGNALS:
            signal.signal(s, signal.SIG_IGN)
