"""Python-backend rules: model.py present, TritonPythonModel.execute defined, BLS targets exist."""

from __future__ import annotations

from pathlib import Path

import pytest

from validate_support import MODEL_PY, ValidationReport, cfg, only, rules, write_model
from validate_support import validate as validate_configs

BLS_CONSTANT = (
    MODEL_PY
    + """
TARGET_MODEL = "{target}"


class Caller:
    def call(self, pb_utils):
        return pb_utils.InferenceRequest(model_name=TARGET_MODEL, requested_output_names=["y"], inputs=[])
"""
)
BLS_LITERAL = (
    MODEL_PY
    + """

def call(pb_utils):
    return pb_utils.InferenceRequest(model_name="{target}", inputs=[], requested_output_names=[])
"""
)

BAD = [
    ("python.syntax-error", "error", "class TritonPythonModel:\n    def execute(self, requests)\n"),
    ("python.no-model-class", "error", "class Model:\n    def execute(self, requests):\n        return []\n"),
    (
        "python.no-execute",
        "warning",
        "class TritonPythonModel:\n    def initialize(self, args):\n        pass\n",
    ),
    ("python.no-execute", "warning", "class TritonPythonModel(Base):\n    pass\n"),
    ("python.bls-unknown-model", "warning", BLS_CONSTANT.format(target="missing")),
    ("python.bls-unknown-model", "warning", BLS_LITERAL.format(target="missing")),
    ("python.bls-self", "warning", BLS_LITERAL.format(target="m")),
    ("python.syntax-error", "error", "x = 1\x00\n"),
]
GOOD = [
    MODEL_PY,
    "class TritonPythonModel:\n    async def execute(self, requests):\n        return []\n",
    BLS_CONSTANT.format(target="other"),
    BLS_LITERAL.format(target="other"),
    "class TritonPythonModel:\n    def _run(self, requests):\n        return []\n\n    execute = _run\n",
    MODEL_PY + "\ndef f(pb_utils, name):\n    return pb_utils.InferenceRequest(model_name=name, inputs=[])\n",
]


def validate(repo: Path, *, artifacts: bool = True) -> ValidationReport:
    """model.py is a model file: its checks run when artifacts are looked at (the default)."""
    return validate_configs(repo, artifacts=artifacts)


def repo_with(tmp_path: Path, source: str) -> Path:
    repo = tmp_path / "repo"
    write_model(repo, "m", cfg(), files={"1/model.py": source})
    write_model(repo, "other", cfg("other"))
    return repo


@pytest.mark.parametrize(
    ("rule", "severity", "source"), BAD, ids=[f"{r}-{i}" for i, (r, *_) in enumerate(BAD)]
)
def test_python_rule_fails(tmp_path: Path, rule: str, severity: str, source: str) -> None:
    report = validate(repo_with(tmp_path, source))
    found = only(report, rule)
    assert found and found[0].severity == severity, report.findings
    assert found[0].file is not None and found[0].file.endswith("m/1/model.py")


@pytest.mark.parametrize("source", GOOD)
def test_python_rule_passes(tmp_path: Path, source: str) -> None:
    assert validate(repo_with(tmp_path, source)).findings == []


def test_bls_finding_points_at_the_call_line(tmp_path: Path) -> None:
    [finding] = only(
        validate(repo_with(tmp_path, BLS_LITERAL.format(target="nope"))), "python.bls-unknown-model"
    )
    assert finding.line == 10


def test_missing_model_py_only_with_artifacts(tmp_path: Path) -> None:
    repo = tmp_path / "repo"
    write_model(repo, "m", cfg(), files={"1/other.py": "x = 1\n"})
    assert "python.missing-model-file" in rules(validate(repo, artifacts=True), "error")
    assert validate(repo, artifacts=False).findings == []  # CI without model files
    write_model(repo, "m", cfg(extra='default_model_filename: "other.py"'), files={})
    assert "python.no-model-class" in rules(validate(repo))  # it reads the named file instead


def test_model_py_checks_in_ci_without_weights(tmp_path: Path) -> None:
    """--no-artifacts opens no model file; `--select python,bls` checks model.py while weights are absent."""
    repo = tmp_path / "repo"
    write_model(repo, "m", cfg(), files={"1/model.py": BAD[0][2]})
    write_model(repo, "net", cfg("net", backend="pytorch"))  # no model.pt in CI
    assert not [
        f for f in validate(repo, artifacts=False).findings if f.rule.startswith(("python", "layout"))
    ]
    from tritonkit.validate.engine import validate_repository

    selected = validate_repository(repo, select=["python", "bls"])
    assert [(f.rule, f.model) for f in selected.findings] == [("python.syntax-error", "m")]
    assert "layout.missing-model-file" in rules(validate(repo))
