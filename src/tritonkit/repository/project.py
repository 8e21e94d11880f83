"""`tritonkit.yaml`: the spec file beside a repository, and how commands find their repository.

The spec file lives in the repository's parent folder and names the repository relative to itself:

    # tritonkit.yaml
    repository: model_repository
    models:
      - {name: fc_model_pt, backend: pytorch, ...}
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from tritonkit.errors import RepositoryError
from tritonkit.model.spec import ModelSpec

SPEC_FILE = "tritonkit.yaml"
DEFAULT_REPOSITORY = "model_repository"


@dataclass
class Project:
    """A repository folder and the models its spec file records."""

    spec_path: Path
    repository: Path
    models: list[ModelSpec] = field(default_factory=list)

    def model(self, name: str) -> ModelSpec | None:
        return next((m for m in self.models if m.name == name), None)

    def upsert(self, spec: ModelSpec) -> None:
        """Record `spec`, replacing an entry of the same name in place (order kept)."""
        for i, m in enumerate(self.models):
            if m.name == spec.name:
                self.models[i] = spec
                return
        self.models.append(spec)

    def to_yaml(self) -> str:
        import yaml

        try:
            rel = os.path.relpath(self.repository, self.spec_path.parent)
        except ValueError:  # another drive on Windows
            rel = str(self.repository)
        data: dict[str, Any] = {"repository": rel, "models": [m.to_dict() for m in self.models]}
        header = "# tritonkit spec: the source of each config.pbtxt (`tritonkit render` regenerates them).\n"
        dumper = getattr(yaml, "CSafeDumper", yaml.SafeDumper)  # libyaml when present: ~10x faster
        return header + yaml.dump(data, Dumper=dumper, sort_keys=False, default_flow_style=None, width=100)


def spec_path_for(repository: Path) -> Path:
    """Where the spec file of `repository` lives: beside it, in its parent folder."""
    return repository.absolute().parent / SPEC_FILE


def find_spec_file(start: Path | None = None) -> Path | None:
    """The nearest tritonkit.yaml in `start` or a parent folder."""
    here = (start or Path.cwd()).absolute()
    for folder in (here, *here.parents):
        candidate = folder / SPEC_FILE
        if candidate.is_file():
            return candidate
    return None


def resolve_repository(repo: Path | str | None) -> Path:
    """`--repo` if given, else the repository named by the nearest tritonkit.yaml, else ./model_repository."""
    if repo is not None:
        return Path(repo)
    spec_file = find_spec_file()
    if spec_file is not None:
        return load_project_file(spec_file).repository
    return Path(DEFAULT_REPOSITORY)


def load_project_file(spec_path: Path) -> Project:
    """Parse a tritonkit.yaml; a broken one is a RepositoryError naming the file."""
    import yaml

    try:
        loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)  # libyaml when present: ~10x faster
        data = yaml.load(spec_path.read_text(encoding="utf-8"), Loader=loader) or {}
    except (OSError, UnicodeDecodeError, yaml.YAMLError) as exc:
        raise RepositoryError(f"{spec_path}: cannot read the spec file: {exc}".replace("\n", " ")) from exc
    if not isinstance(data, dict):
        raise RepositoryError(f"{spec_path}: the spec file must be a mapping with 'repository' and 'models'")
    repository = spec_path.parent / str(data.get("repository", DEFAULT_REPOSITORY))
    models_data = data.get("models") or []
    if not isinstance(models_data, list):
        raise RepositoryError(f"{spec_path}: 'models' must be a list")
    try:
        models = [ModelSpec.from_dict(m) for m in models_data]
    except (KeyError, TypeError, ValueError) as exc:
        raise RepositoryError(f"{spec_path}: bad model entry: {exc}") from exc
    except RepositoryError:
        raise
    except Exception as exc:  # UsageError from spec checks: the file, not the flags, is wrong
        from tritonkit.errors import TritonkitError

        if isinstance(exc, TritonkitError):
            raise RepositoryError(f"{spec_path}: {exc.message}", hint=exc.hint) from exc
        raise
    return Project(spec_path=spec_path, repository=repository, models=models)


def load_project(repository: Path) -> Project:
    """The project of `repository`: its spec file if there is one, else an empty one (not yet written)."""
    spec_path = spec_path_for(repository)
    if spec_path.is_file():
        project = load_project_file(spec_path)
        if project.repository.absolute().resolve() == repository.absolute().resolve():
            return project
    return Project(spec_path=spec_path, repository=repository)
