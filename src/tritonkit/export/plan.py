"""Planning an export: run the eager model, infer the spec, and gather the cases the artifact must pass.

`plan_export` returns an `ExportPlan` value (spec, config text, proof cases, golden sample, how to build
the artifact). It runs the model but writes nothing; `run.py` builds and proves the artifact from it.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from tritonkit.errors import ExportError, UsageError
from tritonkit.export.examples import Examples, normalize_examples
from tritonkit.export.tensors import (
    Shapes,
    config_dims,
    default_input_names,
    default_output_names,
    flatten_outputs,
    pick_names,
    tensor_specs,
    to_numpy,
    triton_type,
)
from tritonkit.model.spec import DynamicBatchingSpec, InstanceGroupSpec, ModelSpec
from tritonkit.repository.golden import GoldenSample
from tritonkit.repository.render import render_config

DynamicDims = str | Mapping[Any, Sequence[int]] | None  # "all" or {input name or index: config axes}
Outputs = list[tuple[str | None, Any]]  # (dict key or None, tensor) per output, in order


@dataclass
class ProofInput:
    """One case the reloaded artifact must reproduce: numpy inputs and the eager outputs, by config name."""

    label: str
    inputs: dict[str, Any]
    expected: dict[str, Any]


@dataclass
class ExportPlan:
    """Everything an export will write and prove, computed before anything is written."""

    spec: ModelSpec
    fmt: str  # torchscript | onnx
    method: str  # trace | script
    model: Any
    example: tuple[Any, ...]
    arg_names: list[str | None]
    output_keys: list[str] | None  # dict output keys, in order (None for tensor/tuple outputs)
    onnx_dynamic_axes: dict[str, list[int]]
    cases: list[ProofInput]
    golden: GoldenSample
    config_text: str
    artifact_name: str
    rtol: float
    atol: float


def dynamic_axes(dynamic: DynamicDims, names: list[str], ranks: list[int]) -> list[set[int]]:
    """Per input, the config axes asked to be variable: "all", or {name, index or INPUT__i: [axes]}."""
    if dynamic is None:
        return [set() for _ in names]
    if isinstance(dynamic, str):
        if dynamic != "all":
            raise UsageError(
                f"bad --dynamic-dims {dynamic!r}", hint="use 'all' or NAME:AXES such as INPUT__0:0"
            )
        return [set(range(r)) for r in ranks]
    axes: list[set[int]] = [set() for _ in names]
    for key, values in dynamic.items():
        positional = re.fullmatch(r"(?:INPUT__)?(\d+)", str(key))
        if key in names:
            index = names.index(str(key))
        elif isinstance(key, int) or positional:  # an index, or the INPUT__i name it would have had
            index = int(key) if isinstance(key, int) else int(positional.group(1))  # type: ignore[union-attr]
        else:
            raise UsageError(f"--dynamic-dims names no input {key!r}", hint=f"inputs are {', '.join(names)}")
        if not 0 <= index < len(names):
            raise UsageError(f"--dynamic-dims: no input #{index}")
        axes[index] |= {int(a) for a in values}
    return axes


def random_like(example: Any, shape: Sequence[int] | None = None) -> Any:
    """A seeded random tensor of `example`'s type; integers stay in the example's range (token ids)."""
    import torch

    shape = list(example.shape) if shape is None else list(shape)
    gen = torch.Generator().manual_seed(1)
    if example.dtype == torch.bool:
        return torch.randint(0, 2, shape, generator=gen).bool()
    if example.dtype.is_floating_point:
        return torch.randn(shape, generator=gen).to(example.dtype)
    if example.numel() == 0:
        return torch.zeros(shape, dtype=example.dtype)
    low, high = int(example.min()), int(example.max()) + 1
    return torch.randint(low, high, shape, generator=gen, dtype=example.dtype)


def _grow(example: Any, tensor_axes: set[int]) -> Any:
    """A fresh tensor like `example`, one larger along `tensor_axes`."""
    return random_like(example, [s + 1 if i in tensor_axes else s for i, s in enumerate(example.shape)])


def _rebatch(tensors: tuple[Any, ...], size: int) -> tuple[Any, ...]:
    """The same rows, repeated to make a batch of `size`."""
    import torch

    return tuple(t[torch.arange(size) % t.shape[0]] for t in tensors)


def run_eager(model: Any, tensors: tuple[Any, ...], label: str) -> Outputs:
    """The model's outputs on `tensors`; an exception is an ExportError naming the input."""
    import torch

    try:
        with torch.no_grad():
            result = model(*tensors)
    except Exception as exc:
        shapes = ", ".join(f"{t.dtype}{list(t.shape)}".replace("torch.", "") for t in tensors)
        raise ExportError(
            f"the model raised on {label} ({shapes}): {type(exc).__name__}: {str(exc).strip()[:300]}",
            hint="check the example inputs' types and shapes against forward()",
        ) from exc
    return flatten_outputs(result)


def _batch_size(tensors: tuple[Any, ...], max_batch_size: int, which: str) -> int:
    if any(t.dim() == 0 for t in tensors):
        raise UsageError(f"with --max-batch-size every input of {which} needs a batch dim first")
    size = int(tensors[0].shape[0])
    if size > max_batch_size:
        raise UsageError(f"the batch size {size} of {which} is above --max-batch-size {max_batch_size}")
    return size


