"""init, add, render."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from tritonkit.cli._app import (
    DynamicBatchingOption,
    GpusOption,
    InstancesOption,
    KindOption,
    PreferredBatchSizeOption,
    QueueDelayOption,
    RepoOption,
    app,
    echo,
)
from tritonkit.errors import FindingsError


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
    version: Annotated[int, typer.Option("--version", help="Version folder to create.")] = 1,
    bls_target: Annotated[
        str | None,
        typer.Option("--bls-target", help="python: scaffold a BLS model.py that calls this model."),
    ] = None,
    steps: Annotated[
        list[str] | None,
        typer.Option("--step", help="ensemble: a member model, repeatable, in order (wired as a chain)."),
    ] = None,
    force: Annotated[bool, typer.Option("--force", help="Replace an existing model folder.")] = False,
    repo: RepoOption = None,
) -> None:
    """Scaffold a model: config.pbtxt, version folder, model.py for python; record it in tritonkit.yaml."""
    from tritonkit.errors import UsageError
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
    )
    if steps and backend.lower() != "ensemble":
        raise UsageError("--step is for --backend ensemble")
    if bls_target and backend.lower() not in ("python", "bls"):
        raise UsageError("--bls-target is for --backend python")
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
    if spec.backend != "ensemble" and (not spec.inputs or not spec.outputs):
        raise UsageError(
            "a model needs at least one --input and one --output",
            hint="e.g. --input x:fp32:16 --output y:fp32:4",
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
    repo: RepoOption = None,
) -> None:
    """Regenerate every config.pbtxt from tritonkit.yaml (idempotent)."""
    from tritonkit.repository.project import resolve_repository
    from tritonkit.repository.scaffold import render_repository

    result = render_repository(resolve_repository(repo), check=check)
    for path, diff in result.changed.items():
        if check:
            echo(diff.rstrip("\n"))
        else:
            echo(f"rendered {path}")
    if check and result.changed:
        raise FindingsError(
            f"{len(result.changed)} config(s) differ from tritonkit.yaml", hint="run `tritonkit render`"
        )
    if not result.changed:
        echo(f"{len(result.unchanged)} config(s) up to date")
