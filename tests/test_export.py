"""`tritonkit export` and `export_model`: inferred configs, proof, golden sample, safe writes, failures.

Real torch, real onnxruntime, small models made by the tests (tests/export_support.py). Every failure
test checks that the repository is byte-for-byte unchanged afterwards.
"""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest

from conftest import require
from export_support import HAS_ORT, HAS_TORCH, TORCH_HOW, snapshot
from tritonkit.cli import run
from tritonkit.errors import ExportError, RepositoryError, RepositoryWriteError, UsageError
from tritonkit.model.schema import parse_config
from tritonkit.repository.golden import load_golden
from tritonkit.repository.project import load_project
from tritonkit.repository.scaffold import init_repository

pytestmark = pytest.mark.torch


@pytest.fixture(autouse=True)
def _torch() -> None:
    require(HAS_TORCH and HAS_ORT, "torch and onnxruntime", TORCH_HOW)


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    return init_repository(tmp_path / "proj" / "model_repository").repository


def _export(*args, **kwargs):  # type: ignore[no-untyped-def]
    from tritonkit.export import export_model

    return export_model(*args, **kwargs)


def test_mlp_torchscript_config_golden_and_spec_file(repo: Path) -> None:
    import torch

    from export_support import MLP

    model = MLP()
    x = torch.randn(2, 16)
    result = _export(model, x, repo=repo, name="mlp", max_batch_size=8)
    assert result.artifact == repo / "mlp" / "1" / "model.pt" and result.artifact.is_file()
    config = parse_config(result.config_path.read_text())
    assert config.platform == "pytorch_libtorch" and config.max_batch_size == 8
    assert [(t.name, list(t.dims)) for t in config.input] == [("INPUT__0", [16])]
    assert [(t.name, list(t.dims)) for t in config.output] == [("OUTPUT__0", [4])]
    assert [c.label for c in result.proof] == [
        "the example input (batch 2)",
        "batch size 3",
        "fresh random values",
        "other fresh random values",
    ]
    assert result.max_abs_diff < 1e-5
    # The proof's time holds its eager reference runs (batch 3, two fresh draws) beside the reload and checks.
    assert set(result.seconds) == {"plan", "build", "proof", "reference"}
    assert result.seconds["proof"] > result.seconds["reference"] > 0 and result.seconds["build"] > 0
    golden = load_golden(repo / "mlp")
    assert golden.inputs["INPUT__0"].shape == (2, 16)  # with the batch dim, as sent on the wire
    np.testing.assert_allclose(golden.outputs["OUTPUT__0"], model(x).detach().numpy(), rtol=1e-6)
    recorded = load_project(repo).model("mlp")
    assert recorded is not None and recorded.backend == "pytorch" and recorded.outputs[0].dims == [4]
    loaded = torch.jit.load(str(result.artifact))
    torch.testing.assert_close(loaded(x), model(x))
    assert not [p for p in repo.rglob(".*")]  # no staging leftovers


def test_conv_net_onnx(repo: Path) -> None:
    import onnxruntime as ort
    import torch

    from export_support import ConvNet

    model = ConvNet()
    images = torch.randn(2, 3, 32, 32)
    result = _export(model, images, repo=repo, name="conv", format="onnx", max_batch_size=4)
    assert result.artifact.name == "model.onnx"
    config = parse_config(result.config_path.read_text())
    assert config.platform == "onnxruntime_onnx"
    assert list(config.input[0].dims) == [3, 32, 32] and list(config.output[0].dims) == [10]
    session = ort.InferenceSession(str(result.artifact))
    batch = torch.randn(4, 3, 32, 32)  # a batch size the example did not have
    (got,) = session.run(["OUTPUT__0"], {"INPUT__0": batch.numpy()})
    np.testing.assert_allclose(got, model(batch).detach().numpy(), rtol=1e-4, atol=1e-5)


@pytest.mark.parametrize("fmt", ["torchscript", "onnx"])
def test_two_inputs_dict_output_named_after_args_and_keys(repo: Path, fmt: str) -> None:
    import torch

    from export_support import TwoInDictOut

    example = {"features": torch.randn(3, 4), "bias": torch.randn(3, 3)}
    result = _export(TwoInDictOut(), example, repo=repo, name="two", format=fmt, max_batch_size=4)
    spec = result.spec
    assert [(t.name, t.data_type, t.dims) for t in spec.inputs] == [
        ("features", "TYPE_FP32", [4]),
        ("bias", "TYPE_FP32", [3]),
    ]
    assert [(t.name, t.dims) for t in spec.outputs] == [("score", [3]), ("doubled", [4])]


