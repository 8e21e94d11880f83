"""Run a `tritonserver` binary as a local process (no Docker), ready or cleaned up.

The binary comes from `--server-bin`, PATH, or the nvidia-pytriton wheel. Its Python backend needs
a backend directory of REAL copies (PLATFORM.md: symlinks are refused), the interpreter's libdir and
the wheel's libs on LD_LIBRARY_PATH, and the venv's bin first on PATH. Runtimes that serve other
platforms through the Python backend (`templates/runtimes/<backend>/model.py`, e.g. pytorch, onnxruntime)
are installed as `<backend-dir>/<backend>/model.py` beside a copy of libtriton_python.so.

A broken Python model can hang the load forever, so the launcher has its own timeout and ends the
whole process group (SIGTERM, then SIGKILL), then removes the server's shared-memory regions.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import shutil
import signal
import socket
import subprocess
import sys
import sysconfig
import tempfile
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from types import TracebackType

from tritonkit.errors import EngineUnavailableError, ServerNotReadyError, UsageError
from tritonkit.serve.plan import LocalCommand, check_model_control
from tritonkit.serve.ready import Readiness, describe_failure, wait_ready

# LocalCommand (a plan value) lives in plan.py; re-exported here for callers of the launcher.
__all__ = ["LocalCommand", "LocalOptions", "LocalServer", "ModelsNotReadyError", "start_local_server"]

PYTHON_BACKEND_FILES = ("libtriton_python.so", "triton_python_backend_utils.py")
STUB = "triton_python_backend_stub"
SHM_DIR = Path("/dev/shm")


class ModelsNotReadyError(ServerNotReadyError):
    """The server started but models failed to load; carries their states and the log tail."""

    def __init__(
        self, message: str, *, hint: str | None = None, readiness: Readiness | None = None, log_tail: str = ""
    ) -> None:
        super().__init__(message, hint=hint)
        self.readiness = readiness
        self.log_tail = log_tail


@dataclass
class LocalOptions:
    """How to run the local server. Ports 0 are replaced by free ports."""

    server_bin: Path | None = None
    http_port: int = 0
    grpc_port: int = 0
    metrics_port: int = 0
    model_control_mode: str = "none"  # or "explicit" (bench --sweep loads config variants)
    load_models: list[str] = field(default_factory=list)  # --load-model with explicit mode
    extra_args: list[str] = field(default_factory=list)
    startup_timeout: float = 120.0
    log_path: Path | None = None
    bind: str = "127.0.0.1"  # address of the three endpoints ("0.0.0.0" to serve other machines)


@dataclass
class ServerInstall:
    """Where a tritonserver binary and its Python backend pieces are."""

    binary: Path
    python_backend: Path | None  # folder with libtriton_python.so + triton_python_backend_utils.py
    stub: Path | None  # triton_python_backend_stub for the running Python
    libs: list[Path] = field(default_factory=list)  # extra LD_LIBRARY_PATH entries


# ---------------------------------------------------------------------------------------------- finding


def _wheel_root() -> Path | None:
    """The nvidia-pytriton wheel's tritonserver folder, without importing pytriton (it is heavy)."""
    import importlib.util

    try:
        spec = importlib.util.find_spec("pytriton")
    except (ImportError, ValueError):
        return None
    if spec is None or not spec.submodule_search_locations:
        return None
    root = Path(next(iter(spec.submodule_search_locations))) / "tritonserver"
    return root if (root / "bin" / "tritonserver").is_file() else None


def _install_from_binary(binary: Path) -> ServerInstall:
    """Locate the Python backend pieces that belong to a binary (wheel layout or /opt/tritonserver)."""
    root = binary.resolve().parent.parent
    backend = root / "backends" / "python"
    python_backend = backend if (backend / "libtriton_python.so").is_file() else None
    pyver = f"{sys.version_info.major}.{sys.version_info.minor}"
    stub: Path | None = None
    for candidate in (root / "python_backend_stubs" / pyver / STUB, backend / STUB):
        if candidate.is_file():
            stub = candidate
            break
    libs = [p for p in (root.parent.parent / "nvidia_pytriton.libs", root / "lib") if p.is_dir()]
    return ServerInstall(binary=binary, python_backend=python_backend, stub=stub, libs=libs)


