"""Instance-group rules: kinds, counts and GPU ids (Triton's ValidateInstanceGroup)."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from tritonkit.validate.engine import ModelContext, RepositoryContext
    from tritonkit.validate.findings import Finding

_KINDS = {0: "KIND_AUTO", 1: "KIND_GPU", 2: "KIND_CPU", 3: "KIND_MODEL"}


def check(model: ModelContext, repo: RepositoryContext) -> list[Finding]:
    config = model.config
    findings: list[Finding] = []
    names: dict[str, int] = {}
    for index, group in enumerate(config.instance_group):
        path = f"instance_group[{index}]"
        label = f"instance group {group.name!r}" if group.name else f"instance group {index}"
        kind = _KINDS.get(int(group.kind))
        if kind is None:
            findings.append(
                model.finding(
                    "error",
                    "instances.bad-kind",
                    f"{label} has unknown kind {group.kind}",
                    f"{path}.kind",
                    path,
                    hint="use KIND_CPU, KIND_GPU, KIND_AUTO or KIND_MODEL",
                )
            )
        if group.count < 0:
            findings.append(
                model.finding(
                    "warning",  # Triton loads it with its default count instead
                    "instances.bad-count",
                    f"{label} has count {group.count}; it must be >= 1",
                    f"{path}.count",
                    path,
                    hint="count is the number of model instances (Triton would silently use its default)",
                )
            )
        gpus = [int(g) for g in group.gpus]
        if gpus and kind in ("KIND_CPU", "KIND_MODEL"):
            findings.append(
                model.finding(
                    "error",
                    "instances.gpus-on-cpu",
                    f"{label} has kind {kind} but lists GPUs {gpus}",
                    f"{path}.gpus",
                    path,
                    hint="use kind: KIND_GPU, or remove gpus",
                )
            )
        negative = [g for g in gpus if g < 0]
        if negative:
            findings.append(
                model.finding(
                    "error",
                    "instances.bad-gpu",
                    f"{label} lists negative GPU id(s) {negative}",
                    f"{path}.gpus",
                    path,
                    hint="GPU ids are 0, 1, ... as nvidia-smi numbers them",
                )
            )
        duplicates = sorted({g for g in gpus if gpus.count(g) > 1})
        if duplicates:
            findings.append(
                model.finding(
                    "error",
                    "instances.duplicate-gpu",
                    f"{label} lists GPU id(s) {duplicates} more than once",
                    f"{path}.gpus",
                    path,
                    hint="raise count for more instances per GPU instead of repeating ids",
                )
            )
        if group.name:
            if group.name in names:
                findings.append(
                    model.finding(
                        "warning",  # Triton loads it; its logs and metrics then mix the two groups
                        "instances.duplicate-name",
                        f"instance group name {group.name!r} is used twice",
                        f"{path}.name",
                        path,
                    )
                )
            names[str(group.name)] = index
    return findings
