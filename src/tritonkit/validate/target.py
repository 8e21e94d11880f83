"""The Triton release a repository is for, and what each release added to what the server accepts.

A target is an NGC tag (`24.10`) or a server version (`2.51`, `2.51.0`); the default is the image
`tritonkit serve` runs (`model.release.DEFAULT_TAG`); the parser and the NGC tag -> server version table
are `model.release`'s. Where the facts come from:
- ModelConfig fields: `protobuf/model_config.proto` of triton-inference-server/common on each `rYY.MM`
  branch, diffed branch to branch (fields before 23.01 are taken as known to every target).
- Platforms: `src/constants.h` of triton-inference-server/core (`kPyTorchAotiPlatform` "torch_aoti" first on
  r26.03, commit dabbddc "Add Support for Torch AOTI", with BACKEND_TYPE_TORCHAOTI = BACKEND_TYPE_PYTORCH so
  `backend: "pytorch"` pairs with it; the `libtorch` alias `kPyTorchLibTorchPlatformAlt` first on r26.04,
  commit ee0bc47: AutoCompleteBackendFields takes it, GetBackendTypeFromPlatform does not, so a config
  naming it is still refused as a platform/backend pair).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from tritonkit.errors import UsageError
from tritonkit.model.release import DEFAULT_TAG, SERVER_VERSIONS, parse_release

__all__ = ["FIELDS_ADDED", "PLATFORMS_ADDED", "SERVER_VERSIONS", "Target", "resolve_target", "spec_target"]

# ModelConfig field path (as `schema.locate_fields`-style message.field) -> the first release that knows it.
FIELDS_ADDED: dict[str, str] = {
    "ModelEnsembling.Step.model_namespace": "23.03",
    "ModelSequenceBatching.StrategyOldest.preserve_ordering": "23.08",
    "ModelSequenceBatching.State.use_growable_memory": "23.11",
    "ModelSequenceBatching.State.use_same_buffer_for_input_output": "23.11",
    "ModelSequenceBatching.iterative_sequence": "23.11",
    "ModelConfig.runtime": "24.01",
    "ModelInput.is_non_linear_format_io": "24.08",
    "ModelOutput.is_non_linear_format_io": "24.08",
    "ModelConfig.model_metrics": "24.11",
    "ModelEnsembling.max_inflight_requests": "25.11",
}
# platform -> the first release whose core accepts it.
PLATFORMS_ADDED: dict[str, str] = {"torch_aoti": "26.03"}


@dataclass(frozen=True, order=True)
class Target:
    """A Triton release: its NGC tag (`24.10`) and server version (`2.51.0`)."""

    tag: str
    version: str

    def knows(self, since: str) -> bool:
        """Whether this release is `since` (an NGC tag) or later."""
        return self.tag >= since

    def __str__(self) -> str:
        return f"{self.tag} (Triton {self.version})"


def resolve_target(text: str | None) -> Target:
    """The release named by an NGC tag or a server version (any form `model.release` parses); None gives
    the image `serve` uses. A release the version table does not know is refused: its fields are unknown."""
    value = DEFAULT_TAG if text is None else str(text)
    try:
        release = parse_release(value)
    except UsageError as exc:
        raise UsageError(
            f"unknown Triton release {value.strip()!r}",
            hint="give an NGC tag such as 24.10 or a server version such as 2.51 (from 23.01 / 2.30 on)",
        ) from exc
    version = release.server_version
    if version is None:
        raise UsageError(
            f"unknown Triton release {value.strip()!r}",
            hint=f"give an NGC tag from {min(SERVER_VERSIONS)} to {max(SERVER_VERSIONS)}, or 2.N",
        )
    return Target(str(release), version)


def spec_target(repository: Path) -> tuple[str | None, int | None]:
    """The `target: {triton: 24.10, gpus: 1}` of the tritonkit.yaml beside `repository`, if any.

    A minimal reader of that one key (the spec module owns the rest of the file); None for what is unset.
    """
    import yaml

    from tritonkit.repository.project import SPEC_FILE

    spec = repository.absolute().parent / SPEC_FILE
    try:
        data = yaml.safe_load(spec.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, yaml.YAMLError):
        return None, None  # no spec file, or one the spec module reports on
    target = data.get("target") if isinstance(data, dict) else None
    if target is None:
        return None, None
    if not isinstance(target, dict) or set(target) - {"triton", "gpus"}:
        raise UsageError(
            f"{spec}: 'target' must be a mapping of triton and gpus",
            hint="target: {triton: '24.10', gpus: 1}",
        )
    triton, gpus = target.get("triton"), target.get("gpus")
    if gpus is not None and (not isinstance(gpus, int) or isinstance(gpus, bool) or gpus < 0):
        raise UsageError(f"{spec}: target.gpus must be a whole number >= 0, got {gpus!r}")
    return (None if triton is None else str(triton)), gpus
