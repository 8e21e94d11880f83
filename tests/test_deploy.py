"""`tritonkit deploy`: every manifest it renders passes strict schema validation.

Built-in kinds: kubernetes-validate (the official OpenAPI schemas, offline), strict mode (unknown
fields fail), for the oldest and newest Kubernetes it ships that are still supported upstream.
InferenceService: the subset of KServe's CRD schema in tests/schemas (source commit and licence in the
file's $comment; scripts/kserve-schema-subset.py regenerates it), with unknown fields refused.
"""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import pytest
import yaml

from conftest import require
from serve_support import cli, scaffold_add_sub
from tritonkit.deploy.manifests import (
    QUEUE_METRIC,
    DeployOptions,
    RepositorySummary,
    apply_overrides,
    startup_failure_threshold,
    summarize_repository,
)
from tritonkit.deploy.render import plan_deploy
from tritonkit.errors import UsageError

try:
    import kubernetes_validate
except ImportError:  # pragma: no cover - the dev extra has it
    kubernetes_validate = None


@pytest.fixture(autouse=True)
def _schemas() -> None:
    require(kubernetes_validate is not None, "kubernetes-validate", "pip install 'tritonkit[dev]'")


K8S_VERSIONS = ("1.30", "1.37")
SUBSET = Path(__file__).parent / "schemas" / "kserve-inferenceservice-v1beta1.subset.json"
URI = "s3://127.0.0.1:9000/models/prod"


def _check(resource: dict[str, Any]) -> None:
    if resource["kind"] == "InferenceService":
        import jsonschema

        jsonschema.Draft202012Validator(json.loads(SUBSET.read_text())).validate(resource)
        return
    for version in K8S_VERSIONS:
        kubernetes_validate.validate(resource, version, strict=True)


