"""The data a benchmark sends: shapes for variable dims, given values, or valid random values.

Both engines send the same data: the built-in one as arrays, perf_analyzer through an `--input-data`
JSON file written here (plus `--shape` for variable dims). Where values come from, in order:
`--input-data FILE` or `golden` (the model's golden sample); else random values, with integer ids
kept within the range the golden sample shows, or, without one, within the range the server accepts
(probed: the largest id a one-element request passes, which is an embedding's size), and masks 0/1.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from tritonkit.client.inputs import is_mask, load_value, random_inputs, value_ranges
from tritonkit.errors import InferenceError, UsageError

if TYPE_CHECKING:
    from numpy.typing import NDArray

    from tritonkit.client.client import Client
    from tritonkit.client.info import ModelInfo

PROBE_LIMIT = 1 << 24  # ids above 16 M are not an embedding's: stop probing there


@dataclass
class InputPlan:
    """What to send: one sample per input (no batch dim) when given, else shapes and id ranges."""

    shapes: dict[str, list[int]] = field(default_factory=dict)
    sample: dict[str, Any] | None = None  # one sample per input, without the batch dim
    ranges: dict[str, tuple[int, int]] = field(default_factory=dict)
    source: str = "random"  # said in the report: "golden sample", "file x.npz", "random, ids < 100 (probed)"

    def batch(self, info: ModelInfo, batch_size: int) -> dict[str, NDArray[Any]]:
        """Arrays to send for one request of `batch_size` samples."""
        import numpy as np

        if self.sample is None:
            return random_inputs(info, batch_size=batch_size, shapes=self.shapes, ranges=self.ranges)
        if not info.batched:
            return {k: np.asarray(v) for k, v in self.sample.items()}
        return {k: np.repeat(np.asarray(v)[None, ...], batch_size, axis=0) for k, v in self.sample.items()}

    def sample_shapes(self) -> dict[str, list[int]]:
        """Dims per input without the batch dim, as perf_analyzer's --shape wants them."""
        import numpy as np

        if self.sample is None:
            return dict(self.shapes)
        return {k: list(np.asarray(v).shape) for k, v in self.sample.items()}

    def write_perf_analyzer_json(self, info: ModelInfo, path: Path) -> Path:
        """perf_analyzer's `--input-data` file: one sample per input with its shape (no batch dim)."""
        import numpy as np

        one = self.batch(info, 1)
        entry: dict[str, Any] = {}
        for tensor in info.inputs:
            if tensor.name not in one:
                continue
            value = np.asarray(one[tensor.name])
            if info.batched:
                value = value[0]
            if value.dtype == object or value.dtype.kind in "SU":
                content: list[Any] = [
                    v.decode("utf-8", "replace") if isinstance(v, bytes) else str(v)
                    for v in value.reshape(-1)
                ]
            else:
                content = value.reshape(-1).tolist()
            entry[tensor.name] = {"content": content, "shape": list(value.shape)}
        path.write_text(json.dumps({"data": [entry]}), encoding="utf-8")
        return path


def parse_shape(text: str) -> tuple[str, list[int]]:
    """`NAME:DIMS` (dims without the batch dim, comma-separated), e.g. `input_ids:32`, `x:3,224,224`."""
    name, sep, dims = text.rpartition(":")
    try:
        values = [int(d) for d in dims.replace(" ", "").split(",") if d]
    except ValueError:
        values = []
    if not sep or not name or not values or any(v < 1 for v in values):
        raise UsageError(f"--shape {text!r}: expected NAME:DIMS", hint="write e.g. --shape input_ids:32")
    return name, values


