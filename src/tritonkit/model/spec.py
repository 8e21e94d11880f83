"""The typed spec of a model: what `add`, `export`, `import` and `render` write from.

A `ModelSpec` holds a whole `ModelConfig`, losslessly: the fields tritonkit's commands edit are typed
(name, platform/backend, inputs, outputs, max_batch_size, dynamic batching, instance groups, ensemble
steps, parameters, default_model_filename) and every other field, at each level, is kept in an `extra`
mapping of plain data under the protobuf field names (see `model/messages.py`). `to_config_data` /
`from_config_data` convert to and from that plain data; `tritonkit.yaml` stores it (`to_dict`), with
tritonkit's own keys (version to create, python variant, BLS target) apart under `tritonkit:`.

Specs built from flags are checked (`ModelSpec(...)` raises UsageError on a bad name or batch size);
specs read from a config or the spec file are taken as they are (`trusted()`): whether they would load
is `validate`'s job, and the spec must hold whatever the config held.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

from tritonkit.errors import UsageError
from tritonkit.model.backends import model_file_for
from tritonkit.model.parts import (
    INSTANCE_KINDS,
    DynamicBatchingSpec,
    EnsembleStepSpec,
    InstanceGroupSpec,
    TensorSpec,
    _checking,
    parse_dims,
    scheduling_from_flags,
    trusted,
)

__all__ = [
    "INSTANCE_KINDS",
    "DynamicBatchingSpec",
    "EnsembleStepSpec",
    "InstanceGroupSpec",
    "ModelSpec",
    "TensorSpec",
    "check_model_name",
    "kind_of",
    "normalize_backend",
    "parse_dims",
    "scheduling_from_flags",
    "trusted",
]

# backend as the user names it -> (platform, backend) written to config.pbtxt
_BACKENDS: dict[str, tuple[str, str]] = {
    "pytorch": ("pytorch_libtorch", ""),
    "onnx": ("onnxruntime_onnx", ""),
    # AOTInductor packages: Triton 26.03+ serves them with the PyTorch backend (both fields set).
    "torch_aoti": ("torch_aoti", "pytorch"),
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
    "aoti": "torch_aoti",
    "pt2": "torch_aoti",
    "onnxruntime_onnx": "onnx",
    "tensorrt_plan": "tensorrt",
    "trt": "tensorrt",
    "tensorflow_savedmodel": "tensorflow",
    "bls": "python",
}
# platform or backend found in a config -> the user-facing backend name tritonkit calls it by
_KIND_OF = {
    "pytorch_libtorch": "pytorch",
    "pytorch": "pytorch",
    "onnxruntime_onnx": "onnx",
    "onnxruntime": "onnx",
    "tensorrt_plan": "tensorrt",
    "tensorrt": "tensorrt",
    "tensorflow_savedmodel": "tensorflow",
    "tensorflow_graphdef": "tensorflow",
    "tensorflow": "tensorflow",
    "python": "python",
    "ensemble": "ensemble",
    "torch_aoti": "torch_aoti",
}
# The ModelConfig fields the typed attributes of ModelSpec hold (never in its `extra`).
TYPED_FIELDS = frozenset(
    {"name", "platform", "backend", "max_batch_size", "input", "output", "dynamic_batching",
     "instance_group", "ensemble_scheduling", "parameters", "default_model_filename"}
)  # fmt: skip
OWN_KEYS = ("version", "python_variant", "bls_target")  # tritonkit's keys, under `tritonkit:` in the spec


def kind_of(platform: str, backend: str) -> str:
    """The user-facing backend name of a config's platform/backend pair ('' when it names neither)."""
    return _KIND_OF.get(platform) or _KIND_OF.get(backend) or backend or platform


_MODEL_NAME = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_.\-]*$")


def normalize_backend(name: str) -> str:
    """pytorch, onnx, python, ensemble (with aliases), or any custom backend name as given."""
    key = name.strip().lower()
    key = _BACKEND_ALIASES.get(key, key)
    if not _checking():
        return name
    if not key or not re.fullmatch(r"[a-z0-9_\-]+", key):
        raise UsageError(
            f"invalid backend name {name!r}", hint="use pytorch, onnx, python, ensemble or a backend name"
        )
    return key


def check_folder_name(name: str) -> str:
    """What a spec file or an imported repository may name a model: any one folder name.

    Looser than `check_model_name` (what `add`/`export` create): a repository the server loads may
    use other characters (validate warns about them), but never a path that leaves the repository.
    """
    if not name or name in (".", "..") or any(c in name for c in "/\\\0"):
        raise UsageError(
            f"invalid model name {name!r}", hint="a model name is one folder name (no '/', '..')"
        )
    return name


