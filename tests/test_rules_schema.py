"""Schema rules: parse errors with positions and hints, binary/non-UTF-8 files, platform/backend pairs."""

from __future__ import annotations

from pathlib import Path

import pytest

from validate_support import cfg, only, rules, single_model


def test_parse_error_has_line_column_and_hint(tmp_path: Path) -> None:
    text = cfg(inputs='input [ { name: "x" data_type: TYPE_FP32 dims: [ 4 ] }', outputs="")
    report = single_model(tmp_path, text + "output [ ]\n")
    [finding] = only(report, "schema.parse-error")
    assert finding.severity == "error"
    assert finding.line is not None and finding.column is not None
    assert finding.file is not None and finding.file.endswith("m/config.pbtxt")


def test_unknown_enum_suggests_the_close_name(tmp_path: Path) -> None:
    report = single_model(tmp_path, cfg(inputs='input [ { name: "x" data_type: TYPE_INT dims: [ 4 ] } ]'))
    [finding] = only(report, "schema.unknown-value")
    assert finding.line == 4
    assert finding.hint is not None and "TYPE_INT32" in finding.hint


def test_unknown_field_suggests_the_close_name(tmp_path: Path) -> None:
    report = single_model(tmp_path, cfg(extra="max_batch: 4"))
    [finding] = only(report, "schema.unknown-field")
    assert finding.line == 6 and finding.column is not None
    assert finding.hint is not None and "max_batch_size" in finding.hint


def test_binary_and_non_utf8_configs_are_findings(tmp_path: Path) -> None:
    assert "schema.binary" in rules(single_model(tmp_path / "a", b"\x08\x01\x12\x00\xff\x00garbage"))  # type: ignore[arg-type]
    report = single_model(tmp_path / "b", b'name: "m"\nbackend: "caf\xe9"\n')  # type: ignore[arg-type]
    [finding] = only(report, "schema.not-utf8")
    assert finding.line == 2


def test_a_valid_config_has_no_schema_findings(tmp_path: Path) -> None:
    report = single_model(tmp_path, cfg())
    assert report.ok and report.findings == []


@pytest.mark.parametrize(
    ("rule", "severity", "kwargs"),
    [
        ("schema.no-platform", "error", {"backend": None}),
        ("schema.platform-backend", "error", {"platform": "ensemble", "backend": "python"}),
        ("schema.platform-backend", "error", {"platform": "pytorch_libtorch", "backend": "onnxruntime"}),
        ("schema.platform-backend", "error", {"platform": "onnxruntime_onnx", "backend": "pytorch"}),
        ("schema.unknown-platform", "error", {"platform": "pytorch", "backend": None}),
        ("schema.unknown-platform", "warning", {"platform": "my_platform", "backend": "custom"}),
        ("schema.max-batch-size", "error", {"mbs": -1}),
    ],
)
def test_semantic_rule_fails(tmp_path: Path, rule: str, severity: str, kwargs: dict[str, object]) -> None:
    report = single_model(tmp_path, cfg(**kwargs))  # type: ignore[arg-type]
    assert rule in rules(report, severity), report.findings


@pytest.mark.parametrize(
    "kwargs",
    [
        {"platform": "pytorch_libtorch", "backend": None},
        {"platform": "pytorch_libtorch", "backend": "pytorch"},
        {"platform": "onnxruntime_onnx", "backend": "onnxruntime"},
        {"platform": "tensorrt_plan", "backend": "tensorrt"},
        {"platform": "tensorflow_savedmodel", "backend": "tensorflow"},
        {"backend": "onnxruntime"},
        {"backend": "my_custom_backend"},
        {"mbs": 0},
        {"mbs": 8},
    ],
)
def test_semantic_rule_passes(tmp_path: Path, kwargs: dict[str, object]) -> None:
    report = single_model(tmp_path, cfg(**kwargs))  # type: ignore[arg-type]
    assert not {r for r in rules(report) if r.startswith("schema.")}, report.findings
    assert report.ok


def test_unknown_platform_suggests_the_known_one(tmp_path: Path) -> None:
    [finding] = only(single_model(tmp_path, cfg(platform="pytorch", backend=None)), "schema.unknown-platform")
    assert finding.line == 2 and finding.hint is not None and "pytorch_libtorch" in finding.hint


@pytest.mark.parametrize(
    ("folder", "files"),
    [
        ("m", {"1/model.py": "class TritonPythonModel:\n    pass\n"}),
        ("m", {"1/model.onnx": "x"}),
        ("m", {"1/model.plan": "x"}),
        ("m", {"1/model.pt": "x"}),
        ("m", {"1/model.savedmodel/saved_model.pb": "x"}),
        ("m", {"1/model.xml": "x"}),
        ("m.dali", {"1/model.dali": "x"}),  # the folder name names the backend
    ],
)
def test_the_backend_is_completed_from_files_and_the_folder_name(
    tmp_path: Path, folder: str, files: dict[str, str]
) -> None:
    """AutoCompleteBackendFields: neither platform nor backend, yet the server knows what to load."""
    from tritonkit.validate.engine import validate_repository
    from validate_support import write_model

    repo = tmp_path / "repo"
    write_model(repo, folder, cfg(folder, backend=None), versions=(), files=files)
    report = validate_repository(repo, artifacts=False)
    assert "schema.no-platform" not in rules(report), report.findings


def test_completed_backends_get_their_rules(tmp_path: Path) -> None:
    from tritonkit.validate.engine import validate_repository
    from validate_support import write_model

    repo = tmp_path / "repo"
    # the python rules read the model.py of a model whose backend the server infers from that file
    write_model(repo, "p", cfg("p", backend=None), files={"1/model.py": "class TritonPythonModel(:\n"})
    # only the first version folder counts: 1/ has nothing the server knows, so 2/model.py does not help
    write_model(repo, "q", cfg("q", backend=None), versions=(1,), files={"2/model.py": "x = 1\n"})
    # a custom backend named by the folder loads model.<backend>
    write_model(repo, "m.dali", cfg("m.dali", backend=None), files={})
    report = validate_repository(repo, artifacts=True)
    assert {(f.model, f.rule) for f in report.errors} == {
        ("p", "python.syntax-error"),
        ("q", "schema.no-platform"),
        ("m.dali", "layout.missing-model-file"),
    }
    assert "model.dali" in only(report, "layout.missing-model-file")[0].message


def test_no_backend_and_nothing_to_infer_it_from(tmp_path: Path) -> None:
    from tritonkit.validate.engine import validate_repository
    from validate_support import write_model

    repo = tmp_path / "repo"
    write_model(repo, "m", cfg(backend=None), files={"1/weights.bin": "x"})
    [finding] = only(validate_repository(repo), "schema.no-platform")
    assert "NAME.BACKEND" in finding.message


@pytest.mark.timeout(60)
def test_a_config_that_is_a_fifo_does_not_hang_validate(tmp_path: Path) -> None:
    """The server hangs reading a FIFO config.pbtxt; validate must not open it."""
    import os

    from tritonkit.validate.engine import validate_repository
    from validate_support import MODEL_PY, write_model

    repo = tmp_path / "repo"
    write_model(repo, "m", None, files={"1/model.py": MODEL_PY})
    os.mkfifo(repo / "m" / "config.pbtxt")
    [finding] = validate_repository(repo).findings
    assert finding.rule == "layout.config-not-file" and finding.severity == "error"
    assert "not a regular file" in finding.message
