"""Measuring a model as loaded: the engine, the data to send, every (batch size, concurrency) point.

A point is measured in three windows; when their throughputs differ by more than `stability_pct` it is
measured again (up to `max_runs` times), and the spread of its last run is reported. The server's
statistics before and after give its queue / compute split.
"""

from __future__ import annotations

import dataclasses
import datetime
import math
import tempfile
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from tritonkit.bench.data import InputPlan, plan_inputs
from tritonkit.bench.loadgen import Measurement, measure
from tritonkit.bench.result import BenchResult, BenchRow, Variant
from tritonkit.bench.stats import read_counters
from tritonkit.client.client import Client
from tritonkit.client.info import ModelInfo
from tritonkit.errors import InferenceError, ServerNotReadyError, UnstableMeasurementError, UsageError

ENGINES = ("auto", "builtin", "perf_analyzer")
Progress = Callable[[int, int, str], None]  # (done, total, what is being measured)


@dataclass
class BenchOptions:
    """What to measure and send: concurrency levels x batch sizes, each for `duration_s` after a warm-up."""

    concurrency: list[int] = field(default_factory=lambda: [1, 2, 4])
    batch_sizes: list[int] = field(default_factory=lambda: [1])
    duration_s: float = 2.0
    warmup_s: float = 0.3
    max_requests: int | None = None  # per point, for the built-in engine
    engine: str = "auto"
    shapes: dict[str, list[int]] = field(default_factory=dict)  # --shape NAME:DIMS
    input_data: str | None = None  # --input-data FILE or "golden"
    repository: Path | None = None  # where golden samples are (ranges of ids, --input-data golden)
    stability_pct: float = 15.0  # the windows of a point may differ this much before it is measured again
    max_runs: int = 3

    def __post_init__(self) -> None:
        if not self.concurrency or any(c < 1 for c in self.concurrency):
            raise UsageError(f"concurrency levels must be >= 1, got {self.concurrency}")
        if not self.batch_sizes or any(b < 1 for b in self.batch_sizes):
            raise UsageError(f"batch sizes must be >= 1, got {self.batch_sizes}")
        if self.duration_s <= 0:
            raise UsageError(f"--duration must be > 0, got {self.duration_s}")
        if self.engine not in ENGINES:
            raise UsageError(f"unknown engine {self.engine!r}", hint="use auto, builtin or perf_analyzer")
        if self.max_runs < 1:
            raise UsageError(f"--max-runs must be >= 1, got {self.max_runs}")


def pick_engine(engine: str) -> str:
    if engine == "builtin":
        return "builtin"
    from tritonkit.bench.perf_analyzer import find_perf_analyzer

    found = find_perf_analyzer() is not None
    if engine == "perf_analyzer" and not found:
        from tritonkit.errors import EngineUnavailableError

        raise EngineUnavailableError(
            "perf_analyzer is not available here",
            hint="run scripts/get-perf-analyzer.sh, or use --engine builtin",
        )
    return "perf_analyzer" if found else "builtin"


def python_runtime(config: dict[str, Any]) -> str | None:
    """Say so when the server runs the model through a Python-backend runtime instead of its own backend.

    The server reports the runtime it loaded in the config's `runtime` field (core's model_config_utils
    fills it from the backend folder: `model.py` there means the Python backend runs it); a `backend`
    other than python with a `.py` runtime is tritonkit's stand-in for libtorch / ONNX Runtime.
    """
    runtime = str(config.get("runtime") or "")
    backend = str(config.get("backend") or "")
    if runtime.endswith(".py") and backend not in ("", "python"):
        platform = config.get("platform") or backend
        return f"{backend} ({platform}) through tritonkit's Python-backend runtime ({runtime})"
    return None