def find_server(server_bin: Path | None = None) -> ServerInstall:
    """The tritonserver to run: `server_bin`, else one on PATH, else the nvidia-pytriton wheel's."""
    if server_bin is not None:
        path = Path(server_bin).expanduser()
        if not (path.is_file() and os.access(path, os.X_OK)):
            raise EngineUnavailableError(
                f"--server-bin {path} is not an executable file",
                hint="give the path of a tritonserver binary",
            )
        return _install_from_binary(path.absolute())
    on_path = shutil.which("tritonserver")
    if on_path:
        return _install_from_binary(Path(on_path))
    root = _wheel_root()
    if root is not None:
        return _install_from_binary(root / "bin" / "tritonserver")
    raise EngineUnavailableError(
        "no tritonserver binary found (not on PATH, no nvidia-pytriton wheel)",
        hint="pip install 'tritonkit[server]' (nvidia-pytriton), give --server-bin, or serve with Docker",
    )


def runtimes_dir() -> Path:
    """Python-backend runtimes shipped with tritonkit: templates/runtimes/<backend>/model.py."""
    from tritonkit.repository.render import templates_dir

    return templates_dir() / "runtimes"


# The module the runtimes share (templates/runtimes/tritonkit_runtime.py), copied beside each model.py.
RUNTIME_COMMON = "tritonkit_runtime.py"


def _runtime_files() -> dict[str, Path]:
    root = runtimes_dir()
    if not root.is_dir():
        return {}
    return {d.name: d / "model.py" for d in sorted(root.iterdir()) if (d / "model.py").is_file()}


def state_dir() -> Path:
    """tritonkit's state folder: $XDG_STATE_HOME/tritonkit or ~/.local/state/tritonkit."""
    base = os.environ.get("XDG_STATE_HOME") or str(Path.home() / ".local" / "state")
    return Path(base) / "tritonkit"


def _cache_root() -> Path:
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "tritonkit" / "backends"


def prepare_backend_dir(
    install: ServerInstall, cache_root: Path | None = None, *, create: bool = True
) -> Path:
    """A backend directory of real copies: python/ and one folder per runtime (cached by content key).

    Shared read-only by every local server with the same inputs; built in a temp sibling, then renamed.
    """
    if install.python_backend is None:
        # Not the wheel layout: let the binary use its own backends (e.g. /opt/tritonserver/backends).
        default = install.binary.resolve().parent.parent / "backends"
        return default
    sources = [install.python_backend / f for f in PYTHON_BACKEND_FILES]
    if install.stub is not None:
        sources.append(install.stub)
    runtimes = _runtime_files()
    common = runtimes_dir() / RUNTIME_COMMON
    key = hashlib.sha256()
    for src in [*sources, *runtimes.values(), *([common] if runtimes else [])]:
        st = src.stat()
        key.update(f"{src}\0{st.st_size}\0{st.st_mtime_ns}\n".encode())
    root = cache_root or _cache_root()
    target = root / key.hexdigest()[:16]
    if not create or (target / "python" / "libtriton_python.so").is_file():
        return target
    root.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=".build-", dir=root))
    try:
        for folder, model_py in [("python", None), *runtimes.items()]:
            dest = tmp / folder
            dest.mkdir()
            for src in sources:
                shutil.copy2(src, dest / src.name)  # real copies: symlinks "escape backend directory"
            if model_py is not None:
                shutil.copy2(model_py, dest / "model.py")
                shutil.copy2(common, dest / RUNTIME_COMMON)
        try:
            os.rename(tmp, target)
        except OSError:  # another process built it first
            shutil.rmtree(tmp, ignore_errors=True)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return target