@pytest.mark.parametrize("fmt", ["torchscript", "onnx"])
def test_token_ids_int64_with_dynamic_length(repo: Path, fmt: str) -> None:
    import torch

    from export_support import TokenEmbedding

    ids = torch.randint(0, 100, (2, 7))
    result = _export(
        TokenEmbedding(), ids, repo=repo, name="tok", format=fmt, max_batch_size=4, dynamic_dims="all"
    )
    assert [(t.data_type, t.dims) for t in result.spec.inputs] == [("TYPE_INT64", [-1])]
    assert result.spec.outputs[0].dims == [8]
    assert "length 40 of INPUT__0 dim 1 (the example has 7)" in [c.label for c in result.proof]


def test_second_example_marks_changing_dims_variable_without_batching(repo: Path) -> None:
    import torch

    from export_support import TokenEmbedding

    result = _export(
        TokenEmbedding(), torch.randint(0, 100, (1, 7)), repo=repo, name="tok",
        second_example=torch.randint(0, 100, (1, 11)),
    )  # fmt: skip
    assert result.spec.max_batch_size == 0
    assert result.spec.inputs[0].dims == [1, -1] and result.spec.outputs[0].dims == [1, 8]


def test_second_example_may_have_another_batch_size(repo: Path) -> None:
    import torch

    from export_support import TokenEmbedding

    result = _export(
        TokenEmbedding(), torch.randint(0, 100, (2, 7)), repo=repo, name="tok", max_batch_size=4,
        second_example=torch.randint(0, 100, (3, 9)), format="onnx",
    )  # fmt: skip
    assert result.spec.inputs[0].dims == [-1] and result.spec.outputs[0].dims == [8]
    with pytest.raises(UsageError, match="batch size 5 of the second example is above"):
        _export(TokenEmbedding(), torch.randint(0, 100, (2, 7)), repo=repo, name="t2", max_batch_size=4,
                second_example=torch.randint(0, 100, (5, 9)))  # fmt: skip


def test_dynamic_dims_by_name_and_name_overrides(repo: Path) -> None:
    import torch

    from export_support import TokenEmbedding

    result = _export(
        TokenEmbedding(), torch.randint(0, 100, (2, 5)), repo=repo, name="tok", max_batch_size=2,
        dynamic_dims={"ids": [0]}, input_names=["ids"], output_names=["embedding"],
    )  # fmt: skip
    assert [(t.name, t.dims) for t in result.spec.inputs] == [("ids", [-1])]
    assert result.spec.outputs[0].name == "embedding"
    with pytest.raises(UsageError, match="gives 2 name"):
        _export(TokenEmbedding(), torch.randint(0, 100, (2, 5)), repo=repo, name="t2", input_names=["a", "b"])


def test_versions_next_version_and_force(repo: Path) -> None:
    import torch

    from export_support import MLP

    x = torch.randn(1, 16)
    _export(MLP(), x, repo=repo, name="mlp", max_batch_size=4)
    before = snapshot(repo.parent)
    with pytest.raises(RepositoryError, match="already exists") as info:
        _export(MLP(), x, repo=repo, name="mlp", max_batch_size=4)
    assert "--next (version 2)" in (info.value.hint or "")
    assert snapshot(repo.parent) == before
    assert (
        _export(MLP(), x, repo=repo, name="mlp", max_batch_size=4, next=True).version_dir
        == repo / "mlp" / "2"
    )
    assert _export(MLP(), x, repo=repo, name="mlp", max_batch_size=4, version=5).spec.version == 5
    old = (repo / "mlp" / "1" / "model.pt").read_bytes()
    result = _export(MLP(), x * 2, repo=repo, name="mlp", max_batch_size=4, version=1, force=True)
    assert result.replaced_version and (repo / "mlp" / "1" / "model.pt").is_file()
    assert sorted(p.name for p in (repo / "mlp").iterdir()) == [
        "1",
        "2",
        "5",
        "config.pbtxt",
        "tritonkit_golden.npz",
    ]
    assert old  # the replaced file existed; the version folder was swapped in one rename
    with pytest.raises(UsageError, match="not both"):
        _export(MLP(), x, repo=repo, name="mlp", version=3, next=True)


