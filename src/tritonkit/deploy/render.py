"""`tritonkit deploy k8s|kserve URI --out DIR`: plan the manifest files (a plain value), then write them."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from tritonkit.deploy.manifests import (
    QUEUE_METRIC,
    QUEUE_QUERY,
    DeployOptions,
    RepositorySummary,
    autoscaler,
    deployment,
    kustomization,
    service,
)
from tritonkit.errors import RepositoryError, UsageError
from tritonkit.repository.remote import RemoteURI, parse_remote_uri

TARGETS = ("k8s", "kserve")
_HPA_NOTE = f"""\
# The HPA reads `{QUEUE_METRIC}` per pod: the average time a request waited in Triton's queues,
# over every model the pod serves (a per-model average would hide one busy model among idle ones).
# Expose it with prometheus-adapter, e.g.:
#   rules:
#   - seriesQuery: 'nv_inference_queue_duration_us{{namespace!="",pod!=""}}'
#     resources: {{overrides: {{namespace: {{resource: namespace}}, pod: {{resource: pod}}}}}}
#     name: {{as: "{QUEUE_METRIC}"}}
#     metricsQuery: '{QUEUE_QUERY}'
"""


@dataclass(frozen=True)
class DeployPlan:
    """The files `deploy` writes (name -> YAML text) and the resources they hold, as dicts."""

    target: str
    uri: str
    files: dict[str, str]
    resources: dict[str, dict[str, Any]]


def _dump(resource: dict[str, Any]) -> str:
    import yaml

    return yaml.safe_dump(resource, sort_keys=False, default_flow_style=False, width=110)


def plan_deploy(target: str, uri_text: str, options: DeployOptions, summary: RepositorySummary) -> DeployPlan:
    """The manifests for `target` serving the repository at `uri_text`. Pure."""
    if target not in TARGETS:
        raise UsageError(f"unknown deploy target {target!r}", hint="use k8s or kserve")
    uri: RemoteURI = parse_remote_uri(uri_text)
    if not summary.models:
        raise RepositoryError("the repository has no model with a readable config.pbtxt", hint="check --repo")
    resources: dict[str, dict[str, Any]] = {}
    notes: dict[str, str] = {}
    annotations: dict[str, str] = {}
    if target == "k8s":
        resources["deployment.yaml"] = deployment(str(uri), options, summary)
        resources["service.yaml"] = service(options)
        resources["hpa.yaml"] = autoscaler(options)
        notes["hpa.yaml"] = _HPA_NOTE
    else:
        from tritonkit.deploy import kserve

        resources["serviceaccount.yaml"] = kserve.service_account(options)
        resources["inferenceservice.yaml"] = kserve.inference_service(uri, options, summary)
        annotations = kserve.secret_annotations(uri, options)
    files = {name: notes.get(name, "") + _dump(resource) for name, resource in resources.items()}
    files["kustomization.yaml"] = _dump(kustomization(list(resources), options, annotations))
    if options.create_secret:
        files["s3.env.example"] = (
            "# Copy to s3.env (keep it out of version control); kustomize makes the Secret "
            f"{options.secret!r} from it.\nAWS_ACCESS_KEY_ID=\nAWS_SECRET_ACCESS_KEY=\n"
        )
    return DeployPlan(target, str(uri), files, resources)


def write_deploy(plan: DeployPlan, out: Path, *, force: bool = False) -> list[Path]:
    """Write the files into `out`; refuses to replace a different existing file unless `force`."""
    from tritonkit.repository.layout import write_text_atomic

    existing = [n for n, text in plan.files.items() if (out / n).exists() and (out / n).read_text() != text]
    if existing and not force:
        raise UsageError(
            f"{out / existing[0]} exists and differs from what deploy would write",
            hint="choose another --out, or --force to replace the files",
        )
    out.mkdir(parents=True, exist_ok=True)
    written = []
    for name, text in plan.files.items():
        write_text_atomic(out / name, text)
        written.append(out / name)
    return written