# ---------------------------------------------------------------------------------------------- planning


def free_port() -> int:
    """A TCP port free on 127.0.0.1 right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def port_in_use(port: int, host: str = "0.0.0.0") -> bool:
    """True when something listens on (or holds) `port`."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((host, port))
        except OSError:
            return True
    return False


def check_ports(ports: dict[str, int]) -> None:
    """Raise a clear error for a port given twice or already taken."""
    seen: dict[int, str] = {}
    for name, port in ports.items():
        if port in seen:
            raise UsageError(
                f"--{name}-port {port} is also the --{seen[port]}-port", hint="give distinct ports"
            )
        seen[port] = name
        if not 0 < port < 65536:
            raise UsageError(f"--{name}-port {port} is not a valid port")
        if port_in_use(port):
            raise EngineUnavailableError(
                f"port {port} (--{name}-port) is already in use",
                hint=f"stop what uses it (`tritonkit status`) or pick another --{name}-port (0 = any free)",
            )


def server_env(install: ServerInstall, base: dict[str, str] | None = None) -> dict[str, str]:
    """Environment additions: interpreter libdir + wheel libs on LD_LIBRARY_PATH, the venv first on PATH."""
    base = dict(os.environ if base is None else base)
    libdir = sysconfig.get_config_var("LIBDIR")
    lib_paths = [str(libdir)] if libdir else []
    lib_paths += [str(p) for p in install.libs]
    if base.get("LD_LIBRARY_PATH"):
        lib_paths.append(base["LD_LIBRARY_PATH"])
    bin_dir = str(Path(sys.executable).parent)
    path = base.get("PATH", "")
    return {
        "LD_LIBRARY_PATH": os.pathsep.join(lib_paths),
        "PATH": bin_dir + (os.pathsep + path if path else ""),
    }


def plan_local(
    repository: Path, options: LocalOptions, install: ServerInstall, backend_dir: Path
) -> LocalCommand:
    """The command line and environment of a local server (ports still 0 are given free ones)."""
    check_model_control(options.model_control_mode, options.load_models)
    http, grpc, metrics = (
        p or free_port() for p in (options.http_port, options.grpc_port, options.metrics_port)
    )
    while len({http, grpc, metrics}) < 3:  # free_port can hand the same port out twice
        grpc, metrics = free_port(), free_port()
    shm_prefix = f"tritonkit_{os.getpid()}_{uuid.uuid4().hex[:8]}_"
    argv = [
        str(install.binary),
        f"--model-repository={repository}",
        f"--backend-directory={backend_dir}",
        f"--http-address={options.bind}",
        f"--grpc-address={options.bind}",
        f"--metrics-address={options.bind}",
        f"--http-port={http}",
        f"--grpc-port={grpc}",
        f"--metrics-port={metrics}",
        f"--model-control-mode={options.model_control_mode}",
        *(f"--load-model={m}" for m in options.load_models),
        # Stay up when a model fails, so its reason can be read from the repository index.
        "--exit-on-error=false",
        "--strict-readiness=true",
        "--allow-gpu-metrics=false",
        "--pinned-memory-pool-byte-size=0",
        "--exit-timeout-secs=1",  # Ctrl-C/stop should not wait 4+ s for idle models to unload
        "--backend-config=python,shm-default-byte-size=4194304",
        f"--backend-config=python,shm-region-prefix-name={shm_prefix}",
        *options.extra_args,
    ]
    return LocalCommand(
        argv=argv,
        env=server_env(install),
        http_port=http,
        grpc_port=grpc,
        metrics_port=metrics,
        shm_prefix=shm_prefix,
        backend_dir=backend_dir,
        repository=repository,
    )


# ---------------------------------------------------------------------------------------------- running


