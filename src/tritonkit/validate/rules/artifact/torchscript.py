"""Artifact checks of a TorchScript `model.pt`: forward() arguments against the config inputs (by
NAME__INDEX or argument name, as pytorch_backend/src/libtorch.cc maps them), then a dry run on zero
tensors of the configured shapes. torch is imported only here, only when such a file exists."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from tritonkit.validate.rules.artifact.common import (
    INPUT_MISMATCH,
    INPUT_ORDER,
    OUTPUT_MISMATCH,
    UNLOADABLE,
    Checks,
    check_output,
    dry_run_failed,
    first_line,
    indexed_positions,
    unlisted,
    zeros_shape,
)


def check_torchscript(ctx: Checks, path: Path, shown: str) -> None:
    import warnings

    import torch

    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            model = torch.jit.load(str(path), map_location="cpu")  # type: ignore[no-untyped-call]
    except Exception as exc:
        ctx.add(
            UNLOADABLE,
            f"{path.name} does not load with torch.jit.load: {first_line(exc)}",
            hint="save it with torch.jit.save (tritonkit export does)",
            file=shown,
        )
        return
    model.eval()
    try:
        schema = model.forward.schema
        args = [a for a in schema.arguments[1:]]
        arg_names = [a.name for a in args]
        required = [a.name for a in args if not a.has_default_value()]
    except (AttributeError, RuntimeError):
        arg_names, required = [], []
    names = [t.name for t in ctx.inputs]
    indexed = indexed_positions(names)
    positions: list[int] = list(range(len(names)))
    ok = True
    if indexed is not None:
        positions = indexed
        for i, (name, pos) in enumerate(zip(names, positions, strict=True)):
            if arg_names and pos >= len(arg_names):
                ok = False
                ctx.add(
                    INPUT_MISMATCH,
                    f"input {name!r} names forward argument #{pos}, but forward({', '.join(arg_names)}) "
                    f"takes {len(arg_names)}",
                    path=(f"input[{i}].name", f"input[{i}]"),
                )
    elif arg_names:
        if all(n in arg_names for n in names):
            positions = [arg_names.index(n) for n in names]
        else:
            unknown = [n for n in names if n not in arg_names]
            ctx.add(
                INPUT_ORDER,
                f"input(s) {unknown} are neither NAME__INDEX nor forward({', '.join(arg_names)}) arguments; "
                "they are passed in config order",
                hint="name inputs INPUT__0, INPUT__1... or after forward()'s arguments",
                path=("input",),
            )
    given = {arg_names[p] for p in positions if p < len(arg_names)} if arg_names else set()
    missing = [a for a in required if a not in given]
    if ok and arg_names and missing:
        ok = False
        ctx.add(
            INPUT_MISMATCH,
            f"forward({', '.join(arg_names)}) needs {missing}, which no config input feeds",
            hint="add an input for each forward argument",
            path=("input",),
        )
    if not ok:
        return
    dry_run(ctx, model, positions, shown)


def dry_run(ctx: Checks, model: Any, positions: list[int], shown: str, variable: int = 1) -> None:
    """Call `model` on zero tensors (config input i at argument positions[i]) at each dry-run batch size,
    and check what comes back against the config's outputs."""
    import torch

    for batch in ctx.batch_sizes:
        call: list[Any] = [None] * (max(positions, default=-1) + 1)
        for t, pos in zip(ctx.inputs, positions, strict=True):
            dtype = torch_dtype(t.data_type)
            if dtype is None:
                return  # BYTES inputs: no zero tensor to make
            call[pos] = torch.zeros(zeros_shape(t, batch, variable), dtype=dtype)
        label = f"batch {batch}" if batch is not None else "the configured shapes"
        try:
            with torch.inference_mode():
                result = model(*call)
        except Exception as exc:
            dry_run_failed(ctx, exc, label, shown)
            return
        torch_outputs(ctx, tuple(result) if isinstance(result, list) else result, batch, shown)


def torch_dtype(config_type: str) -> Any:
    import torch

    from tritonkit.model.dtypes import BY_CONFIG

    name = BY_CONFIG[config_type].torch
    return getattr(torch, name) if name else None


def torch_outputs(ctx: Checks, result: Any, batch: int | None, shown: str) -> None:
    import torch

    from tritonkit.errors import TritonkitError
    from tritonkit.model.dtypes import from_torch

    def dtype_of(value: Any) -> str | None:
        try:
            return from_torch(str(value.dtype)).config
        except TritonkitError:
            return str(value.dtype)

    if isinstance(result, torch.Tensor):
        result = (result,)
    if isinstance(result, dict):
        keys = [str(k) for k in result]
        for i, t in enumerate(ctx.outputs):
            if t.name not in result:
                ctx.add(
                    OUTPUT_MISMATCH,
                    f"output {t.name!r} is not among the model's outputs {keys}",
                    hint="name outputs after the model's dict keys",
                    path=(f"output[{i}].name", f"output[{i}]"),
                )
                continue
            value = result[t.name]
            check_output(ctx, i, t, list(value.shape), dtype_of(value), batch)
        unlisted(ctx, [k for k in keys if k not in {t.name for t in ctx.outputs}])
        return
    if not isinstance(result, tuple | list) or not all(isinstance(v, torch.Tensor) for v in result):
        ctx.add(
            OUTPUT_MISMATCH,
            f"the model returns {type(result).__name__}, not tensors the server can map to outputs",
            file=shown,
        )
        return
    names = [t.name for t in ctx.outputs]
    indices = indexed_positions(names) or list(range(len(names)))
    for i, (t, index) in enumerate(zip(ctx.outputs, indices, strict=True)):
        if index >= len(result):
            ctx.add(
                OUTPUT_MISMATCH,
                f"output {t.name!r} asks for model output #{index}, the model returns {len(result)}",
                path=(f"output[{i}].name", f"output[{i}]"),
            )
            continue
        value = result[index]
        check_output(ctx, i, t, list(value.shape), dtype_of(value), batch)
    used = set(indices)
    unlisted(ctx, [f"#{i}" for i in range(len(result)) if i not in used])
