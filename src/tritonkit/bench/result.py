"""The results of a bench run: config variants, measured rows, and their CSV/JSON forms."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

from tritonkit.bench.loadgen import Measurement


@dataclass(frozen=True)
class Variant:
    """A config variant of a sweep: instance count and dynamic batching (None = as configured)."""

    instances: int | None = None
    dynamic_batching: bool | None = None

    @property
    def label(self) -> str:
        if self.instances is None and self.dynamic_batching is None:
            return "as configured"
        parts = []
        if self.instances is not None:
            parts.append(f"{self.instances} instance{'s' if self.instances != 1 else ''}")
        if self.dynamic_batching is not None:
            parts.append("dynamic batching" if self.dynamic_batching else "no batching")
        return ", ".join(parts)


@dataclass
class BenchRow:
    variant: Variant
    measurement: Measurement


@dataclass
class BenchResult:
    """Every measured point; `best` indexes the variant with the highest throughput (sweeps)."""

    model: str
    url: str
    protocol: str
    engine: str
    rows: list[BenchRow] = field(default_factory=list)
    best: Variant | None = None
    applied: list[str] = field(default_factory=list)  # files written by --apply

    def variants(self) -> list[Variant]:
        seen: list[Variant] = []
        for row in self.rows:
            if row.variant not in seen:
                seen.append(row.variant)
        return seen

    def peak(self, variant: Variant) -> Measurement:
        """The highest-throughput point of a variant."""
        return max((r.measurement for r in self.rows if r.variant == variant), key=lambda m: m.infer_per_s)

    def to_dict(self) -> dict[str, Any]:
        return {
            "model": self.model,
            "url": self.url,
            "protocol": self.protocol,
            "engine": self.engine,
            "best": None if self.best is None else {**asdict(self.best), "label": self.best.label},
            "applied": list(self.applied),
            "rows": [
                {"variant": r.variant.label, "instances": r.variant.instances,
                 "dynamic_batching": r.variant.dynamic_batching, **asdict(r.measurement)}
                for r in self.rows
            ],
        }  # fmt: skip

    def to_csv(self) -> str:
        import csv
        import io

        buffer = io.StringIO()
        columns = ["variant", "instances", "dynamic_batching", "batch_size", "concurrency", "infer_per_s",
                   "p50_ms", "p90_ms", "p99_ms", "requests", "seconds", "engine"]  # fmt: skip
        writer = csv.DictWriter(buffer, fieldnames=columns, extrasaction="ignore", lineterminator="\n")
        writer.writeheader()
        for row in self.to_dict()["rows"]:
            writer.writerow(row)
        return buffer.getvalue()
