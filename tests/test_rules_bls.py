"""bls.*: the tensor names a BLS model.py sends and asks for, read statically, against the target's config."""

from __future__ import annotations

from pathlib import Path

import pytest

from tritonkit.cli import run
from tritonkit.validate.engine import validate_repository
from validate_support import cfg, write_model

TARGET = cfg("fc", inputs='input [ { name: "INPUT__0" data_type: TYPE_FP32 dims: [ 4 ] } ]',
             outputs='output [ { name: "OUTPUT__0" data_type: TYPE_FP32 dims: [ 2 ] } ]')  # fmt: skip
SHAPES = {
    "literals": """
        r = pb_utils.InferenceRequest(model_name="fc", requested_output_names=["OUTPUT__0", "OUTPUT1"],
                                      inputs=[pb_utils.Tensor("INPUT0", x)])
""",
    "constants": """
        r = pb_utils.InferenceRequest(model_name=TARGET, requested_output_names=OUTS, inputs=[Tensor(IN, x)])
""",
    "dicts_and_comprehensions": """
        inputs = [pb_utils.Tensor(IN_MAP[n], x) for n in NAMES]
        r = pb_utils.InferenceRequest(model_name=TARGET, requested_output_names=list(OUT_MAP), inputs=inputs)
""",
}
HEAD = """import triton_python_backend_utils as pb_utils
from triton_python_backend_utils import Tensor

TARGET = "fc"
OUTS = ["OUTPUT__0", "OUTPUT1"]
IN = "INPUT0"
NAMES = ["a"]
IN_MAP = {"a": "INPUT0"}
OUT_MAP = {"OUTPUT__0": "y", "OUTPUT1": "z"}


class TritonPythonModel:
    def execute(self, requests):
        x = None
"""


def _findings(tmp_path: Path, body: str) -> list[tuple[str, str, int | None]]:
    repo = tmp_path / "repo"
    write_model(repo, "fc", TARGET)
    write_model(repo, "bls", cfg("bls"), files={"1/model.py": HEAD + body + "        return []\n"})
    report = validate_repository(repo)  # model.py is read only when artifacts are looked at
    return [(f.rule, f.message, f.line) for f in report.findings if f.rule.startswith("bls.")]


@pytest.mark.parametrize("shape", sorted(SHAPES))
def test_wrong_names_are_errors_with_the_line(tmp_path: Path, shape: str) -> None:
    found = _findings(tmp_path, SHAPES[shape])
    rules = sorted(r for r, _, _ in found)
    assert rules == ["bls.unknown-input", "bls.unknown-output"], found
    messages = " ".join(m for _, m, _ in found)
    assert (
        "'OUTPUT1'" in messages and "'INPUT0'" in messages and "'OUTPUT__0'" not in messages.split("have")[0]
    )
    assert all(line is not None and line > 14 for _, _, line in found)


def test_right_names_and_unknowable_names_are_quiet(tmp_path: Path) -> None:
    right = SHAPES["literals"].replace('"OUTPUT1"', '"OUTPUT__0"').replace('"INPUT0"', '"INPUT__0"')
    assert _findings(tmp_path / "a", right) == []
    computed = """
        names = [o for o in self.outputs]
        r = pb_utils.InferenceRequest(model_name="fc", requested_output_names=names, inputs=self.make(x))
"""
    assert _findings(tmp_path / "b", computed) == []


def test_the_scaffold_is_wired_to_the_target_s_real_names_and_a_hand_edit_is_caught(
    capsys: pytest.CaptureFixture[str],
) -> None:
    """The issue's case: a target whose output names differ from the BLS model's."""
    assert run(["init"]) == 0
    assert (
        run(["add", "fc_model_pt", "--backend", "python", "-i", "INPUT__0:fp32:16", "-o", "OUTPUT__0:fp32:4"])
        == 0
    )
    bls = ["add", "pipeline", "--backend", "python", "--bls-target", "fc_model_pt", "-i", "INPUT0:fp32:16"]
    assert run([*bls, "-o", "OUTPUT0:fp32:4", "-o", "OUTPUT1:fp32:2"]) == 2  # the target has one output
    assert "has 1 outputs (OUTPUT__0)" in capsys.readouterr().err
    assert run([*bls, "-o", "OUTPUT0:fp32:4"]) == 0
    model_py = Path("model_repository/pipeline/1/model.py")
    text = model_py.read_text()
    assert (
        "TARGET_OUTPUTS = {'OUTPUT__0': 'OUTPUT0'}" in text
        and "TARGET_INPUTS = {'INPUT0': 'INPUT__0'}" in text
    )
    assert run(["validate"]) == 0
    model_py.write_text(
        text.replace("{'OUTPUT__0': 'OUTPUT0'}", "{'OUTPUT__0': 'OUTPUT0', 'OUTPUT1': 'OUTPUT1'}")
    )
    capsys.readouterr()
    assert run(["validate"]) == 1
    out = capsys.readouterr().out
    assert "bls.unknown-output" in out and "'OUTPUT1'" in out


@pytest.mark.server
def test_the_bls_scaffold_answers_its_first_request_on_the_real_server() -> None:
    """A target with two outputs named unlike the BLS model's: the scaffold maps onto the real names."""
    import numpy as np

    from client_support import server_binary, start_test_server
    from conftest import require
    from tritonkit.client.client import Client

    require(server_binary() is not None, "the Triton server", "pip install nvidia-pytriton==0.7.0")
    assert run(["init"]) == 0
    target = ["add", "fc", "--backend", "python", "-i", "INPUT__0:fp32:4", "-i", "INPUT__1:fp32:4"]
    assert run([*target, "-o", "OUTPUT__0:fp32:4", "-o", "OUTPUT__1:fp32:4"]) == 0
    bls = ["add", "pipeline", "--backend", "python", "--bls-target", "fc", "-i", "A:fp32:4", "-i", "B:fp32:4"]
    assert run([*bls, "-o", "X:fp32:4", "-o", "OUTPUT__1:fp32:4"]) == 0  # one by position, one by name
    assert run(["validate"]) == 0
    server = start_test_server(Path("model_repository").absolute())
    try:
        a, b = np.arange(4, dtype=np.float32), np.full(4, 7, dtype=np.float32)
        with Client(server.http_url) as client:
            got = client.infer("pipeline", {"A": a, "B": b})
    finally:
        server.stop()
    np.testing.assert_array_equal(got["X"], a)  # fc echoes input i as output i
    np.testing.assert_array_equal(got["OUTPUT__1"], b)
