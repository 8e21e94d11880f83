"""Where a request's time goes on the server: queue and compute (input, infer, output), per point.

From the server's statistics (`GET /v2/models/M/stats`; gRPC ModelStatistics): cumulative counts and
nanoseconds per phase, read before and after a point; the difference over the point's successful
requests is the average per request, the breakdown Model Analyzer draws from the same numbers.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from tritonkit.errors import TritonkitError

if TYPE_CHECKING:
    from tritonkit.client.client import Client

PHASES = ("success", "queue", "compute_input", "compute_infer", "compute_output")


@dataclass(frozen=True)
class Counters:
    """Cumulative (count, ns) per phase of one model, summed over its versions."""

    values: dict[str, tuple[int, int]]

    def minus(self, before: Counters) -> Breakdown:
        """Average ms per request over the requests between `before` and this reading."""

        def delta(phase: str) -> tuple[int, int]:
            c1, n1 = self.values.get(phase, (0, 0))
            c0, n0 = before.values.get(phase, (0, 0))
            return c1 - c0, n1 - n0

        requests = delta("success")[0]

        def avg(phase: str) -> float:
            count, ns = delta(phase)
            return ns / count / 1e6 if count > 0 else float("nan")

        return Breakdown(
            requests, avg("queue"), avg("compute_input"), avg("compute_infer"), avg("compute_output")
        )


@dataclass(frozen=True)
class Breakdown:
    """Average ms per request in each server phase over one point."""

    requests: int
    queue_ms: float
    compute_input_ms: float
    compute_infer_ms: float
    compute_output_ms: float


def read_counters(client: Client, model: str) -> Counters | None:
    """The model's cumulative statistics now; None when the server does not give them."""
    try:
        conn = client._connection()
        if client.protocol == "grpc":
            raw: Any = conn.get_inference_statistics(model, as_json=True)
        else:
            raw = conn.get_inference_statistics(model)
    except TritonkitError:
        raise
    except Exception:  # statistics are extra: a server without them still gets measured
        return None
    return parse_counters(raw)


def parse_counters(raw: dict[str, Any]) -> Counters:
    """The stats JSON (HTTP, or gRPC as JSON with string counts) -> Counters."""
    totals: dict[str, tuple[int, int]] = {}
    for entry in raw.get("model_stats", []):
        stats = entry.get("inference_stats", {})
        for phase in PHASES:
            item = stats.get(phase) or {}
            count, ns = totals.get(phase, (0, 0))
            totals[phase] = (count + int(item.get("count", 0) or 0), ns + int(item.get("ns", 0) or 0))
    return Counters(totals)
