"""The golden sample of a model: example inputs and the outputs they must give.

`export` saves it as `<model>/tritonkit_golden.npz`, beside config.pbtxt and outside every version
folder (Triton only loads numeric subfolders), and `tritonkit test` replays it against the server.
Inputs and outputs are stored with the batch dimension when the model batches, as sent on the wire.
"""

from __future__ import annotations

import io
import json
import zipfile
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


def save_golden(model_dir: Path, sample: GoldenSample, *, atomic: bool = True) -> Path:
    """Write the sample into `model_dir` (atomically, unless `model_dir` is a private staging folder
    no reader sees before it is renamed into place) and return its path."""
    import numpy as np

    from tritonkit.repository.layout import write_bytes_atomic

    arrays: dict[str, Any] = {}
    index = {"inputs": [], "outputs": [], "rtol": sample.rtol, "atol": sample.atol, "meta": sample.meta}
    for kind, tensors in (("inputs", sample.inputs), ("outputs", sample.outputs)):
        for name, value in tensors.items():
            key = f"a{len(arrays)}"
            arrays[key] = _without_objects(np.asarray(value))
            index[kind].append([name, key])  # type: ignore[attr-defined]
    arrays["__index__"] = np.frombuffer(json.dumps(index).encode("utf-8"), dtype=np.uint8)
    buffer = io.BytesIO()
    np.savez(buffer, **arrays)
    target = model_dir / GOLDEN_FILE
    if atomic:
        write_bytes_atomic(target, buffer.getvalue())
    else:
        target.write_bytes(buffer.getvalue())
    return target


def _without_objects(array: Any) -> Any:
    """BYTES tensors (object arrays of str/bytes) as fixed-width bytes: saved without pickle."""
    import numpy as np

    if array.dtype != object:
        return array
    flat = [v.encode("utf-8") if isinstance(v, str) else bytes(v) for v in array.reshape(-1)]
    return np.array(flat, dtype=np.bytes_).reshape(array.shape)


def load_golden(model_dir: Path) -> GoldenSample:
    """Read `<model_dir>/tritonkit_golden.npz`; a missing or broken file is a UsageError."""
    import numpy as np

    path = model_dir / GOLDEN_FILE
    if not path.is_file():
        raise UsageError(
            f"no golden sample at {path}", hint="export the model with `tritonkit export` to create one"
        )
    try:
        # Never unpickle: an .npz holding an object array runs code when loaded with allow_pickle.
        with np.load(path, allow_pickle=False) as data:
            index = json.loads(bytes(data["__index__"]).decode("utf-8"))
            inputs = {name: data[key] for name, key in index["inputs"]}
            outputs = {name: data[key] for name, key in index["outputs"]}
    except ValueError as exc:
        if "allow_pickle" in str(exc):
            raise UsageError(
                f"{path} holds a pickled object; tritonkit refuses to load it (unpickling can run code)",
                hint="re-export the model to write a plain golden sample",
            ) from exc
        raise UsageError(
            f"{path} is not a tritonkit golden sample: {exc}", hint="re-export the model"
        ) from exc
    except (OSError, KeyError, TypeError, UnicodeDecodeError, zipfile.BadZipFile) as exc:
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
