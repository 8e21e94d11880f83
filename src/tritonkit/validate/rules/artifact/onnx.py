"""Artifact checks of an ONNX `model.onnx`: inputs and outputs by name, type and rank against the
config (as onnxruntime_backend/src/onnxruntime.cc compares them), then a dry run on zero tensors.
onnxruntime and numpy are imported only here, only when such a file exists."""

from __future__ import annotations

from pathlib import Path

from tritonkit.validate.rules.artifact.common import (
    INPUT_MISMATCH,
    INPUT_RANK,
    INPUT_SHAPE,
    INPUT_TYPE,
    OUTPUT_MISMATCH,
    OUTPUT_TYPE,
    UNLOADABLE,
    Checks,
    Tensor,
    check_output,
    dry_run_failed,
    first_line,
    unlisted,
    zeros_shape,
)

# onnxruntime's type strings -> config data types
_ONNX_TYPES = {
    "tensor(float)": "TYPE_FP32", "tensor(double)": "TYPE_FP64", "tensor(float16)": "TYPE_FP16",
    "tensor(bfloat16)": "TYPE_BF16", "tensor(int8)": "TYPE_INT8", "tensor(int16)": "TYPE_INT16",
    "tensor(int32)": "TYPE_INT32", "tensor(int64)": "TYPE_INT64", "tensor(uint8)": "TYPE_UINT8",
    "tensor(uint16)": "TYPE_UINT16", "tensor(uint32)": "TYPE_UINT32", "tensor(uint64)": "TYPE_UINT64",
    "tensor(bool)": "TYPE_BOOL", "tensor(string)": "TYPE_STRING",
}  # fmt: skip


def check_onnx(ctx: Checks, path: Path, shown: str) -> None:
    import numpy as np
    import onnxruntime as ort

    try:
        options = ort.SessionOptions()
        options.log_severity_level = 3
        session = ort.InferenceSession(str(path), sess_options=options, providers=["CPUExecutionProvider"])
    except Exception as exc:
        ctx.add(
            UNLOADABLE,
            f"{path.name} does not load in onnxruntime: {first_line(exc)}",
            file=shown,
        )
        return
    batch_dims = 1 if ctx.max_batch_size > 0 else 0
    model_inputs = {i.name: i for i in session.get_inputs()}
    ok = True
    for i, t in enumerate(ctx.inputs):
        where = (f"input[{i}]",)
        info = model_inputs.get(t.name)
        if info is None:
            ok = False
            ctx.add(
                INPUT_MISMATCH,
                f"input {t.name!r} is not an input of {path.name} (it has {sorted(model_inputs)})",
                hint="ONNX inputs are matched by name",
                path=(f"input[{i}].name", *where),
            )
            continue
        got = _ONNX_TYPES.get(info.type, info.type)
        if got != t.data_type:
            ok = False
            ctx.add(
                INPUT_TYPE,
                f"input {t.name!r}: the model takes {got}, the config says {t.data_type}",
                hint=f"set data_type: {got}",
                path=(f"input[{i}].data_type", *where),
            )
        shape = list(info.shape)
        if len(shape) != len(t.model_dims) + batch_dims:
            ok = False
            ctx.add(
                INPUT_RANK,
                f"input {t.name!r}: the model takes rank {len(shape)} {shape}, the config gives rank "
                f"{len(t.model_dims) + batch_dims}" + (" with the batch dim" if batch_dims else ""),
                hint="with max_batch_size > 0 the batch dim is implicit: leave it out of dims",
                path=(f"input[{i}].dims", *where),
            )
            continue
        if (
            batch_dims
            and isinstance(shape[0], int)
            and shape[0] != ctx.max_batch_size
            and ctx.max_batch_size > 1
        ):
            ok = False
            ctx.add(
                INPUT_SHAPE,
                f"input {t.name!r}: the model's batch dim is fixed at {shape[0]}, "
                f"max_batch_size is {ctx.max_batch_size}",
                hint="export with a dynamic batch axis, or lower max_batch_size",
                path=("max_batch_size", *where),
            )
        for axis, (d, s) in enumerate(zip(t.model_dims, shape[batch_dims:], strict=True)):
            if isinstance(s, int) and s > 0 and d != s:
                ok = False
                ctx.add(
                    INPUT_SHAPE,
                    f"input {t.name!r}: dim {axis} is {s} in the model, {d} in the config",
                    hint=f"set that dim to {s}",
                    path=(f"input[{i}].dims", *where),
                )
    missing = [n for n in model_inputs if n not in {t.name for t in ctx.inputs}]
    if missing:
        ok = False
        ctx.add(
            INPUT_MISMATCH,
            f"the model's input(s) {missing} are not in the config",
            hint="add them to the config's inputs",
            path=("input",),
        )
    model_outputs = {o.name: o for o in session.get_outputs()}
    wanted: list[tuple[int, Tensor]] = []
    for i, t in enumerate(ctx.outputs):
        info = model_outputs.get(t.name)
        if info is None:
            ctx.add(
                OUTPUT_MISMATCH,
                f"output {t.name!r} is not an output of {path.name} (it has {sorted(model_outputs)})",
                hint="ONNX outputs are matched by name",
                path=(f"output[{i}].name", f"output[{i}]"),
            )
            continue
        got = _ONNX_TYPES.get(info.type, info.type)
        if got != t.data_type:
            ctx.add(
                OUTPUT_TYPE,
                f"output {t.name!r}: the model gives {got}, the config says {t.data_type}",
                hint=f"set data_type: {got}",
                path=(f"output[{i}].data_type", f"output[{i}]"),
            )
        wanted.append((i, t))
    unlisted(ctx, [n for n in model_outputs if n not in {t.name for t in ctx.outputs}])
    if not ok or not wanted:
        return
    from tritonkit.model.dtypes import BY_CONFIG

    for batch in ctx.batch_sizes:
        feed = {}
        for t in ctx.inputs:
            if t.data_type == "TYPE_STRING":
                return
            feed[t.name] = np.zeros(zeros_shape(t, batch), dtype=BY_CONFIG[t.data_type].numpy)
        label = f"batch {batch}" if batch is not None else "the configured shapes"
        try:
            values = session.run([t.name for _, t in wanted], feed)
        except Exception as exc:
            dry_run_failed(ctx, exc, label, shown)
            return
        for (i, t), value in zip(wanted, values, strict=True):
            check_output(ctx, i, t, list(np.asarray(value).shape), None, batch)
