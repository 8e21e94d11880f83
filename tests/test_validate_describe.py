# ruff: noqa: E501  (tables of CLI arguments read best on one line each)
"""describe: full shapes with the batch dim, wire types, and examples that are really usable."""

from __future__ import annotations

import json
import shlex
import subprocess
import sys
from pathlib import Path

import pytest

import tritonkit
from tritonkit.cli import run
from tritonkit.errors import RepositoryError
from tritonkit.repository.describe import describe_model, request_body


@pytest.fixture
def repo(capsys: pytest.CaptureFixture[str]) -> Path:
    assert run(["init"]) == 0
    models = {
        "fc": ["--backend", "pytorch", "--input", "INPUT__0:fp32:16", "--output", "OUTPUT__0:fp32:4",
               "--max-batch-size", "8"],
        "text": ["--backend", "python", "--input", "s:bytes:1", "--input", "n:int64:-1", "--output", "o:bool:2"],
        "image": ["--backend", "onnx", "--input", "x:fp16:3,32,32", "--output", "y:fp32:10", "--max-batch-size", "2"],
    }  # fmt: skip
    for name, args in models.items():
        assert run(["add", name, *args]) == 0
    capsys.readouterr()
    return Path("model_repository")


def test_batching_model_shapes_and_wire_types(repo: Path) -> None:
    d = tritonkit.describe_model(repo, "fc")
    assert d.max_batch_size == 8 and d.versions == [1]
    [x] = d.inputs
    assert (x.name, x.wire_type, x.config_type, x.shape, x.dims) == (
        "INPUT__0",
        "FP32",
        "TYPE_FP32",
        [-1, 16],
        [16],
    )
    assert d.outputs[0].shape == [-1, 4]
    assert "POST" in d.curl and "http://localhost:8000/v2/models/fc/infer" in d.curl
    body = json.loads(shlex.split(d.curl)[-1])
    assert body["inputs"] == [{"name": "INPUT__0", "shape": [1, 16], "datatype": "FP32", "data": [0.0] * 16}]


def test_non_batching_model_has_no_batch_dim_and_bytes_on_the_wire(repo: Path) -> None:
    d = describe_model(repo, "text")
    assert [(t.name, t.wire_type, t.shape) for t in d.inputs] == [("s", "BYTES", [1]), ("n", "INT64", [-1])]
    assert d.outputs[0].wire_type == "BOOL"
    body = request_body(d)
    assert body["inputs"][0]["data"] == ["text"] and body["inputs"][1]["shape"] == [1]


def test_python_snippet_compiles_and_names_the_tensors(repo: Path) -> None:
    d = describe_model(repo, "text", url="127.0.0.1:9000")
    compile(d.python, "<snippet>", "exec")
    assert "InferenceServerClient(url='127.0.0.1:9000')" in d.python
    assert "httpclient.InferInput('s', list(data.shape), 'BYTES')" in d.python
    assert "np.zeros([1], dtype=np.int64)" in d.python


def test_large_inputs_get_a_generated_request_file(repo: Path, tmp_path: Path) -> None:
    d = describe_model(repo, "image")
    assert d.curl.startswith("python3 -c ") and "-d @request.json" in d.curl
    script = shlex.split(d.curl.split(" > request.json")[0])[2]
    body = json.loads(
        subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, check=True).stdout
    )
    [x] = body["inputs"]
    assert x["shape"] == [1, 3, 32, 32] and x["datatype"] == "FP16" and len(x["data"]) == 3 * 32 * 32


def test_text_and_json_output(repo: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert run(["describe", "fc"]) == 0
    text = capsys.readouterr().out
    assert "INPUT__0  FP32   shape [-1, 16]" in text and "batches up to 8" in text
    assert "curl -s -X POST http://localhost:8000/v2/models/fc/infer" in text
    assert run(["describe", "fc", "--json", "--url", "h:1"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert data["endpoint"] == "http://h:1/v2/models/fc/infer"
    assert data["inputs"][0] == {
        "name": "INPUT__0", "datatype": "FP32", "config_type": "TYPE_FP32", "shape": [-1, 16], "dims": [16],
        "optional": False,
    }  # fmt: skip


def test_unknown_model_and_broken_config(repo: Path, capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(RepositoryError, match="no model 'fcc'") as info:
        describe_model(repo, "fcc")
    assert info.value.hint == "did you mean 'fc'?"
    assert run(["describe", "../fc"]) == 2
    assert "no model '../fc'" in capsys.readouterr().err
    (repo / "fc" / "config.pbtxt").write_text("name: [\n")
    assert run(["describe", "fc"]) == 2
    err = capsys.readouterr().err
    assert "config.pbtxt:1" in err and "Traceback" not in err
