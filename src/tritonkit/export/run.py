"""`export_model`: eager run -> inferred spec -> artifact in a staging folder -> proof -> atomic commit.

Nothing reaches the repository until the reloaded artifact has matched the eager model; every write
goes through `repository.staged_dir` or an atomic file write, and a failure restores what was there.
"""

from __future__ import annotations

import contextlib
import functools
import shutil
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ParamSpec, TypeVar

from tritonkit.errors import ExportError, RepositoryError, UsageError
from tritonkit.export import convert, proof
from tritonkit.export.plan import DynamicDims, ExportPlan, plan_export
from tritonkit.model.spec import (
    EXPORT_FIELDS,
    DynamicBatchingSpec,
    InstanceGroupSpec,
    ModelSpec,
    check_model_name,
)
from tritonkit.repository.adopt import keep_unowned
from tritonkit.repository.golden import GOLDEN_FILE, save_golden
from tritonkit.repository.layout import staged_dir, write_text_atomic
from tritonkit.repository.lock import locked
from tritonkit.repository.project import load_project
from tritonkit.repository.render import render_config
from tritonkit.repository.scan import CONFIG_FILE, next_version, scan_model_folder


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


def _signature(spec: ModelSpec) -> list[tuple[str, str, str, list[int]]]:
    return [
        (k, t.name, t.data_type, t.dims) for k, ts in (("in", spec.inputs), ("out", spec.outputs)) for t in ts
    ]


def _check_other_versions(recorded: ModelSpec | None, spec: ModelSpec, model_dir: Path) -> None:
    """One config serves every version: refuse a new version that the others' files would not fit."""
    if recorded is None or not model_dir.is_dir():
        return
    others = sorted(v for v in scan_model_folder(model_dir).versions if v != spec.version)
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


def build_and_prove(plan: ExportPlan, folder: Path) -> list[proof.ProofCase]:
    """Save the artifact into `folder`, reload it, and check it against every planned case."""
    path = folder / plan.artifact_name
    spec = plan.spec
    if plan.fmt == "torchscript":
        source = plan.model
        if plan.method == "trace" and plan.output_keys:
            source = convert.tuple_outputs(plan.model, plan.arg_names, plan.output_keys)
        convert.save_torchscript(source, plan.example, plan.method, path)
        runner = proof.torchscript_runner(path, spec)
    else:
        convert.save_onnx(
            plan.model,
            plan.example,
            plan.method,
            path,
            input_names=[t.name for t in spec.inputs],
            output_names=[t.name for t in spec.outputs],
            dynamic_axes=plan.onnx_dynamic_axes,
        )
        runner = proof.onnx_runner(path, spec)
    results = [
        proof.compare(c.label, runner, c.inputs, c.expected, spec, rtol=plan.rtol, atol=plan.atol)
        for c in plan.cases
    ]
    bad = [r for r in results if not r.ok]
    if bad:
        hint = "the trace does not generalise: use --method script" if plan.method == "trace" else None
        if bad[0].label.startswith("the example"):
            hint = "loosen --rtol/--atol if the difference is numerical noise"
        raise ExportError(
            f"the saved artifact disagrees with the eager model on {bad[0].label}: "
            f"max abs diff {bad[0].max_abs_diff:.3g} (rtol {plan.rtol}, atol {plan.atol})",
            hint=hint,
        )
    return results


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
@locked("repo")  # the whole export: it reads tritonkit.yaml, builds, then writes it back
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
    plan = plan_export(
        model,
        example_inputs,
        name=name,
        version=chosen,
        fmt=fmt,
        method=method,
        input_names=input_names,
        output_names=output_names,
        use_arg_names=use_arg_names,
        max_batch_size=max_batch_size,
        dynamic_dims=dynamic_dims,
        second_example=second_example,
        dynamic_batching=dynamic_batching,
        instance_groups=instance_groups,
        rtol=rtol,
        atol=atol,
    )
    spec = plan.spec
    project = load_project(repository)
    _check_other_versions(project.model(name), spec, model_dir)
    # --next/--force: export owns the IO; warmup, policies and tuning already there are kept.
    spec = plan.spec = keep_unowned(project, spec, EXPORT_FIELDS)
    plan.config_text = render_config(spec)
    project.upsert(spec)
    spec_text = project.to_yaml()
    created = not model_dir.exists()
    try:
        if created:
            with staged_dir(model_dir) as stage:
                folder = stage / str(chosen)
                folder.mkdir()
                results = build_and_prove(plan, folder)
                (stage / CONFIG_FILE).write_text(plan.config_text, encoding="utf-8")
                save_golden(stage, plan.golden)
            try:
                write_text_atomic(project.spec_path, spec_text)
            except BaseException:
                shutil.rmtree(model_dir, ignore_errors=True)
                raise
        else:
            restore = [model_dir / CONFIG_FILE, model_dir / GOLDEN_FILE, project.spec_path]
            with _restoring(restore), staged_dir(version_dir, replace=force) as stage:
                results = build_and_prove(plan, stage)
                save_golden(model_dir, plan.golden)
                write_text_atomic(model_dir / CONFIG_FILE, plan.config_text)
                write_text_atomic(project.spec_path, spec_text)
    except OSError as exc:
        raise convert._write_error(model_dir / CONFIG_FILE, exc) from exc
    return ExportResult(
        spec=spec,
        model_dir=model_dir,
        version_dir=version_dir,
        artifact=version_dir / plan.artifact_name,
        config_path=model_dir / CONFIG_FILE,
        golden_path=model_dir / GOLDEN_FILE,
        proof=results,
        created_model=created,
        replaced_version=replaced,
    )
