"""Helpers for the validate tests: build small real repositories on disk and look at the findings."""

from __future__ import annotations

from pathlib import Path

from tritonkit.validate.engine import ValidationReport, validate_repository
from tritonkit.validate.findings import Finding

MODEL_PY = """import triton_python_backend_utils as pb_utils


class TritonPythonModel:
    def execute(self, requests):
        return [pb_utils.InferenceResponse(output_tensors=[]) for _ in requests]
"""

X_IN = 'input [ { name: "x" data_type: TYPE_FP32 dims: [ 4 ] } ]'
Y_OUT = 'output [ { name: "y" data_type: TYPE_FP32 dims: [ 4 ] } ]'


def cfg(
    name: str = "m",
    *,
    backend: str | None = "python",
    platform: str | None = None,
    mbs: int = 0,
    inputs: str = X_IN,
    outputs: str = Y_OUT,
    extra: str = "",
) -> str:
    """A config.pbtxt text; the defaults give a valid Python-backend model."""
    lines = [f'name: "{name}"']
    if platform is not None:
        lines.append(f'platform: "{platform}"')
    if backend is not None:
        lines.append(f'backend: "{backend}"')
    lines.append(f"max_batch_size: {mbs}")
    lines += [inputs, outputs, extra]
    return "\n".join(line for line in lines if line) + "\n"


def write_model(
    repo: Path,
    name: str,
    config: str | bytes | None,
    *,
    versions: tuple[int, ...] = (1,),
    files: dict[str, str] | None = None,
) -> Path:
    """A model folder with `config` (None: no config.pbtxt), version folders and extra files.

    Python-backend configs get a valid `<v>/model.py` in each version unless `files` says otherwise.
    """
    folder = repo / name
    folder.mkdir(parents=True, exist_ok=True)
    if config is not None:
        path = folder / "config.pbtxt"
        if isinstance(config, bytes):
            path.write_bytes(config)
        else:
            path.write_text(config, encoding="utf-8")
    for v in versions:
        (folder / str(v)).mkdir(exist_ok=True)
        if files is None and isinstance(config, str) and 'backend: "python"' in config:
            (folder / str(v) / "model.py").write_text(MODEL_PY)
    for rel, text in (files or {}).items():
        target = folder / rel
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(text)
    return folder


def validate(repo: Path, *, artifacts: bool = False) -> ValidationReport:
    return validate_repository(repo, artifacts=artifacts)


def rules(report: ValidationReport, severity: str | None = None) -> set[str]:
    return {f.rule for f in report.findings if severity is None or f.severity == severity}


def only(report: ValidationReport, rule: str) -> list[Finding]:
    return [f for f in report.findings if f.rule == rule]


def single_model(
    tmp_path: Path, config: str, *, artifacts: bool = False, **kwargs: object
) -> ValidationReport:
    """Validate a repository holding one model `m` with `config`."""
    repo = tmp_path / "repo"
    write_model(repo, "m", config, **kwargs)  # type: ignore[arg-type]
    return validate(repo, artifacts=artifacts)
