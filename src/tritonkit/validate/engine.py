"""Offline validation of a model repository: layout, schema and the server's semantic rules.

`validate_repository` scans the repository once, parses each `config.pbtxt` with the official
schema, and runs the rule families of `tritonkit.validate.rules` over every model (ensemble rules see the
whole repository). It returns a `ValidationReport` of findings; only the CLI prints.

Speed matters (CI runs this on every push): the per-model work is one `scandir`, one read, one
parse and a few attribute reads. Line numbers for findings are located only in files that have
findings, and nothing heavy (jinja, torch, HTTP clients) is imported.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from tritonkit.errors import RepositoryError
from tritonkit.repository.scan import CONFIG_FILE, ModelFolder, scan_repository
from tritonkit.validate import rules
from tritonkit.validate.context import ModelContext, RepositoryContext
from tritonkit.validate.findings import Finding
from tritonkit.validate.rules import layout, schema


@dataclass
class ValidationReport:
    """The outcome of validating a repository: its models and every finding."""

    repository: str
    models: list[str]
    findings: list[Finding]

    @property
    def ok(self) -> bool:
        """True when there is no error (warnings and info do not fail validation)."""
        return not any(f.severity == "error" for f in self.findings)

    @property
    def errors(self) -> list[Finding]:
        return [f for f in self.findings if f.severity == "error"]

    @property
    def warnings(self) -> list[Finding]:
        return [f for f in self.findings if f.severity == "warning"]

    def to_dict(self) -> dict[str, Any]:
        """`{"ok", "models", "findings": [...]}`: the JSON shape of `validate --format json`."""
        return {"ok": self.ok, "models": list(self.models), "findings": [f.to_dict() for f in self.findings]}


def _shown_root(root: Path) -> Path:
    """The repository as findings name it: relative to the working folder when it lies inside it."""
    if not root.is_absolute():
        return root
    try:
        return root.relative_to(Path.cwd())
    except (ValueError, OSError):
        return root


def model_context(folder: ModelFolder) -> ModelContext:
    """The model folder as `repository.scan` found it, in the context the rules read."""
    return ModelContext(
        name=folder.name,
        path=folder.path,
        config_file=os.path.join(folder.path, CONFIG_FILE),
        has_config=folder.has_config,
        versions=folder.versions,
        leading_zero_dirs=folder.leading_zero_dirs,
        other_dirs=folder.other_dirs,
        broken_links=folder.broken_links,
    )


def load_config(model: ModelContext) -> list[Finding]:
    """Read and parse the model's config.pbtxt; findings for unreadable, binary or unparsable files."""
    from tritonkit.model.schema import parse_config_safely

    try:
        data = Path(model.config_file).read_bytes()
    except OSError as exc:
        return [model.finding(schema.UNREADABLE, f"cannot read {CONFIG_FILE}: {exc.strerror}")]
    if b"\x00" in data:
        return [
            model.finding(
                schema.BINARY,
                f"{CONFIG_FILE} is a binary file, not protobuf text",
                hint="config.pbtxt must be protobuf text (name: ..., input [ ... ]); is it a binary .pb?",
            )
        ]
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = data[: exc.start].count(b"\n") + 1
        return [
            model.finding(
                schema.NOT_UTF8,
                f"{CONFIG_FILE} is not UTF-8 text (byte 0x{data[exc.start]:02x} at offset {exc.start})",
                line=line,
                hint="save the file as UTF-8",
            )
        ]
    model.text = text
    config, problem = parse_config_safely(text)
    if problem is not None:
        rule = schema.PARSE_ERROR
        if "has no field named" in problem.message:
            rule = schema.UNKNOWN_FIELD
        elif "has no value named" in problem.message or "Unknown enum" in problem.message:
            rule = schema.UNKNOWN_VALUE
        # The parser quotes the whole offending line before an enum error; the position says enough.
        message = _QUOTED_LINE.sub("", problem.message)
        return [
            rule.finding(
                message,
                model=model.name,
                file=model.config_file,
                line=problem.line,
                column=problem.column,
                hint=problem.hint,
            )
        ]
    model.config = config
    return []


_QUOTED_LINE = re.compile(r"^'.*': (?=Enum type)", re.DOTALL)


def validate_repository(repository: Path | str, *, artifacts: bool = True) -> ValidationReport:
    """Validate every model of `repository` offline; raises RepositoryError if it cannot be read.

    With `artifacts=False`, model files are not looked at (only configs and layout), for CI that has
    no model files.
    """
    root = _shown_root(Path(repository))
    if not root.exists():
        raise RepositoryError(
            f"repository {root} does not exist", hint="give the repository folder, or run `tritonkit init`"
        )
    if not root.is_dir():
        raise RepositoryError(f"repository {root} is not a folder", hint="give the model repository folder")
    scan = scan_repository(root)
    if scan.is_model_folder:
        parent = root.absolute().parent
        raise RepositoryError(
            f"{root} is a model folder, not a model repository",
            hint=f"validate the repository that holds it: tritonkit validate {_shown_root(parent)}",
        )

    findings: list[Finding] = [
        layout.BROKEN_LINK.finding(
            f"{link.name} is a symbolic link that points nowhere (or to itself)",
            model=link.name,
            file=str(link),
            hint="remove the link or point it at a model folder",
        )
        for link in scan.broken_links
    ]
    models: dict[str, ModelContext] = {}
    for folder in scan.models:
        model = model_context(folder)
        models[folder.name] = model
        if model.has_config:
            findings.extend(load_config(model))

    context = RepositoryContext(path=root, models=models, artifacts=artifacts)
    for model in models.values():
        findings.extend(rules.check_model(model, context))
    findings.extend(rules.check_repository(context))
    findings.sort(key=_order)
    return ValidationReport(repository=str(root), models=sorted(models), findings=findings)


_SEVERITY_ORDER = {"error": 0, "warning": 1, "info": 2}


def _order(f: Finding) -> tuple[str, str, int, int, str]:
    return (f.model or "", f.file or "", f.line or 0, _SEVERITY_ORDER.get(f.severity, 3), f.rule)
