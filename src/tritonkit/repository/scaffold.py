"""`init`, `add` and `render`: plan the files a spec produces, then write them safely.

Planning is pure (a `ScaffoldPlan` value: path -> text), so tests check it without touching disk;
the writing goes through `layout.py`'s atomic helpers and `project.write_project`.
"""

from __future__ import annotations

import difflib
from dataclasses import dataclass, field
from pathlib import Path

from tritonkit.errors import RepositoryError, UsageError
from tritonkit.model.spec import ADD_FIELDS, EnsembleStepSpec, ModelSpec
from tritonkit.repository.layout import make_dirs, write_text_atomic, write_tree
from tritonkit.repository.lock import locked
from tritonkit.repository.project import (
    DEFAULT_REPOSITORY,
    SCHEMA_FILE,
    Project,
    load_project,
    spec_path_for,
    write_project,
    write_schema_file,
)
from tritonkit.repository.render import (
    LOCAL_CONFIG,
    config_state,
    local_aoti_config,
    render_config,
    render_python_model,
)
from tritonkit.repository.scan import CONFIG_FILE


@dataclass
class ScaffoldPlan:
    """The files one model needs, relative to its model folder (config.pbtxt, 1/, 1/model.py...)."""

    model: ModelSpec
    files: dict[str, str] = field(default_factory=dict)
    empty_dirs: list[str] = field(default_factory=list)


@dataclass
class InitResult:
    repository: Path
    spec_path: Path


@dataclass
class RenderResult:
    """What `render` changed (or would change, with check): path -> unified diff.

    `hand_edited`: configs changed by hand since their last render (or never rendered) whose content
    differs from the spec's; without `force` render writes nothing when there is one.
    """

    changed: dict[Path, str] = field(default_factory=dict)
    unchanged: list[Path] = field(default_factory=list)
    hand_edited: dict[Path, str] = field(default_factory=dict)


@locked("directory")
def init_repository(directory: Path | str = DEFAULT_REPOSITORY, *, force: bool = False) -> InitResult:
    """Create an empty model repository and its tritonkit.yaml; refuse a non-empty folder unless `force`."""
    repository = Path(directory)
    if repository.exists() and not repository.is_dir():
        raise RepositoryError(f"{repository} exists and is not a folder", hint="choose another path")
    if repository.is_dir() and any(repository.iterdir()) and not force:
        raise RepositoryError(f"{repository} is not empty", hint="use --force to make it a repository anyway")
    spec_path = spec_path_for(repository)
    if spec_path.exists() and not force:
        existing = load_project(repository)
        if existing.models or existing.spec_path.is_file():
            raise RepositoryError(f"{spec_path} already exists", hint="use --force to overwrite it")
    make_dirs(repository)
    project = Project(spec_path=spec_path, repository=repository)
    if force and spec_path.is_file():
        try:  # --force keeps the recorded models: a spec it cannot read is not silently emptied
            project.models = load_project(repository).models
        except RepositoryError as exc:
            raise RepositoryError(
                exc.message, hint=f"{exc.hint + '; ' if exc.hint else ''}fix {spec_path.name} or delete it"
            ) from exc
    write_project(project)
    write_schema_file(spec_path.parent)
    return InitResult(repository=repository, spec_path=spec_path)


def check_scaffold(spec: ModelSpec) -> None:
    """Refuse a spec `add` cannot scaffold: options of another backend, a model with no inputs or outputs.

    A non-ensemble config without inputs or outputs would validate, yet no request could reach the
    model (and the Python backend has no model.py to infer them from).
    """
    if spec.steps and spec.backend != "ensemble":
        raise UsageError("ensemble steps (--step) are for --backend ensemble")
    if spec.bls_target and spec.backend != "python":
        raise UsageError("--bls-target is for --backend python")
    if spec.backend != "ensemble" and (not spec.inputs or not spec.outputs):
        raise UsageError(
            f"model {spec.name!r} needs at least one input and one output",
            hint="e.g. --input x:fp32:16 --output y:fp32:4",
        )


