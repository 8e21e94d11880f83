"""serve, login, status, logs, stop: run Triton (Docker or --local), manage the servers tritonkit started.

Over 400 lines because five commands share these option declarations; each function only parses its
options, calls one `tritonkit.serve` function and prints the value it returns.
"""

from __future__ import annotations

import json
import os
import signal
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from tritonkit.cli._app import RepoOption, app, echo
from tritonkit.errors import InterruptedByUser, ServerNotReadyError, UsageError

if TYPE_CHECKING:
    from tritonkit.serve import RunningServer
    from tritonkit.serve.images import PullProgress

KEY_ENV = "NGC_API_KEY"


@contextmanager
def _sigterm_as_interrupt() -> Iterator[None]:
    """SIGTERM behaves like Ctrl-C while a foreground server runs, so cleanup always happens."""

    def handler(signum: int, frame: object) -> None:
        raise KeyboardInterrupt

    previous = signal.signal(signal.SIGTERM, handler)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


def _ask_key() -> str | None:
    """NGC_API_KEY, else a hidden prompt on a terminal, else None. The key is never echoed."""
    key = os.environ.get(KEY_ENV)
    if key:
        return key
    if not sys.stdin.isatty():
        return None
    import getpass

    return getpass.getpass("NGC API key (input hidden): ").strip() or None


class _PullPrinter:
    """Prints one line per layer status change (not every byte count) to stderr."""

    def __init__(self) -> None:
        self.last: dict[str, str] = {}
        self.last_time: dict[str, float] = {}

    def __call__(self, event: PullProgress) -> None:
        key = event.layer or "-"
        status = event.status
        now = time.monotonic()
        if status == self.last.get(key) and now - self.last_time.get(key, 0) < 2.0:
            return
        self.last[key], self.last_time[key] = status, now
        size = ""
        if event.total:
            size = f" {(event.current or 0) / 1e6:.1f}/{event.total / 1e6:.1f} MB"
        prefix = f"{event.layer}: " if event.layer else ""
        echo(f"pull {prefix}{status}{size}", err=True)


def _docker_client_or_none() -> Any | None:
    from tritonkit.serve.docker import connect_or_none

    return connect_or_none()


def _print_ready(server: RunningServer, elapsed: float) -> None:
    readiness = server.readiness
    for warning in getattr(server, "warnings", []):
        echo(f"warning: {warning}", err=True)
    echo(f"server {server.name} ready in {elapsed:.1f}s")
    runtimes = server.runtime_models
    for model in readiness.models if readiness else []:
        version = f" v{model.version}" if model.version else ""
        note = f" {_runtime_note(runtimes[model.name])}" if model.name in runtimes else ""
        echo(f"  model {model.name}{version}: {model.state}{note}")
    echo(f"  HTTP    http://{server.http_url}")
    echo(f"  gRPC    {server.grpc_url}")
    echo(f"  metrics http://{server.metrics_url}/metrics")


_REAL_BACKEND = {"pytorch": "libtorch", "onnxruntime": "ONNX Runtime"}


def _runtime_note(backend: str) -> str:
    real = _REAL_BACKEND.get(backend, backend)
    return f"(through tritonkit's Python-backend runtime for '{backend}', not the real {real} backend)"


def _follow_local(server: Any) -> int:
    """Stream a local server's log until it exits; returns its exit code."""
    with open(server.log_path, errors="replace") as log:
        log.seek(0, os.SEEK_END)
        while True:
            line = log.readline()
            if line:
                typer.echo(line, nl=False)
                continue
            if not server.running():
                rest = log.read()
                if rest:
                    typer.echo(rest, nl=False)
                return int(server.process.returncode or 0)
            time.sleep(0.2)


def _follow_container(server: Any, since: int) -> int:
    """Stream a container's log until it exits; returns its exit code."""
    for chunk in server.container.logs(stream=True, follow=True, since=since):
        typer.echo(chunk.decode("utf-8", "replace"), nl=False)
    try:
        result = server.container.wait(timeout=10)
        return int(result.get("StatusCode", 0))
    except Exception:  # the container is gone or the engine stopped answering
        return 0


