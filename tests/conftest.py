"""Shared fixtures: an isolated HOME and cwd per test, and the rule for real components.

Tests that need a real component (Triton server, Docker engine, torch) call `require(...)`: outside
CI a missing component skips with a reason saying how to enable it; with CI=true it fails.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

IN_CI = os.environ.get("CI", "").lower() == "true"


def require(available: bool, what: str, how: str) -> None:
    """Skip (locally) or fail (CI=true) when a real component is missing."""
    if available:
        return
    message = f"{what} is not available: {how}"
    if IN_CI:
        pytest.fail(f"{message} (CI=true: real components are required, not skipped)")
    pytest.skip(message)


def require_server() -> None:
    """The real Triton server of the nvidia-pytriton wheel (skip locally, fail with CI=true)."""
    try:
        from tritonkit.serve.binary import find_install

        find_install()
        available = True
    except Exception:
        available = False
    require(available, "the Triton server of the nvidia-pytriton wheel", "pip install 'tritonkit[server]'")


@pytest.fixture(autouse=True)
def isolated_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Every test gets its own HOME, XDG dirs and working folder."""
    home = tmp_path / "home"
    home.mkdir()
    monkeypatch.setenv("HOME", str(home))
    monkeypatch.setenv("XDG_CONFIG_HOME", str(home / ".config"))
    monkeypatch.setenv("XDG_CACHE_HOME", str(home / ".cache"))
    monkeypatch.setenv("XDG_STATE_HOME", str(home / ".local" / "state"))
    work = tmp_path / "work"
    work.mkdir()
    monkeypatch.chdir(work)
    return home
