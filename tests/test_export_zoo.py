"""The export model zoo, served by the real Triton server through tritonkit's runtimes.

Tiny models with random weights (nothing downloaded): BERT (sequence classification), DistilBERT, GPT-2
(logits, no cache), ViT (image classification) as `save_pretrained` folders exported with the CLI; a GRU
classifier on int64 ids of variable length, a conv net with BatchNorm, a keyword-only forward with a dict
output and an FP16 model as modules. Each in TorchScript and ONNX; BERT and the BatchNorm net also as
AOTInductor pt2 (served locally from configs/tritonkit-local.pbtxt). ONE repository and ONE server start
for all of them; `validate` and `tritonkit test` run once over the whole repository.

Tolerances against eager: fp32 rtol 1e-4 / atol 1e-5 (the export proof's defaults), fp16 rtol 1e-2 /
atol 1e-3 (fp16 carries about three significant digits).
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from conftest import require, require_server
from export_support import HAS_HF, HAS_ORT, HF_HOW, hf_zoo, module_zoo
from tritonkit.cli import run
from tritonkit.model.dtypes import BY_CONFIG
from tritonkit.model.spec import ModelSpec
from tritonkit.repository.project import load_project
from tritonkit.repository.scaffold import init_repository

pytestmark = [pytest.mark.torch, pytest.mark.server, pytest.mark.zoo]
FORMATS = ("torchscript", "onnx")
HF_NAMES = ("bert", "distilbert", "gpt2", "vit")
MODULE_NAMES = ("gru", "bnconv", "kwargs", "fp16")
NAMES = [f"{m}_{f}" for m in (*HF_NAMES, *MODULE_NAMES) for f in FORMATS] + ["bert_aoti", "bnconv_aoti"]
TOLERANCE = {"TYPE_FP16": (1e-2, 1e-3)}
FP32 = (1e-4, 1e-5)


def _cli(args: list[str]) -> int:
    return run(args)


@pytest.fixture(scope="module")
def zoo(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Any, Path, dict[str, Any]]]:
    require(HAS_HF and HAS_ORT, "torch, onnxruntime and transformers", HF_HOW)
    require_server()
    from tritonkit.export import export_model
    from tritonkit.serve.local import start_local_server
    from tritonkit.serve.plan import ServeOptions

    root = tmp_path_factory.mktemp("zoo")
    repo = init_repository(root / "model_repository").repository
    eager: dict[str, Any] = {}
    for name, model in hf_zoo().items():
        folder = root / f"checkpoint_{name}"
        model.save_pretrained(folder)
        model.eval()
        for fmt in FORMATS:  # the CLI path a user takes: a save_pretrained folder as TARGET
            assert (
                _cli(["export", str(folder), "--name", f"{name}_{fmt}", "-f", fmt, "--repo", str(repo)]) == 0
            )
            eager[f"{name}_{fmt}"] = model
        if name == "bert":
            args = ["export", str(folder), "--name", "bert_aoti", "-f", "aoti", "--triton", "26.03"]
            assert _cli([*args, "--repo", str(repo)]) == 0
            eager["bert_aoti"] = model
    for name, (module, example, options) in module_zoo().items():
        for fmt in FORMATS:
            export_model(module, example, repo=repo, name=f"{name}_{fmt}", format=fmt, **options)
            eager[f"{name}_{fmt}"] = module
        if name == "bnconv":
            export_model(
                module,
                example,
                repo=repo,
                name="bnconv_aoti",
                format="aoti",
                triton="26.03",
                dynamic_dims={0: [0]},
            )
            eager["bnconv_aoti"] = module
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("XDG_CACHE_HOME", str(root / "cache"))  # the launcher's backend-dir cache
        server = start_local_server(repo, ServeOptions(startup_timeout=300, log_path=root / "server.log"))
    with server:
        yield server, repo, eager


def test_zoo_validates_for_26_03_and_the_pt2_models_not_for_24_10(
    zoo: tuple[Any, Path, dict[str, Any]], capsys: pytest.CaptureFixture[str]
) -> None:
    _, repo, _ = zoo
    assert _cli(["validate", str(repo), "--triton", "26.03"]) == 0, capsys.readouterr().out
    capsys.readouterr()
    assert _cli(["validate", str(repo), "--triton", "24.10"]) == 1
    errors = [line for line in capsys.readouterr().out.splitlines() if ": error [" in line]
    assert errors and all("_aoti/config.pbtxt" in line and "torch_aoti" in line for line in errors), errors


def test_validate_runs_each_pt2_and_catches_a_config_that_lies(
    zoo: tuple[Any, Path, dict[str, Any]], tmp_path: Path
) -> None:
    """The artifact check loads each model.pt2 and dry-runs it: the zoo's pass (above); an output dim the
    package does not give is an error the server would not notice."""
    import shutil

    from google.protobuf import text_format

    from tritonkit.model.schema import parse_config
    from tritonkit.validate.engine import validate_repository

    _, repo, _ = zoo
    bad = tmp_path / "repo"
    shutil.copytree(repo / "bnconv_aoti", bad / "bnconv_aoti")
    path = bad / "bnconv_aoti" / "config.pbtxt"
    config = parse_config(path.read_text())
    config.output[0].dims[-1] += 1
    path.write_text(text_format.MessageToString(config))
    report = validate_repository(bad, target="26.03")
    assert [f.rule for f in report.errors] == ["artifact.output-shape"], report.findings


def test_tritonkit_test_replays_every_golden_sample(
    zoo: tuple[Any, Path, dict[str, Any]], capsys: pytest.CaptureFixture[str]
) -> None:
    server, repo, _ = zoo
    assert _cli(["test", *NAMES, "--repo", str(repo), "--url", server.http_url]) == 0, capsys.readouterr()


def test_infer_random_sends_valid_token_ids(
    zoo: tuple[Any, Path, dict[str, Any]], monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    server, repo, _ = zoo
    monkeypatch.chdir(repo.parent)  # the project: infer --random reads the golden sample's id ranges
    for name in ("bert_torchscript", "bert_onnx", "gpt2_onnx"):
        assert _cli(["infer", name, "--random", "-b", "2", "--url", server.http_url]) == 0, name
    assert "logits" in capsys.readouterr().out


def _inputs(spec: ModelSpec, batch: int, length: int, seed: int) -> dict[str, np.ndarray]:
    rng = np.random.default_rng(seed)
    out: dict[str, np.ndarray] = {}
    for t in spec.inputs:
        dims = list(t.dims)
        if spec.max_batch_size > 0:
            dims = [batch, *dims]
        elif dims and dims[0] == -1:  # torch_aoti: max_batch_size 0, the batch dim in the config dims
            dims[0] = batch
        shape = [length if d == -1 else d for d in dims]
        if t.name == "attention_mask":
            out[t.name] = np.ones(shape, dtype=np.int64)
        elif t.name == "token_type_ids":
            out[t.name] = np.zeros(shape, dtype=np.int64)
        elif t.data_type == "TYPE_INT64":
            out[t.name] = rng.integers(0, 100, shape, dtype=np.int64)
        else:
            out[t.name] = rng.standard_normal(shape).astype(BY_CONFIG[t.data_type].numpy)
    return out


def _eager(model: Any, spec: ModelSpec, arrays: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    import torch

    tensors = {t.name: torch.from_numpy(arrays[t.name]) for t in spec.inputs}
    with torch.no_grad():
        if all(not t.name.startswith("INPUT__") for t in spec.inputs):
            result = model(**tensors)  # forward's argument names (HF models, the kwargs-only module)
        else:
            result = model(*tensors.values())
    if isinstance(result, torch.Tensor):
        return {spec.outputs[0].name: result.numpy()}
    return {t.name: result[t.name].numpy() for t in spec.outputs}


@pytest.mark.parametrize("name", NAMES)
def test_served_zoo_model_matches_eager_at_two_batches_and_lengths(
    zoo: tuple[Any, Path, dict[str, Any]], name: str
) -> None:
    from tritonkit.client.client import Client

    server, repo, eager = zoo
    spec = load_project(repo).model(name)
    assert spec is not None
    variable = any(-1 in t.dims[(0 if spec.max_batch_size else 1) :] for t in spec.inputs)
    with Client(server.http_url, "http") as client:
        for batch in (1, 3):
            for length in (5, 11) if variable else (0,):
                arrays = _inputs(spec, batch, length, seed=batch * 100 + length)
                got = client.infer(name, arrays)
                want = _eager(eager[name], spec, arrays)
                for t in spec.outputs:
                    rtol, atol = TOLERANCE.get(t.data_type, FP32)
                    assert got[t.name].dtype == want[t.name].dtype, (name, t.name)
                    np.testing.assert_allclose(
                        got[t.name].astype(np.float64),
                        want[t.name].astype(np.float64),
                        rtol=rtol,
                        atol=atol,
                        err_msg=f"{name}/{t.name} batch {batch} length {length}",
                    )
