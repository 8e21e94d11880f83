"""The local executor: resolve what a local tritonserver needs, run it, and return once it is ready.

`plan_local_server` is the edge: it finds the binary (binary.py), builds the backend folder (install.py),
picks free ports (ports.py), reads the environment, then calls the pure `plan.plan_local`.
`start_local_server` runs that plan (process.py ends it): a broken Python model can hang the load
forever, so the launcher has its own timeout, ends the whole process group and removes the shared memory.
The Python backend stub cannot take a model path with a space (it aborts) or a non-ASCII character (its
Python raises UnicodeEncodeError), so such a repository is served through a plain-named symlink.
"""

from __future__ import annotations

import contextlib
import os
import re
import subprocess
import tempfile
import time
import uuid
from collections.abc import Callable, Mapping
from dataclasses import replace
from pathlib import Path
from types import TracebackType

from tritonkit.errors import EngineUnavailableError, UsageError
from tritonkit.serve.binary import find_install, server_env
from tritonkit.serve.install import prepare_backend_dir, runtime_backends
from tritonkit.serve.plan import LocalCommand, ServeOptions, plan_local
from tritonkit.serve.ports import check_ports_free, concrete_ports, foreign_port_error
from tritonkit.serve.process import ProcessId, end_server, identify, remove_shm, tail
from tritonkit.serve.ready import (
    Readiness,
    clean_log_line,
    expected_models,
    fatal_log_line,
    not_ready_error,
    wait_ready,
)

__all__ = ["LocalCommand", "LocalServer", "plan_local_server", "start_local_server"]

# What the stub's command line and its Python take without breaking (see the module docstring).
_PLAIN = re.compile(r"[A-Za-z0-9_./+-]+")


def state_dir() -> Path:
    """tritonkit's state folder: $XDG_STATE_HOME/tritonkit or ~/.local/state/tritonkit."""
    base = os.environ.get("XDG_STATE_HOME") or str(Path.home() / ".local" / "state")
    return Path(base) / "tritonkit"


def new_shm_prefix() -> str:
    """A unique shared-memory prefix; it embeds this pid, and is the token of the server's processes."""
    return f"tritonkit_{os.getpid()}_{uuid.uuid4().hex[:8]}_"


def _plain_dir(kind: str) -> Path:
    """A folder of this user under the temporary directory, for when HOME's path is not plain."""
    return Path(tempfile.gettempdir()) / f"tritonkit-{os.getuid()}-{kind}"


def _alias_dir() -> Path:
    """Where repository aliases go: the state folder, or /tmp when that path itself is not plain."""
    folder = state_dir() / "repos"
    return folder if _PLAIN.fullmatch(str(folder)) else _plain_dir("repos")


def _served_repository(repository: Path, token: str) -> tuple[str, Path | None]:
    """The path to give the server, and the alias to create for it (None when the path is plain)."""
    from tritonkit.repository.scan import list_model_dirs

    bad = [m.name for m in list_model_dirs(repository) if not _PLAIN.fullmatch(m.name)]
    if bad:
        raise UsageError(
            f"model folder {bad[0]!r} has a character the local Python backend cannot load "
            "(a space or non-ASCII)",
            hint="rename the model (letters, digits, _ . + -), or serve with Docker",
        )
    if _PLAIN.fullmatch(str(repository)):
        return str(repository), None
    alias = _alias_dir() / token.strip("_")
    if not _PLAIN.fullmatch(str(alias)):
        raise UsageError(
            f"the local Python backend cannot load from {repository} (space or non-ASCII in the path)",
            hint="move the repository to a plain path, or serve with Docker",
        )
    return str(alias), alias