def kill_process_group(pid: int, *, grace: float = 6.0) -> None:
    """SIGTERM the process group of `pid`, SIGKILL it after `grace` seconds; reap it if it is our child."""
    try:
        pgid = os.getpgid(pid)
    except ProcessLookupError:
        return
    with contextlib.suppress(ProcessLookupError):
        os.killpg(pgid, signal.SIGTERM)
    deadline = time.monotonic() + grace
    while time.monotonic() < deadline:
        if not _alive(pid):
            break
        time.sleep(0.05)
    # The stubs live in the same group; kill whatever is left, the server included.
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pgid, signal.SIGKILL)
    with contextlib.suppress(ChildProcessError, OSError):
        os.waitpid(pid, os.WNOHANG)


def _alive(pid: int) -> bool:
    with contextlib.suppress(ChildProcessError, OSError):
        done, _ = os.waitpid(pid, os.WNOHANG)
        if done == pid:
            return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    # A zombie that is not our child still answers kill(0); /proc tells.
    with contextlib.suppress(OSError):
        stat = Path(f"/proc/{pid}/stat").read_text()
        if stat.rsplit(")", 1)[1].split()[0] == "Z":
            return False
    return True


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


# Log lines after which a load never finishes (PLATFORM.md: the stub died, the load hangs forever).
FATAL_MARKERS = (
    "Failed to run python backend stub",
    "Failed to preinitialize Python stub",
    "Stub process is unhealthy",
)


def fatal_log_line(text: str) -> str | None:
    """The first log line that means the server will hang, or None."""
    for line in text.splitlines():
        if any(marker in line for marker in FATAL_MARKERS):
            return line.strip()
    return None


def _tail(path: Path, n: int) -> str:
    try:
        with open(path, "rb") as fh:
            fh.seek(0, os.SEEK_END)
            size = fh.tell()
            fh.seek(max(0, size - 256 * 1024))
            data = fh.read().decode("utf-8", "replace")
    except OSError:
        return ""
    return "\n".join(data.splitlines()[-n:])


class LocalServer:
    """A running local tritonserver. A context manager: leaving it stops the server and cleans up."""

    def __init__(
        self, process: subprocess.Popen[bytes], command: LocalCommand, log_path: Path, *, own_log: bool
    ) -> None:
        self.process = process
        self.command = command
        self.log_path = log_path
        self._own_log = own_log
        self.readiness: Readiness | None = None
        self.name = f"tritonkit-local-{process.pid}"
        self.on_stop: list[Callable[[], None]] = []  # e.g. forget the registry record

    @property
    def pid(self) -> int:
        return int(self.process.pid)

    @property
    def http_url(self) -> str:
        return f"127.0.0.1:{self.command.http_port}"

    @property
    def grpc_url(self) -> str:
        return f"127.0.0.1:{self.command.grpc_port}"

    @property
    def metrics_url(self) -> str:
        return f"127.0.0.1:{self.command.metrics_port}"

    @property
    def shm_prefix(self) -> str:
        return self.command.shm_prefix

    def running(self) -> bool:
        return self.process.poll() is None

    def log_tail(self, n: int = 40) -> str:
        """The last `n` lines of the server log."""
        return _tail(self.log_path, n)

    def log_text(self) -> str:
        try:
            return self.log_path.read_text(errors="replace")
        except OSError:
            return ""

    def stop(self, grace: float = 6.0) -> None:
        """End the server's process group (SIGTERM then SIGKILL) and remove its shared memory."""
        if self.process.poll() is None:
            kill_process_group(self.process.pid, grace=grace)
        with contextlib.suppress(subprocess.TimeoutExpired):
            self.process.wait(timeout=2)
        remove_shm(self.command.shm_prefix)
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


def _expected_models(repository: Path, options: LocalOptions) -> list[str]:
    """Models the server should have loaded: all folders with a config, or the explicit list."""
    if options.model_control_mode == "explicit":
        return list(options.load_models)
    from tritonkit.repository.scan import list_model_dirs

    try:
        return [m.name for m in list_model_dirs(repository) if m.has_config]
    except Exception:  # an unreadable repository: the server will say so
        return []


