"""`tritonkit.yaml`: the spec file beside a repository, and how commands find their repository.

The spec file lives in the repository's parent folder and names the repository relative to itself.
Each model entry is a whole `ModelConfig` under the protobuf field names (checked against the official
descriptor when the file is read: an unknown key, a wrong type or an unknown enum value is an error
naming file:line, with a did-you-mean), plus tritonkit's own keys under `tritonkit:`:

    # tritonkit.yaml
    repository: model_repository
    models:
      - name: fc_model_pt
        platform: pytorch_libtorch
        max_batch_size: 8
        input: [{name: INPUT__0, data_type: TYPE_FP32, dims: [16]}]
        output: [{name: OUTPUT__0, data_type: TYPE_FP32, dims: [4]}]
        model_warmup: [...]
        tritonkit: {version: 2}

`write_project` is the one function that writes the file.
"""

from __future__ import annotations

import difflib
import functools
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from tritonkit.errors import RepositoryError
from tritonkit.model.spec import OWN_KEYS, ModelSpec

SPEC_FILE = "tritonkit.yaml"
SCHEMA_FILE = "tritonkit.schema.json"
DEFAULT_REPOSITORY = "model_repository"
_TOP_KEYS = ("repository", "models", "target")  # target: {triton, gpus}, read by validate.target
HEADER = (
    f"# yaml-language-server: $schema={SCHEMA_FILE}\n"
    "# tritonkit spec: the source of each config.pbtxt (`tritonkit render` regenerates them).\n"
    "# Model entries are ModelConfig fields (protobuf names); tritonkit's own keys go under `tritonkit:`.\n"
)


@dataclass
class Project:
    """A repository folder and the models its spec file records."""

    spec_path: Path
    repository: Path
    models: list[ModelSpec] = field(default_factory=list)
    target: Any = None  # the `target:` mapping as read (validate.target checks it); kept when rewritten

    def model(self, name: str) -> ModelSpec | None:
        return next((m for m in self.models if m.name == name), None)

    def upsert(self, spec: ModelSpec) -> None:
        """Record `spec`, replacing an entry of the same name in place (order kept)."""
        for i, m in enumerate(self.models):
            if m.name == spec.name:
                self.models[i] = spec
                return
        self.models.append(spec)

    def remove(self, name: str) -> ModelSpec | None:
        """Drop the entry `name`; the removed spec, or None when there was none."""
        spec = self.model(name)
        if spec is not None:
            self.models.remove(spec)
        return spec

    def to_yaml(self) -> str:
        import yaml

        try:
            rel = os.path.relpath(self.repository, self.spec_path.parent)
        except ValueError:  # another drive on Windows
            rel = str(self.repository)
        data: dict[str, Any] = {"repository": rel, "models": [m.to_dict() for m in self.models]}
        if self.target is not None:
            data["target"] = self.target
        dumper = getattr(yaml, "CSafeDumper", yaml.SafeDumper)  # libyaml when present: ~10x faster
        return HEADER + yaml.dump(data, Dumper=dumper, sort_keys=False, default_flow_style=None, width=100)


def write_project(project: Project) -> None:
    """Write `project` to its tritonkit.yaml (atomically): the one writer of the spec file."""
    from tritonkit.repository.layout import write_text_atomic

    write_text_atomic(project.spec_path, project.to_yaml())


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


class _Marked(dict):  # type: ignore[type-arg]
    """A YAML mapping that remembers the line of each key."""

    line: int = 0
    lines: dict[Any, int]


class _MarkedList(list):  # type: ignore[type-arg]
    line: int = 0
    lines: list[int]


@functools.cache  # one class per process: building it (and its constructor table) costs each load
def _loader() -> type:
    import yaml

    base = getattr(yaml, "CSafeLoader", yaml.SafeLoader)  # libyaml when present: ~10x faster

    class Loader(base):  # type: ignore[misc, valid-type]
        def construct_mapping(self, node: Any, deep: bool = False) -> Any:
            self.flatten_mapping(node)
            out = _Marked()
            out.line, out.lines = node.start_mark.line + 1, {}
            for key_node, value_node in node.value:
                key = self.construct_object(key_node, deep=True)
                if key in out:
                    raise _Duplicate(key, key_node.start_mark.line + 1, out.lines[key])
                out[key] = self.construct_object(value_node, deep=True)
                out.lines[key] = key_node.start_mark.line + 1
            return out

        def construct_sequence(self, node: Any, deep: bool = False) -> Any:
            out = _MarkedList(self.construct_object(child, deep=True) for child in node.value)
            out.line, out.lines = node.start_mark.line + 1, [c.start_mark.line + 1 for c in node.value]
            return out

    Loader.add_constructor("tag:yaml.org,2002:map", Loader.construct_mapping)
    Loader.add_constructor("tag:yaml.org,2002:seq", Loader.construct_sequence)
    return Loader


class _Duplicate(Exception):
    def __init__(self, key: object, line: int, first: int) -> None:
        super().__init__(key)
        self.key, self.line, self.first = key, line, first


def _line(node: Any, path: tuple[Any, ...]) -> int | None:
    """The line of the value at `path` under `node` (the deepest one located)."""
    line = getattr(node, "line", None)
    for key in path:
        lines = getattr(node, "lines", None)
        try:
            line = lines[key] if lines is not None else line
            node = node[key]
        except (KeyError, IndexError, TypeError):
            break
    return line


