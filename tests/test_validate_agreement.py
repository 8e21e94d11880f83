# ruff: noqa: E501  (the table of configs reads best with one case per line)
"""validate agrees with the real Triton server: a model validate calls an error, the server refuses to
load; a model it passes (or only warns about), the server loads.

One tritonserver (nvidia-pytriton wheel) in explicit model-control mode serves a repository of many
small models; each is loaded through the repository API and unloaded again.
"""

from __future__ import annotations

import json
import os
import subprocess
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

from conftest import require
from tritonkit.validate.engine import ValidationReport, validate_repository
from validate_support import MODEL_PY, cfg, write_model

pytestmark = pytest.mark.server


def db(body: str) -> str:
    return f"dynamic_batching {{ {body} }}"


def x_input(body: str) -> str:
    return f'input [ {{ name: "x" {body} }} ]'


def seq(name: str, body: str) -> str:
    return f'sequence_batching {{ control_input [ {{ name: "{name}" control [ {{ {body} }} ] }} ] }}'


def step(model: str, inputs: dict[str, str], outputs: dict[str, str], version: int = -1) -> str:
    maps = [f'input_map {{ key: "{k}" value: "{v}" }}' for k, v in inputs.items()]
    maps += [f'output_map {{ key: "{k}" value: "{v}" }}' for k, v in outputs.items()]
    return f'{{ model_name: "{model}" model_version: {version} {" ".join(maps)} }}'


def ens(
    name: str, steps: list[str], *, mbs: int = 0, extra: str = "", inputs: str = "", dtype: str = "TYPE_FP32"
) -> str:
    scheduling = "ensemble_scheduling { step [ " + ", ".join(steps) + " ] }"
    return cfg(
        name, backend=None, platform="ensemble", mbs=mbs,
        inputs=inputs or f'input [ {{ name: "x" data_type: {dtype} dims: [ 4 ] }} ]',
        extra=scheduling + "\n" + extra,
    )  # fmt: skip


OK_STEP = step("ok_plain", {"x": "x"}, {"y": "y"})