# A folder name holds 255 bytes (NAME_MAX); a model's name is also part of the names made from it (its
# staging folder `.NAME.XXXXXXXX.staging`, the server's instance names `NAME_0_0`): keep room for them.
MAX_MODEL_NAME = 200


def check_model_name(name: str) -> str:
    """A model name must be a single safe directory name (no '/', '..', spaces or control chars)."""
    if len(name) > MAX_MODEL_NAME:
        raise UsageError(
            f"model name of {len(name)} characters is too long (at most {MAX_MODEL_NAME})",
            hint="use a shorter name",
        )
    if not _MODEL_NAME.fullmatch(name) or name in (".", ".."):
        raise UsageError(
            f"invalid model name {name!r}",
            hint="use letters, digits, '_', '-' and '.', starting with a letter, digit or '_'",
        )
    return name


@dataclass
class ModelSpec:
    """Everything tritonkit knows about one model: a whole ModelConfig plus tritonkit's own keys."""

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
    # Every other ModelConfig field, as plain data (version_policy, model_warmup, response_cache...).
    extra: dict[str, Any] = field(default_factory=dict)
    # platform / backend as the config writes them, where they differ from what `backend` implies
    explicit_platform: str | None = None
    explicit_backend: str | None = None

    def __post_init__(self) -> None:
        self.backend = normalize_backend(self.backend)
        clash = sorted(TYPED_FIELDS & set(self.extra) - {"ensemble_scheduling"})
        if clash or (self.steps and "ensemble_scheduling" in self.extra):
            raise UsageError(f"extra ModelConfig fields {clash or ['ensemble_scheduling']} are typed fields")
        if self.backend == "python" and self.python_variant is None:
            self.python_variant = "bls" if self.bls_target else "plain"
        if not _checking():
            return
        check_model_name(self.name)
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
        if self.backend == "ensemble" and self.instance_groups:
            raise UsageError("an ensemble has no instance groups", hint="set instances on its member models")

    @property
    def platform(self) -> str:
        if self.explicit_platform is not None:
            return self.explicit_platform
        return _BACKENDS.get(self.backend, ("", self.backend))[0]

    @property
    def config_backend(self) -> str:
        """The `backend:` field; empty where `platform:` says it all."""
        if self.explicit_backend is not None:
            return self.explicit_backend
        return _BACKENDS.get(self.backend, ("", self.backend))[1]

    @property
    def model_filename(self) -> str | None:
        """The file the server loads from each version folder (None for ensembles)."""
        return model_file_for(self.platform, self.config_backend, self.default_model_filename)

    def to_config_data(self) -> dict[str, Any]:
        """The ModelConfig as plain data (protobuf field names; see model/messages.py)."""
        out: dict[str, Any] = {"name": self.name}
        if self.platform:
            out["platform"] = self.platform
        if self.config_backend:
            out["backend"] = self.config_backend
        if self.max_batch_size:
            out["max_batch_size"] = self.max_batch_size
        if self.default_model_filename:
            out["default_model_filename"] = self.default_model_filename
        if self.inputs:
            out["input"] = [t.to_data() for t in self.inputs]
        if self.outputs:
            out["output"] = [t.to_data() for t in self.outputs]
        if self.dynamic_batching is not None:
            out["dynamic_batching"] = self.dynamic_batching.to_data()
        if self.instance_groups:
            out["instance_group"] = [g.to_data() for g in self.instance_groups]
        if self.steps:
            out["ensemble_scheduling"] = {"step": [s.to_data() for s in self.steps]}
        if self.parameters:
            out["parameters"] = dict(self.parameters)
        out.update(self.extra)
        return out

    def own_data(self) -> dict[str, Any]:
        """tritonkit's own keys (not ModelConfig fields), only where they differ from the default."""
        out: dict[str, Any] = {}
        if self.version != 1:
            out["version"] = self.version
        if self.backend == "python" and self.python_variant != ("bls" if self.bls_target else "plain"):
            out["python_variant"] = self.python_variant
        if self.bls_target:
            out["bls_target"] = self.bls_target
        return out

    def to_dict(self) -> dict[str, Any]:
        """The model's entry in tritonkit.yaml: the ModelConfig fields, then `tritonkit:` own keys."""
        out = self.to_config_data()
        own = self.own_data()
        if own:
            out["tritonkit"] = own
        return out

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> ModelSpec:
        """A spec from its tritonkit.yaml entry (`to_dict`'s form); UsageError when it does not fit."""
        from tritonkit.model.messages import MessageDataError, fill_message
        from tritonkit.model.schema import new_config

        if not isinstance(data, dict) or "name" not in data:
            raise UsageError("a model entry is a mapping of ModelConfig fields with at least a 'name'")
        config = {k: v for k, v in data.items() if k != "tritonkit"}
        try:
            message = fill_message(config, new_config())
        except MessageDataError as exc:
            where = ".".join(str(p) for p in exc.path)
            raise UsageError(f"{where}: {exc.message}", hint=exc.hint) from exc
        return cls.from_message(message, data.get("tritonkit") or {})

    @classmethod
    def from_config_data(cls, data: dict[str, Any], own: dict[str, Any] | None = None) -> ModelSpec:
        """A spec holding exactly the ModelConfig `data` (normalized, as `messages.message_to_data` gives)."""
        rest = dict(data)
        own = own or {}
        platform, backend = str(rest.pop("platform", "")), str(rest.pop("backend", ""))
        kind = kind_of(platform, backend)
        batching = rest.pop("dynamic_batching", None)
        scheduling = rest.get("ensemble_scheduling")
        steps: list[EnsembleStepSpec] = []
        if kind == "ensemble" and scheduling and set(scheduling) == {"step"} and scheduling["step"]:
            steps = [EnsembleStepSpec.from_data(s) for s in rest.pop("ensemble_scheduling")["step"]]
        with trusted():
            spec = cls(
                name=str(rest.pop("name", "")),
                backend=kind,
                inputs=[TensorSpec.from_data(t) for t in rest.pop("input", [])],
                outputs=[TensorSpec.from_data(t) for t in rest.pop("output", [])],
                max_batch_size=int(rest.pop("max_batch_size", 0)),
                dynamic_batching=None if batching is None else DynamicBatchingSpec.from_data(batching),
                instance_groups=[InstanceGroupSpec.from_data(g) for g in rest.pop("instance_group", [])],
                version=int(own.get("version", 1)),
                python_variant=own.get("python_variant"),
                bls_target=own.get("bls_target"),
                steps=steps,
                parameters={str(k): str(v) for k, v in (rest.pop("parameters", None) or {}).items()},
                default_model_filename=rest.pop("default_model_filename", None) or None,
                extra=rest,
            )
        if spec.platform != platform:
            spec.explicit_platform = platform
        if spec.config_backend != backend:
            spec.explicit_backend = backend
        return spec

    def to_message(self) -> Any:
        """The `inference.ModelConfig` message this spec renders to."""
        from tritonkit.model.messages import fill_message
        from tritonkit.model.schema import new_config

        return fill_message(self.to_config_data(), new_config())

    @classmethod
    def from_message(cls, config: Any, own: dict[str, Any] | None = None) -> ModelSpec:
        """A spec holding exactly the ModelConfig message `config`."""
        from tritonkit.model.messages import message_to_data

        return cls.from_config_data(message_to_data(config), own)


