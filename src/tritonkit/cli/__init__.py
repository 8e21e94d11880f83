"""The `tritonkit` command: a thin typer layer over the library API (see `tritonkit/__init__.py`).

Each module registers its commands on the shared app; heavy libraries are imported only inside
the commands that need them, so `tritonkit --help` and `tritonkit validate` stay light.
"""

from __future__ import annotations

# Importing a module registers its commands on the app.
from tritonkit.cli import client as _client  # noqa: F401  (infer, test, bench)
from tritonkit.cli import export as _export  # noqa: F401  (export)
from tritonkit.cli import scaffold as _scaffold  # noqa: F401  (init, add, render)
from tritonkit.cli import serve as _serve  # noqa: F401  (serve, login, status, logs, stop)
from tritonkit.cli import validate as _validate  # noqa: F401  (validate, describe)
from tritonkit.cli._app import app, main, run

__all__ = ["app", "main", "run"]
