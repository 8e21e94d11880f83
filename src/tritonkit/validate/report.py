"""Formatting a ValidationReport as text, JSON, GitHub workflow annotations or SARIF 2.1.0, and the rule
registry as text or JSON (returns strings)."""

from __future__ import annotations

import json
from collections.abc import Iterable
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from tritonkit.validate.engine import ValidationReport
    from tritonkit.validate.findings import Finding, Rule


def location(finding: Finding) -> str:
    """`file:line:column` with the parts that are known."""
    where = finding.file or finding.model or "."
    if finding.line:
        where += f":{finding.line}"
        if finding.column:
            where += f":{finding.column}"
    return where


def summary(report: ValidationReport) -> str:
    errors, warnings = len(report.errors), len(report.warnings)
    models = len(report.models)
    verdict = "ok" if report.ok else "failed"
    return (
        f"{verdict}: {errors} error{'s' * (errors != 1)}, {warnings} warning{'s' * (warnings != 1)} "
        f"in {models} model{'s' * (models != 1)} ({report.repository})"
    )


def format_text(report: ValidationReport) -> str:
    """One line per finding (`file:line:col: severity [rule] model: message`), its hint, a summary."""
    lines: list[str] = []
    for f in report.findings:
        model = f"{f.model}: " if f.model else ""
        lines.append(f"{location(f)}: {f.severity} [{f.rule}] {model}{_one_line(f.message)}")
        if f.hint:
            lines.append(f"    hint: {_one_line(f.hint)}")
    lines.append(summary(report))
    return "\n".join(lines)


def format_json(report: ValidationReport) -> str:
    """The report's dict as indented JSON: {"ok", "models", "findings"}."""
    return json.dumps(report.to_dict(), indent=2, ensure_ascii=False)


def _escape_data(text: str) -> str:
    return text.replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A")


def _escape_property(text: str) -> str:
    return _escape_data(text).replace(":", "%3A").replace(",", "%2C")


_COMMANDS = {"error": "error", "warning": "warning", "info": "notice"}


def format_github(report: ValidationReport) -> str:
    """GitHub Actions workflow commands (`::error file=...,line=...,title=...::message`), then a summary."""
    lines: list[str] = []
    for f in report.findings:
        props = []
        if f.file:
            props.append(f"file={_escape_property(f.file)}")
        if f.line:
            props.append(f"line={f.line}")
            if f.column:
                props.append(f"col={f.column}")
        title = f"{f.rule}" + (f" ({f.model})" if f.model else "")
        props.append(f"title={_escape_property(title)}")
        message = f.message + (f"\nhint: {f.hint}" if f.hint else "")
        lines.append(f"::{_COMMANDS.get(f.severity, 'notice')} {','.join(props)}::{_escape_data(message)}")
    lines.append(summary(report))
    return "\n".join(lines)


_SARIF_LEVELS = {"error": "error", "warning": "warning", "info": "note"}


def format_sarif(report: ValidationReport, rules: Iterable[Rule]) -> str:
    """SARIF 2.1.0 (what GitHub code scanning uploads): one run, the registry as the driver's rules (id,
    summary, the server code it mirrors, default level), one result per finding at file:line:column."""
    from tritonkit import __version__

    registry = list(rules)
    index = {r.id: i for i, r in enumerate(registry)}
    results = []
    for f in report.findings:
        location: dict[str, object] = {"artifactLocation": {"uri": _uri(f.file or report.repository)}}
        if f.line:
            region: dict[str, int] = {"startLine": f.line}
            if f.column:
                region["startColumn"] = f.column
            location["region"] = region
        result: dict[str, object] = {
            "ruleId": f.rule,
            "level": _SARIF_LEVELS.get(f.severity, "note"),
            "message": {"text": f.message + (f"\nhint: {f.hint}" if f.hint else "")},
            "locations": [{"physicalLocation": location}],
        }
        if f.rule in index:
            result["ruleIndex"] = index[f.rule]
        if f.model:
            result["properties"] = {"model": f.model}
        results.append(result)
    driver = {
        "name": "tritonkit",
        "version": __version__,
        "rules": [
            {
                "id": r.id,
                "name": r.id.replace(".", "/"),
                "shortDescription": {"text": r.summary},
                "fullDescription": {"text": f"{r.summary}. Mirrors: {r.mirrors}"},
                "defaultConfiguration": {"level": _SARIF_LEVELS[r.severity]},
                "properties": {"family": r.family, "mirrors": r.mirrors},
            }
            for r in registry
        ],
    }
    sarif = {
        "$schema": "https://json.schemastore.org/sarif-2.1.0.json",
        "version": "2.1.0",
        "runs": [{"tool": {"driver": driver}, "results": results}],
    }
    return json.dumps(sarif, indent=2, ensure_ascii=False)


def _uri(path: str) -> str:
    """A relative path as a URI reference with forward slashes; an absolute one as a file:// URI."""
    from pathlib import Path, PurePosixPath
    from urllib.parse import quote

    if "://" in path:
        return path
    p = Path(path)
    if p.is_absolute():
        return p.as_uri()
    return quote(str(PurePosixPath(*p.parts)))


def format_report(report: ValidationReport, fmt: str) -> str:
    """Dispatch on `fmt` (text, json, github, sarif)."""
    if fmt == "json":
        return format_json(report)
    if fmt == "github":
        return format_github(report)
    if fmt == "sarif":
        from tritonkit.validate.rules import RULES

        return format_sarif(report, RULES.values())
    return format_text(report)


def _one_line(text: str) -> str:
    return " ".join(text.split("\n"))


def format_rules(rules: Iterable[Rule], fmt: str) -> str:
    """The registry: JSON `[{"id", "family", "severity", "summary", "mirrors"}]`, or one line per rule."""
    rules = list(rules)
    if fmt == "json":
        return json.dumps([r.to_dict() for r in rules], indent=2, ensure_ascii=False)
    width = max((len(r.id) for r in rules), default=0)
    return "\n".join(f"{r.id:<{width}}  {r.severity:<7}  {r.summary}" for r in rules)