def plan_inputs(
    client: Client,
    model: str,
    info: ModelInfo,
    *,
    shapes: dict[str, list[int]] | None = None,
    input_data: str | None = None,
    repository: Path | None = None,
    probe: bool = True,
) -> InputPlan:
    """Decide what the benchmark sends (see the module docstring); probes the server for id ranges."""
    shapes = dict(shapes or {})
    unknown = sorted(set(shapes) - {t.name for t in info.inputs})
    if unknown:
        raise UsageError(
            f"--shape: model {model!r} has no input {unknown[0]!r}",
            hint="its inputs: " + ", ".join(t.name for t in info.inputs),
        )
    golden = _golden_inputs(repository, model)
    if input_data is not None:
        if input_data == "golden":
            if golden is None:
                where = f"{repository / model}" if repository else "the repository (pass --repo)"
                raise UsageError(
                    f"--input-data golden: no golden sample of {model!r} in {where}",
                    hint="export the model with tritonkit export, or give --input-data FILE",
                )
            return InputPlan(shapes, _one_sample(golden, info), source="golden sample")
        value = load_value("@" + input_data, "--input-data")
        if not isinstance(value, dict):
            raise UsageError(
                f"--input-data {input_data}: expected values by input name (.npz or a JSON object)",
                hint='write e.g. {"input_ids": [[1, 2, 3]]} or save an .npz with one array per input',
            )
        missing = [t.name for t in info.inputs if not t.optional and t.name not in value]
        if missing:
            raise UsageError(f"--input-data {input_data}: no values for input {missing[0]!r}")
        return InputPlan(shapes, _one_sample(value, info), source=f"file {input_data}")
    ranges: dict[str, tuple[int, int]] = {}
    notes: list[str] = []
    if golden is not None:
        ranges = {k: v for k, v in value_ranges(golden).items() if not is_mask(k)}
        notes += [f"{k} in [{lo}, {hi}) (golden sample)" for k, (lo, hi) in ranges.items()]
    integer = [
        t for t in info.inputs
        if t.wire_type.startswith(("INT", "UINT")) and not is_mask(t.name) and t.name not in ranges
    ]  # fmt: skip
    if probe:
        for tensor in integer:
            high = probe_id_limit(client, model, info, tensor.name, shapes, ranges)
            if high is not None:
                ranges[tensor.name] = (0, high)
                notes.append(f"{tensor.name} in [0, {high}) (probed)")
    masks = [
        t.name for t in info.inputs if t.wire_type.startswith(("INT", "UINT", "BOOL")) and is_mask(t.name)
    ]
    notes += [f"{m} 0/1" for m in masks]
    return InputPlan(shapes, None, ranges, "random" + (": " + ", ".join(notes) if notes else ""))


def _golden_inputs(repository: Path | None, model: str) -> dict[str, Any] | None:
    if repository is None:
        return None
    from tritonkit.repository.golden import GOLDEN_FILE, load_golden

    folder = repository / model
    return load_golden(folder).inputs if (folder / GOLDEN_FILE).is_file() else None


def _one_sample(values: dict[str, Any], info: ModelInfo) -> dict[str, Any]:
    """The first sample of each input (the batch dim dropped when the model batches and it has one)."""
    import numpy as np

    out: dict[str, Any] = {}
    for tensor in info.inputs:
        if tensor.name not in values:
            continue
        array = np.asarray(values[tensor.name])
        if info.batched and array.ndim == len(tensor.dims) + 1:
            array = array[0]
        if array.ndim != len(tensor.dims):
            raise UsageError(
                f"input {tensor.name!r}: the data has shape {list(array.shape)}, the model dims are "
                f"{list(tensor.dims)}" + (" (plus the batch dim)" if info.batched else "")
            )
        out[tensor.name] = array.astype(tensor.numpy_type) if tensor.numpy_type != "object" else array
    return out


def probe_id_limit(
    client: Client,
    model: str,
    info: ModelInfo,
    name: str,
    shapes: dict[str, list[int]],
    ranges: dict[str, tuple[int, int]],
) -> int | None:
    """The number of ids input `name` accepts (ids 0..n-1 pass, n fails), or None when all tried pass.

    A one-sample request with every element of `name` set to one id; the others valid. Doubling
    from 16 up, then a binary search: about 2 log2(n) small requests.
    """
    import numpy as np

    def passes(value: int) -> bool:
        data = random_inputs(info, batch_size=1, shapes=shapes, ranges=ranges)
        data[name] = np.full_like(data[name], value)
        try:
            client.infer(model, data)
        except InferenceError:
            return False
        return True

    if not passes(0):
        return None  # not an id range problem: leave the default
    good, bad = 0, 16
    while passes(bad - 1):
        good = bad - 1
        if bad >= PROBE_LIMIT:
            return None
        bad *= 2
    # ids [0, good] pass, bad - 1 fails: find the smallest failing id
    low, high = good + 1, bad - 1  # low: first unknown, high: known failing
    while low < high:
        mid = (low + high) // 2
        if passes(mid):
            low = mid + 1
        else:
            high = mid
    return high
