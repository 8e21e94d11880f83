"""`tritonkit bench`: the names of the bench package in one place (the public API imports them from here).

`measure` measures a model as loaded (`data`: what it sends; `stats`: the server's queue / compute
split), `sweep` tries a grid of config variants, `tune` searches them under a latency budget, `apply`
writes the chosen one, `report` turns results into tables, charts and an HTML report.
"""

from __future__ import annotations

from tritonkit.bench.apply import apply_variant
from tritonkit.bench.measure import ENGINES, BenchOptions, Progress, run_bench
from tritonkit.bench.report import build_figure, format_table, render_html, save_plot
from tritonkit.bench.result import BenchResult, BenchRow, Budget, Variant
from tritonkit.bench.sweep import plan_variants, run_sweep, variant_config
from tritonkit.bench.tune import TuneSpace, run_tune

__all__ = [
    "ENGINES",
    "BenchOptions",
    "BenchResult",
    "BenchRow",
    "Budget",
    "Progress",
    "TuneSpace",
    "Variant",
    "apply_variant",
    "build_figure",
    "format_table",
    "plan_variants",
    "render_html",
    "run_bench",
    "run_sweep",
    "run_tune",
    "save_plot",
    "variant_config",
]
