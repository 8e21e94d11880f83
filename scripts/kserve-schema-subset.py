#!/usr/bin/env python3
"""Regenerate tests/schemas/kserve-inferenceservice-v1beta1.subset.json from KServe's CRD.

Usage: python scripts/kserve-schema-subset.py CRD_YAML COMMIT \
    > tests/schemas/kserve-inferenceservice-v1beta1.subset.json

CRD_YAML is config/crd/full/serving.kserve.io_inferenceservices.yaml of github.com/kserve/kserve (about
2 MB, Apache-2.0). The subset keeps, from the v1beta1 openAPIV3Schema, only the properties the
InferenceService tritonkit renders uses (every option on), with their types, enums and required lists;
objects that list properties get `additionalProperties: false`, so a misspelt field (`storageURI`)
fails, which the CRD itself (pruning unknown fields) lets through. Maps (labels, resources) stay as in
the CRD.
"""

from __future__ import annotations

import json
import sys
from typing import Any

import yaml


def prune(schema: dict[str, Any], samples: list[Any]) -> dict[str, Any]:
    out = {k: v for k, v in schema.items() if k not in ("properties", "items", "description")}
    if "properties" in schema:
        keys = sorted({k for s in samples if isinstance(s, dict) for k in s})
        missing = [k for k in keys if k not in schema["properties"]]
        if missing:
            raise SystemExit(f"the CRD has no field(s) {missing}")
        out["properties"] = {
            k: prune(schema["properties"][k], [s[k] for s in samples if k in s]) for k in keys
        }
        out["additionalProperties"] = False
        if "required" in schema:
            out["required"] = [r for r in schema["required"] if r in keys]
    if "items" in schema:
        out["items"] = prune(schema["items"], [i for s in samples if isinstance(s, list) for i in s])
    return out


def main() -> None:
    from tritonkit.deploy.kserve import inference_service
    from tritonkit.deploy.manifests import DeployOptions, RepositorySummary
    from tritonkit.repository.remote import parse_remote_uri

    crd_path, commit = sys.argv[1], sys.argv[2]
    with open(crd_path) as handle:
        crd = yaml.safe_load(handle)
    version = next(v for v in crd["spec"]["versions"] if v["name"] == "v1beta1")
    full = version["schema"]["openAPIV3Schema"]
    options = DeployOptions(namespace="ml", region="eu-west-1", gpus=1)
    sample = inference_service(
        parse_remote_uri("s3://h:1/b/p"), options, RepositorySummary(models=["m"], gpus=1)
    )
    subset = prune(full, [sample])
    subset["$comment"] = (
        "A subset of the InferenceService v1beta1 schema of KServe (github.com/kserve/kserve, commit "
        f"{commit}, config/crd/full/serving.kserve.io_inferenceservices.yaml), Copyright The KServe Authors, "
        "Licensed under the Apache License, Version 2.0 (http://www.apache.org/licenses/LICENSE-2.0). "
        "Pruned to the fields tritonkit renders, with additionalProperties: false added "
        "(scripts/kserve-schema-subset.py)."
    )
    json.dump(subset, sys.stdout, indent=1, sort_keys=True)
    sys.stdout.write("\n")


if __name__ == "__main__":
    main()
