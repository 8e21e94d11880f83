"""Findings: what validation (and the artifact checks) report, one problem each."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any, Literal

Severity = Literal["error", "warning", "info"]


@dataclass(frozen=True)
class Finding:
    """One problem in a repository: severity, stable rule id, where, what, and what to do.

    `info` findings say something was not checked (e.g. artifact checks skipped without torch);
    only `error` findings make validation fail.
    """

    severity: Severity
    rule: str
    message: str
    model: str | None = None
    file: str | None = None
    line: int | None = None
    column: int | None = None
    hint: str | None = None

    def to_dict(self) -> dict[str, Any]:
        """The JSON shape: severity, model, file, line, rule, message, hint (column when known)."""
        data = asdict(self)
        return {
            k: data[k] for k in ("severity", "model", "file", "line", "column", "rule", "message", "hint")
        }
