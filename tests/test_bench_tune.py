"""`bench --tune`'s search, budgets, input data, charts and the HTML report (in a real headless Chromium).

The search is checked on a model of a server (throughput and latency as functions of concurrency),
where the right answer is known; the real server runs in `test_bench_embedding.py`.
"""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import numpy as np
import pytest

from conftest import require
from tritonkit.bench.data import InputPlan, parse_shape
from tritonkit.bench.loadgen import Measurement
from tritonkit.bench.result import BenchResult, BenchRow, Budget, Variant
from tritonkit.bench.sweep import plan_variants, variant_config
from tritonkit.bench.tune import search_concurrency
from tritonkit.client.info import ModelInfo, TensorInfo
from tritonkit.client.inputs import random_inputs, value_ranges
from tritonkit.errors import UsageError


def _m(conc: int, qps: float, p99: float, batch: int = 1, **extra: float) -> Measurement:
    return Measurement(batch, conc, int(qps), 1.0, qps, p99 / 2, p99 * 0.8, p99, "perf_analyzer", **extra)


def _server(c: int, capacity: float = 5000.0, base_ms: float = 1.0) -> Measurement:
    """A server's throughput saturating at `capacity` (Little's law), latency growing with the queue."""
    qps = capacity * c / (c + 8)
    return _m(c, qps, base_ms + c / qps * 1000 * 1.5)


# ------------------------------------------------------------------------------------ the search


def test_search_concurrency_finds_the_best_within_the_budget_in_few_points() -> None:
    calls: list[int] = []

    def evaluate(c: int) -> Measurement:
        calls.append(c)
        return _server(c)

    budget = Budget("p99", 20.0)
    best = search_concurrency(evaluate, budget, start=1, gain_pct=5.0, max_concurrency=1024)
    assert best is not None and budget.met(best)
    true_best = max(c for c in range(1, 1025) if _server(c).p99_ms <= 20.0)  # what a grid of 1024 finds
    assert best.concurrency >= true_best * 3 / 4  # the binary search stops within 1/4 of it
    assert best.infer_per_s >= _server(true_best).infer_per_s * 0.95
    assert len(calls) == len(set(calls)) <= 12  # geometric growth + binary search, each point once


def test_search_concurrency_stops_when_gains_stop_and_goes_down_when_over() -> None:
    def flat(c: int) -> Measurement:  # saturated from concurrency 4 on, latency well within the budget
        return _m(c, 1000.0 * min(c, 4), 2.0)

    seen: list[int] = []

    def recording(c: int) -> Measurement:
        seen.append(c)
        return flat(c)

    best = search_concurrency(recording, Budget("p99", 50.0), start=1, gain_pct=5.0)
    assert best is not None and best.concurrency == 4 and seen == [1, 2, 4, 8]

    def slow(c: int) -> Measurement:  # over the budget above concurrency 3
        return _m(c, 100.0 * c, 10.0 * c)

    best = search_concurrency(slow, Budget("p99", 30.0), start=16)
    assert best is not None and best.concurrency == 3
    assert search_concurrency(slow, Budget("p99", 5.0), start=4) is None  # even concurrency 1 is over


def test_budget_parsing() -> None:
    assert Budget.parse("p99=20ms") == Budget("p99", 20.0)
    assert Budget.parse("P90 = 500us") == Budget("p90", 0.5)
    assert Budget.parse("p50=0.05s") == Budget("p50", 50.0)
    assert Budget.parse("p99=7") == Budget("p99", 7.0)
    for bad in ("20ms", "p99<20", "p99=0", "p95=3ms"):
        with pytest.raises(UsageError):
            Budget.parse(bad)
    assert Budget("p99", 10).met(_m(1, 1, 9.9)) and not Budget("p99", 10).met(_m(1, 1, float("nan")))


def test_variants_with_batch_size_delay_and_preferred_sizes() -> None:
    config = {"max_batch_size": 8, "instance_group": [{"count": 2, "kind": "KIND_CPU"}]}
    out = variant_config(config, Variant(3, True, 16, 500, (16,)))
    assert out["max_batch_size"] == 16 and out["instance_group"] == [{"count": 3, "kind": "KIND_CPU"}]
    assert out["dynamic_batching"] == {"max_queue_delay_microseconds": 500, "preferred_batch_size": [16]}
    # preferred sizes above max_batch_size are refused by the server: never sent
    assert variant_config(config, Variant(1, True, 4, None, (8,)))["dynamic_batching"][
        "preferred_batch_size"
    ] == [4]
    grid = plan_variants(config, [1, 2], [False, True], [4, 8])
    assert [v.label for v in grid] == [
        "1 instance, no batching",
        "1 instance, mbs 4, dynamic batching",
        "1 instance, mbs 8, dynamic batching",
        "2 instances, no batching",
        "2 instances, mbs 4, dynamic batching",
        "2 instances, mbs 8, dynamic batching",
    ]


