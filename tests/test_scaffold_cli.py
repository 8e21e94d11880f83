"""init / add / render through the CLI: exit codes, refusals, and nothing half-written."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import yaml

from tritonkit.cli import run
from tritonkit.errors import UsageError
from tritonkit.model.spec import EnsembleStepSpec, ModelSpec, TensorSpec
from tritonkit.repository.project import load_project

REPO = Path("model_repository")
PY = ["--backend", "python", "--input", "x:fp32:4", "--output", "y:fp32:4"]
IO = ([TensorSpec("x", "fp32", [4])], [TensorSpec("y", "fp32", [4])])


def snapshot(root: Path) -> dict[str, bytes]:
    return {str(p.relative_to(root)): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}


def test_init_creates_repository_and_spec(capsys: pytest.CaptureFixture[str]) -> None:
    assert run(["init"]) == 0
    assert REPO.is_dir() and Path("tritonkit.yaml").is_file()
    assert yaml.safe_load(Path("tritonkit.yaml").read_text()) == {
        "repository": "model_repository",
        "models": [],
    }
    assert "created repository model_repository" in capsys.readouterr().out


def test_init_refuses_to_clobber(capsys: pytest.CaptureFixture[str]) -> None:
    assert run(["init"]) == 0
    assert run(["init"]) == 2  # the spec file exists
    assert "already exists" in capsys.readouterr().err
    Path("other").mkdir()
    (Path("other") / "keep.txt").write_text("mine")
    assert run(["init", "other"]) == 2
    err = capsys.readouterr().err
    assert "error: other is not empty" in err and "hint: use --force" in err
    assert run(["init", "other", "--force"]) == 0
    assert (Path("other") / "keep.txt").read_text() == "mine"
    Path("afile").write_text("x")
    assert run(["init", "afile"]) == 2


def test_add_writes_model_and_records_it(capsys: pytest.CaptureFixture[str]) -> None:
    assert run(["init"]) == 0
    assert (
        run(["add", "m", *PY, "--max-batch-size", "4", "--preferred-batch-size", "2", "--instances", "2"])
        == 0
    )
    assert (REPO / "m" / "config.pbtxt").is_file() and (REPO / "m" / "1" / "model.py").is_file()
    [spec] = load_project(REPO).models
    assert spec.name == "m" and spec.max_batch_size == 4 and spec.instance_groups[0].count == 2
    assert spec.dynamic_batching is not None and spec.dynamic_batching.preferred_batch_sizes == [2]
    assert run(["add", "pt", "--backend", "pytorch", "--input", "INPUT__0:float32:3,8,8",
                "--output", "OUTPUT__0:TYPE_FP32:10", "--version", "3"]) == 0  # fmt: skip
    assert (REPO / "pt" / "3").is_dir()
    assert "next: put model.pt in" in capsys.readouterr().out


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        (ModelSpec(name="noio", backend="pytorch"), "needs at least one input and one output"),
        (ModelSpec(name="noout", backend="python", inputs=[TensorSpec("x", "fp32", [4])]), "one output"),
        (ModelSpec(name="b", backend="onnx", inputs=IO[0], outputs=IO[1], bls_target="x"), "--bls-target"),
        (
            ModelSpec(name="s", backend="onnx", inputs=IO[0], outputs=IO[1], steps=[EnsembleStepSpec("x")]),
            "are for --backend ensemble",
        ),
    ],
)
def test_the_api_refuses_what_add_refuses(spec: ModelSpec, message: str, tmp_path: Path) -> None:
    import tritonkit

    repo = tmp_path / "repo"
    tritonkit.init_repository(repo)
    before = snapshot(tmp_path)
    with pytest.raises(UsageError, match=re.escape(message)):
        tritonkit.add_model(repo, spec)
    with pytest.raises(UsageError, match=re.escape(message)):
        tritonkit.plan_model(spec)
    assert snapshot(tmp_path) == before


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["../x", *PY], "invalid model name '../x'"),
        (["a/b", *PY], "invalid model name"),
        (["m", "--backend", "python", "--input", "x:complex:4", "--output", "y:fp32:4"], "unknown data type"),
        (["m", "--backend", "python", "--input", "x:fp32:0", "--output", "y:fp32:4"], "bad dim 0"),
        (["m", "--backend", "python", "--input", "x:fp32", "--output", "y:fp32:4"], "bad tensor"),
        (["m", "--backend", "python"], "needs at least one input and one output"),
        (["m", *PY, "--max-batch-size", "2", "--preferred-batch-size", "4"], "preferred batch sizes [4]"),
        (["m", *PY, "--max-batch-size", "-1"], "--max-batch-size must be >= 0"),
        (["m", *PY, "--gpus", "0"], "--gpus needs --kind gpu"),
        (["m", *PY, "--kind", "gpu", "--gpus", "x"], "bad --gpus"),
        (["m", *PY, "--kind", "tpu"], "unknown instance kind"),
        (["m", *PY, "--step", "other"], "(--step) are for --backend ensemble"),
        (
            ["m", "--backend", "onnx", "--bls-target", "x", "--input", "x:fp32:4", "--output", "y:fp32:4"],
            "--bls-target",
        ),
        (["m", *PY, "--bls-target", "m"], "cannot call itself"),
        (["e", "--backend", "ensemble", "--step", "ghost"], "ensemble step 'ghost'"),
        (
            ["m", "--backend", "bad name!", "--input", "x:fp32:4", "--output", "y:fp32:4"],
            "invalid backend name",
        ),
        (["m", *PY, "--input", "x:fp32:4"], "duplicate input name 'x'"),
    ],
)
def test_add_refusals_exit_2_and_change_nothing(
    args: list[str], message: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert run(["init"]) == 0
    before = snapshot(Path.cwd())
    assert run(["add", *args]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: ") and message in err and "Traceback" not in err
    assert snapshot(Path.cwd()) == before
    assert not (tmp_path / "x").exists()


def test_add_without_repository_and_existing_model(capsys: pytest.CaptureFixture[str]) -> None:
    assert run(["add", "m", *PY]) == 2
    assert "run `tritonkit init` first" in capsys.readouterr().err
    assert run(["init"]) == 0
    assert run(["add", "m", *PY]) == 0
    (REPO / "m" / "1" / "model.py").write_text("# my edits\n")
    assert run(["add", "m", *PY]) == 2
    assert "already exists" in capsys.readouterr().err
    assert (REPO / "m" / "1" / "model.py").read_text() == "# my edits\n"
    assert run(["add", "m", *PY, "--force"]) == 0
    assert "TritonPythonModel" in (REPO / "m" / "1" / "model.py").read_text()


def test_render_and_check(capsys: pytest.CaptureFixture[str]) -> None:
    assert run(["init"]) == 0
    assert run(["add", "m", *PY]) == 0
    capsys.readouterr()
    assert run(["render", "--check"]) == 0
    assert "1 config(s) up to date" in capsys.readouterr().out
    config = REPO / "m" / "config.pbtxt"
    original = config.read_text()
    config.write_text(original.replace("dims: [ 4 ]", "dims: [ 5 ]", 1))
    drifted = config.read_text()
    assert run(["render", "--check"]) == 1
    captured = capsys.readouterr()
    assert "-    dims: [ 5 ]" in captured.out and "+    dims: [ 4 ]" in captured.out
    assert "differ from tritonkit.yaml" in captured.err
    assert config.read_text() == drifted  # --check changes nothing
    assert run(["render"]) == 2  # a hand edit is not erased silently
    err = capsys.readouterr().err
    assert "edited by hand" in err and "+    dims: [ 4 ]" in err and "render --force" in err
    assert config.read_text() == drifted
    assert run(["render", "--force"]) == 0
    assert config.read_text() == original
    assert run(["render"]) == 0 and run(["render", "--check"]) == 0  # idempotent


def test_render_with_spec_edits_and_errors(capsys: pytest.CaptureFixture[str]) -> None:
    assert run(["render"]) == 2  # no tritonkit.yaml
    assert "run `tritonkit init` first" in capsys.readouterr().err
    assert run(["init"]) == 0
    assert run(["add", "m", *PY]) == 0
    spec = yaml.safe_load(Path("tritonkit.yaml").read_text())
    spec["models"][0]["max_batch_size"] = 8
    Path("tritonkit.yaml").write_text(yaml.safe_dump(spec))
    assert run(["render"]) == 0
    assert "max_batch_size: 8" in (REPO / "m" / "config.pbtxt").read_text()
    Path("tritonkit.yaml").write_text("models: [ {name: 'x/y', backend: python} ]\n")
    assert run(["render"]) == 2
    assert "invalid model name 'x/y'" in capsys.readouterr().err
    Path("tritonkit.yaml").write_text("models: [\n")
    assert run(["render", "--repo", "model_repository"]) == 2
    assert "cannot read the spec file" in capsys.readouterr().err
