"""The golden sample of a model: example inputs and the outputs they must give.

`export` saves it as `<model>/tritonkit_golden.npz`, beside config.pbtxt and outside every version
folder (Triton only loads numeric subfolders), and `tritonkit test` replays it against the server.
Inputs and outputs are stored with the batch dimension when the model batches, as sent on the wire.
"""

from __future__ import annotations

import io
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from tritonkit.errors import UsageError

GOLDEN_FILE = "tritonkit_golden.npz"


@dataclass
class GoldenSample:
    """Inputs to send and outputs to expect, by tensor name; tolerances for the comparison."""

    inputs: dict[str, Any]
    outputs: dict[str, Any]
    rtol: float = 1e-4
    atol: float = 1e-5
    meta: dict[str, Any] = field(default_factory=dict)


def save_golden(model_dir: Path, sample: GoldenSample) -> Path:
    """Write the sample into `model_dir` (atomically) and return its path."""
    import os
    import tempfile

    import numpy as np

    arrays: dict[str, Any] = {}
    index = {"inputs": [], "outputs": [], "rtol": sample.rtol, "atol": sample.atol, "meta": sample.meta}
    for kind, tensors in (("inputs", sample.inputs), ("outputs", sample.outputs)):
        for name, value in tensors.items():
            key = f"a{len(arrays)}"
            arrays[key] = np.asarray(value)
            index[kind].append([name, key])  # type: ignore[attr-defined]
    arrays["__index__"] = np.frombuffer(json.dumps(index).encode("utf-8"), dtype=np.uint8)
    buffer = io.BytesIO()
    np.savez(buffer, **arrays)
    target = model_dir / GOLDEN_FILE
    fd, tmp = tempfile.mkstemp(prefix=f".{GOLDEN_FILE}.", dir=model_dir)
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(buffer.getvalue())
        os.replace(tmp, target)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return target


def load_golden(model_dir: Path) -> GoldenSample:
    """Read `<model_dir>/tritonkit_golden.npz`; a missing or broken file is a UsageError."""
    import numpy as np

    path = model_dir / GOLDEN_FILE
    if not path.is_file():
        raise UsageError(
            f"no golden sample at {path}", hint="export the model with `tritonkit export` to create one"
        )
    try:
        with np.load(path, allow_pickle=True) as data:
            index = json.loads(bytes(data["__index__"]).decode("utf-8"))
            inputs = {name: data[key] for name, key in index["inputs"]}
            outputs = {name: data[key] for name, key in index["outputs"]}
    except (OSError, ValueError, KeyError) as exc:
        raise UsageError(
            f"{path} is not a tritonkit golden sample: {exc}", hint="re-export the model"
        ) from exc
    return GoldenSample(
        inputs,
        outputs,
        float(index.get("rtol", 1e-4)),
        float(index.get("atol", 1e-5)),
        dict(index.get("meta", {})),
    )