# ------------------------------------------------------------------------------------ input data


IDS = ModelInfo(
    "gru",
    "1",
    8,
    (
        TensorInfo("input_ids", "INT64", (-1,)),
        TensorInfo("attention_mask", "INT64", (-1,)),
        TensorInfo("scale", "FP32", (1,)),
    ),
    (TensorInfo("logits", "FP32", (3,)),),
)


def test_random_inputs_keep_ids_in_range_masks_binary_and_shapes() -> None:
    values = random_inputs(
        IDS, batch_size=4, shapes={"input_ids": [12], "attention_mask": [12]}, ranges={"input_ids": (5, 50)}
    )
    assert values["input_ids"].shape == (4, 12) and values["input_ids"].dtype == np.int64
    assert values["input_ids"].min() >= 5 and values["input_ids"].max() < 50
    assert set(np.unique(values["attention_mask"])) <= {0, 1}
    assert values["scale"].shape == (4, 1)
    with pytest.raises(UsageError):
        random_inputs(IDS, shapes={"input_ids": [3, 4]})  # two dims for a one-dim input
    assert value_ranges({"input_ids": np.array([[3, 97], [10, 11]]), "x": np.ones(2)}) == {
        "input_ids": (3, 98)
    }
    assert parse_shape("input_ids:32") == ("input_ids", [32])
    assert parse_shape("a:b:3,224,224") == ("a:b", [3, 224, 224])
    for bad in ("ids", "ids:", "ids:0", ":3", "ids:x"):
        with pytest.raises(UsageError):
            parse_shape(bad)


def test_perf_analyzer_input_data_file(tmp_path: Path) -> None:
    import json

    plan = InputPlan({"input_ids": [6], "attention_mask": [6]}, None, {"input_ids": (0, 20)})
    data = json.loads(plan.write_perf_analyzer_json(IDS, tmp_path / "d.json").read_text())
    entry = data["data"][0]
    assert entry["input_ids"]["shape"] == [6] and all(0 <= v < 20 for v in entry["input_ids"]["content"])
    assert set(entry["attention_mask"]["content"]) <= {0, 1} and entry["scale"]["shape"] == [1]
    given = InputPlan(
        sample={
            "input_ids": np.arange(5),
            "attention_mask": np.ones(5, np.int64),
            "scale": np.ones(1, np.float32),
        }
    )
    assert given.batch(IDS, 3)["input_ids"].shape == (3, 5) and given.sample_shapes()["input_ids"] == [5]


# ------------------------------------------------------------------------------------ charts, report


def _tuned() -> BenchResult:
    result = BenchResult(
        "add_sub",
        "127.0.0.1:8000",
        "http",
        "perf_analyzer",
        mode="tune",
        date="2026-12-01 10:00 UTC",
        budget=Budget("p99", 50.0),
    )
    slow, fast = Variant(1, False), Variant(4, True, 8, 100)
    breakdown = {"queue_ms": 0.5, "compute_input_ms": 0.1, "compute_infer_ms": 2.0, "compute_output_ms": 0.1}
    result.rows = [
        BenchRow(slow, _m(1, 400.0, 3.0, **breakdown)),
        BenchRow(slow, _m(2, 480.0, 6.0, **breakdown)),
        BenchRow(fast, _m(4, 1500.0, 4.0, **breakdown)),
        BenchRow(fast, _m(32, 6000.0, 30.0, **breakdown)),
        BenchRow(fast, _m(64, 6500.0, 70.0, **breakdown)),  # over the budget: not the best
    ]
    result.best = fast
    result.verdicts = {fast.label: "best", slow.label: "93% less throughput"}
    return result


