"""init, add, render, import, remove, schema."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from tritonkit.cli._app import (
    DynamicBatchingOption,
    GpusOption,
    InstanceGroupOption,
    InstancesOption,
    KindOption,
    PreferredBatchSizeOption,
    QueueDelayOption,
    RepoOption,
    app,
    echo,
)
from tritonkit.errors import FindingsError, RepositoryError


@app.command()
def init(
    directory: Annotated[Path, typer.Argument(help="Repository folder to create.")] = Path(
        "model_repository"
    ),
    force: Annotated[
        bool, typer.Option("--force", help="Use a non-empty folder / overwrite tritonkit.yaml.")
    ] = False,
) -> None:
    """Create a model repository and its tritonkit.yaml spec file."""
    from tritonkit.repository.scaffold import init_repository

    result = init_repository(directory, force=force)
    echo(f"created repository {result.repository} (spec: {result.spec_path})")


@app.command()
def add(
    name: Annotated[str, typer.Argument(help="Model name (the folder name and config name).")],
    backend: Annotated[
        str, typer.Option("--backend", "-b", help="pytorch, onnx, python, ensemble or a custom backend name.")
    ] = "pytorch",
    inputs: Annotated[
        list[str] | None,
        typer.Option("--input", "-i", help="NAME:DTYPE:DIMS, repeatable (e.g. INPUT__0:fp32:3,224,224)."),
    ] = None,
    outputs: Annotated[
        list[str] | None, typer.Option("--output", "-o", help="NAME:DTYPE:DIMS, repeatable.")
    ] = None,
    max_batch_size: Annotated[
        int, typer.Option("--max-batch-size", help="0 = no batching; N adds an implicit batch dim.")
    ] = 0,
    dynamic_batching: DynamicBatchingOption = False,
    preferred_batch_size: PreferredBatchSizeOption = None,
    queue_delay_us: QueueDelayOption = None,
    instances: InstancesOption = None,
    kind: KindOption = "cpu",
    gpus: GpusOption = None,
    instance_group: InstanceGroupOption = None,
    version: Annotated[int, typer.Option("--version", help="Version folder to create.")] = 1,
    bls_target: Annotated[
        str | None,
        typer.Option("--bls-target", help="python: scaffold a BLS model.py that calls this model."),
    ] = None,
    steps: Annotated[
        list[str] | None,
        typer.Option("--step", help="ensemble: a member model, repeatable, in order (wired as a chain)."),
    ] = None,
    force: Annotated[
        bool,
        typer.Option("--force", help="Replace an existing model folder (its other config fields are kept)."),
    ] = False,
    repo: RepoOption = None,
) -> None:
    """Scaffold a model: config.pbtxt, version folder, model.py for python; record it in tritonkit.yaml."""
    from tritonkit.model.spec import EnsembleStepSpec, ModelSpec, TensorSpec, scheduling_from_flags
    from tritonkit.repository.project import resolve_repository
    from tritonkit.repository.scaffold import add_model

    db, groups = scheduling_from_flags(
        dynamic_batching=dynamic_batching,
        preferred_batch_sizes=preferred_batch_size,
        max_queue_delay_us=queue_delay_us,
        instances=instances,
        kind=kind,
        gpus=gpus,
        instance_groups=instance_group,
    )
    spec = ModelSpec(
        name=name,
        backend=backend,
        inputs=[TensorSpec.parse(t) for t in inputs or []],
        outputs=[TensorSpec.parse(t) for t in outputs or []],
        max_batch_size=max_batch_size,
        dynamic_batching=db,
        instance_groups=groups,
        version=version,
        bls_target=bls_target,
        steps=[EnsembleStepSpec(s) for s in steps or []],
    )
    repository = resolve_repository(repo)
    plan = add_model(repository, spec, force=force)
    echo(f"added {spec.backend} model {spec.name!r} in {repository / spec.name}")
    for rel in sorted(plan.files):
        echo(f"  {rel}")
    if spec.model_filename and spec.backend != "python":
        echo(
            f"next: put {spec.model_filename} in {repository / spec.name / str(spec.version)}/"
            " (or use `tritonkit export`)"
        )


@app.command()
def render(
    check: Annotated[
        bool, typer.Option("--check", help="Change nothing; exit 1 with a diff when files would change.")
    ] = False,
    force: Annotated[
        bool, typer.Option("--force", help="Overwrite configs edited by hand since their last render.")
    ] = False,
    repo: RepoOption = None,
) -> None:
    """Regenerate every config.pbtxt from tritonkit.yaml (idempotent; refuses to erase hand edits)."""
    from tritonkit.repository.project import resolve_repository
    from tritonkit.repository.scaffold import render_repository

    result = render_repository(resolve_repository(repo), check=check, force=force)
    if check:
        for diff in (*result.changed.values(), *result.hand_edited.values()):
            echo(diff.rstrip("\n"))
        drift = len(result.changed) + len(result.hand_edited)
        if drift:
            raise FindingsError(
                f"{drift} config(s) differ from tritonkit.yaml", hint="run `tritonkit render`"
            )
    elif result.hand_edited:
        for path, diff in result.hand_edited.items():
            echo(
                f"warning: {path} was edited by hand since its last render; rendering would change it:",
                err=True,
            )
            echo(diff.rstrip("\n"), err=True)
        raise RepositoryError(
            f"{len(result.hand_edited)} config(s) were edited by hand; nothing was written",
            hint="`tritonkit render --force` overwrites them; `tritonkit import --force -m NAME` keeps them",
        )
    else:
        for path in result.changed:
            echo(f"rendered {path}")
    if not result.changed and not result.hand_edited:
        echo(f"{len(result.unchanged)} config(s) up to date")


@app.command("import")
def import_(
    repository: Annotated[
        Path | None,
        typer.Argument(help="Repository to adopt (default: --repo or the nearest tritonkit.yaml's)."),
    ] = None,
    model: Annotated[
        list[str] | None, typer.Option("--model", "-m", help="Import only this model, repeatable.")
    ] = None,
    force: Annotated[
        bool, typer.Option("--force", help="Replace entries already in tritonkit.yaml with their config.")
    ] = False,
    repo: RepoOption = None,
) -> None:
    """Adopt an existing repository into tritonkit.yaml, model by model, losslessly (comments aside)."""
    from tritonkit.repository.adopt import import_repository
    from tritonkit.repository.project import resolve_repository

    result = import_repository(repository or resolve_repository(repo), models=model, force=force)
    for name in result.imported:
        echo(f"imported {name}" + (" (replaced its entry)" if name in result.replaced else ""))
    for name in result.skipped:
        echo(f"skipped {name}: no config.pbtxt (the server would auto-complete it; write one to import it)")
    echo(
        f"{len(result.imported)} model(s) recorded in {result.spec_path}; every field is kept, comments in"
        " config.pbtxt are not (`tritonkit render` rewrites the files without them)"
    )


@app.command()
def remove(
    name: Annotated[str, typer.Argument(help="Model to drop from tritonkit.yaml.")],
    files: Annotated[bool, typer.Option("--files", help="Delete the model folder too.")] = False,
    repo: RepoOption = None,
) -> None:
    """Remove a model from tritonkit.yaml (and, with --files, its folder)."""
    from tritonkit.repository.adopt import remove_model
    from tritonkit.repository.project import resolve_repository

    result = remove_model(resolve_repository(repo), name, files=files)
    if result.removed_entry:
        echo(f"removed {name!r} from {result.spec_path}")
    if result.removed_folder is not None:
        echo(f"deleted {result.removed_folder}")
    elif not files:
        echo("its folder is kept (use --files to delete it)")


@app.command()
def schema() -> None:
    """Print the JSON Schema of tritonkit.yaml (generated from the official ModelConfig descriptor)."""
    import json

    from tritonkit.model.jsonschema import spec_file_schema

    echo(json.dumps(spec_file_schema(), indent=1))