def plan_export(
    model: Any,
    example_inputs: Any,
    *,
    name: str,
    version: int,
    fmt: str,
    method: str,
    input_names: list[str] | None,
    output_names: list[str] | None,
    use_arg_names: bool,
    max_batch_size: int,
    dynamic_dims: DynamicDims,
    second_example: Any,
    dynamic_batching: DynamicBatchingSpec | None,
    instance_groups: list[InstanceGroupSpec] | None,
    rtol: float,
    atol: float,
) -> ExportPlan:
    """Run `model` (already in eval mode) and plan its export; see `export_model` for the options."""
    examples = normalize_examples(model, example_inputs)
    tensors = examples.tensors
    default_in = default_input_names(examples.arg_names, use_arg_names=use_arg_names or examples.from_dict)
    in_names = pick_names(input_names, default_in, "input")
    in_types = [triton_type(t, f"input {n!r}") for n, t in zip(in_names, tensors, strict=True)]
    items = run_eager(model, tensors, "the example input")
    out_names = pick_names(output_names, default_output_names([k for k, _ in items]), "output")
    out_types = [triton_type(v, f"output {n!r}") for n, (_, v) in zip(out_names, items, strict=True)]

    batching = max_batch_size > 0
    offset = 1 if batching else 0
    batch_sizes = [_batch_size(tensors, max_batch_size, "the example")] if batching else []
    asked = dynamic_axes(dynamic_dims, in_names, [t.dim() - offset for t in tensors])

    # A second example (given, or grown along the asked dims) shows which dims vary, outputs included.
    second: Examples | None = None
    if second_example is not None:
        second = normalize_examples(model, second_example)
        if len(second.tensors) != len(tensors):
            raise UsageError(f"the second example has {len(second.tensors)} inputs, the first {len(tensors)}")
    elif any(asked):
        grown = tuple(_grow(t, {a + offset for a in axes}) for t, axes in zip(tensors, asked, strict=True))
        second = Examples(grown, examples.arg_names)
    second_items: Outputs | None = None
    if second is not None:
        if batching:
            batch_sizes.append(_batch_size(second.tensors, max_batch_size, "the second example"))
        second_items = run_eager(
            model, second.tensors, "the second example (other sizes of the variable dims)"
        )
        if len(second_items) != len(items):
            raise ExportError("the model returns a different number of outputs on the second example")

    def shapes_of(i: int, name: str, dtype: str, first: Any, other: Any | None) -> Shapes:
        return Shapes(name, dtype, [tuple(first.shape)] + ([tuple(other.shape)] if other is not None else []))

    in_shapes = [
        shapes_of(i, n, ty, t, second.tensors[i] if second else None)
        for i, (n, ty, t) in enumerate(zip(in_names, in_types, tensors, strict=True))
    ]
    out_shapes = [
        shapes_of(i, n, ty, v, second_items[i][1] if second_items else None)
        for i, (n, ty, (_, v)) in enumerate(zip(out_names, out_types, items, strict=True))
    ]
    in_dims = [
        config_dims(s, batch_sizes=batch_sizes, dynamic_axes=a, kind="input")
        for s, a in zip(in_shapes, asked, strict=True)
    ]
    out_dims = [
        config_dims(s, batch_sizes=batch_sizes, dynamic_axes=set(), kind="output") for s in out_shapes
    ]
    spec = ModelSpec(
        name=name,
        backend="pytorch" if fmt == "torchscript" else "onnx",
        inputs=tensor_specs(in_shapes, in_dims),
        outputs=tensor_specs(out_shapes, out_dims),
        max_batch_size=max_batch_size,
        dynamic_batching=dynamic_batching,
        instance_groups=list(instance_groups or []),
        version=version,
    )

    def case(label: str, case_tensors: tuple[Any, ...], case_items: Outputs | None) -> ProofInput | None:
        if case_items is None:
            try:
                case_items = run_eager(model, case_tensors, label)
            except ExportError:
                return None  # inputs the model itself refuses prove nothing
        return ProofInput(
            label,
            {n: to_numpy(t) for n, t in zip(in_names, case_tensors, strict=True)},
            {n: to_numpy(v) for n, (_, v) in zip(out_names, case_items, strict=True)},
        )

    first = case(
        f"the example input (batch {batch_sizes[0]})" if batching else "the example input", tensors, items
    )
    assert first is not None
    cases = [first]
    if batching and max_batch_size > 1:
        size = batch_sizes[0]
        other = size + 1 if size < max_batch_size else size - 1
        cases.append(case(f"batch size {other}", _rebatch(tensors, other), None))  # type: ignore[arg-type]
    if second is not None:
        cases.append(case("the second example", second.tensors, second_items))  # type: ignore[arg-type]
    # Other values, same shapes: where a trace froze a branch without a TracerWarning, this disagrees.
    cases.append(case("fresh random values", tuple(random_like(t) for t in tensors), None))  # type: ignore[arg-type]
    keys = [k for k, _ in items]
    return ExportPlan(
        spec=spec,
        fmt=fmt,
        method=method,
        model=model,
        example=tensors,
        arg_names=examples.arg_names,
        output_keys=[str(k) for k in keys] if keys and all(k is not None for k in keys) else None,
        onnx_dynamic_axes={
            n: ([0] if batching else []) + [a + offset for a, d in enumerate(dims) if d == -1]
            for n, dims in zip(in_names + out_names, in_dims + out_dims, strict=True)
        },
        cases=[c for c in cases if c is not None],
        golden=GoldenSample(
            inputs=first.inputs,
            outputs=first.expected,
            rtol=rtol,
            atol=atol,
            meta={"format": fmt, "method": method, "version": version, "source": "tritonkit export"},
        ),
        config_text=render_config(spec),
        artifact_name=_artifact_name(spec),
        rtol=rtol,
        atol=atol,
    )


def _artifact_name(spec: ModelSpec) -> str:
    """The model file of the pytorch / onnx spec export built (both platforms name one)."""
    name = spec.model_filename
    if name is None:  # pragma: no cover - export builds only pytorch or onnx specs
        raise AssertionError(f"backend {spec.backend!r} names no model file")
    return name
