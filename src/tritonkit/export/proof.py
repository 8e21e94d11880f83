"""Proof before writing: reload the saved artifact, run it, compare with the eager model and the config.

The artifact is reloaded from disk (torch.jit.load / an onnxruntime session), so what is proven is the
file the server will load, mapped to config names the way tritonkit's runtimes map them.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from tritonkit.errors import ExportError
from tritonkit.export.tensors import flatten_outputs, to_numpy
from tritonkit.model.dtypes import BY_CONFIG, from_numpy
from tritonkit.model.spec import ModelSpec

Runner = Callable[[dict[str, Any]], dict[str, Any]]  # numpy inputs by config name -> numpy outputs by name


@dataclass
class ProofCase:
    """One comparison: its label, the largest absolute difference, and whether it was within tolerance."""

    label: str
    max_abs_diff: float
    ok: bool
    worst_output: str = ""


def torchscript_runner(path: Path, spec: ModelSpec) -> Runner:
    """Run a reloaded TorchScript file: inputs in config order, outputs by dict key or position."""
    import torch

    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", DeprecationWarning)
            loaded = torch.jit.load(str(path), map_location="cpu")  # type: ignore[no-untyped-call]
    except Exception as exc:
        raise ExportError(f"the saved {path.name} does not load back: {exc}") from exc
    loaded.eval()
    input_names = [t.name for t in spec.inputs]
    output_names = [t.name for t in spec.outputs]

    def run(arrays: dict[str, Any]) -> dict[str, Any]:
        args = [torch.from_numpy(arrays[n].copy()) for n in input_names]
        with torch.inference_mode():
            result = loaded(*args)
        items = flatten_outputs(result)
        if items and items[0][0] is not None:
            by_key = dict(items)
            return {n: to_numpy(by_key[n]) for n in output_names if n in by_key}
        return {n: to_numpy(v) for n, (_, v) in zip(output_names, items, strict=False)}

    return run


def aoti_runner(path: Path, spec: ModelSpec) -> Runner:
    """Run a reloaded AOTInductor package (torch._inductor.aoti_load_package): inputs in config order."""
    import torch
    import torch._inductor

    try:
        loaded = torch._inductor.aoti_load_package(str(path))
    except Exception as exc:
        raise ExportError(f"the saved {path.name} does not load back: {exc}") from exc
    input_names = [t.name for t in spec.inputs]
    output_names = [t.name for t in spec.outputs]

    def run(arrays: dict[str, Any]) -> dict[str, Any]:
        args = [torch.from_numpy(arrays[n].copy()) for n in input_names]
        with torch.inference_mode():
            result = loaded(*args)
        items = flatten_outputs(result)
        return {n: to_numpy(v) for n, (_, v) in zip(output_names, items, strict=False)}

    return run


def onnx_runner(path: Path, spec: ModelSpec) -> Runner:
    """Run an onnxruntime session over the saved file, by config names."""
    import onnxruntime as ort

    try:
        session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    except Exception as exc:
        raise ExportError(f"the saved {path.name} does not load in onnxruntime: {exc}") from exc
    output_names = [t.name for t in spec.outputs]
    model_inputs = {i.name for i in session.get_inputs()}

    def run(arrays: dict[str, Any]) -> dict[str, Any]:
        feed = {n: v for n, v in arrays.items() if n in model_inputs}
        return dict(zip(output_names, session.run(output_names, feed), strict=False))

    return run


def compare(
    label: str,
    runner: Runner,
    inputs: dict[str, Any],
    expected: dict[str, Any],
    spec: ModelSpec,
    *,
    rtol: float,
    atol: float,
) -> ProofCase:
    """Run the artifact on `inputs`; check names, shapes, types against the config, values against eager."""
    import numpy as np

    try:
        got = runner(inputs)
    except Exception as exc:
        raise ExportError(
            f"the saved artifact failed on {label}: {type(exc).__name__}: {str(exc).strip()[:300]}"
        ) from exc
    worst = 0.0
    worst_output = ""
    ok = True
    batch = spec.max_batch_size > 0
    for t in spec.outputs:
        if t.name not in got:
            raise ExportError(f"the saved artifact gives no output {t.name!r} on {label}")
        value = np.asarray(got[t.name])
        shape = list(value.shape[1:] if batch else value.shape)
        if len(shape) != len(t.dims) or any(d not in (-1, s) for d, s in zip(t.dims, shape, strict=False)):
            raise ExportError(
                f"output {t.name!r} of the saved artifact has shape {list(value.shape)} on {label}, "
                f"which does not fit the config dims {t.dims}" + (" after the batch dim" if batch else "")
            )
        got_type = from_numpy(str(value.dtype)).config
        if got_type != t.data_type and not (t.data_type == "TYPE_BF16" and got_type == "TYPE_FP32"):
            raise ExportError(
                f"output {t.name!r} of the saved artifact is {got_type}, the config says {t.data_type}"
            )
        want = np.asarray(expected[t.name])
        if want.shape != value.shape:
            raise ExportError(
                f"output {t.name!r}: the saved artifact gives shape {list(value.shape)} on {label}, "
                f"the eager model {list(want.shape)}",
                hint="the traced model froze a shape: use --method script or check --dynamic-dims",
            )
        if BY_CONFIG[t.data_type].numpy == "bool" or value.dtype.kind in "biu":
            diff = float(np.max(np.abs(value.astype(np.int64) - want.astype(np.int64)), initial=0))
            good = diff == 0
        else:
            a, b = value.astype(np.float64), want.astype(np.float64)
            diff = float(np.max(np.abs(a - b), initial=0.0)) if a.size else 0.0
            good = bool(np.allclose(a, b, rtol=rtol, atol=atol, equal_nan=True))
        if (not good and ok) or (good == ok and diff > worst):
            worst_output = t.name
        ok = ok and good
        worst = max(worst, diff)
    return ProofCase(label=label, max_abs_diff=worst, ok=ok, worst_output=worst_output)
