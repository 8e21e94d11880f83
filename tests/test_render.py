# ruff: noqa: E501  (the table of specs reads best with one model per line)
"""render: golden files for every template path, every render parsed back with the official schema.

Regenerate the golden files after an intended template change with
`TRITONKIT_UPDATE_GOLDEN=1 pytest tests/test_render.py` and review the diff.
"""

from __future__ import annotations

import ast
import os
from pathlib import Path
from typing import Any

import pytest
from google.protobuf import text_format
from hypothesis import given, settings
from hypothesis import strategies as st

from tritonkit.model.schema import pb2
from tritonkit.model.spec import (
    DynamicBatchingSpec,
    EnsembleStepSpec,
    InstanceGroupSpec,
    ModelSpec,
    TensorSpec,
)
from tritonkit.repository.render import render_config, render_python_model

GOLDEN = Path(__file__).parent / "golden"
UPDATE = os.environ.get("TRITONKIT_UPDATE_GOLDEN") == "1"


def t(name: str, dtype: str = "fp32", dims: list[int] | None = None, **kwargs: Any) -> TensorSpec:
    return TensorSpec(name, dtype, [4] if dims is None else dims, **kwargs)


SPECS: dict[str, ModelSpec] = {
    "pytorch": ModelSpec("fc_model_pt", "pytorch", [t("INPUT__0", dims=[16])], [t("OUTPUT__0")]),
    "onnx": ModelSpec("resnet", "onnx", [t("x", dims=[3, 224, 224])], [t("y", dims=[1000])], max_batch_size=8),
    "tensorrt": ModelSpec("engine", "tensorrt", [t("x", "fp16", [-1, 8])], [t("y", "fp16", [-1, 8])], max_batch_size=4),
    "tensorflow": ModelSpec("tf", "tensorflow", [t("in", "int64", [-1])], [t("out", "string", [1])]),
    "python": ModelSpec("py", "python", [t("a", "int32", [-1])], [t("b", "int32", [-1])]),
    "custom": ModelSpec("cust", "my_backend", [t("s", "bytes", [1])], [t("o", "bool", [2])], parameters={"k": "v"},
                        default_model_filename="weights.bin"),
    "dynamic_batching": ModelSpec(
        "db", "pytorch", [t("INPUT__0")], [t("OUTPUT__0")], max_batch_size=16,
        dynamic_batching=DynamicBatchingSpec([4, 8], 100, preserve_ordering=True),
    ),
    "dynamic_batching_plain": ModelSpec("dbp", "onnx", [t("x")], [t("y")], max_batch_size=4,
                                        dynamic_batching=DynamicBatchingSpec()),
    "instance_groups": ModelSpec(
        "ig", "python", [t("a")], [t("b")],
        instance_groups=[InstanceGroupSpec(2, "cpu"), InstanceGroupSpec(1, "gpu", [0, 1]), InstanceGroupSpec(1, "auto")],
    ),
    "reshape_optional": ModelSpec(
        "rs", "python", [t("a", dims=[1], reshape=[], optional=True), t("b", dims=[2, 3], reshape=[6])],
        [t("c", dims=[6], reshape=[2, 3])], max_batch_size=2,
    ),
    "ensemble": ModelSpec(
        "ens", "ensemble", [t("IN")], [t("OUT")], max_batch_size=4,
        steps=[
            EnsembleStepSpec("pre", -1, {"a": "IN"}, {"b": "mid"}),
            EnsembleStepSpec("post", 2, {"a": "mid"}, {"b": "OUT"}),
        ],
    ),
    "bls": ModelSpec("bls", "python", [t("a", "int32", [-1])], [t("b", "int32", [-1])], bls_target="py"),
}  # fmt: skip


def _golden(name: str, text: str) -> None:
    """Compare with the committed golden file; only TRITONKIT_UPDATE_GOLDEN=1 (re)writes one."""
    path = GOLDEN / name
    if UPDATE:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
    assert path.is_file(), f"golden file {path} is missing (run with TRITONKIT_UPDATE_GOLDEN=1 and commit it)"
    assert text == path.read_text(encoding="utf-8"), (
        f"{path} differs; TRITONKIT_UPDATE_GOLDEN=1 regenerates it"
    )


def _tensors(message: Any) -> list[tuple[str, str, list[int]]]:
    names = pb2().DataType
    return [(m.name, names.Name(m.data_type), list(m.dims)) for m in message]


