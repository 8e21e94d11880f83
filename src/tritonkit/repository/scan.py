"""The one scan of a model repository on disk: model folders, their version folders and config.

Every module that looks at a repository's folders (validate, describe, export, serve, test) reads
them through `scan_repository` / `scan_model_folder`, so they all agree with the server on what a
model folder and a version folder are. Each model folder costs one `scandir` (validate scans
thousands of them on every push).
"""

from __future__ import annotations

import functools
import operator
import os
from dataclasses import dataclass, field
from pathlib import Path

from tritonkit.errors import RepositoryError

CONFIG_FILE = "config.pbtxt"
_NAME = operator.attrgetter("name")  # sort key of directory entries


def is_version_name(name: str) -> bool:
    """A folder name made of digits only (Triton also drops those with a leading zero, see `version_of`)."""
    return name.isdigit() and name.isascii()


def version_of(name: str) -> int | None:
    """The version a folder name gives, or None when the server does not load it as a version.

    Mirrors the core's `VersionsToLoad` (model_lifecycle.cc): a name with a leading zero ("01") is
    ignored with a warning; a name that is not an integer is ignored.
    """
    if not is_version_name(name) or (len(name) > 1 and name[0] == "0"):
        return None
    return int(name)


@dataclass
class ModelFolder:
    """A model folder as found on disk (names are folder entry names, sorted).

    Paths are kept as the strings the scan read (`location`, `version_dirs`); `path` and `versions` make
    `Path` objects on first use, since validate scans thousands of folders and mostly needs neither.
    """

    name: str  # the folder name: what Triton calls the model
    location: str  # the folder's path, as given (relative when the repository was)
    has_config: bool = False
    version_dirs: dict[int, str] = field(default_factory=dict)  # version -> its folder's path string
    leading_zero_dirs: list[str] = field(default_factory=list)  # "01": Triton ignores these
    other_dirs: list[str] = field(default_factory=list)  # non-hidden folders that are not versions
    broken_links: list[str] = field(default_factory=list)  # links that point nowhere (or loop)

    @functools.cached_property
    def path(self) -> Path:
        return Path(self.location)

    @functools.cached_property
    def versions(self) -> dict[int, Path]:
        """The version folders Triton loads: version -> folder."""
        return {v: self.path / os.path.basename(d) for v, d in self.version_dirs.items()}

    @property
    def config_path(self) -> Path:
        return self.path / CONFIG_FILE

    def model_files(self, filename: str) -> dict[int, Path]:
        """Version -> `<version>/<filename>` for the versions where that model file (or folder) exists."""
        return {v: p / filename for v, p in sorted(self.versions.items()) if (p / filename).exists()}


@dataclass
class RepositoryScan:
    """A repository's model folders, and the top-level entries that are not one."""

    path: Path
    models: list[ModelFolder]
    broken_links: list[Path] = field(default_factory=list)  # dangling links where a model folder would be
    is_model_folder: bool = False  # the folder holds a config.pbtxt and version folders itself

    @property
    def names(self) -> list[str]:
        return [m.name for m in self.models]


def scan_model_folder(path: Path | str, name: str | None = None) -> ModelFolder:
    """One `scandir` of a model folder; an unreadable or missing folder scans as empty."""
    location = path if isinstance(path, str) else str(path)
    model = ModelFolder(name=Path(location).name if name is None else name, location=location)
    try:
        with os.scandir(location) as listing:
            entries = sorted(listing, key=_NAME)
    except OSError:
        return model
    for entry in entries:
        entry_name = entry.name
        try:
            is_dir = entry.is_dir()
            is_file = not is_dir and entry.is_file()
        except OSError:
            model.broken_links.append(entry_name)
            continue
        if not is_dir:
            if entry_name == CONFIG_FILE and is_file:
                model.has_config = True
            elif not is_file and entry.is_symlink():  # dangling or looping: neither file nor folder
                model.broken_links.append(entry_name)
            continue
        if entry_name == CONFIG_FILE:
            continue  # a folder named config.pbtxt: the layout rules report it
        version = version_of(entry_name)
        if version is not None:
            model.version_dirs[version] = child_path(location, entry_name)
        elif is_version_name(entry_name):
            model.leading_zero_dirs.append(entry_name)
        elif not entry_name.startswith("."):
            model.other_dirs.append(entry_name)
    return model


def child_path(folder: str, name: str) -> str:
    """`str(Path(folder) / name)` without making the Path (a `str(Path)` is already normalized)."""
    if folder == ".":
        return name
    return folder + name if folder.endswith(os.sep) else folder + os.sep + name


def scan_repository(repository: Path) -> RepositoryScan:
    """Every model folder of a repository, hidden ones included (plain files skipped), sorted by name.

    Raises RepositoryError when the repository cannot be read.
    """
    root = str(Path(repository))  # normalized, as the model folders' paths are shown
    try:
        with os.scandir(root) as listing:
            entries = sorted(listing, key=_NAME)
    except OSError as exc:
        raise RepositoryError(f"cannot read repository {repository}: {exc.strerror}") from exc
    scan = RepositoryScan(path=repository, models=[])
    scan.is_model_folder = any(e.name == CONFIG_FILE for e in entries) and any(
        is_version_name(e.name) for e in entries
    )
    for entry in entries:
        try:
            is_dir = entry.is_dir()
        except OSError:  # a symlink loop or a vanished entry: not a model folder
            is_dir = False
        if not is_dir:
            if entry.is_symlink() and not entry.name.startswith("."):
                scan.broken_links.append(Path(entry.path))
            continue
        # Every sub-folder is a model to the server, hidden ones too (.ipynb_checkpoints, .git): the core's
        # GetDirectorySubdirs (core/src/filesystem) skips only "." and "..".
        scan.models.append(scan_model_folder(child_path(root, entry.name), entry.name))
    return scan


def list_model_dirs(repository: Path) -> list[ModelFolder]:
    """The model folders of a repository (see `scan_repository`)."""
    return scan_repository(repository).models


def next_version(model_path: Path) -> int:
    """One above the highest version folder Triton would load (1 when there is none)."""
    return max(scan_model_folder(model_path).version_dirs, default=0) + 1