class Meter:
    """Measures points of one model on one server with one engine and one input plan."""

    def __init__(
        self, client: Client, model: str, options: BenchOptions, engine: str, plan: InputPlan
    ) -> None:
        self.client = client
        self.model = model
        self.options = options
        self.engine = engine
        self.plan = plan
        self._tmp = tempfile.TemporaryDirectory(prefix="tritonkit-bench-")
        self._warm: set[int] = set()  # batch sizes sent once since the model was (re)loaded

    def reloaded(self) -> None:
        """The model was loaded again: its first requests are slow again (JIT, caches, lazy init)."""
        self._warm.clear()

    def close(self) -> None:
        self._tmp.cleanup()

    def info(self) -> ModelInfo:
        return self.client.model_info(self.model)

    def point(
        self, concurrency: int, batch: int, *, duration_s: float | None = None, max_runs: int | None = None
    ) -> Measurement:
        """One point, measured again while its windows disagree by more than the stability limit."""
        info = self.info()
        if batch > 1 and not info.batched:
            raise UsageError(f"model {self.model!r} does not batch (max_batch_size 0): use --batch-size 1")
        if info.batched and batch > info.max_batch_size:
            raise UsageError(
                f"batch size {batch} is above {self.model!r}'s max_batch_size {info.max_batch_size}"
            )
        if batch not in self._warm:  # a first request is not a measurement: TorchScript compiles on it
            for _ in range(3):
                self.client.infer(self.model, self.plan.batch(info, batch))
            self._warm.add(batch)
        m = self._once(info, concurrency, batch, duration_s or self.options.duration_s)
        runs = 1
        while runs < (max_runs or self.options.max_runs) and not (m.spread_pct <= self.options.stability_pct):
            if math.isnan(m.spread_pct):
                break  # too few requests to tell: nothing to repeat for
            m = self._once(info, concurrency, batch, duration_s or self.options.duration_s)
            runs += 1
        return dataclasses.replace(m, runs=runs)

    def _once(self, info: ModelInfo, concurrency: int, batch: int, duration_s: float) -> Measurement:
        before = read_counters(self.client, self.model)
        m: Measurement | None = None
        if self.engine == "perf_analyzer":
            m = self._perf_analyzer(info, concurrency, batch, duration_s)
            if m is not None and math.isinf(m.p99_ms) and not self._server_ready():
                raise ServerNotReadyError(
                    "the server stopped answering during the benchmark (perf_analyzer timed out)",
                    hint="check the server log (`tritonkit logs`)",
                )
        if m is None:
            m = measure(
                self.client,
                self.model,
                self.plan.batch(info, batch),
                concurrency=concurrency,
                batch_size=batch,
                duration_s=duration_s,
                warmup_s=self.options.warmup_s,
                max_requests=self.options.max_requests,
            )
        after = read_counters(self.client, self.model)
        if before is not None and after is not None:
            split = after.minus(before)
            m = dataclasses.replace(
                m,
                queue_ms=split.queue_ms,
                compute_input_ms=split.compute_input_ms,
                compute_infer_ms=split.compute_infer_ms,
                compute_output_ms=split.compute_output_ms,
            )
        return m

    def _server_ready(self) -> bool:
        with self.client.fork() as probe:
            return probe.server_ready()

    def _perf_analyzer(
        self, info: ModelInfo, concurrency: int, batch: int, duration_s: float
    ) -> Measurement | None:
        from tritonkit.bench.perf_analyzer import measure_with_perf_analyzer

        data = self.plan.write_perf_analyzer_json(info, Path(self._tmp.name) / "input-data.json")
        one = self.plan.batch(info, 1)
        skip = 1 if info.batched else 0
        shapes = {
            t.name: list(one[t.name].shape[skip:]) for t in info.inputs if -1 in t.dims and t.name in one
        }
        try:
            return measure_with_perf_analyzer(
                self.client.url,
                self.client.protocol,
                self.model,
                concurrency=concurrency,
                batch_size=batch,
                duration_s=duration_s,
                shapes=shapes,
                input_data=data,
            )
        except InferenceError as exc:
            with self.client.fork() as probe:
                alive = probe.server_ready()
            if not alive:  # perf_analyzer failed because the server went away
                raise ServerNotReadyError(
                    f"the server stopped answering during the benchmark ({exc.message})",
                    hint="check the server log (`tritonkit logs`)",
                ) from exc
            if not isinstance(exc, UnstableMeasurementError):
                raise
            return None  # perf_analyzer found no stable or no full window: the built-in engine measures it


def start_meter(client: Client, model: str, options: BenchOptions) -> tuple[Meter, BenchResult]:
    """Check the server and model, choose the engine and the data, and start an empty result."""
    client.check_server()
    info = client.model_info(model)
    engine = pick_engine(options.engine)
    plan = plan_inputs(
        client,
        model,
        info,
        shapes=options.shapes,
        input_data=options.input_data,
        repository=options.repository,
    )
    result = BenchResult(
        model,
        client.url,
        client.protocol,
        engine,
        date=datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
        inputs=plan.source,
        runtime=python_runtime(dict(info.config)),
    )
    return Meter(client, model, options, engine, plan), result


def measure_grid(
    meter: Meter, variant: Variant, progress: Progress | None, step: list[int], total: int
) -> list[BenchRow]:
    """Every (batch size, concurrency) point of the options, for the model as currently loaded."""
    rows = []
    for batch in meter.options.batch_sizes:
        for conc in meter.options.concurrency:
            if progress:
                progress(step[0], total, f"{variant.label}: batch {batch}, concurrency {conc}")
            m = meter.point(conc, batch)
            rows.append(BenchRow(variant, m))
            step[0] += 1
            if progress:
                progress(
                    step[0],
                    total,
                    f"{variant.label}: batch {batch}, concurrency {conc}: "
                    f"{m.infer_per_s:,.0f} infer/s, p99 {m.p99_ms:.2f} ms",
                )
    return rows


def run_bench(
    client: Client,
    model: str,
    options: BenchOptions | None = None,
    *,
    progress: Progress | None = None,
) -> BenchResult:
    """Measure `model` as loaded: requests/s, infer/s and p50/p90/p99 latency per batch size x concurrency.

    `client` is the caller's, like `check_models`'s: it stays open (the load generator forks its own).
    """
    options = options or BenchOptions()
    meter, result = start_meter(client, model, options)
    try:
        total = len(options.batch_sizes) * len(options.concurrency)
        result.rows = measure_grid(meter, Variant(), progress, [0], total)
    finally:
        meter.close()
    return result
