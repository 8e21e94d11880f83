"""Measuring a model as loaded: the engine choice and every (batch size, concurrency) point."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from tritonkit.bench.loadgen import Measurement, measure
from tritonkit.bench.result import BenchResult, BenchRow, Variant
from tritonkit.client.client import Client
from tritonkit.errors import InferenceError, ServerNotReadyError, UsageError

ENGINES = ("auto", "builtin", "perf_analyzer")
Progress = Callable[[int, int, str], None]  # (done, total, what is being measured)


@dataclass
class BenchOptions:
    """What to measure: concurrency levels x batch sizes, each for `duration_s` after a warm-up."""

    concurrency: list[int] = field(default_factory=lambda: [1, 2, 4])
    batch_sizes: list[int] = field(default_factory=lambda: [1])
    duration_s: float = 2.0
    warmup_s: float = 0.3
    max_requests: int | None = None  # per point, for the built-in engine
    engine: str = "auto"

    def __post_init__(self) -> None:
        if not self.concurrency or any(c < 1 for c in self.concurrency):
            raise UsageError(f"concurrency levels must be >= 1, got {self.concurrency}")
        if not self.batch_sizes or any(b < 1 for b in self.batch_sizes):
            raise UsageError(f"batch sizes must be >= 1, got {self.batch_sizes}")
        if self.duration_s <= 0:
            raise UsageError(f"--duration must be > 0, got {self.duration_s}")
        if self.engine not in ENGINES:
            raise UsageError(f"unknown engine {self.engine!r}", hint="use auto, builtin or perf_analyzer")


def _pick_engine(engine: str) -> str:
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


def _measure_points(
    client: Client,
    model: str,
    options: BenchOptions,
    engine: str,
    variant: Variant,
    progress: Progress | None,
    step: list[int],
    total: int,
    inputs: dict[int, dict[str, Any]] | None = None,
) -> list[BenchRow]:
    """Measure every (batch size, concurrency) point of the model as currently loaded."""
    from tritonkit.client.inputs import random_inputs

    info = client.model_info(model)
    rows = []
    for batch in options.batch_sizes:
        if batch > 1 and not info.batched:
            raise UsageError(f"model {model!r} does not batch (max_batch_size 0): use --batch-size 1")
        if info.batched and batch > info.max_batch_size:
            raise UsageError(f"batch size {batch} is above {model!r}'s max_batch_size {info.max_batch_size}")
        data = (inputs or {}).get(batch) or random_inputs(info, batch_size=batch)
        for conc in options.concurrency:
            if progress:
                progress(step[0], total, f"{variant.label}: batch {batch}, concurrency {conc}")
            m: Measurement | None = None
            if engine == "perf_analyzer":
                from tritonkit.bench.perf_analyzer import measure_with_perf_analyzer

                shapes = {t.name: [d if d > 0 else 1 for d in t.dims] for t in info.inputs if -1 in t.dims}
                try:
                    m = measure_with_perf_analyzer(
                        client.url, client.protocol, model, concurrency=conc, batch_size=batch,
                        duration_s=options.duration_s, shapes=shapes,
                    )  # fmt: skip
                except InferenceError as exc:
                    with client.fork() as probe:
                        alive = probe.server_ready()
                    if not alive:  # perf_analyzer failed because the server went away
                        raise ServerNotReadyError(
                            f"the server stopped answering during the benchmark ({exc.message})",
                            hint="check the server log (`tritonkit logs`)",
                        ) from exc
                    if "stable measurement" not in exc.message:
                        raise
                    # perf_analyzer found no stable window: this point is measured by the built-in engine
            if m is None:
                m = measure(
                    client, model, data, concurrency=conc, batch_size=batch, duration_s=options.duration_s,
                    warmup_s=options.warmup_s, max_requests=options.max_requests,
                )  # fmt: skip
            rows.append(BenchRow(variant, m))
            step[0] += 1
            if progress:
                progress(step[0], total, f"{variant.label}: batch {batch}, concurrency {conc}: "
                         f"{m.infer_per_s:,.0f} infer/s, p99 {m.p99_ms:.2f} ms")  # fmt: skip
    return rows


def run_bench(
    url: str | None,
    model: str,
    options: BenchOptions | None = None,
    *,
    protocol: str = "http",
    progress: Progress | None = None,
) -> BenchResult:
    """Measure `model` as loaded: infer/s and p50/p90/p99 latency for each batch size x concurrency."""
    options = options or BenchOptions()
    client = Client(url, protocol)
    try:
        client.check_server()
        client.model_info(model)
        engine = _pick_engine(options.engine)
        total = len(options.batch_sizes) * len(options.concurrency)
        rows = _measure_points(client, model, options, engine, Variant(), progress, [0], total)
    finally:
        client.close()
    return BenchResult(model, client.url, client.protocol, engine, rows)