def plan_local_server(
    repository: Path | str,
    options: ServeOptions | None = None,
    *,
    create: bool = True,
    environ: Mapping[str, str] | None = None,
    shm_prefix: str | None = None,
) -> LocalCommand:
    """The full plan (binary found, backend dir prepared, free ports chosen), nothing started."""
    from tritonkit.serve.remote import remote_uri
    from tritonkit.serve.remote import server_env as remote_env

    options = options or ServeOptions()
    uri = remote_uri(repository)  # a remote repository goes to the server as it is (serve/remote.py)
    repository = Path(repository).absolute() if uri is None else repository
    if isinstance(repository, Path) and not repository.is_dir():
        raise UsageError(f"repository {repository} is not a folder", hint="create one with `tritonkit init`")
    check_ports_free({k: p for k, p in options.ports.items() if p})
    ports = concrete_ports(options.ports)
    options = replace(
        options, http_port=ports["http"], grpc_port=ports["grpc"], metrics_port=ports["metrics"]
    )
    install = find_install(options.server_bin)
    backend_dir = prepare_backend_dir(install, create=create)
    if not _PLAIN.fullmatch(str(backend_dir)):  # the stubs run from there: same limits as the repository
        backend_dir = prepare_backend_dir(install, _plain_dir("backends"), create=create)
    prefix = shm_prefix or new_shm_prefix()
    environ = os.environ if environ is None else environ
    env = server_env(install, environ)
    if isinstance(repository, Path):
        served, alias = _served_repository(repository, prefix)
    else:
        served, alias = repository, None
        env |= remote_env(uri, environ) if uri is not None else {}
    command = plan_local(
        served,
        options,
        binary=install.binary,
        backend_dir=backend_dir,
        env=env,
        shm_prefix=prefix,
        runtime_backends=runtime_backends(install),
    )
    return replace(command, alias=alias, source=str(repository))


class LocalServer:
    """A running local tritonserver. A context manager: leaving it stops the server and cleans up."""

    def __init__(
        self, process: subprocess.Popen[bytes], command: LocalCommand, log_path: Path, *, own_log: bool
    ) -> None:
        self.process = process
        self.command = command
        self.log_path = log_path
        self._own_log = own_log
        self.identity: ProcessId | None = identify(process.pid)
        self.readiness: Readiness | None = None
        self.name = f"tritonkit-local-{process.pid}"
        # Models served by tritonkit's Python-backend runtime instead of their real backend: {model: backend}.
        self.runtime_models: dict[str, str] = {}
        self.on_stop: list[Callable[[], None]] = []  # e.g. forget the registry record

    @property
    def pid(self) -> int:
        return int(self.process.pid)

    def _url(self, kind: str) -> str:
        host = "127.0.0.1" if self.command.bind in ("0.0.0.0", "") else self.command.bind
        return f"{host}:{self.command.ports[kind]}"

    @property
    def http_url(self) -> str:
        return self._url("http")

    @property
    def grpc_url(self) -> str:
        return self._url("grpc")

    @property
    def metrics_url(self) -> str:
        return self._url("metrics")

    @property
    def shm_prefix(self) -> str:
        return self.command.shm_prefix

    def running(self) -> bool:
        return self.process.poll() is None

    def log_tail(self, n: int = 40) -> str:
        """The last `n` lines of the server log."""
        return tail(self.log_path, n)

    def log_text(self) -> str:
        try:
            return self.log_path.read_text(errors="replace")
        except OSError:
            return ""

    def stop(self, grace: float = 6.0) -> None:
        """End the server's processes (SIGTERM then SIGKILL, orphaned stubs too) and remove what it made."""
        end_server(self.identity, self.command.shm_prefix, grace=grace)
        with contextlib.suppress(subprocess.TimeoutExpired):
            self.process.wait(timeout=2)
        remove_shm(self.command.shm_prefix)
        if self.command.alias is not None:
            with contextlib.suppress(OSError):
                self.command.alias.unlink()
        if self._own_log and self.readiness is not None and self.readiness.ready:
            # A log nobody asked for, of a server that ran fine: do not let them pile up.
            with contextlib.suppress(OSError):
                self.log_path.unlink()
        while self.on_stop:
            self.on_stop.pop()()

    def __enter__(self) -> LocalServer:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()

    def __repr__(self) -> str:
        return f"LocalServer(pid={self.pid}, http={self.http_url}, grpc={self.grpc_url})"


def _open_log(options: ServeOptions, own_log: bool | None) -> tuple[Path, bool]:
    if options.log_path is not None:
        path = Path(options.log_path)
        path.parent.mkdir(parents=True, exist_ok=True)
        path.touch()
        return path, bool(own_log)
    logs = state_dir() / "logs"
    logs.mkdir(parents=True, exist_ok=True)
    fd, name = tempfile.mkstemp(prefix=f"local-{time.strftime('%Y%m%d-%H%M%S')}-", suffix=".log", dir=logs)
    os.close(fd)
    return Path(name), True


