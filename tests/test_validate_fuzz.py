# ruff: noqa: E501  (tables of CLI arguments and tokens read best on one line each)
"""Property tests: validate never raises, whatever the repository holds (bytes, fragments, odd messages)."""

from __future__ import annotations

import json
import tempfile
from pathlib import Path
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tritonkit.model.schema import pb2
from tritonkit.validate.engine import validate_repository

NAMES = st.sampled_from(["a", "b", "c", "ens", "../x", "", "é", 'q"uote', "x__0", "INPUT__1"])
SMALL = st.integers(min_value=-3, max_value=10)
SETTINGS = settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def _check(models: dict[str, bytes], extra_files: dict[str, str] | None = None) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        repo = Path(tmp) / "repo"
        repo.mkdir()
        for index, (folder, data) in enumerate(models.items()):
            model = repo / (folder or f"m{index}")
            model.mkdir(exist_ok=True)
            (model / "1").mkdir(exist_ok=True)
            (model / "config.pbtxt").write_bytes(data)
            for rel, text in (extra_files or {}).items():
                (model / rel).write_text(text)
        for artifacts in (False, True):
            report = validate_repository(repo, artifacts=artifacts)
            json.dumps(report.to_dict())
            assert report.ok == (not any(f.severity == "error" for f in report.findings))


@SETTINGS
@given(st.binary(max_size=512))
def test_random_bytes(data: bytes) -> None:
    _check({"m": data})


TOKENS = [
    "name", "platform", "backend", "max_batch_size", "input", "output", "dims", "data_type", "reshape", "shape",
    "dynamic_batching", "preferred_batch_size", "instance_group", "kind", "gpus", "count", "ensemble_scheduling",
    "step", "model_name", "input_map", "output_map", "key", "value", "sequence_batching", "control_input", "control",
    "version_policy", "specific", "versions", "TYPE_FP32", "TYPE_STRING", "KIND_GPU", "KIND_CPU", ":", "{", "}",
    "[", "]", ",", "<", ">", "-1", "0", "1", "3", "99999999999999999999", '"a"', '"ensemble"', '"python"', "#",
    "\n", '"\\x"', "'", "true", "-", "1.5", "nan",
]  # fmt: skip


@SETTINGS
@given(st.lists(st.sampled_from(TOKENS), max_size=60))
def test_random_pbtxt_fragments(tokens: list[str]) -> None:
    _check({"m": " ".join(tokens).encode()})


def _tensor(draw: Any, message: Any) -> None:
    message.name = draw(NAMES)
    message.data_type = draw(st.integers(min_value=0, max_value=15))
    message.dims.extend(draw(st.lists(SMALL, max_size=4)))
    if draw(st.booleans()):
        message.reshape.shape.extend(draw(st.lists(SMALL, max_size=3)))


@st.composite
def model_configs(draw: Any) -> Any:
    """A random but schema-valid ModelConfig: every field in range of its type, any semantics."""
    m = pb2()
    config = m.ModelConfig()
    config.name = draw(NAMES)
    config.platform = draw(
        st.sampled_from(["", "ensemble", "pytorch_libtorch", "onnxruntime_onnx", "pytorch", "x"])
    )
    config.backend = draw(st.sampled_from(["", "python", "onnxruntime", "pytorch", "custom"]))
    config.max_batch_size = draw(st.integers(min_value=-2, max_value=16))
    for _ in range(draw(st.integers(0, 3))):
        _tensor(draw, config.input.add())
    for _ in range(draw(st.integers(0, 3))):
        _tensor(draw, config.output.add())
    choice = draw(st.sampled_from(["none", "dynamic", "sequence", "ensemble"]))
    if choice == "dynamic":
        db = config.dynamic_batching
        db.preferred_batch_size.extend(draw(st.lists(SMALL, max_size=3)))
        db.priority_levels = draw(st.integers(0, 3))
        db.default_priority_level = draw(st.integers(0, 4))
        db.preserve_ordering = draw(st.booleans())
        for level in draw(st.lists(st.integers(0, 5), max_size=2)):
            db.priority_queue_policy[level].timeout_action = draw(st.integers(0, 1))
            db.priority_queue_policy[level].default_timeout_microseconds = draw(st.integers(0, 5))
    elif choice == "sequence":
        for _ in range(draw(st.integers(0, 3))):
            control_input = config.sequence_batching.control_input.add()
            control_input.name = draw(NAMES)
            control = control_input.control.add()
            control.kind = draw(st.integers(0, 5))
            control.int32_false_true.extend(draw(st.lists(st.integers(0, 1), max_size=3)))
            control.data_type = draw(st.integers(0, 14))
    elif choice == "ensemble":
        for _ in range(draw(st.integers(0, 3))):
            step = config.ensemble_scheduling.step.add()
            step.model_name = draw(NAMES)
            step.model_version = draw(st.integers(-1, 3))
            for _ in range(draw(st.integers(0, 2))):
                step.input_map[draw(NAMES)] = draw(NAMES)
            for _ in range(draw(st.integers(0, 2))):
                step.output_map[draw(NAMES)] = draw(NAMES)
    for _ in range(draw(st.integers(0, 2))):
        group = config.instance_group.add()
        group.kind = draw(st.integers(0, 5))
        group.count = draw(st.integers(-2, 3))
        group.gpus.extend(draw(st.lists(st.integers(-2, 2), max_size=3)))
    if draw(st.booleans()):
        batch_input = config.batch_input.add()
        batch_input.kind = draw(st.integers(0, 7))
        batch_input.target_name.extend(draw(st.lists(NAMES, max_size=2)))
        batch_input.source_input.extend(draw(st.lists(NAMES, max_size=2)))
    if draw(st.booleans()):
        config.version_policy.specific.versions.extend(draw(st.lists(st.integers(0, 3), max_size=2)))
    return config


@SETTINGS
@given(
    st.lists(model_configs(), min_size=1, max_size=3),
    st.sampled_from(["", "garbage(", "class TritonPythonModel: pass"]),
)
def test_random_model_configs(configs: list[Any], model_py: str) -> None:
    from google.protobuf import text_format

    folders = ["a", "b", "c"]
    models = {folders[i]: text_format.MessageToString(c).encode() for i, c in enumerate(configs)}
    _check(models, {"1/model.py": model_py} if model_py else None)
