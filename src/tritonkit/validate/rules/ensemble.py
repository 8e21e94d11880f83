"""Ensemble rules (Triton's ValidateEnsembleSchedulingConfig and ensemble_utils): steps, the tensor
graph, member models in the repository, consistent types and shapes, batch sizes, cycles.

Over 400 lines on purpose: every rule walks the same step graph that ensemble_utils.cc builds once, so
the walk and the rules that read it stay in one module rather than passing the graph between files.
"""

from __future__ import annotations

import difflib
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from tritonkit.model.dtypes import config_type_name
from tritonkit.validate.findings import Family

if TYPE_CHECKING:
    from tritonkit.validate.context import ModelContext, RepositoryContext
    from tritonkit.validate.findings import Finding

FAMILY = Family("ensemble", "ensemble steps, their tensor graph and member models")
_SCHED = "ValidateEnsembleSchedulingConfig (core/src/model_config_utils.cc)"
_ENS = "ValidateEnsembleConfig / ValidateTensorConsistency (core/src/ensemble_scheduler/ensemble_utils.cc)"
SCHEDULING_NOT_ENSEMBLE = FAMILY.rule(
    "scheduling-not-ensemble",
    "error",
    "ensemble_scheduling on a model whose platform is not ensemble",
    mirrors=_SCHED,
)
INSTANCE_GROUP = FAMILY.rule("instance-group", "error", "an ensemble with instance groups", mirrors=_SCHED)
NO_STEPS = FAMILY.rule("no-steps", "error", "an ensemble without steps", mirrors=_SCHED)
STEP_MODEL = FAMILY.rule("step-model", "error", "a step without model_name", mirrors=_SCHED)
STEP_MAP = FAMILY.rule("step-map", "error", "a step without input_map or output_map", mirrors=_SCHED)
TENSOR_PRODUCED_TWICE = FAMILY.rule(
    "tensor-produced-twice", "error", "an ensemble tensor written by two steps (or an input)", mirrors=_SCHED
)
UNUSED_INPUT = FAMILY.rule("unused-input", "error", "an ensemble input no step reads", mirrors=_SCHED)
OUTPUT_NOT_PRODUCED = FAMILY.rule(
    "output-not-produced", "error", "an ensemble output no step writes", mirrors=_SCHED
)
TENSOR_NOT_PRODUCED = FAMILY.rule(
    "tensor-not-produced", "error", "a step reads a tensor nothing produces", mirrors=_SCHED
)
UNKNOWN_MODEL = FAMILY.rule(
    "unknown-model",
    "error",
    "a step calls a model not in the repository",
    mirrors="ModelRepositoryManager dependency graph: the ensemble waits for a model that never loads",
)
MISSING_VERSION = FAMILY.rule(
    "missing-version", "error", "a step asks for a version the member does not have", mirrors=_ENS
)
MAX_BATCH_SIZE = FAMILY.rule(
    "max-batch-size", "error", "an ensemble max_batch_size above a member's", mirrors=_ENS
)
MEMBER_NOT_BATCHING = FAMILY.rule(
    "member-not-batching",
    "warning",
    "a batching ensemble over a member that does not batch",
    mirrors="none at load: requests of batch > 1 fail at run time",
)
UNKNOWN_MEMBER_TENSOR = FAMILY.rule(
    "unknown-member-tensor", "error", "a step maps a tensor the member does not have", mirrors=_ENS
)
MEMBER_INPUT_UNMAPPED = FAMILY.rule(
    "member-input-unmapped", "error", "a step leaves a required member input unfed", mirrors=_ENS
)
TYPE_MISMATCH = FAMILY.rule(
    "type-mismatch", "error", "an ensemble tensor with different data types on two sides", mirrors=_ENS
)
SHAPE_MISMATCH = FAMILY.rule(
    "shape-mismatch", "error", "an ensemble tensor with incompatible shapes on two sides", mirrors=_ENS
)
NOT_FOR_ENSEMBLE = FAMILY.rule(
    "not-for-ensemble", "error", "optimization or model_warmup on an ensemble", mirrors=_SCHED
)
MIXED_DECOUPLED = FAMILY.rule(
    "mixed-decoupled",
    "error",
    "a step receives tensors that come from different decoupled models",
    mirrors="ValidateEnsembleConfig decouple labels (core/src/ensemble_scheduler/ensemble_utils.cc)",
)
CYCLE = FAMILY.rule(
    "cycle",
    "error",
    "ensembles that contain each other",
    mirrors="ValidateEnsembleConfig / model dependency graph",
)


