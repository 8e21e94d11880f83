"""The parts of a model spec: tensors, dynamic batching, instance groups, ensemble steps.

Each holds the fields tritonkit's commands edit, typed, and the rest of its protobuf message in
`extra` (plain data under the protobuf field names), so nothing a config holds is lost.
"""

from __future__ import annotations

import contextlib
import contextvars
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

from tritonkit.errors import UsageError
from tritonkit.model.dtypes import BY_CONFIG, parse_dtype

INSTANCE_KINDS = ("KIND_AUTO", "KIND_CPU", "KIND_GPU", "KIND_MODEL")
_TRUSTED: contextvars.ContextVar[bool] = contextvars.ContextVar("tritonkit_spec_trusted", default=False)


@contextlib.contextmanager
def trusted() -> Iterator[None]:
    """Build specs from a config or spec file: keep every value as it is, check nothing."""
    token = _TRUSTED.set(True)
    try:
        yield
    finally:
        _TRUSTED.reset(token)


def _enum_data(value: str) -> str | int:
    """An enum value as plain data: its name, or the number a config gave that has no name."""
    return int(value) if value.lstrip("-").isdigit() else value


def _checking() -> bool:
    return not _TRUSTED.get()


@dataclass
class TensorSpec:
    """One input or output: name, config data type (TYPE_FP32), dims without the batch dim.

    `extra` holds the other ModelInput/ModelOutput fields (format, is_shape_tensor, label_filename...).
    """

    name: str
    data_type: str
    dims: list[int]
    reshape: list[int] | None = None
    optional: bool = False
    extra: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if not _checking():
            return
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

    def to_data(self) -> dict[str, Any]:
        """ModelInput / ModelOutput fields as plain data."""
        out: dict[str, Any] = {"name": self.name}
        if self.data_type and self.data_type != "TYPE_INVALID":
            out["data_type"] = _enum_data(self.data_type)
        out["dims"] = list(self.dims)
        if self.reshape is not None:
            out["reshape"] = {"shape": list(self.reshape)} if self.reshape else {}
        if self.optional:
            out["optional"] = True
        out.update(self.extra)
        return out

    @classmethod
    def from_data(cls, data: dict[str, Any]) -> TensorSpec:
        rest = dict(data)
        reshape = rest.pop("reshape", None)
        with trusted():
            return cls(
                name=str(rest.pop("name", "")),
                data_type=str(rest.pop("data_type", "TYPE_INVALID")),
                dims=[int(d) for d in rest.pop("dims", [])],
                reshape=None if reshape is None else [int(d) for d in (reshape or {}).get("shape", [])],
                optional=bool(rest.pop("optional", False)),
                extra=rest,
            )


def parse_dims(text: str) -> list[int]:
    """`3,224,224` / `-1,16` / `[1, 2]` -> list of ints; each >= 1 or -1."""
    cleaned = text.strip().strip("[]()").replace("x", ",").replace(" ", "")
    if not cleaned:
        raise UsageError("empty dims", hint="give dims like 3,224,224 or -1,16")
    try:
        dims = [int(d) for d in cleaned.split(",") if d != ""]
    except ValueError as exc:
        raise UsageError(
            f"bad dims {text!r}", hint="give comma-separated integers, -1 for a variable dim"
        ) from exc
    for d in dims:
        if d < 1 and d != -1:
            raise UsageError(f"bad dim {d} in {text!r}", hint="every dim is >= 1, or -1 for a variable dim")
    return dims


@dataclass
class DynamicBatchingSpec:
    """dynamic_batching { preferred_batch_size, max_queue_delay_microseconds, preserve_ordering, ... }."""

    preferred_batch_sizes: list[int] = field(default_factory=list)
    max_queue_delay_microseconds: int = 0
    preserve_ordering: bool = False
    extra: dict[str, Any] = field(default_factory=dict)  # priority levels, queue policies

    def to_data(self) -> dict[str, Any]:
        out: dict[str, Any] = {}
        if self.preferred_batch_sizes:
            out["preferred_batch_size"] = list(self.preferred_batch_sizes)
        if self.max_queue_delay_microseconds:
            out["max_queue_delay_microseconds"] = self.max_queue_delay_microseconds
        if self.preserve_ordering:
            out["preserve_ordering"] = True
        out.update(self.extra)
        return out

    @classmethod
    def from_data(cls, data: dict[str, Any]) -> DynamicBatchingSpec:
        rest = dict(data)
        return cls(
            preferred_batch_sizes=[int(x) for x in rest.pop("preferred_batch_size", [])],
            max_queue_delay_microseconds=int(rest.pop("max_queue_delay_microseconds", 0)),
            preserve_ordering=bool(rest.pop("preserve_ordering", False)),
            extra=rest,
        )