def test_throughput_latency_chart_data() -> None:
    require(_have_matplotlib(), "matplotlib", "pip install 'tritonkit[bench]'")
    from matplotlib.ticker import MaxNLocator

    from tritonkit.bench.report import build_figure

    fig = build_figure(_tuned())
    main, second, split = fig.axes[:3]
    lines = {line.get_label(): line for line in main.get_lines()}
    curve = lines["4 instances, mbs 8, dynamic batching, delay 100 us"]
    assert list(curve.get_xdata()) == [4.0, 30.0, 70.0] and list(curve.get_ydata()) == [
        1500.0,
        6000.0,
        6500.0,
    ]
    best = lines["best"]  # the best point within the budget, not the fastest one over it
    assert list(best.get_xdata()) == [30.0] and list(best.get_ydata()) == [6000.0]
    budget = next(line for label, line in lines.items() if label.startswith("budget"))
    assert list(budget.get_xdata()) == [50.0, 50.0]
    assert main.get_xlabel() == "p99 latency (ms)" and main.get_ylabel() == "inferences/s"
    for ax in (main, second, split):
        assert ax.get_ylim()[0] == 0
    assert main.get_xlim()[0] == 0 and second.get_xlim()[0] == 0
    locator = second.xaxis.get_major_locator()
    assert isinstance(locator, MaxNLocator) and all(float(t).is_integer() for t in second.get_xticks())
    title = fig._suptitle.get_text()  # type: ignore[union-attr]
    assert all(part in title for part in ("add_sub", "perf_analyzer", "127.0.0.1:8000", "2026-12-01"))
    heights = [p.get_height() for p in split.patches]  # queue / compute split of the best variant's points
    assert heights[:3] == [0.5, 0.5, 0.5] and heights[-1] == pytest.approx(0.1)


def test_one_concurrency_gives_bars_with_the_best_marked() -> None:
    require(_have_matplotlib(), "matplotlib", "pip install 'tritonkit[bench]'")
    from tritonkit.bench.report import build_figure

    result = BenchResult("m", "h:1", "http", "builtin", mode="sweep", date="d", budget=Budget("p99", 5.0))
    result.rows = [
        BenchRow(Variant(1, False), _m(4, 100.0, 2.0)),
        BenchRow(Variant(2, True), _m(4, 300.0, 4.0)),
    ]
    result.best = Variant(2, True)
    fig = build_figure(result)
    main, second = fig.axes[:2]
    bars = main.patches
    assert [b.get_height() for b in bars] == [100.0, 300.0]
    assert [t.get_text() for t in main.get_xticklabels()] == [
        "1 instance, no batching",
        "2 instances, dynamic batching",
    ]
    gold = [b for b in bars if b.get_facecolor()[:3] != bars[0].get_facecolor()[:3]]
    assert len(gold) == 1 and gold[0].get_height() == 300.0  # the best is marked
    assert [line.get_ydata()[0] for line in second.get_lines()] == [5.0]  # the budget
    assert main.get_ylim()[0] == 0 and second.get_ylim()[0] == 0


def _have_matplotlib() -> bool:
    import importlib.util

    return importlib.util.find_spec("matplotlib") is not None


def _chromium() -> str | None:
    for name in ("chromium", "chromium-browser", "google-chrome"):
        found = shutil.which(name)
        if found:
            return found
    return None


def test_html_report_renders_in_headless_chromium(tmp_path: Path) -> None:
    require(_have_matplotlib(), "matplotlib", "pip install 'tritonkit[bench]'")
    browser = _chromium()
    require(browser is not None, "Chromium", "apt-get install chromium")
    from tritonkit.bench.report import render_html

    page = render_html(_tuned())
    # a probe appended to a copy: what the browser decoded, written into the DOM it dumps
    probe = (
        "<script>document.body.dataset.images = Array.from(document.images).map("
        "i => i.complete + ':' + i.naturalWidth + 'x' + i.naturalHeight).join(',');"
        "document.body.dataset.rows = document.querySelectorAll('#results tbody tr').length;"
        "document.body.dataset.best = document.querySelectorAll('#results tr.best').length;</script>"
    )
    path = tmp_path / "report.html"
    path.write_text(page.replace("</body>", probe + "</body>"), encoding="utf-8")
    argv = [
        str(browser),
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-background-networking",
        "--disable-component-update",
        "--no-first-run",
        f"--user-data-dir={tmp_path / 'profile'}",
        "--virtual-time-budget=5000",
    ]
    dom = subprocess.run(
        [*argv, "--dump-dom", path.as_uri()], capture_output=True, text=True, timeout=120
    ).stdout
    assert 'data-rows="5"' in dom and 'data-best="1"' in dom
    images = dom.split('data-images="')[1].split('"')[0].split(",")
    assert len(images) == 1 and images[0].startswith("true:")
    width, height = (int(v) for v in images[0].split(":")[1].split("x"))
    assert width > 800 and height > 300  # the chart decoded to a real picture
    for text in ("Why each config won or lost", "93% less throughput", "p99 &lt;= 50 ms", "req/s", "infer/s"):
        assert text in dom
    shot = tmp_path / "shot.png"
    subprocess.run(
        [*argv, f"--screenshot={shot}", "--window-size=1200,900", path.as_uri()],
        capture_output=True,
        timeout=120,
    )
    assert shot.is_file() and shot.stat().st_size > 10_000