def start_local_server(
    repository: Path | str,
    options: ServeOptions | None = None,
    *,
    command: LocalCommand | None = None,
    on_plan: Callable[[LocalCommand], None] | None = None,
    on_spawn: Callable[[LocalServer], None] | None = None,
    own_log: bool | None = None,
) -> LocalServer:
    """Start tritonserver on `repository` and return once it is ready.

    `on_plan` sees each plan before its process starts, `on_spawn` the server right after (the registry
    records both). The log goes to `options.log_path` (kept: it is the caller's, unless `own_log`), else to
    a new file in tritonkit's state folder, removed when a server that was ready stops.
    Raises ServerNotReadyError (a ModelsNotReadyError with per-model reasons and the log tail), or
    EngineUnavailableError when another process holds one of its ports, after stopping the process
    and removing its shared memory, when it exits, a model fails or the timeout passes.
    """
    options = options or ServeOptions()
    # A free port is found by binding and releasing it: another process may take it before the server
    # binds it (seen on a loaded machine). Ports tritonkit picked itself are picked again, twice at most.
    attempts = 3 if command is None and 0 in options.ports.values() else 1
    for attempt in range(attempts):
        planned = command or plan_local_server(repository, options)
        if on_plan is not None:
            on_plan(planned)
        outcome = _run(repository, planned, options, on_spawn, own_log)
        if isinstance(outcome, LocalServer):
            return outcome
        if attempt == attempts - 1:
            raise outcome
    raise AssertionError("unreachable")


def _run(
    repository: Path | str,
    command: LocalCommand,
    options: ServeOptions,
    on_spawn: Callable[[LocalServer], None] | None,
    own_log: bool | None,
) -> LocalServer | EngineUnavailableError:
    """One start: the ready server, or the error of a port another process holds (server stopped)."""
    log_path, owned = _open_log(options, own_log)
    if command.alias is not None:
        command.alias.parent.mkdir(parents=True, exist_ok=True)
        with contextlib.suppress(FileNotFoundError):
            command.alias.unlink()
        command.alias.symlink_to(command.source or repository, target_is_directory=True)
    with open(log_path, "ab") as log:
        try:
            process = subprocess.Popen(
                command.argv,
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                env=dict(os.environ) | command.env,
                start_new_session=True,  # its own process group: stubs are killed with it
            )
        except OSError as exc:
            raise EngineUnavailableError(f"cannot run {command.argv[0]}: {exc.strerror}") from exc
    server = LocalServer(process, command, log_path, own_log=owned)
    try:
        if on_spawn is not None:
            on_spawn(server)
        readiness = wait_ready(
            server.http_url,
            timeout=options.startup_timeout,
            is_running=server.running,
            expected_models=expected_models(
                command.source or str(repository), options.model_control_mode, options.load_models
            ),
            read_log=server.log_text,
            fatal=lambda: fatal_log_line(server.log_tail(60)),
        )
        exited = None if server.running() else f"exited with code {process.returncode}"
        port_error = _port_taken_in_log(server.log_tail(30), command) if exited else None
        if port_error is None and readiness.ready:
            # The ready answer may come from another server on the same ports (started at the same time).
            port_error = foreign_port_error(command.ports, server.pid)
        if port_error is not None:
            server.stop(grace=3.0)
            return port_error
        if not readiness.ready:
            server.readiness = readiness
            raise not_ready_error(
                readiness,
                log_tail=server.log_tail(30),
                exited=exited,
                timeout=options.startup_timeout,
                where=f"server log: {log_path}",
            )
        server.readiness = readiness
        server.runtime_models = _runtime_models(server)
    except BaseException:
        server.stop(grace=3.0)
        raise
    return server


_PORT_TAKEN = re.compile(r"already in use|Address in use|Failed to listen|failed to bind", re.I)


def _port_taken_in_log(log_tail: str, command: LocalCommand) -> EngineUnavailableError | None:
    """The error of a server that died because another process took one of its ports, else None."""
    for line in log_tail.splitlines():
        if _PORT_TAKEN.search(line):
            ports = ", ".join(f"{k} {p}" for k, p in command.ports.items())
            return EngineUnavailableError(
                f"a port of the server ({ports}) is already in use: {clean_log_line(line)}",
                hint="stop the other server (`tritonkit status`) or pick other ports (0 = any free)",
            )
    return None


def _runtime_models(server: LocalServer) -> dict[str, str]:
    """Ready models whose backend this server runs through a tritonkit runtime: {model: backend}."""
    from tritonkit.serve.ready import model_backends

    if not server.command.runtime_backends or server.readiness is None:
        return {}
    names = [m.name for m in server.readiness.models if m.ready]
    backends = model_backends(server.http_url, names)
    return {n: b for n, b in backends.items() if b in server.command.runtime_backends}
