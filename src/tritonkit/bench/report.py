"""The results as people read them: the text table and the PNG chart."""

from __future__ import annotations

from pathlib import Path

from tritonkit.bench.result import BenchResult
from tritonkit.errors import UsageError


def format_table(result: BenchResult) -> str:
    """The results as a text table; in a sweep the best variant's peak row is marked."""
    header = ["config", "batch", "conc", "infer/s", "p50 ms", "p90 ms", "p99 ms", ""]
    lines = []
    best_row = result.peak(result.best) if result.best is not None else None
    for row in result.rows:
        m = row.measurement
        mark = "<- best" if best_row is not None and m is best_row else ""
        lines.append([row.variant.label, str(m.batch_size), str(m.concurrency), f"{m.infer_per_s:,.1f}",
                      f"{m.p50_ms:.2f}", f"{m.p90_ms:.2f}", f"{m.p99_ms:.2f}", mark])  # fmt: skip
    widths = [max(len(r[i]) for r in [header, *lines]) for i in range(len(header))]

    def fmt(cells: list[str]) -> str:
        return "  ".join(
            c.ljust(w) if i in (0, 7) else c.rjust(w)
            for i, (c, w) in enumerate(zip(cells, widths, strict=True))
        ).rstrip()

    out = [fmt(header), fmt(["-" * w for w in widths])] + [fmt(r) for r in lines]
    if result.best is not None and len(result.variants()) > 1:
        baseline = result.peak(result.variants()[0]).infer_per_s
        best = result.peak(result.best)
        ratio = best.infer_per_s / baseline if baseline else float("nan")
        out.append("")
        out.append(
            f"best: {result.best.label}: {best.infer_per_s:,.1f} infer/s at concurrency {best.concurrency} "
            f"({ratio:.2f}x the first variant, {result.variants()[0].label})"
        )
    return "\n".join(out)


def save_plot(result: BenchResult, path: Path) -> Path:
    """A PNG of throughput and p99 latency against concurrency, one line per variant and batch size."""
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError as exc:
        raise UsageError(
            "--plot needs matplotlib", hint="pip install matplotlib (into tritonkit's venv)"
        ) from exc
    fig, (ax_qps, ax_p99) = plt.subplots(1, 2, figsize=(11, 4.2))
    for variant in result.variants():
        for batch in sorted({r.measurement.batch_size for r in result.rows if r.variant == variant}):
            points = sorted(
                (
                    r.measurement
                    for r in result.rows
                    if r.variant == variant and r.measurement.batch_size == batch
                ),
                key=lambda m: m.concurrency,
            )
            label = variant.label + (f", batch {batch}" if batch != 1 else "")
            xs = [m.concurrency for m in points]
            ax_qps.plot(xs, [m.infer_per_s for m in points], marker="o", label=label)
            ax_p99.plot(xs, [m.p99_ms for m in points], marker="o", label=label)
    ax_qps.set(title=f"{result.model}: throughput", xlabel="concurrency", ylabel="infer/s")
    ax_p99.set(title=f"{result.model}: p99 latency", xlabel="concurrency", ylabel="ms")
    for ax in (ax_qps, ax_p99):
        ax.grid(True, alpha=0.3)
        ax.legend(fontsize=8)
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=100)
    plt.close(fig)
    return path
