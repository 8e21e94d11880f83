"""`tritonkit export`: a PyTorch model to model.pt / model.onnx in the versioned layout, proven first.

Importing this package does not import torch; `export_model` does. Modules: `target` (TARGET ->
nn.Module), `examples` (example inputs), `hf` (Hugging Face checkpoint folders), `tensors` (names, types,
dims, flattened outputs), `convert` (trace / script / ONNX / AOTInductor), `compat` (what the target
Triton release loads), `proof` (reload and compare), `run` (the orchestration and safe writes).
"""

from __future__ import annotations

from tritonkit.export.hf import export_checkpoint
from tritonkit.export.run import ExportResult, export_model

__all__ = ["ExportResult", "export_checkpoint", "export_model"]
