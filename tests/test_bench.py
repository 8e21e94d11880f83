"""`tritonkit bench` and `bench --sweep` against the real Triton server (short runs)."""

from __future__ import annotations

import hashlib
import importlib.util
import json
import shutil
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from client_support import copy_example, server_binary, start_test_server
from conftest import require
from tritonkit.bench.loadgen import Measurement
from tritonkit.bench.perf_analyzer import find_perf_analyzer, parse_report
from tritonkit.bench.report import COLUMNS
from tritonkit.bench.run import (
    BenchOptions,
    BenchResult,
    BenchRow,
    Variant,
    apply_variant,
    format_table,
    plan_variants,
    run_bench,
    run_sweep,
    variant_config,
)
from tritonkit.cli import run
from tritonkit.client.client import Client
from tritonkit.errors import InterruptedByUser, UsageError
from tritonkit.model.schema import parse_config

# ------------------------------------------------------------------------------------ without a server

CONFIG = {
    "name": "m",
    "max_batch_size": 8,
    "instance_group": [{"name": "m_0", "kind": "KIND_CPU", "count": 2}],
}


def _m(qps: float, conc: int = 1) -> Measurement:
    return Measurement(1, conc, 100, 1.0, qps, 1.0, 2.0, 3.0)


def test_plan_variants_instances_times_batching() -> None:
    variants = plan_variants(CONFIG, [1, 2], [False, True])
    assert [v.label for v in variants] == [
        "1 instance, no batching",
        "1 instance, dynamic batching",
        "2 instances, no batching",
        "2 instances, dynamic batching",
    ]
    # a model that does not batch gets no dynamic-batching variants
    assert plan_variants({"max_batch_size": 0}, [1, 2], [False, True]) == [
        Variant(1, False),
        Variant(2, False),
    ]
    with pytest.raises(UsageError):
        plan_variants(CONFIG, [0], [False])


def test_variant_config_changes_only_instances_and_batching() -> None:
    on = variant_config(CONFIG, Variant(4, True), queue_delay_us=250)
    assert on["instance_group"] == [{"count": 4, "kind": "KIND_CPU"}]
    assert on["dynamic_batching"] == {"max_queue_delay_microseconds": 250}
    off = variant_config(on, Variant(1, False))
    assert "dynamic_batching" not in off and off["max_batch_size"] == 8
    assert CONFIG["instance_group"][0]["count"] == 2  # the input is not modified


def test_table_csv_json_mark_the_best() -> None:
    result = BenchResult("m", "h:1", "http", "builtin")
    slow, fast = Variant(1, False), Variant(2, True)
    result.rows = [BenchRow(slow, _m(100.0)), BenchRow(slow, _m(150.0, 4)), BenchRow(fast, _m(450.0, 4))]
    result.best = fast
    result.mode = "sweep"
    table = format_table(result)
    best_line = next(line for line in table.splitlines() if line.startswith("* "))
    assert "2 instances, dynamic batching" in best_line and "450.0" in best_line
    assert "3.00x the first variant" in table
    header, rule = table.splitlines()[:2]
    assert len(header.split()) >= 11 and "req/s" in header and "infer/s" in header
    assert len(rule.split()) == len(COLUMNS)  # every column has a header: none is nameless
    csv_lines = result.to_csv().splitlines()
    assert csv_lines[0].startswith("variant,instances,dynamic_batching,max_batch_size")
    assert "requests_per_s" in csv_lines[0] and "infer_per_s" in csv_lines[0]
    assert len(csv_lines) == 4
    assert json.loads(json.dumps(result.to_dict()))["best"]["label"] == "2 instances, dynamic batching"


def test_bench_options_are_checked() -> None:
    for bad in ({"concurrency": [0]}, {"batch_sizes": []}, {"duration_s": 0}, {"engine": "wrk"}):
        with pytest.raises(UsageError):
            BenchOptions(**bad)  # type: ignore[arg-type]


