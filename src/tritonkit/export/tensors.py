"""What a model run says about its tensors: flattened outputs, Triton types, names and config dims.

Pure helpers over torch tensors; `infer_io` turns one (or two) eager runs into the config's TensorSpecs.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from tritonkit.errors import ExportError, TritonkitError, UsageError
from tritonkit.model.dtypes import from_torch
from tritonkit.model.spec import TensorSpec

OutputPath = tuple[str | int, ...]  # keys and indices from the model's result down to one tensor


def flatten_outputs(result: Any) -> list[tuple[str | None, Any]]:
    """A model's result -> [(name or None, tensor)] in the documented order (see `output_paths`).

    Names join the path with dots (`hidden_states.0`); a bare tensor or a flat tuple gives None names.
    """
    return [(path_name(path), value) for path, value in output_paths(result)]


def path_name(path: OutputPath) -> str | None:
    """`('logits',)` -> 'logits', `('hidden', 1)` -> 'hidden.1'; a path of indices only -> None."""
    if not any(isinstance(p, str) for p in path):
        return None
    return ".".join(str(p) for p in path)


def output_paths(result: Any, prefix: OutputPath = ()) -> list[tuple[OutputPath, Any]]:
    """Depth first: a tensor is one output; a dict (ModelOutput included) in its key order, skipping
    None values; a tuple/list by index. Anything else is an ExportError."""
    import torch

    if isinstance(result, torch.Tensor):
        return [(prefix, result)]
    if isinstance(result, Mapping):
        items: list[tuple[str | int, Any]] = []
        for key, value in result.items():
            if not isinstance(key, str):
                raise ExportError(f"output key {key!r} is not a string")
            if value is not None:
                items.append((key, value))
    elif isinstance(result, Sequence) and not isinstance(result, str):
        items = list(enumerate(result))
    else:
        where = f" at {path_name(prefix) or prefix}" if prefix else ""
        raise ExportError(
            f"the model returned a {type(result).__name__}{where}",
            hint="return tensors, or tuples/lists/dicts of tensors",
        )
    out: list[tuple[OutputPath, Any]] = []
    for key, value in items:
        out.extend(output_paths(value, (*prefix, key)))
    if not out and not prefix:
        raise ExportError("the model returned no tensors", hint="return at least one tensor")
    return out


def triton_type(tensor: Any, what: str) -> str:
    """The config data type of a tensor; complex and other types Triton lacks are an ExportError."""
    try:
        return from_torch(str(tensor.dtype)).config
    except TritonkitError as exc:
        raise ExportError(
            f"{what} has type {tensor.dtype}, which Triton has no data type for", hint=exc.hint
        ) from exc


def default_input_names(arg_names: list[str | None], *, use_arg_names: bool) -> list[str]:
    if use_arg_names and all(arg_names):
        return [str(n) for n in arg_names]
    return [f"INPUT__{i}" for i in range(len(arg_names))]


def default_output_names(keys: list[str | None]) -> list[str]:
    if keys and all(k is not None for k in keys):
        return [str(k) for k in keys]
    return [f"OUTPUT__{i}" for i in range(len(keys))]


def pick_names(given: list[str] | None, default: list[str], kind: str) -> list[str]:
    if not given:
        return default
    if len(given) != len(default):
        raise UsageError(f"--{kind}-names gives {len(given)} name(s), the model has {len(default)} {kind}(s)")
    if len(set(given)) != len(given):
        raise UsageError(f"--{kind}-names has duplicates: {given}")
    return list(given)


@dataclass
class Shapes:
    """The concrete shapes seen for one tensor (first example, and a second one when there is)."""

    name: str
    data_type: str
    shapes: list[tuple[int, ...]]


def config_dims(shapes: Shapes, *, batch_sizes: list[int], dynamic_axes: set[int], kind: str) -> list[int]:
    """Config dims of a tensor: batch dim removed when batching (`batch_sizes`: one per example);
    dims that differ between examples, or that were asked for, become -1."""
    if batch_sizes:
        for shape, size in zip(shapes.shapes, batch_sizes, strict=False):
            if len(shape) == 0 or shape[0] != size:
                raise ExportError(
                    f"{kind} {shapes.name!r} has shape {list(shape)}: its first dim is not the "
                    f"batch size {size}",
                    hint="with --max-batch-size every input and output starts with the batch dim; "
                    "use --max-batch-size 0 for a model without one",
                )
        all_dims = [list(s[1:]) for s in shapes.shapes]
    else:
        all_dims = [list(s) for s in shapes.shapes]
    dims = all_dims[0]
    for other in all_dims[1:]:
        if len(other) != len(dims):
            raise ExportError(f"{kind} {shapes.name!r} changes rank between examples ({dims} vs {other})")
        dynamic_axes = dynamic_axes | {
            axis for axis, (a, b) in enumerate(zip(dims, other, strict=True)) if a != b
        }
    bad = [a for a in dynamic_axes if a >= len(dims) or a < 0]
    if bad:
        raise UsageError(f"--dynamic-dims: {kind} {shapes.name!r} has no dim {bad[0]} (its dims are {dims})")
    return [-1 if axis in dynamic_axes else d for axis, d in enumerate(dims)]


def tensor_specs(shapes: list[Shapes], dims: list[list[int]]) -> list[TensorSpec]:
    return [
        TensorSpec(name=s.name, data_type=s.data_type, dims=d) for s, d in zip(shapes, dims, strict=False)
    ]


def to_numpy(tensor: Any) -> Any:
    import numpy as np
    import torch

    value = tensor.detach().cpu()
    if value.dtype == torch.bfloat16:  # numpy has no bfloat16: BF16 travels as float32 (see dtypes.py)
        value = value.float()
    return np.asarray(value.numpy())