def plan_model(spec: ModelSpec, project: Project | None = None) -> ScaffoldPlan:
    """The files for `spec`: config.pbtxt, the version folder, and model.py for Python models.

    Raises UsageError for a spec `check_scaffold` refuses.
    """
    check_scaffold(spec)
    plan = ScaffoldPlan(model=spec)
    plan.files[CONFIG_FILE] = render_config(spec)
    version = str(spec.version)
    if spec.backend == "python":
        target = bls_target_spec(spec, project)
        plan.files[f"{version}/model.py"] = render_python_model(spec, target)
    else:
        plan.empty_dirs.append(version)
    return plan


def bls_target_spec(spec: ModelSpec, project: Project | None) -> ModelSpec | None:
    """The BLS target as the server will see it: its config.pbtxt, else its tritonkit.yaml entry."""
    if not spec.bls_target or project is None:
        return None
    from tritonkit.model.schema import parse_config_safely

    path = project.repository / spec.bls_target / CONFIG_FILE
    try:
        config, _ = parse_config_safely(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError):
        config = None
    if config is not None:
        return ModelSpec.from_message(config)
    return project.model(spec.bls_target)


def check_bls_pairing(spec: ModelSpec, target: ModelSpec | None) -> None:
    """Refuse a BLS model whose tensors cannot all be paired with the target's real ones."""
    if target is None or spec.python_variant != "bls":
        return
    for kind, mine, theirs in (
        ("inputs", spec.inputs, target.inputs),
        ("outputs", spec.outputs, target.outputs),
    ):
        if len(mine) > len(theirs):
            names = ", ".join(t.name for t in theirs) or "none"
            raise UsageError(
                f"BLS target {target.name!r} has {len(theirs)} {kind} ({names}); {spec.name!r} declares"
                f" {len(mine)}",
                hint=f"give {spec.name!r} at most {len(theirs)} {kind}, paired by name or else by position",
            )


def chain_ensemble(spec: ModelSpec, project: Project) -> ModelSpec:
    """Fill an ensemble's steps given only member names: wire them in a chain, by tensor position.

    The ensemble's inputs feed the first member; each member's outputs feed the next one's inputs;
    the last member's outputs are the ensemble's outputs. Inputs/outputs default to the first/last
    member's. Steps that already carry maps are kept as they are.
    """
    if not spec.steps or any(s.input_map or s.output_map for s in spec.steps):
        return spec
    members = []
    for step in spec.steps:
        member = project.model(step.model_name)
        if member is None:
            raise UsageError(
                f"ensemble step {step.model_name!r} is not in {project.spec_path}",
                hint="add the member models first, or write the steps' maps in tritonkit.yaml",
            )
        members.append(member)
    if not spec.inputs:
        spec.inputs = [t for t in members[0].inputs]
    if not spec.outputs:
        spec.outputs = [t for t in members[-1].outputs]
    current = [t.name for t in spec.inputs]
    steps: list[EnsembleStepSpec] = []
    for index, member in enumerate(members):
        last = index == len(members) - 1
        if len(current) != len(member.inputs):
            raise UsageError(
                f"cannot chain {member.name!r}: it takes {len(member.inputs)} inputs, gets {len(current)}",
                hint="write this ensemble's steps with explicit maps in tritonkit.yaml",
            )
        input_map = {m.name: current[i] for i, m in enumerate(member.inputs)}
        if last:
            if len(member.outputs) != len(spec.outputs):
                raise UsageError(
                    f"the last step {member.name!r} does not produce {len(spec.outputs)} outputs"
                )
            outputs = [t.name for t in spec.outputs]
        else:
            outputs = [f"{member.name}_{t.name}" for t in member.outputs]
        output_map = {m.name: outputs[i] for i, m in enumerate(member.outputs)}
        steps.append(EnsembleStepSpec(member.name, spec.steps[index].model_version, input_map, output_map))
        current = outputs
    spec.steps = steps
    if spec.max_batch_size == 0 and all(m.max_batch_size > 0 for m in members):
        spec.max_batch_size = min(m.max_batch_size for m in members)
    return spec