def test_parse_perf_analyzer_report() -> None:
    text = (
        "Concurrency,Inferences/Second,Client Send,p50 latency,p90 latency,p95 latency,p99 latency\n"
        "2,5920.7,31,330,418,453,549\n"
    )
    stdout = (
        "  Pass [1] throughput: 5800.0 infer/sec. Avg latency: 1402 usec\n"
        "  Pass [2] throughput: 6000.0 infer/sec. Avg latency: 1692 usec\n"
        "  Pass [3] throughput: 5900.0 infer/sec. Avg latency: 1847 usec\n"
        "  Client: \n    Request count: 11841\n    Throughput: 5920.7 infer/sec\n"
    )
    m = parse_report(text, batch_size=1, concurrency=2, stdout=stdout)
    assert (m.infer_per_s, m.p50_ms, m.p99_ms, m.engine) == (5920.7, 0.33, 0.549, "perf_analyzer")
    # every measured field filled: the request count, the seconds it took, the windows' spread
    assert m.requests == 11841 and m.seconds == pytest.approx(2.0, rel=0.01)
    assert m.spread_pct == pytest.approx(200 / 5900 * 100)


def test_apply_variant_to_a_plain_config(tmp_path: Path) -> None:
    repo = copy_example("python_pipeline", tmp_path) / "model_repository"
    written = apply_variant(repo, "add_sub", Variant(3, True), queue_delay_us=500)
    assert written == [repo / "add_sub" / "config.pbtxt"]
    config = parse_config(written[0].read_text())
    assert [g.count for g in config.instance_group] == [3]
    assert config.dynamic_batching.max_queue_delay_microseconds == 500
    assert config.parameters["execute_delay_ms"].string_value == "0"  # the rest is kept


def test_apply_variant_through_tritonkit_yaml(tmp_path: Path) -> None:
    import yaml

    repo = tmp_path / "model_repository"
    assert run(["init", str(repo)]) == 0
    argv = ["add", "echo", "--backend", "python", "--input", "x:fp32:4", "--output", "y:fp32:4"]
    assert run([*argv, "--max-batch-size", "8", "--repo", str(repo)]) == 0
    written = apply_variant(repo, "echo", Variant(2, True), queue_delay_us=100)
    assert written == [repo / "echo" / "config.pbtxt", tmp_path / "tritonkit.yaml"]
    config = parse_config(written[0].read_text())
    assert config.instance_group[0].count == 2 and config.HasField("dynamic_batching")
    spec = yaml.safe_load(written[1].read_text())["models"][0]
    assert (
        spec["instance_group"][0]["count"] == 2
        and spec["dynamic_batching"]["max_queue_delay_microseconds"] == 100
    )
    assert run(["render", "--check", "--repo", str(repo)]) == 0  # spec and config agree


def test_bench_cli_usage_errors(capsys: pytest.CaptureFixture[str]) -> None:
    assert run(["bench", "m", "--apply"]) == 2
    assert run(["bench", "m", "--tune"]) == 2  # no budget
    assert run(["bench", "m", "--tune", "--latency-budget", "fast"]) == 2
    assert run(["bench", "m", "--shape", "ids"]) == 2
    assert run(["bench", "m", "--concurrency", "a,b"]) == 2
    assert run(["bench", "m", "--sweep", "--batching", "maybe"]) == 2
    assert run(["bench", "m", "--url", "127.0.0.1:9", "--engine", "builtin"]) == 3
    assert "Traceback" not in capsys.readouterr().err


# ------------------------------------------------------------------------------------ with the server


def _digest(folder: Path) -> str:
    h = hashlib.sha256()
    for path in sorted(folder.rglob("*")):
        if path.is_file() and "__pycache__" not in path.parts:
            h.update(str(path.relative_to(folder)).encode() + path.read_bytes())
    return h.hexdigest()


def _add_sub_only(dest: Path) -> Path:
    """A copy of the pipeline example's repository with add_sub alone (a short server start)."""
    repo = copy_example("python_pipeline", dest) / "model_repository"
    for name in ("bls_pipeline", "add_sub_ensemble", "scale"):
        shutil.rmtree(repo / name)
    return repo


@pytest.fixture(scope="module")
def explicit_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[object, Path]]:
    require(server_binary() is not None, "the Triton server", "pip install nvidia-pytriton==0.7.0")
    repo = _add_sub_only(tmp_path_factory.mktemp("bench"))
    server = start_test_server(repo, explicit=True, load_models=["add_sub"])
    try:
        yield server, repo
    finally:
        server.stop()


