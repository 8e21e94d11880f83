"""validate and describe: offline checks of a repository, and what a client sends to a model."""

from __future__ import annotations

from enum import Enum
from pathlib import Path
from typing import Annotated, Optional

import typer

from tritonkit.cli._app import RepoOption, app, echo


class OutputFormat(str, Enum):
    text = "text"
    json = "json"
    github = "github"
    sarif = "sarif"


@app.command()
def validate(
    repository: Annotated[
        Optional[str],  # noqa: UP045 - typer needs Optional at runtime on 3.10
        typer.Argument(
            help="Model repository to check: a folder or s3://[host:port/]bucket/prefix "
            "(default: --repo, tritonkit.yaml, ./model_repository)."
        ),
    ] = None,
    output_format: Annotated[
        OutputFormat,
        typer.Option(
            "--format", "-f", help="text, json, github (workflow annotations) or sarif (code scanning)."
        ),
    ] = OutputFormat.text,
    no_artifacts: Annotated[
        bool,
        typer.Option("--no-artifacts", help="Judge configs and layout only; do not look at model files."),
    ] = False,
    list_rules: Annotated[
        bool, typer.Option("--list-rules", help="List every rule (id, severity, summary) and exit.")
    ] = False,
    triton: Annotated[
        Optional[str],  # noqa: UP045
        typer.Option(
            "--triton",
            help="Triton release the repository is for: NGC tag (24.10) or server version (2.51) "
            "(default: tritonkit.yaml target.triton, else the image serve uses).",
        ),
    ] = None,
    gpus: Annotated[
        Optional[int],  # noqa: UP045
        typer.Option("--gpus", help="GPUs the target machine has: turns GPU-id checks into errors."),
    ] = None,
    ignore: Annotated[
        Optional[list[str]],  # noqa: UP045
        typer.Option("--ignore", help="Rule id or family to leave out (repeatable, or comma-separated)."),
    ] = None,
    select: Annotated[
        Optional[list[str]],  # noqa: UP045
        typer.Option("--select", help="Only these rule ids or families (repeatable, or comma-separated)."),
    ] = None,
    repo: RepoOption = None,
) -> None:
    """Check a model repository offline, the way Triton would load it. Exit 1 when errors are found."""
    from tritonkit.errors import FindingsError, UsageError
    from tritonkit.repository.project import resolve_repository
    from tritonkit.validate.engine import validate_repository
    from tritonkit.validate.report import format_report

    if list_rules:
        from tritonkit.validate.report import format_rules
        from tritonkit.validate.rules import RULES

        if output_format.value not in ("text", "json"):
            raise UsageError("--list-rules prints text or json", hint="use --format text or --format json")
        echo(format_rules(RULES.values(), output_format.value))
        return
    if repository is not None and repo is not None and Path(repository) != repo:
        raise UsageError(f"two repositories given: {repository} and --repo {repo}", hint="give only one")
    from tritonkit.repository.remote import is_remote

    ignored, selected = tuple(ignore or ()), tuple(select or ())
    if is_remote(repository):  # a local copy (cached by ETag), findings shown under the URI
        from tritonkit.repository.fetch import validate_remote

        report = validate_remote(
            str(repository),
            artifacts=not no_artifacts,
            target=triton,
            gpus=gpus,
            ignore=ignored,
            select=selected,
        )
    else:
        from tritonkit.validate.target import spec_target

        root = resolve_repository(Path(repository) if repository is not None else repo)
        spec_triton, spec_gpus = spec_target(root)
        report = validate_repository(
            root,
            artifacts=not no_artifacts,
            target=triton if triton is not None else spec_triton,
            gpus=gpus if gpus is not None else spec_gpus,
            ignore=ignored,
            select=selected,
        )
    echo(format_report(report, output_format.value))
    if not report.ok:
        count = len(report.errors)
        raise FindingsError(
            f"{count} error{'s' if count != 1 else ''} in {root}",
            hint="fix the findings above, then validate again",
        )


@app.command()
def describe(
    model: Annotated[str, typer.Argument(help="Model name (its folder in the repository).")],
    as_json: Annotated[bool, typer.Option("--json", help="Print the description as JSON.")] = False,
    url: Annotated[
        str, typer.Option("--url", help="Server address used in the examples.")
    ] = "localhost:8000",
    repo_uri: Annotated[
        Optional[str],  # noqa: UP045
        typer.Option(
            "--repo",
            help="Model repository: a folder or s3://[host:port/]bucket/prefix "
            "(default: named by the nearest tritonkit.yaml, else ./model_repository).",
        ),
    ] = None,
) -> None:
    """Show what a client sends to a model and gets back: shapes with the batch dim, wire types, examples."""
    import json

    from tritonkit.repository.describe import describe_model
    from tritonkit.repository.project import resolve_repository
    from tritonkit.repository.remote import is_remote

    if is_remote(repo_uri):  # a local copy of the remote repository (cached by ETag)
        from tritonkit.repository.fetch import fetch_repository

        root = fetch_repository(str(repo_uri))
    else:
        root = resolve_repository(Path(repo_uri) if repo_uri is not None else None)
    description = describe_model(root, model, url=url)
    echo(
        json.dumps(description.to_dict(), indent=2, ensure_ascii=False) if as_json else description.to_text()
    )
