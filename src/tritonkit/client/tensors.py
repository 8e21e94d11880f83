"""Request building and output shaping: inputs checked against a model and converted to the wire.

`coerce_inputs` checks names, types and shapes against the model's `ModelInfo`, converts values to
the numpy type each wire type needs and adds the batch dim where the caller left it out; arrays that
already fit pass through untouched (the per-request cost `bench_client.py` measures).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from tritonkit.client.info import ModelInfo, TensorInfo, shape_hint
from tritonkit.errors import UsageError

if TYPE_CHECKING:
    from numpy.typing import NDArray


def _to_wire(value: Any, tensor: TensorInfo) -> NDArray[Any]:
    """Convert one input to the numpy type its wire type needs (BYTES as object, BF16 via ml_dtypes)."""
    import numpy as np

    if tensor.wire_type == "BYTES":
        array = np.asarray(value, dtype=object)
        flat = [v.encode("utf-8") if isinstance(v, str) else v for v in array.reshape(-1)]
        out = np.empty(len(flat), dtype=object)
        out[:] = [v if isinstance(v, bytes) else str(v).encode("utf-8") for v in flat]
        return out.reshape(array.shape)
    array = np.asarray(value)
    if array.dtype == object or array.dtype.kind in "US":
        raise UsageError(
            f"input {tensor.name!r} is {tensor.wire_type}; got text/objects",
            hint="give numbers, e.g. --input " + tensor.name + "='[[1, 2, 3]]'",
        )
    if tensor.wire_type == "BF16":
        import ml_dtypes

        return array.astype(ml_dtypes.bfloat16)
    target = np.dtype(tensor.numpy_type)
    if array.dtype == target:
        return array
    if target.kind in "iu" and array.dtype.kind == "f" and not np.all(np.mod(array, 1) == 0):
        raise UsageError(
            f"input {tensor.name!r} is {tensor.wire_type}; got fractional values", hint="give integers"
        )
    return array.astype(target)


def from_wire(value: NDArray[Any], wire_type: str) -> NDArray[Any]:
    import numpy as np

    if wire_type == "BF16":
        return np.asarray(value).astype(np.float32)  # numpy has no bfloat16; float32 holds every value
    return value


def _already_fit(info: ModelInfo, inputs: dict[str, Any]) -> bool:
    """True when `inputs` are exactly what goes on the wire (a library caller in a loop, the bench)."""
    import numpy as np

    fast = info.fast_inputs
    if fast is None or len(inputs) != len(fast):
        return False
    batched = info.max_batch_size > 0
    batch = -1
    for name, dtype, dims in fast:
        array = inputs.get(name)
        if not isinstance(array, np.ndarray) or array.dtype != dtype:
            return False
        shape = array.shape
        if batched:
            if len(shape) != len(dims) + 1 or not 0 < shape[0] <= info.max_batch_size:
                return False
            if batch not in (-1, shape[0]):
                return False
            batch = shape[0]
            shape = shape[1:]
        if len(shape) != len(dims):
            return False
        for d, n in zip(dims, shape, strict=True):
            if d != -1 and d != n:
                return False
    return True


def coerce_inputs(info: ModelInfo, inputs: Any) -> tuple[dict[str, NDArray[Any]], bool]:
    """Check names, types and shapes of `inputs` against `info`; add the batch dim where it is missing.

    Returns the arrays to send (by input name) and True when the batch dim was added to all of them.
    """
    if type(inputs) is dict and _already_fit(info, inputs):
        return inputs, False
    if not isinstance(inputs, dict):
        required = [t for t in info.inputs if not t.optional]
        if len(info.inputs) != 1 and len(required) != 1:
            raise UsageError(
                f"model {info.name!r} has {len(info.inputs)} inputs; name each one",
                hint="give NAME=VALUE for each of " + ", ".join(t.name for t in info.inputs),
            )
        inputs = {(required or list(info.inputs))[0].name: inputs}
    known = {t.name: t for t in info.inputs}
    for name in inputs:
        if name not in known:
            raise UsageError(
                f"model {info.name!r} has no input {name!r}",
                hint="its inputs are "
                + ", ".join(f"{t.name} ({t.wire_type} {list(t.dims)})" for t in info.inputs),
            )
    missing = [t.name for t in info.inputs if t.name not in inputs and not t.optional]
    if missing:
        raise UsageError(
            f"model {info.name!r} needs input(s) {', '.join(missing)}",
            hint="give each one with --input NAME=VALUE, or use --random",
        )
    arrays = {name: _to_wire(value, known[name]) for name, value in inputs.items()}
    added = False
    if info.batched:
        unbatched = [n for n, a in arrays.items() if a.ndim == len(known[n].dims)]
        if unbatched and len(unbatched) == len(arrays):
            arrays = {n: a.reshape((1, *a.shape)) for n, a in arrays.items()}
            added = True
        elif unbatched:
            raise UsageError(
                f"inputs {', '.join(unbatched)} lack the batch dim the other inputs have",
                hint=shape_hint(info),
            )
    batch_sizes = set()
    for name, array in arrays.items():
        tensor = known[name]
        expected = ([-1] if info.batched else []) + list(tensor.dims)
        ok = array.ndim == len(expected) and all(
            e == -1 or e == s for e, s in zip(expected, array.shape, strict=False)
        )
        if not ok:
            shown = [("batch" if info.batched and i == 0 else d) for i, d in enumerate(expected)]
            hint = (
                shape_hint(info) if info.batched else "the model does not batch: send exactly the config dims"
            )
            given = list(array.shape[1:] if added else array.shape)
            raise UsageError(
                f"input {name!r} of model {info.name!r} has shape {given}; "
                f"expected {shown} (-1 = any)".replace("'", ""),
                hint=hint,
            )
        if info.batched:
            batch_sizes.add(array.shape[0])
    if len(batch_sizes) > 1:
        raise UsageError(f"inputs of model {info.name!r} have different batch sizes {sorted(batch_sizes)}")
    if batch_sizes and max(batch_sizes) > info.max_batch_size:
        raise UsageError(
            f"batch size {max(batch_sizes)} is above max_batch_size {info.max_batch_size} of {info.name!r}",
            hint="split the batch or raise max_batch_size in config.pbtxt",
        )
    return arrays, added