def _loaded_config(url: str) -> dict[str, object]:
    with Client(url) as client:
        return dict(client.model_info("add_sub").config)


@pytest.mark.server
def test_bench_builtin_measures_each_point(explicit_server: tuple[object, Path], tmp_path: Path) -> None:
    server, _ = explicit_server
    seen: list[str] = []
    options = BenchOptions(
        concurrency=[1, 2], batch_sizes=[1, 4], duration_s=0.4, warmup_s=0.1, engine="builtin", max_runs=1
    )
    with Client(server.http_url) as client:  # type: ignore[attr-defined]
        result = run_bench(client, "add_sub", options, progress=lambda d, t, w: seen.append(w))
    assert [(r.measurement.batch_size, r.measurement.concurrency) for r in result.rows] == [
        (1, 1), (1, 2), (4, 1), (4, 2),
    ]  # fmt: skip
    for row in result.rows:
        m = row.measurement
        assert m.requests > 0 and m.infer_per_s > 0 and 0 < m.p50_ms <= m.p90_ms <= m.p99_ms
    assert any("concurrency 2" in w for w in seen)
    budget = BenchOptions([1], [1], 0.3, 0.1, max_requests=50, engine="builtin")
    with Client(server.grpc_url, "grpc") as client:  # type: ignore[attr-defined]
        grpc = run_bench(client, "add_sub", budget)
    assert 0 < grpc.rows[0].measurement.requests <= 50


