"""The results as people read them: the text table, the charts (PNG) and the HTML report bundling both."""

from __future__ import annotations

import base64
import html
import io
import math
from pathlib import Path
from typing import TYPE_CHECKING, Any

from tritonkit.bench.result import BenchResult, BenchRow

if TYPE_CHECKING:
    from matplotlib.figure import Figure

COLUMNS = (
    "config",
    "batch",
    "conc",
    "req/s",
    "infer/s",
    "p50 ms",
    "p90 ms",
    "p99 ms",
    "spread %",
    "queue ms",
    "compute ms",
)


def _num(value: float, digits: int = 2) -> str:
    return "-" if math.isnan(value) else f"{value:,.{digits}f}"


def table_rows(result: BenchResult) -> list[tuple[BenchRow, list[str], bool]]:
    """Each row's cells and whether it is the best point (the peak of the best variant)."""
    best_point = result.peak(result.best) if result.best is not None else None
    out = []
    for row in result.rows:
        m = row.measurement
        compute = m.compute_input_ms + m.compute_infer_ms + m.compute_output_ms
        cells = [
            row.variant.label,
            str(m.batch_size),
            str(m.concurrency),
            _num(m.requests_per_s, 1),
            _num(m.infer_per_s, 1),
            _num(m.p50_ms),
            _num(m.p90_ms),
            _num(m.p99_ms),
            _num(m.spread_pct, 0) + (f" x{m.runs}" if m.runs > 1 else ""),
            _num(m.queue_ms),
            _num(compute),
        ]
        out.append((row, cells, best_point is not None and m is best_point))
    return out


def format_table(result: BenchResult) -> str:
    """The results as a text table; the best point is marked with `*` before its config."""
    rows = table_rows(result)
    lines = [[("* " if best else "  ") + cells[0], *cells[1:]] for _, cells, best in rows]
    header = ["  " + COLUMNS[0], *COLUMNS[1:]]
    widths = [max(len(r[i]) for r in [header, *lines]) for i in range(len(header))]

    def fmt(cells: list[str]) -> str:
        return "  ".join(
            c.ljust(w) if i == 0 else c.rjust(w) for i, (c, w) in enumerate(zip(cells, widths, strict=True))
        ).rstrip()

    out = [fmt(header), fmt(["-" * w for w in widths])] + [fmt(r) for r in lines]
    out.append("")
    out.append(
        "req/s: requests per second; infer/s: inferences (samples) per second = req/s x batch; spread: "
        "how far the windows of a point were apart (xN: measured N times); queue / compute: per request, "
        "from the server's statistics"
    )
    if result.budget is not None:
        out.append(f"budget: {result.budget.label}")
    if result.best is not None:
        best = result.peak(result.best)
        line = (
            f"best (*): {result.best.label}: {best.infer_per_s:,.1f} infer/s "
            f"({best.requests_per_s:,.1f} req/s) at concurrency {best.concurrency}, p99 {best.p99_ms:.2f} ms"
        )
        variants = result.variants()
        if len(variants) > 1 and result.mode == "sweep":
            baseline = result.peak(variants[0]).infer_per_s
            ratio = best.infer_per_s / baseline if baseline else float("nan")
            line += f" ({ratio:.2f}x the first variant, {variants[0].label})"
        out.append(line)
    elif result.budget is not None:
        out.append(f"no config met the budget ({result.budget.label})")
    if result.runtime is not None:
        out.append(f"note: measured on {result.runtime}; the real backend may rank configs differently")
    return "\n".join(out)


# ------------------------------------------------------------------------------------------------ charts


def _pyplot() -> Any:
    from tritonkit.errors import import_optional

    matplotlib = import_optional("matplotlib", package="matplotlib", extra="bench", needed_for="bench charts")
    matplotlib.use("Agg")
    return import_optional(
        "matplotlib.pyplot", package="matplotlib", extra="bench", needed_for="bench charts"
    )


