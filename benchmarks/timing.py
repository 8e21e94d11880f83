"""The timing loops the benchmarks share (not a benchmark itself: `make bench` runs only bench_*.py)."""

from __future__ import annotations

import time
from collections.abc import Callable


def best_of(repeat: int, fn: Callable[[], object]) -> float:
    """The least wall time of `repeat` calls (as timeit reports: the run least disturbed by other load)."""
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return min(times)


def best_cpu_of(repeat: int, *fns: Callable[[], object]) -> list[float]:
    """The least CPU time of each function over `repeat` rounds, the functions interleaved in each round:
    on a machine others share, wall time swings by 2x between runs; this process's CPU time much less."""
    times: list[list[float]] = [[] for _ in fns]
    for _ in range(repeat):
        for index, fn in enumerate(fns):
            start = time.process_time()
            fn()
            times[index].append(time.process_time() - start)
    return [min(t) for t in times]
