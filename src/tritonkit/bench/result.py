"""The results of a bench run: config variants, a latency budget, measured rows, and their CSV/JSON forms."""

from __future__ import annotations

import math
import re
from dataclasses import asdict, dataclass, field
from typing import Any

from tritonkit.bench.loadgen import Measurement
from tritonkit.errors import UsageError


@dataclass(frozen=True)
class Variant:
    """A config variant: instances, dynamic batching and its settings, max_batch_size (None: as is)."""

    instances: int | None = None
    dynamic_batching: bool | None = None
    max_batch_size: int | None = None
    queue_delay_us: int | None = None  # max_queue_delay_microseconds, with dynamic batching
    preferred_batch_sizes: tuple[int, ...] | None = None  # with dynamic batching

    @property
    def label(self) -> str:
        parts = []
        if self.instances is not None:
            parts.append(f"{self.instances} instance{'s' if self.instances != 1 else ''}")
        if self.max_batch_size is not None:
            parts.append(f"mbs {self.max_batch_size}")
        if self.dynamic_batching is not None:
            parts.append("dynamic batching" if self.dynamic_batching else "no batching")
        if self.dynamic_batching is not False:
            if self.queue_delay_us is not None:
                parts.append(f"delay {self.queue_delay_us} us")
            if self.preferred_batch_sizes:
                parts.append("preferred " + "/".join(str(p) for p in self.preferred_batch_sizes))
        return ", ".join(parts) or "as configured"

    def fields(self) -> dict[str, Any]:
        """The config fields this variant sets (for JSON/CSV and --apply)."""
        return {
            "instances": self.instances,
            "dynamic_batching": self.dynamic_batching,
            "max_batch_size": self.max_batch_size,
            "queue_delay_us": self.queue_delay_us,
            "preferred_batch_sizes": list(self.preferred_batch_sizes) if self.preferred_batch_sizes else None,
        }


_BUDGET = re.compile(r"^(p50|p90|p95|p99)\s*=\s*([0-9]*\.?[0-9]+)\s*(ms|us|µs|s)?$", re.IGNORECASE)


@dataclass(frozen=True)
class Budget:
    """A latency budget: a percentile (p50, p90, p99) at most `limit_ms`."""

    percentile: str
    limit_ms: float

    @classmethod
    def parse(cls, text: str) -> Budget:
        """`p99=20ms`, `p90=500us`, `p99=0.05s` (no unit: ms)."""
        match = _BUDGET.match(text.strip())
        if not match:
            raise UsageError(
                f"--latency-budget {text!r}: expected e.g. p99=20ms", hint="p50, p90 or p99; ms, us or s"
            )
        name, value, unit = match.group(1).lower(), float(match.group(2)), (match.group(3) or "ms").lower()
        if name == "p95":
            raise UsageError("--latency-budget: p95 is not measured", hint="use p50, p90 or p99")
        limit = value * {"ms": 1.0, "us": 1e-3, "µs": 1e-3, "s": 1e3}[unit]
        if limit <= 0:
            raise UsageError(f"--latency-budget {text!r}: the limit must be > 0")
        return cls(name, limit)

    def met(self, m: Measurement) -> bool:
        value = m.percentile_ms(self.percentile)
        return not math.isnan(value) and value <= self.limit_ms

    @property
    def label(self) -> str:
        return f"{self.percentile} <= {self.limit_ms:g} ms"


@dataclass
class BenchRow:
    variant: Variant
    measurement: Measurement


@dataclass
class BenchResult:
    """Every measured point; `best` is the variant with the highest throughput (within the budget, if any)."""

    model: str
    url: str
    protocol: str
    engine: str
    rows: list[BenchRow] = field(default_factory=list)
    best: Variant | None = None
    applied: list[str] = field(default_factory=list)  # files written by --apply
    mode: str = "bench"  # bench, sweep or tune
    date: str = ""  # UTC, ISO 8601, when the run started
    inputs: str = "random"  # what was sent (InputPlan.source)
    runtime: str | None = None  # set when the model ran through tritonkit's Python-backend runtime
    budget: Budget | None = None
    verdicts: dict[str, str] = field(default_factory=dict)  # variant label -> why it won or lost (tune)
    wall_s: float = 0.0

    def variants(self) -> list[Variant]:
        seen: list[Variant] = []
        for row in self.rows:
            if row.variant not in seen:
                seen.append(row.variant)
        return seen

    def points(self, variant: Variant) -> list[Measurement]:
        return [r.measurement for r in self.rows if r.variant == variant]

    def peak(self, variant: Variant) -> Measurement:
        """The highest-throughput point of a variant (within the budget when there is one and it is met)."""
        points = self.points(variant)
        within = [m for m in points if self.budget is None or self.budget.met(m)]
        return max(within or points, key=lambda m: m.infer_per_s)

    def to_dict(self) -> dict[str, Any]:
        return {
            "model": self.model,
            "url": self.url,
            "protocol": self.protocol,
            "engine": self.engine,
            "mode": self.mode,
            "date": self.date,
            "inputs": self.inputs,
            "runtime": self.runtime,
            "budget": None if self.budget is None else asdict(self.budget),
            "best": None if self.best is None else {**self.best.fields(), "label": self.best.label},
            "verdicts": dict(self.verdicts),
            "applied": list(self.applied),
            "wall_s": round(self.wall_s, 3),
            "rows": [_no_nan(self.row_dict(r)) for r in self.rows],
        }

    def row_dict(self, row: BenchRow) -> dict[str, Any]:
        m = row.measurement
        data: dict[str, Any] = {"variant": row.variant.label, **row.variant.fields(), **asdict(m)}
        data["requests_per_s"] = m.requests_per_s
        data["meets_budget"] = None if self.budget is None else self.budget.met(m)
        data["preferred_batch_sizes"] = "/".join(str(p) for p in row.variant.preferred_batch_sizes or ())
        return data

    CSV_COLUMNS = (
        "variant",
        "instances",
        "dynamic_batching",
        "max_batch_size",
        "queue_delay_us",
        "preferred_batch_sizes",
        "batch_size",
        "concurrency",
        "requests_per_s",
        "infer_per_s",
        "p50_ms",
        "p90_ms",
        "p99_ms",
        "meets_budget",
        "spread_pct",
        "runs",
        "requests",
        "seconds",
        "queue_ms",
        "compute_input_ms",
        "compute_infer_ms",
        "compute_output_ms",
        "engine",
    )

    def to_csv(self) -> str:
        """One line per point; a config field that the variant leaves as configured is empty."""
        import csv
        import io

        buffer = io.StringIO()
        writer = csv.DictWriter(
            buffer, fieldnames=self.CSV_COLUMNS, extrasaction="ignore", lineterminator="\n"
        )
        writer.writeheader()
        for row in self.rows:
            data = self.row_dict(row)
            for key in ("requests_per_s", "infer_per_s", "seconds"):
                data[key] = round(data[key], 3)
            for key in (
                "p50_ms",
                "p90_ms",
                "p99_ms",
                "spread_pct",
                "queue_ms",
                "compute_input_ms",
                "compute_infer_ms",
                "compute_output_ms",
            ):
                data[key] = "" if math.isnan(data[key]) else round(data[key], 4)
            writer.writerow({k: ("" if v is None else v) for k, v in data.items()})
        return buffer.getvalue()


def _no_nan(row: dict[str, Any]) -> dict[str, Any]:
    """NaN (not measured) and infinity (timed out) as null: JSON has neither."""
    return {k: (None if isinstance(v, float) and not math.isfinite(v) else v) for k, v in row.items()}
