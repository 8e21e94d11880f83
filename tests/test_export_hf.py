"""Export of Hugging Face checkpoint folders, keyword inputs and nested outputs, and its one-line failures.

Real torch, onnxruntime and transformers; a tiny BERT with random weights written by save_pretrained
(nothing downloaded). Every failure leaves the repository byte-for-byte unchanged.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from conftest import require
from export_support import HAS_HF, HAS_ORT, HF_HOW, snapshot
from tritonkit.cli import run
from tritonkit.errors import ExportError, UsageError
from tritonkit.repository.golden import load_golden
from tritonkit.repository.scaffold import init_repository

pytestmark = pytest.mark.torch


@pytest.fixture(autouse=True)
def _needs() -> None:
    require(HAS_HF and HAS_ORT, "torch, onnxruntime and transformers", HF_HOW)


@pytest.fixture(scope="module")
def checkpoint(tmp_path_factory: pytest.TempPathFactory) -> Path:
    require(HAS_HF and HAS_ORT, "torch, onnxruntime and transformers", HF_HOW)
    from export_support import hf_zoo

    folder = tmp_path_factory.mktemp("hf") / "bert"
    hf_zoo()["bert"].save_pretrained(folder)
    return folder


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    return init_repository(tmp_path / "proj" / "model_repository").repository


def _cli(args: list[str]) -> int:
    return run(args)


def _one_line_error(capsys: pytest.CaptureFixture[str]) -> str:
    err = capsys.readouterr().err.strip().splitlines()
    assert (
        len(err) <= 2 and err[0].startswith("error: ") and (len(err) == 1 or err[1].startswith("hint: "))
    ), err
    return "\n".join(err)


def test_checkpoint_with_seq_len_batch_size_and_golden_sample(
    checkpoint: Path, repo: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    args = ["export", str(checkpoint), "--name", "bert", "--seq-len", "12", "--batch-size", "3"]
    assert _cli([*args, "--repo", str(repo)]) == 0
    out = capsys.readouterr().out
    assert "loaded" in out and "BertForSequenceClassification" in out
    assert "length 40 of input_ids dim 1, attention_mask dim 1, token_type_ids dim 1" in out
    assert "tracer warning at transformers/" in out  # reported, not refused: the proof decides
    golden = load_golden(repo / "bert")
    assert golden.inputs["input_ids"].shape == (3, 12) and golden.inputs["input_ids"].max() < 100
    assert golden.inputs["token_type_ids"].max() == 0 and golden.outputs["logits"].shape == (3, 3)
    config = (repo / "bert" / "config.pbtxt").read_text()
    assert "max_batch_size: 8" in config and 'name: "logits"' in config


def test_checkpoint_failures_are_one_line_and_change_nothing(
    checkpoint: Path, repo: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    unknown = tmp_path / "unknown"
    shutil.copytree(checkpoint, unknown)
    config = json.loads((unknown / "config.json").read_text())
    config["architectures"] = ["NoSuchModelForAnything"]
    (unknown / "config.json").write_text(json.dumps(config))
    no_weights = tmp_path / "no_weights"
    no_weights.mkdir()
    shutil.copy(checkpoint / "config.json", no_weights / "config.json")
    before = snapshot(repo.parent)
    assert _cli(["export", str(unknown), "--name", "m", "--repo", str(repo)]) == 5
    assert "unknown architecture 'NoSuchModelForAnything'" in _one_line_error(capsys)
    assert _cli(["export", str(no_weights), "--name", "m", "--repo", str(repo)]) == 5
    assert "no weights" in _one_line_error(capsys)
    assert _cli(["export", str(checkpoint), "--name", "m", "-f", "aoti", "--repo", str(repo)]) == 2
    message = _one_line_error(capsys)
    assert "Triton 24.10 cannot load torch_aoti" in message and "--triton 26.03" in message
    args = [
        "export",
        str(checkpoint),
        "--name",
        "m",
        "-f",
        "aoti",
        "--triton",
        "26.03",
        "--max-batch-size",
        "4",
    ]
    assert _cli([*args, "--repo", str(repo)]) == 2
    assert "--max-batch-size 0" in _one_line_error(capsys)
    assert _cli(["export", str(checkpoint), "--name", "m", "-e", "int64:1,4", "--repo", str(repo)]) == 2
    _one_line_error(capsys)
    assert snapshot(repo.parent) == before


def test_a_trace_that_froze_the_length_fails_naming_the_input_and_size(
    repo: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    import torch

    class LengthBaked(torch.nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.embed = torch.nn.Embedding(100, 8)

        def forward(self, ids: torch.Tensor) -> torch.Tensor:
            return self.embed(ids).sum(1) / float(ids.shape[1])  # float() freezes the traced length

    from tritonkit.export import export_model

    before = snapshot(repo.parent)
    with pytest.raises(ExportError) as info:
        export_model(
            LengthBaked(),
            torch.randint(0, 100, (2, 7)),
            repo=repo,
            name="m",
            max_batch_size=4,
            dynamic_dims="all",
        )
    assert "on length 40 of INPUT__0 dim 1 (the example has 7)" in str(info.value)
    assert "tracer warning at " in (info.value.hint or "") and "(your code)" in (info.value.hint or "")
    assert snapshot(repo.parent) == before


class _Benign:
    """A data-dependent branch that always takes the same way: torch.export refuses it, a trace works."""

    @staticmethod
    def build() -> Any:
        import torch

        class Benign(torch.nn.Module):
            def forward(self, x: torch.Tensor) -> torch.Tensor:
                if x.abs().sum() >= 0:
                    return x * 2
                return x

        return Benign()


def test_dynamo_exporter_failure_falls_back_or_fails_in_one_line(repo: Path) -> None:
    import torch

    from tritonkit.export import export_model

    before = snapshot(repo.parent)
    with pytest.raises(ExportError, match="the dynamo ONNX exporter failed") as info:
        export_model(
            _Benign.build(), torch.randn(2, 3), repo=repo, name="m", format="onnx", onnx_exporter="dynamo"
        )
    assert "--onnx-exporter torchscript" in (info.value.hint or "") and "\x1b" not in str(info.value)
    assert snapshot(repo.parent) == before
    result = export_model(_Benign.build(), torch.randn(2, 3), repo=repo, name="m", format="onnx")
    assert any("used the TorchScript-based exporter" in n for n in result.notes), result.notes
    import onnxruntime as ort

    (got,) = ort.InferenceSession(str(result.artifact)).run(None, {"INPUT__0": np.ones((2, 3), np.float32)})
    assert got.tolist() == [[2.0] * 3] * 2


def test_kwargs_only_forward_nested_outputs_and_example_file(
    repo: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import torch

    (tmp_path / "nets.py").write_text(
        "import torch\n"
        "class Nested(torch.nn.Module):\n"
        "    def __init__(self):\n"
        "        super().__init__()\n"
        "        self.lin = torch.nn.Linear(4, 2)\n"
        "    def forward(self, *, features, scale):\n"
        "        y = self.lin(features) * scale\n"
        "        return {'pair': (y, y + 1), 'extra': {'sum': y.sum(dim=1, keepdim=True)}}\n"
    )
    torch.save({"scale": torch.ones(2, 1), "features": torch.randn(2, 4)}, tmp_path / "inputs.pt")
    monkeypatch.chdir(tmp_path)
    for fmt in ("torchscript", "onnx"):
        args = ["export", "nets.py:Nested", "--name", f"n_{fmt}", "-f", fmt, "--example-inputs", "inputs.pt"]
        assert _cli([*args, "--max-batch-size", "4", "--repo", str(repo)]) == 0
        config = (repo / f"n_{fmt}" / "config.pbtxt").read_text()
        # inputs in forward()'s order, outputs depth first with dotted key paths
        assert config.index('"features"') < config.index('"scale"')
        names = [line.split('"')[1] for line in config.splitlines() if line.strip().startswith("name:")][1:]
        assert names == ["features", "scale", "pair.0", "pair.1", "extra.sum"], names


def test_already_traced_target_says_the_proof_cannot_compare_with_eager(repo: Path) -> None:
    import torch

    from export_support import MLP
    from tritonkit.export import export_model

    traced = torch.jit.trace(MLP().eval(), torch.randn(2, 16))
    result = export_model(traced, torch.randn(2, 16), repo=repo, name="m", max_batch_size=4)
    assert any("already TorchScript" in n and "not with the eager" in n for n in result.notes)


def test_onnx_external_data_in_a_model_onnx_folder(repo: Path) -> None:
    import onnxruntime as ort
    import torch

    from export_support import MLP
    from tritonkit.export import export_model

    model = MLP().eval()
    result = export_model(
        model,
        torch.randn(2, 16),
        repo=repo,
        name="m",
        format="onnx",
        onnx_external_data=True,
        max_batch_size=4,
    )
    folder = repo / "m" / "1" / "model.onnx"
    assert folder.is_dir() and (folder / "model.onnx").is_file() and len(list(folder.iterdir())) >= 2
    x = np.random.default_rng(0).standard_normal((3, 16)).astype(np.float32)
    (got,) = ort.InferenceSession(str(folder / "model.onnx")).run(None, {"INPUT__0": x})
    np.testing.assert_allclose(got, model(torch.from_numpy(x)).detach().numpy(), rtol=1e-4, atol=1e-5)
    assert result.proof


def test_triton_releases_opsets_and_aoti_rule() -> None:
    from tritonkit.export.compat import check_aoti, onnx_opset
    from tritonkit.model.release import Release, parse_release

    assert parse_release("24.10") == parse_release("2.51.0") == parse_release("r24.10") == Release(24, 10)
    assert parse_release("nvcr.io/nvidia/tritonserver:26.03-py3") == parse_release("2.67") == Release(26, 3)
    assert parse_release("2.41") == Release(23, 12) and parse_release("2.56.0dev") == Release(25, 3)
    assert parse_release("2.60") == Release(25, 8) and parse_release("2.59.1") == Release(25, 7)
    with pytest.raises(UsageError, match=r"no NGC release ships server 2\.99\.0"):
        parse_release("2.99")
    with pytest.raises(UsageError, match="bad Triton release"):
        parse_release("24.13")
    assert [onnx_opset(parse_release(r)) for r in ("23.05", "23.12", "24.10", "26.03")] == [17, 19, 20, 20]
    check_aoti(Release(26, 3), 0)
    with pytest.raises(UsageError, match=r"26\.03"):
        check_aoti(Release(25, 12), 0)
