"""`export_model`: eager run -> inferred spec -> artifact in a staging folder -> proof -> atomic commit.

Nothing reaches the repository until the reloaded artifact has matched the eager model; every write
goes through `repository.staged_dir` or an atomic file write, and a failure restores what was there.
"""

from __future__ import annotations

import contextlib
import functools
import re
import shutil
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ParamSpec, TypeVar

from tritonkit.errors import ExportError, RepositoryError, UsageError
from tritonkit.export import convert, proof
from tritonkit.export.examples import Examples, normalize_examples
from tritonkit.export.tensors import (
    Shapes,
    config_dims,
    default_input_names,
    default_output_names,
    flatten_outputs,
    pick_names,
    tensor_specs,
    to_numpy,
    triton_type,
)
from tritonkit.golden import GOLDEN_FILE, GoldenSample, save_golden
from tritonkit.project import load_project
from tritonkit.render import render_config
from tritonkit.repository import CONFIG_FILE, is_version_name, next_version, staged_dir, write_text_atomic
from tritonkit.spec import DynamicBatchingSpec, InstanceGroupSpec, ModelSpec, check_model_name

DynamicDims = str | Mapping[Any, Sequence[int]] | None  # "all" or {input name or index: config axes}


@dataclass
class ExportResult:
    """What an export wrote and proved."""

    spec: ModelSpec
    model_dir: Path
    version_dir: Path
    artifact: Path
    config_path: Path
    golden_path: Path
    proof: list[proof.ProofCase] = field(default_factory=list)
    created_model: bool = False
    replaced_version: bool = False

    @property
    def max_abs_diff(self) -> float:
        return max((c.max_abs_diff for c in self.proof), default=0.0)


def list_versions(model_dir: Path) -> list[int]:
    return [int(p.name) for p in model_dir.iterdir() if p.is_dir() and is_version_name(p.name)]


def _choose_version(model_dir: Path, version: int | None, use_next: bool, force: bool) -> int:
    if version is not None and use_next:
        raise UsageError("give --version N or --next, not both")
    if use_next:
        return next_version(model_dir)
    chosen = 1 if version is None else version
    if chosen < 1:
        raise UsageError(f"--version must be >= 1, got {chosen}")
    if (model_dir / str(chosen)).exists() and not force:
        raise RepositoryError(
            f"version {chosen} of model {model_dir.name!r} already exists ({model_dir / str(chosen)})",
            hint=f"use --next (version {next_version(model_dir)}), --version N, or --force to replace it",
        )
    return chosen


def _dynamic_axes(dynamic: DynamicDims, names: list[str], ranks: list[int]) -> list[set[int]]:
    """Per input, the config axes asked to be variable: "all", or {name or index: [axes]}."""
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


def _grow(example: Any, tensor_axes: set[int]) -> Any:
    """A fresh tensor like `example`, one larger along `tensor_axes` (values in the example's range)."""
    shape = [s + 1 if i in tensor_axes else s for i, s in enumerate(example.shape)]
    return _random_like(example, shape)


def _random_like(example: Any, shape: Sequence[int] | None = None) -> Any:
    import torch

    shape = list(example.shape) if shape is None else list(shape)
    gen = torch.Generator().manual_seed(1)
    if example.dtype == torch.bool:
        return torch.randint(0, 2, shape, generator=gen).bool()
    if example.dtype.is_floating_point:
        return torch.randn(shape, generator=gen).to(example.dtype)
    if example.numel() == 0:
        return torch.zeros(shape, dtype=example.dtype)
    low, high = int(example.min()), int(example.max()) + 1  # stay in range (token ids, class ids)
    return torch.randint(low, high, shape, generator=gen, dtype=example.dtype)


def _rebatch(tensors: tuple[Any, ...], size: int) -> tuple[Any, ...]:
    """The same rows, repeated to make a batch of `size`."""
    import torch

    return tuple(t[torch.arange(size) % t.shape[0]] for t in tensors)


def _eager(model: Any, tensors: tuple[Any, ...], label: str) -> list[tuple[str | None, Any]]:
    import torch

    try:
        with torch.no_grad():
            result = model(*tensors)
    except Exception as exc:
        shapes = ", ".join(f"{t.dtype}{list(t.shape)}".replace("torch.", "") for t in tensors)
        raise ExportError(
            f"the model raised on {label} ({shapes}): {type(exc).__name__}: {str(exc).strip()[:300]}",
            hint="check the example inputs' types and shapes against forward()",
        ) from exc
    return flatten_outputs(result)