def check(model: ModelContext, repo: RepositoryContext) -> list[Finding]:
    config = model.config
    if model.platform != "ensemble":  # is_ensemble, without a property call on every model
        if model.scheduling == "ensemble_scheduling":
            return [
                model.finding(
                    SCHEDULING_NOT_ENSEMBLE,
                    f"ensemble_scheduling is set but the platform is {config.platform or '(none)'!r}",
                    "ensemble_scheduling",
                    hint='set platform: "ensemble" (and no backend), or remove ensemble_scheduling',
                )
            ]
        return []
    findings: list[Finding] = []
    for field_name in ("optimization", "model_warmup"):
        if (field_name == "optimization" and config.HasField(field_name)) or (
            field_name == "model_warmup" and len(config.model_warmup)
        ):
            findings.append(
                model.finding(
                    NOT_FOR_ENSEMBLE,
                    f"{field_name} cannot be set on an ensemble",
                    field_name,
                    hint=f"remove {field_name}; set it on the member models",
                )
            )
    if len(config.instance_group):
        findings.append(
            model.finding(
                INSTANCE_GROUP,
                "an ensemble has no instance groups (its members have them)",
                "instance_group",
                hint="remove instance_group; set instances on the member models",
            )
        )
    steps = list(config.ensemble_scheduling.step)
    if not steps:
        findings.append(
            model.finding(
                NO_STEPS,
                "an ensemble needs ensemble_scheduling with at least one step",
                "ensemble_scheduling",
                "platform",
                hint="add ensemble_scheduling { step [ { model_name, input_map, output_map } ] }",
            )
        )
        return findings
    findings.extend(_graph(model, config, steps))
    findings.extend(_members(model, config, steps, repo))
    if not any(f.severity == "error" for f in findings):
        findings.extend(_decoupled(model, config, steps, repo))
    return findings


def _step_path(index: int) -> str:
    return f"ensemble_scheduling[0].step[{index}]"


def _graph(model: ModelContext, config: Any, steps: list[Any]) -> list[Finding]:
    findings: list[Finding] = []
    inputs = [str(t.name) for t in config.input]
    outputs = [str(t.name) for t in config.output]
    producers: dict[str, int] = {}
    consumed: set[str] = set()
    for index, step in enumerate(steps):
        path = _step_path(index)
        if not step.model_name:
            findings.append(model.finding(STEP_MODEL, f"step {index} has no model_name", path))
        for field_name, mapping in (("input_map", step.input_map), ("output_map", step.output_map)):
            if not mapping:
                findings.append(
                    model.finding(
                        STEP_MAP,
                        f"step {index} ({step.model_name or '?'}) has no {field_name}",
                        path,
                        hint=f"map member tensors to ensemble tensors: {field_name} {{ key: .. value: .. }}",
                    )
                )
        consumed.update(str(v) for v in step.input_map.values())
        for tensor in step.output_map.values():
            tensor = str(tensor)
            if tensor in producers or tensor in inputs:
                first = "an ensemble input" if tensor in inputs else f"step {producers[tensor]}"
                findings.append(
                    model.finding(
                        TENSOR_PRODUCED_TWICE,
                        f"ensemble tensor {tensor!r} is written by step {index} and by {first}",
                        f"{path}.output_map",
                        path,
                        hint="every ensemble tensor may appear in one output_map only",
                    )
                )
            producers.setdefault(tensor, index)
    for name in inputs:
        if name not in consumed:
            findings.append(
                model.finding(
                    UNUSED_INPUT,
                    f"ensemble input {name!r} is not used by any step",
                    "input",
                    hint="map it in a step's input_map, or remove it",
                )
            )
    for name in outputs:
        if name not in producers:
            findings.append(
                model.finding(
                    OUTPUT_NOT_PRODUCED,
                    f"ensemble output {name!r} is not produced by any step",
                    "output",
                    hint="map a member output to it in a step's output_map",
                )
            )
    for index, step in enumerate(steps):
        for key, tensor in sorted(step.input_map.items()):
            if tensor not in producers and tensor not in inputs:
                findings.append(
                    model.finding(
                        TENSOR_NOT_PRODUCED,
                        f"step {index} ({step.model_name}) reads ensemble tensor {tensor!r} (for its input "
                        f"{key!r}), which is neither an ensemble input nor any step's output",
                        f"{_step_path(index)}.input_map",
                        _step_path(index),
                        hint="check the spelling of the tensor in input_map and output_map",
                    )
                )
    return findings


