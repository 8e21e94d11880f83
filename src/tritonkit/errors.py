"""tritonkit's exceptions and the exit codes they map to (a public contract, see README)."""

from __future__ import annotations

from enum import IntEnum
from typing import Any


class ExitCode(IntEnum):
    """Exit codes of the `tritonkit` command. Scripts and CI may rely on them."""

    OK = 0
    FINDINGS = 1  # validate found errors, a test failed, render --check found drift
    USAGE = 2  # bad flag, bad argument, refusal to overwrite, bad input file
    UNAVAILABLE = 3  # Docker engine / image / server binary / optional package / server not ready / port
    INFERENCE = 4  # the server rejected or failed an inference
    EXPORT = 5  # a model could not be exported or proven
    WRITE = 6  # a file could not be written: disk full, read-only, permission denied, name too long
    INTERRUPTED = 130


class TritonkitError(Exception):
    """Base of every error tritonkit raises on purpose; carries an exit code and a hint."""

    exit_code: ExitCode = ExitCode.USAGE

    def __init__(self, message: str, *, hint: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.hint = hint

    def __str__(self) -> str:
        return self.message if not self.hint else f"{self.message} ({self.hint})"


class UsageError(TritonkitError):
    """A flag, argument or input file is wrong; nothing was changed."""

    exit_code = ExitCode.USAGE


class RepositoryError(TritonkitError):
    """The repository or spec file cannot be used as asked (missing, not empty, version exists...)."""

    exit_code = ExitCode.USAGE


class FindingsError(TritonkitError):
    """A check ran and found problems (validation errors, a failed test, render drift)."""

    exit_code = ExitCode.FINDINGS


class EngineUnavailableError(TritonkitError):
    """The Docker engine, an image, or a tritonserver binary cannot be used."""

    exit_code = ExitCode.UNAVAILABLE


class MissingDependencyError(TritonkitError):
    """An optional package is not installed; the hint names the extra that installs it."""

    exit_code = ExitCode.UNAVAILABLE

    def __init__(self, package: str, extra: str, *, needed_for: str, instead: str | None = None) -> None:
        hint = f"pip install 'tritonkit[{extra}]'" + (f", or {instead}" if instead else "")
        super().__init__(f"{needed_for} needs {package}, which is not installed", hint=hint)
        self.package = package
        self.extra = extra


class ServerNotReadyError(TritonkitError):
    """The server did not become ready, a model failed to load, or it cannot be reached."""

    exit_code = ExitCode.UNAVAILABLE


class StorageUnavailableError(TritonkitError):
    """The object-storage endpoint (s3://host:port) cannot be reached."""

    exit_code = ExitCode.UNAVAILABLE


class StorageAccessError(TritonkitError):
    """Object storage answered but refused: missing bucket, refused or missing credentials, access denied."""

    exit_code = ExitCode.USAGE


class ModelsNotReadyError(ServerNotReadyError):
    """The server started but did not get ready; carries the models' states (a Readiness) and the log tail."""

    def __init__(
        self, message: str, *, hint: str | None = None, readiness: Any = None, log_tail: str = ""
    ) -> None:
        super().__init__(message, hint=hint)
        self.readiness = readiness
        self.log_tail = log_tail


class PullAuthError(EngineUnavailableError):
    """The image registry wants credentials, or refused the ones given."""


class InferenceError(TritonkitError):
    """The server rejected or failed an inference request."""

    exit_code = ExitCode.INFERENCE


class UnstableMeasurementError(InferenceError):
    """perf_analyzer found no stable measurement window (bench measures that point itself instead)."""


class ExportError(TritonkitError):
    """A model could not be imported, run, traced, saved or proven equal to its eager self."""

    exit_code = ExitCode.EXPORT


class RepositoryWriteError(TritonkitError):
    """A file or folder could not be written (disk full, read-only, no permission); nothing was changed."""

    exit_code = ExitCode.WRITE


class InterruptedByUser(TritonkitError):
    """Ctrl-C or SIGTERM; whatever was started has been cleaned up (the message says what state is left)."""

    exit_code = ExitCode.INTERRUPTED


def import_optional(
    module: str, *, package: str, extra: str, needed_for: str, instead: str | None = None
) -> Any:
    """Import an optional dependency, or raise MissingDependencyError naming the extra that brings it."""
    import importlib

    try:
        return importlib.import_module(module)
    except ImportError as exc:  # absent, or broken (a missing dependency of its own): the extra mends both
        raise MissingDependencyError(package, extra, needed_for=needed_for, instead=instead) from exc
