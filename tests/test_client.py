"""tritonkit.Client, `tritonkit infer` and `tritonkit test` against the real Triton server.

One server (explicit model control, the Python pipeline example loaded) serves the whole module.
"""

from __future__ import annotations

import json
import shutil
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest

from client_support import copy_example, server_binary, start_test_server
from conftest import require
from tritonkit.cli import run
from tritonkit.client.client import Client, normalize_url
from tritonkit.client.info import ModelInfo, TensorInfo
from tritonkit.client.inputs import InputArg, bind_inputs, load_value, parse_input_arg, random_inputs
from tritonkit.client.replay import check_models
from tritonkit.client.tensors import coerce_inputs
from tritonkit.errors import InferenceError, ServerNotReadyError, UsageError

PIPELINE_MODELS = ["add_sub", "bls_pipeline", "scale", "add_sub_ensemble"]

# ------------------------------------------------------------------------------------ without a server

BATCHED = ModelInfo(
    name="m",
    version="1",
    max_batch_size=8,
    inputs=(TensorInfo("x", "FP32", (4,)), TensorInfo("ids", "INT64", (-1,))),
    outputs=(TensorInfo("y", "FP32", (4,)),),
)


def test_normalize_url_defaults_by_protocol() -> None:
    assert normalize_url(None, "http") == "localhost:8000"
    assert normalize_url(None, "grpc") == "localhost:8001"
    assert normalize_url("http://example:9000/", "http") == "example:9000"
    assert normalize_url("grpc://host", "grpc") == "host:8001"
    with pytest.raises(UsageError):
        normalize_url("x", "websocket")


def test_parse_input_arg_named_and_bare() -> None:
    assert parse_input_arg("x=[[1,2,3]]") == InputArg("x", "[[1,2,3]]")
    assert parse_input_arg("INPUT__0=@a.npy") == InputArg("INPUT__0", "@a.npy")
    assert parse_input_arg("[1, 2]") == InputArg(None, "[1, 2]")
    assert parse_input_arg("@file.npy") == InputArg(None, "@file.npy")
    assert parse_input_arg('["a=b"]') == InputArg(None, '["a=b"]')


def test_load_value_json_files_and_errors(tmp_path: Path) -> None:
    np.save(tmp_path / "a.npy", np.arange(4, dtype=np.float32))
    assert load_value("@" + str(tmp_path / "a.npy"), "x").tolist() == [0, 1, 2, 3]
    (tmp_path / "v.json").write_text("[[1, 2]]")
    assert load_value("@" + str(tmp_path / "v.json"), "x") == [[1, 2]]
    assert load_value("hello", "x") == "hello"  # a bare word for BYTES inputs
    with pytest.raises(UsageError, match="no such file"):
        load_value("@" + str(tmp_path / "missing.npy"), "--input x")
    with pytest.raises(UsageError, match="not valid JSON"):
        load_value("[1, 2", "--input x")


def test_coerce_adds_the_batch_dim_and_casts() -> None:
    arrays, added = coerce_inputs(BATCHED, {"x": [1, 2, 3, 4], "ids": [7, 8, 9]})
    assert added
    assert arrays["x"].shape == (1, 4) and arrays["x"].dtype == np.float32
    assert arrays["ids"].shape == (1, 3) and arrays["ids"].dtype == np.int64
    arrays, added = coerce_inputs(BATCHED, {"x": np.ones((3, 4)), "ids": np.ones((3, 2), dtype=np.int32)})
    assert not added and arrays["x"].shape == (3, 4)


def test_coerce_fast_path_passes_exact_inputs_through() -> None:
    exact = {"x": np.ones((2, 4), np.float32), "ids": np.ones((2, 3), np.int64)}
    arrays, added = coerce_inputs(BATCHED, exact)
    assert arrays is exact and not added
    near = {"x": np.ones((2, 4), np.float64), "ids": np.ones((2, 3), np.int64)}  # slow path: cast
    arrays, _ = coerce_inputs(BATCHED, near)
    assert arrays["x"].dtype == np.float32
    with pytest.raises(UsageError, match="above max_batch_size"):
        coerce_inputs(BATCHED, {"x": np.ones((9, 4), np.float32), "ids": np.ones((9, 3), np.int64)})


