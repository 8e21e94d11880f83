"""The repository on disk: its models and versions, and writes that never leave half a model behind.

Every write goes to a temporary sibling first and is renamed into place, so a failure (an exception,
a full disk, Ctrl-C) leaves the repository as it was.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

from tritonkit.errors import RepositoryError

CONFIG_FILE = "config.pbtxt"


@dataclass
class ModelDir:
    """A model folder as found on disk: its versions (numeric folder names) and other entries."""

    name: str
    path: Path
    has_config: bool
    versions: dict[int, Path] = field(default_factory=dict)
    other_dirs: list[str] = field(default_factory=list)


def is_version_name(name: str) -> bool:
    """What Triton accepts as a version folder: digits only (leading zeros are flagged by validate)."""
    return name.isdigit() and name.isascii()


def list_model_dirs(repository: Path) -> list[ModelDir]:
    """Model folders of a repository (hidden entries and plain files skipped), sorted by name."""
    models: list[ModelDir] = []
    try:
        entries = sorted(os.scandir(repository), key=lambda e: e.name)
    except OSError as exc:
        raise RepositoryError(f"cannot read repository {repository}: {exc.strerror}") from exc
    for entry in entries:
        if entry.name.startswith("."):
            continue
        try:
            if not entry.is_dir():
                continue
        except OSError:  # a symlink loop or a vanished entry: not a model folder
            continue
        path = Path(entry.path)
        model = ModelDir(name=entry.name, path=path, has_config=(path / CONFIG_FILE).is_file())
        try:
            children = sorted(os.scandir(path), key=lambda e: e.name)
        except OSError:
            children = []
        for child in children:
            try:
                is_dir = child.is_dir()
            except OSError:
                continue
            if not is_dir:
                continue
            if is_version_name(child.name):
                model.versions[int(child.name)] = Path(child.path)
            else:
                model.other_dirs.append(child.name)
        models.append(model)
    return models


def next_version(model_path: Path) -> int:
    """One above the highest numeric version folder (1 when there is none)."""
    if not model_path.is_dir():
        return 1
    versions = [int(p.name) for p in model_path.iterdir() if p.is_dir() and is_version_name(p.name)]
    return max(versions, default=0) + 1


def write_text_atomic(path: Path, text: str) -> None:
    """Write a file through a temporary sibling and a rename: readers never see half of it."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write(text)
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise


@contextlib.contextmanager
def staged_dir(target: Path, *, replace: bool = False) -> Iterator[Path]:
    """Yield an empty temporary folder beside `target`; on success it becomes `target`.

    With `replace`, an existing `target` is swapped out only after the new one is complete. On any
    exception the temporary folder is removed and `target` is untouched.
    """
    if target.exists() and not replace:
        raise RepositoryError(f"{target} already exists", hint="use --force to replace it")
    target.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{target.name}.", suffix=".staging", dir=target.parent))
    try:
        yield staging
        if target.exists():
            old = target.with_name(f".{target.name}.old-{os.getpid()}")
            os.rename(target, old)
            try:
                os.rename(staging, target)
            except BaseException:
                os.rename(old, target)
                raise
            shutil.rmtree(old, ignore_errors=True)
        else:
            os.rename(staging, target)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise


def write_tree(target: Path, files: dict[str, str], *, replace: bool = False) -> None:
    """Create the folder `target` holding `files` (relative path -> text) in one atomic step."""
    with staged_dir(target, replace=replace) as staging:
        for rel, text in files.items():
            dest = staging / rel
            dest.parent.mkdir(parents=True, exist_ok=True)
            dest.write_text(text, encoding="utf-8")