@dataclass
class InstanceGroupSpec:
    """instance_group { count, kind, gpus, ... }; `extra` holds name, rate_limiter, host_policy..."""

    count: int = 1
    kind: str = "KIND_CPU"
    gpus: list[int] = field(default_factory=list)
    extra: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if not _checking():
            return
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

    @classmethod
    def parse(cls, text: str) -> InstanceGroupSpec:
        """`kind=gpu,count=2,gpus=0:1` (the value of a repeatable --instance-group flag)."""
        values: dict[str, str] = {}
        for part in text.split(","):
            key, sep, value = part.partition("=")
            key = key.strip().lower()
            if not sep or key not in ("kind", "count", "gpus") or key in values:
                raise UsageError(
                    f"bad --instance-group {text!r}", hint="write kind=gpu,count=2,gpus=0:1 (each key once)"
                )
            values[key] = value.strip()
        try:
            count = int(values.get("count", "1"))
            gpus = [int(g) for g in values.get("gpus", "").split(":") if g.strip()]
        except ValueError as exc:
            raise UsageError(f"bad --instance-group {text!r}", hint="count and gpus are integers") from exc
        kind = values.get("kind") or ("gpu" if gpus else "cpu")
        return cls(count=count, kind=kind, gpus=gpus)

    def to_data(self) -> dict[str, Any]:
        out: dict[str, Any] = {}
        if self.count:
            out["count"] = self.count
        out["kind"] = _enum_data(self.kind)
        if self.gpus:
            out["gpus"] = list(self.gpus)
        out.update(self.extra)
        return out

    @classmethod
    def from_data(cls, data: dict[str, Any]) -> InstanceGroupSpec:
        rest = dict(data)
        with trusted():
            return cls(
                count=int(rest.pop("count", 0)),
                kind=str(rest.pop("kind", "KIND_AUTO")),
                gpus=[int(g) for g in rest.pop("gpus", [])],
                extra=rest,
            )


def scheduling_from_flags(
    *,
    dynamic_batching: bool = False,
    preferred_batch_sizes: list[int] | None = None,
    max_queue_delay_us: int | None = None,
    instances: int | None = None,
    kind: str = "cpu",
    gpus: str | None = None,
    instance_groups: list[str] | None = None,
) -> tuple[DynamicBatchingSpec | None, list[InstanceGroupSpec]]:
    """The dynamic batcher and instance groups that `add`/`export` flags ask for (None / [] when unset).

    A preferred size or a queue delay implies dynamic batching; an instance count, GPU ids or a
    kind other than cpu make one instance group; each `--instance-group kind=..,count=..,gpus=..`
    makes one more (mixing both forms is refused: which would come first is a guess).
    """
    batching = None
    if dynamic_batching or preferred_batch_sizes or max_queue_delay_us is not None:
        batching = DynamicBatchingSpec(list(preferred_batch_sizes or []), max_queue_delay_us or 0)
    gpu_ids: list[int] = []
    if gpus:
        try:
            gpu_ids = [int(g) for g in gpus.split(",") if g.strip()]
        except ValueError as exc:
            raise UsageError(f"bad --gpus {gpus!r}", hint="give GPU ids like 0,1") from exc
    groups = []
    if instances is not None or gpu_ids or kind != "cpu":
        groups.append(
            InstanceGroupSpec(count=instances if instances is not None else 1, kind=kind, gpus=gpu_ids)
        )
    if instance_groups:
        if groups:
            raise UsageError(
                "give --instance-group or --instances/--kind/--gpus, not both",
                hint="write each group as --instance-group kind=gpu,count=2,gpus=0:1",
            )
        groups = [InstanceGroupSpec.parse(text) for text in instance_groups]
    return batching, groups


@dataclass
class EnsembleStepSpec:
    """One ensemble step: member model, input_map and output_map (member tensor -> ensemble tensor)."""

    model_name: str
    model_version: int = -1
    input_map: dict[str, str] = field(default_factory=dict)
    output_map: dict[str, str] = field(default_factory=dict)
    extra: dict[str, Any] = field(default_factory=dict)  # model_namespace

    def to_data(self) -> dict[str, Any]:
        out: dict[str, Any] = {"model_name": self.model_name, "model_version": self.model_version}
        if self.input_map:
            out["input_map"] = dict(self.input_map)
        if self.output_map:
            out["output_map"] = dict(self.output_map)
        out.update(self.extra)
        return out

    @classmethod
    def from_data(cls, data: dict[str, Any]) -> EnsembleStepSpec:
        rest = dict(data)
        return cls(
            model_name=str(rest.pop("model_name", "")),
            model_version=int(rest.pop("model_version", 0)),
            input_map={str(k): str(v) for k, v in (rest.pop("input_map", None) or {}).items()},
            output_map={str(k): str(v) for k, v in (rest.pop("output_map", None) or {}).items()},
            extra=rest,
        )