def test_input_data_from_the_golden_sample_or_a_file(tmp_path: Path) -> None:
    from tritonkit.bench.data import plan_inputs
    from tritonkit.repository.golden import GoldenSample, save_golden

    folder = tmp_path / "gru"
    folder.mkdir()
    ids = np.array([[3, 9, 27, 41], [1, 2, 3, 4]], dtype=np.int64)
    inputs = {"input_ids": ids, "attention_mask": np.ones_like(ids), "scale": np.ones((2, 1), np.float32)}
    save_golden(folder, GoldenSample(inputs, {"logits": np.zeros((2, 3), np.float32)}))
    # given values need no server: the client is not used
    plan = plan_inputs(None, "gru", IDS, input_data="golden", repository=tmp_path)  # type: ignore[arg-type]
    assert plan.source == "golden sample" and plan.sample_shapes()["input_ids"] == [4]
    assert plan.batch(IDS, 2)["input_ids"].tolist() == [[3, 9, 27, 41], [3, 9, 27, 41]]
    np.savez(tmp_path / "x.npz", **{k: v[1] for k, v in inputs.items()})
    plan = plan_inputs(None, "gru", IDS, input_data=str(tmp_path / "x.npz"))  # type: ignore[arg-type]
    assert plan.batch(IDS, 1)["input_ids"].tolist() == [[1, 2, 3, 4]]
    with pytest.raises(UsageError, match="no golden sample"):
        plan_inputs(None, "gru", IDS, input_data="golden", repository=tmp_path / "none")  # type: ignore[arg-type]
    with pytest.raises(UsageError, match="no input 'ids'"):
        plan_inputs(None, "gru", IDS, shapes={"ids": [3]})  # type: ignore[arg-type]


def test_json_has_no_nan_and_csv_fills_every_measured_field() -> None:
    import csv
    import io
    import json

    result = _tuned()
    result.rows.append(BenchRow(Variant(1, False), _m(8, 500.0, 9.0)))  # no server split: NaN fields
    text = json.dumps(result.to_dict())
    json.loads(text, parse_constant=lambda c: pytest.fail(f"{c} in the JSON"))
    rows = list(csv.DictReader(io.StringIO(result.to_csv())))
    for row in rows[:-1]:  # every measured field filled (perf_analyzer rows included)
        for key in ("requests_per_s", "infer_per_s", "p99_ms", "requests", "seconds", "queue_ms", "engine"):
            assert row[key] not in ("", "0", "0.0"), (key, row)
        assert row["meets_budget"] in ("True", "False")
    assert rows[3]["meets_budget"] == "True" and rows[4]["meets_budget"] == "False"


def test_tune_finds_the_grids_best_config_trying_few_of_them() -> None:
    """The coordinate ascent on a model of a server whose capacity grows with instances (up to 4 cores)
    and batch size (up to 32), with a queue delay that helps a little: it reaches the best config of the
    whole grid, trying far fewer configs than the grid has."""
    import math

    from tritonkit.bench.tune import Tuner, TuneSpace, tune_variants

    def capacity(v: Variant) -> float:
        if not v.dynamic_batching:
            return 400.0 * min(v.instances or 1, 4)
        batch = min(v.max_batch_size or 1, 32)
        delay = {0: 1.0, 100: 1.04, 1000: 1.08}[v.queue_delay_us or 0]
        return 400.0 * min(v.instances or 1, 4) * (1 + math.log2(batch) / 2) * delay

    class Session:
        def load(self, variant: Variant) -> None:
            self.variant = variant

    class Meter:
        def __init__(self, session: Session) -> None:
            self.session = session

        def reloaded(self) -> None:
            pass

        def point(self, c: int, batch: int, max_runs: int | None = None) -> Measurement:
            return _server(c, capacity=capacity(self.session.variant))

    budget = Budget("p99", 20.0)
    space = TuneSpace(instances=[1, 2, 3, 4, 5], max_batch_sizes=[1, 2, 4, 8, 16, 32, 64], confirm=0)
    session = Session()
    tuner = Tuner(session, Meter(session), budget, space, None)  # type: ignore[arg-type]
    config = {"max_batch_size": 4, "instance_group": [{"count": 1}], "dynamic_batching": {}}
    best = tune_variants(tuner, config)
    grid = [
        Variant(n, True, b, d)
        for n in space.instances or []
        for b in space.max_batch_sizes or []
        for d in (0, 100, 1000)
    ]
    top = max(capacity(v) for v in grid)
    assert best is not None and capacity(best) >= top * 0.95, (best, top)
    assert len(tuner.tried) <= 16 < len(grid)  # 105 configs in the grid
