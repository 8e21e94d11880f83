"""Artifact checks: exported model files against (deliberately broken) configs, in both formats."""

from __future__ import annotations

import contextlib
import subprocess
import sys
from pathlib import Path

import pytest

from conftest import require
from export_support import HAS_ORT, HAS_TORCH, TORCH_HOW
from tritonkit.repository.scaffold import init_repository
from tritonkit.repository.scan import scan_model_folder
from tritonkit.validate.context import RepositoryContext
from tritonkit.validate.engine import load_config, model_context, validate_repository
from tritonkit.validate.findings import Finding
from tritonkit.validate.rules import RULES, artifact, schema

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


EMITTED: set[str] = set()  # every artifact rule id these tests saw, for the registry test at the end


def check_model_artifacts(repo: Path, name: str) -> list[Finding]:
    """The artifact family's findings for model `name` of `repo`, files shown relative to `repo`."""
    with contextlib.chdir(repo):
        model = model_context(scan_model_folder(Path(name)))
        assert load_config(model) == []
        schema.complete_backend(model, None)  # as validate_repository does after each parse
        findings = artifact.check(model, RepositoryContext(Path("."), {name: model}))
    EMITTED.update(f.rule for f in findings)
    return findings


def _check(repo: Path, name: str, *replacements: tuple[str, str]) -> list[Finding]:
    """Rewrite the model's config with `replacements` (restored afterwards) and run the check."""
    path = repo / name / "config.pbtxt"
    original = path.read_text()
    text = original
    for old, new in replacements:
        assert old in text, f"{old!r} not in {name}'s config"
        text = text.replace(old, new)
    path.write_text(text)
    try:
        return check_model_artifacts(repo, name)
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
        ("warning", "artifact.input-order")
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
    findings = check_model_artifacts(tmp_path, "rows")
    assert _rules(findings) == [("error", "artifact.dry-run-failed")] and "batch 8" in findings[0].message


def test_a_huge_configured_shape_is_not_dry_run(exported: Path) -> None:
    """dims [25000000] at max_batch_size 16 took 3.5 GB and 19 s (issue 14): now no allocation at all."""
    import time

    start = time.perf_counter()
    findings = _check(exported, "mlp_torchscript", ("dims: [ 16 ]", "dims: [ 25000000 ]"))
    assert ("info", "artifact.dry-run-skipped") in _rules(findings)
    assert "batch 1" in next(f.message for f in findings if f.rule == "artifact.dry-run-skipped")
    assert time.perf_counter() - start < 5


def test_unloadable_file_other_platforms_and_missing_files(exported: Path, tmp_path: Path) -> None:
    bad = tmp_path / "bad"
    (bad / "1").mkdir(parents=True)
    (bad / "1" / "model.pt").write_bytes(b"not a torchscript archive")
    text = (exported / "mlp_torchscript" / "config.pbtxt").read_text().replace("mlp_torchscript", "bad")
    (bad / "config.pbtxt").write_text(text)
    findings = check_model_artifacts(tmp_path, "bad")
    assert _rules(findings) == [("error", "artifact.unloadable")] and findings[0].file == "bad/1/model.pt"
    (bad / "1").rename(bad / "2")
    (bad / "3").mkdir()
    assert check_model_artifacts(tmp_path, "bad")[0].file == "bad/2/model.pt"  # every version is looked at
    (bad / "2" / "model.pt").unlink()
    assert check_model_artifacts(tmp_path, "bad") == []  # no file: layout's job
    (tmp_path / "p" / "1").mkdir(parents=True)
    (tmp_path / "p" / "config.pbtxt").write_text('name: "p"\nbackend: "python"\n')
    (tmp_path / "p" / "1" / "model.pt").write_bytes(b"not a torchscript archive")
    assert check_model_artifacts(tmp_path, "p") == []  # not a platform the family reads


def test_without_torch_the_check_says_it_was_skipped(exported: Path) -> None:
    code = f"""
import sys
sys.modules["torch"] = None  # as if torch were not installed
from tritonkit.validate.engine import validate_repository
report = validate_repository({str(exported)!r})
print([(f.severity, f.rule, f.message, f.hint) for f in report.findings if f.model == "mlp_torchscript"])
"""
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert "('info', 'artifact.skipped'" in out and "torch is not installed" in out
    assert "pip install tritonkit[torch]" in out
    EMITTED.add("artifact.skipped")


def test_validate_runs_the_artifact_checks(exported: Path) -> None:
    report = validate_repository(exported)
    assert report.ok and not [f for f in report.findings if f.rule.startswith("artifact.")], report.findings
    path = exported / "mlp_onnx" / "config.pbtxt"
    original = path.read_text()
    path.write_text(original.replace("dims: [ 4 ]", "dims: [ 8 ]"))
    try:
        report = validate_repository(exported)
        assert [(f.model, f.rule) for f in report.errors] == [("mlp_onnx", "artifact.output-shape")]
        assert validate_repository(exported, artifacts=False).ok
    finally:
        path.write_text(original)


def test_a_crashing_artifact_check_is_a_warning_not_a_crash(
    exported: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def crash(*args: object) -> list[Finding]:
        raise RuntimeError("boom")

    monkeypatch.setattr(artifact.onnx, "check_onnx", crash)
    findings = check_model_artifacts(exported, "mlp_onnx")
    assert _rules(findings) == [("warning", "artifact.check-failed")] and "boom" in findings[0].message
    assert check_model_artifacts(exported, "mlp_torchscript") == []


def test_the_tests_above_saw_every_artifact_rule() -> None:
    """The registry's artifact family is exactly what the failing cases above emit (runs last here)."""
    declared = {rule for rule in RULES if rule.startswith("artifact.")}
    if not EMITTED:
        pytest.skip("run with the other tests of this module")
    assert declared == EMITTED
