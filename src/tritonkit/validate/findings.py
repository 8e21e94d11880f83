"""Findings and the rules that make them: one `Rule` value per rule, one `Finding` per problem found."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any, Literal

Severity = Literal["error", "warning", "info"]


@dataclass(frozen=True)
class Rule:
    """One validation rule as the registry lists it: a stable id `<family>.<name>`, its default severity,
    what it checks in one line, and the server code it mirrors (function and file) or why it has none."""

    id: str
    severity: Severity
    summary: str
    mirrors: str

    @property
    def family(self) -> str:
        return self.id.split(".", 1)[0]

    def finding(
        self,
        message: str,
        *,
        model: str | None = None,
        file: str | None = None,
        line: int | None = None,
        column: int | None = None,
        hint: str | None = None,
        severity: Severity | None = None,
    ) -> Finding:
        """A finding of this rule; `severity` overrides the default where the server's verdict depends
        on the case (e.g. a version policy naming some missing versions loads, naming only missing ones
        does not)."""
        return Finding(severity or self.severity, self.id, message, model, file, line, column, hint)

    def to_dict(self) -> dict[str, str]:
        return {
            "id": self.id,
            "family": self.family,
            "severity": self.severity,
            "summary": self.summary,
            "mirrors": self.mirrors,
        }


@dataclass
class Family:
    """The rules of one family (one module of `tritonkit.validate.rules`), declared beside their checks."""

    name: str
    summary: str
    rules: list[Rule] = field(default_factory=list)

    def rule(self, name: str, severity: Severity, summary: str, *, mirrors: str) -> Rule:
        """Declare the rule `<family>.<name>` once; the check functions make findings from the value."""
        declared = Rule(f"{self.name}.{name}", severity, summary, mirrors)
        if any(r.id == declared.id for r in self.rules):
            raise ValueError(f"rule {declared.id} is declared twice")
        self.rules.append(declared)
        return declared


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
