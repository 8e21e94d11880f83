"""A remote repository as a local folder, for the commands that read one (validate, describe).

The copy lives in tritonkit's cache (`$XDG_CACHE_HOME/tritonkit/remote/<uri hash>/`), keyed by each
object's ETag: a second read downloads only what changed and removes what was deleted, so findings on
`s3://...` are those of the same files on disk, shown under the URI.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import json
import os
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

from tritonkit.errors import RepositoryError
from tritonkit.repository.remote import RemoteURI, parse_remote_uri

if TYPE_CHECKING:
    from tritonkit.validate.engine import ValidationReport


def cache_root() -> Path:
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "tritonkit" / "remote"


@contextlib.contextmanager
def _locked(folder: Path) -> Iterator[None]:
    folder.mkdir(parents=True, exist_ok=True)
    with open(folder / ".lock", "w") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        yield


def _safe_relative(relative: str, uri: RemoteURI) -> str:
    parts = relative.split("/")
    if any(p in ("", ".", "..") for p in parts):
        raise RepositoryError(f"{uri.child(relative)}: an object key tritonkit will not write to disk")
    return relative


def fetch_repository(uri: RemoteURI | str) -> Path:
    """Mirror the repository at `uri` into the cache and return the local folder (ETag-keyed sync)."""
    from tritonkit.repository.s3 import iter_relative, open_store

    uri = parse_remote_uri(uri) if isinstance(uri, str) else uri
    store = open_store(uri, need_prefix=True)
    folder = cache_root() / hashlib.sha256(str(uri).encode()).hexdigest()[:16]
    local = folder / "repository"
    with _locked(folder):
        index_path = folder / "etags.json"
        try:
            index: dict[str, str] = json.loads(index_path.read_text())
        except (OSError, ValueError):
            index = {}
        remote = {_safe_relative(rel, uri): obj for rel, obj in iter_relative(store)}
        for relative, obj in remote.items():
            target = local / relative
            if index.get(relative) == obj.etag and target.is_file():
                continue
            target.parent.mkdir(parents=True, exist_ok=True)
            partial = target.with_name(f".{target.name}.part")
            store.download_file(obj.key, partial)
            os.replace(partial, target)
            index[relative] = obj.etag
        for relative in set(index) - set(remote):
            with contextlib.suppress(OSError):
                (local / relative).unlink()
            del index[relative]
        _prune_empty(local)
        local.mkdir(parents=True, exist_ok=True)
        index_path.write_text(json.dumps(index, sort_keys=True))
    return local


def _prune_empty(root: Path) -> None:
    if not root.is_dir():
        return
    for path in sorted(root.rglob("*"), key=lambda p: len(p.parts), reverse=True):
        if path.is_dir():
            with contextlib.suppress(OSError):
                path.rmdir()  # only empty folders go


def _rename(text: str | None, local: str, uri: str) -> str | None:
    return None if text is None else text.replace(local, uri)


def validate_remote(uri: RemoteURI | str, *, artifacts: bool = True, **options: Any) -> ValidationReport:
    """Validate the repository at `uri` as a local copy; files in findings are named by their URI.

    `options` go to `validate_repository` as they are (target, gpus, ignore, select)."""
    from tritonkit.validate.engine import validate_repository

    uri = parse_remote_uri(uri) if isinstance(uri, str) else uri
    local = fetch_repository(uri)
    report = validate_repository(local, artifacts=artifacts, **options)
    shown = str(uri).rstrip("/")
    roots = [str(local), report.repository]
    findings = []
    for finding in report.findings:
        file: str | None = finding.file
        message: str | None = finding.message
        hint: str | None = finding.hint
        for root in roots:
            file, message, hint = (_rename(t, root, shown) for t in (file, message, hint))
        findings.append(replace(finding, file=file, message=message or finding.message, hint=hint))
    return replace(report, repository=shown, findings=findings)