@pytest.mark.server
def test_bench_cli_writes_csv_json_and_plot(
    explicit_server: tuple[object, Path], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    require(
        importlib.util.find_spec("matplotlib") is not None,
        "matplotlib",
        "pip install matplotlib (bench --plot)",
    )
    server, _ = explicit_server
    argv = [
        "bench",
        "add_sub",
        "--url",
        server.http_url,
        "-c",
        "1,2",
        "--duration",
        "0.3",
        "--engine",
        "builtin",
        "--max-runs",
        "1",
    ]  # type: ignore[attr-defined]
    csv_path, json_path, png = tmp_path / "r.csv", tmp_path / "r.json", tmp_path / "r.png"
    assert run([*argv, "--csv", str(csv_path), "--json", str(json_path), "--plot", str(png)]) == 0
    out = capsys.readouterr().out
    assert "as configured" in out and "infer/s" in out and "p99 ms" in out
    assert len(csv_path.read_text().splitlines()) == 3
    assert len(json.loads(json_path.read_text())["rows"]) == 2
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


@pytest.mark.server
def test_sweep_measures_variants_and_restores(
    explicit_server: tuple[object, Path], capsys: pytest.CaptureFixture[str]
) -> None:
    server, repo = explicit_server
    url = server.http_url  # type: ignore[attr-defined]
    before_disk, before_loaded = _digest(repo), _loaded_config(url)
    argv = [
        "bench",
        "add_sub",
        "--sweep",
        "--url",
        url,
        "-c",
        "2",
        "--duration",
        "0.5",
        "--engine",
        "builtin",
        "--max-runs",
        "1",
    ]
    assert run([*argv, "--instances", "1,2", "--batching", "off,on", "--quiet"]) == 0
    out = capsys.readouterr().out
    table = [
        line for line in out.splitlines() if "instance" in line and "batching" in line and "  1  " in line
    ]
    assert len(table) == 4, out
    for line in table:  # measured numbers in every row: requests/s and infer/s
        cells = line.split("batching")[1].split()
        assert float(cells[2].replace(",", "")) > 0 and float(cells[3].replace(",", "")) > 0
    assert sum(line.startswith("* ") for line in out.splitlines()) == 1
    assert "nothing was written" in out
    assert _digest(repo) == before_disk
    after = _loaded_config(url)
    assert after["instance_group"] == before_loaded["instance_group"] and "dynamic_batching" not in after


@pytest.mark.server
def test_sweep_restores_on_interrupt(explicit_server: tuple[object, Path]) -> None:
    server, _ = explicit_server
    url = server.http_url  # type: ignore[attr-defined]
    before = _loaded_config(url)

    def interrupt(done: int, total: int, what: str) -> None:
        if done == 1:
            raise KeyboardInterrupt

    options = BenchOptions([1], [1], 0.2, 0.05, engine="builtin", max_runs=1)
    with Client(url) as client, pytest.raises(InterruptedByUser) as caught:
        run_sweep(client, "add_sub", options, instances=[3], batching=[True], progress=interrupt)
    assert "the original config of 'add_sub' is loaded again" in caught.value.message
    assert isinstance(caught.value.__cause__, KeyboardInterrupt) and caught.value.exit_code == 130
    after = _loaded_config(url)
    assert after["instance_group"] == before["instance_group"] and "dynamic_batching" not in after


@pytest.mark.server
def test_sweep_apply_writes_the_winner(
    explicit_server: tuple[object, Path], capsys: pytest.CaptureFixture[str]
) -> None:
    server, repo = explicit_server
    url = server.http_url  # type: ignore[attr-defined]
    config_path = repo / "add_sub" / "config.pbtxt"
    original = config_path.read_text()
    try:
        argv = ["bench", "add_sub", "--sweep", "--apply", "--repo", str(repo), "--url", url, "-c", "1"]
        assert (
            run(
                [
                    *argv,
                    "--duration",
                    "0.3",
                    "--instances",
                    "1",
                    "--batching",
                    "on",
                    "--engine",
                    "builtin",
                    "--max-runs",
                    "1",
                ]
            )
            == 0
        )
        assert "applied the best variant to" in capsys.readouterr().out
        config = parse_config(config_path.read_text())
        assert config.instance_group[0].count == 1 and config.HasField("dynamic_batching")
        loaded = _loaded_config(url)  # the server now runs the applied config, from disk
        assert "dynamic_batching" in loaded
    finally:
        config_path.write_text(original)
        with Client(url) as client:
            client.load_model("add_sub")


@pytest.mark.server
def test_sweep_needs_explicit_mode(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    require(server_binary() is not None, "the Triton server", "pip install nvidia-pytriton==0.7.0")
    repo = _add_sub_only(tmp_path)
    server = start_test_server(repo)
    try:
        before = _digest(repo)
        argv = [
            "bench",
            "add_sub",
            "--sweep",
            "--url",
            server.http_url,
            "--duration",
            "0.2",
            "--engine",
            "builtin",
        ]
        assert run(argv) == 3
        err = capsys.readouterr().err
        assert "does not allow loading models" in err and "explicit" in err
        assert "polls its repository" not in err  # the server runs in mode none: it polls nothing
        assert _digest(repo) == before
    finally:
        server.stop()


@pytest.mark.server
@pytest.mark.parametrize("engine", ["builtin", "perf_analyzer"])
def test_a_server_that_dies_mid_bench(
    tmp_path: Path, engine: str, capsys: pytest.CaptureFixture[str]
) -> None:
    """A clear error and exit 3, not a hang or a traceback."""
    require(server_binary() is not None, "the Triton server", "pip install nvidia-pytriton==0.7.0")
    if engine == "perf_analyzer":
        require(find_perf_analyzer() is not None, "perf_analyzer", "run scripts/get-perf-analyzer.sh")
    server = start_test_server(_add_sub_only(tmp_path))
    try:
        killer = threading.Timer(1.0, server.stop)
        killer.start()
        started = time.monotonic()
        url = server.http_url
        # The built-in engine notices at once; perf_analyzer at the end of its measurement window.
        # Either way the window must outlast the server's graceful shutdown (a few seconds).
        duration = "20" if engine == "builtin" else "8"
        assert (
            run(["bench", "add_sub", "--url", url, "-c", "2", "--duration", duration, "--engine", engine])
            == 3
        )
        assert "stopped answering during the benchmark" in capsys.readouterr().err
        assert time.monotonic() - started < 60
        killer.join()
    finally:
        server.stop()


@pytest.mark.server
def test_bench_with_perf_analyzer_when_set_up(explicit_server: tuple[object, Path]) -> None:
    require(find_perf_analyzer() is not None, "perf_analyzer", "run scripts/get-perf-analyzer.sh")
    server, _ = explicit_server
    with Client(server.http_url) as client:  # type: ignore[attr-defined]
        result = run_bench(client, "add_sub", BenchOptions([2], [1], 0.5, engine="perf_analyzer", max_runs=1))
    m = result.rows[0].measurement
    assert result.engine == "perf_analyzer" and m.infer_per_s > 0 and m.p99_ms > 0
