"""Readiness of a Triton server over HTTP: wait for /v2/health/ready, then each model's state and reason.

Also the one failure report both engines raise (`not_ready_error`) and the models a server should load.

A plain socket on purpose: this runs on every `serve` and must stay light (no tritonclient, no urllib).
"""

from __future__ import annotations

import json
import re
import socket
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from tritonkit.errors import ModelsNotReadyError

# Lines of a server log that explain a failed load (besides the ones naming the model).
_EXPLAINING = re.compile(r"Error parsing|fail|unable to|Invalid argument|error|Traceback|not found", re.I)


@dataclass
class ModelState:
    """One model as the server's repository index reports it (or as missing from it)."""

    name: str
    version: str = ""
    # READY, UNAVAILABLE, LOADING, UNLOADING; NOT_LOADED (explicit mode); MISSING (absent from the index)
    state: str = "UNKNOWN"
    reason: str = ""
    log_lines: list[str] = field(default_factory=list)

    @property
    def ready(self) -> bool:
        return self.state == "READY"

    @property
    def failed(self) -> bool:
        """Not ready for a reason: a model never asked for (explicit mode) or unloaded on purpose is not."""
        return self.state not in ("READY", "NOT_LOADED") and self.reason != "unloaded"


@dataclass
class Readiness:
    """The outcome of waiting for a server: ready or not, and each model's state."""

    ready: bool
    live: bool
    models: list[ModelState] = field(default_factory=list)
    elapsed: float = 0.0
    fatal: str | None = None  # a log line after which the server would never become ready

    @property
    def failed(self) -> list[ModelState]:
        return [m for m in self.models if m.failed]


def _request(
    url: str, *, method: str = "GET", body: bytes | None = None, timeout: float = 2.0
) -> tuple[int, bytes]:
    """One HTTP/1.1 request over a plain socket; (status, body), or (0, b"") when nothing answers.

    A socket rather than urllib/http.client: those cost ~25 ms of imports on every `serve`, a tenth
    of tritonkit's overhead over a bare server start. Triton answers with Content-Length or chunked.
    """
    if not url.startswith("http://"):
        raise ValueError(f"not an http:// URL: {url}")
    hostport, _, path = url[len("http://") :].partition("/")
    host, _, port = hostport.rpartition(":")
    payload = body or b""
    head = f"{method} /{path} HTTP/1.1\r\nHost: {hostport}\r\nConnection: close\r\n"
    if body is not None:
        head += f"Content-Type: application/json\r\nContent-Length: {len(payload)}\r\n"
    try:
        with socket.create_connection((host.strip("[]") or "127.0.0.1", int(port)), timeout=timeout) as sock:
            sock.sendall(head.encode() + b"\r\n" + payload)
            chunks = []
            while True:
                data = sock.recv(65536)
                if not data:
                    break
                chunks.append(data)
    except (OSError, ValueError):
        return 0, b""
    return _parse_response(b"".join(chunks))


def _parse_response(raw: bytes) -> tuple[int, bytes]:
    header, sep, content = raw.partition(b"\r\n\r\n")
    lines = header.split(b"\r\n")
    parts = lines[0].split(b" ", 2) if lines and lines[0] else []
    if not sep or len(parts) < 2 or not parts[0].startswith(b"HTTP/") or not parts[1].isdigit():
        return 0, b""
    headers = {k.strip().lower(): v.strip() for k, _, v in (line.partition(b":") for line in lines[1:])}
    if headers.get(b"transfer-encoding", b"").lower() == b"chunked":
        content = _dechunk(content)
    elif b"content-length" in headers and headers[b"content-length"].isdigit():
        content = content[: int(headers[b"content-length"])]
    return int(parts[1]), content


def _dechunk(data: bytes) -> bytes:
    out = bytearray()
    while data:
        size_line, _, rest = data.partition(b"\r\n")
        try:
            size = int(size_line.split(b";")[0], 16)
        except ValueError:
            break
        if size == 0:
            break
        out += rest[:size]
        data = rest[size + 2 :]
    return bytes(out)


def health(http_url: str) -> tuple[bool, bool]:
    """(live, ready) of the server at host:port (False, False when nothing answers)."""
    live, _ = _request(f"http://{http_url}/v2/health/live", timeout=1.0)
    ready, _ = _request(f"http://{http_url}/v2/health/ready", timeout=1.0)
    return live == 200, ready == 200


