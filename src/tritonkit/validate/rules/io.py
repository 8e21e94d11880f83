"""Input/output rules (Triton's ValidateIOShape, ValidateModelInput/Output, batch_input/batch_output).

Just over 400 lines: the rules mirror one group of server functions over the same tensor lists, and
splitting them would split those mirrors.
"""

from __future__ import annotations

import functools
from typing import TYPE_CHECKING, Any

from tritonkit.model.dtypes import config_type_name, config_type_names
from tritonkit.validate.findings import Family

if TYPE_CHECKING:
    from tritonkit.validate.context import ModelContext, RepositoryContext
    from tritonkit.validate.findings import Finding

FAMILY = Family("io", "inputs, outputs, reshapes, batch inputs and outputs")
_IO = "ValidateModelInput / ValidateModelOutput -> ValidateIOShape (core/src/model_config_utils.cc)"
_BATCH_IO = "ValidateBatchIO (core/src/model_config_utils.cc)"
DUPLICATE_NAME = FAMILY.rule(
    "duplicate-name",
    "warning",
    "two inputs (or two outputs) with one name",
    mirrors="none: the server loads it; only one tensor of a name can travel",
)
MISSING_NAME = FAMILY.rule("missing-name", "error", "an input or output without a name", mirrors=_IO)
MISSING_DATA_TYPE = FAMILY.rule(
    "missing-data-type", "error", "an input or output without data_type", mirrors=_IO
)
BAD_DATA_TYPE = FAMILY.rule(
    "bad-data-type",
    "warning",
    "a data_type number the schema does not have (the core loads it; no request can match it)",
    mirrors="none: ValidateModelInput/Output refuse only TYPE_INVALID (core/src/model_config_utils.cc)",
)
MISSING_DIMS = FAMILY.rule("missing-dims", "error", "an input or output without dims", mirrors=_IO)
BAD_DIM = FAMILY.rule("bad-dim", "error", "a dim below 1 other than -1", mirrors=_IO)
FORMAT_DIMS = FAMILY.rule(
    "format-dims",
    "error",
    "FORMAT_NCHW/NHWC on an input without exactly 3 dims",
    mirrors="ValidateModelInput (core/src/model_config_utils.cc)",
)
SHAPE_TENSOR = FAMILY.rule(
    "shape-tensor",
    "error",
    "is_shape_tensor on a model that is not TensorRT",
    mirrors="ValidateModelInput / ValidateModelOutput (core/src/model_config_utils.cc)",
)
EMPTY_RESHAPE = FAMILY.rule(
    "empty-reshape", "error", "an empty reshape on a model that does not batch", mirrors=_IO
)
RESHAPE_COUNT = FAMILY.rule(
    "reshape-count", "error", "dims and reshape with different element counts", mirrors=_IO
)
RESHAPE_VARIABLE_DIMS = FAMILY.rule(
    "reshape-variable-dims", "error", "dims and reshape with different numbers of -1 dims", mirrors=_IO
)
BATCH_INPUT_KIND = FAMILY.rule(
    "batch-input-kind", "error", "a batch_input kind the schema does not have", mirrors=_BATCH_IO
)
BATCH_INPUT_SOURCE = FAMILY.rule(
    "batch-input-source",
    "error",
    "a batch_input without exactly one source_input that is a model input",
    mirrors=_BATCH_IO,
)
BATCH_INPUT_TARGET = FAMILY.rule(
    "batch-input-target",
    "warning",
    "a batch_input without target_name (the core loads it; the backend gets a nameless tensor)",
    mirrors="none: ValidateBatchIO does not check target_name (core/src/model_config_utils.cc)",
)
BATCH_INPUT_TARGET_COLLISION = FAMILY.rule(
    "batch-input-target-collision",
    "warning",
    "a batch_input target that is also a model input or another target",
    mirrors="none: the server loads it",
)
BATCH_INPUT_TYPE = FAMILY.rule(
    "batch-input-type", "error", "a batch_input type other than INT32 or FP32", mirrors=_BATCH_IO
)
BATCH_OUTPUT_KIND = FAMILY.rule(
    "batch-output-kind", "error", "a batch_output kind the schema does not have", mirrors=_BATCH_IO
)
BATCH_OUTPUT_SOURCE = FAMILY.rule(
    "batch-output-source",
    "error",
    "a batch_output without exactly one source_input that is a model input",
    mirrors=_BATCH_IO,
)
BATCH_OUTPUT_TARGET = FAMILY.rule(
    "batch-output-target",
    "error",
    "a batch_output target that is not a model output, or named twice",
    mirrors=_BATCH_IO,
)

