"""What tritonkit's Python-backend runtimes share: one model run per batch of requests.

Copied by `serve --local` beside each runtime's model.py (`<backend-dir>/<runtime>/`), a folder the
Python backend stub puts on sys.path. A runtime subclasses `BatchedRuntime` and implements `_run`.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import triton_python_backend_utils as pb_utils


class BatchedRuntime:
    """`execute` for a model that maps input arrays (by config name) to output arrays (by config name).

    Subclasses set `self.inputs` (config input names) and `self.max_batch_size` in `initialize`.
    Requests the dynamic batcher groups are concatenated along the batch dim, run once, and split
    back; if that fails, each request runs alone so an error reaches only its own client.
    """

    inputs: list[str]
    max_batch_size: int

    def _run(self, arrays: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        raise NotImplementedError

    def execute(self, requests: list[Any]) -> list[Any]:
        arrays = []
        for request in requests:
            arrays.append(
                {
                    n: t.as_numpy()
                    for n in self.inputs
                    if (t := pb_utils.get_input_tensor_by_name(request, n)) is not None
                }
            )
        results: list[dict[str, np.ndarray] | Exception] = []
        if self.max_batch_size > 0 and len(arrays) > 1 and self._stackable(arrays):
            # One run for the dynamic batcher's requests, split back by their batch sizes.
            try:
                merged = self._run({n: np.concatenate([a[n] for a in arrays]) for n in arrays[0]})
                start = 0
                for a in arrays:
                    size = next(iter(a.values())).shape[0]
                    results.append({n: v[start : start + size] for n, v in merged.items()})
                    start += size
            except Exception:  # fall back to one run per request, errors per request
                results = []
        if not results:
            for a in arrays:
                try:
                    results.append(self._run(a))
                except Exception as exc:  # the error goes back to the client
                    results.append(exc)
        responses = []
        for result in results:
            if isinstance(result, Exception):
                error = pb_utils.TritonError(f"{type(result).__name__}: {result}")
                responses.append(pb_utils.InferenceResponse(output_tensors=[], error=error))
            else:
                tensors = [pb_utils.Tensor(n, v) for n, v in result.items()]
                responses.append(pb_utils.InferenceResponse(output_tensors=tensors))
        return responses

    @staticmethod
    def _stackable(arrays: list[dict[str, np.ndarray]]) -> bool:
        first = arrays[0]
        return all(
            a.keys() == first.keys() and all(a[n].shape[1:] == first[n].shape[1:] for n in first)
            for a in arrays
        )
