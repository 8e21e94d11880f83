"""Schema rules: the config text parses as `inference.ModelConfig`, and its platform, backend and
max_batch_size make sense (Triton's ValidateModelConfig in core/src/model_config_utils.cc).

The parse-level rules (unreadable, binary, not UTF-8, parse error, unknown field or value) are found
while the engine loads the config (`tritonkit.validate.engine.load_config`); they are declared here.
"""

from __future__ import annotations

import difflib
import functools
import os
from collections.abc import Set as AbstractSet
from pathlib import Path
from typing import TYPE_CHECKING, Any

from tritonkit.validate.findings import Family
from tritonkit.validate.target import FIELDS_ADDED, PLATFORMS_ADDED

if TYPE_CHECKING:
    from tritonkit.validate.context import ModelContext, RepositoryContext
    from tritonkit.validate.findings import Finding
    from tritonkit.validate.target import Target

FAMILY = Family("schema", "config.pbtxt parses as a ModelConfig; platform, backend, max_batch_size")
_PARSE = "ReadTextProto + ParseFromString in GetNormalizedModelConfig (core/src/model_config_utils.cc)"
UNREADABLE = FAMILY.rule("unreadable", "error", "config.pbtxt cannot be read", mirrors=_PARSE)
BINARY = FAMILY.rule("binary", "error", "config.pbtxt holds NUL bytes (a binary .pb?)", mirrors=_PARSE)
NOT_UTF8 = FAMILY.rule("not-utf8", "error", "config.pbtxt is not UTF-8 text", mirrors=_PARSE)
PARSE_ERROR = FAMILY.rule("parse-error", "error", "config.pbtxt is not valid protobuf text", mirrors=_PARSE)
UNKNOWN_FIELD = FAMILY.rule(
    "unknown-field", "error", "a field the ModelConfig schema does not have", mirrors=_PARSE
)
UNKNOWN_VALUE = FAMILY.rule(
    "unknown-value", "error", "an enum value the ModelConfig schema does not have", mirrors=_PARSE
)
_VALIDATE = "ValidateModelConfig (core/src/model_config_utils.cc)"
NO_PLATFORM = FAMILY.rule(
    "no-platform",
    "error",
    "no platform or backend, and the server cannot infer one from the files or the folder name",
    mirrors="AutoCompleteBackendFields then ValidateModelConfig (core/src/model_config_utils.cc)",
)
PLATFORM_BACKEND = FAMILY.rule(
    "platform-backend",
    "error",
    "platform and backend do not go together",
    mirrors="ValidateModelConfig: GetBackendType vs GetBackendTypeFromPlatform (model_config_utils.cc)",
)
UNKNOWN_PLATFORM = FAMILY.rule(
    "unknown-platform",
    "error",
    "a platform no backend serves (a warning when a backend is set: custom backends accept any)",
    mirrors=_VALIDATE,
)
MAX_BATCH_SIZE = FAMILY.rule("max-batch-size", "error", "max_batch_size below 0", mirrors=_VALIDATE)
NOT_IN_TARGET = FAMILY.rule(
    "not-in-target",
    "error",
    "a field or platform the target Triton release does not know yet",
    mirrors="the target's ModelConfig schema (common/protobuf/model_config.proto) and core/src/constants.h",
)
RESPONSE_CACHE = FAMILY.rule(
    "response-cache",
    "error",
    "the response cache on a sequence-batching or decoupled model",
    mirrors=_VALIDATE,
)
SLOT_UTILIZATION = FAMILY.rule(
    "slot-utilization",
    "error",
    "sequence_batching direct minimum_slot_utilization outside 0..1",
    mirrors=_VALIDATE,
)

# platform -> backend (GetBackendTypeFromPlatform); GetBackendType knows only these backends
PLATFORM_BACKENDS = {
    "tensorrt_plan": "tensorrt",
    "tensorflow_graphdef": "tensorflow",
    "tensorflow_savedmodel": "tensorflow",
    "onnxruntime_onnx": "onnxruntime",
    "pytorch_libtorch": "pytorch",
}
KNOWN_PLATFORMS = (*PLATFORM_BACKENDS, "ensemble")


def _first_version_content(model: ModelContext) -> tuple[Path | None, set[str]]:
    """The first subfolder by name (any subfolder: the core's GetDirectorySubdirs) and its entries."""
    folders = sorted([*(str(v) for v in model.version_dirs), *model.leading_zero_dirs, *model.other_dirs])
    if not folders:
        return None, set()
    first = model.path / folders[0]
    try:
        return first, set(os.listdir(first))
    except OSError:
        return first, set()


