"""`bench --tune`: the best config within a latency budget, found by a search instead of a grid.

Two searches, one inside the other:

- Concurrency, per config: from a start (2 x instances x max_batch_size), double it while the
  throughput grows by at least `gain_pct` and the budget holds; once the budget breaks, a binary
  search between the last concurrency within it and the first one over it. Going down (halving)
  when the start is already over the budget. This is how Model Analyzer searches concurrency
  (sweep up until gains stop, binary search against the latency limit), without its fixed grid.
- Config, by coordinate ascent from the configured one: max_batch_size (doubling, then halving) and
  instance count (+1, then -1) in rounds until neither moves; then, once, the max queue delay and
  preferred batch sizes (and the structure again if they moved); last, dynamic batching off. A move is
  kept when it wins by more than `gain_pct`. The knobs come after the structure because each try costs a
  config load and a concurrency search, and on a CPU or GPU the structure is where most of the gain is.

While searching, a point is measured once; the best points of the leading configs are measured again
at the end (and again while their windows disagree), and the verdicts say why each other config lost.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING

from tritonkit.bench.loadgen import Measurement
from tritonkit.bench.measure import BenchOptions, Meter, Progress, python_runtime, start_meter
from tritonkit.bench.result import BenchResult, BenchRow, Budget, Variant
from tritonkit.bench.sweep import Variants, check_apply, check_runtime
from tritonkit.errors import InferenceError, UsageError

if TYPE_CHECKING:
    from tritonkit.client.client import Client


@dataclass
class TuneSpace:
    """What --tune may change; None = derived from the model's config (see `resolve`)."""

    instances: list[int] | None = None  # default 1..max(4, configured)
    max_batch_sizes: list[int] | None = None  # default powers of two 1..max(64, configured)
    queue_delays_us: list[int] = field(default_factory=lambda: [0, 100, 1000])
    try_preferred: bool = True  # preferred_batch_size = [max_batch_size]
    try_no_batching: bool = True
    max_concurrency: int = 1024
    gain_pct: float = 5.0  # a doubling of concurrency / a config move must win this much
    confirm: int = 3  # leading configs measured again at the end


@dataclass
class Candidate:
    """One config tried: its points, the best one within the budget, or why it has none."""

    variant: Variant
    points: list[Measurement] = field(default_factory=list)
    best: Measurement | None = None
    refused: str | None = None

    @property
    def score(self) -> float:
        return self.best.infer_per_s if self.best is not None else 0.0


