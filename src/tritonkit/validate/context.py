"""What the rules see: one model folder (`ModelContext`) and the whole repository (`RepositoryContext`).

Rules import this module and the engine imports the rules; neither imports the engine back.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from tritonkit.validate.findings import Finding, Rule, Severity

if TYPE_CHECKING:
    from tritonkit.repository.scan import ModelFolder
    from tritonkit.validate.target import Target


@dataclass(slots=True)
class ModelContext:
    """One model folder as the rules see it: where it is, its versions, its text and parsed config.

    The folder's facts the rules read on every model are copied from `folder` into plain attributes: in
    Python 3.11 a property read is a function call, ten times the cost of an attribute read, and validate
    makes about a dozen such reads per model.
    """

    folder: ModelFolder  # as `repository.scan` found it: name, versions, other folders, links
    config_file: str  # display path of config.pbtxt (relative as the user gave the repository)
    text: str | None = None
    config: Any = None  # the parsed inference.ModelConfig; None when absent or unparsable (see keep_config)
    inputs: Sequence[Any] = ()  # config.input, as a list
    outputs: Sequence[Any] = ()  # config.output, as a list
    scheduling: str | None = None  # the config's scheduling_choice: dynamic_batching, sequence_batching, ...
    ignored: frozenset[str] = frozenset()  # rule ids and families of `# tritonkit: ignore=...` comments
    # platform and backend as the server sees them after AutoCompleteBackendFields (the config's, else what
    # the core infers); "" without a parsed config or when the server cannot tell. Set by
    # `rules.schema.complete_backend` once per model: rules read them many times.
    platform: str = ""
    backend: str = ""
    _positions: dict[str, int] | None = None
    name: str = field(init=False)  # the folder name (what Triton calls the model)
    has_config: bool = field(init=False)
    version_dirs: dict[int, str] = field(init=False)  # version -> folder path, as the scan's strings
    leading_zero_dirs: list[str] = field(init=False)  # folders such as "01", which Triton ignores
    other_dirs: list[str] = field(init=False)
    broken_links: list[str] = field(init=False)

    def __post_init__(self) -> None:
        folder = self.folder
        self.name, self.has_config, self.version_dirs = folder.name, folder.has_config, folder.version_dirs
        self.leading_zero_dirs, self.other_dirs = folder.leading_zero_dirs, folder.other_dirs
        self.broken_links = folder.broken_links

    @property
    def path(self) -> Path:
        return self.folder.path

    @property
    def versions(self) -> dict[int, Path]:
        """Version -> folder, as Paths (made on first use; `version_dirs` has the same keys)."""
        return self.folder.versions

    def keep_config(self, config: Any) -> None:
        """Keep the parsed config, with the parts that the rules of several families read taken out once:
        each read of a repeated field or a oneof makes new objects (protobuf's upb keeps a wrapper only
        while something holds it)."""
        self.config = config
        self.inputs, self.outputs = config.input[:], config.output[:]
        self.scheduling = config.WhichOneof("scheduling_choice")

    def drop_config(self) -> None:
        """Forget the parsed config and its text once no rule will read them again (see the engine)."""
        self.config, self.inputs, self.outputs, self.text = None, (), (), None

    def line(self, *paths: str) -> int | None:
        """The line of the first located field path; positions are computed on first use only."""
        text = self.text
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


@dataclass
class RepositoryContext:
    """Every model of the repository by folder name: what cross-model rules (ensembles, BLS) need, and
    the run's settings (artifacts looked at or not)."""

    path: Path
    models: dict[str, ModelContext]
    artifacts: bool = True
    target: Target | None = None  # the Triton release the repository is for
    gpus: int | None = None  # GPUs the target machine has; None: unknown (GPU-id checks only warn)
