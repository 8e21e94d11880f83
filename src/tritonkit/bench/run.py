"""`tritonkit bench`: the names of the bench package in one place (the public API imports them from here).

`measure` measures a model as loaded, `sweep` tries config variants, `apply` writes the chosen one,
`report` turns results into tables and charts.
"""

from __future__ import annotations

from tritonkit.bench.apply import apply_variant
from tritonkit.bench.measure import ENGINES, BenchOptions, Progress, run_bench
from tritonkit.bench.report import format_table, save_plot
from tritonkit.bench.result import BenchResult, BenchRow, Variant
from tritonkit.bench.sweep import plan_variants, run_sweep, variant_config

__all__ = [
    "ENGINES",
    "BenchOptions",
    "BenchResult",
    "BenchRow",
    "Progress",
    "Variant",
    "apply_variant",
    "format_table",
    "plan_variants",
    "run_bench",
    "run_sweep",
    "save_plot",
    "variant_config",
]