# The ModelConfig fields each command owns: what it writes; every other field is kept as it was.
IO_FIELDS = ("platform", "backend", "max_batch_size", "input", "output")
ADD_FIELDS = (*IO_FIELDS, "ensemble_scheduling")
EXPORT_FIELDS = (*IO_FIELDS, "default_model_filename")  # export writes the model file the config names
_SCHEDULING_CHOICE = ("dynamic_batching", "sequence_batching", "ensemble_scheduling")


def owned_fields(base: tuple[str, ...], spec: ModelSpec) -> tuple[str, ...]:
    """`base`, plus the scheduling fields `spec` sets (flags given): flags not given change nothing."""
    extra = (("dynamic_batching",) if spec.dynamic_batching is not None else ()) + (
        ("instance_group",) if spec.instance_groups else ()
    )
    return (*base, *extra)


def merge_owned(old: ModelSpec, new: ModelSpec, owned: tuple[str, ...]) -> ModelSpec:
    """`new`'s `owned` ModelConfig fields over every other field of `old`; tritonkit's keys from `new`.

    Used by `export --next/--force` (owns IO), `add --force` (owns what its flags say) and
    `bench --sweep --apply`, so a re-export or re-scaffold keeps warmup, policies, tuning. Where
    `new` sets a scheduling choice (dynamic_batching, ...), `old`'s other choice goes: they are a oneof.
    """
    data = old.to_config_data()
    fresh = new.to_config_data()
    for key in owned:
        data.pop(key, None)
        if key in fresh:
            data[key] = fresh[key]
            if key in _SCHEDULING_CHOICE:
                for other in _SCHEDULING_CHOICE:
                    if other != key:
                        data.pop(other, None)
    data["name"] = new.name
    return ModelSpec.from_config_data(data, new.own_data())
