"""Inputs from the command line: `--input NAME=@file.npy`, `NAME='[[1,2,3]]'`, a bare value, `--random`.

Parsing gives `InputArg` values (pure, no server needed); `bind_inputs` matches them to a model's
inputs once its metadata is known; `random_inputs` fills every input with data of the right shape.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from tritonkit.errors import UsageError

if TYPE_CHECKING:
    from numpy.typing import NDArray

    from tritonkit.client.info import ModelInfo

_NAMED = re.compile(r"^([A-Za-z_][A-Za-z0-9_.\-:]*)=(.*)$", re.DOTALL)


@dataclass(frozen=True)
class InputArg:
    """One `--input`: a tensor name (None for a bare value) and its text (`@file` or JSON)."""

    name: str | None
    text: str


def parse_input_arg(text: str) -> InputArg:
    """Split `NAME=VALUE`; a value alone (`[1,2]`, `@x.npy`, `3.5`) is bare, for one-input models."""
    match = _NAMED.match(text)
    if match and not text.lstrip().startswith(("[", "@", "{", '"')):
        return InputArg(match.group(1), match.group(2))
    return InputArg(None, text)


def load_value(text: str, what: str) -> Any:
    """`@file.npy` / `@file.npz` / `@file.json` -> value; else JSON (a plain word is a string)."""
    import numpy as np

    stripped = text.strip()
    if stripped.startswith("@"):
        path = Path(stripped[1:]).expanduser()
        if not path.is_file():
            raise UsageError(f"{what}: no such file {str(path)!r}")
        try:
            if path.suffix == ".npy":
                return np.load(path, allow_pickle=False)
            if path.suffix == ".npz":
                with np.load(path, allow_pickle=False) as data:
                    return {k: data[k] for k in data.files}
            return json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError, UnicodeDecodeError) as exc:
            raise UsageError(
                f"{what}: cannot read {path}: {exc}", hint="give a .npy/.npz file or JSON"
            ) from exc
    try:
        value = json.loads(stripped)
    except RecursionError as exc:
        raise UsageError(f"{what}: the JSON value is nested too deeply", hint=_JSON_HINT) from exc
    except ValueError as exc:
        if stripped and stripped[0] not in "[{0123456789-.":
            return stripped  # a bare word, for BYTES inputs: --input text=hello
        shown = text if len(text) <= 60 else text[:57] + "..."
        raise UsageError(f"{what}: {shown!r} is not valid JSON", hint=_JSON_HINT) from exc
    return _rectangular(value, what)


_JSON_HINT = "write e.g. --input x='[[1, 2, 3]]' or --input x=@file.npy"


def _rectangular(value: Any, what: str) -> Any:
    """`value` as given, once numpy can make a tensor of it: ragged rows (`[[1, 2], [3]]`) are refused."""
    import numpy as np

    if not isinstance(value, list):
        return value
    try:
        array = np.asarray(value)
    except (ValueError, RecursionError, OverflowError) as exc:
        if isinstance(exc, RecursionError) or "maximum number of dimension" in str(exc):
            raise UsageError(f"{what}: the value is nested too deeply", hint=_JSON_HINT) from exc
        raise UsageError(
            f"{what}: the value is ragged: every row of a tensor must have the same length",
            hint=_JSON_HINT,
        ) from exc
    if array.dtype == object and any(isinstance(v, list) for v in array.reshape(-1)):
        raise UsageError(f"{what}: the value is ragged: every row of a tensor must have the same length")
    return value


def bind_inputs(args: list[InputArg], info: ModelInfo) -> dict[str, Any]:
    """Match parsed `--input`s to `info`'s inputs by name; a bare value goes to the only input."""
    values: dict[str, Any] = {}
    for arg in args:
        what = f"--input {arg.name}" if arg.name else "--input"
        value = load_value(arg.text, what)
        if arg.name is None:
            if isinstance(value, dict):  # an .npz or a JSON object: several named inputs at once
                values.update(value)
                continue
            required = [t for t in info.inputs if not t.optional] or list(info.inputs)
            if len(required) != 1:
                raise UsageError(
                    f"model {info.name!r} has {len(info.inputs)} inputs; a bare value needs a name",
                    hint="write --input NAME=VALUE for each of " + ", ".join(t.name for t in info.inputs),
                )
            values[required[0].name] = value
        else:
            values[arg.name] = value
    return values


def random_inputs(
    info: ModelInfo,
    *,
    batch_size: int = 1,
    seed: int | None = 0,
    shapes: dict[str, list[int]] | None = None,
    ranges: dict[str, tuple[int, int]] | None = None,
) -> dict[str, NDArray[Any]]:
    """Random data for every input, valid where the model shows what is valid.

    Variable dims take `shapes[name]` (dims without the batch dim) or 1; the batch dim is `batch_size`
    when the model batches. Integer inputs draw from `ranges[name]` = [low, high) when given (ids
    within a vocabulary), else 0/1 for masks (see `is_mask`) and [0, 10) for others.
    """
    import numpy as np

    rng = np.random.default_rng(seed)
    values: dict[str, NDArray[Any]] = {}
    for tensor in info.inputs:
        given = (shapes or {}).get(tensor.name)
        if given is not None and len(given) != len(tensor.dims):
            raise UsageError(
                f"--shape {tensor.name}: {len(given)} dims given, the model has {len(tensor.dims)} "
                f"({list(tensor.dims)})",
                hint="give the dims without the batch dim, e.g. --shape "
                + tensor.name
                + ":"
                + ",".join(str(d if d > 0 else 16) for d in tensor.dims),
            )
        if given is not None and any(d > 0 and g != d for d, g in zip(tensor.dims, given, strict=True)):
            raise UsageError(f"--shape {tensor.name}: {given} does not fit the model's {list(tensor.dims)}")
        shape = list(given) if given is not None else [d if d > 0 else 1 for d in tensor.dims]
        if info.batched:
            shape = [batch_size, *shape]
        wire = tensor.wire_type
        if wire == "BYTES":
            values[tensor.name] = np.full(shape, b"tritonkit", dtype=object)
        elif wire == "BOOL":
            values[tensor.name] = rng.integers(0, 2, size=shape).astype(bool)
        elif wire.startswith(("INT", "UINT")):
            low, high = (ranges or {}).get(tensor.name) or ((0, 2) if is_mask(tensor.name) else (0, 10))
            values[tensor.name] = rng.integers(low, max(high, low + 1), size=shape).astype(tensor.numpy_type)
        else:
            values[tensor.name] = rng.standard_normal(size=shape).astype(np.float32)
    return values


def is_mask(name: str) -> bool:
    """An input that holds 0/1 flags by its name (`attention_mask`, `mask`, `padding_mask`)."""
    return "mask" in name.lower()


def value_ranges(sample: dict[str, Any]) -> dict[str, tuple[int, int]]:
    """[low, high) per integer input of a sample (e.g. a golden sample): the ids the model was shown."""
    import numpy as np

    ranges: dict[str, tuple[int, int]] = {}
    for name, value in sample.items():
        array = np.asarray(value)
        if array.size and array.dtype.kind in "iu":
            ranges[name] = (int(array.min()), int(array.max()) + 1)
    return ranges