def chart_title(result: BenchResult) -> str:
    return f"{result.model}: {result.mode}, engine {result.engine}, server {result.url}, {result.date}"


def build_figure(result: BenchResult) -> Figure:
    """The charts of a result in one figure (its axes carry labels and data that tests read back).

    Several concurrency levels: throughput against p99 latency, one line per variant and batch size
    (Model Analyzer's curve), and throughput against concurrency. One level: bars per variant for
    throughput and for p99. Both: the budget drawn, the best point marked, axes from 0, and the
    queue / compute split of the best variant's points from the server's statistics.
    """
    from matplotlib.ticker import MaxNLocator

    plt = _pyplot()
    best_point = result.peak(result.best) if result.best is not None else None
    levels = sorted({r.measurement.concurrency for r in result.rows})
    fig, axes = plt.subplots(1, 3, figsize=(16, 4.8))
    main, second, split = axes
    series = [(v, b) for v in result.variants() for b in sorted({m.batch_size for m in result.points(v)})]
    if len(levels) > 1:
        for variant, batch in series:
            pts = sorted(
                (m for m in result.points(variant) if m.batch_size == batch), key=lambda m: m.concurrency
            )
            label = variant.label + (f", batch {batch}" if batch != 1 else "")
            main.plot([m.p99_ms for m in pts], [m.infer_per_s for m in pts], marker="o", label=label)
            second.plot([m.concurrency for m in pts], [m.infer_per_s for m in pts], marker="o", label=label)
        main.set(xlabel="p99 latency (ms)", ylabel="inferences/s", title="throughput vs p99 latency")
        second.set(xlabel="concurrency", ylabel="inferences/s", title="throughput vs concurrency")
        second.xaxis.set_major_locator(MaxNLocator(integer=True))
        if result.budget is not None and result.budget.percentile == "p99":
            main.axvline(
                result.budget.limit_ms, color="red", linestyle="--", label=f"budget {result.budget.label}"
            )
        if best_point is not None:
            for panel, x in ((main, best_point.p99_ms), (second, best_point.concurrency)):
                panel.plot(
                    [x],
                    [best_point.infer_per_s],
                    marker="*",
                    markersize=18,
                    color="gold",
                    markeredgecolor="black",
                    linestyle="none",
                    label="best",
                )
    else:
        labels = [v.label + (f", batch {b}" if b != 1 else "") for v, b in series]
        peaks = [
            max((m for m in result.points(v) if m.batch_size == b), key=lambda m: m.infer_per_s)
            for v, b in series
        ]
        colors = ["gold" if m is best_point else "tab:blue" for m in peaks]
        main.bar(range(len(peaks)), [m.infer_per_s for m in peaks], color=colors, edgecolor="black")
        second.bar(range(len(peaks)), [m.p99_ms for m in peaks], color=colors, edgecolor="black")
        for ax in (main, second):
            ax.set_xticks(range(len(peaks)), labels, rotation=20, ha="right", fontsize=8)
        main.set(ylabel="inferences/s", title=f"throughput at concurrency {levels[0]} (gold: best)")
        second.set(ylabel="p99 latency (ms)", title=f"p99 latency at concurrency {levels[0]}")
        if result.budget is not None and result.budget.percentile == "p99":
            second.axhline(
                result.budget.limit_ms, color="red", linestyle="--", label=f"budget {result.budget.label}"
            )
    _breakdown(split, result)
    for ax in axes:
        ax.set_ylim(bottom=0)
        ax.grid(True, alpha=0.3)
        if ax.get_legend_handles_labels()[0]:
            ax.legend(fontsize=7)
    if len(levels) > 1:
        main.set_xlim(left=0)
        second.set_xlim(left=0)
    fig.suptitle(chart_title(result), fontsize=10)
    fig.tight_layout()
    figure: Figure = fig
    return figure


