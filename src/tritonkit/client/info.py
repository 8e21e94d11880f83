"""What the client knows about a model, read once from the server: its tensors and its batching.

`model_info_from` builds a `ModelInfo` from the server's metadata (wire types) and config (batching,
dims); `Client.model_info` caches one per model and version.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass, field
from typing import Any

from tritonkit.model.dtypes import BY_WIRE


@dataclass(frozen=True)
class TensorInfo:
    """One input or output as the server declares it. `dims` exclude the batch dim."""

    name: str
    wire_type: str
    dims: tuple[int, ...]
    optional: bool = False

    @property
    def numpy_type(self) -> str:
        return BY_WIRE[self.wire_type].numpy if self.wire_type in BY_WIRE else "object"


@dataclass(frozen=True)
class ModelInfo:
    """What a client must know to call a model: its tensors and whether it batches."""

    name: str
    version: str
    max_batch_size: int
    inputs: tuple[TensorInfo, ...]
    outputs: tuple[TensorInfo, ...]
    config: dict[str, Any] = field(default_factory=dict, compare=False, repr=False)

    @property
    def batched(self) -> bool:
        return self.max_batch_size > 0

    def input(self, name: str) -> TensorInfo | None:
        return next((t for t in self.inputs if t.name == name), None)

    @functools.cached_property
    def fast_inputs(self) -> tuple[tuple[str, Any, tuple[int, ...]], ...] | None:
        """(name, numpy dtype, dims) per input, for the fast path of `coerce_inputs` (None: no fast path)."""
        import numpy as np

        if any(t.optional or t.wire_type in ("BYTES", "BF16") for t in self.inputs):
            return None
        return tuple((t.name, np.dtype(t.numpy_type), t.dims) for t in self.inputs)

    @functools.cached_property
    def wire_types(self) -> dict[str, str]:
        return {t.name: t.wire_type for t in (*self.inputs, *self.outputs)}


def _dims(values: Any) -> tuple[int, ...]:
    return tuple(int(v) for v in values or [])


def model_info_from(model: str, meta: dict[str, Any], config: dict[str, Any]) -> ModelInfo:
    """Build ModelInfo from the server's metadata (wire types) and config (batching, dims)."""
    max_batch = int(config.get("max_batch_size", 0) or 0)
    config_inputs = {str(t.get("name")): t for t in config.get("input", [])}
    config_outputs = {str(t.get("name")): t for t in config.get("output", [])}

    def tensors(items: list[dict[str, Any]], configured: dict[str, dict[str, Any]]) -> tuple[TensorInfo, ...]:
        result = []
        for t in items:
            name = str(t["name"])
            shape = _dims(t.get("shape"))
            if name in configured and configured[name].get("dims") is not None:
                dims = _dims(configured[name].get("dims"))
                # a reshape changes what the model sees, not what the client sends: trust metadata
                if configured[name].get("reshape"):
                    dims = shape[1:] if max_batch > 0 else shape
            else:
                dims = shape[1:] if max_batch > 0 and shape else shape
            result.append(
                TensorInfo(
                    name, str(t["datatype"]), dims, bool(configured.get(name, {}).get("optional", False))
                )
            )
        return tuple(result)

    versions = meta.get("versions") or [""]
    return ModelInfo(
        name=model,
        version=str(versions[-1]),
        max_batch_size=max_batch,
        inputs=tensors(meta.get("inputs", []), config_inputs),
        outputs=tensors(meta.get("outputs", []), config_outputs),
        config=config,
    )


def shape_hint(info: ModelInfo | None) -> str:
    if info is not None and info.batched:
        example = ", ".join(str(d) for d in (1, *info.inputs[0].dims)) if info.inputs else "1, ..."
        return (
            f"max_batch_size > 0 means a batch dim is prepended: send shape [{example}] "
            f"(config dims {list(info.inputs[0].dims) if info.inputs else []} exclude it)"
        )
    return "max_batch_size > 0 means a batch dim is prepended: send shape [1, ...]"
