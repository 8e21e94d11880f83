"""Turning an eager module into an artifact file: TorchScript (trace or script), ONNX, or an AOTInductor pt2.

A TracerWarning means the trace may have frozen a shape or a branch, and often does not (torch's own
`rnn.py` and transformers' mask checks warn on models that trace fine): warnings are reported with
their location, and the proof (proof.py, run at other batch sizes and lengths) decides.
"""

from __future__ import annotations

import contextlib
import errno
import io
import os
import re
import shutil
import warnings
from pathlib import Path
from typing import Any

from tritonkit.errors import ExportError, TritonkitError

ONNX_EXPORTERS = ("auto", "dynamo", "torchscript")
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


def tracer_notes(caught: list[warnings.WarningMessage]) -> list[str]:
    """One line per distinct TracerWarning: where it was raised (the user's code or a library) and why."""
    from torch.jit import TracerWarning  # type: ignore[attr-defined]

    notes: list[str] = []
    for w in caught:
        if not issubclass(w.category, TracerWarning):
            continue
        where = where_raised(w.filename, w.lineno)
        reason = _first_line(w.message).split(". ")[0].rstrip(".")  # the first sentence says it
        note = f"tracer warning at {where}: {reason}"
        if note not in notes:
            notes.append(note)
    return notes


def where_raised(filename: str, lineno: int) -> str:
    """`transformers/masking_utils.py:229 (library)` or `/path/model.py:12 (your code)`."""
    parts = Path(filename).parts
    for marker in ("site-packages", "dist-packages"):
        if marker in parts:
            rel = "/".join(parts[parts.index(marker) + 1 :])
            return f"{rel}:{lineno} (library)"
    return f"{filename}:{lineno} (your code)"


def trace(model: Any, example: tuple[Any, ...]) -> tuple[Any, list[str]]:
    """torch.jit.trace (strict=False: dicts and lists may come back); returns the trace and its warnings."""
    import torch

    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        try:
            traced = torch.jit.trace(model, example, strict=False, check_trace=False)  # type: ignore[no-untyped-call]
        except Exception as exc:
            raise ExportError(
                f"tracing failed: {type(exc).__name__}: {_first_line(exc)}", hint=_script_hint("trace")
            ) from exc
    return traced, tracer_notes(caught)


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


_ANSI = re.compile(r"\x1b\[[0-9;]*m")  # torch.onnx colours its messages


def _first_line(exc: object) -> str:
    text = _ANSI.sub("", str(exc)).strip()
    return text.splitlines()[0] if text else type(exc).__name__


def io_wrapper(
    model: Any,
    arg_names: list[str | None],
    *,
    by_keyword: bool,
    paths: list[tuple[str | int, ...]] | None,
    extra_kwargs: str = "",
) -> Any:
    """A module with positional tensor inputs and a flat tuple output, around `model`.

    Triton's libtorch backend, ONNX and torch.export take positional tensors and give tensors back,
    not dicts: the wrapper calls `model` by keyword when asked (kwargs-only forward, dict examples,
    `extra_kwargs` such as `return_dict=True`) and returns the outputs at `paths`, in the config's
    order. It is generated source (not a closure) so that `torch.jit.script` can compile it too.
    """
    import torch

    names = [n if n and n.isidentifier() else f"input_{i}" for i, n in enumerate(arg_names)]
    params = ", ".join(names)
    args = ", ".join(f"{n}={n}" for n in names) if by_keyword else params
    if extra_kwargs:
        args = f"{args}, {extra_kwargs}" if args else extra_kwargs
    if paths is None:
        body = f"    return self.inner({args})\n"
    else:
        picks = "".join("out" + "".join(f"[{p!r}]" for p in path) + ", " for path in paths)
        body = f"    out = self.inner({args})\n    return ({picks})\n"
    namespace: dict[str, Any] = {}
    exec(f"def forward(self, {params}):\n{body}", namespace)
    wrapper_type = type("TritonIO", (torch.nn.Module,), {"forward": namespace["forward"]})
    wrapper = wrapper_type()
    wrapper.inner = model
    return wrapper.eval()


