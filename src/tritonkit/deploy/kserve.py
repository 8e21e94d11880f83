"""KServe: an InferenceService (`modelFormat: triton`, `protocolVersion: v2`) and its ServiceAccount.

KServe's storage initializer downloads `storageUri` itself; an S3-compatible endpoint is not part of
that URI but an annotation of the S3 Secret the ServiceAccount lists (pkg/credentials/s3/s3_secret.go:
`serving.kserve.io/s3-endpoint`, `s3-usehttps`, `s3-region`).
"""

from __future__ import annotations

from typing import Any

from tritonkit.deploy.manifests import DeployOptions, RepositorySummary, _labels, _metadata
from tritonkit.repository.remote import RemoteURI

GROUP = "serving.kserve.io"


def storage_uri(uri: RemoteURI) -> str:
    """The URI KServe's storage initializer reads: s3://bucket/prefix (the endpoint goes to the Secret)."""
    return f"{uri.scheme}://{uri.bucket}" + (f"/{uri.prefix}" if uri.prefix else "")


def secret_annotations(uri: RemoteURI, options: DeployOptions) -> dict[str, str]:
    annotations: dict[str, str] = {}
    if uri.scheme == "s3" and uri.endpoint is not None:
        annotations[f"{GROUP}/s3-endpoint"] = uri.endpoint
        annotations[f"{GROUP}/s3-usehttps"] = "1" if uri.secure else "0"
    if options.region:
        annotations[f"{GROUP}/s3-region"] = options.region
    return annotations


def runtime_version(image: str) -> str | None:
    """The tag of an NGC tritonserver image (KServe's `runtimeVersion`), e.g. 24.10-py3."""
    name, _, tag = image.rpartition(":")
    return tag if name.endswith("tritonserver") and tag else None


def service_account(options: DeployOptions) -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": "ServiceAccount",
        "metadata": _metadata(options, options.service_account),
        "secrets": [{"name": options.secret}],
    }


def inference_service(uri: RemoteURI, options: DeployOptions, summary: RepositorySummary) -> dict[str, Any]:
    from tritonkit.deploy.manifests import default_image

    gpus = summary.gpus if options.gpus < 0 else options.gpus
    limits: dict[str, Any] = {"cpu": options.cpu, "memory": options.memory}
    if gpus:
        limits["nvidia.com/gpu"] = gpus
    model: dict[str, Any] = {
        "modelFormat": {"name": "triton"},
        "protocolVersion": "v2",
        "storageUri": storage_uri(uri),
        "resources": {"requests": {"cpu": options.cpu, "memory": options.memory}, "limits": limits},
    }
    version = runtime_version(options.image or default_image(options.release))
    if version:
        model["runtimeVersion"] = version
    meta = _metadata(options)
    meta["annotations"] = {f"{GROUP}/enable-prometheus-scraping": "true"}
    return {
        "apiVersion": f"{GROUP}/v1beta1",
        "kind": "InferenceService",
        "metadata": meta,
        "spec": {
            "predictor": {
                "serviceAccountName": options.service_account,
                "minReplicas": options.min_replicas,
                "maxReplicas": options.max_replicas,
                "labels": _labels(options),
                "model": model,
            }
        },
    }