WILDCARD = -1
_BATCH_INPUT_TYPES = ("TYPE_FP32", "TYPE_INT32")  # what Triton 2.51 accepts


def element_count(dims: Any) -> int:
    """Triton's GetElementCount: -1 if any dim is variable, 0 for no dims, else the product."""
    count = 0
    first = True
    for d in dims:
        if d == WILDCARD:
            return -1
        count = d if first else count * d
        first = False
    return count


def _chunks(dims: Any) -> list[int]:
    """Element counts of the runs between variable dims (`[2,-1,3,4]` -> [2, 12])."""
    chunks, current = [], 1
    for d in dims:
        if d == WILDCARD:
            chunks.append(current)
            current = 1
        else:
            current *= d
    chunks.append(current)
    return chunks


def check(model: ModelContext, repo: RepositoryContext) -> list[Finding]:
    config = model.config
    findings: list[Finding] = []
    known = _known_types()
    for kind, tensors in (("input", model.inputs), ("output", model.outputs)):
        seen: dict[str, int] = {}
        for index, tensor in enumerate(tensors):
            name = tensor.name
            dims = tensor.dims[:]  # a list in one call (iterating the repeated field boxes each item)
            if not (  # the common case, decided on plain reads before any message is formatted
                name
                and tensor.data_type in known
                and dims
                and min(dims) >= WILDCARD  # every dim >= 1 or -1 (_check_tensor's bad-dim)
                and 0 not in dims
                and not tensor.HasField("reshape")
                and (kind != "input" or tensor.format not in (1, 2) or len(dims) == 3)
                and (not tensor.is_shape_tensor or config.platform == "tensorrt_plan")
            ):  # max_batch_size and platform are read only for a tensor with something to say
                max_batch, platform = int(config.max_batch_size), str(config.platform)
                findings.extend(_check_tensor(model, kind, index, tensor, dims, max_batch, platform))
            if name in seen:
                path = f"{kind}[{index}]"
                # Triton loads it, but a request or response can carry only one tensor of a name.
                findings.append(
                    model.finding(
                        DUPLICATE_NAME,
                        f"{kind} name {name!r} is used twice ({kind} {seen[name]} and {index}); only one "
                        "tensor of that name can travel",
                        f"{path}.name",
                        path,
                        hint="give every input and output its own name",
                    )
                )
            elif name:
                seen[name] = index
    if config.batch_input or config.batch_output:
        findings.extend(_batch_io(model, config))
    return findings


@functools.cache
def _known_types() -> frozenset[int]:
    """The DataType numbers a tensor may have: the schema's, TYPE_INVALID (0) excluded."""
    return frozenset(n for n in config_type_names() if n != 0)