def _split_server_flags(first: list[str], rest: list[str]) -> tuple[str | None, list[str]]:
    """(the repository, the tritonserver flags) from what typer left: a word after `--flag` is its value."""
    positional: str | None = None
    flags: list[str] = []
    wants_value = False
    for token in [*first, *rest]:
        if token.startswith("-"):
            flags.append(token)
            wants_value = "=" not in token
        elif wants_value:
            flags.append(token)
            wants_value = False
        elif positional is None:
            positional = token
        else:
            raise UsageError(
                f"unexpected argument {token!r}", hint="one repository; server flags start with --"
            )
    return positional, flags


@app.command(context_settings={"allow_extra_args": True, "ignore_unknown_options": True})
def serve(
    ctx: typer.Context,
    repository: Annotated[
        str | None,
        typer.Argument(
            help="Model repository: a folder or s3://[host:port/]bucket/prefix (default: --repo)."
        ),
    ] = None,
    local: Annotated[
        bool, typer.Option("--local", help="Run a tritonserver binary here instead of Docker.")
    ] = False,
    server_bin: Annotated[
        Path | None,
        typer.Option(
            "--server-bin",
            help="--local: the tritonserver binary (default: PATH, then the nvidia-pytriton wheel).",
        ),
    ] = None,
    gpus: Annotated[
        str | None,
        typer.Option("--gpus", help='GPUs like docker: all, a count, "device=0,1"; 0 or absent = CPU only.'),
    ] = None,
    image: Annotated[
        str | None,
        typer.Option(
            "--image",
            help="Full image reference (default: $TRITONKIT_IMAGE, else the NGC tritonserver:<tag>-py3).",
        ),
    ] = None,
    tag: Annotated[
        str | None,
        typer.Option(
            "--tag", help="NGC tag of the default image (default: $TRITONKIT_TAG, else the pinned release)."
        ),
    ] = None,
    pull: Annotated[
        str, typer.Option("--pull", help="missing (pull only when absent), always, never.")
    ] = "missing",
    http_port: Annotated[int, typer.Option("--http-port", help="Host HTTP port (0 = any free port).")] = 8000,
    grpc_port: Annotated[int, typer.Option("--grpc-port", help="Host gRPC port (0 = any free port).")] = 8001,
    metrics_port: Annotated[
        int, typer.Option("--metrics-port", help="Host metrics port (0 = any free port).")
    ] = 8002,
    bind: Annotated[
        str,
        typer.Option(
            "--bind", help="Address the endpoints listen on (0.0.0.0: reachable from other machines)."
        ),
    ] = "127.0.0.1",
    shm_size: Annotated[
        str, typer.Option("--shm-size", help="Docker: /dev/shm size (the Python backend needs room).")
    ] = "1g",
    env: Annotated[
        list[str] | None,
        typer.Option("--env", "-e", help="Docker: KEY=VALUE for the container, repeatable."),
    ] = None,
    name: Annotated[
        str | None, typer.Option("--name", help="Server name (default: tritonkit-<repo>-<random>).")
    ] = None,
    network: Annotated[
        str,
        typer.Option(
            "--network", help="Docker: host = the host's network (default for an s3:// on 127.0.0.1)."
        ),
    ] = "",
    model_control_mode: Annotated[
        str, typer.Option("--model-control-mode", help="none, explicit or poll.")
    ] = "none",
    load_model: Annotated[
        list[str] | None,
        typer.Option("--load-model", help="With explicit mode: a model to load, repeatable."),
    ] = None,
    server_arg: Annotated[
        list[str] | None,
        typer.Option(
            "--server-arg", help="Extra tritonserver flag, repeatable (unknown --flags pass through too)."
        ),
    ] = None,
    timeout: Annotated[
        float, typer.Option("--timeout", help="Seconds to wait for the server and its models.")
    ] = 120.0,
    build: Annotated[
        bool, typer.Option("--build", help="Docker: extend the image with the repository's requirements.txt.")
    ] = False,
    detach: Annotated[
        bool, typer.Option("--detach", "-d", help="Print the endpoints and return; the server keeps running.")
    ] = False,
    dry_run: Annotated[
        bool, typer.Option("--dry-run", help="Print what would run (JSON, secrets masked); start nothing.")
    ] = False,
    repo: RepoOption = None,
) -> None:
    """Run Triton on a repository (Docker, or --local), wait until every model is ready, stream logs.

    Ctrl-C stops the server and removes its container/process. Unknown --flags go to tritonserver.
    """
    from tritonkit.repository.project import resolve_repository

    # Unknown server flags reach us mixed with the positional slot (`serve --local --log-verbose=1`
    # puts the flag there): split them apart again.
    from tritonkit.repository.remote import is_remote
    from tritonkit.serve import plan_server, start_server
    from tritonkit.serve.plan import ServeOptions, parse_env

    positional, passed = _split_server_flags([repository] if repository is not None else [], ctx.args)
    if positional is not None and repo is not None:
        raise UsageError("give the repository once (argument or --repo)")
    # a remote repository (s3://...) goes to the server as it is, after tritonkit's own bounded check
    target: Path | str
    if positional is not None and is_remote(positional):
        target = positional
    else:
        target = resolve_repository(Path(positional) if positional else repo)
    extra = [*(server_arg or []), *passed]
    options = ServeOptions(
        image=image,
        tag=tag,
        gpus=gpus,
        http_port=http_port,
        grpc_port=grpc_port,
        metrics_port=metrics_port,
        host_ip=bind,
        shm_size=shm_size,
        env=parse_env(env or []),
        model_control_mode=model_control_mode,
        load_models=list(load_model or []),
        server_args=extra,
        name=name,
        pull=pull,
        startup_timeout=timeout,
        server_bin=server_bin,
        network=network,
    )
    if build and local:
        raise UsageError(
            "--build is for Docker", hint="with --local, pip install the requirements in this venv"
        )
    if dry_run:
        plan = plan_server(target, options, local=local)
        echo(json.dumps(plan.to_dict(), indent=2))
        return
    started = time.monotonic()
    with _sigterm_as_interrupt():
        try:
            server = start_server(
                target,
                options,
                local=local,
                on_progress=_PullPrinter(),
                key_provider=_ask_key,
                build=build,
            )
        except KeyboardInterrupt as exc:
            raise InterruptedByUser("interrupted: nothing left running") from exc
        _print_ready(server, time.monotonic() - started)
        if detach:
            echo(f"detached; logs: tritonkit logs {server.name}; stop: tritonkit stop {server.name}")
            return
        echo("streaming logs; Ctrl-C stops the server")
        try:
            code = _follow_local(server) if local else _follow_container(server, since=int(time.time()) - 1)
        except KeyboardInterrupt as exc:
            server.stop()
            raise InterruptedByUser(f"interrupted: stopped and removed {server.name}") from exc
        except BaseException:
            server.stop()
            raise
    tail = server.log_tail(20)  # the log of a local server goes with it: keep its end in the error
    server.stop()
    raise ServerNotReadyError(
        f"server {server.name} exited (code {code}); it was removed\n--- server log (tail) ---\n{tail}"
    )


