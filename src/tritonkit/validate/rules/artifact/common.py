"""The artifact family's rules, and the checks both model formats share (outputs against config dims)."""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from tritonkit.model.dtypes import config_type_name
from tritonkit.validate.findings import Family

if TYPE_CHECKING:
    from tritonkit.validate.context import ModelContext
    from tritonkit.validate.findings import Finding, Rule, Severity

FAMILY = Family("artifact", "model files (model.pt, .pt2, .onnx) against their config, by a dry run")
_NOTICED = "the backend's ValidateInputs/ValidateOutputs at load (pytorch_backend, onnxruntime_backend)"
_UNNOTICED = "none: the server does not notice it (PLATFORM.md); found only by running the model"
SKIPPED = FAMILY.rule(
    "skipped", "info", "model files not checked: torch or onnxruntime is not installed", mirrors="none"
)
CHECK_FAILED = FAMILY.rule(
    "check-failed", "warning", "the artifact check itself crashed (a tritonkit bug)", mirrors="none"
)
UNLOADABLE = FAMILY.rule(
    "unloadable",
    "error",
    "the model file does not load (torch.jit.load / onnxruntime)",
    mirrors="the backend's LoadModel in TRITONBACKEND_ModelInstanceInitialize",
)
INPUT_MISMATCH = FAMILY.rule(
    "input-mismatch",
    "error",
    "config inputs and model inputs do not match by name or index",
    mirrors=_NOTICED,
)
INPUT_ORDER = FAMILY.rule(
    "input-order",
    "warning",
    "inputs neither NAME__INDEX nor forward() names: passed in config order",
    mirrors="ModelInstanceState::SetInputTensors: config order (pytorch_backend/src/libtorch.cc)",
)
INPUT_TYPE = FAMILY.rule(
    "input-type", "error", "an input's data type differs from the model's", mirrors=_NOTICED
)
INPUT_RANK = FAMILY.rule("input-rank", "error", "an input's rank differs from the model's", mirrors=_NOTICED)
INPUT_SHAPE = FAMILY.rule(
    "input-shape", "error", "an input's fixed dims differ from the model's", mirrors=_NOTICED
)
OUTPUT_MISMATCH = FAMILY.rule(
    "output-mismatch", "error", "a config output the model does not produce", mirrors=_NOTICED
)
OUTPUT_TYPE = FAMILY.rule(
    "output-type", "error", "an output's data type differs from the model's", mirrors=_UNNOTICED
)
OUTPUT_RANK = FAMILY.rule(
    "output-rank", "error", "an output's rank differs from the model's", mirrors=_UNNOTICED
)
OUTPUT_SHAPE = FAMILY.rule(
    "output-shape", "error", "an output's dims differ from what the model gives", mirrors=_UNNOTICED
)
OUTPUT_UNLISTED = FAMILY.rule(
    "output-unlisted", "warning", "the model produces an output the config does not list", mirrors=_UNNOTICED
)
# A dry run feeds zero inputs of the configured shape: dims [25000000] at max_batch_size 16 took 3.5 GB and
# 19 s for one config. Above this many input elements in one call the dry run is skipped (the name, rank
# and type checks still run).
DRY_RUN_MAX_ELEMENTS = 1 << 22
DRY_RUN_SKIPPED = FAMILY.rule(
    "dry-run-skipped",
    "info",
    f"no dry run: the configured inputs hold more than {DRY_RUN_MAX_ELEMENTS:,} elements",
    mirrors="none",
)
DRY_RUN_FAILED = FAMILY.rule(
    "dry-run-failed",
    "error",
    "the model fails on zero inputs of the configured shapes",
    mirrors="none at load: the first request fails",
)


@dataclass
class Tensor:
    name: str
    data_type: str  # TYPE_FP32
    dims: list[int]  # config dims, batch dim excluded
    model_dims: list[int]  # what the model sees: the reshape when there is one


@dataclass
class Checks:
    """One model's config facts and the findings so far (each finding once)."""

    model: ModelContext
    max_batch_size: int
    inputs: list[Tensor]
    outputs: list[Tensor]
    findings: list[Finding] = field(default_factory=list)

    def add(
        self,
        rule: Rule,
        message: str,
        *,
        hint: str | None = None,
        file: str | None = None,
        path: tuple[str, ...] = (),
        severity: Severity | None = None,
    ) -> None:
        finding = self.model.finding(rule, message, *path, hint=hint, file=file, severity=severity)
        if finding not in self.findings:
            self.findings.append(finding)

    @property
    def batch_sizes(self) -> list[int | None]:
        """The dry run's batch sizes (None: no batch dim), those above DRY_RUN_MAX_ELEMENTS left out."""
        sizes: list[int | None] = [None]
        if self.max_batch_size > 0:
            sizes = [*sorted({1, self.max_batch_size})]
        kept = [b for b in sizes if self.elements(b) <= DRY_RUN_MAX_ELEMENTS]
        if len(kept) < len(sizes):
            big = next(b for b in sizes if b not in kept)
            where = f"at batch {big}" if big else "at the configured shapes"
            self.add(
                DRY_RUN_SKIPPED,
                f"dry run {where} skipped: {self.elements(big):,} input elements "
                f"(above {DRY_RUN_MAX_ELEMENTS:,})",
            )
        return kept

    def elements(self, batch: int | None) -> int:
        """How many input elements one dry-run call at `batch` allocates."""
        return sum(math.prod(zeros_shape(t, batch)) for t in self.inputs)