@locked("repository")
def add_model(repository: Path, spec: ModelSpec, *, force: bool = False) -> ScaffoldPlan:
    """Scaffold `spec` into `repository` and record it in tritonkit.yaml. Atomic: all or nothing."""
    if not repository.is_dir():
        raise RepositoryError(f"repository {repository} does not exist", hint="run `tritonkit init` first")
    project = load_project(repository)
    if spec.backend == "ensemble":
        spec = chain_ensemble(spec, project)
    if spec.bls_target and spec.bls_target == spec.name:
        raise UsageError("a BLS model cannot call itself", hint="name another model with --bls-target")
    target = repository / spec.name
    if target.exists() and not force:
        raise RepositoryError(
            f"model {spec.name!r} already exists at {target}", hint="use --force to replace it"
        )
    if force:  # keep the fields add does not own (warmup, policies, tuning...)
        from tritonkit.repository.adopt import keep_unowned

        spec = keep_unowned(project, spec, ADD_FIELDS)
    check_bls_pairing(spec, bls_target_spec(spec, project))
    plan = plan_model(spec, project)
    files = dict(plan.files)
    for d in plan.empty_dirs:
        files[f"{d}/.keep"] = ""
    # Write the model folder first (atomic), then the spec; if the spec write fails, undo the folder.
    previous_yaml = project.spec_path.read_text(encoding="utf-8") if project.spec_path.is_file() else None
    write_tree(target, files, replace=force)
    project.upsert(spec)
    try:
        write_project(project)
    except BaseException:
        import shutil

        shutil.rmtree(target, ignore_errors=True)
        if previous_yaml is not None:
            write_text_atomic(project.spec_path, previous_yaml)
        raise
    if previous_yaml is None and not (project.spec_path.parent / SCHEMA_FILE).exists():
        write_schema_file(project.spec_path.parent)  # the spec's first line names it
    return plan


def _read_or_empty(path: Path) -> str:
    try:
        return path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError):
        return ""


def _diff(path: Path, old: str, new: str) -> str:
    return "".join(
        difflib.unified_diff(
            old.splitlines(keepends=True), new.splitlines(keepends=True), str(path), f"{path} (rendered)"
        )
    )


def _same_config(text: str, spec: ModelSpec) -> bool:
    from tritonkit.model.schema import parse_config_safely

    config, _ = parse_config_safely(text)
    return config is not None and config == spec.to_message()


@locked("repository")
def render_repository(repository: Path, *, check: bool = False, force: bool = False) -> RenderResult:
    """Regenerate every config.pbtxt from tritonkit.yaml (idempotent); with `check`, only report drift.

    A config edited by hand since its last render (its fingerprint no longer matches, or tritonkit
    never wrote it) whose content differs from the spec's goes to `hand_edited`, and then nothing
    is written unless `force`: render never silently erases a hand edit.
    """
    project = load_project(repository)
    if not project.spec_path.is_file():
        raise RepositoryError(
            f"no {project.spec_path.name} beside {repository}", hint="run `tritonkit init` first"
        )
    result = RenderResult()
    pending: dict[Path, str] = {}
    for spec in project.models:
        path = repository / spec.name / CONFIG_FILE
        new = render_config(spec)
        old = _read_or_empty(path)
        if old == new:
            result.unchanged.append(path)
        elif old and not force and config_state(old) != "rendered" and not _same_config(old, spec):
            result.hand_edited[path] = _diff(path, old, new)
            continue
        else:
            result.changed[path] = _diff(path, old, new)
            pending[path] = new
        # An AOTI export's copy for the bundled 24.10 server (configs/tritonkit-local.pbtxt) follows it.
        local = repository / spec.name / LOCAL_CONFIG
        if local.is_file():
            old_local, new_local = _read_or_empty(local), local_aoti_config(new)
            if old_local == new_local:
                result.unchanged.append(local)
            else:
                result.changed[local] = _diff(local, old_local, new_local)
                pending[local] = new_local
    if check or (result.hand_edited and not force):
        return result
    for path, text in pending.items():
        write_text_atomic(path, text)
    return result