def _check_tensor(
    model: ModelContext, kind: str, index: int, tensor: Any, dims: list[int], max_batch: int, platform: str
) -> list[Finding]:
    findings: list[Finding] = []
    path = f"{kind}[{index}]"
    label = f"{kind} {tensor.name!r}" if tensor.name else f"{kind} {path}"
    if not tensor.name:
        findings.append(
            model.finding(MISSING_NAME, f"{kind} {path} has no name", path, hint='add name: "..."')
        )
    if tensor.data_type == 0:
        findings.append(
            model.finding(
                MISSING_DATA_TYPE,
                f"{label} has no data_type",
                path,
                hint="add data_type: TYPE_FP32 (or TYPE_INT64, TYPE_STRING, ...)",
            )
        )
    elif int(tensor.data_type) not in config_type_names():
        findings.append(
            model.finding(
                BAD_DATA_TYPE,
                f"{label} has unknown data_type number {tensor.data_type}",
                f"{path}.data_type",
                path,
                hint="use a name such as TYPE_FP32",
            )
        )
    if not dims:
        findings.append(
            model.finding(
                MISSING_DIMS,
                f"{label} has no dims",
                path,
                hint="add dims: [ ... ] (without the batch dimension); a scalar per batch item is "
                "dims: [ 1 ] with reshape: { shape: [ ] }",
            )
        )
    bad = [d for d in dims if d < 1 and d != WILDCARD]
    if bad:
        findings.append(
            model.finding(
                BAD_DIM,
                f"{label} has dim {bad[0]} in {dims}; every dim must be >= 1, or -1 for a variable size",
                f"{path}.dims",
                path,
                hint="the batch dimension is implicit when max_batch_size > 0: do not write it in dims",
            )
        )
    if tensor.HasField("reshape"):
        findings.extend(_check_reshape(model, label, path, dims, list(tensor.reshape.shape), max_batch))
    if kind == "input" and tensor.format in (1, 2) and len(dims) != 3:
        fmt = "NHWC" if tensor.format == 1 else "NCHW"
        findings.append(
            model.finding(
                FORMAT_DIMS,
                f"{label} has format FORMAT_{fmt}, which needs exactly 3 dims, got {len(dims)}",
                f"{path}.format",
                path,
                hint="remove format, or give dims in C,H,W / H,W,C order",
            )
        )
    if tensor.is_shape_tensor and platform != "tensorrt_plan":
        findings.append(
            model.finding(
                SHAPE_TENSOR,
                f"{label} is a shape tensor, which only TensorRT models support",
                f"{path}.is_shape_tensor",
                path,
                hint="remove is_shape_tensor",
            )
        )
    return findings


def _check_reshape(
    model: ModelContext, label: str, path: str, dims: list[int], shape: list[int], max_batch: int
) -> list[Finding]:
    where = (f"{path}.reshape[0].shape", f"{path}.reshape", path)
    if not shape:
        if max_batch == 0:
            return [
                model.finding(
                    EMPTY_RESHAPE,
                    f"{label} has an empty reshape on a model that does not batch (max_batch_size 0): "
                    "it would always be empty",
                    *where,
                    hint="an empty reshape (scalar per batch item) needs max_batch_size > 0",
                )
            ]
        if dims and element_count(dims) != 1:
            return [
                model.finding(
                    RESHAPE_COUNT,
                    f"{label}: an empty reshape needs dims with one element, got {dims}",
                    *where,
                    hint="use dims: [ 1 ]",
                )
            ]
        return []
    bad = [d for d in shape if d < 1 and d != WILDCARD]
    if bad:
        return [
            model.finding(
                BAD_DIM,
                f"{label} has reshape dim {bad[0]} in {shape}; every dim must be >= 1 or -1",
                *where,
            )
        ]
    if not dims:
        return []
    dims_count, shape_count = element_count(dims), element_count(shape)
    if dims_count != shape_count:
        return [
            model.finding(
                RESHAPE_COUNT,
                f"{label}: dims {dims} and reshape {shape} hold different element counts "
                f"({_count_text(dims_count)} vs {_count_text(shape_count)})",
                *where,
                hint="dims and reshape must hold the same number of elements, or both have variable dims",
            )
        ]
    if dims_count == WILDCARD:
        a, b = _chunks(dims), _chunks(shape)
        if len(a) != len(b):
            return [
                model.finding(
                    RESHAPE_VARIABLE_DIMS,
                    f"{label}: dims {dims} and reshape {shape} have different numbers of variable (-1) dims",
                    *where,
                    hint="keep the same number of -1 dims in dims and reshape",
                )
            ]
        if a != b:
            return [
                model.finding(
                    RESHAPE_COUNT,
                    f"{label}: dims {dims} and reshape {shape} differ in the element count between their "
                    "variable (-1) dims",
                    *where,
                    hint="each run of fixed dims between -1s must hold the same number of elements",
                )
            ]
    return []


def _count_text(count: int) -> str:
    return "variable" if count == WILDCARD else str(count)


