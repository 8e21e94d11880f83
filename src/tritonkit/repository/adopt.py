"""`import` (adopt an existing repository into tritonkit.yaml) and `remove` (drop a model).

Import is lossless: each config.pbtxt is parsed with the official schema and held whole by its
spec, so a later `render` writes configs whose parsed messages equal the originals (comments are
the only loss). Nothing is written unless every selected config parses.
"""

from __future__ import annotations

import os
import shutil
from dataclasses import dataclass, field
from pathlib import Path

from tritonkit.errors import RepositoryError
from tritonkit.model.spec import ModelSpec, merge_owned, owned_fields
from tritonkit.repository.lock import locked
from tritonkit.repository.project import SCHEMA_FILE, Project, load_project, write_project, write_schema_file
from tritonkit.repository.render import render_config
from tritonkit.repository.scan import CONFIG_FILE, list_model_dirs
from tritonkit.repository.staging import held_folder


@dataclass
class ImportResult:
    """What `import` recorded: the models adopted, those skipped (no config.pbtxt), the spec file."""

    spec_path: Path
    imported: list[str] = field(default_factory=list)
    replaced: list[str] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)


def read_config_spec(path: Path, folder_name: str) -> ModelSpec:
    """The spec holding exactly the config at `path`; one that does not parse is refused with its line."""
    from tritonkit.model.schema import parse_config_safely

    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise RepositoryError(
            f"{path}: cannot read: {exc}", hint="fix or remove it, then import again"
        ) from exc
    config, problem = parse_config_safely(text)
    if config is None:
        assert problem is not None
        where = f"{path}:{problem.line}:{problem.column}" if problem.line else str(path)
        hint = problem.hint or "fix the config (nothing was imported), then import again"
        raise RepositoryError(f"{where}: {problem.message}", hint=hint)
    if config.name and config.name != folder_name:
        raise RepositoryError(
            f"{path}: the config names model {config.name!r}, its folder is {folder_name!r}",
            hint="the server refuses this too: rename the folder or the config's name",
        )
    config.name = folder_name  # the server fills an empty name from the folder the same way
    return ModelSpec.from_message(config)


def config_spec(path: Path) -> ModelSpec | None:
    """The spec of an existing config.pbtxt (None when absent or unparseable)."""
    from tritonkit.model.schema import parse_config_safely

    try:
        config, _ = parse_config_safely(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError):
        return None
    return None if config is None else ModelSpec.from_message(config)


def keep_unowned(project: Project, spec: ModelSpec, owned: tuple[str, ...]) -> ModelSpec:
    """`spec` with every field outside `owned` (and the scheduling its flags did not set) taken from
    the model's current entry in tritonkit.yaml, else its config.pbtxt; `spec` itself when neither."""
    previous = project.model(spec.name) or config_spec(project.repository / spec.name / CONFIG_FILE)
    return spec if previous is None else merge_owned(previous, spec, owned_fields(owned, spec))


@locked("repository")
def import_repository(
    repository: Path, *, models: list[str] | None = None, force: bool = False
) -> ImportResult:
    """Record the models of an existing repository in tritonkit.yaml (created when absent)."""
    if not repository.is_dir():
        raise RepositoryError(f"repository {repository} does not exist", hint="give the repository folder")
    project = load_project(repository)
    found = {m.name: m for m in list_model_dirs(repository)}
    wanted = models or sorted(found)
    missing = [name for name in wanted if name not in found]
    if missing:
        raise RepositoryError(
            f"no model folder {missing[0]!r} in {repository}", hint=f"models: {', '.join(found)}"
        )
    result = ImportResult(spec_path=project.spec_path)
    specs: list[ModelSpec] = []
    for name in wanted:
        model = found[name]
        if not model.has_config:
            result.skipped.append(name)
            continue
        spec = read_config_spec(model.path / CONFIG_FILE, name)
        if model.versions and 1 not in model.versions:
            spec.version = max(model.versions)
        if project.model(name) is not None:
            if not force:
                raise RepositoryError(
                    f"model {name!r} is already in {project.spec_path}",
                    hint="use --force to replace its entry with what its config.pbtxt says",
                )
            result.replaced.append(name)
        from tritonkit.model.schema import parse_config

        # Lossless by construction; checked anyway, since a loss here would be silent later.
        if parse_config(render_config(spec)) != spec.to_message():  # pragma: no cover - a bug
            raise RepositoryError(f"internal error: {name!r} would not render back equal; please report it")
        specs.append(spec)
        result.imported.append(name)
    for spec in specs:
        project.upsert(spec)
    if specs or not project.spec_path.is_file():
        write_project(project)
        if not (project.spec_path.parent / SCHEMA_FILE).is_file():
            write_schema_file(project.spec_path.parent)
    return result


@dataclass
class RemoveResult:
    name: str
    spec_path: Path
    removed_entry: bool
    removed_folder: Path | None = None


@locked("repository")
def remove_model(repository: Path, name: str, *, files: bool = False) -> RemoveResult:
    """Drop `name` from tritonkit.yaml and, with `files`, delete its model folder too."""
    project: Project = load_project(repository)
    folder = repository / name
    spec = project.model(name)
    if spec is None and not (files and folder.is_dir()):
        known = ", ".join(m.name for m in project.models) or "none"
        raise RepositoryError(
            f"model {name!r} is not in {project.spec_path}", hint=f"recorded models: {known}"
        )
    result = RemoveResult(name=name, spec_path=project.spec_path, removed_entry=spec is not None)
    trash = None
    if files and folder.is_dir():
        # Out of the server's sight at once, and outside the repository (the server loads hidden folders
        # too, see staging.py); deleted once the spec is written, or by the next run if killed.
        with held_folder(folder, "removed") as holder:
            os.rename(folder, holder / name)
            trash = holder / name
    try:
        if spec is not None:
            project.remove(name)
            write_project(project)
    except BaseException:
        if trash is not None:
            os.rename(trash, folder)
        raise
    if trash is not None:
        shutil.rmtree(trash.parent, ignore_errors=True)
        result.removed_folder = folder
    return result
