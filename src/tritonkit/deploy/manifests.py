"""Kubernetes manifests that serve a pushed repository: Deployment, Service, HPA, kustomization.

Built as plain dicts (one function per resource) and dumped as YAML: the shape is the API's, so
tests validate each one against the official schemas (kubernetes-validate, strict). What the
repository needs is read from its configs (`RepositorySummary`): the model count sizes the startup
budget, instance groups the GPU limit, Python-backend instances the /dev/shm volume.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field, fields, replace
from pathlib import Path
from typing import Any

from tritonkit.errors import UsageError

HTTP, GRPC, METRICS = 8000, 8001, 8002
TRITON_UID = 1000  # the NGC image's triton-server user
# The queue-time metric the HPA reads, through prometheus-adapter (README: "from one machine to a cluster").
QUEUE_METRIC = "triton_queue_time_per_request_us"
QUEUE_QUERY = (
    "sum by (namespace, pod) (rate(nv_inference_queue_duration_us[1m])) / "
    "clamp_min(sum by (namespace, pod) (rate(nv_inference_request_success[1m])), 0.001)"
)


@dataclass(frozen=True)
class DeployOptions:
    """Everything `--set key=value` can change (the field names are the keys)."""

    name: str = "triton"
    namespace: str = ""  # "" = the namespace kubectl/kustomize applies to
    image: str = ""  # "" = the NGC image of `release`
    release: str = (
        ""  # the target Triton release (24.10, 2.51): tritonkit.yaml `target.triton`, else the pinned one
    )
    replicas: int = 1
    min_replicas: int = 1
    max_replicas: int = 4
    queue_time_target_us: int = 50_000  # HPA: average queue time per request to hold, per pod
    secret: str = "tritonkit-s3"  # the Secret with AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY
    create_secret: bool = True  # a kustomize secretGenerator reading s3.env (never written by tritonkit)
    service_account: str = "tritonkit-s3"  # KServe: the ServiceAccount that carries the Secret
    region: str = ""  # AWS_DEFAULT_REGION for the server ("" = not set)
    poll_secs: int = 30  # poll the repository (pushes go live); 0 = load once at start
    gpus: int = -1  # nvidia.com/gpu limit; -1 = from the instance groups
    shm_size: str = ""  # "" = sized for the Python backend
    cpu: str = "1"
    memory: str = "2Gi"
    service_type: str = "ClusterIP"


def apply_overrides(options: DeployOptions, pairs: list[str]) -> DeployOptions:
    """`key=value` pairs onto the options (typed by the field); an unknown key is a UsageError."""
    kinds = {f.name: f.type for f in fields(options)}
    changes: dict[str, Any] = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        key = key.strip().replace("-", "_")
        if not sep or key not in kinds:
            raise UsageError(f"--set {pair!r}: unknown key", hint="keys: " + ", ".join(sorted(kinds)))
        kind = str(kinds[key])
        try:
            if kind == "int":
                changes[key] = int(value)
            elif kind == "bool":
                if value.lower() not in ("true", "false", "1", "0", "yes", "no"):
                    raise ValueError(value)
                changes[key] = value.lower() in ("true", "1", "yes")
            else:
                changes[key] = value
        except ValueError as exc:
            raise UsageError(
                f"--set {pair!r}: {key} takes a{'n integer' if kind == 'int' else ' boolean'}"
            ) from exc
    result = replace(options, **changes)
    if not 1 <= result.min_replicas <= result.max_replicas:
        raise UsageError("min_replicas must be between 1 and max_replicas")
    return result


@dataclass(frozen=True)
class RepositorySummary:
    """What the manifests need to know about the repository."""

    models: list[str] = field(default_factory=list)
    gpus: int = 0  # GPUs the instance groups ask for (KIND_GPU), 0 = CPU only
    python_instances: int = 0  # instances of Python-backend models (each has a stub and shm regions)


def summarize_repository(repository: Path) -> RepositorySummary:
    """Read each model's config: names, GPUs its KIND_GPU groups need, Python-backend instances."""
    from tritonkit.model.schema import parse_config_safely, pb2
    from tritonkit.repository.scan import scan_repository

    kind_name = pb2().ModelInstanceGroup.Kind.Name

    models: list[str] = []
    gpus = 0
    python = 0
    for folder in scan_repository(repository).models:
        if not folder.has_config:
            continue
        config, _ = parse_config_safely(folder.config_path.read_text(encoding="utf-8", errors="replace"))
        if config is None:
            continue
        models.append(folder.name)
        count = 0
        for group in config.instance_group:
            kind = kind_name(group.kind)
            instances = max(group.count, 1)
            # KIND_GPU with ids needs the highest id + 1 devices visible; without ids, one at least.
            if kind == "KIND_GPU" or (kind == "KIND_AUTO" and list(group.gpus)):
                gpus = max(gpus, max(group.gpus) + 1 if group.gpus else 1)
                instances *= max(len(group.gpus), 1)
            count += instances
        if config.backend == "python":
            python += max(count, 1)
    return RepositorySummary(models=models, gpus=gpus, python_instances=python)