# name -> config text. Names starting with "ok_" must load; the others must be refused.
CASES: dict[str, str] = {
    "ok_plain": cfg("ok_plain"),
    "ok_batching": cfg("ok_batching", mbs=8, extra=db("preferred_batch_size: [ 2, 4 ] max_queue_delay_microseconds: 100")),
    "ok_duplicate_input": cfg("ok_duplicate_input", inputs='input [ { name: "x" data_type: TYPE_FP32 dims: [ 4 ] }, { name: "x" data_type: TYPE_FP32 dims: [ 4 ] } ]'),
    "ok_negative_count": cfg("ok_negative_count", extra="instance_group [ { kind: KIND_CPU count: -1 } ]"),
    "ok_no_batch_dynamic": cfg("ok_no_batch_dynamic", extra=db("")),
    "ok_policy_partly_missing": cfg("ok_policy_partly_missing", extra="version_policy: { specific: { versions: [ 1, 3 ] } }"),
    "ok_ensemble": ens("ok_ensemble", [OK_STEP]),
    "ok_ensemble_over_nonbatching": ens("ok_ensemble_over_nonbatching", [OK_STEP], mbs=4),
    "name_mismatch": cfg("other_name"),
    "no_backend": cfg("no_backend", backend=None),
    "platform_backend_pair": cfg("platform_backend_pair", backend="onnxruntime", platform="pytorch_libtorch"),
    "platform_typo": cfg("platform_typo", backend=None, platform="pytorch"),
    "unknown_field": cfg("unknown_field", extra="max_batch: 4"),
    "unknown_enum": cfg("unknown_enum", inputs=x_input("data_type: TYPE_INT dims: [ 4 ]")),
    "dim_zero": cfg("dim_zero", inputs=x_input("data_type: TYPE_FP32 dims: [ 0 ]")),
    "no_dims": cfg("no_dims", inputs=x_input("data_type: TYPE_FP32")),
    "no_data_type": cfg("no_data_type", inputs=x_input("dims: [ 4 ]")),
    "reshape_count": cfg("reshape_count", inputs=x_input("data_type: TYPE_FP32 dims: [ 4 ] reshape: { shape: [ 3 ] }")),
    "reshape_variable": cfg("reshape_variable", inputs=x_input("data_type: TYPE_FP32 dims: [ -1, 4 ] reshape: { shape: [ -1, -1 ] }")),
    "empty_reshape": cfg("empty_reshape", inputs=x_input("data_type: TYPE_FP32 dims: [ 1 ] reshape: { shape: [ ] }")),
    "format_dims": cfg("format_dims", inputs=x_input("data_type: TYPE_FP32 format: FORMAT_NCHW dims: [ 4 ]")),
    "shape_tensor": cfg("shape_tensor", inputs=x_input("data_type: TYPE_INT32 dims: [ 2 ] is_shape_tensor: true")),
    "preferred_size": cfg("preferred_size", mbs=4, extra=db("preferred_batch_size: [ 8 ]")),
    "priority_default": cfg("priority_default", mbs=4, extra=db("priority_levels: 2 default_priority_level: 3")),
    "priority_policy": cfg("priority_policy", mbs=4, extra=db("priority_levels: 2 default_priority_level: 1 priority_queue_policy { key: 5 value: { max_queue_size: 1 } }")),
    "preserve_priorities": cfg("preserve_priorities", mbs=4, extra=db("preserve_ordering: true priority_levels: 2 default_priority_level: 1")),
    "preserve_delay": cfg("preserve_delay", mbs=4, extra=db("preserve_ordering: true default_queue_policy { timeout_action: DELAY default_timeout_microseconds: 100 }")),
    "sequence_false_true": cfg("sequence_false_true", mbs=4, extra=seq("S", "kind: CONTROL_SEQUENCE_START int32_false_true: [ 0, 1, 1 ]")),
    "sequence_corrid_type": cfg("sequence_corrid_type", mbs=4, extra=seq("C", "kind: CONTROL_SEQUENCE_CORRID data_type: TYPE_FP32")),
    "ok_sequence_state_no_output": cfg("ok_sequence_state_no_output", mbs=4, extra='sequence_batching { state [ { input_name: "s_in" data_type: TYPE_FP32 dims: [ 4 ] } ] }'),
    "ok_sequence_state_no_dims": cfg("ok_sequence_state_no_dims", mbs=4, extra='sequence_batching { state [ { input_name: "s_in" output_name: "s_out" data_type: TYPE_FP32 } ] }'),
    "ok_sequence_state": cfg("ok_sequence_state", mbs=4, extra='sequence_batching { state [ { input_name: "s_in" output_name: "s_out" data_type: TYPE_FP32 dims: [ 4 ] } ] }'),
    "sequence_oldest_size": cfg("sequence_oldest_size", mbs=4, extra="sequence_batching { oldest { preferred_batch_size: [ 16 ] } }"),
    "batch_input_source": cfg("batch_input_source", mbs=4, extra='batch_input [ { kind: BATCH_ELEMENT_COUNT target_name: "n" data_type: TYPE_INT32 source_input: "nope" } ]'),
    "batch_input_type": cfg("batch_input_type", mbs=4, extra='batch_input [ { kind: BATCH_ELEMENT_COUNT target_name: "n" data_type: TYPE_INT64 source_input: "x" } ]'),
    "batch_output_target": cfg("batch_output_target", mbs=4, extra='batch_output [ { kind: BATCH_SCATTER_WITH_INPUT_SHAPE target_name: "z" source_input: "x" } ]'),
    "gpus_on_cpu": cfg("gpus_on_cpu", extra="instance_group [ { kind: KIND_CPU gpus: [ 0 ] } ]"),
    "gpu_negative": cfg("gpu_negative", extra="instance_group [ { kind: KIND_GPU gpus: [ -1 ] } ]"),
    "policy_all_missing": cfg("policy_all_missing", extra="version_policy: { specific: { versions: [ 3 ] } }"),
    "scheduling_not_ensemble": cfg("scheduling_not_ensemble", extra=f"ensemble_scheduling {{ step [ {OK_STEP} ] }}"),
    "ens_unknown_model": ens("ens_unknown_model", [step("ghost", {"x": "x"}, {"y": "y"})]),
    "ens_unused_input": ens("ens_unused_input", [OK_STEP], inputs='input [ { name: "x" data_type: TYPE_FP32 dims: [ 4 ] }, { name: "x2" data_type: TYPE_FP32 dims: [ 4 ] } ]'),
    "ens_output_not_produced": ens("ens_output_not_produced", [step("ok_plain", {"x": "x"}, {"y": "z"})]),
    "ens_produced_twice": ens("ens_produced_twice", [OK_STEP, OK_STEP]),
    "ens_unknown_member_tensor": ens("ens_unknown_member_tensor", [step("ok_plain", {"x": "x", "q": "x"}, {"y": "y"})]),
    "ens_type_mismatch": ens("ens_type_mismatch", [OK_STEP], dtype="TYPE_INT32"),
    "ens_batch_above_member": ens("ens_batch_above_member", [step("ok_batching", {"x": "x"}, {"y": "y"})], mbs=16),
    "ens_instance_group": ens("ens_instance_group", [OK_STEP], extra="instance_group [ { kind: KIND_CPU } ]"),
    "ens_version_3": ens("ens_version_3", [step("ok_plain", {"x": "x"}, {"y": "y"}, version=3)]),
    "ens_version_unset": ens("ens_version_unset", ['{ model_name: "ok_plain" input_map { key: "x" value: "x" } output_map { key: "y" value: "y" } }']),
    "ens_cycle_a": ens("ens_cycle_a", [step("ens_cycle_b", {"x": "x"}, {"y": "y"})]),
    "ens_cycle_b": ens("ens_cycle_b", [step("ens_cycle_a", {"x": "x"}, {"y": "y"})]),
}  # fmt: skip
LAYOUT_CASES = (
    "no_version", "leading_zero_only", "config_in_version", "python_no_model_class", "ok_missing_config_python",
    "ok_inner_config_ignored", "ok_non_numeric_folder",
)  # fmt: skip