@app.command()
def login(
    registry: Annotated[str, typer.Option("--registry", help="Registry to log in to.")] = "nvcr.io",
) -> None:
    """Log the Docker engine in to NGC (user $oauthtoken, key from NGC_API_KEY or a hidden prompt).

    tritonkit never prints, logs or writes the key; `serve` reads NGC_API_KEY (or asks) when a pull needs it.
    """
    from tritonkit.serve.docker import connect
    from tritonkit.serve.images import login as engine_login

    key = _ask_key()
    if not key:
        raise UsageError(
            f"no NGC API key: set {KEY_ENV} or run on a terminal to be prompted",
            hint="create a key at ngc.nvidia.com (Setup > API Key)",
        )
    status = engine_login(connect(), key, registry)
    echo(f"{registry}: {status} (user $oauthtoken)")
    echo(
        f"tritonkit stores no credentials: `serve` reads {KEY_ENV} (or asks) when a pull needs the key",
        err=True,
    )


def _records(client: Any | None) -> list[Any]:
    from tritonkit.serve.registry import list_servers

    return list_servers(client)


@app.command()
def status(
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
) -> None:
    """List the servers tritonkit started (containers and local processes), with readiness."""
    from tritonkit.serve.ready import health

    client = _docker_client_or_none()
    records = _records(client)
    rows = []
    for record in records:
        ready = False
        if record.status in ("running", "orphaned") and record.http:
            ready = health(record.http)[1]
        rows.append(record.to_dict() | {"ready": ready})
    if as_json:
        echo(json.dumps(rows, indent=2))
        return
    if client is None:
        echo("(no Docker engine reachable: containers not listed)", err=True)
    if not rows:
        echo("no servers started by tritonkit")
        return
    echo(f"{'NAME':<34} {'KIND':<6} {'STATUS':<8} {'READY':<5} {'HTTP':<21} {'GRPC':<21} REPOSITORY")
    for r in rows:
        echo(
            f"{r['name']:<34} {r['kind']:<6} {r['status']:<8} {'yes' if r['ready'] else 'no':<5} "
            f"{r['http']:<21} {r['grpc']:<21} {r['repository']}"
        )
        for model, backend in sorted(r["runtime_models"].items()):
            echo(f"  model {model}: {_runtime_note(backend)}")
        if r["status"] == "exited":
            echo(f"  exited: see `tritonkit logs {r['name']}`, remove with `tritonkit stop {r['name']}`")
        elif r["status"] == "orphaned":
            echo(f"  its `serve` was killed before ready; `tritonkit stop {r['name']}` ends it")


