"""Instance-group rules: kinds, counts, GPU ids."""

from __future__ import annotations

from pathlib import Path

import pytest

from validate_support import cfg, rules, single_model


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
]
GOOD = [
    groups("count: 2 kind: KIND_CPU"),
    groups("count: 1 kind: KIND_GPU gpus: [ 0, 1 ]", "count: 2 kind: KIND_CPU"),
    groups("kind: KIND_AUTO"),
    groups("kind: KIND_MODEL"),
    groups('name: "a" kind: KIND_CPU', 'name: "b" kind: KIND_CPU'),
]


# What the real server still loads is a warning (see test_validate_agreement.py).
WARNINGS = {"instances.bad-count", "instances.duplicate-name"}


@pytest.mark.parametrize(("rule", "extra"), BAD, ids=[r for r, _ in BAD])
def test_instance_rule_fails(tmp_path: Path, rule: str, extra: str) -> None:
    report = single_model(tmp_path, cfg(extra=extra))
    assert rule in rules(report, "warning" if rule in WARNINGS else "error"), report.findings
    assert all(f.line == 6 for f in report.findings)


@pytest.mark.parametrize("extra", GOOD)
def test_instance_rule_passes(tmp_path: Path, extra: str) -> None:
    assert single_model(tmp_path, cfg(extra=extra)).findings == []
