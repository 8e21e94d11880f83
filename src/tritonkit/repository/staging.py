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
import os
import shutil
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path

PREFIX = ".tritonkit-staging."


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


def clean_for(target: Path) -> list[Path]:
    """Remove what killed runs left for `target`'s repository (and old names beside `target`)."""
    area = area_for(target)
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
            clean_for(target)
            area = area_for(target)
            if area is None:
                path = Path(tempfile.mkdtemp(prefix=f".{target.name}.", suffix=f".{kind}", dir=target.parent))
            else:
                prefix = f"{PREFIX}{target.name[:64]}."
                path = Path(tempfile.mkdtemp(prefix=prefix, suffix=f".{kind}", dir=area))
            fd = _try_lock(path)
        os.chmod(path, 0o777 & ~current_umask())  # mkdtemp makes 0700; the folder becomes a model folder
        yielded = True
        yield path
    except BaseException:
        if path is not None and not yielded:  # interrupted before the caller had it: remove it here
            shutil.rmtree(path, ignore_errors=True)
        raise
    finally:
        if fd is not None:
            os.close(fd)


_umask_snapshot: int | None = None


@contextlib.contextmanager
def umask_snapshot() -> Iterator[None]:
    """Read the umask once for a block that writes several files (an export: staging folder, golden,
    spec): `current_umask` then answers from the snapshot instead of reading /proc each time."""
    global _umask_snapshot
    outer = _umask_snapshot
    _umask_snapshot = current_umask() if outer is None else outer
    try:
        yield
    finally:
        _umask_snapshot = outer


def current_umask() -> int:
    """The process umask, read without changing it (os.umask can only set it, racing other threads)."""
    if _umask_snapshot is not None:
        return _umask_snapshot
    try:
        with open("/proc/self/status", encoding="ascii") as status:
            for line in status:
                if line.startswith("Umask:"):
                    return int(line.split()[1], 8)
    except (OSError, ValueError, IndexError):
        pass
    mask = os.umask(0o022)
    os.umask(mask)
    return mask