def test_data_dependent_control_flow_refused_when_traced_and_scripted_works(repo: Path) -> None:
    import torch

    from export_support import MLP, DataDependent

    result = _export(DataDependent(), torch.ones(3), repo=repo, name="flow", method="script")
    _export(MLP(), torch.randn(1, 16), repo=repo, name="mlp")
    before = snapshot(repo.parent)  # existing models stay untouched
    for fmt in ("torchscript", "onnx"):
        with pytest.raises(ExportError) as info:
            _export(DataDependent(), torch.ones(3), repo=repo, name="flow2", format=fmt)
        assert "--method script" in (info.value.hint or "")
    with pytest.raises(ExportError, match=r"disagrees with the eager model on other fresh random") as info:
        _export(DataDependent(), torch.ones(3), repo=repo, name="flow", next=True)
    assert "tracer warning at " in (info.value.hint or "") and "export_support.py:" in (info.value.hint or "")
    assert snapshot(repo.parent) == before
    loaded = torch.jit.load(str(result.artifact))
    assert loaded(torch.ones(3)).tolist() == [2.0, 2.0, 2.0]
    assert loaded(-torch.ones(3)).tolist() == [-2.0, -2.0, -2.0]
    onnx = _export(
        DataDependent(), torch.ones(3), repo=repo, name="flow_onnx", method="script", format="onnx"
    )
    import onnxruntime as ort

    (got,) = ort.InferenceSession(str(onnx.artifact)).run(None, {"INPUT__0": -np.ones(3, dtype=np.float32)})
    assert got.tolist() == [-2.0, -2.0, -2.0]


def test_complex_output_is_refused(repo: Path) -> None:
    import torch

    from export_support import ComplexOut

    before = snapshot(repo.parent)
    with pytest.raises(ExportError, match=r"complex64.*no data type") as info:
        _export(ComplexOut(), torch.randn(8), repo=repo, name="fft")
    assert "view_as_real" in (info.value.hint or "")
    with pytest.raises(ExportError, match="no data type"):
        _export(torch.nn.Identity(), torch.randn(4, dtype=torch.complex64), repo=repo, name="cplx")
    assert snapshot(repo.parent) == before


def test_model_raising_on_example_and_wrong_batch_layout(repo: Path) -> None:
    import torch

    from export_support import MLP, Raises

    before = snapshot(repo.parent)
    with pytest.raises(ExportError, match=r"raised on the example input.*refuses every input"):
        _export(Raises(), torch.randn(2), repo=repo, name="bad")
    with pytest.raises(ExportError, match="shapes cannot be multiplied"):
        _export(MLP(), torch.randn(2, 15), repo=repo, name="bad")

    class Total(torch.nn.Module):
        def forward(self, x: torch.Tensor) -> torch.Tensor:
            return x.sum()

    with pytest.raises(ExportError, match="first dim is not the batch size"):
        _export(Total(), torch.randn(2, 3), repo=repo, name="bad", max_batch_size=4)
    with pytest.raises(UsageError, match="above --max-batch-size"):
        _export(MLP(), torch.randn(8, 16), repo=repo, name="bad", max_batch_size=4)
    assert snapshot(repo.parent) == before


def _mount_tmpfs(path: Path, size: str) -> bool:
    path.mkdir(parents=True, exist_ok=True)
    done = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", f"size={size}", "tmpfs", str(path)], capture_output=True
    )
    return done.returncode == 0


