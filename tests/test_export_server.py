"""Exported models served by the real Triton server (nvidia-pytriton wheel) give the eager outputs.

One server for the module: four models made by the tests (MLP, conv net, two inputs + dict output,
int64 token ids), each exported as TorchScript and as ONNX, loaded through tritonkit's Python-backend
runtimes (templates/runtimes/{pytorch,onnxruntime}/model.py) with their configs unmodified.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from conftest import require, require_server
from export_support import HAS_ORT, HAS_TORCH, TORCH_HOW, model_cases
from tritonkit.model.spec import DynamicBatchingSpec, InstanceGroupSpec, ModelSpec
from tritonkit.repository.golden import load_golden
from tritonkit.repository.project import load_project
from tritonkit.repository.scaffold import init_repository

pytestmark = [pytest.mark.torch, pytest.mark.server]
FORMATS = ("torchscript", "onnx")
NAMES = [f"{m}_{f}" for m in ("mlp", "conv", "twoin", "tokens") for f in FORMATS]


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Any, Path, dict[str, Any]]]:
    require(HAS_TORCH and HAS_ORT, "torch and onnxruntime", TORCH_HOW)
    require_server()
    from tritonkit.export import export_model
    from tritonkit.serve.local import start_local_server
    from tritonkit.serve.plan import ServeOptions

    root = tmp_path_factory.mktemp("served")
    repo = init_repository(root / "model_repository").repository
    models: dict[str, Any] = {}
    for name, (model, example, options) in model_cases().items():
        for fmt in FORMATS:
            extra: dict[str, Any] = {}
            if name == "mlp":  # the batching path of the runtimes: dynamic batcher, two instances
                extra = {
                    "dynamic_batching": DynamicBatchingSpec([], 2000),
                    "instance_groups": [InstanceGroupSpec(2)],
                }
            export_model(model, example, repo=repo, name=f"{name}_{fmt}", format=fmt, **options, **extra)
            models[f"{name}_{fmt}"] = model
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("XDG_CACHE_HOME", str(root / "cache"))  # the launcher's backend-dir cache
        server = start_local_server(repo, ServeOptions(startup_timeout=240, log_path=root / "server.log"))
    with server:
        yield server, repo, models


def _client(url: str, concurrency: int = 1) -> Any:
    import tritonclient.http as http

    return http.InferenceServerClient(url, concurrency=concurrency)


def _request(spec: ModelSpec, arrays: dict[str, np.ndarray]) -> list[Any]:
    import tritonclient.http as http

    inputs = []
    for t in spec.inputs:
        value = arrays[t.name]
        tensor = http.InferInput(t.name, list(value.shape), t.wire_type)
        tensor.set_data_from_numpy(value)
        inputs.append(tensor)
    return inputs


def _random_inputs(spec: ModelSpec, batch: int, variable: int = 5) -> dict[str, np.ndarray]:
    rng = np.random.default_rng(batch + variable)
    out = {}
    for t in spec.inputs:
        shape = [batch] + [variable if d == -1 else d for d in t.dims]
        if t.data_type == "TYPE_INT64":
            out[t.name] = rng.integers(0, 100, shape, dtype=np.int64)
        else:
            out[t.name] = rng.standard_normal(shape).astype(np.float32)
    return out


def _eager(model: Any, spec: ModelSpec, arrays: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    import torch

    with torch.no_grad():
        result = model(*[torch.from_numpy(arrays[t.name]) for t in spec.inputs])
    if isinstance(result, dict):
        return {k: v.numpy() for k, v in result.items()}
    if isinstance(result, torch.Tensor):
        result = (result,)
    return {t.name: v.numpy() for t, v in zip(spec.outputs, result, strict=True)}


@pytest.mark.parametrize("name", NAMES)
@pytest.mark.parametrize("batch", [1, 3])
def test_served_model_matches_eager(served: tuple[Any, Path, dict[str, Any]], name: str, batch: int) -> None:
    server, repo, models = served
    spec = load_project(repo).model(name)
    assert spec is not None
    batch = min(batch, spec.max_batch_size)
    variable = 11 if name.startswith("tokens") else 5  # a sequence length the export never saw
    arrays = _random_inputs(spec, batch, variable)
    result = _client(server.http_url).infer(name, _request(spec, arrays))
    expected = _eager(models[name], spec, arrays)
    for t in spec.outputs:
        got = result.as_numpy(t.name)
        assert got is not None, f"{name}: no output {t.name}"
        assert got.dtype == np.float32
        np.testing.assert_allclose(got, expected[t.name], rtol=1e-4, atol=1e-5, err_msg=f"{name}/{t.name}")


@pytest.mark.parametrize("name", NAMES)
def test_golden_sample_replays_on_the_server(served: tuple[Any, Path, dict[str, Any]], name: str) -> None:
    server, repo, _ = served
    spec = load_project(repo).model(name)
    assert spec is not None
    golden = load_golden(repo / name)
    result = _client(server.http_url).infer(name, _request(spec, golden.inputs))
    for output, want in golden.outputs.items():
        np.testing.assert_allclose(result.as_numpy(output), want, rtol=golden.rtol, atol=golden.atol)


@pytest.mark.parametrize("fmt", FORMATS)
def test_dynamic_batcher_requests_each_get_their_own_rows(
    served: tuple[Any, Path, dict[str, Any]], fmt: str
) -> None:
    server, repo, models = served
    name = f"mlp_{fmt}"
    spec = load_project(repo).model(name)
    assert spec is not None
    client = _client(server.http_url, concurrency=8)
    try:
        sent = [_random_inputs(spec, 1 + i % 2, i) for i in range(16)]
        pending = [client.async_infer(name, _request(spec, arrays)) for arrays in sent]
        for arrays, handle in zip(sent, pending, strict=True):
            got = handle.get_result().as_numpy("OUTPUT__0")
            np.testing.assert_allclose(
                got, _eager(models[name], spec, arrays)["OUTPUT__0"], rtol=1e-4, atol=1e-5
            )
    finally:
        client.close()