def _breakdown(ax: Any, result: BenchResult) -> None:
    """Stacked bars of queue / compute input / infer / output per point of the best (or only) variant."""
    variant = result.best or (result.variants()[0] if result.rows else None)
    points = sorted(result.points(variant), key=lambda m: (m.batch_size, m.concurrency)) if variant else []
    names = ("queue_ms", "compute_input_ms", "compute_infer_ms", "compute_output_ms")
    bottoms = [0.0] * len(points)
    for name in names:
        values = [0.0 if math.isnan(getattr(m, name)) else float(getattr(m, name)) for m in points]
        ax.bar(range(len(points)), values, bottom=bottoms, label=name[:-3].replace("_", " "))
        bottoms = [b + v for b, v in zip(bottoms, values, strict=True)]
    ax.set_xticks(
        range(len(points)),
        [f"c{m.concurrency}" + (f" b{m.batch_size}" if m.batch_size > 1 else "") for m in points],
        fontsize=8,
    )
    label = variant.label if variant is not None else ""
    ax.set(xlabel="concurrency", ylabel="ms per request (server)", title=f"server time: {label}")


def save_plot(result: BenchResult, path: Path) -> Path:
    """The charts as a PNG."""
    fig = build_figure(result)
    path.parent.mkdir(parents=True, exist_ok=True)
    try:
        fig.savefig(path, dpi=100)
    finally:
        _pyplot().close(fig)
    return path


def render_html(result: BenchResult) -> str:
    """A self-contained HTML report: run details, the verdicts, the table and the charts (embedded PNG)."""
    fig = build_figure(result)
    buffer = io.BytesIO()
    try:
        fig.savefig(buffer, format="png", dpi=90)
    finally:
        _pyplot().close(fig)
    image = base64.b64encode(buffer.getvalue()).decode("ascii")
    e = html.escape
    details = [
        ("model", result.model),
        ("mode", result.mode),
        ("engine", result.engine),
        ("server", result.url),
        ("protocol", result.protocol),
        ("date", result.date),
        ("inputs", result.inputs),
    ]
    if result.budget is not None:
        details.append(("budget", result.budget.label))
    if result.best is not None:
        best = result.peak(result.best)
        details.append(
            (
                "best",
                f"{result.best.label}: {best.infer_per_s:,.1f} infer/s at concurrency "
                f"{best.concurrency}, p99 {best.p99_ms:.2f} ms",
            )
        )
    if result.wall_s:
        details.append(("wall time", f"{result.wall_s:.1f} s"))
    if result.runtime is not None:
        details.append(("warning", f"measured on {result.runtime}, not the real backend"))
    head = "".join(f"<th>{e(c)}</th>" for c in COLUMNS)
    body = "".join(
        f'<tr class="{"best" if best else ""}">' + "".join(f"<td>{e(c)}</td>" for c in cells) + "</tr>"
        for _, cells, best in table_rows(result)
    )
    verdicts = "".join(f"<li><b>{e(k)}</b>: {e(v)}</li>" for k, v in result.verdicts.items())
    return f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>{e(chart_title(result))}</title>
<style>body{{font-family:sans-serif;margin:2em}} table{{border-collapse:collapse}}
td,th{{border:1px solid #ccc;padding:2px 8px;text-align:right}}
td:first-child,th:first-child{{text-align:left}} tr.best{{background:#ffe680;font-weight:bold}}
img{{max-width:100%}}</style></head>
<body><h1>{e(result.model)}: tritonkit bench</h1>
<table id="details">{"".join(f"<tr><th>{e(k)}</th><td>{e(v)}</td></tr>" for k, v in details)}</table>
{f'<h2>Why each config won or lost</h2><ul id="verdicts">{verdicts}</ul>' if verdicts else ""}
<h2>Measurements</h2>
<table id="results"><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>
<p>req/s: requests per second; infer/s: inferences (samples) per second;
spread: how far the windows of a point were apart; queue / compute: ms per request from the server's
statistics. Highlighted: the best point.</p>
<h2>Charts</h2><img id="charts" alt="throughput and latency charts" src="data:image/png;base64,{image}">
</body></html>
"""
