"""`tritonkit export`: a PyTorch model to model.pt / model.onnx in the versioned layout, proven first.

Importing this package does not import torch; `export_model` does. Modules: `target` (TARGET ->
nn.Module), `examples` (example inputs), `tensors` (names, types, dims), `convert` (trace / script /
ONNX), `proof` (reload and compare), `run` (the orchestration and safe writes).
"""

from __future__ import annotations

from tritonkit.export.run import ExportResult, export_model

__all__ = ["ExportResult", "export_model"]