def _compatible(a: list[int], b: list[int]) -> bool:
    return len(a) == len(b) and all(x == y or x == -1 or y == -1 for x, y in zip(a, b, strict=True))


def _members(model: ModelContext, config: Any, steps: list[Any], repo: RepositoryContext) -> list[Finding]:
    findings: list[Finding] = []
    # ensemble tensor -> what was inferred first (ValidateEnsembleConfig: the ensemble's inputs, then its
    # outputs, then each step's tensors; the ensemble's own tensors by their reshape when they have one)
    seen: dict[str, _Node] = {}
    batching = config.max_batch_size > 0
    for tensor in [*config.input, *config.output]:
        dims = list(tensor.reshape.shape) if tensor.HasField("reshape") else list(tensor.dims)
        seen.setdefault(str(tensor.name), _Node(int(tensor.data_type), dims, batching, "the ensemble"))
    for index, step in enumerate(steps):
        path = _step_path(index)
        name = str(step.model_name)
        if not name:
            continue
        member = repo.models.get(name)
        if member is None:
            close = difflib.get_close_matches(name, list(repo.models), n=1)
            findings.append(
                model.finding(
                    UNKNOWN_MODEL,
                    f"step {index} calls model {name!r}, which is not in the repository",
                    f"{path}.model_name",
                    path,
                    hint=f"did you mean {close[0]!r}?" if close else "add that model to the repository",
                )
            )
            continue
        # model_version defaults to 0, which means version 0, not the latest (-1).
        if step.model_version >= 0 and member.version_dirs and step.model_version not in member.version_dirs:
            findings.append(
                model.finding(
                    MISSING_VERSION,
                    f"step {index} asks for version {step.model_version} of {name!r}"
                    + (" (model_version left unset is 0, not the latest)" if step.model_version == 0 else "")
                    + f", which has versions {sorted(member.version_dirs)}",
                    f"{path}.model_version",
                    path,
                    hint="use model_version: -1 for the latest version",
                )
            )
        member_config = member.config
        if member_config is None:
            continue  # its own findings say why
        if member_config.max_batch_size == 0 and config.max_batch_size > 0:
            # Triton loads this; requests with a batch larger than 1 then fail in that step.
            findings.append(
                model.finding(
                    MEMBER_NOT_BATCHING,
                    f"the ensemble batches (max_batch_size {config.max_batch_size}) but its member {name!r} "
                    "does not, so only batch size 1 works",
                    "max_batch_size",
                    hint=f"give {name!r} a max_batch_size, or set the ensemble's to 0",
                )
            )
        elif config.max_batch_size > member_config.max_batch_size:
            findings.append(
                model.finding(
                    MAX_BATCH_SIZE,
                    f"the ensemble allows max_batch_size {config.max_batch_size} but its member {name!r} "
                    f"only {member_config.max_batch_size}",
                    "max_batch_size",
                    hint=f"lower the ensemble's max_batch_size to {member_config.max_batch_size} or less",
                )
            )
        member_inputs = {str(t.name): t for t in member_config.input}
        member_outputs = {str(t.name): t for t in member_config.output}
        for field_name, mapping, tensors in (
            ("input_map", step.input_map, member_inputs),
            ("output_map", step.output_map, member_outputs),
        ):
            kind = "input" if field_name == "input_map" else "output"
            for key, tensor in sorted(mapping.items()):
                member_tensor = tensors.get(str(key))
                if member_tensor is None:
                    close = difflib.get_close_matches(str(key), list(tensors), n=1)
                    findings.append(
                        model.finding(
                            UNKNOWN_MEMBER_TENSOR,
                            f"step {index} maps {kind} {key!r} of {name!r}, which has no such {kind}",
                            f"{path}.{field_name}",
                            path,
                            hint=(f"did you mean {close[0]!r}? " if close else "")
                            + f"{name} {kind}s: {', '.join(sorted(tensors)) or '(none)'}",
                        )
                    )
                    continue
                findings.extend(
                    _consistent(
                        model, seen, str(tensor), member_config, member_tensor, name, index, field_name
                    )
                )
        for input_name, tensor in member_inputs.items():
            if input_name not in step.input_map and not tensor.optional:
                findings.append(
                    model.finding(
                        MEMBER_INPUT_UNMAPPED,
                        f"step {index} does not feed input {input_name!r} of {name!r}",
                        f"{path}.input_map",
                        path,
                        hint=f'add input_map {{ key: "{input_name}" value: "<ensemble tensor>" }}',
                    )
                )
    return findings


