"""Schema rules: the config text parses as `inference.ModelConfig`, and its platform, backend and
max_batch_size make sense (Triton's ValidateModelConfig in core/src/model_config_utils.cc).

The parse-level rules (unreadable, binary, not UTF-8, parse error, unknown field or value) are found
while the engine loads the config (`tritonkit.validate.engine.load_config`); they are declared here.
"""

from __future__ import annotations

import difflib
from typing import TYPE_CHECKING

from tritonkit.validate.findings import Family

if TYPE_CHECKING:
    from tritonkit.validate.context import ModelContext, RepositoryContext
    from tritonkit.validate.findings import Finding, Severity

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
    "no-platform", "error", "neither platform nor backend set, and none can be inferred", mirrors=_VALIDATE
)
PLATFORM_BACKEND = FAMILY.rule(
    "platform-backend",
    "error",
    "platform and backend do not go together",
    mirrors="ValidateModelConfig: GetBackendType vs GetBackendTypeFromPlatform (model_config_utils.cc)",
)
UNKNOWN_PLATFORM = FAMILY.rule("unknown-platform", "error", "a platform no backend serves", mirrors=_VALIDATE)
MAX_BATCH_SIZE = FAMILY.rule("max-batch-size", "error", "max_batch_size below 0", mirrors=_VALIDATE)

# platform -> the backend it implies (Triton's GetBackendTypeFromPlatform)
PLATFORM_BACKENDS = {
    "tensorrt_plan": "tensorrt",
    "tensorflow_graphdef": "tensorflow",
    "tensorflow_savedmodel": "tensorflow",
    "onnxruntime_onnx": "onnxruntime",
    "pytorch_libtorch": "pytorch",
}
KNOWN_PLATFORMS = (*PLATFORM_BACKENDS, "ensemble")


def check(model: ModelContext, repo: RepositoryContext) -> list[Finding]:
    config = model.config
    findings: list[Finding] = []
    platform, backend = str(config.platform), str(config.backend)
    if not platform and not backend:
        findings.append(
            model.finding(
                NO_PLATFORM,
                "neither 'platform' nor 'backend' is set",
                "name",
                hint='set backend: "python" / "onnxruntime" / "pytorch", or platform: "ensemble"',
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
    elif platform and platform not in KNOWN_PLATFORMS:
        close = difflib.get_close_matches(platform, KNOWN_PLATFORMS, n=1, cutoff=0.4)
        severity: Severity = "warning" if backend else "error"
        findings.append(
            model.finding(
                UNKNOWN_PLATFORM,
                f"unknown platform {platform!r}"
                + ("" if backend else "; Triton cannot tell which backend loads this model"),
                "platform",
                hint=(f"did you mean {close[0]}? " if close else "")
                + f"known platforms: {', '.join(KNOWN_PLATFORMS)}; custom backends set only backend",
                severity=severity,
            )
        )
    elif platform in PLATFORM_BACKENDS and backend and backend != PLATFORM_BACKENDS[platform]:
        findings.append(
            model.finding(
                PLATFORM_BACKEND,
                f"platform {platform!r} and backend {backend!r} do not go together "
                f"({platform} is served by the {PLATFORM_BACKENDS[platform]} backend)",
                "backend",
                "platform",
                hint=f'set backend: "{PLATFORM_BACKENDS[platform]}" or remove one of the two lines',
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
    return findings
