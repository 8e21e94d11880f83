"""`export_model`: eager run -> inferred spec -> artifact in a staging folder -> proof -> atomic commit.

Nothing reaches the repository until the reloaded artifact has matched the eager model; every write
goes through `repository.staged_dir` or an atomic file write, and a failure restores what was there.
"""

from __future__ import annotations

import contextlib
import functools
import shutil
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ParamSpec, TypeVar

from tritonkit.errors import ExportError, RepositoryError, UsageError, import_optional
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
from tritonkit.repository.render import LOCAL_CONFIG, local_aoti_config, render_config
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
    replaced_version: bool = False
    notes: list[str] = field(default_factory=list)  # tracer warnings, exporter fallbacks, proof caveats
    # plan: the example's eager run and the lengths' (the spec); build: the artifact written; proof: the
    # reference runs (other batch size, fresh values; also under "reference"), the reload and the checks
    seconds: dict[str, float] = field(default_factory=dict)

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


@dataclass
class BuildOptions:
    """How to build the artifact beyond the plan: ONNX exporter and opset, external data."""

    onnx_exporter: str = "auto"
    opset: int = 17
    external_data: bool | None = None


def build_and_prove(
    plan: ExportPlan, folder: Path, options: BuildOptions
) -> tuple[list[proof.ProofCase], list[str]]:
    """Save the artifact into `folder`, reload it, and check it against every planned case."""
    path = folder / plan.artifact_name
    spec = plan.spec
    source = plan.model
    started = time.perf_counter()
    if plan.by_keyword or plan.output_paths is not None:
        source = convert.io_wrapper(
            plan.model, plan.arg_names, by_keyword=plan.by_keyword, paths=plan.output_paths
        )
    notes: list[str] = []
    written = path
    if plan.fmt == "torchscript":
        notes = convert.save_torchscript(source, plan.example, plan.method, path)
    elif plan.fmt == "aoti":
        notes = convert.save_aoti(source, plan.example, path, plan.dynamic_axes)
    else:
        written, notes = convert.save_onnx(
            source,
            plan.example,
            plan.method,
            path,
            input_names=[t.name for t in spec.inputs],
            output_names=[t.name for t in spec.outputs],
            dynamic_axes=plan.onnx_dynamic_axes,
            input_axes=plan.dynamic_axes,
            exporter=options.onnx_exporter,
            opset=options.opset,
            external_data=options.external_data,
        )
    built = time.perf_counter()
    # The proof: the file as written is loaded back (what the server will load) and run on every case.
    load = {"torchscript": proof.torchscript_runner, "aoti": proof.aoti_runner, "onnx": proof.onnx_runner}
    runner = load[plan.fmt](written, spec)
    results = [
        proof.compare(c.label, runner, c.inputs, c.expected, spec, rtol=plan.rtol, atol=plan.atol)
        for c in plan.cases
    ]
    reference = plan.seconds.get("reference", 0.0)
    plan.seconds.update(build=built - started, proof=reference + time.perf_counter() - built)
    bad = [r for r in results if not r.ok]
    if bad:
        warned = [n for n in notes if n.startswith("tracer warning")]
        hint = "the trace does not generalise: use --method script" if plan.method == "trace" else None
        if warned:
            hint = f"{warned[0]}; " + (hint or "fix the model's shape- or value-dependent code")
        if bad[0].label.startswith("the example"):
            hint = "loosen --rtol/--atol if the difference is numerical noise"
        raise ExportError(
            f"the saved artifact disagrees with the eager model on {bad[0].label}: output "
            f"{bad[0].worst_output!r} max abs diff {bad[0].max_abs_diff:.3g} "
            f"(rtol {plan.rtol}, atol {plan.atol})",
            hint=hint,
        )
    return results, notes


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
    rtol: float | None = None,
    atol: float | None = None,
    onnx_exporter: str = "auto",
    triton: str | None = None,
    onnx_external_data: bool | None = None,
    length_cap: int | None = None,
) -> ExportResult:
    """Export `model` (an nn.Module) into `repo/name/<version>/` with its config, proven against eager.

    `example_inputs`: a tensor, a tuple/list of tensors (one per forward argument) or a dict keyed by
    forward-argument names (forward is then called by keyword). `format` "torchscript" (model.pt),
    "onnx" (model.onnx; `onnx_exporter` auto | dynamo | torchscript, the opset chosen for `triton`) or
    "aoti" (model.pt2, torch_aoti: needs `triton` >= 26.03 and max_batch_size 0); `method` "trace" or
    "script". Input names default to INPUT__i (forward-argument names with `use_arg_names` or dict
    examples), output names to OUTPUT__i (the dotted key path for dict, nested and ModelOutput results:
    depth first, dicts in key order, sequences by index). With `max_batch_size` > 0 the first dim is
    the batch dim. `dynamic_dims` ("all" or {input: [config axes]}) or a `second_example` of other
    sizes makes dims -1. `rtol`/`atol` default per output type (fp32 1e-4/1e-5, fp16 1e-2/1e-3, bf16
    2e-2/1e-2). Raises ExportError (exit 5) / UsageError / RepositoryError (exit 2); the repository is
    unchanged on any failure.
    """
    torch = import_optional("torch", package="torch", extra="torch", needed_for="tritonkit export")

    from tritonkit.export import compat

    fmt = {
        "torchscript": "torchscript",
        "pt": "torchscript",
        "pytorch": "torchscript",
        "onnx": "onnx",
        "aoti": "aoti",
        "pt2": "aoti",
        "torch_aoti": "aoti",
    }.get(format.lower())
    if fmt is None:
        raise UsageError(f"unknown format {format!r}", hint="use torchscript, onnx or aoti")
    if fmt == "onnx":  # the export itself needs onnx, its proof onnxruntime
        for module in ("onnx", "onnxruntime"):
            import_optional(module, package=module, extra="torch", needed_for="export --format onnx")
    if onnx_exporter not in convert.ONNX_EXPORTERS:
        raise UsageError(f"unknown --onnx-exporter {onnx_exporter!r}", hint="use auto, dynamo or torchscript")
    release = compat.target_release(triton)
    if fmt == "aoti":
        compat.check_aoti(release, max_batch_size)
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
    created = not model_dir.exists()  # read once: nothing changes it before the commit (the lock is held)
    if not created and not model_dir.is_dir():
        raise RepositoryError(f"{model_dir} exists and is not a folder")
    chosen = _choose_version(model_dir, version, next, force)
    version_dir = model_dir / str(chosen)
    replaced = not created and version_dir.exists()

    model.eval()
    planning = time.perf_counter()
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
        length_cap=length_cap,
    )
    plan.seconds["plan"] = time.perf_counter() - planning - plan.seconds.get("reference", 0.0)
    spec = plan.spec
    options = BuildOptions(onnx_exporter, compat.onnx_opset(release), onnx_external_data)
    notes: list[str] = []
    if isinstance(model, torch.jit.ScriptModule):
        notes.append(
            "TARGET is already TorchScript: the proof compares the saved file with that TorchScript module,"
            " not with the eager PyTorch code it came from"
        )
    project = load_project(repository)
    _check_other_versions(project.model(name), spec, model_dir)
    # --next/--force: export owns the IO; warmup, policies and tuning already there are kept.
    spec = plan.spec = keep_unowned(project, spec, EXPORT_FIELDS)
    plan.config_text = render_config(spec)
    project.upsert(spec)
    spec_text = project.to_yaml()
    local_config = local_aoti_config(plan.config_text) if fmt == "aoti" else None
    if local_config is not None:
        notes.append(
            f"torch_aoti needs Triton 26.03+; `serve --local` (Triton {compat.LOCAL_SERVER}) serves it from "
            f"{LOCAL_CONFIG} through tritonkit's pytorch runtime (torch._inductor.aoti_load_package)"
        )
    try:
        if created:
            with staged_dir(model_dir) as stage:
                folder = stage / str(chosen)
                folder.mkdir()
                results, built = build_and_prove(plan, folder, options)
                (stage / CONFIG_FILE).write_bytes(plan.config_text.encode("utf-8"))
                if local_config is not None:
                    (stage / LOCAL_CONFIG).parent.mkdir()
                    (stage / LOCAL_CONFIG).write_bytes(local_config.encode("utf-8"))
                save_golden(stage, plan.golden, atomic=False)  # the stage is private until renamed
            try:
                write_text_atomic(project.spec_path, spec_text)
            except BaseException:
                shutil.rmtree(model_dir, ignore_errors=True)
                raise
        else:
            restore = [model_dir / CONFIG_FILE, model_dir / GOLDEN_FILE, model_dir / LOCAL_CONFIG]
            with (
                _restoring([*restore, project.spec_path]),
                staged_dir(version_dir, replace=force) as stage,
            ):
                results, built = build_and_prove(plan, stage, options)
                save_golden(model_dir, plan.golden)
                write_text_atomic(model_dir / CONFIG_FILE, plan.config_text)
                if local_config is not None:
                    (model_dir / LOCAL_CONFIG).parent.mkdir(exist_ok=True)
                    write_text_atomic(model_dir / LOCAL_CONFIG, local_config)
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
        replaced_version=replaced,
        notes=notes + built,
        seconds=dict(plan.seconds),
    )
