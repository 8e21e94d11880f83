"""Artifact checks: exported model files against (deliberately broken) configs, in both formats."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from conftest import require
from export_support import HAS_ORT, HAS_TORCH, TORCH_HOW
from tritonkit.model.schema import parse_config
from tritonkit.repository.scaffold import init_repository
from tritonkit.repository.scan import list_model_dirs
from tritonkit.validate.artifacts import check_model_artifacts
from tritonkit.validate.findings import Finding

pytestmark = pytest.mark.torch
FORMATS = ("torchscript", "onnx")


@pytest.fixture(scope="module")
def exported(tmp_path_factory: pytest.TempPathFactory) -> Path:
    require(HAS_TORCH and HAS_ORT, "torch and onnxruntime", TORCH_HOW)
    import torch

    from export_support import MLP, TokenEmbedding, TwoInDictOut
    from tritonkit.export import export_model

    repo = init_repository(tmp_path_factory.mktemp("art") / "model_repository").repository
    for fmt in FORMATS:
        export_model(MLP(), torch.randn(2, 16), repo=repo, name=f"mlp_{fmt}", format=fmt, max_batch_size=8)
        example = {"features": torch.randn(2, 4), "bias": torch.randn(2, 3)}
        export_model(TwoInDictOut(), example, repo=repo, name=f"two_{fmt}", format=fmt, max_batch_size=4)
        ids = torch.randint(0, 100, (2, 7))
        export_model(TokenEmbedding(), ids, repo=repo, name=f"tok_{fmt}", format=fmt, max_batch_size=4,
                     dynamic_dims="all")  # fmt: skip
    return repo


def _check(repo: Path, name: str, *replacements: tuple[str, str]) -> list[Finding]:
    """Rewrite the model's config with `replacements` (restored afterwards) and run the check."""
    model = next(m for m in list_model_dirs(repo) if m.name == name)
    path = model.path / "config.pbtxt"
    original = path.read_text()
    text = original
    for old, new in replacements:
        assert old in text, f"{old!r} not in {name}'s config"
        text = text.replace(old, new)
    path.write_text(text)
    try:
        return check_model_artifacts(parse_config(text), model.path, model.versions, f"{name}/config.pbtxt")
    finally:
        path.write_text(original)


def _rules(findings: list[Finding]) -> list[tuple[str, str]]:
    return [(f.severity, f.rule) for f in findings]


@pytest.mark.parametrize("name", [f"{m}_{f}" for m in ("mlp", "two", "tok") for f in FORMATS])
def test_exported_models_fit_their_configs(exported: Path, name: str) -> None:
    assert _check(exported, name) == []


@pytest.mark.parametrize("fmt", FORMATS)
def test_output_dims_that_the_server_would_not_notice(exported: Path, fmt: str) -> None:
    findings = _check(exported, f"mlp_{fmt}", ("dims: [ 4 ]", "dims: [ 3 ]"))
    assert _rules(findings) == [("error", "artifact.output-shape")]
    assert "gives dims [4], the config says [3]" in findings[0].message
    assert findings[0].file == f"mlp_{fmt}/config.pbtxt" and findings[0].line is not None
    assert "dims: [ 4 ]" in (findings[0].hint or "")
    assert _rules(_check(exported, f"mlp_{fmt}", ("dims: [ 4 ]", "dims: [ 4, 1 ]"))) == [
        ("error", "artifact.output-rank")
    ]


@pytest.mark.parametrize("fmt", FORMATS)
def test_output_type_and_forgotten_output(exported: Path, fmt: str) -> None:
    findings = _check(
        exported,
        f"mlp_{fmt}",
        ("data_type: TYPE_FP32\n    dims: [ 4 ]", "data_type: TYPE_FP16\n    dims: [ 4 ]"),
    )
    assert _rules(findings) == [("error", "artifact.output-type")]
    forgotten = _check(
        exported,
        f"two_{fmt}",
        (',\n  {\n    name: "doubled"\n    data_type: TYPE_FP32\n    dims: [ 4 ]\n  }', ""),
    )
    assert _rules(forgotten) == [("warning", "artifact.output-unlisted")]
    assert "'doubled'" in forgotten[0].message or "#1" in forgotten[0].message
    renamed = _check(exported, f"two_{fmt}", ('name: "score"', 'name: "scores"'))
    if fmt == "onnx":  # ONNX outputs are matched by name
        assert ("error", "artifact.output-mismatch") in _rules(renamed)
    else:  # a dict output is exported as a tuple in config order: names are free
        assert renamed == []


def test_onnx_inputs_by_name_type_and_rank(exported: Path) -> None:
    assert _rules(_check(exported, "tok_onnx", ("TYPE_INT64", "TYPE_INT32"))) == [
        ("error", "artifact.input-type")
    ]
    assert _rules(_check(exported, "mlp_onnx", ("dims: [ 16 ]", "dims: [ 1, 16 ]"))) == [
        ("error", "artifact.input-rank")
    ]
    assert _rules(_check(exported, "mlp_onnx", ("dims: [ 16 ]", "dims: [ 15 ]"))) == [
        ("error", "artifact.input-shape")
    ]
    renamed = _check(exported, "two_onnx", ('name: "bias"', 'name: "offset"'))
    assert _rules(renamed) == [("error", "artifact.input-mismatch"), ("error", "artifact.input-mismatch")]


