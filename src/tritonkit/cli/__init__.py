"""The `tritonkit` command: a thin typer layer over the library API (see `tritonkit/__init__.py`).

Each module registers its commands on the shared app; heavy libraries are imported only inside
the commands that need them, so `tritonkit --help` and `tritonkit validate` stay light.
"""

from __future__ import annotations

from tritonkit.cli import scaffold as _scaffold  # noqa: F401  (registers init, add, render)
from tritonkit.cli._app import app, main, run

__all__ = ["app", "main", "run"]
