"""Turning an eager module into an artifact file: TorchScript (trace or script) or ONNX.

Tracing records TracerWarnings: each one means the trace may have frozen a data-dependent branch,
so the export stops and suggests `--method script` rather than ship a silently wrong model.
"""

from __future__ import annotations

import contextlib
import errno
import io
import os
import shutil
import warnings
from pathlib import Path
from typing import Any

from tritonkit.errors import ExportError, TritonkitError

FORMATS = ("torchscript", "onnx")
METHODS = ("trace", "script")


def _write_error(path: Path, exc: BaseException) -> TritonkitError:
    """A failed write of the artifact: an OS error (or torch's text of one) is a RepositoryWriteError."""
    from tritonkit.repository.layout import write_error

    if isinstance(exc, OSError):
        return write_error(path, exc)
    text = str(exc)
    full = "No space left" in text
    if not full:
        with contextlib.suppress(OSError):
            full = shutil.disk_usage(path.parent).free < 1 << 20
    if full:  # torch's writers raise RuntimeError, not OSError, on a full disk
        return write_error(path, OSError(errno.ENOSPC, os.strerror(errno.ENOSPC)))
    return ExportError(
        f"cannot write {path.name}: {type(exc).__name__}: {text.splitlines()[0] if text else ''}"
    )


def _script_hint(method: str) -> str:
    return "export with --method script (control flow is compiled, not recorded)" if method == "trace" else ""


def trace(model: Any, example: tuple[Any, ...]) -> Any:
    """torch.jit.trace with TracerWarnings turned into an ExportError that suggests scripting."""
    import torch

    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        try:
            traced = torch.jit.trace(model, example, strict=False, check_trace=False)  # type: ignore[no-untyped-call]
        except Exception as exc:
            raise ExportError(
                f"tracing failed: {type(exc).__name__}: {_first_line(exc)}", hint=_script_hint("trace")
            ) from exc
    from torch.jit import TracerWarning  # type: ignore[attr-defined]

    tracer = [w for w in caught if issubclass(w.category, TracerWarning)]
    if tracer:
        where = f" ({Path(tracer[0].filename).name}:{tracer[0].lineno})" if tracer[0].filename else ""
        raise ExportError(
            f"tracing is unsafe for this model{where}: {_first_line(tracer[0].message)}",
            hint="the model has data-dependent control flow; " + _script_hint("trace"),
        )
    return traced


def script(model: Any) -> Any:
    import torch

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        try:
            return torch.jit.script(model)
        except Exception as exc:
            raise ExportError(
                f"scripting failed: {type(exc).__name__}: {_first_line(exc)}",
                hint="make forward() TorchScript-compatible (type annotations, plain Python), or trace it",
            ) from exc


def _first_line(exc: object) -> str:
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__


def tuple_outputs(model: Any, arg_names: list[str | None], keys: list[str]) -> Any:
    """Wrap a model returning a dict so it returns a tuple in key order, keeping forward()'s argument names.

    Triton's libtorch backend takes a tensor or a tuple of tensors, not a dict: the config lists the
    outputs in this order, which is how the backend (and tritonkit's runtime) maps them.
    """
    import torch

    names = [n if n and n.isidentifier() else f"input_{i}" for i, n in enumerate(arg_names)]
    params = ", ".join(names)
    picks = "".join(f"out[{k!r}], " for k in keys)
    namespace: dict[str, Any] = {}
    exec(f"def forward(self, {params}):\n    out = self.inner({params})\n    return ({picks})\n", namespace)
    wrapper_type = type("TupleOutputs", (torch.nn.Module,), {"forward": namespace["forward"]})
    wrapper = wrapper_type()
    wrapper.inner = model
    return wrapper.eval()


def save_torchscript(model: Any, example: tuple[Any, ...], method: str, path: Path) -> Any:
    """Trace or script `model` and save it to `path`; returns the in-memory ScriptModule."""
    import torch

    compiled = trace(model, example) if method == "trace" else script(model)
    # Serialize in memory, then write with Python's I/O: torch.jit.save to a path aborts the whole
    # process (a C++ terminate) when the disk fills up, instead of raising.
    buffer = io.BytesIO()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)  # TorchScript is what Triton's libtorch loads
        torch.jit.save(compiled, buffer)
    _write_bytes(path, buffer.getvalue())
    return compiled


def _write_bytes(path: Path, data: bytes) -> None:
    try:
        with open(path, "wb") as handle:
            handle.write(data)  # ENOSPC surfaces here (or at close), as an OSError
    except OSError as exc:
        raise _write_error(path, exc) from exc


def save_onnx(
    model: Any,
    example: tuple[Any, ...],
    method: str,
    path: Path,
    *,
    input_names: list[str],
    output_names: list[str],
    dynamic_axes: dict[str, list[int]],
) -> None:
    """Export to ONNX with the TorchScript-based exporter (named axes for the variable dims)."""
    import torch

    source = script(model) if method == "script" else model
    buffer = io.BytesIO()  # in memory first, like TorchScript: a full disk must raise, not abort
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        try:
            torch.onnx.export(
                source,
                example,
                buffer,  # type: ignore[arg-type]  # a file object works; the stubs say path only
                input_names=input_names,
                output_names=output_names,
                dynamic_axes={n: {a: f"{n}_d{a}" for a in axes} for n, axes in dynamic_axes.items() if axes},
                dynamo=False,
                opset_version=17,
            )
        except Exception as exc:
            raise ExportError(f"ONNX export failed: {type(exc).__name__}: {_first_line(exc)}") from exc
    from torch.jit import TracerWarning  # type: ignore[attr-defined]

    tracer = [w for w in caught if issubclass(w.category, TracerWarning)]
    if tracer and method == "trace":
        raise ExportError(
            f"ONNX export traced a data-dependent branch: {_first_line(tracer[0].message)}",
            hint="the model has data-dependent control flow; " + _script_hint("trace"),
        )
    _write_bytes(path, buffer.getvalue())