def repository_index(http_url: str) -> list[dict[str, str]]:
    """The server's repository index: [{"name", "version", "state", "reason"}, ...] ([] if unreachable)."""
    status, body = _request(f"http://{http_url}/v2/repository/index", method="POST", body=b"{}", timeout=5.0)
    if status != 200:
        return []
    try:
        data = json.loads(body)
    except ValueError:
        return []
    return [d for d in data if isinstance(d, dict)] if isinstance(data, list) else []


def model_states(http_url: str | None, expected: Sequence[str] = (), log_text: str = "") -> list[ModelState]:
    """Each model's state from the index; `expected` models absent from it are MISSING (their config failed).

    With `http_url` None (the server never answered), expected models get their state from the log.
    Failed models get the log lines that mention them or explain their failure.
    """
    by_name: dict[str, ModelState] = {}
    for entry in repository_index(http_url) if http_url else []:
        name = str(entry.get("name", ""))
        if not name:
            continue
        by_name[name] = ModelState(
            name=name,
            version=str(entry.get("version", "")),
            # No state: in the repository but never loaded (explicit model control).
            state=str(entry.get("state", "")) or "NOT_LOADED",
            reason=str(entry.get("reason", "")),
        )
    for name in expected:
        if name in by_name and by_name[name].state == "NOT_LOADED":
            # Asked for but never loaded: its config could not be read (the index lists it stateless).
            by_name[name].state = "MISSING"
        if name not in by_name:
            missing = "MISSING" if http_url else "UNKNOWN"
            by_name[name] = ModelState(name=name, state=missing, reason="")
    states = sorted(by_name.values(), key=lambda m: m.name)
    for state in states:
        if state.failed and log_text:
            state.log_lines = explaining_lines(log_text, state.name)
            if state.log_lines and not state.reason:
                state.reason = clean_log_line(state.log_lines[0])
                if state.state == "UNKNOWN":
                    state.state = "FAILED"
        if state.state == "MISSING" and not state.reason:
            state.reason = "not in the server's repository index (its config could not be read)"
    if not http_url:  # only models the log says something about
        states = [s for s in states if s.log_lines]
    return states


_LOG_PREFIX = re.compile(r"^[IWEF]\d{4} [\d:.]+ +\d+ [\w.]+:\d+\] ")


def clean_log_line(line: str) -> str:
    """A log line without Triton's or protobuf's prefix and quotes: the reason a user reads."""
    text = _LOG_PREFIX.sub("", line.strip())
    if "Error parsing" in text:
        text = text[text.index("Error parsing") :]
    if len(text) > 1 and text[0] == text[-1] == '"':
        text = text[1:-1]
    return text.strip()


def explaining_lines(log_text: str, model: str, limit: int = 8) -> list[str]:
    """Log lines that name `model` (quoted or as a path, as Triton does) and explain a failure.

    A protobuf "Error parsing ... L:C" line just before such a line is included first: it has the position.
    """
    quoted = (f"'{model}'", f'"{model}"', f"/{model}/", f"{model}:")
    lines = [ln.strip() for ln in log_text.splitlines()]
    picked: list[str] = []
    for index, text in enumerate(lines):
        if not text or not any(q in text for q in quoted):
            continue
        if not (text[:1] == "E" or _EXPLAINING.search(text)):
            continue
        previous = lines[index - 1] if index else ""
        if "Error parsing" in previous:
            picked.append(previous)
        picked.append(text)
    unique = list(dict.fromkeys(picked))
    return unique[-limit:]


