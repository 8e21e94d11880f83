"""Model-level semantic rules on a parsed config: platform/backend pairs and max_batch_size.

(Parse errors, unknown fields and unknown enum names are found while loading the config, see
`tritonkit.validate.engine.load_config`: ids `schema.parse-error`, `schema.unknown-field`,
`schema.unknown-value`, `schema.not-utf8`, `schema.binary`.)
"""

from __future__ import annotations

import difflib
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from tritonkit.validate.engine import ModelContext, RepositoryContext
    from tritonkit.validate.findings import Finding, Severity

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
                "error",
                "schema.no-platform",
                "neither 'platform' nor 'backend' is set",
                "name",
                hint='set backend: "python" / "onnxruntime" / "pytorch", or platform: "ensemble"',
            )
        )
    elif platform == "ensemble" and backend:
        findings.append(
            model.finding(
                "error",
                "schema.platform-backend",
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
                severity,
                "schema.unknown-platform",
                f"unknown platform {platform!r}"
                + ("" if backend else "; Triton cannot tell which backend loads this model"),
                "platform",
                hint=(f"did you mean {close[0]}? " if close else "")
                + f"known platforms: {', '.join(KNOWN_PLATFORMS)}; custom backends set only backend",
            )
        )
    elif platform in PLATFORM_BACKENDS and backend and backend != PLATFORM_BACKENDS[platform]:
        findings.append(
            model.finding(
                "error",
                "schema.platform-backend",
                f"platform {platform!r} and backend {backend!r} do not go together "
                f"({platform} is served by the {PLATFORM_BACKENDS[platform]} backend)",
                "backend",
                "platform",
                hint=f'set backend: "{PLATFORM_BACKENDS[platform]}" or remove one of the two lines',
            )
        )
    elif backend in PLATFORM_BACKENDS.values() and platform and PLATFORM_BACKENDS.get(platform) != backend:
        findings.append(
            model.finding(
                "error",
                "schema.platform-backend",
                f"backend {backend!r} does not serve platform {platform!r}",
                "platform",
                hint="remove the platform line",
            )
        )
    if config.max_batch_size < 0:
        findings.append(
            model.finding(
                "error",
                "schema.max-batch-size",
                f"max_batch_size must be >= 0, got {config.max_batch_size}",
                "max_batch_size",
                hint="0 means the model does not batch; N > 0 adds an implicit batch dimension",
            )
        )
    return findings