def _outputs_by_name(items: list[tuple[str | None, Any]], names: list[str]) -> dict[str, Any]:
    return {n: to_numpy(v) for n, (_, v) in zip(names, items, strict=False)}


def _signature(spec: ModelSpec) -> list[tuple[str, str, str, list[int]]]:
    return [
        (k, t.name, t.data_type, t.dims) for k, ts in (("in", spec.inputs), ("out", spec.outputs)) for t in ts
    ]


def _check_other_versions(recorded: ModelSpec | None, spec: ModelSpec, model_dir: Path) -> None:
    """One config serves every version: refuse a new version that the others' files would not fit."""
    if recorded is None or not model_dir.is_dir():
        return
    others = sorted(v for v in list_versions(model_dir) if v != spec.version)
    if not others:
        return
    listed = ", ".join(map(str, others))
    hint = "export under another --name, or remove the other version folders first"
    if recorded.backend != spec.backend:
        raise RepositoryError(
            f"model {spec.name!r} is {recorded.backend} (versions {listed}); a {spec.backend} version would "
            "leave those unloadable under the one config",
            hint=hint,
        )
    if _signature(recorded) != _signature(spec) or recorded.max_batch_size != spec.max_batch_size:
        raise RepositoryError(
            f"model {spec.name!r}: this export's inputs/outputs or max_batch_size differ from the config "
            f"that versions {listed} are served with",
            hint=hint,
        )


@contextlib.contextmanager
def _restoring(paths: list[Path]) -> Iterator[None]:
    """Put the listed files back as they were (or remove them) if the block fails."""
    saved = {p: (p.read_bytes() if p.is_file() else None) for p in paths}
    try:
        yield
    except BaseException:
        for path, data in saved.items():
            with contextlib.suppress(OSError):
                if data is None:
                    path.unlink(missing_ok=True)
                else:
                    tmp = path.with_name(f".{path.name}.restore")
                    tmp.write_bytes(data)
                    tmp.replace(path)
        raise


P = ParamSpec("P")
R = TypeVar("R")


def _keeps_training_mode(func: Callable[P, R]) -> Callable[P, R]:
    """Export in eval mode, then give the caller's module back in the mode it was in (notebooks)."""

    @functools.wraps(func)
    def wrapper(*args: P.args, **kwargs: P.kwargs) -> R:
        model = args[0] if args else kwargs.get("model")
        training = getattr(model, "training", None)
        try:
            return func(*args, **kwargs)
        finally:
            if isinstance(training, bool) and hasattr(model, "train"):
                model.train(training)

    return wrapper