def test_coerce_explains_the_batch_dim_on_a_wrong_shape() -> None:
    with pytest.raises(UsageError) as err:
        coerce_inputs(BATCHED, {"x": [1, 2, 3], "ids": [1]})
    assert "has shape [3]" in err.value.message and "expected [batch, 4]" in err.value.message
    assert "max_batch_size > 0 means a batch dim is prepended: send shape [1, 4]" in (err.value.hint or "")


@pytest.mark.parametrize(
    ("inputs", "match"),
    [
        ({"x": [1, 2, 3, 4], "nope": [1]}, "has no input 'nope'"),
        ({"x": [1, 2, 3, 4]}, "needs input"),
        ({"x": np.ones((9, 4)), "ids": np.ones((9, 1))}, "above max_batch_size 8"),
        ({"x": np.ones((2, 4)), "ids": np.ones((3, 1))}, "different batch sizes"),
        ({"x": [1, 2, 3, 4], "ids": [0.5]}, "fractional"),
        ([1, 2, 3, 4], "name each one"),
    ],
)
def test_coerce_rejects_bad_inputs(inputs: object, match: str) -> None:
    with pytest.raises(UsageError, match=match):
        coerce_inputs(BATCHED, inputs)


def test_coerce_wire_types_bytes_fp16_bf16() -> None:
    import ml_dtypes

    info = ModelInfo(
        "t",
        "1",
        0,
        (TensorInfo("s", "BYTES", (2,)), TensorInfo("h", "FP16", (2,)), TensorInfo("b", "BF16", (2,))),
        (),
    )
    arrays, added = coerce_inputs(info, {"s": ["a", b"b"], "h": [1.5, 2], "b": [1.0, 2.5]})
    assert not added
    assert arrays["s"].dtype == object and arrays["s"].tolist() == [b"a", b"b"]
    assert arrays["h"].dtype == np.float16
    assert arrays["b"].dtype == ml_dtypes.bfloat16


def test_random_inputs_follow_the_model() -> None:
    values = random_inputs(BATCHED, batch_size=3)
    assert values["x"].shape == (3, 4) and values["x"].dtype == np.float32
    assert values["ids"].shape == (3, 1) and values["ids"].dtype == np.int64


def test_bind_inputs_bare_value_needs_a_single_input() -> None:
    single = ModelInfo("s", "1", 0, (TensorInfo("x", "FP32", (2,)),), ())
    assert bind_inputs([InputArg(None, "[1, 2]")], single) == {"x": [1, 2]}
    with pytest.raises(UsageError, match="a bare value needs a name"):
        bind_inputs([InputArg(None, "[1, 2]")], BATCHED)


