"""Batching rules: dynamic batching (preferred sizes, priorities, queue policies, preserve_ordering)
and sequence batching (control tensors), after Triton's ValidateModelConfig."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from tritonkit.model.dtypes import config_type_name

if TYPE_CHECKING:
    from tritonkit.validate.engine import ModelContext, RepositoryContext
    from tritonkit.validate.findings import Finding

_DELAY = 1  # ModelQueuePolicy.TimeoutAction.DELAY
_CONTROL_KINDS = {0: "CONTROL_SEQUENCE_START", 1: "CONTROL_SEQUENCE_READY", 2: "CONTROL_SEQUENCE_END",
                  3: "CONTROL_SEQUENCE_CORRID"}  # fmt: skip
_CORRID_TYPES = ("TYPE_UINT64", "TYPE_INT64", "TYPE_UINT32", "TYPE_INT32", "TYPE_STRING")


def check(model: ModelContext, repo: RepositoryContext) -> list[Finding]:
    config = model.config
    findings: list[Finding] = []
    if config.HasField("dynamic_batching"):
        findings.extend(_dynamic(model, config))
    if config.HasField("sequence_batching"):
        findings.extend(_sequence(model, config))
    return findings


def _preferred_sizes(model: ModelContext, sizes: Any, max_batch: int, where: str) -> list[Finding]:
    bad = [int(s) for s in sizes if s < 1 or s > max_batch]
    if not bad:
        return []
    return [
        model.finding(
            "error",
            "batching.preferred-size",
            f"preferred_batch_size {bad} must be between 1 and max_batch_size ({max_batch})",
            f"{where}.preferred_batch_size",
            where,
            hint="raise max_batch_size or drop those preferred sizes",
        )
    ]


def _dynamic(model: ModelContext, config: Any) -> list[Finding]:
    findings: list[Finding] = []
    batcher = config.dynamic_batching
    where = "dynamic_batching[0]"
    max_batch = int(config.max_batch_size)
    if max_batch == 0 and not model.is_ensemble:
        findings.append(
            model.finding(
                "warning",
                "batching.dynamic-without-batching",
                "dynamic_batching is set but max_batch_size is 0, so requests are never batched together",
                where,
                "dynamic_batching",
                hint="set max_batch_size > 0 (and drop the batch dim from dims), or remove dynamic_batching",
            )
        )
    findings.extend(_preferred_sizes(model, batcher.preferred_batch_size, max_batch, where))
    levels = int(batcher.priority_levels)
    if levels:
        default = int(batcher.default_priority_level)
        if default < 1 or default > levels:
            findings.append(
                model.finding(
                    "error",
                    "batching.priority-level",
                    f"default_priority_level {default} must be between 1 and priority_levels ({levels})",
                    f"{where}.default_priority_level",
                    f"{where}.priority_levels",
                    where,
                )
            )
        for level in sorted(batcher.priority_queue_policy):
            if level < 1 or level > levels:
                findings.append(
                    model.finding(
                        "error",
                        "batching.priority-queue-policy",
                        f"priority_queue_policy for level {level} is outside 1..priority_levels ({levels})",
                        f"{where}.priority_queue_policy",
                        where,
                    )
                )
    elif batcher.priority_queue_policy or batcher.default_priority_level:
        findings.append(
            model.finding(
                "warning",
                "batching.priority-level",
                "default_priority_level / priority_queue_policy are set but priority_levels is 0, so they "
                "have no effect",
                f"{where}.priority_queue_policy",
                f"{where}.default_priority_level",
                where,
                hint="set priority_levels",
            )
        )
    policies = (
        [("default_queue_policy", batcher.default_queue_policy)]
        if batcher.HasField("default_queue_policy")
        else []
    )
    policies += [(f"priority_queue_policy[{k}]", v) for k, v in sorted(batcher.priority_queue_policy.items())]
    for label, policy in policies:
        if (
            batcher.preserve_ordering
            and policy.default_timeout_microseconds != 0
            and policy.timeout_action == _DELAY
        ):
            findings.append(
                model.finding(
                    "error",
                    "batching.preserve-ordering",
                    f"{label} uses timeout_action DELAY, which preserve_ordering does not allow",
                    f"{where}.{label.split('[')[0]}",
                    f"{where}.preserve_ordering",
                    where,
                    hint="use timeout_action REJECT or turn preserve_ordering off",
                )
            )
    if batcher.preserve_ordering and levels > 1:
        findings.append(
            model.finding(
                "error",
                "batching.preserve-ordering",
                f"preserve_ordering allows only one priority level, got priority_levels {levels}",
                f"{where}.preserve_ordering",
                where,
                hint="set priority_levels to 0 or 1, or turn preserve_ordering off",
            )
        )
    return findings


def _sequence(model: ModelContext, config: Any) -> list[Finding]:
    findings: list[Finding] = []
    batcher = config.sequence_batching
    where = "sequence_batching[0]"
    if batcher.HasField("oldest"):
        findings.extend(
            _preferred_sizes(model, batcher.oldest.preferred_batch_size, int(config.max_batch_size), where)
        )
    kinds_seen: dict[int, str] = {}
    names_seen: set[str] = set()
    inputs = {str(t.name) for t in config.input}
    for index, control_input in enumerate(batcher.control_input):
        path = f"{where}.control_input[{index}]"
        name = str(control_input.name)
        if not name:
            findings.append(
                model.finding(
                    "error", "batching.sequence-control-name", f"control_input {index} has no name", path
                )
            )
        elif name in names_seen:
            findings.append(
                model.finding(
                    "error",
                    "batching.sequence-control-duplicate",
                    f"control tensor {name!r} is named twice",
                    path,
                )
            )
        elif name in inputs:
            findings.append(
                model.finding(
                    "warning",  # Triton loads it; the batcher's value and the client's then compete
                    "batching.sequence-control-duplicate",
                    f"control tensor {name!r} is also declared as a model input",
                    path,
                    hint="control tensors are supplied by the sequence batcher: remove it from input",
                )
            )
        names_seen.add(name)
        if not control_input.control:
            findings.append(
                model.finding(
                    "error", "batching.sequence-control-kind", f"control_input {name!r} has no control", path
                )
            )
        for control in control_input.control:
            kind = _CONTROL_KINDS.get(int(control.kind))
            if kind is None:
                findings.append(
                    model.finding(
                        "error",
                        "batching.sequence-control-kind",
                        f"control {name!r} has unknown kind {control.kind}",
                        path,
                    )
                )
                continue
            if int(control.kind) in kinds_seen:
                findings.append(
                    model.finding(
                        "error",
                        "batching.sequence-control-duplicate",
                        f"{kind} is given twice (tensors {kinds_seen[int(control.kind)]!r} and {name!r})",
                        path,
                    )
                )
            kinds_seen[int(control.kind)] = name
            findings.extend(_control(model, path, name, kind, control))
    for index, state in enumerate(batcher.state):
        findings.extend(_state(model, f"{where}.state[{index}]", index, state, inputs))
    return findings


def _state(model: ModelContext, path: str, index: int, state: Any, inputs: set[str]) -> list[Finding]:
    """Implicit state (stateful models): names, type and dims."""
    problems = []
    if not state.input_name or not state.output_name:
        problems.append("needs both input_name and output_name")
    if state.data_type == 0:
        problems.append("needs a data_type")
    dims = [int(d) for d in state.dims]
    if not dims:
        problems.append("needs dims")
    elif any(d < 1 and d != -1 for d in dims):
        problems.append(f"has a dim below 1 in {dims} (use -1 for a variable size)")
    if state.input_name and state.input_name in inputs:
        problems.append(f"input_name {state.input_name!r} is also a model input")
    # Triton's core loads these (the agreement test shows it); the backends that keep implicit state
    # (ONNX Runtime, TensorRT) need all of it, so a warning rather than an error.
    return [
        model.finding(
            "warning",
            "batching.sequence-state",
            f"sequence_batching state {state.input_name or index!r} {problem}",
            path,
            hint="state { input_name: ... output_name: ... data_type: ... dims: [ ... ] }",
        )
        for problem in problems
    ]


def _control(model: ModelContext, path: str, name: str, kind: str, control: Any) -> list[Finding]:
    pairs = {
        "int32_false_true": len(control.int32_false_true),
        "fp32_false_true": len(control.fp32_false_true),
        "bool_false_true": len(control.bool_false_true),
    }
    given = {k: n for k, n in pairs.items() if n}
    if kind == "CONTROL_SEQUENCE_CORRID":
        if given:
            return [
                model.finding(
                    "error",
                    "batching.sequence-control-false-true",
                    f"{kind} control {name!r} takes a data_type, not {', '.join(given)}",
                    path,
                )
            ]
        if config_type_name(control.data_type) not in _CORRID_TYPES:
            return [
                model.finding(
                    "error",
                    "batching.sequence-corrid-type",
                    f"{kind} control {name!r} has data_type {config_type_name(control.data_type)}; "
                    f"it must be one of {', '.join(_CORRID_TYPES)}",
                    path,
                )
            ]
        return []
    if not given:
        return [
            model.finding(
                "error",
                "batching.sequence-control-false-true",
                f"{kind} control {name!r} needs int32_false_true, fp32_false_true or bool_false_true",
                path,
                hint="e.g. int32_false_true: [ 0, 1 ]",
            )
        ]
    if len(given) > 1:
        return [
            model.finding(
                "error",
                "batching.sequence-control-false-true",
                f"{kind} control {name!r} sets {' and '.join(given)}; give only one",
                path,
            )
        ]
    field, count = next(iter(given.items()))
    if count != 2:
        return [
            model.finding(
                "error",
                "batching.sequence-control-false-true",
                f"{kind} control {name!r}: {field} needs exactly 2 values (false, true), got {count}",
                path,
            )
        ]
    if control.data_type:
        return [
            model.finding(
                "warning",
                "batching.sequence-control-false-true",
                f"{kind} control {name!r} sets data_type, which only CONTROL_SEQUENCE_CORRID uses",
                path,
            )
        ]
    return []
