"""Writes into a repository that never leave half a model behind (the scan is in `scan.py`).

Every write goes to a temporary sibling first and is renamed into place, so a failure (an exception,
a full disk, Ctrl-C) leaves the repository as it was.
"""

from __future__ import annotations

import contextlib
import errno
import os
import shutil
from collections.abc import Iterator
from pathlib import Path

from tritonkit.errors import RepositoryError, RepositoryWriteError
from tritonkit.repository import staging


def write_error(path: Path, exc: OSError) -> RepositoryWriteError:
    """The one translation of a failed write (full disk, read-only, no permission, long name) to an error."""
    code = exc.errno
    where = path.parent
    if code in (errno.ENOSPC, errno.EDQUOT):
        reason, hint = f"no space left on the device holding {where}", "free some disk space and run again"
    elif code == errno.EROFS:
        reason, hint = f"{where} is on a read-only file system", "write to a writable folder (--repo)"
    elif code in (errno.EACCES, errno.EPERM):
        reason, hint = f"permission denied in {where}", "check the folder's owner and mode, or use --repo"
    elif code == errno.ENAMETOOLONG:
        reason, hint = "the name is too long for the file system", "use a shorter model name or path"
    else:
        reason, hint = exc.strerror or str(exc), "check the folder and run again"
    return RepositoryWriteError(
        f"cannot write {path}: {reason}", hint=f"{hint}; the repository was left unchanged"
    )


def write_bytes_atomic(path: Path, data: bytes) -> None:
    """Write a file through a temporary sibling and a rename: readers never see half of it.

    The file gets the mode the umask gives (see `staging.create_unique`: mkstemp would make 0600, which
    a server running as another user cannot read). Any OS error is a RepositoryWriteError; the old
    file stays as it was.
    """
    tmp: Path | None = None
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp, fd = staging.create_unique(path.parent, f".{path.name[:64]}.", ".tmp")
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
        os.replace(tmp, path)
    except BaseException as exc:
        if tmp is not None:
            with contextlib.suppress(OSError):
                os.unlink(tmp)
        if isinstance(exc, OSError):
            raise write_error(path, exc) from exc
        raise


def write_text_atomic(path: Path, text: str) -> None:
    """`write_bytes_atomic` of UTF-8 text."""
    write_bytes_atomic(path, text.encode("utf-8"))


def make_dirs(path: Path) -> None:
    """`mkdir -p` whose OS errors are RepositoryWriteErrors."""
    try:
        path.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise write_error(path, exc) from exc


@contextlib.contextmanager
def staged_dir(target: Path, *, replace: bool = False) -> Iterator[Path]:
    """Yield an empty temporary folder; on success it becomes `target`, by one rename.

    The folder is built outside the repository (see `staging.py`: the server loads every sub-folder
    of a repository), so no half-built model is ever visible to `serve` or `validate`, and what a
    killed run leaves is removed by the next one. With `replace`, an existing `target` is swapped out
    only after the new one is complete. On any exception the temporary folder is removed and `target`
    is untouched; OS errors become RepositoryWriteError.
    """
    if target.exists() and not replace:
        raise RepositoryError(f"{target} already exists", hint="use --force to replace it")
    make_dirs(target.parent)
    try:
        with staging.held_folder(target) as stage:
            try:
                yield stage
                if target.exists():
                    with staging.held_folder(target, "old") as trash:
                        old = trash / "old"
                        os.rename(target, old)
                        try:
                            os.rename(stage, target)
                        except BaseException:
                            os.rename(old, target)
                            raise
                        shutil.rmtree(trash, ignore_errors=True)
                else:
                    os.rename(stage, target)
            except BaseException:
                shutil.rmtree(stage, ignore_errors=True)
                raise
    except OSError as exc:
        raise write_error(target, exc) from exc


def write_tree(target: Path, files: dict[str, str], *, replace: bool = False) -> None:
    """Create the folder `target` holding `files` (relative path -> text) in one atomic step."""
    with staged_dir(target, replace=replace) as stage:
        for rel, text in files.items():
            dest = stage / rel
            dest.parent.mkdir(parents=True, exist_ok=True)
            dest.write_text(text, encoding="utf-8")
