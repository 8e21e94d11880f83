"""The Triton release a repository is for, and what each release added to what the server accepts.

A target is an NGC tag (`24.10`) or a server version (`2.51`, `2.51.0`); the default is the image
`tritonkit serve` runs (`serve.plan.DEFAULT_TAG`). Where the facts come from:
- NGC tag -> server version: the `TRITON_VERSION` file of triton-inference-server/server on each
  `rYY.MM` branch (23.01 = 2.30.0 ... 26.08 = 2.72.0; 25.07 shipped 2.59.1).
- ModelConfig fields: `protobuf/model_config.proto` of triton-inference-server/common on each `rYY.MM`
  branch, diffed branch to branch (fields before 23.01 are taken as known to every target).
- Platforms: `src/constants.h` of triton-inference-server/core (`kPyTorchAotiPlatform` "torch_aoti" first on
  r26.03, commit dabbddc "Add Support for Torch AOTI", with BACKEND_TYPE_TORCHAOTI = BACKEND_TYPE_PYTORCH so
  `backend: "pytorch"` pairs with it; the `libtorch` alias `kPyTorchLibTorchPlatformAlt` first on r26.04,
  commit ee0bc47: AutoCompleteBackendFields takes it, GetBackendTypeFromPlatform does not, so a config
  naming it is still refused as a platform/backend pair).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

from tritonkit.errors import UsageError

# NGC tag -> server version (server repository, TRITON_VERSION per release branch).
SERVER_VERSIONS: dict[str, str] = {
    "23.01": "2.30.0", "23.02": "2.31.0", "23.03": "2.32.0", "23.04": "2.33.0", "23.05": "2.34.0",
    "23.06": "2.35.0", "23.07": "2.36.0", "23.08": "2.37.0", "23.09": "2.38.0", "23.10": "2.39.0",
    "23.11": "2.40.0", "23.12": "2.41.0", "24.01": "2.42.0", "24.02": "2.43.0", "24.03": "2.44.0",
    "24.04": "2.45.0", "24.05": "2.46.0", "24.06": "2.47.0", "24.07": "2.48.0", "24.08": "2.49.0",
    "24.09": "2.50.0", "24.10": "2.51.0", "24.11": "2.52.0", "24.12": "2.53.0", "25.01": "2.54.0",
    "25.02": "2.55.0", "25.03": "2.56.0", "25.04": "2.57.0", "25.05": "2.58.0", "25.06": "2.59.0",
    "25.07": "2.59.1", "25.08": "2.60.0", "25.09": "2.61.0", "25.10": "2.62.0", "25.11": "2.63.0",
    "25.12": "2.64.0", "26.01": "2.65.0", "26.02": "2.66.0", "26.03": "2.67.0", "26.04": "2.68.0",
    "26.05": "2.69.0", "26.06": "2.70.0", "26.07": "2.71.0", "26.08": "2.72.0",
}  # fmt: skip
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

_TAG = re.compile(r"^(\d{2})\.(\d{2})$")
_VERSION = re.compile(r"^2\.(\d+)(?:\.(\d+))?$")


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
    """The release named by an NGC tag or a server version; None gives the image `serve` uses."""
    if text is None:
        from tritonkit.serve.plan import DEFAULT_TAG

        text = DEFAULT_TAG
    value = str(text).strip().removesuffix("-py3")
    if _TAG.match(value):
        if value not in SERVER_VERSIONS:
            raise UsageError(
                f"unknown Triton release {value!r}",
                hint=f"give an NGC tag from {min(SERVER_VERSIONS)} to {max(SERVER_VERSIONS)}, or 2.N",
            )
        return Target(value, SERVER_VERSIONS[value])
    match = _VERSION.match(value)
    if match:
        wanted = f"2.{int(match.group(1))}.{int(match.group(2) or 0)}"
        for tag, version in SERVER_VERSIONS.items():
            if version == wanted:
                return Target(tag, version)
    raise UsageError(
        f"unknown Triton release {value!r}",
        hint="give an NGC tag such as 24.10 or a server version such as 2.51 (from 23.01 / 2.30 on)",
    )


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
