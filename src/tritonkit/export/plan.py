"""Planning an export: run the eager model, infer the spec, and gather the cases the artifact must pass.

`plan_export` returns an `ExportPlan` value (spec, proof cases, golden sample, how to build the
artifact). It runs the model but writes nothing; `run.py` renders the config, builds and proves the
artifact from it. The eager runs made only as the proof's references (another batch size, fresh values)
are timed apart (`seconds["reference"]`), so that an export's cost and its proof's are reported apart.
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from tritonkit.errors import ExportError, UsageError
from tritonkit.export.examples import Examples, normalize_examples
from tritonkit.export.tensors import (
    OutputPath,
    Shapes,
    config_dims,
    default_input_names,
    default_output_names,
    output_paths,
    path_name,
    pick_names,
    tensor_specs,
    to_numpy,
    triton_type,
)
from tritonkit.model.spec import DynamicBatchingSpec, InstanceGroupSpec, ModelSpec
from tritonkit.repository.golden import GoldenSample

DynamicDims = str | Mapping[Any, Sequence[int]] | None  # "all" or {input name or index: config axes}
Outputs = list[tuple[OutputPath, Any]]  # (path in the result, tensor) per output, in order


@dataclass
class ProofInput:
    """One case the reloaded artifact must reproduce: numpy inputs and the eager outputs, by config name."""

    label: str
    inputs: dict[str, Any]
    expected: dict[str, Any]


@dataclass
class ExportPlan:
    """Everything an export will write and prove, computed before anything is written."""

    spec: ModelSpec
    fmt: str  # torchscript | onnx | aoti
    method: str  # trace | script
    model: Any
    example: tuple[Any, ...]
    arg_names: list[str | None]
    by_keyword: bool  # forward() is called with keyword arguments (dict examples)
    output_paths: list[OutputPath] | None  # where each output sits in a structured result (None: flat)
    dynamic_axes: list[list[int]]  # per input, its variable tensor axes (batch dim included)
    onnx_dynamic_axes: dict[str, list[int]]
    cases: list[ProofInput]
    golden: GoldenSample
    artifact_name: str
    rtol: float
    atol: float
    config_text: str = ""  # rendered by export_model, once the recorded spec's other fields are kept
    seconds: dict[str, float] = field(default_factory=dict)  # filled in as the export runs


def dynamic_axes(dynamic: DynamicDims, names: list[str], ranks: list[int]) -> list[set[int]]:
    """Per input, the config axes asked to be variable: "all", or {name, index or INPUT__i: [axes]}."""
    if dynamic is None:
        return [set() for _ in names]
    if isinstance(dynamic, str):
        if dynamic != "all":
            raise UsageError(
                f"bad --dynamic-dims {dynamic!r}", hint="use 'all' or NAME:AXES such as INPUT__0:0"
            )
        return [set(range(r)) for r in ranks]
    axes: list[set[int]] = [set() for _ in names]
    for key, values in dynamic.items():
        positional = re.fullmatch(r"(?:INPUT__)?(\d+)", str(key))
        if key in names:
            index = names.index(str(key))
        elif isinstance(key, int) or positional:  # an index, or the INPUT__i name it would have had
            index = int(key) if isinstance(key, int) else int(positional.group(1))  # type: ignore[union-attr]
        else:
            raise UsageError(f"--dynamic-dims names no input {key!r}", hint=f"inputs are {', '.join(names)}")
        if not 0 <= index < len(names):
            raise UsageError(f"--dynamic-dims: no input #{index}")
        axes[index] |= {int(a) for a in values}
    return axes


def random_like(example: Any, shape: Sequence[int] | None = None, *, seed: int = 1) -> Any:
    """A seeded random tensor of `example`'s type; integers stay in the example's range (token ids)."""
    import torch

    shape = list(example.shape) if shape is None else list(shape)
    gen = torch.Generator().manual_seed(seed)
    if example.dtype == torch.bool:
        return torch.randint(0, 2, shape, generator=gen).bool()
    if example.dtype.is_floating_point:
        return torch.randn(shape, generator=gen).to(example.dtype)
    if example.numel() == 0:
        return torch.zeros(shape, dtype=example.dtype)
    low, high = int(example.min()), int(example.max()) + 1
    return torch.randint(low, high, shape, generator=gen, dtype=example.dtype)


def other_length(size: int, cap: int | None) -> int:
    """The second length a dynamic dim is proven at: 40 (5 when the example has 40), within `cap`."""
    other = 5 if size == 40 else 40
    if cap is not None and other > cap:
        other = max(1, min(cap, size + 1) if size < cap else size - 1)
    return other


def _resized(tensors: tuple[Any, ...], sizes: dict[tuple[int, int], int], seed: int) -> tuple[Any, ...]:
    """Fresh tensors like `tensors`, with (input index, tensor axis) -> new size."""
    return tuple(
        random_like(t, [sizes.get((i, a), s) for a, s in enumerate(t.shape)], seed=seed)
        for i, t in enumerate(tensors)
    )


def run_eager(call: Callable[[tuple[Any, ...]], Any], tensors: tuple[Any, ...], label: str) -> Outputs:
    """The model's flattened outputs on `tensors`; an exception is an ExportError naming the input."""
    import torch

    try:
        with torch.no_grad():
            result = call(tensors)
    except Exception as exc:
        shapes = ", ".join(f"{t.dtype}{list(t.shape)}".replace("torch.", "") for t in tensors)
        raise ExportError(
            f"the model raised on {label} ({shapes}): {type(exc).__name__}: {str(exc).strip()[:300]}",
            hint="check the example inputs' types and shapes against forward()",
        ) from exc
    return output_paths(result)