def save_torchscript(model: Any, example: tuple[Any, ...], method: str, path: Path) -> list[str]:
    """Trace or script `model` (a ScriptModule is saved as is) to `path`; returns the tracer's notes."""
    import torch

    notes: list[str] = []
    if isinstance(model, torch.jit.ScriptModule):
        compiled = model
    elif method == "trace":
        compiled, notes = trace(model, example)
    else:
        compiled = script(model)
    # Serialize in memory, then write with Python's I/O: torch.jit.save to a path aborts the whole
    # process (a C++ terminate) when the disk fills up, instead of raising.
    buffer = io.BytesIO()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)  # TorchScript is what Triton's libtorch loads
        torch.jit.save(compiled, buffer)
    _write_bytes(path, buffer.getvalue())
    return notes


def _write_bytes(path: Path, data: bytes) -> None:
    try:
        with open(path, "wb") as handle:
            handle.write(data)  # ENOSPC surfaces here (or at close), as an OSError
    except OSError as exc:
        raise _write_error(path, exc) from exc


def _torch_export_shapes(example: tuple[Any, ...], dynamic_axes: list[list[int]]) -> tuple[Any, ...]:
    """torch.export's dynamic_shapes, positionally: {axis: Dim.DYNAMIC} per input (None if static)."""
    import torch

    return tuple(
        {a: torch.export.Dim.DYNAMIC for a in axes} if axes else None
        for _, axes in zip(example, dynamic_axes, strict=True)
    )


# Above this many bytes of weights the ONNX file keeps them as external data: protobuf cannot hold
# a message over 2 GiB. Triton loads such a model from a *folder* named model.onnx holding model.onnx
# and its data files (onnxruntime_backend README, "model.onnx directory").
EXTERNAL_DATA_BYTES = 1 << 30


def weight_bytes(model: Any) -> int:
    return sum(t.numel() * t.element_size() for t in [*model.parameters(), *model.buffers()])


def save_onnx(
    model: Any,
    example: tuple[Any, ...],
    method: str,
    path: Path,
    *,
    input_names: list[str],
    output_names: list[str],
    dynamic_axes: dict[str, list[int]],
    input_axes: list[list[int]],
    exporter: str = "auto",
    opset: int = 17,
    external_data: bool | None = None,
) -> tuple[Path, list[str]]:
    """Export to ONNX; returns the file written (inside a `model.onnx/` folder with external data) and notes.

    `exporter` "dynamo" is torch.onnx.export(dynamo=True), the exporter torch maintains, with
    dynamic_shapes; "torchscript" the TorchScript-based one with named dynamic axes; "auto" tries
    dynamo and falls back to the TorchScript-based exporter, saying so in the notes.
    """
    if exporter not in ONNX_EXPORTERS:
        raise ExportError(f"unknown --onnx-exporter {exporter!r}", hint="use auto, dynamo or torchscript")
    if external_data is None:
        external_data = weight_bytes(model) >= EXTERNAL_DATA_BYTES
    target = path / "model.onnx" if external_data else path
    notes: list[str] = []
    if method == "script" and exporter == "auto":
        exporter = "torchscript"  # a scripted module has no Python forward for torch.export to run
    if exporter in ("auto", "dynamo") and opset < 18:
        if exporter == "dynamo":
            raise ExportError(
                f"the dynamo ONNX exporter writes opset 18 or later; the target Triton takes opset {opset}",
                hint="use --onnx-exporter torchscript, or a newer --triton",
            )
        notes.append(
            f"opset {opset} (the target's ONNX Runtime) is below the dynamo exporter's 18: "
            "used the TorchScript-based exporter"
        )
        exporter = "torchscript"
    if external_data:
        path.mkdir()
    if exporter in ("auto", "dynamo"):
        try:
            _export_dynamo(
                model, example, target, input_names, output_names, input_axes, opset, external_data
            )
            return target, notes
        except ExportError:
            raise
        except Exception as exc:
            reason = f"{type(exc).__name__}: {_first_line(exc)}"
            if exporter == "dynamo":
                raise ExportError(
                    f"the dynamo ONNX exporter failed: {reason}",
                    hint="try --onnx-exporter torchscript (the TorchScript-based exporter)",
                ) from exc
            notes.append(
                f"the dynamo ONNX exporter failed ({reason[:200]}): used the TorchScript-based exporter"
            )
            target.unlink(missing_ok=True)  # whatever the failed exporter left in the staging folder
    notes += _export_torchscript_onnx(
        model, example, method, target, input_names, output_names, dynamic_axes, opset, external_data
    )
    return target, notes