def search_concurrency(
    evaluate: Callable[[int], Measurement],
    budget: Budget,
    *,
    start: int = 1,
    gain_pct: float = 5.0,
    max_concurrency: int = 1024,
) -> Measurement | None:
    """The best concurrency within `budget` (see the module docstring); None when even 1 breaks it."""
    seen: dict[int, Measurement] = {}

    def at(c: int) -> Measurement:
        if c not in seen:
            seen[c] = evaluate(c)
        return seen[c]

    start = max(1, min(start, max_concurrency))
    lo, hi = 0, 0  # lo: highest concurrency known within the budget; hi: lowest known over it (0: none)
    if budget.met(at(start)):
        lo = start
        while lo * 2 <= max_concurrency:
            nxt = at(lo * 2)
            if not budget.met(nxt):
                hi = lo * 2
                break
            grew = nxt.infer_per_s >= at(lo).infer_per_s * (1 + gain_pct / 100)
            lo = lo * 2
            if not grew:
                break
    else:
        hi = start
        c = start // 2
        while c >= 1 and not budget.met(at(c)):
            hi, c = c, c // 2
        if c < 1:
            return None
        lo = c
    # binary search against the budget between lo (within) and hi (over), to about 1/4 of lo
    while hi and hi - lo > max(1, lo // 4):
        mid = (lo + hi) // 2
        if budget.met(at(mid)):
            lo = mid
        else:
            hi = mid
    within = [m for m in seen.values() if budget.met(m)]
    return max(within, key=lambda m: m.infer_per_s) if within else None


def natural_concurrency(variant: Variant) -> int:
    """Where a config's concurrency search starts: enough requests to keep every instance busy with full
    batches twice over (2 x instances x max_batch_size; Model Analyzer's quick search uses the same
    formula). The search walks up or down from there, so only a few points are measured per config."""
    instances = variant.instances or 1
    batch = variant.max_batch_size or 1 if variant.dynamic_batching else 1
    return max(1, 2 * instances * batch)


class Tuner:
    """Tries candidates on the server: loads each config, searches its concurrency, keeps every point."""

    def __init__(
        self, session: Variants, meter: Meter, budget: Budget, space: TuneSpace, progress: Progress | None
    ) -> None:
        self.session = session
        self.meter = meter
        self.budget = budget
        self.space = space
        self.progress = progress
        self.tried: dict[Variant, Candidate] = {}
        self.measured = 0
        self.loaded: Variant | None = None

    def best(self) -> Candidate | None:
        ranked = sorted(self.tried.values(), key=lambda c: c.score, reverse=True)
        return ranked[0] if ranked and ranked[0].best is not None else None

    def try_(self, variant: Variant) -> Candidate:
        if variant in self.tried:
            return self.tried[variant]
        candidate = Candidate(variant)
        self.tried[variant] = candidate
        try:
            self.session.load(variant)
            self.meter.reloaded()
            self.loaded = variant
        except InferenceError as exc:
            candidate.refused = exc.message
            return candidate
        start = natural_concurrency(variant)

        def evaluate(c: int) -> Measurement:
            self._say(f"{variant.label}: concurrency {c}")
            m = self.meter.point(c, 1, max_runs=1)  # once while searching: the leaders are measured again
            candidate.points.append(m)
            self.measured += 1
            ok = "" if self.budget.met(m) else f" (over {self.budget.label})"
            self._say(
                f"{variant.label}: concurrency {c}: {m.infer_per_s:,.0f} infer/s, p99 {m.p99_ms:.1f} ms{ok}"
            )
            return m

        candidate.best = search_concurrency(
            evaluate,
            self.budget,
            start=start,
            gain_pct=self.space.gain_pct,
            max_concurrency=self.space.max_concurrency,
        )
        return candidate

    def _say(self, what: str) -> None:
        if self.progress:
            self.progress(self.measured, 0, what)

    def better(self, a: Candidate, b: Candidate | None) -> bool:
        """`a` beats `b` by more than the gain threshold."""
        if b is None or b.best is None:
            return a.best is not None
        return a.score > b.score * (1 + self.space.gain_pct / 100)

    def climb(self, current: Variant, options: list[list[Variant]]) -> Variant:
        """Along one axis: the neighbours in order while each wins; the first direction that wins is kept."""
        for direction in options:
            moved = False
            for candidate in direction:
                if self.better(self.try_(candidate), self.tried.get(current)):
                    current, moved = candidate, True
                else:
                    break
            if moved:
                break
        return current


def resolve_space(space: TuneSpace, config: dict[str, object]) -> tuple[list[int], list[int]]:
    """The instance counts and max_batch_sizes to search, from the space or the configured values."""
    groups = config.get("instance_group") or [{}]
    count = int(groups[0].get("count", 1) or 1) if isinstance(groups, list) and groups else 1
    mbs = int(str(config.get("max_batch_size", 0) or 0))
    instances = sorted(set(space.instances or range(1, max(4, count) + 1)))
    if mbs <= 0:
        return instances, []
    sizes = space.max_batch_sizes or [1 << k for k in range(0, 17) if 1 << k <= max(64, mbs)]
    return instances, sorted(set(sizes))


def _nearest(values: list[int], target: int) -> int:
    return min(values, key=lambda v: (abs(v - target), v))


def _climb_structure(tuner: Tuner, current: Variant, instances: list[int], sizes: list[int]) -> Variant:
    """max_batch_size then instance count, in rounds, until neither moves (most of the gain is here)."""
    for _ in range(3):
        before = current
        n, size = current.instances or 1, current.max_batch_size or 1
        current = tuner.climb(
            current,
            [
                [replace(current, max_batch_size=s) for s in sizes if s > size],
                [replace(current, max_batch_size=s) for s in reversed(sizes) if s < size],
            ],
        )
        current = tuner.climb(
            current,
            [
                [replace(current, instances=k) for k in instances if k > n],
                [replace(current, instances=k) for k in reversed(instances) if k < n],
            ],
        )
        if current == before:
            break
    return current


def _climb_knobs(tuner: Tuner, current: Variant) -> Variant:
    """The max queue delay and preferred batch sizes, tried once at the structure found (a config each)."""
    for d in tuner.space.queue_delays_us:
        if d != current.queue_delay_us:
            current = tuner.climb(current, [[replace(current, queue_delay_us=d)]])
    if tuner.space.try_preferred and current.preferred_batch_sizes is None:
        current = tuner.climb(
            current, [[replace(current, preferred_batch_sizes=(current.max_batch_size or 1,))]]
        )
    return current


def tune_variants(tuner: Tuner, config: dict[str, object]) -> Variant | None:
    """The coordinate ascent of the module docstring; returns the best variant within the budget."""
    instances, sizes = resolve_space(tuner.space, config)
    groups = config.get("instance_group") or [{}]
    count = int(groups[0].get("count", 1) or 1) if isinstance(groups, list) and groups else 1
    batched = bool(sizes)
    if not batched:  # a model that does not batch: instances only
        current = Variant(_nearest(instances, count), False)
        tuner.try_(current)
        up = [Variant(n, False) for n in instances if n > current.instances]  # type: ignore[operator]
        down = [Variant(n, False) for n in reversed(instances) if n < current.instances]  # type: ignore[operator]
        tuner.climb(current, [up, down])
        leader = tuner.best()
        return leader.variant if leader else None
    configured = config.get("dynamic_batching")
    delay = 100
    if isinstance(configured, dict):
        delay = int(str(configured.get("max_queue_delay_microseconds", 100) or 0))
    mbs0 = int(str(config.get("max_batch_size", 0)))
    current = Variant(_nearest(instances, count), True, _nearest(sizes, mbs0), delay)
    tuner.try_(current)
    for _ in range(2):  # the scheduling knobs moved the optimum: the structure is searched once more
        current = _climb_structure(tuner, current, instances, sizes)
        before = current
        current = _climb_knobs(tuner, current)
        if current == before:
            break
    if (
        tuner.space.try_no_batching
    ):  # the other side of the comparison: batching off, at the best instance count
        tuner.climb(current, [[Variant(current.instances, False)]])
    leader = tuner.best()
    return leader.variant if leader else None


def confirm(tuner: Tuner) -> None:
    """Measure the leading configs' best points again and keep the mean: noise must not pick the winner."""
    leaders = sorted(
        (c for c in tuner.tried.values() if c.best is not None), key=lambda c: c.score, reverse=True
    )
    chosen = leaders[: tuner.space.confirm] if len(leaders) > 1 else []
    chosen.sort(key=lambda c: c.variant != tuner.loaded)  # the one loaded now first: one load less
    for candidate in chosen:
        assert candidate.best is not None
        if candidate.variant != tuner.loaded:
            tuner.session.load(candidate.variant)
            tuner.meter.reloaded()
            tuner.loaded = candidate.variant
        first = candidate.best
        tuner._say(f"{candidate.variant.label}: concurrency {first.concurrency} again")
        again = tuner.meter.point(first.concurrency, 1)
        candidate.points.append(again)
        tuner.measured += 1
        if tuner.budget.met(again):
            mean = (first.infer_per_s + again.infer_per_s) / 2
            worst = first if first.p99_ms >= again.p99_ms else again
            candidate.best = replace(worst, infer_per_s=mean, runs=first.runs + again.runs)
        else:  # over the budget the second time: the point is not safe
            others = [m for m in candidate.points if tuner.budget.met(m) and m is not first]
            candidate.best = max(others, key=lambda m: m.infer_per_s) if others else None


def verdicts(tuner: Tuner, winner: Variant | None) -> dict[str, str]:
    """Why each config won or lost, in a sentence."""
    out: dict[str, str] = {}
    lead = tuner.tried.get(winner) if winner is not None else None
    for variant, c in tuner.tried.items():
        if c.refused is not None:
            out[variant.label] = f"refused by the server: {c.refused}"
        elif c.best is None:
            low = min(c.points, key=lambda m: m.concurrency) if c.points else None
            detail = (
                f" ({tuner.budget.percentile} {low.percentile_ms(tuner.budget.percentile):.1f} ms at "
                f"concurrency {low.concurrency})"
                if low
                else ""
            )
            out[variant.label] = f"no concurrency within {tuner.budget.label}{detail}"
        elif variant == winner:
            out[variant.label] = (
                f"best: {c.best.infer_per_s:,.0f} infer/s at concurrency {c.best.concurrency}, "
                f"{tuner.budget.percentile} {c.best.percentile_ms(tuner.budget.percentile):.1f} ms"
            )
        elif lead is not None and lead.best is not None:
            behind = (1 - c.score / lead.score) * 100 if lead.score else 0.0
            out[variant.label] = (
                f"{behind:.0f}% less throughput: {c.best.infer_per_s:,.0f} infer/s at its best concurrency "
                f"{c.best.concurrency} within the budget"
            )
    return out


def run_tune(
    client: Client,
    model: str,
    budget: Budget,
    options: BenchOptions | None = None,
    *,
    space: TuneSpace | None = None,
    repository: Path | None = None,
    apply: bool = False,
    force: bool = False,
    progress: Progress | None = None,
) -> BenchResult:
    """Search configs and concurrency for the highest throughput within `budget`; the original is put back.

    Needs a server in explicit model-control mode. With `apply`, the winner's fields (only those)
    are written to the repository; without it nothing is written. `client` is the caller's (as for
    `run_sweep`): it stays open.
    """
    options = options or BenchOptions()
    space = space or TuneSpace()
    if space.max_concurrency < 1:
        raise UsageError(f"--max-concurrency must be >= 1, got {space.max_concurrency}")
    check_apply(apply, repository, model)
    started = time.monotonic()
    client.check_server()
    with Variants(client, model) as session:
        meter, result = start_meter(client, model, options)
        result.mode, result.budget = "tune", budget
        check_runtime(result, apply, force)  # before measuring: a refusal at the end would waste the run
        try:
            tuner = Tuner(session, meter, budget, space, progress)
            tune_variants(tuner, session.base)
            confirm(tuner)
            result.runtime = result.runtime or python_runtime(dict(client.model_info(model).config))
        finally:
            meter.close()
        leader = tuner.best()
        result.best = leader.variant if leader is not None else None
        result.verdicts = verdicts(tuner, result.best)
        for candidate in tuner.tried.values():
            points = sorted(candidate.points, key=lambda m: m.concurrency)
            if candidate.best is not None and candidate.best not in points:
                points = [m for m in points if m.concurrency != candidate.best.concurrency] + [candidate.best]
            result.rows += [
                BenchRow(candidate.variant, m) for m in sorted(points, key=lambda m: m.concurrency)
            ]
        check_runtime(result, apply, force)
        if apply and repository is not None and result.best is not None:
            result.applied = session.apply(repository, result.best)
    result.wall_s = time.monotonic() - started
    return result
