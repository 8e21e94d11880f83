"""`tritonkit push`: a local repository to object storage, so a polling server never sees half a version.

Plan, then do: `plan_push` compares local files (sha256) with the remote objects and returns the ordered
steps as a plain value; `run_push` executes them. S3 has no rename, so a version cannot appear at once;
what a polling Triton loads is decided by the model's config instead (core's model repository manager
reloads a model whose newest file mtime grew, then loads the versions its `version_policy` selects):

1. a *pin*: the remote's current config, its `version_policy` set to `specific` = the versions it serves
   now, so the reload the next uploads cause keeps serving exactly those;
2. the model's other files, then each new version's files, the model file (`model.py`, `model.pt`, ...)
   last, since the server's auto-complete recognises a version by it;
3. the local `config.pbtxt` last: one atomic PUT that makes the new versions visible complete.

Triton compares mtimes with `>` (core `ModelTimestamp::IsModified`), and S3 times have one-second steps:
each config PUT is repeated until it is strictly newer than every object uploaded before it, or a poll
that saw the other files in that second would never see the config (up to a second's wait).

A model with nothing loadable remotely (no version folder holds its model file) and one version to push
is *published first-config* instead: its config first, then the files, the model file last. Every state
before the last upload lacks the model file of the only version, and the server reverts the timestamp
of a model that failed to load (core `ModelRepositoryManager::LoadModelByDependency`: "revert the
timestamp to ensure the next load request will attempt to load the model again"), so the first state
that loads is the complete one, whatever the clock says: no second's wait on a first push.

A push stopped anywhere (Ctrl-C, SIGKILL) leaves the pin or the previous config: the server goes on
serving the previous versions, and the next push finishes the job. A served version whose files differ
is never overwritten (a new version number is the way; `force` overrides).
"""

from __future__ import annotations

import hashlib
import os
import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from tritonkit.errors import FindingsError, InterruptedByUser, RepositoryError, UsageError
from tritonkit.model.backends import BACKEND_FILES, PLATFORM_FILES, model_file_for
from tritonkit.repository.remote import ENDPOINT_KEY_CHARS, RemoteURI, parse_remote_uri
from tritonkit.repository.scan import CONFIG_FILE, scan_repository, version_of

if TYPE_CHECKING:
    from tritonkit.repository.s3 import RemoteObject, S3Store

Action = Literal["pin", "upload", "config"]
# the files the server recognises a version by (model.backends, after the core's AutoCompleteBackendFields)
_MODEL_FILES = frozenset(BACKEND_FILES.values()) | frozenset(PLATFORM_FILES.values())
_CHUNK = 8 * 1024 * 1024


@dataclass(frozen=True)
class LocalFile:
    relative: str  # model/1/model.py
    path: Path
    size: int
    sha256: str


@dataclass(frozen=True)
class PushStep:
    """One PUT: a pin (interim config), a file, or a model's final config."""

    action: Action
    model: str
    relative: str
    size: int
    sha256: str
    reason: str
    path: Path | None = None  # a local file
    data: bytes | None = None  # a pin's contents


@dataclass(frozen=True)
class PushPlan:
    """What a push will do, in order; `unchanged` files are already there with the same sha256."""

    repository: str
    uri: str
    steps: tuple[PushStep, ...]
    unchanged: int
    remote_only: tuple[str, ...] = ()
    floors: dict[str, datetime] = field(default_factory=dict)  # per model: newest remote mtime

    @property
    def upload_bytes(self) -> int:
        return sum(s.size for s in self.steps)

    def to_dict(self) -> dict[str, Any]:
        return {
            "repository": self.repository,
            "uri": self.uri,
            "steps": [
                {"action": s.action, "model": s.model, "path": s.relative, "size": s.size, "reason": s.reason}
                for s in self.steps
            ],
            "unchanged": self.unchanged,
            "remote_only": list(self.remote_only),
        }


