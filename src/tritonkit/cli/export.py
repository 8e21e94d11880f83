"""`tritonkit export`: a PyTorch model into the repository, its config inferred and the artifact proven.

torch is imported only when the command runs, never for `--help`.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

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


def _names(text: str | None) -> list[str] | None:
    return [n.strip() for n in text.split(",") if n.strip()] if text else None


def _dynamic_dims(values: list[str] | None) -> str | dict[str, list[int]] | None:
    """`all`, or repeatable NAME:AXES (config axes, batch dim excluded), e.g. INPUT__0:0,1."""
    from tritonkit.errors import UsageError

    if not values:
        return None
    if "all" in values:
        if len(values) > 1:
            raise UsageError("--dynamic-dims all cannot be combined with NAME:AXES")
        return "all"
    out: dict[str, list[int]] = {}
    for value in values:
        name, sep, axes = value.rpartition(":")
        try:
            parsed = [int(a) for a in axes.split(",") if a.strip()]
        except ValueError:
            parsed = []
        if not sep or not name or not parsed:
            raise UsageError(
                f"bad --dynamic-dims {value!r}", hint="write NAME:AXES (e.g. INPUT__0:0) or 'all'"
            )
        out.setdefault(name, []).extend(parsed)
    return out


def _examples(texts: list[str] | None, file: Path | None, what: str) -> Any:
    from tritonkit.errors import UsageError
    from tritonkit.export.examples import load_example_file, parse_example_inputs

    if texts and file:
        raise UsageError(f"give --{what} or --{what}s FILE, not both")
    if file:
        return load_example_file(file)
    if texts:
        return parse_example_inputs(texts)
    return None


@app.command()
def export(
    target: Annotated[
        str,
        typer.Argument(
            help="pkg.module:attr, path/to/file.py:attr (instance, class or factory), a torch.save file, "
            "or a Hugging Face save_pretrained folder."
        ),
    ],
    name: Annotated[str, typer.Option("--name", "-n", help="Model name (folder and config name).")],
    example_input: Annotated[
        list[str] | None,
        typer.Option(
            "--example-input",
            "-e",
            help="DTYPE:SHAPE[:LOW..HIGH], one per forward argument (e.g. fp32:1,16; int64:1,8:0..1000).",
        ),
    ] = None,
    example_inputs: Annotated[
        Path | None,
        typer.Option(
            "--example-inputs",
            help="A torch.save file: a tensor, a tuple (positional) or a dict (forward kwargs by name).",
        ),
    ] = None,
    second_input: Annotated[
        list[str] | None,
        typer.Option(
            "--second-example-input",
            help="A second example with other sizes (DTYPE:SHAPE per argument): dims that change become -1.",
        ),
    ] = None,
    fmt: Annotated[
        str,
        typer.Option(
            "--format",
            "-f",
            help="torchscript (model.pt), onnx (model.onnx) or aoti (model.pt2, Triton 26.03+).",
        ),
    ] = "torchscript",
    onnx_exporter: Annotated[
        str,
        typer.Option(
            "--onnx-exporter",
            help="auto (dynamo, falling back to the TorchScript-based one), dynamo or torchscript.",
        ),
    ] = "auto",
    triton: Annotated[
        str | None,
        typer.Option(
            "--triton", help="Target Triton release (YY.MM or 2.N; default 24.10, the local server)."
        ),
    ] = None,
    task: Annotated[
        str | None,
        typer.Option(
            "--task", help="Checkpoint folders: the AutoModel class (e.g. sequence-classification)."
        ),
    ] = None,
    seq_len: Annotated[
        int | None, typer.Option("--seq-len", help="Checkpoint folders: example sequence length (8).")
    ] = None,
    batch_size: Annotated[
        int | None, typer.Option("--batch-size", help="Checkpoint folders: example batch size (2).")
    ] = None,
    method: Annotated[str, typer.Option("--method", help="trace or script.")] = "trace",
    input_names: Annotated[
        str | None,
        typer.Option("--input-names", help="Comma-separated input names (default INPUT__0,...)."),
    ] = None,
    output_names: Annotated[
        str | None,
        typer.Option(
            "--output-names", help="Comma-separated output names (default OUTPUT__0,... or the dict keys)."
        ),
    ] = None,
    arg_names: Annotated[
        bool, typer.Option("--arg-names", help="Name inputs after forward()'s arguments.")
    ] = False,
    max_batch_size: Annotated[
        int | None,
        typer.Option(
            "--max-batch-size",
            help="0 = no batching; N: the first dim is the batch dim (default 0; 8 for checkpoints).",
        ),
    ] = None,
    dynamic_dims: Annotated[
        list[str] | None,
        typer.Option(
            "--dynamic-dims",
            help="'all' or NAME:AXES (config dims, batch dim excluded), repeatable; those dims become -1.",
        ),
    ] = None,
    dynamic_batching: DynamicBatchingOption = False,
    preferred_batch_size: PreferredBatchSizeOption = None,
    queue_delay_us: QueueDelayOption = None,
    instances: InstancesOption = None,
    kind: KindOption = "cpu",
    gpus: GpusOption = None,
    instance_group: InstanceGroupOption = None,
    version: Annotated[
        int | None, typer.Option("--version", help="Version folder to write (default 1).")
    ] = None,
    next_version: Annotated[
        bool, typer.Option("--next", help="Write the version one above the highest.")
    ] = False,
    force: Annotated[bool, typer.Option("--force", help="Replace an existing version folder.")] = False,
    rtol: Annotated[
        float | None, typer.Option("--rtol", help="Relative tolerance of the proof (fp32 1e-4, fp16 1e-2).")
    ] = None,
    atol: Annotated[
        float | None, typer.Option("--atol", help="Absolute tolerance of the proof (fp32 1e-5, fp16 1e-3).")
    ] = None,
    repo: RepoOption = None,
) -> None:
    """Export a PyTorch model or Hugging Face checkpoint (TorchScript, ONNX, pt2), proven against eager."""
    from tritonkit.errors import UsageError
    from tritonkit.model.spec import scheduling_from_flags
    from tritonkit.repository.project import resolve_repository

    db, groups = scheduling_from_flags(
        dynamic_batching=dynamic_batching,
        preferred_batch_sizes=preferred_batch_size,
        max_queue_delay_us=queue_delay_us,
        instances=instances,
        kind=kind,
        gpus=gpus,
        instance_groups=instance_group,
    )
    dynamic = _dynamic_dims(dynamic_dims)
    repository = resolve_repository(repo)
    common: dict[str, Any] = {
        "repo": repository,
        "name": name,
        "format": fmt,
        "method": method,
        "input_names": _names(input_names),
        "output_names": _names(output_names),
        "dynamic_batching": db,
        "instance_groups": groups,
        "version": version,
        "next": next_version,
        "force": force,
        "rtol": rtol,
        "atol": atol,
        "onnx_exporter": onnx_exporter,
        "triton": triton,
    }
    from tritonkit.export.hf import is_checkpoint

    if is_checkpoint(target):
        if example_input or example_inputs or second_input or dynamic:
            raise UsageError(
                "a checkpoint folder makes its own example inputs and dynamic dims",
                hint="use --seq-len/--batch-size, or export the module from Python with your inputs",
            )
        from tritonkit.export import export_checkpoint

        result = export_checkpoint(
            target, task=task, seq_len=seq_len, batch_size=batch_size, max_batch_size=max_batch_size, **common
        )
    else:
        if task or seq_len or batch_size:
            raise UsageError("--task, --seq-len and --batch-size are for Hugging Face checkpoint folders")
        examples = _examples(example_input, example_inputs, "example-input")
        if examples is None:
            raise UsageError(
                "export needs example inputs",
                hint="give --example-input DTYPE:SHAPE per forward argument, or --example-inputs FILE",
            )
        second = _examples(second_input, None, "second-example-input")

        from tritonkit.export import export_model
        from tritonkit.export.target import load_target

        model = load_target(target)
        result = export_model(
            model,
            examples,
            use_arg_names=arg_names,
            max_batch_size=max_batch_size or 0,
            dynamic_dims=dynamic,
            second_example=second,
            **common,
        )
    spec = result.spec
    traced = "scripted" if method == "script" else "traced"
    how = {"onnxruntime_onnx": "ONNX", "torch_aoti": "AOTInductor"}.get(spec.platform, traced)
    for note in result.notes:
        echo(f"  note: {note}")
    echo(f"exported {spec.name!r} ({spec.platform}, {how}) to {result.artifact}")
    echo(f"  config: {result.config_path} (max_batch_size {spec.max_batch_size})")
    batch = [-1] if spec.max_batch_size > 0 else []
    for kind_name, tensors in (("input ", spec.inputs), ("output", spec.outputs)):
        for t in tensors:
            echo(f"  {kind_name} {t.name}: {t.wire_type} {batch + t.dims} (config dims {t.dims})")
    for case in result.proof:
        echo(f"  proof: {case.label}: max abs diff {case.max_abs_diff:.3g}, ok")
    echo(f"  golden sample: {result.golden_path}")
    echo(f"next: tritonkit validate --repo {result.model_dir.parent}")