def complete_backend(model: ModelContext, target: Target | None) -> None:
    """Fill `model.platform/backend` the way the server's AutoCompleteBackendFields does (r24.10
    and later: the libtorch alias and torch_aoti only from the releases that added them)."""
    config = model.config
    platform, backend, default_file = config.platform, config.backend, config.default_model_filename
    if backend and backend not in ("tensorflow", "tensorrt", "onnxruntime", "pytorch"):
        model.platform, model.backend = platform, backend  # python, custom: nothing to add
        return
    # The core looks into the first version folder only when neither platform nor file names the backend.
    bare = not platform and not default_file
    version, content = _first_version_content(model) if bare and backend in ("", "tensorflow") else _NOTHING
    if not platform and backend in ("", "tensorflow"):
        if default_file == "model.savedmodel" or (
            bare and _in_version(version, content, "model.savedmodel", True)
        ):
            platform = "tensorflow_savedmodel"
        elif default_file == "model.graphdef" or (
            bare and _in_version(version, content, "model.graphdef", False)
        ):
            platform = "tensorflow_graphdef"
    if platform.startswith("tensorflow_"):
        backend = backend or "tensorflow"
    elif not backend:  # platform is still the config's here (only tensorflow_ ones were filled in)
        if (
            platform == "tensorrt_plan"
            or default_file == "model.plan"
            or (bare and _in_version(version, content, "model.plan", False))
        ):
            backend = "tensorrt"
        elif (
            platform == "onnxruntime_onnx"
            or default_file == "model.onnx"
            or (bare and "model.onnx" in content)
        ):
            backend = "onnxruntime"
        elif default_file == "model.xml" or (bare and "model.xml" in content):
            backend = "openvino"
        elif (
            platform == "pytorch_libtorch"
            or (platform == "libtorch" and target is not None and target.knows("26.04"))  # the alias
            or default_file == "model.pt"
            or (bare and _in_version(version, content, "model.pt", False))
        ):
            backend = "pytorch"
        elif (
            platform == "torch_aoti"
            or default_file == "model.pt2"
            or (bare and _in_version(version, content, "model.pt2", False))
        ) and (target is None or target.knows("26.03")):
            backend, platform = "pytorch", "torch_aoti"
        elif default_file == "model.py" or (bare and "model.py" in content):
            backend = "python"
        elif bare and "." in model.name:
            backend = model.name.split(".", 1)[1]  # `model.<backend>` names a custom backend
    if backend == "tensorrt":
        platform = platform or "tensorrt_plan"
    elif backend == "onnxruntime":
        platform = platform or "onnxruntime_onnx"
    elif backend == "pytorch":
        platform = platform or "pytorch_libtorch"
    model.platform, model.backend = platform, backend


_NOTHING: tuple[Path | None, frozenset[str]] = (None, frozenset())  # no version folder looked into


def _in_version(version: Path | None, content: AbstractSet[str], name: str, folder: bool) -> bool:
    """Whether the first version folder holds `name` as a folder (`folder`) or as anything else."""
    return version is not None and name in content and (version / name).is_dir() == folder