def tensors(items: Any) -> list[Tensor]:
    out = []
    for t in items:
        reshape = list(t.reshape.shape) if t.HasField("reshape") else None
        dims = [int(d) for d in t.dims]
        out.append(Tensor(t.name, config_type_name(t.data_type), dims, dims if reshape is None else reshape))
    return out


_INDEXED = re.compile(r"^.+__(\d+)$")


def indexed_positions(names: list[str]) -> list[int] | None:
    """The NAME__INDEX numbers of `names` when every one has one (how the PyTorch backend maps tensors to
    forward arguments and results), else None."""
    matches = [_INDEXED.match(n) for n in names]
    if not names or not all(matches):
        return None
    return [int(m.group(1)) for m in matches if m]


def zeros_shape(t: Tensor, batch: int | None, variable: int = 1) -> list[int]:
    """The dry run's shape of `t`: `variable` where the config has -1, the batch dim first when batching."""
    dims = [variable if d == -1 else d for d in t.model_dims]
    return dims if batch is None else [batch, *dims]


def check_output(
    ctx: Checks, index: int, t: Tensor, shape: list[int], data_type: str | None, batch: int | None
) -> None:
    """What the model gave for output `t` at `batch` against the config's type and dims."""
    where = ("output", f"output[{index}].dims", f"output[{index}]")
    if data_type is not None and data_type != t.data_type:
        ctx.add(
            OUTPUT_TYPE,
            f"output {t.name!r}: the model gives {data_type}, the config says {t.data_type}",
            hint=f"set data_type: {data_type} (or re-export with `tritonkit export`)",
            path=(f"output[{index}].data_type", f"output[{index}]"),
        )
    if batch is not None:
        if not shape or shape[0] != batch:
            ctx.add(
                OUTPUT_SHAPE,
                f"output {t.name!r}: the model gives shape {shape} for a batch of {batch}; "
                "its first dim is not the batch dim",
                hint="set max_batch_size: 0 if the model does not batch",
                path=where,
            )
            return
        shape = shape[1:]
    if len(shape) != len(t.dims):
        ctx.add(
            OUTPUT_RANK,
            f"output {t.name!r}: the model gives rank {len(shape)} {shape}, the config dims {t.dims} "
            f"have rank {len(t.dims)}" + (" (batch dim excluded)" if batch is not None else ""),
            hint=f"set dims: [ {', '.join(map(str, shape))} ]",
            path=where,
        )
        return
    wrong = [i for i, (d, s) in enumerate(zip(t.dims, shape, strict=True)) if d != -1 and d != s]
    if wrong:
        ctx.add(
            OUTPUT_SHAPE,
            f"output {t.name!r}: the model gives dims {shape}, the config says {t.dims} "
            "(the server would not notice)",
            hint=f"set dims: [ {', '.join(map(str, shape))} ]",
            path=where,
        )


def unlisted(ctx: Checks, names: list[str]) -> None:
    for name in names:
        ctx.add(
            OUTPUT_UNLISTED,
            f"the model produces an output {name!r} the config does not list (the server drops it silently)",
            hint="add it to the config's outputs if clients need it",
            path=("output",),
        )


def dry_run_failed(ctx: Checks, exc: BaseException, label: str, shown: str) -> None:
    text = str(exc).strip()
    # TorchScript errors carry the Python traceback; the last line holds the cause.
    lines = [ln.strip() for ln in text.splitlines() if ln.strip()]
    cause = lines[-1] if lines else type(exc).__name__
    shapes = ", ".join(
        f"{t.name} {t.data_type.removeprefix('TYPE_')}{zeros_shape(t, None)}" for t in ctx.inputs
    )
    ctx.add(
        DRY_RUN_FAILED,
        f"the model fails on zero inputs of the configured shapes ({label}; {shapes}): {cause[:300]}",
        hint="the config's dims or data types do not fit the model; `tritonkit export` infers them",
        file=shown,
    )


def first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__
