"""The command entry point as users run it: a fresh process per command (only its module loaded)."""

from __future__ import annotations

import re
import subprocess
import sys

import pytest

from tritonkit.cli import COMMAND_MODULES


@pytest.mark.parametrize("command", sorted(COMMAND_MODULES))
def test_each_command_runs_as_a_subcommand_in_a_fresh_process(command: str) -> None:
    proc = subprocess.run(
        [sys.executable, "-m", "tritonkit", command, "--help"], capture_output=True, text=True, timeout=60
    )
    assert proc.returncode == 0, proc.stderr
    # A lone loaded command must still be a subcommand, not the whole program.
    assert f"Usage: tritonkit {command} " in proc.stdout


def test_top_level_help_lists_every_command() -> None:
    proc = subprocess.run(
        [sys.executable, "-m", "tritonkit", "--help"], capture_output=True, text=True, timeout=60
    )
    assert proc.returncode == 0
    commands_part = proc.stdout.split("Commands")[1]
    for command in COMMAND_MODULES:
        assert re.search(rf"^\W*{command}\s", commands_part, re.MULTILINE), command


def test_unknown_command_is_a_usage_error() -> None:
    proc = subprocess.run(
        [sys.executable, "-m", "tritonkit", "frobnicate"], capture_output=True, text=True, timeout=60
    )
    assert proc.returncode == 2
    assert "No such command" in proc.stderr