def _fail(spec_path: Path, line: int | None, message: str, hint: str | None = None) -> RepositoryError:
    where = f"{spec_path}:{line}" if line else str(spec_path)
    return RepositoryError(f"{where}: {message}", hint=hint)


def parse_entry(entry: Any, spec_path: Path) -> ModelSpec:
    """One model entry of tritonkit.yaml, checked against the ModelConfig descriptor."""
    from tritonkit.errors import UsageError
    from tritonkit.model.messages import MessageDataError, did_you_mean, fill_message
    from tritonkit.model.schema import new_config
    from tritonkit.model.spec import check_folder_name

    if not isinstance(entry, dict):
        raise _fail(
            spec_path, getattr(entry, "line", None), "each model must be a mapping of ModelConfig fields"
        )
    config = {k: v for k, v in entry.items() if k != "tritonkit"}
    own = entry.get("tritonkit") or {}
    if not isinstance(own, dict):
        raise _fail(spec_path, _line(entry, ("tritonkit",)), "'tritonkit' must be a mapping")
    for key, value in own.items():
        line = _line(entry, ("tritonkit", key))
        if key not in OWN_KEYS:
            hint = did_you_mean(str(key), list(OWN_KEYS)) or f"tritonkit's keys: {', '.join(OWN_KEYS)}"
            raise _fail(spec_path, line, f"unknown tritonkit key {key!r}", hint)
        good = (
            isinstance(value, int) and not isinstance(value, bool) and value >= 1
            if key == "version"
            else (value in ("plain", "bls") if key == "python_variant" else isinstance(value, str))
        )
        if not good:
            expected = {"version": "an integer >= 1", "python_variant": "plain or bls"}.get(key, "a string")
            raise _fail(spec_path, line, f"tritonkit.{key} must be {expected}, got {value!r}")
    if "name" not in config:
        raise _fail(spec_path, getattr(entry, "line", None), "a model entry needs a 'name'")
    try:
        message = fill_message(config, new_config())
    except MessageDataError as exc:
        why: str | None = exc.hint
        if len(exc.path) == 1 and exc.path[0] in OWN_KEYS:
            why = f"tritonkit's own keys go under `tritonkit:` (tritonkit: {{{exc.path[0]}: ...}})"
        raise _fail(spec_path, _line(entry, exc.path), exc.message, why) from exc
    try:
        check_folder_name(message.name)
    except UsageError as exc:
        raise _fail(spec_path, _line(entry, ("name",)), exc.message, exc.hint) from exc
    return ModelSpec.from_message(message, own)


def parse_project(text: str, spec_path: Path) -> Project:
    """The Project a tritonkit.yaml text describes; any problem is a RepositoryError naming file:line."""
    import yaml

    try:
        data = yaml.load(text, Loader=_loader()) or {}
    except _Duplicate as exc:
        raise _fail(spec_path, exc.line, f"duplicate key {exc.key!r} (first at line {exc.first})",
                    "keep one of them") from exc  # fmt: skip
    except yaml.YAMLError as exc:
        raise RepositoryError(f"{spec_path}: cannot read the spec file: {exc}".replace("\n", " ")) from exc
    if not isinstance(data, dict):
        raise _fail(spec_path, None, "the spec file must be a mapping with 'repository' and 'models'")
    for key in data:
        if key not in _TOP_KEYS:
            close = difflib.get_close_matches(str(key), _TOP_KEYS, n=1)
            hint = f"did you mean {close[0]}?" if close else "the keys are repository, models and target"
            raise _fail(spec_path, _line(data, (key,)), f"unknown key {key!r}", hint)
    repository = spec_path.parent / str(data.get("repository", DEFAULT_REPOSITORY))
    entries = data.get("models") or []
    if not isinstance(entries, list):
        raise _fail(spec_path, _line(data, ("models",)), "'models' must be a list")
    models: list[ModelSpec] = []
    seen: dict[str, int | None] = {}
    for index, entry in enumerate(entries):
        spec = parse_entry(entry, spec_path)
        line = _line(data, ("models", index))
        if spec.name in seen:
            raise _fail(spec_path, line, f"duplicate model {spec.name!r} (first at line {seen[spec.name]})",
                        "keep one entry per model")  # fmt: skip
        seen[spec.name] = line
        models.append(spec)
    return Project(spec_path=spec_path, repository=repository, models=models, target=data.get("target"))


def load_project_file(spec_path: Path) -> Project:
    """Parse a tritonkit.yaml; a broken one is a RepositoryError naming the file (and line)."""
    try:
        text = spec_path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise RepositoryError(f"{spec_path}: cannot read the spec file: {exc}".replace("\n", " ")) from exc
    return parse_project(text, spec_path)


def load_project(repository: Path) -> Project:
    """The project of `repository`: its spec file if there is one, else an empty one (not yet written)."""
    spec_path = spec_path_for(repository)
    if spec_path.is_file():
        project = load_project_file(spec_path)
        mine, asked = project.repository.absolute(), repository.absolute()
        if mine == asked or mine.resolve() == asked.resolve():  # the same text: no symlink walk needed
            return project
    return Project(spec_path=spec_path, repository=repository)


def write_schema_file(folder: Path) -> Path:
    """tritonkit.schema.json beside tritonkit.yaml (its `$schema` line names it, for editors)."""
    import json

    from tritonkit.model.jsonschema import spec_file_schema
    from tritonkit.repository.layout import write_text_atomic

    path = folder / SCHEMA_FILE
    write_text_atomic(path, json.dumps(spec_file_schema(), indent=1) + "\n")
    return path
