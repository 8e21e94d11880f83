"""Artifact rules: do the model files in the version folders fit their config.pbtxt?

Run when validate looks at artifacts. Loads `model.pt` (torch.jit.load), `model.pt2`
(torch._inductor.aoti_load_package) or `model.onnx` (onnxruntime), compares input/output names, ranks
and types with the config, then runs a dry inference on zero tensors of the configured shapes (batch 1
and max_batch_size) and checks what comes back. These are the mismatches the server never reports: an
output wider than its config dims, an output the config forgets. torch and onnxruntime are imported
only when such a file exists.
"""

from __future__ import annotations

import importlib.util
from typing import TYPE_CHECKING

from tritonkit.model.backends import model_file_for
from tritonkit.validate.rules.artifact import onnx, pt2, torchscript
from tritonkit.validate.rules.artifact.common import CHECK_FAILED, FAMILY, SKIPPED, Checks, tensors

if TYPE_CHECKING:
    from tritonkit.validate.context import ModelContext, RepositoryContext
    from tritonkit.validate.findings import Finding

__all__ = ["FAMILY", "check"]

_TORCH = ("pytorch_libtorch", "pytorch")
_ONNX = ("onnxruntime_onnx", "onnxruntime")
SKIP_HINT = "pip install tritonkit[torch] to check model files against their configs"


def _installed(module: str) -> bool:
    try:
        return importlib.util.find_spec(module) is not None
    except (ImportError, ValueError):
        return False


def _kind(model: ModelContext) -> str | None:
    if model.platform == "torch_aoti" or (
        model.backend == "pytorch" and str(model.config.default_model_filename).endswith(".pt2")
    ):  # an AOTInductor package (also served by tritonkit's runtime as backend pytorch + model.pt2)
        return "pt2"
    if model.platform in _TORCH or model.backend in _TORCH:
        return "torchscript"
    if model.platform in _ONNX or model.backend in _ONNX:
        return "onnx"
    return None


def check(model: ModelContext, repo: RepositoryContext) -> list[Finding]:
    """The artifact findings of one model; a crash of the check itself is one warning, not a crash."""
    try:
        return _check(model)
    except Exception as exc:  # a bug here must not hide the other findings
        return [
            model.finding(
                CHECK_FAILED,
                f"the artifact check crashed: {type(exc).__name__}: {exc}",
                hint="validate with --no-artifacts to skip it, and report this bug",
            )
        ]


def _check(model: ModelContext) -> list[Finding]:
    kind = _kind(model)
    if kind is None:
        return []
    config = model.config
    filename = model_file_for(str(config.platform), str(config.backend), str(config.default_model_filename))
    if filename is None:
        return []
    present = {v: p / filename for v, p in sorted(model.versions.items()) if (p / filename).is_file()}
    if not present:
        return []  # a missing model file is the layout rules' finding
    module = "onnxruntime" if kind == "onnx" else "torch"
    if not _installed(module):
        return [
            model.finding(
                SKIPPED,
                f"{filename} not checked against the config: {module} is not installed",
                hint=SKIP_HINT,
            )
        ]
    ctx = Checks(model, int(config.max_batch_size), tensors(config.input), tensors(config.output))
    for path in present.values():
        shown = str(path)
        if kind == "torchscript":
            torchscript.check_torchscript(ctx, path, shown)
        elif kind == "pt2":
            pt2.check_pt2(ctx, path, shown)
        else:
            onnx.check_onnx(ctx, path, shown)
    return ctx.findings