@dataclass
class _Node:
    """An ensemble tensor as the core's TensorNode holds it: type, dims, dims with the batch dim."""

    dtype: int
    dims: list[int]
    batching: bool
    source: str

    @property
    def full_dims(self) -> list[int]:
        return [-1, *self.dims] if self.batching else self.dims


def _consistent(
    model: ModelContext,
    seen: dict[str, _Node],
    tensor: str,
    member_config: Any,
    member_tensor: Any,
    member: str,
    index: int,
    field_name: str,
) -> list[Finding]:
    """ValidateTensorConsistency: the same type, and dims that match with or without the batch dim."""
    node = _Node(
        int(member_tensor.data_type),
        list(member_tensor.dims),
        member_config.max_batch_size > 0,
        f"{member!r} ({member_tensor.name})",
    )
    first = seen.get(tensor)
    if first is None:
        seen[tensor] = node
        return []
    findings: list[Finding] = []
    where = (f"{_step_path(index)}.{field_name}", _step_path(index))
    if first.dtype and node.dtype and first.dtype != node.dtype:
        findings.append(
            model.finding(
                TYPE_MISMATCH,
                f"ensemble tensor {tensor!r} is {config_type_name(first.dtype)} in {first.source} "
                f"but {config_type_name(node.dtype)} in {node.source}",
                *where,
                hint="make the data types agree (a member cannot convert types on the way)",
            )
        )
    elif not _compatible(first.dims, node.dims) and not _compatible(first.full_dims, node.full_dims):
        findings.append(
            model.finding(
                SHAPE_MISMATCH,
                f"ensemble tensor {tensor!r} has shape {first.full_dims} in {first.source} but "
                f"{node.full_dims} in {node.source} (batch dim included where the model batches)",
                *where,
                hint="make the dims agree; -1 matches any size",
            )
        )
    return findings


