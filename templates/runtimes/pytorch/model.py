"""tritonkit's `pytorch` runtime for the Python backend: serves TorchScript `model.pt` unmodified,
and AOTInductor `model.pt2` packages.

Triton's CPU build from the nvidia-pytriton wheel has no libtorch backend. Put this file at
`<backend-dir>/pytorch/model.py`, with tritonkit_runtime.py, beside a real copy of
`libtriton_python.so`, and configs with `platform: "pytorch_libtorch"` load through the Python
backend. It follows the libtorch backend's conventions: inputs named `NAME__INDEX` go to forward
argument INDEX, other names to the forward argument of that name (else config order); outputs named
`NAME__INDEX` take element INDEX of a tuple output, dict outputs are matched by key, and every
output is cast to its config data type.

A `.pt2` file (default_model_filename "model.pt2") is loaded with torch._inductor.aoti_load_package
and called with the inputs in config order. Triton serves such packages natively from 26.03
(platform "torch_aoti"); the 24.10 server refuses that platform, so `tritonkit export --format aoti`
also writes configs/tritonkit-local.pbtxt without it, which `serve --local` selects and this runtime
serves (it logs that it does).
"""

from __future__ import annotations

import json
import os
import re
from typing import Any

import numpy as np
import torch
import triton_python_backend_utils as pb_utils
from tritonkit_runtime import BatchedRuntime  # copied beside this file by serve --local

_INDEXED = re.compile(r"^.+__(\d+)$")


def _indices(names: list[str]) -> list[int] | None:
    """Indices of `NAME__INDEX` names, or None unless every name follows the convention."""
    found = [_INDEXED.match(n) for n in names]
    if not names or not all(found):
        return None
    return [int(m.group(1)) for m in found if m]


def _log(message: str) -> None:
    logger = getattr(pb_utils, "Logger", None)  # set by the stub; absent when imported elsewhere
    if logger is not None:
        logger.log_info(message)
    else:
        print(message, flush=True)


class TritonPythonModel(BatchedRuntime):
    """Loads `<version>/model.pt` with torch.jit.load and runs it on each request (batched when it can)."""

    def initialize(self, args: dict[str, Any]) -> None:
        self.config = json.loads(args["model_config"])
        version_dir = os.path.join(args["model_repository"], args["model_version"])
        filename = self.config.get("default_model_filename") or "model.pt"
        threads = int(os.environ.get("TRITONKIT_TORCH_THREADS", "1"))
        torch.set_num_threads(max(threads, 1))
        path = os.path.join(version_dir, filename)
        if filename.endswith(".pt2"):
            from torch._inductor import aoti_load_package  # only for packages: it is slow to import

            self.model = aoti_load_package(path)
            _log(
                f"{args['model_name']}: serving the AOTInductor package {filename} through tritonkit's "
                "pytorch runtime (torch._inductor.aoti_load_package); Triton 26.03+ serves it natively"
                " as platform torch_aoti"
            )
        else:
            self.model = torch.jit.load(path, map_location="cpu")
            self.model.eval()
        self.max_batch_size = int(self.config.get("max_batch_size", 0))
        self.inputs = [t["name"] for t in self.config.get("input", [])]
        self.outputs = [
            (t["name"], pb_utils.triton_string_to_numpy(t["data_type"])) for t in self.config["output"]
        ]
        self.positions = self._input_positions()
        self.output_indices = _indices([name for name, _ in self.outputs])

    def _input_positions(self) -> list[int]:
        """Forward-argument position of each config input."""
        by_index = _indices(self.inputs)
        if by_index is not None:
            return by_index
        try:
            arg_names = [a.name for a in self.model.forward.schema.arguments[1:]]
        except (AttributeError, RuntimeError):
            arg_names = []
        if all(n in arg_names for n in self.inputs):
            return [arg_names.index(n) for n in self.inputs]
        return list(range(len(self.inputs)))

    def _run(self, arrays: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        args: list[Any] = [None] * (max(self.positions, default=-1) + 1)
        for name, position in zip(self.inputs, self.positions, strict=False):
            if name in arrays:
                args[position] = torch.from_numpy(np.ascontiguousarray(arrays[name]))
        while args and args[-1] is None:  # optional trailing inputs not sent
            args.pop()
        with torch.inference_mode():
            result = self.model(*args)
        if isinstance(result, torch.Tensor):
            result = (result,)
        elif isinstance(result, list):  # an AOTInductor package returns a list
            result = tuple(result)
        out: dict[str, np.ndarray] = {}
        for i, (name, dtype) in enumerate(self.outputs):
            if isinstance(result, dict):
                value = result[name]
            else:
                value = result[self.output_indices[i] if self.output_indices else i]
            out[name] = value.detach().cpu().numpy().astype(dtype, copy=False)
        return out

    def finalize(self) -> None:
        self.model = None
