"""What the target Triton release can load: the ONNX opset of its ONNX Runtime, and torch_aoti packages.

Where the figures come from:
- Triton release -> ONNX Runtime version: the server's `build.py` TRITON_VERSION_MAP (2.41 / 23.12 ->
  ORT 1.16.3; 2.56 / 25.03 -> ORT 1.20.1) and the Triton release notes (24.10 -> ORT 1.19.2).
- ONNX Runtime version -> the newest ONNX opset it implements: ONNX Runtime's compatibility table
  (onnxruntime.ai/docs/reference/compatibility.html: 1.16 -> 19, 1.17 -> 20, 1.18 to 1.20 -> 21).
- torch_aoti (AOTInductor `model.pt2`): served by the PyTorch backend from 26.03 (Triton 2.67), beta,
  batch sizes above 1 not supported; 24.10 refuses the platform ("unexpected platform type").
"""

from __future__ import annotations

from tritonkit.errors import UsageError
from tritonkit.model.release import LOCAL_SERVER, Release, parse_release

__all__ = ["LOCAL_SERVER", "check_aoti", "onnx_opset", "target_release"]

# (first release, ONNX Runtime in it, the newest opset that runtime implements), oldest first.
ORT_BY_RELEASE = (
    (Release(23, 12), "1.16.3", 19),
    (Release(24, 10), "1.19.2", 21),
    (Release(25, 3), "1.20.1", 21),
)
OPSET_BEFORE_TABLE = 17  # releases before 23.12: the opset TorchScript-based exports long used
# The highest opset asked of torch's exporters: what torch 2.13's dynamo exporter writes by default.
TORCH_OPSET = 20
AOTI_SINCE = Release(26, 3)


def target_release(text: str | None) -> Release:
    """The `--triton` release, or the bundled local server's (24.10) when none is given."""
    return LOCAL_SERVER if not text else parse_release(text)


def onnx_opset(release: Release) -> int:
    """The opset to export for `release`: the newest its ONNX Runtime runs, at most TORCH_OPSET."""
    opset = OPSET_BEFORE_TABLE
    for first, _ort, newest in ORT_BY_RELEASE:
        if release >= first:
            opset = newest
    return min(opset, TORCH_OPSET)


def check_aoti(release: Release, max_batch_size: int) -> None:
    """torch_aoti needs Triton 26.03 or later and max_batch_size 0 (the PyTorch backend's rule)."""
    if release < AOTI_SINCE:
        raise UsageError(
            f"--format aoti: Triton {release} cannot load torch_aoti models (26.03 and later can)",
            hint="give --triton 26.03 (or later) for a server that has them, or --format torchscript or onnx",
        )
    if max_batch_size != 0:
        raise UsageError(
            f"--format aoti with --max-batch-size {max_batch_size}: Triton's torch_aoti support takes"
            " batch sizes of 1 only",
            hint="use --max-batch-size 0 (the batch dim stays in the config dims, -1 when dynamic)",
        )