def _export_dynamo(
    model: Any,
    example: tuple[Any, ...],
    target: Path,
    input_names: list[str],
    output_names: list[str],
    input_axes: list[list[int]],
    opset: int,
    external_data: bool,
) -> None:
    import torch

    with warnings.catch_warnings(), contextlib.redirect_stdout(io.StringIO()):
        warnings.simplefilter("ignore")  # its progress lines and FutureWarnings are not the user's business
        program = torch.onnx.export(
            model,
            example,
            input_names=input_names,
            output_names=output_names,
            dynamic_shapes=_torch_export_shapes(example, input_axes),
            dynamo=True,
            opset_version=opset,
            external_data=external_data,
            verbose=False,
        )
    if program is None:
        raise RuntimeError("torch.onnx.export returned no program")
    try:
        program.save(str(target), external_data=external_data)
    except OSError as exc:
        raise _write_error(target, exc) from exc


def _export_torchscript_onnx(
    model: Any,
    example: tuple[Any, ...],
    method: str,
    target: Path,
    input_names: list[str],
    output_names: list[str],
    dynamic_axes: dict[str, list[int]],
    opset: int,
    external_data: bool,
) -> list[str]:
    """The TorchScript-based exporter (dynamo=False), named axes for the variable dims."""
    import torch

    source = script(model) if method == "script" else model
    buffer = io.BytesIO()  # in memory first, like TorchScript: a full disk must raise, not abort
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        try:
            torch.onnx.export(
                source,
                example,
                str(target) if external_data else buffer,  # type: ignore[arg-type]  # a file object works
                input_names=input_names,
                output_names=output_names,
                dynamic_axes={n: {a: f"{n}_d{a}" for a in axes} for n, axes in dynamic_axes.items() if axes},
                dynamo=False,
                opset_version=opset,
            )
        except Exception as exc:
            raise ExportError(f"ONNX export failed: {type(exc).__name__}: {_first_line(exc)}") from exc
    if not external_data:
        _write_bytes(target, buffer.getvalue())
    return tracer_notes(caught)


def save_aoti(model: Any, example: tuple[Any, ...], path: Path, input_axes: list[list[int]]) -> list[str]:
    """torch.export + AOTInductor: a `model.pt2` package (the compile takes about a minute on CPU)."""
    import torch

    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            program = torch.export.export(
                model, example, dynamic_shapes=_torch_export_shapes(example, input_axes), strict=False
            )
    except Exception as exc:
        raise ExportError(
            f"torch.export failed: {type(exc).__name__}: {_first_line(exc)}",
            hint="AOTInductor needs a model torch.export can capture; export TorchScript or ONNX instead",
        ) from exc
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            import torch._inductor

            torch._inductor.aoti_compile_and_package(program, package_path=str(path))
    except OSError as exc:
        raise _write_error(path, exc) from exc
    except Exception as exc:
        raise ExportError(f"AOTInductor compile failed: {type(exc).__name__}: {_first_line(exc)}") from exc
    return []