def sha256_file(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        while chunk := handle.read(_CHUNK):
            digest.update(chunk)
    return digest.hexdigest()


def _hash_cache_path() -> Path:
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "tritonkit" / "sha256.json"


def _load_hashes() -> dict[str, list[Any]]:
    import json

    try:
        data = json.loads(_hash_cache_path().read_text())
    except (OSError, ValueError):
        return {}
    return data if isinstance(data, dict) else {}


def _save_hashes(hashes: dict[str, list[Any]]) -> None:
    import json

    from tritonkit.repository.layout import write_text_atomic

    path = _hash_cache_path()
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        write_text_atomic(path, json.dumps(hashes))
    except OSError:  # a read-only cache only costs the next push a re-read
        pass


def scan_local(repository: Path) -> list[LocalFile]:
    """Every file of every model folder (hidden names and __pycache__ skipped), sorted.

    A file's sha256 is read again only when its size, mtime or inode changed since the last push
    (a cache in $XDG_CACHE_HOME/tritonkit/sha256.json): a re-push of a large unchanged model costs a stat.
    """
    files, hashes = _scan(repository)
    if hashes is not None:
        _save_hashes(hashes)
    return files


def _scan(repository: Path) -> tuple[list[LocalFile], dict[str, list[Any]] | None]:
    """The files, and the updated hash cache when a digest was computed (None: nothing to save)."""
    hashes = _load_hashes()
    changed = False
    files: list[LocalFile] = []
    for model in scan_repository(repository).models:
        for folder, dirs, names in os.walk(model.path, followlinks=True):
            dirs[:] = sorted(d for d in dirs if not d.startswith(".") and d != "__pycache__")
            for name in sorted(names):
                if name.startswith("."):
                    continue
                path = Path(folder) / name
                stat = path.stat()
                key = str(path.absolute())
                stamp = [stat.st_size, stat.st_mtime_ns, stat.st_ino]
                cached = hashes.get(key)
                if isinstance(cached, list) and cached[:3] == stamp and len(cached) == 4:
                    digest = str(cached[3])
                else:
                    digest = sha256_file(path)
                    hashes[key] = [*stamp, digest]
                    changed = True
                files.append(LocalFile(path.relative_to(repository).as_posix(), path, stat.st_size, digest))
    return files, hashes if changed else None


class _Background:
    """`scan_local` on a daemon thread, so the sha256 pass (hashlib and file reads release the GIL) runs on
    the other core while the main thread validates, imports boto3 and lists the bucket. A daemon, so
    Ctrl-C during a long hash ends the process at once; the hash cache is written by `result()` on the
    caller's thread (a refused push leaves no half-written cache), which re-raises what the scan raised."""

    def __init__(self, repository: Path) -> None:
        self._files: list[LocalFile] = []
        self._hashes: dict[str, list[Any]] | None = None
        self._error: BaseException | None = None
        self._thread = threading.Thread(target=self._run, args=(repository,), daemon=True)
        self._thread.start()

    def _run(self, repository: Path) -> None:
        try:
            self._files, self._hashes = _scan(repository)
        except BaseException as exc:  # handed to the caller's thread by result()
            self._error = exc

    def result(self) -> list[LocalFile]:
        while self._thread.is_alive():
            self._thread.join(0.1)  # a bounded join: Ctrl-C still reaches the main thread
        if self._error is not None:
            raise self._error
        if self._hashes is not None:
            _save_hashes(self._hashes)
        return self._files


def _same(local: LocalFile, remote: RemoteObject | None) -> bool:
    if remote is None or remote.size != local.size:
        return False
    if remote.sha256 is not None:
        return remote.sha256 == local.sha256
    if "-" not in remote.etag:  # a single-part upload's ETag is the MD5 of its bytes
        digest = hashlib.md5(usedforsecurity=False)
        with open(local.path, "rb") as handle:
            while chunk := handle.read(_CHUNK):
                digest.update(chunk)
        return digest.hexdigest() == remote.etag
    return False


def served_versions(config_text: str | None, versions: Iterable[int]) -> list[int]:
    """The versions a config's `version_policy` selects among `versions` (default: the latest one).

    Mirrors core's ModelRepositoryManager/VersionsToLoad: latest N = the N highest, all, or specific."""
    available = sorted(set(versions))
    if config_text is None:
        return []
    from tritonkit.model.schema import parse_config_safely

    config, _ = parse_config_safely(config_text)
    if config is None:
        return []
    policy = config.version_policy
    which = policy.WhichOneof("policy_choice")
    if which == "all":
        return available
    if which == "specific":
        return [v for v in available if v in set(policy.specific.versions)]
    count = policy.latest.num_versions if which == "latest" else 1
    return available[-max(count, 1) :] if available else []


def pin_config(config_text: str, versions: list[int]) -> bytes:
    """`config_text` with its version policy set to exactly `versions` (the interim config)."""
    from google.protobuf import text_format

    from tritonkit.model.schema import parse_config

    config = parse_config(config_text)
    config.version_policy.Clear()
    config.version_policy.specific.versions.extend(versions)
    return str(text_format.MessageToString(config)).encode()


def _version(relative: str) -> int | None:
    """The version folder a path `model/<version>/...` lies in, as the server reads it (repository.scan)."""
    parts = relative.split("/")
    return version_of(parts[1]) if len(parts) > 2 else None


def model_file_of(config_text: str | None) -> str | None:
    """The file name the server loads from each version folder under this config (None: not known)."""
    if config_text is None:
        return None
    from tritonkit.model.schema import parse_config_safely

    config, _ = parse_config_safely(config_text)
    if config is None:
        return None
    return model_file_for(config.platform, config.backend, config.default_model_filename or None)


def _holds(keys: Iterable[str], model: str, version: int, name: str) -> bool:
    """Whether `model/version/name` is an object or a folder of objects among `keys`."""
    exact = f"{model}/{version}/{name}"
    return any(k == exact or k.startswith(exact + "/") for k in keys)


def _loadable_versions(model: str, keys: Iterable[str], model_file: str | None) -> set[int]:
    """The version folders among `keys` the server could load: those holding the model file (a folder
    without it fails to load, so it is served by no one); all of them when the model file is unknown."""
    keys = list(keys)
    versions = {v for k in keys if (v := _version(k)) is not None}
    if model_file is None:
        return versions
    return {v for v in versions if _holds(keys, model, v, model_file)}


def _upload_order(item: LocalFile, model_file: str | None = None) -> tuple[int, int, str]:
    version = _version(item.relative)
    parts = item.relative.split("/")
    names = {model_file} if model_file else _MODEL_FILES
    is_model_file = version is not None and len(parts) == 3 and parts[2] in names
    # other model files, then versions in order, each with its model file last
    return (version + 1 if version is not None else 0, int(is_model_file), item.relative)


def plan_push(
    local: list[LocalFile],
    remote: dict[str, RemoteObject],
    remote_configs: dict[str, str],
    *,
    repository: str,
    uri: RemoteURI,
    force: bool = False,
) -> PushPlan:
    """The ordered steps that bring `remote` (relative path -> object) to `local`. Pure but for reading
    the local configs (for the model file) and, where a remote ETag is an MD5, local files.

    `remote_configs` holds the text of each remote config.pbtxt (by model), for pins.
    """
    if uri.endpoint is not None:
        for item in local:
            bad = [p for p in item.relative.split("/") if not ENDPOINT_KEY_CHARS.match(p)]
            if bad:
                raise UsageError(
                    f"{item.path}: Triton cannot read {bad[0]!r} from an s3://host:port URI "
                    "(names of [0-9a-zA-Z._-] only)",
                    hint="rename the file or folder",
                )
    by_model: dict[str, list[LocalFile]] = {}
    for item in local:
        by_model.setdefault(item.relative.split("/", 1)[0], []).append(item)
    steps: list[PushStep] = []
    unchanged = 0
    floors: dict[str, datetime] = {}
    for model, files in by_model.items():
        changed = [f for f in files if not _same(f, remote.get(f.relative))]
        unchanged += len(files) - len(changed)
        if not changed:
            continue
        model_remote = {k: v for k, v in remote.items() if k.split("/", 1)[0] == model}
        times = [o.modified for o in model_remote.values() if o.modified is not None]
        if times:
            floors[model] = max(times)
        old_config = remote_configs.get(model)
        remote_versions = _loadable_versions(model, model_remote, model_file_of(old_config))
        served = served_versions(old_config, remote_versions)
        config_rel = f"{model}/{CONFIG_FILE}"
        config = next((f for f in files if f.relative == config_rel), None)
        overwritten = sorted({v for f in changed if (v := _version(f.relative)) is not None} & set(served))
        if overwritten and not force:
            raise RepositoryError(
                f"version {overwritten[0]} of {model} differs from the one served at {uri.child(model)}: "
                "tritonkit never overwrites a served version",
                hint="add a new version (e.g. tritonkit export --next) or push with --force",
            )
        model_file = model_file_of(_read_text(config.path)) if config is not None else None
        others = sorted(
            (f for f in changed if f.relative != config_rel), key=lambda f: _upload_order(f, model_file)
        )
        if config is not None and _first_config(model, files, others, model_remote, model_file):
            if config in changed:
                steps.append(
                    PushStep(
                        "config", model, config_rel, config.size, config.sha256,
                        "first: nothing loads until the model file, uploaded last, completes the version",
                        path=config.path,
                    )
                )  # fmt: skip
            steps.extend(_uploads(model, others, remote))
            continue
        if others and old_config is not None and served:
            data = pin_config(old_config, served)
            steps.append(
                PushStep(
                    "pin", model, config_rel, len(data), hashlib.sha256(data).hexdigest(),
                    f"keeps version {','.join(map(str, served))} served while the upload runs", data=data,
                )
            )  # fmt: skip
        steps.extend(_uploads(model, others, remote))
        if config is not None and (config in changed or others):
            reason = "publishes the new files" if others else "changed"
            steps.append(
                PushStep("config", model, config_rel, config.size, config.sha256, reason, path=config.path)
            )
    local_set = {f.relative for f in local}
    remote_only = tuple(sorted(k for k in remote if k not in local_set))
    return PushPlan(repository, str(uri), tuple(steps), unchanged, remote_only, floors)


def _read_text(path: Path) -> str | None:
    try:
        return path.read_text("utf-8", "replace")
    except OSError:
        return None


def _uploads(model: str, files: list[LocalFile], remote: dict[str, RemoteObject]) -> list[PushStep]:
    return [
        PushStep("upload", model, f.relative, f.size, f.sha256, "changed" if f.relative in remote else "new",
                 path=f.path)
        for f in files
    ]  # fmt: skip


def _first_config(
    model: str,
    files: list[LocalFile],
    uploads: list[LocalFile],
    model_remote: dict[str, RemoteObject],
    model_file: str | None,
) -> bool:
    """Whether the model may be published config first (see the module docstring): its model file is
    known, nothing remote is loadable, one version is pushed, and its model file is the last upload."""
    if model_file is None or _loadable_versions(model, model_remote, model_file):
        return False
    versions = {v for f in files if (v := _version(f.relative)) is not None}
    if len(versions) != 1 or not uploads:
        return False
    (version,) = versions
    return uploads[-1].relative == f"{model}/{version}/{model_file}"


@dataclass(frozen=True)
class PushEvent:
    """Progress: a step started/finished, or bytes of the current file sent."""

    kind: Literal["start", "bytes", "done"]
    step: PushStep
    sent: int = 0


@dataclass(frozen=True)
class PushResult:
    plan: PushPlan
    uploaded: int
    uploaded_bytes: int
    seconds: float


def prepare_push(
    repository: Path, uri_text: str, *, artifacts: bool = True, force: bool = False
) -> tuple[PushPlan, S3Store]:
    """Validate the repository (refuse on errors), open the store (bounded probe), plan the push."""
    from tritonkit.repository.s3 import iter_relative, open_store
    from tritonkit.validate.engine import validate_repository

    uri = parse_remote_uri(uri_text)
    if not repository.is_dir():
        raise RepositoryError(
            f"repository {repository} is not a folder", hint="give the local repository to push"
        )
    hashing = _Background(repository)  # overlaps validation, the bounded probe and the listing
    report = validate_repository(repository, artifacts=artifacts)
    if not report.ok:
        first = report.errors[0]
        where = (
            f"{first.file}:{first.line}" if first.file and first.line else (first.file or first.model or "")
        )
        raise FindingsError(
            f"{repository} has {len(report.errors)} validation error(s); first: {where}: {first.message}",
            hint=f"fix them first (tritonkit validate {repository}); push refuses a repository with errors",
        )
    store = open_store(uri)
    remote = dict(iter_relative(store))
    local = hashing.result()
    # sha256 from metadata only where the size matches (a HEAD each); other objects differ anyway
    sizes = {f.relative: f.size for f in local}
    for relative, obj in list(remote.items()):
        if sizes.get(relative) == obj.size:
            full = store.head(obj.key)
            if full is not None:
                remote[relative] = full
    # the remote configs are read only for models that have something to upload (a pin needs them)
    models = {f.relative.split("/", 1)[0] for f in local if not _same(f, remote.get(f.relative))}
    configs: dict[str, str] = {}
    for model in models:
        if f"{model}/{CONFIG_FILE}" in remote:
            configs[model] = store.get_bytes(uri.key(f"{model}/{CONFIG_FILE}")).decode("utf-8", "replace")
    plan = plan_push(local, remote, configs, repository=str(repository), uri=uri, force=force)
    return plan, store


def _put_newer(store: S3Store, step: PushStep, floor: datetime | None) -> datetime | None:
    """PUT a config until its mtime is strictly newer than `floor` (Triton compares with `>`)."""
    key = store.uri.key(step.relative)
    data = step.data if step.data is not None else Path(step.path or "").read_bytes()
    for _ in range(5):
        store.put_bytes(key, data, sha256=step.sha256)
        if floor is None:  # nothing to be newer than (e.g. a first-config publish): no HEAD needed
            return None
        head = store.head(key)
        modified = head.modified if head is not None else None
        if modified is None or modified > floor:
            return modified
        time.sleep(max(0.05, 1.05 - (time.time() % 1)))  # S3 times move in whole seconds
    return modified


def _bytes_callback(notify: Callable[[PushEvent], None], step: PushStep) -> Callable[[int], None]:
    return lambda sent: notify(PushEvent("bytes", step, sent))


def run_push(
    plan: PushPlan, store: S3Store, on_event: Callable[[PushEvent], None] | None = None
) -> PushResult:
    """Execute the plan in order. Ctrl-C stops between or inside uploads (s3transfer aborts a multipart
    upload): InterruptedByUser, and the remote keeps serving what it served before."""
    notify = on_event or (lambda event: None)
    started = time.monotonic()
    floors = dict(plan.floors)
    last_key: dict[str, str] = {}
    done = 0
    sent = 0
    try:
        for step in plan.steps:
            notify(PushEvent("start", step))
            if step.action == "upload":
                assert step.path is not None
                store.upload_file(
                    step.path,
                    store.uri.key(step.relative),
                    sha256=step.sha256,
                    callback=_bytes_callback(notify, step),
                )
                last_key[step.model] = store.uri.key(step.relative)
            else:
                floor = floors.get(step.model)
                if step.model in last_key:
                    head = store.head(last_key.pop(step.model))
                    if head is not None and head.modified is not None:
                        floor = max(floor, head.modified) if floor else head.modified
                modified = _put_newer(store, step, floor)
                if modified is not None:
                    floors[step.model] = modified
            done += 1
            sent += step.size
            notify(PushEvent("done", step))
    except KeyboardInterrupt as exc:
        raise InterruptedByUser(
            f"push interrupted after {done} of {len(plan.steps)} uploads; "
            f"{plan.uri} still serves the previous versions",
            hint="run the same push again to finish it",
        ) from exc
    return PushResult(plan, done, sent, time.monotonic() - started)
