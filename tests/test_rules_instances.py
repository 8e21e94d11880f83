"""Instance-group rules: kinds, counts, GPU ids."""

from __future__ import annotations

from pathlib import Path

import pytest

from tritonkit.validate.engine import validate_repository
from tritonkit.validate.rules import RULES
from validate_support import cfg, only, rules, single_model, write_model


def groups(*bodies: str) -> str:
    return "instance_group [ " + ", ".join(f"{{ {b} }}" for b in bodies) + " ]"


BAD = [
    ("instances.bad-kind", groups("kind: 7")),
    ("instances.bad-count", groups("count: -1 kind: KIND_CPU")),
    ("instances.gpus-on-cpu", groups("kind: KIND_CPU gpus: [ 0 ]")),
    ("instances.gpus-on-cpu", groups("kind: KIND_MODEL gpus: [ 1 ]")),
    ("instances.bad-gpu", groups("kind: KIND_GPU gpus: [ -1 ]")),
    ("instances.duplicate-gpu", groups("kind: KIND_GPU gpus: [ 0, 1, 0 ]")),
    ("instances.duplicate-name", groups('name: "g" kind: KIND_CPU', 'name: "g" kind: KIND_CPU')),
    ("instances.profile", groups('kind: KIND_CPU profile: [ "0" ]')),
]
GOOD = [
    groups("count: 2 kind: KIND_CPU"),
    groups("count: 1 kind: KIND_GPU gpus: [ 0 ]", "count: 2 kind: KIND_CPU"),
    groups("kind: KIND_AUTO"),
    groups("kind: KIND_MODEL"),
    groups('name: "a" kind: KIND_CPU', 'name: "b" kind: KIND_CPU'),
]


# What the real server still loads is a warning (see test_validate_agreement.py).
WARNINGS = {"instances.bad-count", "instances.duplicate-name", "instances.duplicate-gpu"}


@pytest.mark.parametrize(("rule", "extra"), BAD, ids=[r for r, _ in BAD])
def test_instance_rule_fails(tmp_path: Path, rule: str, extra: str) -> None:
    report = single_model(tmp_path, cfg(extra=extra))
    assert rule in rules(report, "warning" if rule in WARNINGS else "error"), report.findings
    assert all(f.line == 6 for f in report.findings)


@pytest.mark.parametrize("extra", GOOD)
def test_instance_rule_passes(tmp_path: Path, extra: str) -> None:
    assert single_model(tmp_path, cfg(extra=extra)).findings == []


def test_warnings_are_the_registry_severity() -> None:
    assert {r for r, _ in BAD if RULES[r].severity == "warning"} == WARNINGS


def test_gpu_ids_against_the_machine(tmp_path: Path) -> None:
    repo = tmp_path / "repo"
    write_model(repo, "m", cfg(extra=groups("kind: KIND_GPU gpus: [ 0, 1 ]")))

    def gpu_findings(gpus: int | None) -> list[tuple[str, str]]:
        report = validate_repository(repo, artifacts=False, gpus=gpus)
        return [(f.severity, f.message) for f in only(report, "instances.gpu-unavailable")]

    # Without --gpus: GPU 0 is on any GPU machine, id 1 may be missing: a warning.
    assert [s for s, _ in gpu_findings(None)] == ["warning"] and "[1]" in gpu_findings(None)[0][1]
    assert gpu_findings(2) == []
    [(severity, message)] = gpu_findings(1)
    assert severity == "error" and "[1]" in message and "has 1 GPU" in message
    [(severity, message)] = gpu_findings(0)
    assert severity == "error" and "no GPU" in message
    write_model(repo, "m", cfg(extra=groups("kind: KIND_AUTO", "kind: KIND_CPU")))
    assert gpu_findings(0) == []
