"""`tritonkit test`: replay each model's golden sample against the server and compare within tolerance."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from tritonkit.errors import RepositoryError, ServerNotReadyError, TritonkitError, UsageError
from tritonkit.repository.golden import GOLDEN_FILE, load_golden
from tritonkit.repository.scan import scan_repository

if TYPE_CHECKING:
    from tritonkit.client.client import Client


@dataclass
class GoldenResult:
    """The outcome for one model: passed, failed (with why) or skipped (no golden sample)."""

    model: str
    status: str  # "pass" | "fail" | "skip"
    detail: str = ""
    max_abs_diff: float | None = None
    outputs: dict[str, float] = field(default_factory=dict)  # output -> max abs diff

    @property
    def ok(self) -> bool:
        return self.status != "fail"


def models_to_test(repository: Path, names: list[str]) -> list[tuple[str, Path | None]]:
    """(model, folder) pairs: the named models (folder None if absent), else every model found."""
    if names:
        return [(n, (repository / n) if (repository / n).is_dir() else None) for n in names]
    if not repository.is_dir():
        raise RepositoryError(
            f"repository {str(repository)!r} not found", hint="pass --repo DIR or name the models to test"
        )
    found: list[tuple[str, Path | None]] = [
        (m.name, m.path) for m in scan_repository(repository).models if m.has_config
    ]
    if not found:
        raise RepositoryError(f"no models in {repository}", hint="pass --repo DIR")
    return found


def check_model(client: Client, model: str, model_dir: Path | None) -> GoldenResult:
    """Send the golden inputs of one model and compare its outputs with the golden outputs."""
    import numpy as np

    if model_dir is None or not (model_dir / GOLDEN_FILE).is_file():
        where = f" in {model_dir}" if model_dir is not None else " (not in the repository)"
        return GoldenResult(model, "skip", f"no golden sample{where}")
    try:
        sample = load_golden(model_dir)
    except UsageError as exc:
        return GoldenResult(model, "fail", exc.message)
    try:
        got = client.infer(model, dict(sample.inputs), outputs=list(sample.outputs))
    except ServerNotReadyError:
        raise
    except TritonkitError as exc:
        return GoldenResult(model, "fail", exc.message + (f" ({exc.hint})" if exc.hint else ""))
    diffs: dict[str, float] = {}
    problems: list[str] = []
    for name, expected in sample.outputs.items():
        expected_arr = np.asarray(expected)
        actual = got.get(name)
        if actual is None:
            problems.append(f"output {name} missing")
            continue
        if actual.shape != expected_arr.shape:
            problems.append(
                f"output {name} has shape {list(actual.shape)}, expected {list(expected_arr.shape)}"
            )
            continue
        if expected_arr.dtype == object or actual.dtype == object:
            same = [
                _as_bytes(a) == _as_bytes(b)
                for a, b in zip(actual.reshape(-1), expected_arr.reshape(-1), strict=True)
            ]
            if not all(same):
                problems.append(f"output {name}: {same.count(False)} of {len(same)} values differ")
            continue
        a64, e64 = actual.astype(np.float64), expected_arr.astype(np.float64)
        diff = float(np.max(np.abs(a64 - e64))) if a64.size else 0.0
        diffs[name] = diff
        if not np.allclose(a64, e64, rtol=sample.rtol, atol=sample.atol, equal_nan=True):
            problems.append(
                f"output {name} differs: max abs diff {diff:.3g} (rtol {sample.rtol:g}, atol {sample.atol:g})"
            )
    worst = max(diffs.values()) if diffs else None
    if problems:
        return GoldenResult(model, "fail", "; ".join(problems), worst, diffs)
    return GoldenResult(model, "pass", f"{len(sample.outputs)} output(s) match", worst, diffs)


def _as_bytes(value: Any) -> bytes:
    return value if isinstance(value, bytes) else str(value).encode("utf-8")


def check_models(client: Client, repository: Path, names: list[str] | None = None) -> list[GoldenResult]:
    """Check every named model (or every model of `repository` with a golden sample)."""
    client.check_server()
    results = [
        check_model(client, name, folder) for name, folder in models_to_test(repository, list(names or []))
    ]
    if names:  # a model asked for by name must be tested: no golden sample is a failure, not a skip
        for result in results:
            if result.status == "skip":
                result.status = "fail"
                result.detail += "; export it with `tritonkit export` to create one"
    elif all(r.status == "skip" for r in results):
        raise UsageError(
            f"no model in {repository} has a golden sample ({GOLDEN_FILE})",
            hint="`tritonkit export` saves one for each exported model",
        )
    return results
