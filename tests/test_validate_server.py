"""What validate calls clean, the real Triton server loads: a scaffolded repository (plain Python, BLS and
an ensemble over them) in the tritonserver of the nvidia-pytriton wheel, answering describe's request."""

from __future__ import annotations

import json
import urllib.request
from pathlib import Path

import pytest

from conftest import require_server
from tritonkit.cli import run
from tritonkit.repository.describe import describe_model, request_body
from tritonkit.validate.engine import validate_repository

pytestmark = pytest.mark.server


def _post(url: str, body: dict[str, object]) -> dict[str, object]:
    request = urllib.request.Request(
        url, data=json.dumps(body).encode(), headers={"Content-Type": "application/json"}, method="POST"
    )
    with urllib.request.urlopen(request, timeout=30) as response:
        result: dict[str, object] = json.loads(response.read())
        return result


def test_scaffolded_python_models_validate_clean_and_load(capsys: pytest.CaptureFixture[str]) -> None:
    require_server()
    from tritonkit.serve.local import start_local_server
    from tritonkit.serve.plan import ServeOptions

    assert run(["init"]) == 0
    io = ["--input", "a:int32:-1", "--output", "b:int32:-1"]
    assert (
        run(["add", "plain", "--backend", "python", *io, "--max-batch-size", "4", "--dynamic-batching"]) == 0
    )
    assert (
        run(["add", "bls", "--backend", "python", "--bls-target", "plain", *io, "--max-batch-size", "4"]) == 0
    )
    assert run(["add", "chain", "--backend", "ensemble", "--step", "plain", "--step", "bls"]) == 0
    capsys.readouterr()
    repo = Path("model_repository").absolute()
    report = validate_repository(repo)
    assert report.ok and report.findings == [], report.findings

    with start_local_server(repo, ServeOptions(startup_timeout=120)) as server:
        base = f"http://{server.http_url}"
        for model in ("plain", "bls", "chain"):
            with urllib.request.urlopen(f"{base}/v2/models/{model}/ready", timeout=10) as response:
                assert response.status == 200, model
            description = describe_model(repo, model)
            body = request_body(description)
            body["inputs"][0]["data"] = [7]  # shape [1, 1]: batch 1, the variable dim 1
            result = _post(f"{base}/v2/models/{model}/infer", body)
            [output] = result["outputs"]  # type: ignore[misc]
            assert output["name"] == "b" and output["datatype"] == "INT32"
            assert output["shape"] == [1, 1] and output["data"] == [7], (model, result)