def _make_repository(repo: Path) -> None:
    for name, text in CASES.items():
        write_model(repo, name, text)
    write_model(repo, "no_version", cfg("no_version"), versions=())
    write_model(repo, "leading_zero_only", cfg("leading_zero_only"))
    os.rename(repo / "leading_zero_only" / "1", repo / "leading_zero_only" / "01")
    write_model(repo, "config_in_version", None, files={"1/config.pbtxt": cfg("config_in_version")})
    write_model(
        repo,
        "python_no_model_class",
        cfg("python_no_model_class"),
        files={"1/model.py": "class Model:\n    pass\n"},
    )
    write_model(repo, "ok_missing_config_python", None, files={"1/model.py": MODEL_PY})
    write_model(repo, "ok_inner_config_ignored", cfg("ok_inner_config_ignored"))
    (repo / "ok_inner_config_ignored" / "1" / "config.pbtxt").write_text("garbage {{{")
    write_model(repo, "ok_non_numeric_folder", cfg("ok_non_numeric_folder"))
    (repo / "ok_non_numeric_folder" / "v2").mkdir()


def _server_available() -> bool:
    try:
        from tritonkit.serve.binary import wheel_root
    except ImportError:
        return False
    return wheel_root() is not None


class _Server:
    def __init__(self, url: str) -> None:
        self.url = url

    def load(self, model: str) -> str | None:
        """None when the model loaded (then it is unloaded again), else the server's reason."""
        try:
            self._post(f"/v2/repository/models/{model}/load")
        except urllib.error.HTTPError as exc:
            return str(json.loads(exc.read() or b"{}").get("error", exc.code))
        self._post(f"/v2/repository/models/{model}/unload", {"parameters": {"unload_dependents": True}})
        return None

    def _post(self, path: str, body: dict[str, object] | None = None) -> None:
        request = urllib.request.Request(
            self.url + path, data=json.dumps(body or {}).encode(), method="POST",
            headers={"Content-Type": "application/json"},
        )  # fmt: skip
        with urllib.request.urlopen(request, timeout=120):
            pass


@pytest.fixture(scope="module")
def repository(tmp_path_factory: pytest.TempPathFactory) -> Path:
    repo = tmp_path_factory.mktemp("agreement") / "repo"
    _make_repository(repo)
    return repo


@pytest.fixture(scope="module")
def server(repository: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[_Server]:
    require(
        _server_available(), "the Triton server", "pip install nvidia-pytriton==0.7.0 (tritonkit[server])"
    )
    from tritonkit.serve.local import plan_local_server
    from tritonkit.serve.plan import ServeOptions
    from tritonkit.serve.process import end_server, identify, remove_shm

    command = plan_local_server(repository, ServeOptions(model_control_mode="explicit"))
    log = tmp_path_factory.mktemp("agreement-log") / "tritonserver.log"
    with open(log, "wb") as handle:
        process = subprocess.Popen(
            command.argv, env={**os.environ, **command.env}, stdin=subprocess.DEVNULL, stdout=handle,
            stderr=subprocess.STDOUT, start_new_session=True,
        )  # fmt: skip
    try:
        url = f"http://127.0.0.1:{command.http_port}"
        deadline = time.monotonic() + 60
        while True:
            try:
                with urllib.request.urlopen(url + "/v2/health/live", timeout=2):
                    break
            except OSError:
                if time.monotonic() > deadline or process.poll() is not None:
                    pytest.fail(f"tritonserver did not start:\n{log.read_text()[-3000:]}")
                time.sleep(0.1)
        yield _Server(url)
    finally:
        end_server(identify(process.pid), command.shm_prefix)
        process.wait(timeout=30)
        remove_shm(command.shm_prefix)


@pytest.fixture(scope="module")
def report(repository: Path) -> ValidationReport:
    return validate_repository(repository, artifacts=False)


@pytest.mark.parametrize("model", sorted([*CASES, *LAYOUT_CASES]))
def test_validate_and_server_agree(model: str, server: _Server, report: ValidationReport) -> None:
    errors = [f"{f.rule}: {f.message}" for f in report.findings if f.model == model and f.severity == "error"]
    refused = server.load(model)
    if model.startswith("ok_"):
        assert refused is None, f"the server refused {model}: {refused}"
        assert errors == [], f"validate calls {model} an error but the server loads it: {errors}"
    else:
        assert refused is not None, f"the server loaded {model}, validate says: {errors}"
        assert errors, f"the server refused {model} ({refused}) but validate found no error"