def test_unreachable_server_is_exit_3(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(ServerNotReadyError, match="cannot reach a Triton server"):
        Client("127.0.0.1:9", "http").infer("m", [1])
    with pytest.raises(ServerNotReadyError, match="cannot reach a Triton server"):
        Client("127.0.0.1:9", "grpc", timeout=2).model_info("m")
    assert run(["infer", "m", "--random", "--url", "127.0.0.1:9"]) == 3
    assert "cannot reach a Triton server at 127.0.0.1:9" in capsys.readouterr().err


def test_infer_needs_an_input(capsys: pytest.CaptureFixture[str]) -> None:
    assert run(["infer", "m"]) == 2
    assert "no input given" in capsys.readouterr().err


# ------------------------------------------------------------------------------------ with the server


# A model without batching, with BYTES and FP16 tensors (the Python backend has no BF16 in numpy).
TYPES_CONFIG = """
name: "types_echo"
backend: "python"
max_batch_size: 0
input [
  { name: "TEXT", data_type: TYPE_STRING, dims: [ -1 ] },
  { name: "HALF", data_type: TYPE_FP16, dims: [ 2 ] }
]
output [
  { name: "TEXT_OUT", data_type: TYPE_STRING, dims: [ -1 ] },
  { name: "HALF_OUT", data_type: TYPE_FP16, dims: [ 2 ] }
]
"""
TYPES_MODEL = """
import numpy as np
import triton_python_backend_utils as pb_utils

class TritonPythonModel:
    def execute(self, requests):
        out = []
        for r in requests:
            text = pb_utils.get_input_tensor_by_name(r, "TEXT").as_numpy()
            half = pb_utils.get_input_tensor_by_name(r, "HALF").as_numpy()
            upper = np.array([t.upper() for t in text.reshape(-1)], dtype=object).reshape(text.shape)
            out.append(pb_utils.InferenceResponse([
                pb_utils.Tensor("TEXT_OUT", upper),
                pb_utils.Tensor("HALF_OUT", (half * 2).astype(np.float16)),
            ]))
        return out
"""


@pytest.fixture(scope="module")
def pipeline(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[object, Path]]:
    """The Python pipeline example (a copy) served in explicit model-control mode, all models loaded."""
    require(server_binary() is not None, "the Triton server", "pip install nvidia-pytriton==0.7.0")
    repo = copy_example("python_pipeline", tmp_path_factory.mktemp("pipeline")) / "model_repository"
    (repo / "types_echo" / "1").mkdir(parents=True)
    (repo / "types_echo" / "config.pbtxt").write_text(TYPES_CONFIG)
    (repo / "types_echo" / "1" / "model.py").write_text(TYPES_MODEL)
    server = start_test_server(repo, explicit=True, load_models=[*PIPELINE_MODELS, "types_echo"])
    try:
        yield server, repo
    finally:
        server.stop()


@pytest.mark.server
@pytest.mark.parametrize("protocol", ["http", "grpc"])
def test_client_infers_without_types_or_shapes(pipeline: tuple[object, Path], protocol: str) -> None:
    server, _ = pipeline
    url = server.http_url if protocol == "http" else server.grpc_url  # type: ignore[attr-defined]
    with Client(url, protocol) as client:
        out = client.infer("add_sub", {"INPUT0": [1, 2, 3, 4], "INPUT1": [1, 1, 1, 1]})
        assert out["OUTPUT0"].tolist() == [2, 3, 4, 5] and out["OUTPUT1"].tolist() == [0, 1, 2, 3]
        batch = client.infer("add_sub", {"INPUT0": np.ones((3, 4)), "INPUT1": np.ones((3, 4))})
        assert batch["OUTPUT0"].shape == (3, 4)
        # the BLS model: its first output changes (x10), its second passes add_sub's through
        bls = client.infer("bls_pipeline", {"INPUT0": [1, 2, 3, 4], "INPUT1": [1, 1, 1, 1]})
        assert bls["OUTPUT0"].tolist() == [20, 30, 40, 50] and bls["OUTPUT1"].tolist() == [0, 1, 2, 3]
        ens = client.infer("add_sub_ensemble", {"INPUT0": [1, 2, 3, 4], "INPUT1": [1, 1, 1, 1]})
        assert ens["SUM_X2"].tolist() == [4, 6, 8, 10] and ens["DIFF"].tolist() == [0, 1, 2, 3]
        assert client.infer("scale", [1, 2, 3, 4])["OUTPUT"].tolist() == [2, 4, 6, 8]
        only = client.infer("add_sub", {"INPUT0": [1] * 4, "INPUT1": [1] * 4}, outputs=["OUTPUT1"])
        assert list(only) == ["OUTPUT1"]


@pytest.mark.server
def test_client_reports_server_errors_with_hints(pipeline: tuple[object, Path]) -> None:
    server, _ = pipeline
    client = Client(server.http_url)  # type: ignore[attr-defined]
    with pytest.raises(InferenceError) as err:
        client.infer("no_such_model", [1])
    assert "no ready model 'no_such_model'" in err.value.message
    assert "add_sub" in (err.value.hint or "")
    # The server's own shape error, sent past the client's checks, is explained too.
    info = client.model_info("add_sub")
    bad = {"INPUT0": np.ones(4, np.float32), "INPUT1": np.ones(4, np.float32)}
    with pytest.raises(InferenceError) as err:
        client._send(info, bad, None, "")
    assert "unexpected shape" in err.value.message
    assert "max_batch_size > 0 means a batch dim is prepended: send shape [1, 4]" in (err.value.hint or "")
    client.close()


@pytest.mark.server
def test_infer_cli_table_json_save_and_grpc(
    pipeline: tuple[object, Path], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    server, _ = pipeline
    http, grpc = server.http_url, server.grpc_url  # type: ignore[attr-defined]
    assert run(["infer", "add_sub", "-i", "INPUT0=[1,2,3,4]", "-i", "INPUT1=[1,1,1,1]", "--url", http]) == 0
    out = capsys.readouterr().out
    assert "OUTPUT0  FP32  [4]" in out and "[2., 3., 4., 5.]" in out
    np.save(tmp_path / "in0.npy", np.full((2, 4), 3, np.float32))
    argv = [
        "infer",
        "bls_pipeline",
        "-i",
        f"INPUT0=@{tmp_path / 'in0.npy'}",
        "-i",
        "INPUT1=[[1,1,1,1],[2,2,2,2]]",
    ]
    assert run([*argv, "--url", grpc, "--protocol", "grpc", "--json", "--save", str(tmp_path / "out")]) == 0
    payload = json.loads(capsys.readouterr().out)
    assert payload["outputs"]["OUTPUT0"]["shape"] == [2, 4]
    assert payload["outputs"]["OUTPUT0"]["data"][1] == [50.0] * 4
    assert np.load(tmp_path / "out" / "OUTPUT1.npy").tolist() == [[2.0] * 4, [1.0] * 4]
    assert run(["infer", "scale", "-i", "[1, 2, 3, 4]", "--url", http, "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["outputs"]["OUTPUT"]["data"] == [2.0, 4.0, 6.0, 8.0]
    assert run(["infer", "add_sub", "--random", "-b", "4", "--url", http, "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["outputs"]["OUTPUT0"]["shape"] == [4, 4]


@pytest.mark.server
@pytest.mark.parametrize(
    ("argv", "code", "message"),
    [
        (["infer", "nope", "--random"], 4, "no ready model 'nope'"),
        (["infer", "add_sub", "-i", "X=[1,2,3,4]", "-i", "INPUT1=[1,1,1,1]"], 2, "has no input 'X'"),
        (["infer", "add_sub", "-i", "INPUT0=[1,2,3]", "-i", "INPUT1=[1,2,3]"], 2, "send shape [1, 4]"),
        (["infer", "add_sub", "-i", "[1,2,3,4]"], 2, "a bare value needs a name"),
        (["infer", "add_sub", "--random", "-o", "NOPE"], 2, "has no output 'NOPE'"),
        (["infer", "add_sub", "--random", "-b", "9"], 2, "above max_batch_size 8"),
    ],
)
def test_infer_cli_wrong_input(
    pipeline: tuple[object, Path],
    capsys: pytest.CaptureFixture[str],
    argv: list[str],
    code: int,
    message: str,
) -> None:
    server, _ = pipeline
    assert run([*argv, "--url", server.http_url]) == code  # type: ignore[attr-defined]
    err = capsys.readouterr().err
    assert message in err and "Traceback" not in err


@pytest.mark.server
def test_test_command_passes_on_golden_samples(
    pipeline: tuple[object, Path], capsys: pytest.CaptureFixture[str]
) -> None:
    server, repo = pipeline
    assert run(["test", "--repo", str(repo), "--url", server.http_url]) == 0  # type: ignore[attr-defined]
    out = capsys.readouterr().out
    assert "4 passed, 0 failed" in out and "PASS  bls_pipeline" in out
    grpc = server.grpc_url  # type: ignore[attr-defined]
    assert run(["test", "add_sub", "--repo", str(repo), "--url", grpc, "-p", "grpc", "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["ok"] is True


@pytest.mark.server
def test_test_command_fails_when_a_model_changes(
    pipeline: tuple[object, Path], capsys: pytest.CaptureFixture[str]
) -> None:
    server, repo = pipeline
    model_py = repo / "add_sub" / "1" / "model.py"
    original = model_py.read_text()
    client = Client(server.http_url)  # type: ignore[attr-defined]
    try:
        model_py.write_text(original.replace("(in0 + in1)", "(in0 + in1 + 1)"))
        client.load_model("add_sub")  # the changed model is now served
        assert run(["test", "--repo", str(repo), "--url", server.http_url]) == 1  # type: ignore[attr-defined]
        captured = capsys.readouterr()
        assert "FAIL  add_sub: output OUTPUT0 differs: max abs diff 1" in captured.out
        assert "FAIL  bls_pipeline" in captured.out and "PASS  scale" in captured.out
        assert "failed: add_sub, add_sub_ensemble, bls_pipeline" in captured.err
        results = {r.model: r for r in check_models(client, repo, ["add_sub"])}
        assert results["add_sub"].status == "fail" and results["add_sub"].max_abs_diff == 1.0
    finally:
        model_py.write_text(original)
        client.load_model("add_sub")
        client.close()


@pytest.mark.server
def test_test_command_without_golden_samples(
    pipeline: tuple[object, Path], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    server, repo = pipeline
    bare = tmp_path / "bare"
    shutil.copytree(repo, bare)
    for golden in bare.glob("*/tritonkit_golden.npz"):
        golden.unlink()
    url = server.http_url  # type: ignore[attr-defined]
    assert run(["test", "--repo", str(bare), "--url", url]) == 2
    assert "no model in" in capsys.readouterr().err
    assert run(["test", "add_sub", "--repo", str(bare), "--url", url]) == 1
    assert "no golden sample" in capsys.readouterr().out
    assert run(["test", "--repo", str(repo), "--url", "127.0.0.1:9"]) == 3


@pytest.mark.server
@pytest.mark.parametrize("protocol", ["http", "grpc"])
def test_bytes_and_fp16_without_batching(
    pipeline: tuple[object, Path], protocol: str, capsys: pytest.CaptureFixture[str]
) -> None:
    server, _ = pipeline
    url = server.http_url if protocol == "http" else server.grpc_url  # type: ignore[attr-defined]
    with Client(url, protocol) as client:
        out = client.infer("types_echo", {"TEXT": ["héllo", b"triton"], "HALF": [1.5, -2]})
        assert out["TEXT_OUT"].tolist() == ["HéLLO".encode(), b"TRITON"]  # bytes.upper: ASCII only
        assert out["HALF_OUT"].dtype == np.float16 and out["HALF_OUT"].tolist() == [3.0, -4.0]
        with pytest.raises(UsageError, match="does not batch"):
            client.infer("types_echo", {"TEXT": [["a"]], "HALF": [[1, 2]]})
    argv = ["infer", "types_echo", "-i", 'TEXT=["a", "b"]', "-i", "HALF=[1, 2]", "--json", "-p", protocol]
    assert run([*argv, "--url", url]) == 0
    outputs = json.loads(capsys.readouterr().out)["outputs"]
    assert outputs["TEXT_OUT"] == {"datatype": "BYTES", "shape": [2], "data": ["A", "B"]}
    assert outputs["HALF_OUT"]["datatype"] == "FP16" and outputs["HALF_OUT"]["data"] == [2.0, 4.0]