def default_image(release: str = "") -> str:
    """The NGC tritonserver image of `release` (any form model.release reads), else the pinned release."""
    from tritonkit.model.release import DEFAULT_TAG, parse_release
    from tritonkit.serve.plan import IMAGE_REPOSITORY

    if not release:
        return f"{IMAGE_REPOSITORY}:{DEFAULT_TAG}-py3"

    return f"{IMAGE_REPOSITORY}:{parse_release(release)}-py3"


def shm_size(options: DeployOptions, summary: RepositorySummary) -> str:
    """/dev/shm: 64 MiB per Python-backend instance (its stub's regions grow with the tensors in flight),
    at least 256 MiB; 64 MiB when no model uses the Python backend."""
    if options.shm_size:
        return options.shm_size
    if not summary.python_instances:
        return "64Mi"
    return f"{max(256, 64 * summary.python_instances)}Mi"


def startup_failure_threshold(summary: RepositorySummary, period: int = 10) -> int:
    """Startup budget: 60 s, plus 30 s per model (downloads from the bucket, then loads), in probe periods."""
    return math.ceil((60 + 30 * max(len(summary.models), 1)) / period)


def _labels(options: DeployOptions) -> dict[str, str]:
    return {"app.kubernetes.io/name": options.name, "app.kubernetes.io/managed-by": "tritonkit"}


def _metadata(options: DeployOptions, name: str | None = None) -> dict[str, Any]:
    meta: dict[str, Any] = {"name": name or options.name, "labels": _labels(options)}
    if options.namespace:
        meta["namespace"] = options.namespace
    return meta


def server_args(uri: str, options: DeployOptions) -> list[str]:
    args = ["tritonserver", f"--model-repository={uri}"]
    if options.poll_secs > 0:
        args += ["--model-control-mode=poll", f"--repository-poll-secs={options.poll_secs}"]
    return [*args, f"--http-port={HTTP}", f"--grpc-port={GRPC}", f"--metrics-port={METRICS}"]


def _probe(path: str, period: int, failures: int) -> dict[str, Any]:
    return {"httpGet": {"path": path, "port": "http"}, "periodSeconds": period, "failureThreshold": failures}


