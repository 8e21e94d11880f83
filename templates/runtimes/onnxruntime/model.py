"""tritonkit's `onnxruntime` runtime for the Python backend: serves `model.onnx` unmodified.

Triton's CPU build from the nvidia-pytriton wheel has no ONNX Runtime backend. Put this file at
`<backend-dir>/onnxruntime/model.py`, with tritonkit_runtime.py, beside a real copy of
`libtriton_python.so`, and configs with `platform: "onnxruntime_onnx"` load through the Python
backend. Inputs and outputs are matched by name, as the onnxruntime backend does; outputs are cast
to their config data types.
"""

from __future__ import annotations

import json
import os
from typing import Any

import numpy as np
import onnxruntime as ort
import triton_python_backend_utils as pb_utils
from tritonkit_runtime import BatchedRuntime  # copied beside this file by serve --local


class TritonPythonModel(BatchedRuntime):
    """Loads `<version>/model.onnx` in an onnxruntime CPU session; runs each request (batched when it can)."""

    def initialize(self, args: dict[str, Any]) -> None:
        self.config = json.loads(args["model_config"])
        version_dir = os.path.join(args["model_repository"], args["model_version"])
        filename = self.config.get("default_model_filename") or "model.onnx"
        options = ort.SessionOptions()
        options.intra_op_num_threads = max(int(os.environ.get("TRITONKIT_ORT_THREADS", "1")), 1)
        options.inter_op_num_threads = 1
        path = os.path.join(version_dir, filename)
        if os.path.isdir(path):  # a model.onnx folder: model.onnx with its external data (Triton's layout)
            path = os.path.join(path, "model.onnx")
        self.session = ort.InferenceSession(path, sess_options=options, providers=["CPUExecutionProvider"])
        self.max_batch_size = int(self.config.get("max_batch_size", 0))
        self.inputs = [t["name"] for t in self.config.get("input", [])]
        self.outputs = [
            (t["name"], pb_utils.triton_string_to_numpy(t["data_type"])) for t in self.config["output"]
        ]
        self.model_inputs = {i.name for i in self.session.get_inputs()}

    def _run(self, arrays: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        feed = {n: np.ascontiguousarray(v) for n, v in arrays.items() if n in self.model_inputs}
        names = [n for n, _ in self.outputs]
        values = self.session.run(names, feed)
        return {
            n: np.asarray(v).astype(dtype, copy=False)
            for (n, dtype), v in zip(self.outputs, values, strict=False)
        }

    def finalize(self) -> None:
        self.session = None