def plan_local_server(
    repository: Path, options: LocalOptions | None = None, *, create: bool = True
) -> LocalCommand:
    """The full plan (binary found, backend dir prepared, free ports chosen), nothing started."""
    options = options or LocalOptions()
    repository = Path(repository).absolute()
    if not repository.is_dir():
        raise UsageError(f"repository {repository} is not a folder", hint="create one with `tritonkit init`")
    given = {
        k: v
        for k, v in (
            ("http", options.http_port),
            ("grpc", options.grpc_port),
            ("metrics", options.metrics_port),
        )
        if v
    }
    check_ports(given)
    install = find_server(options.server_bin)
    backend_dir = prepare_backend_dir(install, create=create)
    return plan_local(repository, options, install, backend_dir)


def start_local_server(
    repository: Path, options: LocalOptions | None = None, *, command: LocalCommand | None = None
) -> LocalServer:
    """Start tritonserver on `repository` and return once it is ready.

    Raises ServerNotReadyError (a ModelsNotReadyError with per-model reasons and the log tail) after
    stopping the process and removing its shared memory, when it exits, a model fails or the timeout passes.
    """
    options = options or LocalOptions()
    command = command or plan_local_server(repository, options)
    own_log = options.log_path is None
    if options.log_path is not None:
        log_path = Path(options.log_path)
        log_path.parent.mkdir(parents=True, exist_ok=True)
    else:
        logs = state_dir() / "logs"
        logs.mkdir(parents=True, exist_ok=True)
        fd, name = tempfile.mkstemp(
            prefix=f"local-{time.strftime('%Y%m%d-%H%M%S')}-", suffix=".log", dir=logs
        )
        os.close(fd)
        log_path = Path(name)
    env = dict(os.environ) | command.env
    with open(log_path, "ab") as log:
        try:
            process = subprocess.Popen(
                command.argv,
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                env=env,
                start_new_session=True,  # its own process group: stubs are killed with it
            )
        except OSError as exc:
            raise EngineUnavailableError(f"cannot run {command.argv[0]}: {exc.strerror}") from exc
    server = LocalServer(process, command, log_path, own_log=own_log)
    try:
        readiness = wait_ready(
            server.http_url,
            timeout=options.startup_timeout,
            is_running=server.running,
            expected_models=_expected_models(command.repository, options),
            read_log=server.log_text,
            fatal=lambda: fatal_log_line(server.log_tail(60)),
        )
        server.readiness = readiness
        if not readiness.ready:
            raise _not_ready(server, readiness, options.startup_timeout)
    except BaseException:
        server.stop(grace=3.0)
        raise
    return server


def _not_ready(server: LocalServer, readiness: Readiness, timeout: float) -> ModelsNotReadyError:
    tail = server.log_tail(30)
    if readiness.failed:
        names = ", ".join(m.name for m in readiness.failed)
        message = f"model(s) failed to load: {names}\n{describe_failure(readiness)}"
        hint = "fix the model(s) (`tritonkit validate`), see the server log " + str(server.log_path)
    elif readiness.fatal:
        message = f"the server cannot finish loading: {readiness.fatal}\n--- server log (tail) ---\n{tail}"
        hint = "the Python backend stub could not start; check the model folder, the stub and its libraries"
    elif not server.running():
        code = server.process.returncode
        message = (
            f"tritonserver exited with code {code} before it was ready\n--- server log (tail) ---\n{tail}"
        )
        hint = f"server log: {server.log_path}"
    elif readiness.live:
        message = (
            f"server is live but not ready after {readiness.elapsed:.1f}s\n--- server log (tail) ---\n{tail}"
        )
        hint = f"server log: {server.log_path}"
    else:
        message = (
            f"server not ready after {timeout:.0f}s (a model may hang while loading)\n"
            f"--- server log (tail) ---\n{tail}"
        )
        hint = "raise --timeout, or check the model (a Python model whose stub cannot start hangs the load)"
    return ModelsNotReadyError(message, hint=hint, readiness=readiness, log_tail=tail)