def _batch_io(model: ModelContext, config: Any) -> list[Finding]:
    from tritonkit.model.schema import pb2

    findings: list[Finding] = []
    inputs = {str(t.name) for t in config.input}
    outputs = {str(t.name) for t in config.output}
    input_kinds = {int(v.number): str(v.name) for v in pb2().BatchInput.Kind.DESCRIPTOR.values}
    targets: set[str] = set()
    for index, batch_input in enumerate(config.batch_input):
        path = f"batch_input[{index}]"
        kind = input_kinds.get(int(batch_input.kind))
        if kind is None:
            findings.append(
                model.finding(BATCH_INPUT_KIND, f"{path} has unknown kind {batch_input.kind}", path)
            )
        elif len(batch_input.source_input) != 1:
            findings.append(
                model.finding(
                    BATCH_INPUT_SOURCE,
                    f"{path} of kind {kind} needs exactly 1 source_input, "
                    f"got {len(batch_input.source_input)}",
                    f"{path}.source_input",
                    path,
                )
            )
        if not batch_input.target_name:
            findings.append(model.finding(BATCH_INPUT_TARGET, f"{path} has no target_name", path))
        if config_type_name(batch_input.data_type) not in _BATCH_INPUT_TYPES:
            findings.append(
                model.finding(
                    BATCH_INPUT_TYPE,
                    f"{path} has data_type {config_type_name(batch_input.data_type)}; batch inputs are "
                    "TYPE_INT32 or TYPE_FP32",
                    f"{path}.data_type",
                    path,
                )
            )
        for source in batch_input.source_input:
            if source not in inputs:
                findings.append(
                    model.finding(
                        BATCH_INPUT_SOURCE,
                        f"{path} names source_input {source!r}, which is not an input of the model",
                        f"{path}.source_input",
                        path,
                        hint=f"inputs are: {', '.join(sorted(inputs)) or '(none)'}",
                    )
                )
        for target in batch_input.target_name:
            if target in inputs or target in targets:
                findings.append(
                    model.finding(
                        BATCH_INPUT_TARGET_COLLISION,  # loads; which tensor the model gets is unclear
                        f"{path} target {target!r} collides with "
                        + ("a model input" if target in inputs else "another batch input"),
                        f"{path}.target_name",
                        path,
                        hint="a batch input's target is a tensor Triton creates: give it a name of its own",
                    )
                )
            targets.add(str(target))
    for index, batch_output in enumerate(config.batch_output):
        path = f"batch_output[{index}]"
        if int(batch_output.kind) != 0:
            findings.append(
                model.finding(BATCH_OUTPUT_KIND, f"{path} has unknown kind {batch_output.kind}", path)
            )
        if len(batch_output.source_input) != 1:
            findings.append(
                model.finding(
                    BATCH_OUTPUT_SOURCE,
                    f"{path} needs exactly 1 source_input, got {len(batch_output.source_input)}",
                    f"{path}.source_input",
                    path,
                )
            )
        for source in batch_output.source_input:
            if source not in inputs:
                findings.append(
                    model.finding(
                        BATCH_OUTPUT_SOURCE,
                        f"{path} names source_input {source!r}, which is not an input of the model",
                        f"{path}.source_input",
                        path,
                    )
                )
        if not batch_output.target_name:
            findings.append(model.finding(BATCH_OUTPUT_TARGET, f"{path} has no target_name", path))
        named: set[str] = set()
        for target in batch_output.target_name:
            if target not in outputs:
                findings.append(
                    model.finding(
                        BATCH_OUTPUT_TARGET,
                        f"{path} target {target!r} is not an output of the model",
                        f"{path}.target_name",
                        path,
                        hint=f"outputs are: {', '.join(sorted(outputs)) or '(none)'}",
                    )
                )
            elif target in named:
                findings.append(
                    model.finding(
                        BATCH_OUTPUT_TARGET,
                        f"{path} names target {target!r} twice; a target output can be named once",
                        f"{path}.target_name",
                        path,
                    )
                )
            named.add(str(target))
    return findings
