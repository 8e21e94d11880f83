"""Instance-group rules: kinds, counts and GPU ids (Triton's ValidateInstanceGroup)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from tritonkit.validate.findings import Family

if TYPE_CHECKING:
    from tritonkit.validate.context import ModelContext, RepositoryContext
    from tritonkit.validate.findings import Finding, Severity

FAMILY = Family("instances", "instance groups: kinds, counts, GPU ids")
_GROUPS = "ValidateInstanceGroup / NormalizeInstanceGroup (core/src/model_config_utils.cc)"
BAD_KIND = FAMILY.rule(
    "bad-kind", "error", "an instance group kind the schema does not have", mirrors=_GROUPS
)
BAD_COUNT = FAMILY.rule(
    "bad-count", "warning", "an instance count below 1 (the server uses its default)", mirrors=_GROUPS
)
GPUS_ON_CPU = FAMILY.rule(
    "gpus-on-cpu", "error", "GPU ids on a KIND_CPU or KIND_MODEL group", mirrors=_GROUPS
)
BAD_GPU = FAMILY.rule("bad-gpu", "error", "a negative GPU id", mirrors=_GROUPS)
DUPLICATE_GPU = FAMILY.rule(
    "duplicate-gpu",
    "warning",
    "a GPU id listed twice in one group (twice the instances there)",
    mirrors=_GROUPS,
)
GPU_UNAVAILABLE = FAMILY.rule(
    "gpu-unavailable",
    "error",
    "a GPU id the machine does not have, or KIND_GPU on a machine without GPUs (with --gpus N; "
    "a warning for ids above 0 without it)",
    mirrors="ValidateInstanceGroup against GetSupportedGPUs (core/src/model_config_utils.cc)",
)
PROFILE = FAMILY.rule(
    "profile",
    "error",
    "an instance group profile on a model that is not TensorRT, or not an integer",
    mirrors=_GROUPS,
)
DUPLICATE_NAME = FAMILY.rule(
    "duplicate-name", "warning", "two instance groups with one name", mirrors="none: the server loads it"
)

_KINDS = {0: "KIND_AUTO", 1: "KIND_GPU", 2: "KIND_CPU", 3: "KIND_MODEL"}


def check(model: ModelContext, repo: RepositoryContext) -> list[Finding]:
    findings: list[Finding] = []
    names: dict[str, int] = {}
    for index, group in enumerate(model.config.instance_group):
        kind = _KINDS.get(group.kind)
        gpus = group.gpus[:]
        profiles = group.profile[:]
        # The common group (a known kind, count >= 0, no GPU list or one of distinct ids >= 0, no profile) is
        # decided on plain reads; its path and label are formatted only for a finding.
        plain = kind is not None and group.count >= 0 and not profiles
        if plain and gpus:
            plain = kind in ("KIND_GPU", "KIND_AUTO") and min(gpus) >= 0 and len(set(gpus)) == len(gpus)
        if plain and kind == "KIND_GPU":  # what _gpu_ids tells: no GPU (--gpus 0), or ids it lacks
            limit = 1 if repo.gpus is None else repo.gpus  # without --gpus, ids above 0 are warned about
            plain = limit > 0 and (not gpus or max(gpus) < limit)
        if not plain:
            findings.extend(_group(model, repo, index, group, kind, gpus, [str(p) for p in profiles]))
        name = group.name
        if name:
            if name in names:
                path = f"instance_group[{index}]"
                findings.append(
                    model.finding(
                        DUPLICATE_NAME,  # Triton loads it; its logs and metrics then mix the two groups
                        f"instance group name {name!r} is used twice",
                        f"{path}.name",
                        path,
                    )
                )
            names[name] = index
    return findings


def _group(
    model: ModelContext, repo: RepositoryContext, index: int, group: Any, kind: str | None, gpus: list[int],
    profiles: list[str],
) -> list[Finding]:  # fmt: skip
    """The findings of one instance group but its name's (`check` tells duplicate names)."""
    findings: list[Finding] = []
    path = f"instance_group[{index}]"
    label = f"instance group {group.name!r}" if group.name else f"instance group {index}"
    if kind is None:
        findings.append(
            model.finding(
                BAD_KIND,
                f"{label} has unknown kind {group.kind}",
                f"{path}.kind",
                path,
                hint="use KIND_CPU, KIND_GPU, KIND_AUTO or KIND_MODEL",
            )
        )
    if group.count < 0:
        findings.append(
            model.finding(
                BAD_COUNT,  # Triton loads it with its default count instead
                f"{label} has count {group.count}; it must be >= 1",
                f"{path}.count",
                path,
                hint="count is the number of model instances (Triton would silently use its default)",
            )
        )
    if gpus and kind in ("KIND_CPU", "KIND_MODEL"):
        findings.append(
            model.finding(
                GPUS_ON_CPU,
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
                BAD_GPU,
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
                DUPLICATE_GPU,
                f"{label} lists GPU id(s) {duplicates} more than once",
                f"{path}.gpus",
                path,
                hint="raise count for more instances per GPU instead of repeating ids",
            )
        )
    if kind == "KIND_GPU":
        findings.extend(_gpu_ids(model, repo.gpus, label, path, gpus))
    if profiles and model.platform != "tensorrt_plan":
        findings.append(
            model.finding(
                PROFILE, f"{label} sets profile, which only TensorRT models take", f"{path}.profile", path
            )
        )
    elif any(not (p.isdigit() and p.isascii()) for p in profiles):
        findings.append(
            model.finding(
                PROFILE,
                f"{label} has profile {profiles}; each must be an integer >= 0",
                f"{path}.profile",
            )
        )
    return findings


def _gpu_ids(model: ModelContext, count: int | None, label: str, path: str, gpus: list[int]) -> list[Finding]:
    """KIND_GPU against the machine's GPUs: errors when --gpus gives their count, else a warning for ids the
    machine may lack (any GPU machine has GPU 0)."""
    where = (f"{path}.gpus", f"{path}.kind", path)
    if count == 0:
        return [
            model.finding(
                GPU_UNAVAILABLE,
                f"{label} has kind KIND_GPU but the machine has no GPU (--gpus 0)",
                *where,
                hint="use kind: KIND_CPU (or KIND_AUTO, which falls back to the CPU)",
            )
        ]
    if count is not None:
        missing = sorted({g for g in gpus if g >= count})
        severity: Severity = "error"
    else:
        missing = sorted({g for g in gpus if g > 0})
        severity = "warning"
    if not missing:
        return []
    return [
        model.finding(
            GPU_UNAVAILABLE,
            f"{label} lists GPU id(s) {missing}, "
            + (f"but the machine has {count} GPU(s)" if count is not None else "which this check cannot see")
            + ("" if count is not None else " (give --gpus N to check them)"),
            *where,
            hint="GPU ids count from 0 as nvidia-smi numbers them",
            severity=severity,
        )
    ]
