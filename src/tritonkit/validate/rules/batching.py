"""Batching rules: dynamic batching (preferred sizes, priorities, queue policies, preserve_ordering)
and sequence batching (control tensors), after Triton's ValidateModelConfig."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from tritonkit.model.dtypes import config_type_name
from tritonkit.validate.findings import Family

if TYPE_CHECKING:
    from tritonkit.validate.context import ModelContext, RepositoryContext
    from tritonkit.validate.findings import Finding

FAMILY = Family("batching", "dynamic and sequence batching")
_MC = "ValidateModelConfig (core/src/model_config_utils.cc)"
_SEQ = (
    "GetBooleanSequenceControlProperties / GetTypedSequenceControlProperties (core/src/model_config_utils.cc)"
)
PREFERRED_SIZE = FAMILY.rule(
    "preferred-size", "error", "a preferred batch size outside 1..max_batch_size", mirrors=_MC
)
DYNAMIC_WITHOUT_BATCHING = FAMILY.rule(
    "dynamic-without-batching",
    "warning",
    "dynamic_batching on a model with max_batch_size 0",
    mirrors="none: the server loads it and never batches",
)
PRIORITY_LEVEL = FAMILY.rule(
    "priority-level", "error", "default_priority_level outside 1..priority_levels", mirrors=_MC
)
PRIORITY_UNUSED = FAMILY.rule(
    "priority-unused", "warning", "priority settings without priority_levels", mirrors="none: no effect"
)
PRIORITY_QUEUE_POLICY = FAMILY.rule(
    "priority-queue-policy", "error", "a priority_queue_policy level outside 1..priority_levels", mirrors=_MC
)
PRESERVE_ORDERING = FAMILY.rule(
    "preserve-ordering", "error", "preserve_ordering with priorities or a DELAY timeout action", mirrors=_MC
)
SEQUENCE_CONTROL_NAME = FAMILY.rule(
    "sequence-control-name", "error", "a sequence control_input without a name", mirrors=_SEQ
)
SEQUENCE_CONTROL_DUPLICATE = FAMILY.rule(
    "sequence-control-duplicate", "error", "a control tensor or control kind given twice", mirrors=_SEQ
)
SEQUENCE_CONTROL_INPUT = FAMILY.rule(
    "sequence-control-input",
    "warning",
    "a control tensor also declared as a model input",
    mirrors="none: the server loads it",
)
SEQUENCE_CONTROL_KIND = FAMILY.rule(
    "sequence-control-kind",
    "warning",
    "a sequence control of a kind the schema does not have (the server ignores it)",
    mirrors="Get*SequenceControlProperties look for the known kinds only (core/src/model_config_utils.cc)",
)
SEQUENCE_CONTROL_EMPTY = FAMILY.rule(
    "sequence-control-empty",
    "warning",
    "a control_input without any control (the server ignores it)",
    mirrors="GetBooleanSequenceControlProperties skips it (core/src/model_config_utils.cc)",
)
SEQUENCE_STATE = FAMILY.rule(
    "sequence-state",
    "warning",
    "an implicit state without names, type or dims, or named like an input",
    mirrors="none in core: the backends that keep state (onnxruntime, tensorrt) need all of it",
)
SEQUENCE_CONTROL_FALSE_TRUE = FAMILY.rule(
    "sequence-control-false-true",
    "error",
    "a boolean control without exactly one false/true pair",
    mirrors=_SEQ,
)
SEQUENCE_CONTROL_DATA_TYPE = FAMILY.rule(
    "sequence-control-data-type",
    "warning",
    "data_type on a control other than CORRID",
    mirrors="none: GetBooleanSequenceControlProperties ignores it",
)
SEQUENCE_CORRID_TYPE = FAMILY.rule(
    "sequence-corrid-type",
    "error",
    "a CORRID control with a type other than (U)INT32/64 or STRING",
    mirrors=_MC,
)

_DELAY = 1  # ModelQueuePolicy.TimeoutAction.DELAY
_CONTROL_KINDS = {0: "CONTROL_SEQUENCE_START", 1: "CONTROL_SEQUENCE_READY", 2: "CONTROL_SEQUENCE_END",
                  3: "CONTROL_SEQUENCE_CORRID"}  # fmt: skip
_CORRID_TYPES = ("TYPE_UINT64", "TYPE_INT64", "TYPE_UINT32", "TYPE_INT32", "TYPE_STRING")


def check(model: ModelContext, repo: RepositoryContext) -> list[Finding]:
    config = model.config
    findings: list[Finding] = []
    scheduling = model.scheduling  # dynamic and sequence batching are one oneof: at most one is set
    if scheduling == "dynamic_batching":
        findings.extend(_dynamic(model, config))
    elif scheduling == "sequence_batching":
        findings.extend(_sequence(model, config))
    return findings


def _preferred_sizes(model: ModelContext, sizes: Any, max_batch: int, where: str) -> list[Finding]:
    sizes = sizes[:]  # a list in one call
    if not sizes or (min(sizes) >= 1 and max(sizes) <= max_batch):
        return []
    bad = [int(s) for s in sizes if s < 1 or s > max_batch]
    return [
        model.finding(
            PREFERRED_SIZE,
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
                DYNAMIC_WITHOUT_BATCHING,
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
                    PRIORITY_LEVEL,
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
                        PRIORITY_QUEUE_POLICY,
                        f"priority_queue_policy for level {level} is outside 1..priority_levels ({levels})",
                        f"{where}.priority_queue_policy",
                        where,
                    )
                )
    elif batcher.priority_queue_policy or batcher.default_priority_level:
        findings.append(
            model.finding(
                PRIORITY_UNUSED,
                "default_priority_level / priority_queue_policy are set but priority_levels is 0, so they "
                "have no effect",
                f"{where}.priority_queue_policy",
                f"{where}.default_priority_level",
                where,
                hint="set priority_levels",
            )
        )
    if not batcher.preserve_ordering:  # the queue policies and levels matter below only with it
        return findings
    policies = (
        [("default_queue_policy", batcher.default_queue_policy)]
        if batcher.HasField("default_queue_policy")
        else []
    )
    policies += [(f"priority_queue_policy[{k}]", v) for k, v in sorted(batcher.priority_queue_policy.items())]
    for label, policy in policies:
        if policy.default_timeout_microseconds != 0 and policy.timeout_action == _DELAY:
            findings.append(
                model.finding(
                    PRESERVE_ORDERING,
                    f"{label} uses timeout_action DELAY, which preserve_ordering does not allow",
                    f"{where}.{label.split('[')[0]}",
                    f"{where}.preserve_ordering",
                    where,
                    hint="use timeout_action REJECT or turn preserve_ordering off",
                )
            )
    if levels > 1:
        findings.append(
            model.finding(
                PRESERVE_ORDERING,
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
            findings.append(model.finding(SEQUENCE_CONTROL_NAME, f"control_input {index} has no name", path))
        elif name in names_seen:
            findings.append(
                model.finding(
                    SEQUENCE_CONTROL_DUPLICATE,
                    f"control tensor {name!r} is named twice",
                    path,
                )
            )
        elif name in inputs:
            findings.append(
                model.finding(
                    SEQUENCE_CONTROL_INPUT,  # loads; the batcher and the client then compete
                    f"control tensor {name!r} is also declared as a model input",
                    path,
                    hint="control tensors are supplied by the sequence batcher: remove it from input",
                )
            )
        names_seen.add(name)
        if not control_input.control:
            findings.append(
                model.finding(SEQUENCE_CONTROL_EMPTY, f"control_input {name!r} has no control", path)
            )
        for control in control_input.control:
            kind = _CONTROL_KINDS.get(int(control.kind))
            if kind is None:
                findings.append(
                    model.finding(
                        SEQUENCE_CONTROL_KIND,
                        f"control {name!r} has unknown kind {control.kind}",
                        path,
                    )
                )
                continue
            if int(control.kind) in kinds_seen:
                findings.append(
                    model.finding(
                        SEQUENCE_CONTROL_DUPLICATE,
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
            SEQUENCE_STATE,
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
                    SEQUENCE_CONTROL_FALSE_TRUE,
                    f"{kind} control {name!r} takes a data_type, not {', '.join(given)}",
                    path,
                )
            ]
        if config_type_name(control.data_type) not in _CORRID_TYPES:
            return [
                model.finding(
                    SEQUENCE_CORRID_TYPE,
                    f"{kind} control {name!r} has data_type {config_type_name(control.data_type)}; "
                    f"it must be one of {', '.join(_CORRID_TYPES)}",
                    path,
                )
            ]
        return []
    if not given:
        return [
            model.finding(
                SEQUENCE_CONTROL_FALSE_TRUE,
                f"{kind} control {name!r} needs int32_false_true, fp32_false_true or bool_false_true",
                path,
                hint="e.g. int32_false_true: [ 0, 1 ]",
            )
        ]
    if len(given) > 1:
        return [
            model.finding(
                SEQUENCE_CONTROL_FALSE_TRUE,
                f"{kind} control {name!r} sets {' and '.join(given)}; give only one",
                path,
            )
        ]
    field, count = next(iter(given.items()))
    if count != 2:
        return [
            model.finding(
                SEQUENCE_CONTROL_FALSE_TRUE,
                f"{kind} control {name!r}: {field} needs exactly 2 values (false, true), got {count}",
                path,
            )
        ]
    if control.data_type:
        return [
            model.finding(
                SEQUENCE_CONTROL_DATA_TYPE,
                f"{kind} control {name!r} sets data_type, which only CONTROL_SEQUENCE_CORRID uses",
                path,
            )
        ]
    return []
