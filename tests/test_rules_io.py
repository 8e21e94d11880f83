# ruff: noqa: E501  (tables of config fragments read best on one line each)
"""Input/output rules: names, data types, dims, reshape, duplicates, batch_input / batch_output."""

from __future__ import annotations

from pathlib import Path

import pytest

from tritonkit.validate.rules import RULES
from validate_support import cfg, only, rules, single_model


def tensor(name: str = "x", body: str = "data_type: TYPE_FP32 dims: [ 4 ]") -> str:
    return f'{{ name: "{name}" {body} }}'


def inputs(*items: str) -> str:
    return "input [ " + ", ".join(items) + " ]"


BAD = [
    ("io.missing-name", {"inputs": inputs("{ data_type: TYPE_FP32 dims: [ 4 ] }")}),
    ("io.missing-data-type", {"inputs": inputs(tensor(body="dims: [ 4 ]"))}),
    ("io.bad-data-type", {"inputs": inputs(tensor(body="data_type: 99 dims: [ 4 ]"))}),
    ("io.missing-dims", {"inputs": inputs(tensor(body="data_type: TYPE_FP32"))}),
    ("io.bad-dim", {"inputs": inputs(tensor(body="data_type: TYPE_FP32 dims: [ 0, 4 ]"))}),
    ("io.bad-dim", {"inputs": inputs(tensor(body="data_type: TYPE_FP32 dims: [ -2 ]"))}),
    (
        "io.reshape-count",
        {"inputs": inputs(tensor(body="data_type: TYPE_FP32 dims: [ 4 ] reshape: { shape: [ 2, 3 ] }"))},
    ),
    (
        "io.reshape-variable-dims",
        {
            "inputs": inputs(
                tensor(body="data_type: TYPE_FP32 dims: [ -1, 4 ] reshape: { shape: [ -1, -1 ] }")
            )
        },
    ),
    (
        "io.reshape-count",
        {
            "inputs": inputs(
                tensor(body="data_type: TYPE_FP32 dims: [ 2, -1, 6 ] reshape: { shape: [ 3, -1, 4 ] }")
            )
        },
    ),
    (
        "io.empty-reshape",
        {"inputs": inputs(tensor(body="data_type: TYPE_FP32 dims: [ 1 ] reshape: { shape: [ ] }"))},
    ),
    (
        "io.reshape-count",
        {"mbs": 4, "inputs": inputs(tensor(body="data_type: TYPE_FP32 dims: [ 2 ] reshape: { shape: [ ] }"))},
    ),
    (
        "io.format-dims",
        {"inputs": inputs(tensor(body="data_type: TYPE_FP32 format: FORMAT_NCHW dims: [ 4 ]"))},
    ),
    (
        "io.shape-tensor",
        {"inputs": inputs(tensor(body="data_type: TYPE_INT32 dims: [ 2 ] is_shape_tensor: true"))},
    ),
    (  # a platform other than TensorRT does not make a shape tensor acceptable
        "io.shape-tensor",
        {
            "backend": None,
            "platform": "onnxruntime_onnx",
            "inputs": inputs(tensor(body="data_type: TYPE_INT32 dims: [ 2 ] is_shape_tensor: true")),
        },
    ),
]

GOOD = [
    {"inputs": inputs(tensor(body="data_type: TYPE_FP32 dims: [ -1, 4 ]"))},
    {"inputs": inputs(tensor("a"), tensor("b"))},
    {"inputs": inputs(tensor(body="data_type: TYPE_FP32 dims: [ 4 ] reshape: { shape: [ 2, 2 ] }"))},
    {
        "inputs": inputs(
            tensor(body="data_type: TYPE_FP32 dims: [ 2, -1, 6 ] reshape: { shape: [ 2, -1, 2, 3 ] }")
        )
    },
    {"mbs": 4, "inputs": inputs(tensor(body="data_type: TYPE_FP32 dims: [ 1 ] reshape: { shape: [ ] }"))},
    {"inputs": inputs(tensor(body="data_type: TYPE_FP32 format: FORMAT_NCHW dims: [ 3, 8, 8 ]"))},
    {"inputs": inputs(tensor(body="data_type: TYPE_STRING dims: [ 1 ]"))},
    {
        "backend": None,
        "platform": "tensorrt_plan",
        "inputs": inputs(tensor(body="data_type: TYPE_INT32 dims: [ 2 ] is_shape_tensor: true")),
    },
]


@pytest.mark.parametrize(("rule", "kwargs"), BAD, ids=[f"{r}-{i}" for i, (r, _) in enumerate(BAD)])
def test_io_rule_fails(tmp_path: Path, rule: str, kwargs: dict[str, object]) -> None:
    report = single_model(tmp_path, cfg(**kwargs))  # type: ignore[arg-type]
    found = only(report, rule)
    assert found and all(f.severity == RULES[rule].severity for f in found), report.findings
    assert all(f.line is not None for f in found)