def test_torchscript_dry_run_and_forward_arguments(exported: Path) -> None:
    findings = _check(exported, "mlp_torchscript", ("dims: [ 16 ]", "dims: [ 15 ]"))
    assert _rules(findings) == [("error", "artifact.dry-run-failed")]
    assert "batch 1" in findings[0].message and "shapes cannot be multiplied" in findings[0].message
    assert findings[0].file == "mlp_torchscript/1/model.pt"
    # INPUT__5 names a forward argument the model does not have
    assert _rules(_check(exported, "mlp_torchscript", ("INPUT__0", "INPUT__5"))) == [
        ("error", "artifact.input-mismatch")
    ]
    # a name that is neither NAME__INDEX nor a forward argument is passed in config order: a warning
    assert _rules(_check(exported, "mlp_torchscript", ("INPUT__0", "input"))) == [
        ("warning", "artifact.input-mismatch")
    ]
    # forward(features, bias) with only one input configured
    bias = '  {\n    name: "bias"\n    data_type: TYPE_FP32\n    dims: [ 3 ]\n  }\n'
    one = _check(exported, "two_torchscript", (bias, ""), ("dims: [ 4 ]\n  },\n", "dims: [ 4 ]\n  }\n"))
    assert _rules(one) == [("error", "artifact.input-mismatch")] and "bias" in one[0].message


def test_batch_size_max_is_tried(exported: Path, tmp_path: Path) -> None:
    """A model that breaks above batch 1 is caught by the dry run at max_batch_size."""
    import torch

    class FirstRowOnly(torch.nn.Module):
        def forward(self, x: torch.Tensor) -> torch.Tensor:
            return x.view(1, 16)[:, :4]

    model_dir = tmp_path / "rows"
    (model_dir / "1").mkdir(parents=True)
    torch.jit.save(torch.jit.script(FirstRowOnly()), str(model_dir / "1" / "model.pt"))
    text = (exported / "mlp_torchscript" / "config.pbtxt").read_text().replace("mlp_torchscript", "rows")
    (model_dir / "config.pbtxt").write_text(text)
    findings = check_model_artifacts(parse_config(text), model_dir, {1: model_dir / "1"}, "rows/config.pbtxt")
    assert _rules(findings) == [("error", "artifact.dry-run-failed")] and "batch 8" in findings[0].message


def test_unloadable_file_other_platforms_and_missing_files(exported: Path, tmp_path: Path) -> None:
    bad = tmp_path / "bad"
    (bad / "1").mkdir(parents=True)
    (bad / "1" / "model.pt").write_bytes(b"not a torchscript archive")
    config = parse_config((exported / "mlp_torchscript" / "config.pbtxt").read_text())
    findings = check_model_artifacts(config, bad, {1: bad / "1"}, "bad/config.pbtxt")
    assert _rules(findings) == [("error", "artifact.unloadable")] and findings[0].file == "bad/1/model.pt"
    assert (
        check_model_artifacts(config, bad, {2: bad / "2"}, "bad/config.pbtxt") == []
    )  # no file: layout's job
    python = parse_config('name: "p"\nbackend: "python"\n')
    assert check_model_artifacts(python, bad, {1: bad / "1"}, "p/config.pbtxt") == []


def test_without_torch_the_check_says_it_was_skipped(exported: Path) -> None:
    code = f"""
import sys
sys.modules["torch"] = None  # as if torch were not installed
from pathlib import Path
from tritonkit.validate.artifacts import check_model_artifacts
from tritonkit.model.schema import parse_config
model = Path({str(exported / "mlp_torchscript")!r})
config = parse_config((model / "config.pbtxt").read_text())
findings = check_model_artifacts(config, model, {{1: model / "1"}}, "c")
print([(f.severity, f.rule, f.message, f.hint) for f in findings])
"""
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert "('info', 'artifact.skipped'" in out and "torch is not installed" in out
    assert "pip install tritonkit[torch]" in out


def test_validate_runs_the_artifact_checks(exported: Path) -> None:
    validate = pytest.importorskip("tritonkit.validate.engine")
    report = validate.validate_repository(exported)
    assert not [f for f in report.findings if f.severity == "error"], report.findings
    path = exported / "mlp_onnx" / "config.pbtxt"
    original = path.read_text()
    path.write_text(original.replace("dims: [ 4 ]", "dims: [ 8 ]"))
    try:
        report = validate.validate_repository(exported)
        assert [f.rule for f in report.findings if f.severity == "error"] == ["artifact.output-shape"]
        assert not [
            f
            for f in validate.validate_repository(exported, artifacts=False).findings
            if f.severity == "error"
        ]
    finally:
        path.write_text(original)
