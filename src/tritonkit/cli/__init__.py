"""The `tritonkit` command: a thin typer layer over the library API (see `tritonkit/__init__.py`).

Each module registers its commands on the shared app when imported. Only the module of the command
being run is imported (all of them for `--help` or an unknown command), and heavy libraries load
only inside the commands that need them, so start-up stays short for every command.
"""

from __future__ import annotations

import importlib
import sys

from tritonkit.cli import _app
from tritonkit.cli._app import app

# command -> module under tritonkit.cli; the order here is the order of `tritonkit --help`.
COMMAND_MODULES: dict[str, str] = {
    "init": "scaffold",
    "add": "scaffold",
    "render": "scaffold",
    "import": "scaffold",
    "remove": "scaffold",
    "schema": "scaffold",
    "export": "export",
    "validate": "validate",
    "describe": "validate",
    "serve": "serve",
    "login": "serve",
    "status": "serve",
    "logs": "serve",
    "stop": "serve",
    "infer": "client",
    "test": "client",
    "bench": "client",
    "push": "deploy",
    "deploy": "deploy",
}


def load_commands(argv: list[str] | None = None) -> None:
    """Register the commands `argv` needs: its command's module, or every module."""
    args = sys.argv[1:] if argv is None else argv
    command = next((a for a in args if not a.startswith("-")), None)
    if command in COMMAND_MODULES and "--help" not in args[: args.index(command)]:
        modules = [COMMAND_MODULES[command]]
    else:
        modules = list(dict.fromkeys(COMMAND_MODULES.values()))
    for module in modules:
        importlib.import_module(f"tritonkit.cli.{module}")


def run(argv: list[str] | None = None) -> int:
    """Run the CLI with `argv` (default: sys.argv) and return the exit code."""
    load_commands(argv)
    return _app.run(argv)


def main() -> None:
    """Console-script entry point."""
    from tritonkit.signals import ignore

    code = run()
    ignore()  # the command is over and said what it left: a late signal must not kill the exit with -15
    sys.exit(code)


__all__ = ["COMMAND_MODULES", "app", "load_commands", "main", "run"]
