"""The typed spec of a model and a repository: what `add`, `export` and `render` write from.

A `ModelSpec` is the single source for a model's config.pbtxt (rendered by `render.py`) and its entry
in `tritonkit.yaml` (`to_dict` / `from_dict`). Parsing user text (`--input x:fp32:3,224`) lives here too.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

from tritonkit.errors import UsageError
from tritonkit.model.backends import model_file_for
from tritonkit.model.dtypes import BY_CONFIG, parse_dtype

# backend as the user names it -> (platform, backend) written to config.pbtxt
_BACKENDS: dict[str, tuple[str, str]] = {
    "pytorch": ("pytorch_libtorch", ""),
    "onnx": ("onnxruntime_onnx", ""),
    "tensorrt": ("tensorrt_plan", ""),
    "tensorflow": ("tensorflow_savedmodel", ""),
    "python": ("", "python"),
    "ensemble": ("ensemble", ""),
}
_BACKEND_ALIASES = {
    "torch": "pytorch",
    "libtorch": "pytorch",
    "pytorch_libtorch": "pytorch",
    "torchscript": "pytorch",
    "onnxruntime": "onnx",
    "onnxruntime_onnx": "onnx",
    "tensorrt_plan": "tensorrt",
    "trt": "tensorrt",
    "tensorflow_savedmodel": "tensorflow",
    "bls": "python",
}
INSTANCE_KINDS = ("KIND_AUTO", "KIND_CPU", "KIND_GPU", "KIND_MODEL")
_MODEL_NAME = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_.\-]*$")


def normalize_backend(name: str) -> str:
    """pytorch, onnx, python, ensemble (with aliases), or any custom backend name as given."""
    key = name.strip().lower()
    key = _BACKEND_ALIASES.get(key, key)
    if not key or not re.fullmatch(r"[a-z0-9_\-]+", key):
        raise UsageError(
            f"invalid backend name {name!r}", hint="use pytorch, onnx, python, ensemble or a backend name"
        )
    return key


def check_model_name(name: str) -> str:
    """A model name must be a single safe directory name (no '/', '..', spaces or control chars)."""
    if not _MODEL_NAME.fullmatch(name) or name in (".", ".."):
        raise UsageError(
            f"invalid model name {name!r}",
            hint="use letters, digits, '_', '-' and '.', starting with a letter, digit or '_'",
        )
    return name


@dataclass
class TensorSpec:
    """One input or output: name, config data type (TYPE_FP32), dims without the batch dim."""

    name: str
    data_type: str
    dims: list[int]
    reshape: list[int] | None = None
    optional: bool = False

    def __post_init__(self) -> None:
        self.data_type = parse_dtype(self.data_type).config
        if not self.name:
            raise UsageError("a tensor needs a name")
        for d in self.dims:
            if d < 1 and d != -1:
                raise UsageError(f"tensor {self.name!r}: dim {d} must be >= 1 or -1 (variable)")

    @property
    def wire_type(self) -> str:
        return BY_CONFIG[self.data_type].wire

    @classmethod
    def parse(cls, text: str) -> TensorSpec:
        """Parse NAME:DTYPE:DIMS, e.g. `INPUT__0:fp32:3,224,224`, `ids:int64:-1`, `text:bytes:1`."""
        parts = text.rsplit(":", 2)
        if len(parts) != 3 or not parts[0]:
            raise UsageError(
                f"bad tensor {text!r}", hint="write NAME:DTYPE:DIMS, e.g. INPUT__0:fp32:3,224,224"
            )
        name, dtype, dims_text = parts
        return cls(name=name, data_type=dtype, dims=parse_dims(dims_text))

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"name": self.name, "data_type": self.data_type, "dims": list(self.dims)}
        if self.reshape is not None:
            out["reshape"] = list(self.reshape)
        if self.optional:
            out["optional"] = True
        return out

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> TensorSpec:
        return cls(
            name=str(data["name"]),
            data_type=str(data.get("data_type", data.get("dtype", ""))),
            dims=[int(d) for d in data.get("dims", [])],
            reshape=None if data.get("reshape") is None else [int(d) for d in data["reshape"]],
            optional=bool(data.get("optional", False)),
        )


def parse_dims(text: str) -> list[int]:
    """`3,224,224` / `-1,16` / `[1, 2]` -> list of ints; each >= 1 or -1."""
    cleaned = text.strip().strip("[]()").replace("x", ",").replace(" ", "")
    if not cleaned:
        raise UsageError("empty dims", hint="give dims like 3,224,224 or -1,16")
    try:
        dims = [int(d) for d in cleaned.split(",") if d != ""]
    except ValueError:
        raise UsageError(
            f"bad dims {text!r}", hint="give comma-separated integers, -1 for a variable dim"
        ) from None
    for d in dims:
        if d < 1 and d != -1:
            raise UsageError(f"bad dim {d} in {text!r}", hint="every dim is >= 1, or -1 for a variable dim")
    return dims


@dataclass
class DynamicBatchingSpec:
    """dynamic_batching { preferred_batch_size, max_queue_delay_microseconds, preserve_ordering }."""

    preferred_batch_sizes: list[int] = field(default_factory=list)
    max_queue_delay_microseconds: int = 0
    preserve_ordering: bool = False

    def to_dict(self) -> dict[str, Any]:
        return {
            "preferred_batch_sizes": list(self.preferred_batch_sizes),
            "max_queue_delay_microseconds": self.max_queue_delay_microseconds,
            "preserve_ordering": self.preserve_ordering,
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> DynamicBatchingSpec:
        return cls(
            preferred_batch_sizes=[int(x) for x in data.get("preferred_batch_sizes", [])],
            max_queue_delay_microseconds=int(data.get("max_queue_delay_microseconds", 0)),
            preserve_ordering=bool(data.get("preserve_ordering", False)),
        )


@dataclass
class InstanceGroupSpec:
    """instance_group { count, kind, gpus }."""

    count: int = 1
    kind: str = "KIND_CPU"
    gpus: list[int] = field(default_factory=list)

    def __post_init__(self) -> None:
        kind = self.kind.upper()
        if not kind.startswith("KIND_"):
            kind = "KIND_" + kind
        if kind not in INSTANCE_KINDS:
            raise UsageError(f"unknown instance kind {self.kind!r}", hint="use cpu, gpu, auto or model")
        self.kind = kind
        if self.count < 1:
            raise UsageError(f"instance count must be >= 1, got {self.count}")
        if any(g < 0 for g in self.gpus):
            raise UsageError("GPU ids must be >= 0")
        if len(set(self.gpus)) != len(self.gpus):
            raise UsageError(f"duplicate GPU ids in {self.gpus}")
        if self.gpus and self.kind != "KIND_GPU":
            raise UsageError(f"--gpus needs --kind gpu (got {self.kind})")

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"count": self.count, "kind": self.kind}
        if self.gpus:
            out["gpus"] = list(self.gpus)
        return out

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> InstanceGroupSpec:
        return cls(
            count=int(data.get("count", 1)),
            kind=str(data.get("kind", "KIND_CPU")),
            gpus=[int(g) for g in data.get("gpus", [])],
        )


def scheduling_from_flags(
    *,
    dynamic_batching: bool = False,
    preferred_batch_sizes: list[int] | None = None,
    max_queue_delay_us: int | None = None,
    instances: int | None = None,
    kind: str = "cpu",
    gpus: str | None = None,
) -> tuple[DynamicBatchingSpec | None, list[InstanceGroupSpec]]:
    """The dynamic batcher and instance group that `add`/`export` flags ask for (None / [] when unset).

    A preferred size or a queue delay implies dynamic batching; an instance count, GPU ids or a
    kind other than cpu make one instance group.
    """
    batching = None
    if dynamic_batching or preferred_batch_sizes or max_queue_delay_us is not None:
        batching = DynamicBatchingSpec(list(preferred_batch_sizes or []), max_queue_delay_us or 0)
    gpu_ids: list[int] = []
    if gpus:
        try:
            gpu_ids = [int(g) for g in gpus.split(",") if g.strip()]
        except ValueError:
            raise UsageError(f"bad --gpus {gpus!r}", hint="give GPU ids like 0,1") from None
    groups = []
    if instances is not None or gpu_ids or kind != "cpu":
        groups.append(
            InstanceGroupSpec(count=instances if instances is not None else 1, kind=kind, gpus=gpu_ids)
        )
    return batching, groups


@dataclass
class EnsembleStepSpec:
    """One ensemble step: member model, input_map and output_map (member tensor -> ensemble tensor)."""

    model_name: str
    model_version: int = -1
    input_map: dict[str, str] = field(default_factory=dict)
    output_map: dict[str, str] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return {
            "model_name": self.model_name,
            "model_version": self.model_version,
            "input_map": dict(self.input_map),
            "output_map": dict(self.output_map),
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> EnsembleStepSpec:
        return cls(
            model_name=str(data["model_name"]),
            model_version=int(data.get("model_version", -1)),
            input_map={str(k): str(v) for k, v in (data.get("input_map") or {}).items()},
            output_map={str(k): str(v) for k, v in (data.get("output_map") or {}).items()},
        )


@dataclass
class ModelSpec:
    """Everything tritonkit knows about one model; renders to config.pbtxt and to tritonkit.yaml."""

    name: str
    backend: str
    inputs: list[TensorSpec] = field(default_factory=list)
    outputs: list[TensorSpec] = field(default_factory=list)
    max_batch_size: int = 0
    dynamic_batching: DynamicBatchingSpec | None = None
    instance_groups: list[InstanceGroupSpec] = field(default_factory=list)
    version: int = 1
    # python backend: "plain" or "bls"; bls_target is the model the BLS variant calls
    python_variant: str | None = None
    bls_target: str | None = None
    steps: list[EnsembleStepSpec] = field(default_factory=list)
    parameters: dict[str, str] = field(default_factory=dict)
    default_model_filename: str | None = None

    def __post_init__(self) -> None:
        check_model_name(self.name)
        self.backend = normalize_backend(self.backend)
        if self.max_batch_size < 0:
            raise UsageError(f"--max-batch-size must be >= 0, got {self.max_batch_size}")
        if self.version < 1:
            raise UsageError(f"version must be >= 1, got {self.version}")
        if self.dynamic_batching:
            too_big = [
                b for b in self.dynamic_batching.preferred_batch_sizes if b < 1 or b > self.max_batch_size
            ]
            if too_big:
                raise UsageError(
                    f"preferred batch sizes {too_big} must be between 1 and"
                    f" --max-batch-size ({self.max_batch_size})"
                )
        for kind, tensors in (("input", self.inputs), ("output", self.outputs)):
            seen: set[str] = set()
            for t in tensors:
                if t.name in seen:
                    raise UsageError(f"duplicate {kind} name {t.name!r}")
                seen.add(t.name)
        if self.backend == "python" and self.python_variant is None:
            self.python_variant = "bls" if self.bls_target else "plain"
        if self.backend == "ensemble" and self.instance_groups:
            raise UsageError("an ensemble has no instance groups", hint="set instances on its member models")

    @property
    def platform(self) -> str:
        return _BACKENDS.get(self.backend, ("", self.backend))[0]

    @property
    def config_backend(self) -> str:
        """The `backend:` field; empty where `platform:` says it all."""
        return _BACKENDS.get(self.backend, ("", self.backend))[1]

    @property
    def model_filename(self) -> str | None:
        """The file the server loads from each version folder (None for ensembles)."""
        return model_file_for(self.platform, self.config_backend, self.default_model_filename)

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"name": self.name, "backend": self.backend, "version": self.version}
        out["max_batch_size"] = self.max_batch_size
        out["inputs"] = [t.to_dict() for t in self.inputs]
        out["outputs"] = [t.to_dict() for t in self.outputs]
        if self.dynamic_batching is not None:
            out["dynamic_batching"] = self.dynamic_batching.to_dict()
        if self.instance_groups:
            out["instance_groups"] = [g.to_dict() for g in self.instance_groups]
        if self.python_variant:
            out["python_variant"] = self.python_variant
        if self.bls_target:
            out["bls_target"] = self.bls_target
        if self.steps:
            out["steps"] = [s.to_dict() for s in self.steps]
        if self.parameters:
            out["parameters"] = dict(self.parameters)
        if self.default_model_filename:
            out["default_model_filename"] = self.default_model_filename
        return out

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> ModelSpec:
        if not isinstance(data, dict) or "name" not in data or "backend" not in data:
            raise UsageError("each model in tritonkit.yaml needs at least 'name' and 'backend'")
        db = data.get("dynamic_batching")
        return cls(
            name=str(data["name"]),
            backend=str(data["backend"]),
            inputs=[TensorSpec.from_dict(t) for t in data.get("inputs") or []],
            outputs=[TensorSpec.from_dict(t) for t in data.get("outputs") or []],
            max_batch_size=int(data.get("max_batch_size", 0)),
            dynamic_batching=None if db is None else DynamicBatchingSpec.from_dict(db),
            instance_groups=[InstanceGroupSpec.from_dict(g) for g in data.get("instance_groups") or []],
            version=int(data.get("version", 1)),
            python_variant=data.get("python_variant"),
            bls_target=data.get("bls_target"),
            steps=[EnsembleStepSpec.from_dict(s) for s in data.get("steps") or []],
            parameters={str(k): str(v) for k, v in (data.get("parameters") or {}).items()},
            default_model_filename=data.get("default_model_filename"),
        )
