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


def cpu_times_of(repeat: int, *fns: Callable[[], object]) -> list[list[float]]:
    """The CPU time of each function in each of `repeat` rounds, the functions interleaved in each round and
    their order reversed every other round (so neither always runs first after the other's garbage)."""
    times: list[list[float]] = [[] for _ in fns]
    for round_index in range(repeat):
        order = list(enumerate(fns))
        for index, fn in order if round_index % 2 == 0 else reversed(order):
            start = time.process_time()
            fn()
            times[index].append(time.process_time() - start)
    return times


def best_cpu_of(repeat: int, *fns: Callable[[], object]) -> list[float]:
    """The least CPU time of each function over `repeat` interleaved rounds (`cpu_times_of`): on a machine
    others share, wall time swings by 2x between runs; this process's CPU time much less."""
    return [min(t) for t in cpu_times_of(repeat, *fns)]
