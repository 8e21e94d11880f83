"""The typer app every command module registers on, and the one error-to-exit-code mapping."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Optional

import typer

from tritonkit.errors import ExitCode, TritonkitError

app = typer.Typer(
    name="tritonkit",
    help="From a PyTorch model to a running, validated Triton Inference Server model repository.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)


@app.callback()
def _group() -> None:
    """From a PyTorch model to a running, validated Triton Inference Server model repository."""
    # A callback keeps the app a command group even when only one command module is loaded
    # (see tritonkit.cli.load_commands); typer would otherwise run a lone command directly.


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


def run(argv: list[str] | None = None) -> int:
    """Run the CLI; map tritonkit's errors and Ctrl-C to exit codes. Bugs still show as tracebacks."""
    from click.exceptions import ClickException  # typer < 0.21 runs on click (see pyproject)

    from tritonkit.signals import received, terminate_as_interrupt

    try:
        with terminate_as_interrupt():  # SIGTERM takes Ctrl-C's clean-up path (tritonkit/signals.py)
            result = app(args=argv, prog_name="tritonkit", standalone_mode=False)
    except TritonkitError as exc:
        typer.echo(f"error: {exc.message}", err=True)
        if exc.hint:
            typer.echo(f"hint: {exc.hint}", err=True)
        return int(exc.exit_code)
    except ClickException as exc:
        exc.show()
        return int(ExitCode.USAGE)
    except (typer.Abort, KeyboardInterrupt):
        typer.echo(f"interrupted ({received()})", err=True)
        return int(ExitCode.INTERRUPTED)
    except typer.Exit as exc:
        return int(exc.exit_code)
    if isinstance(result, int):
        if result == ExitCode.INTERRUPTED:  # typer turns Ctrl-C into Exit(130), which click returns
            typer.echo(f"interrupted ({received()})", err=True)
        return result
    return 0
