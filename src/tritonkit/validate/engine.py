"""Offline validation of a model repository: layout, schema and the server's semantic rules.

`validate_repository` scans the repository once, parses each `config.pbtxt` with the official
schema, and runs the rule families of `tritonkit.validate.rules` over every model (ensemble rules see the
whole repository). It returns a `ValidationReport` of findings; only the CLI prints.

Speed matters (CI runs this on every push): the per-model work is one `scandir`, one read, one
parse and a few attribute reads. Every config is read first; then models are taken one at a time:
parsed, then checked by their own rules while the parsed message is fresh in the CPU's caches, then
(when no model reads other models' configs) dropped, so memory stays flat; ensembles and BLS callers,
whose rules read other models' configs, run once every config is parsed.
Line numbers for findings are located only in files that have findings, and nothing heavy (jinja,
torch, HTTP clients) is imported.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from tritonkit.errors import RepositoryError, UsageError
from tritonkit.model.schema import parse_config_safely
from tritonkit.repository.scan import CONFIG_FILE, ModelFolder, child_path, scan_repository
from tritonkit.validate import rules
from tritonkit.validate.context import ModelContext, RepositoryContext
from tritonkit.validate.findings import Finding
from tritonkit.validate.rules import layout, schema

if TYPE_CHECKING:
    from tritonkit.validate.target import Target


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
    return ModelContext(folder, child_path(folder.location, CONFIG_FILE))


def load_config(model: ModelContext) -> list[Finding]:
    """Read and parse the model's config.pbtxt; findings for unreadable, binary or unparsable files."""
    return read_config(model) or parse_config(model)


def read_config(model: ModelContext) -> list[Finding]:
    """Read the model's config.pbtxt into `model.text`; findings for unreadable, binary or non-UTF-8 files."""
    try:
        data = _read_file(model.config_file)
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
    model.ignored = inline_ignores(text)
    return []


def parse_config(model: ModelContext) -> list[Finding]:
    """Parse `model.text` (read by `read_config`) into `model.config`; a finding if it does not parse."""
    text = model.text
    if text is None:
        return []
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
    model.keep_config(config)
    return []


def _read_file(path: str) -> bytes:
    """The bytes of a small file in four system calls (open, read, read at the end, close), where `open()`
    makes nine (fstat twice, ioctl, lseek twice for its buffering): validate reads thousands of configs."""
    fd = os.open(path, os.O_RDONLY | os.O_CLOEXEC)
    try:
        chunks = []
        while chunk := os.read(fd, 1 << 16):
            chunks.append(chunk)
    finally:
        os.close(fd)
    return chunks[0] if len(chunks) == 1 else b"".join(chunks)


_QUOTED_LINE = re.compile(r"^'.*': (?=Enum type)", re.DOTALL)


def validate_repository(
    repository: Path | str,
    *,
    artifacts: bool = True,
    target: str | Target | None = None,
    gpus: int | None = None,
    ignore: Iterable[str] = (),
    select: Iterable[str] = (),
) -> ValidationReport:
    """Validate every model of `repository` offline; raises RepositoryError if it cannot be read.

    With `artifacts=False`, model files are not looked at (only configs and layout), for CI that has
    no model files. `target` is the Triton release (NGC tag `24.10` or server version `2.51`; default:
    the image `serve` uses); `gpus` the GPU count of the machine (GPU-id checks are warnings without
    it). `ignore` / `select` are rule ids or families (`io`, `io.bad-dim`); so is each
    `# tritonkit: ignore=RULE[,RULE]` comment in a config.pbtxt, for that model. A UsageError names an
    unknown rule or release.
    """
    from tritonkit.validate.target import Target, resolve_target

    ignored, selected = _rule_names(ignore, "--ignore"), _rule_names(select, "--select")
    release = target if isinstance(target, Target) else resolve_target(target)
    if gpus is not None and gpus < 0:
        raise UsageError(f"--gpus must be 0 or more, got {gpus}", hint="give the GPU count of the machine")
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
    models = {folder.name: model_context(folder) for folder in scan.models}
    context = RepositoryContext(path=root, models=models, artifacts=artifacts, target=release, gpus=gpus)
    for model in models.values():
        if model.has_config:
            findings.extend(read_config(model))
    # Then one model at a time: parse, then its own rules. Models whose rules read other models' configs
    # wait until every config is parsed; when no model can (see `_read_by_others`), each parsed config is
    # dropped once its own rules ran, so memory stays flat however large the repository.
    keep = _read_by_others(models.values(), artifacts)
    waiting: list[ModelContext] = []
    for model in models.values():
        findings.extend(parse_config(model))
        if model.config is not None:
            schema.complete_backend(model, release)
        if rules.reads_other_models(model, context):
            waiting.append(model)
            continue
        findings.extend(rules.check_model(model, context))
        if not keep:
            model.drop_config()
    for model in waiting:
        findings.extend(rules.check_model(model, context))
    findings.extend(rules.check_repository(context))
    findings = [f for f in findings if _kept(f, ignored, selected, models)]
    findings.sort(key=_order)
    return ValidationReport(repository=str(root), models=sorted(models), findings=findings)


def _read_by_others(models: Iterable[ModelContext], artifacts: bool) -> bool:
    """Whether a model's rules may read other models' configs (`rules.reads_other_models`): an ensemble's
    do, and the word `ensemble` is then in its config text (its platform; the server never infers that
    one); a Python model's BLS rules do when model files are looked at, and its backend may come from a
    model.py alone, so with artifacts every config is kept."""
    return artifacts or any(model.text is not None and "ensemble" in model.text for model in models)


def _rule_names(names: Iterable[str], flag: str) -> frozenset[str]:
    """Rule ids and family names, each checked against the registry."""
    known = set(rules.RULES) | {r.family for r in rules.RULES.values()}
    wanted = frozenset(n.strip() for name in names for n in name.split(",") if n.strip())
    unknown = sorted(wanted - known)
    if unknown:
        raise UsageError(
            f"{flag}: unknown rule {unknown[0]!r}",
            hint="give a rule id or a family (tritonkit validate --list-rules lists them)",
        )
    return wanted


def _kept(
    finding: Finding, ignored: frozenset[str], selected: frozenset[str], models: dict[str, ModelContext]
) -> bool:
    names = (finding.rule, finding.rule.split(".", 1)[0])
    if selected and not any(n in selected for n in names):
        return False
    model = models.get(finding.model or "")
    inline = model.ignored if model is not None else frozenset()
    return not any(n in ignored or n in inline for n in names)


_IGNORE_COMMENT = re.compile(r"#\s*tritonkit:\s*ignore\s*=\s*([A-Za-z0-9_.,\- ]+)")


def inline_ignores(text: str) -> frozenset[str]:
    """The rule ids and families of the `# tritonkit: ignore=RULE[,RULE]` comments in a config text."""
    if "tritonkit:" not in text:
        return frozenset()
    return frozenset(
        n.strip() for match in _IGNORE_COMMENT.finditer(text) for n in match.group(1).split(",") if n.strip()
    )


_SEVERITY_ORDER = {"error": 0, "warning": 1, "info": 2}


def _order(f: Finding) -> tuple[str, str, int, int, str]:
    return (f.model or "", f.file or "", f.line or 0, _SEVERITY_ORDER.get(f.severity, 3), f.rule)
