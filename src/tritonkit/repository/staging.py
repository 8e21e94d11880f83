"""Where half-built model and version folders live until one rename puts them into the repository.

Triton loads every sub-folder of a repository as a model, hidden ones included: core's
`LocalFileSystem::GetDirectorySubdirs` (filesystem/implementations/local.h) drops only "." and "..",
and `ModelRepositoryManager::Poll` (model_repository_manager.cc) makes each sub-folder a model. A
`.NAME.XXXX.staging/` left in the repository by a killed export made `serve` fail ("failed to load
.big.krppo0fd.staging") while validate, which skips hidden folders, said ok. So folders are staged
outside the repository, as hidden siblings of it (`.tritonkit-staging.NAME.XXXX/` beside the
repository and its tritonkit.yaml), on the same file system so the last step is one rename.

Each staging folder is held by an exclusive `flock` on its own descriptor while in use (the kernel
drops it when the process dies, even by SIGKILL), and folders are made and cleaned under the
repository lock (`lock.py`). Every new staging first removes the folders nobody holds, what a killed
run left, so debris never outlives the next export or add. Only when the repository's folder cannot
hold them (the repository is a mount point of its own, or that folder is not writable) does staging
fall back to a hidden sibling of the target, the old place, cleaned the same way.
"""

from __future__ import annotations

import contextlib
import errno
import os
import shutil
from collections.abc import Callable, Iterator
from pathlib import Path

PREFIX = ".tritonkit-staging."
# tempfile.mkstemp's flags (os.open makes the descriptor non-inheritable itself)
_NEW_FILE = os.O_RDWR | os.O_CREAT | os.O_EXCL | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_BINARY", 0)


def create_unique(folder: Path, prefix: str, suffix: str, *, directory: bool = False) -> tuple[Path, int]:
    """A new file (and its open descriptor) or folder (and -1) in `folder`, named prefix + random + suffix.

    What tempfile.mkstemp/mkdtemp do, but with the mode the umask gives: they make 0600/0700, which a
    server running as another user cannot read, and mending that took a read of the umask (from /proc)
    and a chmod. Created as 0666/0777, the file gets its mode from the kernel, as any other file does.
    """
    for _ in range(100):  # tempfile.TMP_MAX
        path = folder / f"{prefix}{os.urandom(4).hex()}{suffix}"
        try:
            if directory:
                os.mkdir(path, 0o777)
                return path, -1
            return path, os.open(path, _NEW_FILE, 0o666)
        except FileExistsError:
            continue
    raise FileExistsError(errno.EEXIST, "no unused temporary name", str(folder / f"{prefix}XXXXXXXX{suffix}"))


def repository_of(target: Path) -> Path:
    """The repository a model folder (`repo/NAME`) or a version folder (`repo/NAME/3`) belongs to."""
    name = target.name
    return target.parent.parent if name.isdigit() and name.isascii() else target.parent


def area_for(target: Path) -> Path | None:
    """The folder staging for `target` happens in, or None when it is not on `target`'s file system."""
    area = repository_of(target).absolute().parent
    try:
        if os.stat(area).st_dev != os.stat(target.parent).st_dev or not os.access(area, os.W_OK):
            return None
    except OSError:
        return None
    return area


def _try_lock(path: Path) -> int | None:
    """An open descriptor holding `path`'s exclusive flock, or None when another process holds it."""
    import fcntl

    try:
        fd = os.open(path, os.O_RDONLY | os.O_CLOEXEC)
    except OSError:
        return None
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError:
        os.close(fd)
        return None
    return fd


def _ours(name: str) -> bool:
    return name.startswith(PREFIX)


def _legacy(target: Path) -> Callable[[str], bool]:
    """Names staging beside the target had (older tritonkits, the fallback): `.NAME.XXXX.staging`."""
    prefix = f".{target.name}."
    return lambda name: name.startswith(prefix) and (name.endswith((".staging", ".old")) or ".old-" in name)


def clean(folder: Path, match: Callable[[str], bool] = _ours) -> list[Path]:
    """Remove the staging folders in `folder` (names `match` accepts) that no live process holds."""
    removed: list[Path] = []
    try:
        entries = list(os.scandir(folder))
    except OSError:
        return removed
    for entry in entries:
        if not match(entry.name):
            continue
        with contextlib.suppress(OSError):
            if not entry.is_dir(follow_symlinks=False):
                continue
        fd = _try_lock(Path(entry.path))
        if fd is None:
            continue  # in use by a running export/add
        try:
            shutil.rmtree(entry.path, ignore_errors=True)
            removed.append(Path(entry.path))
        finally:
            os.close(fd)
    return removed


def clean_for(target: Path, area: Path | None) -> list[Path]:
    """Remove what killed runs left in `target`'s staging `area` (see `area_for`) and old names beside
    `target`."""
    removed = clean(area) if area is not None else []
    return removed + clean(target.parent, _legacy(target))


@contextlib.contextmanager
def held_folder(target: Path, kind: str = "staging") -> Iterator[Path]:
    """A new empty folder, flocked by this process, that one rename can make into `target`.

    Cleans what earlier (killed) runs left first. The folder is not removed here: the caller renames
    it into place or removes it; if the process dies, the next run removes it.
    """
    from tritonkit.repository.lock import repository_lock

    path: Path | None = None
    fd: int | None = None
    yielded = False
    try:
        with repository_lock(repository_of(target)):
            area = area_for(target)
            clean_for(target, area)
            if area is None:
                path, _ = create_unique(target.parent, f".{target.name}.", f".{kind}", directory=True)
            else:
                path, _ = create_unique(area, f"{PREFIX}{target.name[:64]}.", f".{kind}", directory=True)
            fd = _try_lock(path)
        yielded = True
        yield path
    except BaseException:
        if path is not None and not yielded:  # interrupted before the caller had it: remove it here
            shutil.rmtree(path, ignore_errors=True)
        raise
    finally:
        if fd is not None:
            os.close(fd)
