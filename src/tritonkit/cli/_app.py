"""The typer app every command module registers on, and the one error-to-exit-code mapping."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any, Optional

import click
import typer
from typer.core import TyperGroup

from tritonkit.errors import ExitCode, InterruptedByUser, TritonkitError


class _Group(TyperGroup):
    """The command group: a Ctrl-C inside a command becomes InterruptedByUser (typer exits 130 silently)."""

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except KeyboardInterrupt as exc:
            raise interrupted() from exc


def interrupted() -> InterruptedByUser:
    """The interrupt as an error: the signal, and what the command recorded it leaves (signals.say)."""
    from tritonkit.signals import received, said

    state = said()
    return InterruptedByUser(f"interrupted ({received()})" + (f": {state}" if state else ""))


app = typer.Typer(
    name="tritonkit",
    cls=_Group,
    help="From a PyTorch model to a running, validated Triton Inference Server model repository.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)


_state = {"debug": False}


@app.callback()
def _group(
    debug: Annotated[
        bool, typer.Option("--debug", help="On an error, show the exception chain (traceback), not one line.")
    ] = False,
) -> None:
    """From a PyTorch model to a running, validated Triton Inference Server model repository."""
    # A callback keeps the app a command group even when only one command module is loaded
    # (see tritonkit.cli.load_commands); typer would otherwise run a lone command directly.
    _state["debug"] = debug


# The shared --repo option of every command that acts on a repository.
RepoOption = Annotated[
    Optional[Path],  # noqa: UP045 - typer needs Optional at runtime on 3.10
    typer.Option(
        "--repo",
        help="Model repository (default: named by the nearest tritonkit.yaml, else ./model_repository).",
    ),
]

# The scheduling options shared by `add` and `export` (turned into specs by spec.scheduling_from_flags).
DynamicBatchingOption = Annotated[
    bool, typer.Option("--dynamic-batching", help="Enable the dynamic batcher.")
]
PreferredBatchSizeOption = Annotated[
    Optional[list[int]],  # noqa: UP045
    typer.Option("--preferred-batch-size", help="Repeatable; implies --dynamic-batching."),
]
QueueDelayOption = Annotated[
    Optional[int],  # noqa: UP045
    typer.Option(
        "--max-queue-delay-us", help="Dynamic batcher queue delay (microseconds); implies --dynamic-batching."
    ),
]
InstancesOption = Annotated[
    Optional[int],  # noqa: UP045
    typer.Option("--instances", help="Instance count of the instance group."),
]
KindOption = Annotated[str, typer.Option("--kind", help="Instance kind: cpu, gpu, auto or model.")]
GpusOption = Annotated[
    Optional[str],  # noqa: UP045
    typer.Option("--gpus", help="GPU ids for --kind gpu, e.g. 0,1."),
]

InstanceGroupOption = Annotated[
    Optional[list[str]],  # noqa: UP045
    typer.Option(
        "--instance-group",
        help="An instance group, repeatable: kind=gpu,count=2,gpus=0:1 (kind cpu|gpu|auto|model).",
    ),
]


def echo(text: str = "", *, err: bool = False) -> None:
    """Print one line (the only way commands print)."""
    typer.echo(text, err=err)


def report_error(exc: TritonkitError) -> int:
    """Print `exc` (one line and its hint, or with --debug its whole chain) and return its exit code."""
    if _state["debug"]:
        import traceback

        typer.echo("".join(traceback.format_exception(exc)).rstrip("\n"), err=True)
    # Ctrl-C is the user's choice, not an error: its line says only what was cleaned up.
    typer.echo(exc.message if isinstance(exc, InterruptedByUser) else f"error: {exc.message}", err=True)
    if exc.hint:
        typer.echo(f"hint: {exc.hint}", err=True)
    return int(exc.exit_code)


def _caused_by_interrupt(exc: BaseException) -> bool:
    """True when a KeyboardInterrupt (SIGINT/SIGTERM) is in `exc`'s chain and `exc` does not report it."""
    from tritonkit.errors import InterruptedByUser

    if isinstance(exc, InterruptedByUser):
        return False  # it says itself what the interrupt left
    seen: set[int] = set()
    link: BaseException | None = exc
    while link is not None and id(link) not in seen:
        if isinstance(link, KeyboardInterrupt):
            return True
        seen.add(id(link))
        link = link.__cause__ or link.__context__
    return False


def run(argv: list[str] | None = None) -> int:
    """Run the CLI; map tritonkit's errors and Ctrl-C to exit codes. Bugs still show as tracebacks."""
    from click.exceptions import ClickException  # typer < 0.21 runs on click (see pyproject)

    from tritonkit.signals import terminate_as_interrupt

    _state["debug"] = False
    try:
        try:
            with terminate_as_interrupt():  # SIGTERM takes Ctrl-C's clean-up path (tritonkit/signals.py)
                result = app(args=argv, prog_name="tritonkit", standalone_mode=False)
        except (KeyboardInterrupt, typer.Abort) as exc:  # Abort: click's Ctrl-C at a prompt
            raise interrupted() from exc
    except TritonkitError as exc:
        if _caused_by_interrupt(exc):  # e.g. Ctrl-C inside an import, reported as "not installed"
            return report_error(interrupted())
        return report_error(exc)
    except ClickException as exc:
        exc.show()
        return int(ExitCode.USAGE)
    except typer.Exit as exc:
        return int(exc.exit_code)
    if isinstance(result, int):
        if result == ExitCode.INTERRUPTED:  # typer made Exit(130) of a Ctrl-C outside a command (parsing)
            return report_error(interrupted())
        return result
    return 0