@pytest.fixture(scope="module")
def gpu_repo(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """add_sub (python, one instance) and gpu_model (onnx, two KIND_GPU instances on GPUs 0 and 1)."""
    repo = scaffold_add_sub(tmp_path_factory.mktemp("deploy"))
    added = cli(
        "add", "gpu_model", "--backend", "onnx", "--repo", str(repo), "-i", "X:fp32:4", "-o", "Y:fp32:4",
        "--instances", "2", "--kind", "gpu", "--gpus", "0,1",
    )  # fmt: skip
    assert added.returncode == 0, added.stderr
    return repo


OPTION_SETS = [
    [],
    ["namespace=ml", "region=eu-west-1", "max_replicas=8", "gpus=0", "poll_secs=0"],
    ["create_secret=false", "secret=existing", "service_type=LoadBalancer", "image=registry.local/triton:1"],
]


@pytest.mark.parametrize("sets", OPTION_SETS, ids=["defaults", "namespaced", "own-secret"])
@pytest.mark.parametrize("target", ["k8s", "kserve"])
def test_every_manifest_passes_strict_schema_validation(target: str, sets: list[str], gpu_repo: Path) -> None:
    summary = summarize_repository(gpu_repo)
    plan = plan_deploy(target, URI, apply_overrides(DeployOptions(), sets), summary)
    assert plan.resources
    for name, resource in plan.resources.items():
        _check(resource)
        assert yaml.safe_load(plan.files[name]) == resource  # the file is the resource
    kustomization = yaml.safe_load(plan.files["kustomization.yaml"])
    assert kustomization["resources"] == list(plan.resources)


def test_strictness_catches_misspelt_fields() -> None:
    summary = RepositorySummary(models=["m"])
    k8s = plan_deploy("k8s", URI, DeployOptions(), summary).resources["deployment.yaml"]
    broken = copy.deepcopy(k8s)
    broken["spec"]["template"]["spec"]["containers"][0]["startupProbes"] = {}
    with pytest.raises(kubernetes_validate.ValidationError):
        kubernetes_validate.validate(broken, "1.37", strict=True)
    isvc = plan_deploy("kserve", URI, DeployOptions(), summary).resources["inferenceservice.yaml"]
    broken = copy.deepcopy(isvc)
    model = broken["spec"]["predictor"]["model"]
    model["storageURI"] = model.pop("storageUri")
    import jsonschema

    with pytest.raises(jsonschema.ValidationError):
        _check(broken)


def test_the_deployment_is_sized_from_the_repository(gpu_repo: Path) -> None:
    summary = summarize_repository(gpu_repo)
    assert summary.models == ["add_sub", "gpu_model"]
    assert summary.gpus == 2 and summary.python_instances == 1
    plan = plan_deploy("k8s", URI, DeployOptions(), summary)
    pod = plan.resources["deployment.yaml"]["spec"]["template"]["spec"]
    container = pod["containers"][0]
    assert f"--model-repository={URI}" in container["args"]
    assert container["resources"]["limits"]["nvidia.com/gpu"] == 2
    assert [p["containerPort"] for p in container["ports"]] == [8000, 8001, 8002]
    assert container["startupProbe"]["failureThreshold"] == startup_failure_threshold(summary) == 12
    assert startup_failure_threshold(RepositorySummary(models=["m"] * 10)) > 12
    assert pod["securityContext"]["runAsNonRoot"] is True
    shm = next(v for v in pod["volumes"] if v["name"] == "dshm")["emptyDir"]
    assert shm == {"medium": "Memory", "sizeLimit": "256Mi"}
    secrets = {e["valueFrom"]["secretKeyRef"]["name"] for e in container["env"] if "valueFrom" in e}
    assert secrets == {"tritonkit-s3"}
    assert (
        plan.resources["deployment.yaml"]["spec"]["template"]["metadata"]["annotations"]["prometheus.io/port"]
        == "8002"
    )
    hpa = plan.resources["hpa.yaml"]
    assert hpa["apiVersion"] == "autoscaling/v2"
    assert hpa["spec"]["metrics"][0]["pods"]["metric"]["name"] == QUEUE_METRIC
    assert "nv_inference_queue_duration_us" in plan.files["hpa.yaml"]  # the documented query
    assert "sum by (namespace, pod)" in plan.files["hpa.yaml"]


def test_kserve_moves_the_endpoint_to_the_secret() -> None:
    plan = plan_deploy("kserve", URI, DeployOptions(), RepositorySummary(models=["m"]))
    model = plan.resources["inferenceservice.yaml"]["spec"]["predictor"]["model"]
    assert model["storageUri"] == "s3://models/prod"
    assert (model["modelFormat"], model["protocolVersion"]) == ({"name": "triton"}, "v2")
    generator = yaml.safe_load(plan.files["kustomization.yaml"])["secretGenerator"][0]
    assert generator["options"]["annotations"]["serving.kserve.io/s3-endpoint"] == "127.0.0.1:9000"
    assert plan.resources["serviceaccount.yaml"]["secrets"] == [{"name": "tritonkit-s3"}]


def test_overrides_are_typed_and_checked() -> None:
    options = apply_overrides(DeployOptions(), ["max_replicas=8", "create-secret=false", "name=svc"])
    assert (options.max_replicas, options.create_secret, options.name) == (8, False, "svc")
    for bad in (["nope=1"], ["max_replicas=many"], ["create_secret=maybe"], ["min_replicas=9"]):
        with pytest.raises(UsageError):
            apply_overrides(DeployOptions(), bad)


def test_deploy_cli_writes_a_kustomize_folder_and_refuses_to_overwrite(
    gpu_repo: Path, tmp_path: Path
) -> None:
    repo = gpu_repo
    out = tmp_path / "k8s"
    first = cli("deploy", "k8s", URI, "--repo", str(repo), "--out", str(out))
    assert first.returncode == 0, first.stderr
    names = sorted(p.name for p in out.iterdir())
    assert names == ["deployment.yaml", "hpa.yaml", "kustomization.yaml", "s3.env.example", "service.yaml"]
    again = cli("deploy", "k8s", URI, "--repo", str(repo), "--out", str(out))
    assert again.returncode == 0  # the same files: nothing to refuse
    changed = cli("deploy", "k8s", URI, "--repo", str(repo), "--out", str(out), "--set", "max_replicas=9")
    assert changed.returncode == 2 and "exists and differs" in changed.stderr
    assert "maxReplicas: 4" in (out / "hpa.yaml").read_text()
    forced = cli(
        "deploy", "k8s", URI, "--repo", str(repo), "--out", str(out), "--set", "max_replicas=9", "--force"
    )
    assert forced.returncode == 0 and "maxReplicas: 9" in (out / "hpa.yaml").read_text()
    for args in (
        ["deploy", "helm", URI, "--out", str(out)],
        ["deploy", "k8s", URI, "--out", str(out), "--set", "x"],
    ):
        bad = cli(*args, "--repo", str(repo))
        assert bad.returncode == 2 and bad.stderr.startswith("error: "), bad.stderr


def test_the_image_follows_the_target_release() -> None:
    summary = RepositorySummary(models=["m"])
    for release, tag in (("", "24.10"), ("2.56", "25.03"), ("r25.01", "25.01")):
        options = apply_overrides(DeployOptions(), [f"release={release}"] if release else [])
        plan = plan_deploy("k8s", URI, options, summary)
        image = plan.resources["deployment.yaml"]["spec"]["template"]["spec"]["containers"][0]["image"]
        assert image == f"nvcr.io/nvidia/tritonserver:{tag}-py3"
        isvc = plan_deploy("kserve", URI, options, summary).resources["inferenceservice.yaml"]
        assert isvc["spec"]["predictor"]["model"]["runtimeVersion"] == f"{tag}-py3"
    with pytest.raises(UsageError):
        plan_deploy("k8s", URI, apply_overrides(DeployOptions(), ["release=banana"]), summary)