def test_full_disk_leaves_repository_unchanged(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """A real small filesystem (tmpfs of 256 KiB) that a 1 MB model cannot fit in."""
    import torch

    from export_support import MLP, HeavyMLP, Wide

    mount = tmp_path / "small"
    require(_mount_tmpfs(mount, "256k"), "mounting a tmpfs", "run the tests as root (CI does)")
    try:
        repo = init_repository(mount / "model_repository").repository
        _export(MLP(), torch.randn(1, 16), repo=repo, name="mlp")
        before = snapshot(mount)
        cases = [
            (Wide(), torch.randn(1, 512), {"name": "wide"}),
            (Wide(), torch.randn(1, 512), {"name": "wide", "format": "onnx"}),
            (HeavyMLP(), torch.randn(1, 16), {"name": "mlp", "next": True}),  # a new version of a model
        ]
        for model, example, kwargs in cases:
            with pytest.raises(RepositoryWriteError, match="no space left") as info:
                _export(model, example, repo=repo, **kwargs)
            assert "unchanged" in (info.value.hint or "")
            assert snapshot(mount) == before
        torch.save(Wide(), tmp_path / "wide.pt")
        code = run(
            ["export", str(tmp_path / "wide.pt"), "--name", "wide", "-e", "fp32:1,512", "--repo", str(repo)]
        )
        assert code == 6 and "no space left" in capsys.readouterr().err
        assert snapshot(mount) == before
    finally:
        subprocess.run(["umount", "-l", str(mount)], check=False)


# ------------------------------------------------------------------------------------------------ CLI

MODELS_PY = textwrap.dedent(
    """
    import torch

    class MLP(torch.nn.Module):
        def __init__(self):
            super().__init__()
            torch.manual_seed(0)
            self.lin = torch.nn.Linear(16, 4)

        def forward(self, x):
            return self.lin(x)

    def make_model():
        return MLP()

    instance = MLP()
    not_a_model = 42
    """
)


@pytest.fixture
def cli_repo(tmp_path: Path) -> Path:
    """A project in the working folder (tests run in an isolated cwd) with models.py beside it."""
    Path("models.py").write_text(MODELS_PY)
    assert run(["init"]) == 0
    return Path("model_repository")


@pytest.mark.parametrize("attr", ["MLP", "make_model", "instance"])
def test_cli_exports_class_factory_or_instance(
    cli_repo: Path, attr: str, capsys: pytest.CaptureFixture[str]
) -> None:
    code = run(["export", f"models.py:{attr}", "--name", "m", "-e", "fp32:2,16", "--max-batch-size", "8",
                "--dynamic-batching", "--preferred-batch-size", "4", "--instances", "2"])  # fmt: skip
    out = capsys.readouterr().out
    assert code == 0, out
    assert "proof: batch size 3: max abs diff" in out and "golden sample" in out
    config = parse_config((cli_repo / "m" / "config.pbtxt").read_text())
    assert list(config.dynamic_batching.preferred_batch_size) == [4]
    assert config.instance_group[0].count == 2 and list(config.output[0].dims) == [4]


def test_cli_package_module_target_and_onnx(cli_repo: Path, capsys: pytest.CaptureFixture[str]) -> None:
    Path("pkg").mkdir()
    Path("pkg/__init__.py").write_text("")
    Path("pkg/nets.py").write_text(MODELS_PY)
    code = run(["export", "pkg.nets:MLP", "--name", "m", "-e", "fp32:1,16", "--format", "onnx"])
    assert code == 0, capsys.readouterr().err
    assert (cli_repo / "m" / "1" / "model.onnx").is_file()


def test_cli_saved_module_and_example_inputs_file(cli_repo: Path, capsys: pytest.CaptureFixture[str]) -> None:
    import torch

    from export_support import TwoInDictOut

    torch.save(TwoInDictOut(), "two.pt")
    torch.save({"features": torch.randn(2, 4), "bias": torch.randn(2, 3)}, "inputs.pt")
    code = run(
        ["export", "two.pt", "--name", "two", "--example-inputs", "inputs.pt", "--max-batch-size", "2"]
    )
    assert code == 0, capsys.readouterr().err
    config = parse_config((cli_repo / "two" / "config.pbtxt").read_text())
    assert [t.name for t in config.input] == ["features", "bias"]
    assert [t.name for t in config.output] == ["score", "doubled"]


def test_cli_int_and_bool_example_inputs(cli_repo: Path, capsys: pytest.CaptureFixture[str]) -> None:
    Path("masked.py").write_text(textwrap.dedent(
        """
        import torch

        class Masked(torch.nn.Module):
            def __init__(self):
                super().__init__()
                self.embed = torch.nn.Embedding(1000, 4)

            def forward(self, ids, mask):
                return self.embed(ids) * mask.unsqueeze(-1).float()
        """
    ))  # fmt: skip
    code = run(["export", "masked.py:Masked", "--name", "masked", "-e", "int64:2,6:0..1000", "-e", "bool:2,6",
                "--max-batch-size", "4", "--dynamic-dims", "INPUT__0:0", "--dynamic-dims", "INPUT__1:0",
                "--arg-names"])  # fmt: skip
    assert code == 0, capsys.readouterr().err
    config = parse_config((cli_repo / "masked" / "config.pbtxt").read_text())
    from tritonkit.model.schema import pb2

    assert [(t.name, pb2().DataType.Name(t.data_type), list(t.dims)) for t in config.input] == [
        ("ids", "TYPE_INT64", [-1]),
        ("mask", "TYPE_BOOL", [-1]),
    ]
    assert list(config.output[0].dims) == [-1, 4]


@pytest.mark.parametrize(
    ("argv", "code", "message"),
    [
        (
            ["export", "broken.py:M", "-n", "m", "-e", "fp32:1"],
            5,
            "cannot import broken.py: ZeroDivisionError",
        ),
        (["export", "syntax.py:M", "-n", "m", "-e", "fp32:1"], 5, "cannot import syntax.py: SyntaxError"),
        (["export", "nosuchpkg.mod:M", "-n", "m", "-e", "fp32:1"], 5, "no module named 'nosuchpkg'"),
        (["export", "missing.py:M", "-n", "m", "-e", "fp32:1"], 2, "no such file"),
        (["export", "models.py:Nope", "-n", "m", "-e", "fp32:1"], 2, "has no attribute 'Nope'"),
        (["export", "models.py:not_a_model", "-n", "m", "-e", "fp32:1"], 2, "not a torch.nn.Module"),
        (["export", "models.py:MLP", "-n", "m"], 2, "needs example inputs"),
        (["export", "models.py:MLP", "-n", "m", "-e", "fp32:1,15"], 5, "raised on the example input"),
        (["export", "models.py:MLP", "-n", "m", "-e", "cplx:1,16"], 2, "unknown data type"),
        (["export", "models.py:MLP", "-n", "m", "-e", "fp32:1,16", "--format", "tf"], 2, "unknown format"),
        (["export", "models.py:MLP", "-n", "../x", "-e", "fp32:1,16"], 2, "invalid model name"),
        (
            ["export", "models.py:MLP", "-n", "m", "-e", "fp32:1,16", "--dynamic-dims", "x"],
            2,
            "bad --dynamic-dims",
        ),
    ],
)
def test_cli_failures_exit_codes_and_no_changes(
    cli_repo: Path, argv: list[str], code: int, message: str, capsys: pytest.CaptureFixture[str]
) -> None:
    Path("broken.py").write_text("import torch\nx = 1 / 0\n")
    Path("syntax.py").write_text("def f(:\n")
    before = snapshot(cli_repo.parent / "model_repository") | {
        "yaml": (cli_repo.parent / "tritonkit.yaml").read_text()
    }
    assert run(argv) == code
    err = capsys.readouterr().err
    assert message in err and "Traceback" not in err
    after = snapshot(cli_repo.parent / "model_repository") | {
        "yaml": (cli_repo.parent / "tritonkit.yaml").read_text()
    }
    assert after == before


def test_export_help_does_not_import_torch() -> None:
    code = (
        "import sys; from tritonkit.cli import run\n"
        "try:\n    run(['export', '--help'])\nexcept SystemExit:\n    pass\n"
        "print('TORCH' if 'torch' in sys.modules else 'NO-TORCH')"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert "--example-input" in done.stdout and done.stdout.strip().endswith("NO-TORCH")


def test_notebook_use_keeps_the_module_training_mode(repo: Path) -> None:
    import torch

    model = torch.nn.Sequential(torch.nn.Linear(4, 4), torch.nn.Dropout(0.5))
    model.train()
    result = _export(model, torch.randn(2, 4), repo=repo, name="drop", max_batch_size=2)
    assert model.training and all(m.training for m in model.modules())
    assert result.max_abs_diff < 1e-6  # exported in eval mode: dropout off, so the proof holds
    import tritonkit

    assert tritonkit.export_model is type(tritonkit).__getattribute__(tritonkit, "export_model")
    assert tritonkit.ExportResult is type(result)


def test_cli_second_example_versions_and_force(cli_repo: Path, capsys: pytest.CaptureFixture[str]) -> None:
    Path("seq.py").write_text(textwrap.dedent(
        """
        import torch

        class Pool(torch.nn.Module):
            def forward(self, x):
                return x.cumsum(dim=1)
        """
    ))  # fmt: skip
    base = ["export", "seq.py:Pool", "--name", "seq", "-e", "fp32:1,5", "--second-example-input", "fp32:1,9"]
    assert run(base) == 0
    out = capsys.readouterr().out
    assert "input  INPUT__0: FP32 [1, -1]" in out and "output OUTPUT__0: FP32 [1, -1]" in out
    assert run(base) == 2 and "already exists" in capsys.readouterr().err
    assert run([*base, "--next"]) == 0 and (cli_repo / "seq" / "2" / "model.pt").is_file()
    before = snapshot(cli_repo)
    assert run([*base, "--version", "7", "--format", "onnx"]) == 2  # versions 1, 2 are TorchScript
    assert "would leave those unloadable" in capsys.readouterr().err
    assert run(["export", "seq.py:Pool", "--name", "seq", "-e", "fp32:1,5", "--next"]) == 2  # dims differ
    assert "differ from the config" in capsys.readouterr().err
    assert snapshot(cli_repo) == before
    assert run([*base, "--version", "7"]) == 0
    assert run([*base, "--version", "1", "--force"]) == 0
    assert sorted(p.name for p in (cli_repo / "seq").iterdir() if p.is_dir()) == ["1", "2", "7"]
    assert run(["export", "seq.py:Pool", "--name", "seq_onnx", "-e", "fp32:1,5", "-f", "onnx"]) == 0
