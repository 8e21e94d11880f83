"""PyTorch naming rules: NAME__INDEX or forward-argument input names, NAME__INDEX outputs."""

from __future__ import annotations

from pathlib import Path

import pytest

from validate_support import cfg, rules, single_model


def io(kind: str, *names: str) -> str:
    return (
        f"{kind} [ " + ", ".join(f'{{ name: "{n}" data_type: TYPE_FP32 dims: [ 4 ] }}' for n in names) + " ]"
    )


def pt(inputs: tuple[str, ...] = ("INPUT__0",), outputs: tuple[str, ...] = ("OUTPUT__0",)) -> str:
    return cfg(
        backend=None, platform="pytorch_libtorch", inputs=io("input", *inputs), outputs=io("output", *outputs)
    )


BAD = [
    ("pytorch.input-name", "error", pt(inputs=("input-0",))),
    ("pytorch.input-name", "error", pt(inputs=("0x",))),
    ("pytorch.duplicate-index", "error", pt(inputs=("A__0", "B__0"))),
    ("pytorch.index-range", "warning", pt(inputs=("INPUT__0", "INPUT__5"))),
    ("pytorch.index-range", "warning", pt(inputs=("INPUT__0", "INPUT__2"))),  # index == count: out of range
    ("pytorch.mixed-input-names", "warning", pt(inputs=("INPUT__0", "tokens"))),
    ("pytorch.output-name", "warning", pt(outputs=("logits",))),
    ("pytorch.duplicate-index", "error", pt(outputs=("A__0", "B__0"))),
]
GOOD = [
    pt(),
    pt(inputs=("INPUT__0", "INPUT__1"), outputs=("OUTPUT__0", "OUTPUT__1")),
    pt(inputs=("input_ids", "attention_mask")),
    pt(inputs=("x__1", "y__0")),
    cfg(backend="pytorch", inputs=io("input", "INPUT__0"), outputs=io("output", "OUTPUT__0")),
    cfg(inputs=io("input", "weird-name"), outputs=io("output", "logits")),  # python backend: any name
]


@pytest.mark.parametrize(("rule", "severity", "text"), BAD, ids=[f"{r}-{i}" for i, (r, *_) in enumerate(BAD)])
def test_pytorch_rule_fails(tmp_path: Path, rule: str, severity: str, text: str) -> None:
    report = single_model(tmp_path, text)
    assert rule in rules(report, severity), report.findings


@pytest.mark.parametrize("text", GOOD)
def test_pytorch_rule_passes(tmp_path: Path, text: str) -> None:
    assert single_model(tmp_path, text).findings == []
