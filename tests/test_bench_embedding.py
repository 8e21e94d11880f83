"""`bench` and `bench --tune` on an embedding model (int64 ids, variable length) on the real server.

A tiny GRU classifier exported to TorchScript: random ids from perf_analyzer's own generator fall
outside its 50-word vocabulary ("index out of range in self"); tritonkit's data stays inside it, found
from the golden sample or by probing the server. The server runs it through tritonkit's
Python-backend runtime, which bench says, and `--apply` of such a result needs `--force`.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from client_support import have_torch, server_binary
from conftest import require
from tritonkit.bench.perf_analyzer import find_perf_analyzer
from tritonkit.bench.run import BenchOptions, Budget, TuneSpace, run_bench, run_tune
from tritonkit.cli import run
from tritonkit.client.client import Client

VOCAB = 50


@pytest.fixture(scope="module")
def gru_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Any, Path, str]]:
    require(have_torch(), "torch", "pip install torch==2.13.0")
    require(server_binary() is not None, "the Triton server", "pip install nvidia-pytriton==0.7.0")
    import torch

    from tritonkit.export import export_model
    from tritonkit.repository.scaffold import init_repository
    from tritonkit.serve.local import start_local_server
    from tritonkit.serve.plan import ServeOptions

    class GRUClassifier(torch.nn.Module):
        def __init__(self) -> None:
            super().__init__()
            torch.manual_seed(0)
            self.embed = torch.nn.Embedding(VOCAB, 8)
            self.gru = torch.nn.GRU(8, 8, batch_first=True)
            self.head = torch.nn.Linear(8, 3)

        def forward(self, ids: torch.Tensor) -> torch.Tensor:
            _, hidden = self.gru(self.embed(ids))
            return self.head(hidden[-1])

    root = tmp_path_factory.mktemp("gru")
    repo = init_repository(root / "model_repository").repository
    example = torch.randint(0, VOCAB, (2, 7))
    export_model(
        GRUClassifier().eval(),
        example,
        repo=repo,
        name="gru_ts",
        method="script",
        max_batch_size=4,
        dynamic_dims="all",
    )
    _python_embedding(repo / "embed_py")
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("XDG_CACHE_HOME", str(root / "cache"))  # the launcher's backend-dir cache, for the module
        options = ServeOptions(
            model_control_mode="explicit",
            load_models=["gru_ts", "embed_py"],
            startup_timeout=240,
            log_path=root / "server.log",
        )
        server = start_local_server(repo, options)
    with server, Client(server.http_url) as client:
        name = client.model_info("gru_ts").inputs[0].name
        yield server, repo, name


def test_bench_both_engines_send_valid_ids(gru_server: tuple[Any, Path, str]) -> None:
    server, repo, name = gru_server
    engines = ["builtin"] + (["perf_analyzer"] if find_perf_analyzer() is not None else [])
    require(len(engines) == 2, "perf_analyzer", "run scripts/get-perf-analyzer.sh")
    for engine in engines:
        # with the repository: ids within the golden sample's range; without: the probed vocabulary
        options = BenchOptions(
            [2],
            [1, 4],
            0.6,
            0.2,
            engine=engine,
            shapes={name: [12]},
            repository=repo if engine == "builtin" else None,
            max_runs=1,
        )
        with Client(server.http_url) as client:
            result = run_bench(client, "gru_ts", options)
        assert result.engine == engine
        assert [(r.measurement.batch_size, r.measurement.concurrency) for r in result.rows] == [
            (1, 2),
            (4, 2),
        ]
        for row in result.rows:
            m = row.measurement
            assert (
                m.requests > 0
                and m.seconds > 0
                and m.infer_per_s == pytest.approx(m.requests_per_s * m.batch_size)
            )
            assert m.queue_ms >= 0 and m.compute_infer_ms > 0  # the server's split of the point
        if engine == "builtin":
            assert "(golden sample)" in result.inputs
        else:
            assert f"{name} in [0, {VOCAB}) (probed)" in result.inputs
        assert result.runtime is not None and "Python-backend runtime" in result.runtime


def test_tune_on_the_embedding_model(gru_server: tuple[Any, Path, str]) -> None:
    """On the Python-backend embedding model: it loads in a second, where a torch model takes several."""
    server, repo, _ = gru_server
    before = _digest(repo)
    space = TuneSpace(
        instances=[1],
        max_batch_sizes=[4],
        queue_delays_us=[],
        try_preferred=False,
        max_concurrency=8,
        confirm=2,
    )
    options = BenchOptions(duration_s=0.6, warmup_s=0.1, shapes={"ids": [12]}, max_runs=1)
    with Client(server.http_url) as client:
        result = run_tune(client, "embed_py", Budget("p99", 500.0), options, space=space)
    assert result.mode == "tune" and result.best is not None
    assert f"ids in [0, {VOCAB}) (probed)" in result.inputs
    labels = {v.label for v in result.variants()}
    assert labels == {"1 instance, mbs 4, dynamic batching, delay 100 us", "1 instance, no batching"}
    assert set(result.verdicts) == labels and result.verdicts[result.best.label].startswith("best:")
    assert all(r.measurement.infer_per_s > 0 for r in result.rows)
    assert _digest(repo) == before  # nothing written without --apply
    with Client(server.http_url) as client:  # the original config is loaded again
        config = client.model_info("embed_py").config
        assert "dynamic_batching" not in config and config["max_batch_size"] == 4


def test_apply_of_a_python_runtime_result_needs_force(
    gru_server: tuple[Any, Path, str], capsys: pytest.CaptureFixture[str]
) -> None:
    server, repo, _ = gru_server
    before = _digest(repo)
    argv = [
        "bench",
        "gru_ts",
        "--tune",
        "--latency-budget",
        "p99=50ms",
        "--apply",
        "--url",
        server.http_url,
        "--repo",
        str(repo),
        "--engine",
        "builtin",
    ]
    assert run(argv) == 2  # refused before anything is measured or loaded
    err = capsys.readouterr().err
    assert "Python-backend runtime" in err and "--force" in err
    assert _digest(repo) == before


def _python_embedding(folder: Path) -> None:
    """A Python-backend model looking ids up in a table of VOCAB rows; an id outside it is an error."""
    (folder / "1").mkdir(parents=True)
    (folder / "config.pbtxt").write_text(
        'name: "embed_py"\nbackend: "python"\nmax_batch_size: 4\n'
        'input [ { name: "ids", data_type: TYPE_INT64, dims: [ -1 ] } ]\n'
        'output [ { name: "vector", data_type: TYPE_FP32, dims: [ 8 ] } ]\n'
        "instance_group [ { count: 1, kind: KIND_CPU } ]\n"
    )
    (folder / "1" / "model.py").write_text(
        "import numpy as np\nimport triton_python_backend_utils as pb_utils\n\n\n"
        "class TritonPythonModel:\n"
        "    def initialize(self, args):\n"
        f"        self.table = np.random.default_rng(0).standard_normal(({VOCAB}, 8)).astype(np.float32)\n\n"
        "    def execute(self, requests):\n"
        "        out = []\n"
        "        for request in requests:\n"
        '            ids = pb_utils.get_input_tensor_by_name(request, "ids").as_numpy()\n'
        "            if ids.min() < 0 or ids.max() >= len(self.table):\n"
        '                error = pb_utils.TritonError("index out of range")\n'
        "                out.append(pb_utils.InferenceResponse(error=error))\n"
        "                continue\n"
        '            vector = pb_utils.Tensor("vector", self.table[ids].mean(axis=1))\n'
        "            out.append(pb_utils.InferenceResponse(output_tensors=[vector]))\n"
        "        return out\n"
    )


def _digest(folder: Path) -> str:
    h = hashlib.sha256()
    for path in sorted(folder.rglob("*")):
        if path.is_file() and "__pycache__" not in path.parts:
            h.update(str(path.relative_to(folder)).encode() + path.read_bytes())
    return h.hexdigest()