@_keeps_training_mode
def export_model(
    model: Any,
    example_inputs: Any,
    *,
    repo: Path | str,
    name: str,
    format: str = "torchscript",
    method: str = "trace",
    input_names: list[str] | None = None,
    output_names: list[str] | None = None,
    use_arg_names: bool = False,
    max_batch_size: int = 0,
    dynamic_dims: DynamicDims = None,
    second_example: Any = None,
    dynamic_batching: DynamicBatchingSpec | None = None,
    instance_groups: list[InstanceGroupSpec] | None = None,
    version: int | None = None,
    next: bool = False,
    force: bool = False,
    rtol: float = 1e-4,
    atol: float = 1e-5,
) -> ExportResult:
    """Export `model` (an nn.Module) into `repo/name/<version>/` with its config, proven against eager.

    `example_inputs`: a tensor, a tuple/list of tensors (one per forward argument) or a dict keyed by
    forward-argument names. `format` "torchscript" (model.pt) or "onnx" (model.onnx); `method` "trace" or
    "script". Input names default to INPUT__i (forward-argument names with `use_arg_names` or dict
    examples), output names to OUTPUT__i (dict keys for dict outputs). With `max_batch_size` > 0 the
    first dim is the batch dim. `dynamic_dims` ("all" or {input: [config axes]}) or a `second_example`
    of other sizes makes dims -1. Raises ExportError (exit 5) / UsageError / RepositoryError (exit 2);
    the repository is unchanged on any failure.
    """
    import torch

    fmt = {"torchscript": "torchscript", "pt": "torchscript", "pytorch": "torchscript", "onnx": "onnx"}.get(
        format.lower()
    )
    if fmt is None:
        raise UsageError(f"unknown format {format!r}", hint="use torchscript or onnx")
    if method not in convert.METHODS:
        raise UsageError(f"unknown method {method!r}", hint="use trace or script")
    check_model_name(name)
    repository = Path(repo)
    if not repository.is_dir():
        raise RepositoryError(f"repository {repository} does not exist", hint="run `tritonkit init` first")
    if not isinstance(model, torch.nn.Module):
        raise UsageError(f"the model is a {type(model).__name__}, not a torch.nn.Module")
    if max_batch_size < 0:
        raise UsageError(f"--max-batch-size must be >= 0, got {max_batch_size}")
    model_dir = repository / name
    if model_dir.exists() and not model_dir.is_dir():
        raise RepositoryError(f"{model_dir} exists and is not a folder")
    chosen = _choose_version(model_dir, version, next, force)
    version_dir = model_dir / str(chosen)
    replaced = version_dir.exists()

    model.eval()
    examples = normalize_examples(model, example_inputs)
    tensors = examples.tensors
    in_names = pick_names(
        input_names,
        default_input_names(examples.arg_names, use_arg_names=use_arg_names or examples.from_dict),
        "input",
    )
    in_types = [triton_type(t, f"input {n!r}") for n, t in zip(in_names, tensors, strict=False)]
    items = _eager(model, tensors, "the example input")
    out_names = pick_names(output_names, default_output_names([k for k, _ in items]), "output")
    out_types = [triton_type(v, f"output {n!r}") for n, (_, v) in zip(out_names, items, strict=False)]

    batching = max_batch_size > 0
    batch_size = 0
    if batching:
        if any(t.dim() == 0 for t in tensors):
            raise UsageError("with --max-batch-size every example input needs a batch dim first")
        batch_size = int(tensors[0].shape[0])
        if batch_size > max_batch_size:
            raise UsageError(
                f"the example batch size {batch_size} is above --max-batch-size {max_batch_size}"
            )
    offset = 1 if batching else 0
    asked = _dynamic_axes(dynamic_dims, in_names, [t.dim() - offset for t in tensors])

    # A second example (given, or grown along the asked dims) shows which dims vary, outputs included.
    second: Examples | None = None
    if second_example is not None:
        second = normalize_examples(model, second_example)
        if len(second.tensors) != len(tensors):
            raise UsageError(f"the second example has {len(second.tensors)} inputs, the first {len(tensors)}")
    elif any(asked):
        second = Examples(
            tuple(_grow(t, {a + offset for a in axes}) for t, axes in zip(tensors, asked, strict=False)),
            examples.arg_names,
        )
    second_items = None
    if second is not None:
        second_items = _eager(model, second.tensors, "the second example (other sizes of the variable dims)")
        if len(second_items) != len(items):
            raise ExportError("the model returns a different number of outputs on the second example")

    in_shapes = [
        Shapes(n, ty, [tuple(t.shape)] + ([tuple(second.tensors[i].shape)] if second else []))
        for i, (n, ty, t) in enumerate(zip(in_names, in_types, tensors, strict=False))
    ]
    out_shapes = [
        Shapes(n, ty, [tuple(v.shape)] + ([tuple(second_items[i][1].shape)] if second_items else []))
        for i, (n, ty, (_, v)) in enumerate(zip(out_names, out_types, items, strict=False))
    ]
    in_dims = [
        config_dims(s, batching=batching, batch_size=batch_size, dynamic_axes=a, kind="input")
        for s, a in zip(in_shapes, asked, strict=False)
    ]
    out_dims = [
        config_dims(s, batching=batching, batch_size=batch_size, dynamic_axes=set(), kind="output")
        for s in out_shapes
    ]
    spec = ModelSpec(
        name=name,
        backend="pytorch" if fmt == "torchscript" else "onnx",
        inputs=tensor_specs(in_shapes, in_dims),
        outputs=tensor_specs(out_shapes, out_dims),
        max_batch_size=max_batch_size,
        dynamic_batching=dynamic_batching,
        instance_groups=list(instance_groups or []),
        version=chosen,
    )

    # The cases the reloaded artifact must reproduce.
    def case(
        label: str, case_tensors: tuple[Any, ...], case_items: list[tuple[str | None, Any]] | None
    ) -> tuple[str, dict[str, Any], dict[str, Any]] | None:
        if case_items is None:
            try:
                case_items = _eager(model, case_tensors, label)
            except ExportError:
                return None
        return (
            label,
            {n: to_numpy(t) for n, t in zip(in_names, case_tensors, strict=False)},
            _outputs_by_name(case_items, out_names),
        )

    cases = [
        case(f"the example input (batch {batch_size})" if batching else "the example input", tensors, items)
    ]
    if batching and max_batch_size > 1:
        other = batch_size + 1 if batch_size < max_batch_size else batch_size - 1
        cases.append(case(f"batch size {other}", _rebatch(tensors, other), None))
    if second is not None:
        cases.append(case("the second example", second.tensors, second_items))
    # Other values, same shapes: where a trace froze a branch without a TracerWarning, this disagrees.
    cases.append(case("fresh random values", tuple(_random_like(t) for t in tensors), None))
    golden = GoldenSample(
        inputs=cases[0][1] if cases[0] else {},
        outputs=cases[0][2] if cases[0] else {},
        rtol=rtol,
        atol=atol,
        meta={"format": fmt, "method": method, "version": chosen, "source": "tritonkit export"},
    )
    config_text = render_config(spec)
    artifact_name = spec.model_filename or ("model.pt" if fmt == "torchscript" else "model.onnx")
    dynamic_onnx = {
        n: ([0] if batching else []) + [a + offset for a, d in enumerate(dims) if d == -1]
        for n, dims in zip(in_names + out_names, in_dims + out_dims, strict=False)
    }

    def build(folder: Path) -> list[proof.ProofCase]:
        path = folder / artifact_name
        if fmt == "torchscript":
            keys = [k for k, _ in items]
            source = model
            if method == "trace" and keys and all(k is not None for k in keys):
                source = convert.tuple_outputs(model, examples.arg_names, [str(k) for k in keys])
            convert.save_torchscript(source, tensors, method, path)
            runner = proof.torchscript_runner(path, spec)
        else:
            convert.save_onnx(
                model,
                tensors,
                method,
                path,
                input_names=in_names,
                output_names=out_names,
                dynamic_axes=dynamic_onnx,
            )
            runner = proof.onnx_runner(path, spec)
        results = [proof.compare(c[0], runner, c[1], c[2], spec, rtol=rtol, atol=atol) for c in cases if c]
        bad = [r for r in results if not r.ok]
        if bad:
            hint = "the trace does not generalise: use --method script" if method == "trace" else None
            if bad[0].label.startswith("the example"):
                hint = "loosen --rtol/--atol if the difference is numerical noise"
            raise ExportError(
                f"the saved artifact disagrees with the eager model on {bad[0].label}: "
                f"max abs diff {bad[0].max_abs_diff:.3g} (rtol {rtol}, atol {atol})",
                hint=hint,
            )
        return results

    project = load_project(repository)
    _check_other_versions(project.model(name), spec, model_dir)
    project.upsert(spec)
    spec_text = project.to_yaml()
    created = not model_dir.exists()
    try:
        if created:
            with staged_dir(model_dir) as stage:
                folder = stage / str(chosen)
                folder.mkdir()
                results = build(folder)
                (stage / CONFIG_FILE).write_text(config_text, encoding="utf-8")
                save_golden(stage, golden)
            try:
                write_text_atomic(project.spec_path, spec_text)
            except BaseException:
                shutil.rmtree(model_dir, ignore_errors=True)
                raise
        else:
            restore = [model_dir / CONFIG_FILE, model_dir / GOLDEN_FILE, project.spec_path]
            with _restoring(restore), staged_dir(version_dir, replace=force) as stage:
                results = build(stage)
                save_golden(model_dir, golden)
                write_text_atomic(model_dir / CONFIG_FILE, config_text)
                write_text_atomic(project.spec_path, spec_text)
    except OSError as exc:
        raise convert._write_error(model_dir / CONFIG_FILE, exc) from exc
    return ExportResult(
        spec=spec,
        model_dir=model_dir,
        version_dir=version_dir,
        artifact=version_dir / artifact_name,
        config_path=model_dir / CONFIG_FILE,
        golden_path=model_dir / GOLDEN_FILE,
        proof=results,
        created_model=created,
        replaced_version=replaced,
    )