def check(model: ModelContext, repo: RepositoryContext) -> list[Finding]:
    """ValidateModelConfig's platform/backend and batch checks on the auto-completed config."""
    config = model.config
    findings: list[Finding] = []
    platform, backend = model.platform, model.backend
    if not backend and platform != "ensemble":
        if not platform:
            findings.append(
                model.finding(
                    NO_PLATFORM,
                    "neither 'platform' nor 'backend' is set, and the server cannot infer one: no model file "
                    "it knows (model.py, model.onnx, model.pt, model.plan, ...) in the first version folder "
                    "and no folder name of the form NAME.BACKEND",
                    "name",
                    hint='set backend: "python" / "onnxruntime" / "pytorch", or platform: "ensemble"',
                )
            )
        else:
            close = difflib.get_close_matches(platform, KNOWN_PLATFORMS, n=1, cutoff=0.4)
            findings.append(
                model.finding(
                    UNKNOWN_PLATFORM,
                    f"unknown platform {platform!r}; Triton cannot tell which backend loads this model",
                    "platform",
                    hint=(f"did you mean {close[0]}? " if close else "")
                    + f"known platforms: {', '.join(KNOWN_PLATFORMS)}; custom backends set only backend",
                )
            )
    elif platform == "ensemble" and backend:
        findings.append(
            model.finding(
                PLATFORM_BACKEND,
                f"an ensemble must have an empty backend, got backend {backend!r}",
                "backend",
                hint="remove the backend line",
            )
        )
    elif backend in PLATFORM_BACKENDS.values() and PLATFORM_BACKENDS.get(platform) != backend:
        if platform == "torch_aoti" and backend == "pytorch":
            pass  # the PyTorch backend's AOTI platform (its release is checked by not-in-target)
        else:
            findings.append(
                model.finding(
                    PLATFORM_BACKEND,
                    f"platform {platform!r} and backend {backend!r} do not go together"
                    + (
                        f" ({platform} is served by the {PLATFORM_BACKENDS[platform]} backend)"
                        if platform in PLATFORM_BACKENDS
                        else ""
                    ),
                    "backend",
                    "platform",
                    hint=f'set backend: "{PLATFORM_BACKENDS[platform]}" or remove one of the two lines'
                    if platform in PLATFORM_BACKENDS
                    else "set the platform that backend serves, or remove the platform line",
                )
            )
    elif platform and platform not in KNOWN_PLATFORMS and str(config.platform):
        findings.append(
            model.finding(
                UNKNOWN_PLATFORM,
                f"unknown platform {platform!r} (the {backend!r} backend may accept it)",
                "platform",
                hint="custom backends usually set only backend",
                severity="warning",
            )
        )
    if config.max_batch_size < 0:
        findings.append(
            model.finding(
                MAX_BATCH_SIZE,
                f"max_batch_size must be >= 0, got {config.max_batch_size}",
                "max_batch_size",
                hint="0 means the model does not batch; N > 0 adds an implicit batch dimension",
            )
        )
    if (
        config.HasField("response_cache")
        and config.response_cache.enable
        and (model.scheduling == "sequence_batching" or config.model_transaction_policy.decoupled)
    ):
        findings.append(
            model.finding(
                RESPONSE_CACHE,
                "the response cache does not support models with sequence batching or a decoupled "
                "transaction policy",
                "response_cache",
                hint="remove response_cache { enable: true }",
            )
        )
    if model.scheduling == "sequence_batching" and config.sequence_batching.HasField("direct"):
        utilization = config.sequence_batching.direct.minimum_slot_utilization
        if utilization < 0.0 or utilization > 1.0:
            findings.append(
                model.finding(
                    SLOT_UTILIZATION,
                    f"minimum_slot_utilization {utilization} must be between 0 and 1",
                    "sequence_batching[0].direct[0].minimum_slot_utilization",
                    "sequence_batching",
                )
            )
    if repo.target is not None:
        findings.extend(_target(model, repo.target))
    return findings


def _target(model: ModelContext, target: Target) -> list[Finding]:
    """Fields and platforms newer than the target release (its server's parser or core refuses them)."""
    findings: list[Finding] = []
    platform = model.platform
    since = PLATFORMS_ADDED.get(platform)
    if since is not None and not target.knows(since):
        findings.append(
            model.finding(
                NOT_IN_TARGET,
                f"platform {platform!r} is known to Triton from {since} on; the target is {target}",
                "platform",
                hint=f"serve with a release from {since} on (--triton {since}), or use another platform",
            )
        )
    text = model.text or ""
    unknown = {p: s for p, s, leaf in _newer_fields(target) if leaf in text}
    if unknown:  # the cheap text test first; then which of them the parsed config really sets
        for path, since in sorted(_set_fields(model.config, unknown).items()):
            findings.append(
                model.finding(
                    NOT_IN_TARGET,
                    f"field {path.rsplit('.', 1)[1]!r} ({path}) is known to Triton from {since} on; "
                    f"the target is {target}, whose server refuses the config",
                    path.rsplit(".", 1)[1],
                    hint=f"remove it, or target a release from {since} on (--triton {since})",
                )
            )
    return findings


@functools.cache
def _newer_fields(target: Target) -> tuple[tuple[str, str, str], ...]:
    """(path, release, field name) of the fields newer than `target`: the same for every model."""
    return tuple((p, s, p.rsplit(".", 1)[1]) for p, s in FIELDS_ADDED.items() if not target.knows(s))


def _set_fields(message: Any, wanted: dict[str, str]) -> dict[str, str]:
    """The `Message.field` paths of `wanted` that `message` (or a message inside it) sets."""
    found: dict[str, str] = {}
    stack = [message]
    while stack:
        current = stack.pop()
        name = current.DESCRIPTOR.full_name.removeprefix("inference.")
        for field, value in current.ListFields():
            path = f"{name}.{field.name}"
            if path in wanted:
                found[path] = wanted[path]
            if field.message_type is None:
                continue
            if field.message_type.GetOptions().map_entry:
                values = list(value.values())
                if values and hasattr(values[0], "ListFields"):
                    stack.extend(values)
            elif field.is_repeated:
                stack.extend(value)
            else:
                stack.append(value)
    return found