def _decoupled(model: ModelContext, config: Any, steps: list[Any], repo: RepositoryContext) -> list[Finding]:
    """ValidateEnsembleConfig's walk: a step (or the ensemble's outputs) must not receive tensors that
    come from different decoupled models (each decoupled step starts a new stream of responses)."""
    prev: dict[str, list[str]] = {}
    decoupled: dict[str, bool] = {}
    sibling: dict[str, int] = {}
    for index, step in enumerate(steps):
        member = repo.models.get(str(step.model_name))
        is_decoupled = bool(member and member.config and member.config.model_transaction_policy.decoupled)
        for out in step.output_map.values():
            decoupled[str(out)] = is_decoupled
            sibling[str(out)] = index
            prev.setdefault(str(out), []).extend(str(v) for v in step.input_map.values())
    sink = "\0sink"
    prev[sink] = [str(t.name) for t in config.output]
    label: dict[str, int] = {str(t.name): 0 for t in config.input}
    step_label: dict[int, int] = {}
    counter = 0
    pending = [n for n in prev if n not in label]
    progress = True
    while pending and progress:
        progress = False
        for node in list(pending):
            sources = prev[node]
            if not all(s in label for s in sources):
                continue
            labels = {label[s] for s in sources}
            if len(labels) > 1:
                who = "the ensemble's outputs" if node == sink else f"step {sibling[node]}"
                return [
                    model.finding(
                        MIXED_DECOUPLED,
                        f"{who} receives tensors that come from different decoupled models",
                        f"{_step_path(sibling.get(node, 0))}.input_map" if node != sink else "output",
                        "ensemble_scheduling",
                        hint="feed a step from one decoupled model's outputs only",
                    )
                ]
            inherited = labels.pop() if labels else 0
            if node in sibling and sibling[node] in step_label:
                label[node] = step_label[sibling[node]]
            else:
                if decoupled.get(node):
                    counter += 1
                    label[node] = counter
                else:
                    label[node] = inherited
                if node in sibling:
                    step_label[sibling[node]] = label[node]
            pending.remove(node)
            progress = True
    return []


def check_cycles(repo: RepositoryContext) -> list[Finding]:
    """Ensembles that call themselves through other ensembles; one finding per cycle."""
    graph: dict[str, list[str]] = {}
    for name, model in repo.models.items():
        if model.is_ensemble and model.config is not None:
            graph[name] = [str(s.model_name) for s in model.config.ensemble_scheduling.step]
    if not graph:
        return []
    findings: list[Finding] = []
    for cycle in _cycles(graph):
        # Every ensemble of the cycle fails to load: one finding each, the cycle from it.
        for at, start in enumerate(cycle):
            ordered = cycle[at:] + cycle[:at]
            model = repo.models[start]
            step = [str(s.model_name) for s in model.config.ensemble_scheduling.step].index(
                ordered[1] if len(ordered) > 1 else start
            )
            findings.append(
                model.finding(
                    CYCLE,
                    "ensembles call each other in a cycle: " + " -> ".join([*ordered, start]),
                    f"{_step_path(step)}.model_name",
                    _step_path(step),
                    hint="an ensemble cannot contain itself, directly or through other ensembles",
                )
            )
    return findings


def _cycles(graph: dict[str, list[str]]) -> list[list[str]]:
    """Each cycle once (whatever ensemble it is entered from), found by depth-first walks from each
    ensemble in name order. Module-level functions, not a recursive closure: a closure that calls
    itself is a reference cycle, which kept every parsed config alive until the cyclic GC ran."""
    cycles: list[list[str]] = []
    reported: set[frozenset[str]] = set()
    state: dict[str, int] = {}  # 1 = on the current path, 2 = done
    for node in sorted(graph):
        if node not in state:
            _walk(node, graph, state, [], reported, cycles)
    return cycles


def _walk(
    node: str,
    graph: dict[str, list[str]],
    state: dict[str, int],
    stack: list[str],
    reported: set[frozenset[str]],
    cycles: list[list[str]],
) -> None:
    state[node] = 1
    stack.append(node)
    for nxt in graph.get(node, []):
        if nxt not in graph:
            continue
        if state.get(nxt) == 1:
            cycle = stack[stack.index(nxt) :]
            key = frozenset(cycle)
            if key not in reported:
                reported.add(key)
                cycles.append(cycle)
        elif state.get(nxt) is None:
            _walk(nxt, graph, state, stack, reported, cycles)
    stack.pop()
    state[node] = 2