@app.command()
def logs(
    name: Annotated[str | None, typer.Argument(help="Server name (default: the only one).")] = None,
    tail: Annotated[int | None, typer.Option("--tail", "-n", help="Only the last N lines.")] = None,
    follow: Annotated[bool, typer.Option("--follow", "-f", help="Keep streaming new lines.")] = False,
) -> None:
    """Print a server's log (a container's, or a local server's log file)."""
    from tritonkit.serve.registry import read_log

    client = _docker_client_or_none()
    record = _pick(_records(client), name)
    text = read_log(record, client, tail)
    typer.echo(text, nl=False)
    if not follow:
        return
    try:
        if record.kind == "docker" and client is not None:
            container = client.containers.get(record.container_id or record.name)
            for chunk in container.logs(stream=True, follow=True, since=int(time.time())):
                typer.echo(chunk.decode("utf-8", "replace"), nl=False)
        elif record.log_path:
            from tritonkit.serve.process import is_alive

            with open(record.log_path, errors="replace") as log:
                log.seek(0, os.SEEK_END)
                while record.identity is not None and is_alive(record.identity):
                    line = log.readline()
                    if line:
                        typer.echo(line, nl=False)
                    else:
                        time.sleep(0.2)
    except KeyboardInterrupt:
        return


def _pick(records: list[Any], name: str | None) -> Any:
    from tritonkit.serve.registry import find

    if name:
        return find(records, name)
    if len(records) == 1:
        return records[0]
    if not records:
        raise UsageError("no servers started by tritonkit", hint="start one with `tritonkit serve`")
    raise UsageError(f"{len(records)} servers are running; name one", hint="see `tritonkit status`")


@app.command()
def stop(
    names: Annotated[list[str] | None, typer.Argument(help="Server names (default: the only one).")] = None,
    all_: Annotated[bool, typer.Option("--all", help="Stop every server tritonkit started.")] = False,
) -> None:
    """Stop servers tritonkit started and remove their containers / processes and shared memory."""
    from tritonkit.serve.registry import find
    from tritonkit.serve.registry import stop as stop_server

    client = _docker_client_or_none()
    records = _records(client)
    if all_:
        chosen = records
        if not chosen:
            echo("no servers started by tritonkit")
            return
    elif names:
        chosen = [find(records, n) for n in names]
    else:
        chosen = [_pick(records, None)]
    for record in chosen:
        stop_server(record, client)
        echo(f"stopped and removed {record.name}")