def deployment(uri: str, options: DeployOptions, summary: RepositorySummary) -> dict[str, Any]:
    """The Deployment: the server on the repository URI, credentials from the Secret, non-root."""
    gpus = summary.gpus if options.gpus < 0 else options.gpus
    limits: dict[str, Any] = {"cpu": options.cpu, "memory": options.memory}
    if gpus:
        limits["nvidia.com/gpu"] = gpus
    env: list[dict[str, Any]] = [
        {"name": key, "valueFrom": {"secretKeyRef": {"name": options.secret, "key": key}}}
        for key in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY")
    ]
    if options.region:
        env.append({"name": "AWS_DEFAULT_REGION", "value": options.region})
    container = {
        "name": "tritonserver",
        "image": options.image or default_image(options.release),
        "args": server_args(uri, options),
        "ports": [
            {"name": "http", "containerPort": HTTP},
            {"name": "grpc", "containerPort": GRPC},
            {"name": "metrics", "containerPort": METRICS},
        ],
        "env": env,
        "startupProbe": _probe("/v2/health/live", 10, startup_failure_threshold(summary)),
        "livenessProbe": _probe("/v2/health/live", 10, 3),
        "readinessProbe": _probe("/v2/health/ready", 5, 3),
        "resources": {"requests": {"cpu": options.cpu, "memory": options.memory}, "limits": limits},
        "securityContext": {
            "allowPrivilegeEscalation": False,
            "readOnlyRootFilesystem": True,
            "capabilities": {"drop": ["ALL"]},
        },
        "volumeMounts": [{"name": "dshm", "mountPath": "/dev/shm"}, {"name": "tmp", "mountPath": "/tmp"}],
    }
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": _metadata(options),
        "spec": {
            "replicas": options.replicas,
            "selector": {"matchLabels": {"app.kubernetes.io/name": options.name}},
            "template": {
                "metadata": {
                    "labels": _labels(options),
                    "annotations": {
                        "prometheus.io/scrape": "true",
                        "prometheus.io/port": str(METRICS),
                        "prometheus.io/path": "/metrics",
                    },
                },
                "spec": {
                    "securityContext": {
                        "runAsNonRoot": True,
                        "runAsUser": TRITON_UID,
                        "runAsGroup": TRITON_UID,
                        "fsGroup": TRITON_UID,
                        "seccompProfile": {"type": "RuntimeDefault"},
                    },
                    "containers": [container],
                    "volumes": [
                        {
                            "name": "dshm",
                            "emptyDir": {"medium": "Memory", "sizeLimit": shm_size(options, summary)},
                        },
                        # Triton copies an s3:// model to a temporary folder to load it (read-only root).
                        {"name": "tmp", "emptyDir": {}},
                    ],
                },
            },
        },
    }


def service(options: DeployOptions) -> dict[str, Any]:
    ports = [
        {"name": name, "port": port, "targetPort": name}
        for name, port in (("http", HTTP), ("grpc", GRPC), ("metrics", METRICS))
    ]
    return {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": _metadata(options),
        "spec": {
            "type": options.service_type,
            "selector": {"app.kubernetes.io/name": options.name},
            "ports": ports,
        },
    }


def autoscaler(options: DeployOptions) -> dict[str, Any]:
    """autoscaling/v2 on the queue time per request of all models of a pod (QUEUE_QUERY)."""
    return {
        "apiVersion": "autoscaling/v2",
        "kind": "HorizontalPodAutoscaler",
        "metadata": _metadata(options),
        "spec": {
            "scaleTargetRef": {"apiVersion": "apps/v1", "kind": "Deployment", "name": options.name},
            "minReplicas": options.min_replicas,
            "maxReplicas": options.max_replicas,
            "metrics": [
                {
                    "type": "Pods",
                    "pods": {
                        "metric": {"name": QUEUE_METRIC},
                        "target": {"type": "AverageValue", "averageValue": str(options.queue_time_target_us)},
                    },
                }
            ],
        },
    }


def kustomization(
    resources: list[str], options: DeployOptions, secret_annotations: dict[str, str]
) -> dict[str, Any]:
    """kustomize's entry point; the Secret comes from s3.env (which the user writes, never tritonkit)."""
    data: dict[str, Any] = {
        "apiVersion": "kustomize.config.k8s.io/v1beta1",
        "kind": "Kustomization",
        "resources": resources,
    }
    if options.namespace:
        data["namespace"] = options.namespace
    if options.create_secret:
        generator: dict[str, Any] = {"name": options.secret, "envs": ["s3.env"]}
        options_block: dict[str, Any] = {"disableNameSuffixHash": True}
        if secret_annotations:
            options_block["annotations"] = secret_annotations
        generator["options"] = options_block
        data["secretGenerator"] = [generator]
    return data
