"""Writes into a repository that never leave half a model behind (the scan is in `scan.py`).

Every write goes to a temporary sibling first and is renamed into place, so a failure (an exception,
a full disk, Ctrl-C) leaves the repository as it was.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path

from tritonkit.errors import RepositoryError


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
