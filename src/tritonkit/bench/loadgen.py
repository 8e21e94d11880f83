"""The built-in load generator: N threads, each with its own connection, sending one request after another.

Bounded by time (warm-up + measurement window) and optionally by a request count, so a run always
ends. The first error stops every thread; a server that stops answering becomes ServerNotReadyError.
"""

from __future__ import annotations

import contextlib
import itertools
import threading
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from tritonkit.errors import ServerNotReadyError, TritonkitError

if TYPE_CHECKING:
    from tritonkit.client.client import Client


NAN = float("nan")


@dataclass(frozen=True)
class Measurement:
    """Throughput and latency of one (batch size, concurrency) point.

    Requests/s counts requests; inferences/s counts samples (requests x batch size, perf_analyzer's
    "infer/sec"). `spread_pct` is how far the throughput of the measurement's windows apart were
    ((max - min) / mean); `runs` how often the point was measured until it was stable. The queue and
    compute times are per request, from the server's statistics over the point.
    """

    batch_size: int
    concurrency: int
    requests: int  # completed inside the measurement window
    seconds: float
    infer_per_s: float  # requests * batch_size / seconds
    p50_ms: float
    p90_ms: float
    p99_ms: float
    engine: str = "builtin"
    spread_pct: float = NAN
    runs: int = 1
    queue_ms: float = NAN
    compute_input_ms: float = NAN
    compute_infer_ms: float = NAN
    compute_output_ms: float = NAN

    @property
    def requests_per_s(self) -> float:
        return self.infer_per_s / self.batch_size

    def percentile_ms(self, name: str) -> float:
        """p50, p90 or p99 latency by name."""
        return float(getattr(self, f"{name}_ms"))


def spread(values: list[float]) -> float:
    """(max - min) / mean in percent; NaN for fewer than two values."""
    if len(values) < 2 or not sum(values):
        return NAN
    return (max(values) - min(values)) / (sum(values) / len(values)) * 100.0


def _percentiles(latencies: list[float]) -> tuple[float, float, float]:
    import numpy as np

    if not latencies:
        return (float("nan"), float("nan"), float("nan"))
    p50, p90, p99 = np.percentile(np.asarray(latencies) * 1000.0, [50, 90, 99])
    return float(p50), float(p90), float(p99)


def measure(
    client: Client,
    model: str,
    inputs: dict[str, Any],
    *,
    concurrency: int,
    batch_size: int,
    duration_s: float,
    warmup_s: float = 0.2,
    max_requests: int | None = None,
) -> Measurement:
    """Drive `model` with `concurrency` closed-loop workers for warm-up + `duration_s` seconds."""
    stop = threading.Event()
    errors: list[BaseException] = []
    records: list[list[tuple[float, float]]] = [[] for _ in range(concurrency)]
    sent = [0]
    lock = threading.Lock()
    clients = [client.fork() for _ in range(concurrency)]
    start = time.perf_counter()
    window_start = start + warmup_s
    window_end = window_start + duration_s

    def worker(index: int) -> None:
        own = clients[index]
        out = records[index]
        try:
            while not stop.is_set():
                t0 = time.perf_counter()
                if t0 >= window_end:
                    return
                measured = t0 >= window_start
                if measured and max_requests is not None:  # the budget counts measured requests only
                    with lock:
                        if sent[0] >= max_requests:
                            return
                        sent[0] += 1
                own.infer(model, inputs)
                t1 = time.perf_counter()
                if measured:
                    out.append((t1, t1 - t0))
        except BaseException as exc:
            errors.append(exc)
            stop.set()

    threads = [threading.Thread(target=worker, args=(i,), daemon=True) for i in range(concurrency)]
    try:
        for t in threads:
            t.start()
        for t in threads:
            while t.is_alive():  # join in slices so Ctrl-C reaches the main thread
                t.join(0.1)
    except KeyboardInterrupt:
        stop.set()
        for t in threads:
            t.join(5)
        raise
    finally:
        for c in clients:
            with contextlib.suppress(Exception):  # closing a connection to a dead server may fail
                c.close()
    if errors:
        first = errors[0]
        if isinstance(first, ServerNotReadyError):
            raise ServerNotReadyError(
                f"the server stopped answering during the benchmark: {first.message}",
                hint="check the server log (`tritonkit logs`); the results so far are not reported",
            ) from first
        if isinstance(first, TritonkitError):
            raise first
        raise first
    end = min(time.perf_counter(), window_end)
    latencies = [lat for rec in records for (_, lat) in rec]
    seconds = max(end - window_start, 1e-9)
    if max_requests is not None:  # a request budget may end the run before the window does
        last = max((t for rec in records for (t, _) in rec), default=window_start)
        seconds = max(min(seconds, last - window_start), 1e-9)
    p50, p90, p99 = _percentiles(latencies)
    # three equal windows of the measurement, as perf_analyzer's stability check compares
    done = sorted(t for rec in records for (t, _) in rec)
    edges = [window_start + seconds * i / 3 for i in range(4)]
    counts = [sum(1 for t in done if lo <= t < hi) for lo, hi in itertools.pairwise(edges)]
    return Measurement(
        batch_size=batch_size,
        concurrency=concurrency,
        requests=len(latencies),
        seconds=seconds,
        infer_per_s=len(latencies) * batch_size / seconds,
        p50_ms=p50,
        p90_ms=p90,
        p99_ms=p99,
        spread_pct=spread([float(c) for c in counts]) if len(done) >= 30 else NAN,
    )