def wait_ready(
    http_url: str,
    *,
    timeout: float,
    is_running: Callable[[], bool] = lambda: True,
    expected_models: Sequence[str] = (),
    read_log: Callable[[], str] = lambda: "",
    fatal: Callable[[], str | None] = lambda: None,
    poll: float = 0.02,
) -> Readiness:
    """Poll until ready, until the server is live but not ready (a model failed), it exits, or `timeout`.

    Triton opens its HTTP endpoint only after the startup load, so "live but not ready" is final
    with --exit-on-error=false and --strict-readiness (the defaults tritonkit uses).
    """
    start = time.monotonic()
    deadline = start + timeout
    live = ready = False
    not_ready_since: float | None = None
    fatal_line: str | None = None
    polls = 0
    while time.monotonic() < deadline:
        polls += 1
        # Ready first (one request per poll on the way up); live only tells a failed load apart.
        ready = _request(f"http://{http_url}/v2/health/ready", timeout=1.0)[0] == 200
        if ready:
            live = True
            break
        live = _request(f"http://{http_url}/v2/health/live", timeout=1.0)[0] == 200
        if live:
            # Give a model that is still loading (explicit --load-model) a moment, then report.
            not_ready_since = not_ready_since or time.monotonic()
            if time.monotonic() - not_ready_since > 0.5:
                break
        if polls % 5 == 0 and not is_running():  # an engine call: not on every poll
            break
        if polls % 10 == 0:
            fatal_line = fatal()
            if fatal_line:
                break
        time.sleep(poll)
    elapsed = time.monotonic() - start
    models: list[ModelState] = []
    if live:
        # Ready can still hide a model: one whose config did not parse is absent from the server.
        models = model_states(http_url, expected_models)
        if not ready or any(m.failed for m in models):
            ready = False
            models = model_states(http_url, expected_models, read_log())
    elif expected_models:
        models = model_states(None, expected_models, read_log())
    return Readiness(ready=ready, live=live, models=models, elapsed=elapsed, fatal=fatal_line)


def describe_failure(readiness: Readiness, *, limit: int = 6) -> str:
    """A multi-line text naming each model that is not ready, its reason and explaining log lines."""
    lines: list[str] = []
    for model in readiness.failed:
        lines.append(f"model {model.name!r}: {model.state}: {model.reason or 'no reason given'}")
        lines.extend(
            f"    | {line}" for line in model.log_lines[:limit] if clean_log_line(line) != model.reason
        )
    return "\n".join(lines)


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


def expected_models(repository: str, mode: str, load_models: Sequence[str]) -> list[str]:
    """Models the server should load: the explicit list, or every model folder with a config."""
    if mode == "explicit":
        return list(load_models)
    if "://" in repository:  # a remote repository: the server's index is the only list
        return []
    from pathlib import Path

    from tritonkit.errors import RepositoryError
    from tritonkit.repository.scan import list_model_dirs

    try:
        return [m.name for m in list_model_dirs(Path(repository)) if m.has_config]
    except RepositoryError:  # an unreadable repository: the server will say so
        return []


def not_ready_error(
    readiness: Readiness, *, log_tail: str, exited: str | None, timeout: float, where: str
) -> ModelsNotReadyError:
    """The one report of a server that did not get ready, for both engines.

    `exited` says how the server ended ("exited with code 1"), None while it runs; `where` is told in
    the hint (the log path of a local server, "the container was removed" for Docker).
    """
    from tritonkit.errors import ModelsNotReadyError

    log = f"\n--- server log (tail) ---\n{log_tail}"
    if readiness.failed:
        names = ", ".join(m.name for m in readiness.failed)
        message = f"model(s) failed to load: {names}\n{describe_failure(readiness)}"
        hint = f"fix the model(s) (`tritonkit validate`); {where}"
    elif readiness.fatal:
        message = f"the server cannot finish loading: {readiness.fatal}{log}"
        hint = f"the Python backend stub could not start (check the model folder and the stub); {where}"
    elif exited is not None:
        message = f"the server {exited} before it was ready{log}"
        hint = where
    elif readiness.live:
        message = f"server is live but not ready after {readiness.elapsed:.1f}s{log}"
        hint = where
    else:
        message = f"server not ready after {timeout:.0f}s (a model may hang while loading){log}"
        hint = f"raise --timeout, or check the model (a Python model whose stub cannot start hangs); {where}"
    return ModelsNotReadyError(message, hint=hint, readiness=readiness, log_tail=log_tail)


def model_backends(http_url: str, names: Sequence[str]) -> dict[str, str]:
    """The backend each model runs on, from the server's completed config.

    A config with only `platform: pytorch_libtorch` / `onnxruntime_onnx` gets `backend: pytorch` /
    `onnxruntime` there (core's model_config_utils.cc, AutoCompleteBackendFields), so one field tells.
    """
    backends: dict[str, str] = {}
    for name in names:
        status, body = _request(f"http://{http_url}/v2/models/{name}/config", timeout=5.0)
        if status != 200:
            continue
        try:
            config = json.loads(body)
        except ValueError:
            continue
        if isinstance(config, dict) and config.get("backend"):
            backends[name] = str(config["backend"])
    return backends
