# ruff: noqa: E501  (tables of config fragments read best on one line each)
"""Batching rules: dynamic batching sizes, priorities, queue policies, preserve_ordering, sequence controls."""

from __future__ import annotations

from pathlib import Path

import pytest

from validate_support import X_IN, cfg, rules, single_model


def db(body: str) -> str:
    return f"dynamic_batching {{ {body} }}"


def seq(*controls: str) -> str:
    return "sequence_batching { control_input [ " + ", ".join(controls) + " ] }"


def control(name: str, body: str) -> str:
    return f'{{ name: "{name}" control [ {{ {body} }} ] }}'


START = control("START", "kind: CONTROL_SEQUENCE_START int32_false_true: [ 0, 1 ]")
CORRID = control("CORRID", "kind: CONTROL_SEQUENCE_CORRID data_type: TYPE_UINT64")

BAD = [
    ("batching.preferred-size", "error", 4, db("preferred_batch_size: [ 8 ]")),
    ("batching.preferred-size", "error", 4, db("preferred_batch_size: [ 0 ]")),
    ("batching.dynamic-without-batching", "warning", 0, db("")),
    ("batching.priority-level", "error", 4, db("priority_levels: 2 default_priority_level: 3")),
    ("batching.priority-level", "error", 4, db("priority_levels: 2")),
    ("batching.priority-queue-policy", "error", 4,
     db("priority_levels: 2 default_priority_level: 1 priority_queue_policy { key: 5 value: { max_queue_size: 1 } }")),
    ("batching.priority-unused", "warning", 4, db("default_priority_level: 1")),
    ("batching.preserve-ordering", "error", 4,
     db("preserve_ordering: true priority_levels: 2 default_priority_level: 1")),
    ("batching.preserve-ordering", "error", 4,
     db("preserve_ordering: true default_queue_policy { timeout_action: DELAY default_timeout_microseconds: 100 }")),
    ("batching.sequence-control-false-true", "error", 4,
     seq(control("S", "kind: CONTROL_SEQUENCE_START int32_false_true: [ 0, 1, 1 ]"))),
    ("batching.sequence-control-false-true", "error", 4, seq(control("S", "kind: CONTROL_SEQUENCE_START"))),
    ("batching.sequence-control-false-true", "error", 4,
     seq(control("S", "kind: CONTROL_SEQUENCE_START int32_false_true: [ 0, 1 ] fp32_false_true: [ 0, 1 ]"))),
    ("batching.sequence-corrid-type", "error", 4,
     seq(control("C", "kind: CONTROL_SEQUENCE_CORRID data_type: TYPE_FP32"))),
    ("batching.sequence-control-false-true", "error", 4,
     seq(control("C", "kind: CONTROL_SEQUENCE_CORRID int32_false_true: [ 0, 1 ]"))),
    ("batching.sequence-control-duplicate", "error", 4,
     seq(START, control("START2", "kind: CONTROL_SEQUENCE_START int32_false_true: [ 0, 1 ]"))),
    ("batching.sequence-control-duplicate", "error", 4,
     seq(START, control("START", "kind: CONTROL_SEQUENCE_END int32_false_true: [ 0, 1 ]"))),
    ("batching.sequence-control-input", "warning", 4,  # the server loads it
     seq(control("x", "kind: CONTROL_SEQUENCE_START int32_false_true: [ 0, 1 ]"))),
    ("batching.sequence-control-data-type", "warning", 4,  # the server ignores it
     seq(control("S", "kind: CONTROL_SEQUENCE_START int32_false_true: [ 0, 1 ] data_type: TYPE_INT32"))),
    ("batching.sequence-control-name", "error", 4,
     "sequence_batching { control_input [ { control [ { kind: CONTROL_SEQUENCE_START bool_false_true: [ false, true ] } ] } ] }"),
    ("batching.sequence-control-empty", "warning", 4, seq('{ name: "S" }')),  # the server ignores it
    ("batching.sequence-control-kind", "warning", 4, seq(control("S", "kind: 9 int32_false_true: [ 0, 1 ]"))),
    ("batching.preferred-size", "error", 4, "sequence_batching { oldest { preferred_batch_size: [ 16 ] } }"),
    ("batching.sequence-state", "warning", 4,
     'sequence_batching { state [ { input_name: "s_in" data_type: TYPE_FP32 dims: [ 4 ] } ] }'),
    ("batching.sequence-state", "warning", 4,
     'sequence_batching { state [ { input_name: "s_in" output_name: "s_out" dims: [ 4 ] } ] }'),
    ("batching.sequence-state", "warning", 4,
     'sequence_batching { state [ { input_name: "s_in" output_name: "s_out" data_type: TYPE_FP32 dims: [ 0 ] } ] }'),
    ("batching.sequence-state", "warning", 4,
     'sequence_batching { state [ { input_name: "s_in" output_name: "s_out" data_type: TYPE_FP32 } ] }'),
]  # fmt: skip

GOOD = [
    (4, db("preferred_batch_size: [ 2, 4 ] max_queue_delay_microseconds: 100")),
    (4, db("priority_levels: 3 default_priority_level: 2 priority_queue_policy { key: 3 value: { max_queue_size: 4 } }")),
    (4, db("preserve_ordering: true default_queue_policy { timeout_action: REJECT default_timeout_microseconds: 100 }")),
    (4, seq(START, CORRID, control("END", "kind: CONTROL_SEQUENCE_END fp32_false_true: [ 0, 1 ]"),
            control("READY", "kind: CONTROL_SEQUENCE_READY bool_false_true: [ false, true ]"))),
    (0, seq(START)),
    (4, "sequence_batching { oldest { preferred_batch_size: [ 2, 4 ] } }"),
    (4, 'sequence_batching { state [ { input_name: "s_in" output_name: "s_out" data_type: TYPE_FP32 dims: [ -1 ] } ] }'),
]  # fmt: skip


@pytest.mark.parametrize(
    ("rule", "severity", "mbs", "extra"), BAD, ids=[f"{r}-{i}" for i, (r, *_) in enumerate(BAD)]
)
def test_batching_rule_fails(tmp_path: Path, rule: str, severity: str, mbs: int, extra: str) -> None:
    report = single_model(tmp_path, cfg(mbs=mbs, inputs=X_IN, extra=extra))
    assert rule in rules(report, severity), report.findings
    assert all(f.line is not None for f in report.findings)


@pytest.mark.parametrize(("mbs", "extra"), GOOD)
def test_batching_rule_passes(tmp_path: Path, mbs: int, extra: str) -> None:
    report = single_model(tmp_path, cfg(mbs=mbs, extra=extra))
    assert report.findings == []