@pytest.mark.parametrize("kwargs", GOOD)
def test_io_rule_passes(tmp_path: Path, kwargs: dict[str, object]) -> None:
    report = single_model(tmp_path, cfg(**kwargs))  # type: ignore[arg-type]
    assert report.findings == []


def test_bad_dim_points_at_the_second_input(tmp_path: Path) -> None:
    text = cfg(
        inputs='input [\n  { name: "a" data_type: TYPE_FP32 dims: [ 4 ] },\n  { name: "b"\n    data_type: TYPE_FP32\n    dims: [ 0 ] }\n]'
    )
    [finding] = only(single_model(tmp_path, text), "io.bad-dim")
    assert finding.line == 8 and "'b'" in finding.message


def test_duplicate_names_are_a_warning(tmp_path: Path) -> None:
    # The real server loads such a model; only one tensor of the name can travel.
    report = single_model(tmp_path, cfg(inputs=inputs(tensor(), tensor())))
    assert rules(report) == {"io.duplicate-name"} and rules(report, "warning") == {"io.duplicate-name"}


def test_output_rules_too(tmp_path: Path) -> None:
    outputs = 'output [ { name: "y" data_type: TYPE_FP32 dims: [ 0 ] }, { name: "y" data_type: TYPE_FP32 dims: [ 1 ] } ]'
    report = single_model(tmp_path, cfg(outputs=outputs))
    assert "io.bad-dim" in rules(report, "error") and "io.duplicate-name" in rules(report, "warning")


BATCH_BAD = [
    (
        "io.batch-input-source",
        'batch_input [ { kind: BATCH_ELEMENT_COUNT target_name: "n" data_type: TYPE_INT32 source_input: "nope" } ]',
    ),
    (
        "io.batch-input-source",
        'batch_input [ { kind: BATCH_ELEMENT_COUNT target_name: "n" data_type: TYPE_INT32 } ]',
    ),
    (
        "io.batch-input-target",
        'batch_input [ { kind: BATCH_ELEMENT_COUNT data_type: TYPE_INT32 source_input: "x" } ]',
    ),
    (
        "io.batch-input-type",
        'batch_input [ { kind: BATCH_ELEMENT_COUNT target_name: "n" data_type: TYPE_FP16 source_input: "x" } ]',
    ),
    (
        "io.batch-input-type",
        'batch_input [ { kind: BATCH_ELEMENT_COUNT target_name: "n" data_type: TYPE_INT64 source_input: "x" } ]',
    ),
    (
        "io.batch-input-kind",
        'batch_input [ { kind: 42 target_name: "n" data_type: TYPE_INT32 source_input: "x" } ]',
    ),
    (
        "io.batch-output-target",
        'batch_output [ { kind: BATCH_SCATTER_WITH_INPUT_SHAPE target_name: "z" source_input: "x" } ]',
    ),
    (
        "io.batch-output-source",
        'batch_output [ { kind: BATCH_SCATTER_WITH_INPUT_SHAPE target_name: "y" source_input: "q" } ]',
    ),
    ("io.batch-output-kind", 'batch_output [ { kind: 7 target_name: "y" source_input: "x" } ]'),
]


@pytest.mark.parametrize(("rule", "extra"), BATCH_BAD, ids=[f"{r}-{i}" for i, (r, _) in enumerate(BATCH_BAD)])
def test_batch_io_rule_fails(tmp_path: Path, rule: str, extra: str) -> None:
    report = single_model(tmp_path, cfg(mbs=4, extra=extra))
    assert rule in rules(report, RULES[rule].severity), report.findings


def test_batch_input_target_colliding_with_an_input_is_a_warning(tmp_path: Path) -> None:
    extra = 'batch_input [ { kind: BATCH_ELEMENT_COUNT target_name: "x" data_type: TYPE_INT32 source_input: "x" } ]'
    assert rules(single_model(tmp_path, cfg(mbs=4, extra=extra)), "warning") == {
        "io.batch-input-target-collision"
    }


def test_batch_io_passes(tmp_path: Path) -> None:
    extra = (
        'batch_input [ { kind: BATCH_ACCUMULATED_ELEMENT_COUNT target_name: "n" data_type: TYPE_INT32 source_input: "x" } ]\n'
        'batch_output [ { kind: BATCH_SCATTER_WITH_INPUT_SHAPE target_name: "y" source_input: "x" } ]'
    )
    assert single_model(tmp_path, cfg(mbs=4, extra=extra)).findings == []