def _batch_size(tensors: tuple[Any, ...], max_batch_size: int, which: str) -> int:
    if any(t.dim() == 0 for t in tensors):
        raise UsageError(f"with --max-batch-size every input of {which} needs a batch dim first")
    size = int(tensors[0].shape[0])
    if size > max_batch_size:
        raise UsageError(f"the batch size {size} of {which} is above --max-batch-size {max_batch_size}")
    return size


def _caller(model: Any, examples: Examples) -> Callable[[tuple[Any, ...]], Any]:
    names = [str(n) for n in examples.arg_names]
    if examples.by_keyword:
        return lambda tensors: model(**dict(zip(names, tensors, strict=True)))
    return lambda tensors: model(*tensors)


@dataclass
class _Case:
    label: str
    tensors: tuple[Any, ...]
    items: Outputs
    batch: int | None
    proof: ProofInput | None = None  # the case as numpy, by config name (made as the case runs)


def plan_export(
    model: Any,
    example_inputs: Any,
    *,
    name: str,
    version: int,
    fmt: str,
    method: str,
    input_names: list[str] | None,
    output_names: list[str] | None,
    use_arg_names: bool,
    max_batch_size: int,
    dynamic_dims: DynamicDims,
    second_example: Any,
    dynamic_batching: DynamicBatchingSpec | None,
    instance_groups: list[InstanceGroupSpec] | None,
    rtol: float | None,
    atol: float | None,
    length_cap: int | None = None,
) -> ExportPlan:
    """Run `model` (already in eval mode) and plan its export; see `export_model` for the options.

    The proof cases: the example; another batch size (fresh values); for each group of dynamic dims
    (dims of the same example size change together, e.g. input_ids and attention_mask lengths) one
    other length, 40 or 5 (fresh values); a user's second example; fresh values at the example shapes.
    """
    examples = normalize_examples(model, example_inputs)
    tensors = examples.tensors
    call = _caller(model, examples)
    default_in = default_input_names(examples.arg_names, use_arg_names=use_arg_names or examples.by_keyword)
    in_names = pick_names(input_names, default_in, "input")
    in_types = [triton_type(t, f"input {n!r}") for n, t in zip(in_names, tensors, strict=True)]
    items = run_eager(call, tensors, "the example input")
    paths = [p for p, _ in items]
    out_names = pick_names(output_names, default_output_names([path_name(p) for p in paths]), "output")
    out_types = [triton_type(v, f"output {n!r}") for n, (_, v) in zip(out_names, items, strict=True)]

    batching = max_batch_size > 0
    offset = 1 if batching else 0
    batch0 = _batch_size(tensors, max_batch_size, "the example") if batching else None
    asked = dynamic_axes(dynamic_dims, in_names, [t.dim() - offset for t in tensors])

    # Seconds of the eager runs made only as the proof's references, their inputs' making and their
    # numpy copies included. The length cases and a second example are not among them: the config's
    # variable output dims are read off their outputs.
    reference = [0.0]

    def as_proof(case: _Case) -> _Case:
        case.proof = ProofInput(
            case.label,
            {n: to_numpy(t) for n, t in zip(in_names, case.tensors, strict=True)},
            {n: to_numpy(v) for n, (_, v) in zip(out_names, case.items, strict=True)},
        )
        return case

    def run_case(label: str, case_tensors: tuple[Any, ...], *, must_run: bool) -> _Case | None:
        try:
            case_items = run_eager(call, case_tensors, label)
        except ExportError:
            if must_run:
                raise
            return None  # inputs the model itself refuses prove nothing
        if [p for p, _ in case_items] != paths:
            raise ExportError(f"the model returns other outputs on {label} than on the example")
        batch = _batch_size(case_tensors, max_batch_size, label) if batching else None
        return as_proof(_Case(label, case_tensors, case_items, batch))

    def reference_case(label: str, sizes: dict[tuple[int, int], int], seed: int) -> _Case | None:
        """A case run only as a reference for the proof, on fresh inputs: timed as the proof's."""
        started = time.perf_counter()
        try:
            return run_case(label, _resized(tensors, sizes, seed), must_run=False)
        finally:
            reference[0] += time.perf_counter() - started

    first = _Case(
        f"the example input (batch {batch0})" if batching else "the example input", tensors, items, batch0
    )
    cases: list[_Case | None] = [as_proof(first)]
    if batching and max_batch_size > 1 and batch0 is not None:
        other = batch0 + 1 if batch0 < max_batch_size else batch0 - 1
        cases.append(reference_case(f"batch size {other}", {(i, 0): other for i in range(len(tensors))}, 2))
    # Dynamic dims grouped by their example size: each group proven at one other length.
    groups: dict[int, list[tuple[int, int]]] = {}
    for i, (t, axes) in enumerate(zip(tensors, asked, strict=True)):
        for a in sorted(axes):
            groups.setdefault(int(t.shape[a + offset]), []).append((i, a + offset))
    for g, (size, members) in enumerate(sorted(groups.items())):
        length = other_length(size, length_cap)
        where = ", ".join(f"{in_names[i]} dim {a}" for i, a in members)
        label = f"length {length} of {where} (the example has {size})"
        resized = _resized(tensors, {m: length for m in members}, 3 + g)
        cases.append(run_case(label, resized, must_run=True))
    given_second: Examples | None = None
    if second_example is not None:
        given_second = normalize_examples(model, second_example)
        if len(given_second.tensors) != len(tensors):
            raise UsageError(
                f"the second example has {len(given_second.tensors)} inputs, the first {len(tensors)}"
            )
        cases.append(run_case("the second example", given_second.tensors, must_run=True))
    # Other values, same shapes: where a trace froze a branch without a TracerWarning, this disagrees.
    # Two draws, so that a branch on the sign of a sum is unlikely to be missed by both.
    for seed, label in ((7, "fresh random values"), (8, "other fresh random values")):
        cases.append(reference_case(label, {}, seed))
    ran = [c for c in cases if c is not None]

    batch_sizes = [c.batch for c in ran if c.batch is not None]
    in_dims = []
    for i, (in_name, ty, axes) in enumerate(zip(in_names, in_types, asked, strict=True)):
        shapes = [tuple(tensors[i].shape)]
        seen_batches = [batch0] if batch0 is not None else []
        if given_second is not None:
            shapes.append(tuple(given_second.tensors[i].shape))
            if batching:
                seen_batches.append(_batch_size(given_second.tensors, max_batch_size, "the second example"))
        in_dims.append(
            config_dims(
                Shapes(in_name, ty, shapes), batch_sizes=seen_batches, dynamic_axes=axes, kind="input"
            )
        )
    out_dims = [
        config_dims(
            Shapes(n, ty, [tuple(c.items[j][1].shape) for c in ran]),
            batch_sizes=batch_sizes,
            dynamic_axes=set(),
            kind="output",
        )
        for j, (n, ty) in enumerate(zip(out_names, out_types, strict=True))
    ]
    in_shapes = [
        Shapes(n, ty, [tuple(t.shape)]) for n, ty, t in zip(in_names, in_types, tensors, strict=True)
    ]
    out_shapes = [Shapes(n, ty, []) for n, ty in zip(out_names, out_types, strict=True)]
    backend = {"torchscript": "pytorch", "onnx": "onnx", "aoti": "torch_aoti"}[fmt]
    spec = ModelSpec(
        name=name,
        backend=backend,
        inputs=tensor_specs(in_shapes, in_dims),
        outputs=tensor_specs(out_shapes, out_dims),
        max_batch_size=max_batch_size,
        dynamic_batching=dynamic_batching,
        instance_groups=list(instance_groups or []),
        version=version,
        # Named although it is the default, so that validate's layout check knows the file.
        default_model_filename="model.pt2" if fmt == "aoti" else None,
    )
    proof_cases = [c.proof for c in ran if c.proof is not None]
    tol_r, tol_a = default_tolerance(out_types) if rtol is None or atol is None else (rtol, atol)
    rtol = tol_r if rtol is None else rtol
    atol = tol_a if atol is None else atol
    flat = paths == [()] or all(p == (j,) for j, p in enumerate(paths))
    structured = examples.by_keyword or not flat
    return ExportPlan(
        spec=spec,
        fmt=fmt,
        method=method,
        model=model,
        example=tensors,
        arg_names=examples.arg_names,
        by_keyword=examples.by_keyword,
        output_paths=paths if structured else None,
        dynamic_axes=[
            ([0] if batching else []) + [a + offset for a, d in enumerate(dims) if d == -1]
            for dims in in_dims
        ],
        onnx_dynamic_axes={
            n: ([0] if batching else []) + [a + offset for a, d in enumerate(dims) if d == -1]
            for n, dims in zip(in_names + out_names, in_dims + out_dims, strict=True)
        },
        cases=proof_cases,
        golden=GoldenSample(
            inputs=proof_cases[0].inputs,
            outputs=proof_cases[0].expected,
            rtol=rtol,
            atol=atol,
            meta={"format": fmt, "method": method, "version": version, "source": "tritonkit export"},
        ),
        artifact_name=_artifact_name(spec),
        rtol=rtol,
        atol=atol,
        seconds={"reference": reference[0]},
    )


def _artifact_name(spec: ModelSpec) -> str:
    """The model file of the pytorch / onnx / torch_aoti spec export built (both platforms name one)."""
    name = spec.model_filename
    if name is None:  # pragma: no cover - export builds only these
        raise AssertionError(f"backend {spec.backend!r} names no model file")
    return name


# The proof's default tolerance per output data type (the loosest type among the outputs wins):
# fp32/fp64 as torch.testing's float32 defaults; fp16 and bf16 carry 3 and 2 significant digits.
TOLERANCES = {"TYPE_FP16": (1e-2, 1e-3), "TYPE_BF16": (2e-2, 1e-2)}
FP32_TOLERANCE = (1e-4, 1e-5)


def default_tolerance(types: list[str]) -> tuple[float, float]:
    found = [TOLERANCES[t] for t in types if t in TOLERANCES]
    return max(found) if found else FP32_TOLERANCE
