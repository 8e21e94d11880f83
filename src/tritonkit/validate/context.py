"""What the rules see: one model folder (`ModelContext`) and the whole repository (`RepositoryContext`).

Rules import this module and the engine imports the rules; neither imports the engine back.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from tritonkit.validate.findings import Finding, Rule, Severity

if TYPE_CHECKING:
    from tritonkit.repository.scan import ModelFolder
    from tritonkit.validate.target import Target


@dataclass
class ModelContext:
    """One model folder as the rules see it: where it is, its versions, its text and parsed config."""

    folder: ModelFolder  # as `repository.scan` found it: name, versions, other folders, links
    config_file: str  # display path of config.pbtxt (relative as the user gave the repository)
    text: str | None = None
    _config: Any = None  # inference.ModelConfig (see `config`)
    _packed: bytes | None = None  # the config serialized once its own rules ran (see `release`)
    ignored: frozenset[str] = frozenset()  # rule ids and families of `# tritonkit: ignore=...` comments
    # platform and backend as the server sees them after AutoCompleteBackendFields (the config's, else what
    # the core infers); "" without a parsed config or when the server cannot tell. Set by
    # `rules.schema.complete_backend` once per model: rules read them many times.
    platform: str = ""
    backend: str = ""
    _positions: dict[str, int] | None = None

    @property
    def config(self) -> Any:
        """The parsed `inference.ModelConfig`; None when absent or unparsable. A released model's config is
        unpacked again from its serialized bytes when another model's rules read it (an ensemble's member)."""
        if self._config is None and self._packed is not None:
            from tritonkit.model.schema import pb2

            self._config = pb2().ModelConfig.FromString(self._packed)
        return self._config

    @config.setter
    def config(self, value: Any) -> None:
        self._config, self._packed = value, None

    def release(self) -> None:
        """Done with this model's own rules: keep its config serialized (about a twentieth of the parsed
        message's memory) and drop its text, which `line` reads again if a finding needs it. Validate then
        holds one parsed config at a time, not thousands (each a fresh page or two in a large repository)."""
        if self._config is not None:
            self._packed = self._config.SerializeToString()
            self._config = None
            self.text = None

    @property
    def name(self) -> str:
        """The folder name (what Triton calls the model)."""
        return self.folder.name

    @property
    def has_config(self) -> bool:
        return self.folder.has_config

    @property
    def path(self) -> Path:
        return self.folder.path

    @property
    def versions(self) -> dict[int, Path]:
        """Version -> folder, as Paths (made on first use; `version_dirs` has the same keys)."""
        return self.folder.versions

    @property
    def version_dirs(self) -> dict[int, str]:
        """Version -> folder path, as the scan's strings (no Path made)."""
        return self.folder.version_dirs

    @property
    def leading_zero_dirs(self) -> list[str]:
        """Folders such as "01", which Triton ignores."""
        return self.folder.leading_zero_dirs

    @property
    def other_dirs(self) -> list[str]:
        return self.folder.other_dirs

    @property
    def broken_links(self) -> list[str]:
        return self.folder.broken_links

    def line(self, *paths: str) -> int | None:
        """The line of the first located field path; positions are computed on first use only."""
        text = self.text
        if text is None and self._packed is not None:  # released: read again (rare: a late finding)
            text = self.text = _reread(self.config_file)
        if text is None or not paths:
            return None
        from tritonkit.model.schema import line_of, locate_fields

        if self._positions is None:
            self._positions = locate_fields(text)
        return line_of(self._positions, *paths)

    def finding(
        self,
        rule: Rule,
        message: str,
        *paths: str,
        hint: str | None = None,
        file: str | None = None,
        line: int | None = None,
        severity: Severity | None = None,
    ) -> Finding:
        """A finding of `rule` about this model, pointed at the line of the first of `paths` in the config."""
        if file is None:
            file = self.config_file if self.has_config else str(self.path)
            if line is None and self.has_config:
                line = self.line(*paths)
        return rule.finding(message, model=self.name, file=file, line=line, hint=hint, severity=severity)

    @property
    def is_ensemble(self) -> bool:
        return self.platform == "ensemble"


def _reread(path: str) -> str | None:
    try:
        with open(path, encoding="utf-8") as handle:
            return handle.read()
    except (OSError, UnicodeDecodeError):
        return None


@dataclass
class RepositoryContext:
    """Every model of the repository by folder name: what cross-model rules (ensembles, BLS) need, and
    the run's settings (artifacts looked at or not)."""

    path: Path
    models: dict[str, ModelContext]
    artifacts: bool = True
    target: Target | None = None  # the Triton release the repository is for
    gpus: int | None = None  # GPUs the target machine has; None: unknown (GPU-id checks only warn)