@pytest.mark.parametrize("case", sorted(SPECS))
def test_config_matches_golden_and_parses_back(case: str) -> None:
    spec = SPECS[case]
    text = render_config(spec)
    _golden(f"{case}.config.pbtxt", text)
    config = text_format.Parse(text, pb2().ModelConfig())
    assert config.name == spec.name
    assert config.platform == spec.platform and config.backend == spec.config_backend
    assert config.max_batch_size == spec.max_batch_size
    assert _tensors(config.input) == [(x.name, x.data_type, x.dims) for x in spec.inputs]
    assert _tensors(config.output) == [(x.name, x.data_type, x.dims) for x in spec.outputs]
    for rendered, wanted in zip(
        list(config.input) + list(config.output), spec.inputs + spec.outputs, strict=True
    ):
        assert rendered.HasField("reshape") == (wanted.reshape is not None)
        if wanted.reshape is not None:
            assert list(rendered.reshape.shape) == wanted.reshape
    if spec.dynamic_batching:
        db = config.dynamic_batching
        assert list(db.preferred_batch_size) == spec.dynamic_batching.preferred_batch_sizes
        assert db.max_queue_delay_microseconds == spec.dynamic_batching.max_queue_delay_microseconds
        assert db.preserve_ordering == spec.dynamic_batching.preserve_ordering
    else:
        assert not config.HasField("dynamic_batching")
    kinds = pb2().ModelInstanceGroup.Kind
    assert [(g.count, kinds.Name(g.kind), list(g.gpus)) for g in config.instance_group] == [
        (g.count, g.kind, g.gpus) for g in spec.instance_groups
    ]
    assert [(s.model_name, s.model_version, dict(s.input_map), dict(s.output_map)) for s in
            config.ensemble_scheduling.step] == [(s.model_name, s.model_version, s.input_map, s.output_map)
                                                 for s in spec.steps]  # fmt: skip
    assert {k: v.string_value for k, v in config.parameters.items()} == spec.parameters
    assert config.default_model_filename == (spec.default_model_filename or "")


@pytest.mark.parametrize("case", ["python", "bls"])
def test_python_model_matches_golden_and_compiles(case: str) -> None:
    spec = SPECS[case]
    target = SPECS["python"] if case == "bls" else None
    text = render_python_model(spec, target)
    _golden(f"{case}.model.py.txt", text)  # .txt: not linted as our own code
    tree = ast.parse(text)
    classes = [n for n in tree.body if isinstance(n, ast.ClassDef)]
    assert [c.name for c in classes] == ["TritonPythonModel"]
    assert "execute" in {f.name for f in classes[0].body if isinstance(f, ast.FunctionDef)}
    if case == "bls":
        assert "TARGET_MODEL = 'py'" in text and "pb_utils.InferenceRequest(" in text


def test_render_is_deterministic() -> None:
    for spec in SPECS.values():
        assert render_config(spec) == render_config(spec)


NASTY = [
    'a"b',
    "back\\slash",
    "new\nline",
    "tab\there",
    "ünïcødé",
    "日本語",
    "emoji 🚀",
    "}",
    "]",
    "#comment",
    "'",
    "",
]


@pytest.mark.parametrize("name", [n for n in NASTY if n])
def test_nasty_names_are_escaped(name: str) -> None:
    spec = ModelSpec("m", "python", [t(name)], [t(name + "_out")], parameters={name: name})
    config = text_format.Parse(render_config(spec), pb2().ModelConfig())
    assert [i.name for i in config.input] == [name] and [o.name for o in config.output] == [name + "_out"]
    assert config.parameters[name].string_value == name
    compile(render_python_model(spec), "model.py", "exec")


names = st.text(min_size=1, max_size=30)


@settings(max_examples=300, deadline=None)
@given(st.lists(names, min_size=1, max_size=3, unique=True), st.lists(names, min_size=1, max_size=3, unique=True),
       st.dictionaries(names, st.text(max_size=20), max_size=2))  # fmt: skip
def test_no_tensor_name_breaks_the_pbtxt(
    inputs: list[str], outputs: list[str], parameters: dict[str, str]
) -> None:
    spec = ModelSpec(
        "m",
        "python",
        [t(n) for n in inputs],
        [t(n) for n in outputs],
        parameters=parameters,
        bls_target="other",
    )
    config = text_format.Parse(render_config(spec), pb2().ModelConfig())
    assert [i.name for i in config.input] == inputs
    assert [o.name for o in config.output] == outputs
    assert {k: v.string_value for k, v in config.parameters.items()} == parameters
    ast.parse(render_python_model(spec))
    ensemble = ModelSpec("e", "ensemble", [t(n) for n in inputs], [t(n) for n in outputs],
                         steps=[EnsembleStepSpec("m", -1, {n: n for n in inputs}, {n: n for n in outputs})])  # fmt: skip
    step = text_format.Parse(render_config(ensemble), pb2().ModelConfig()).ensemble_scheduling.step[0]
    assert dict(step.input_map) == {n: n for n in inputs}
