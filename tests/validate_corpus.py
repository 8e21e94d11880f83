# ruff: noqa: E501  (the table of cases reads best with one case per line)
"""The agreement corpus: one repository of many small models, each with the server's verdict.

Every case is one model folder: its files, whether the real Triton 2.51 server loads it, and the rule
ids validate must emit for it. It holds every rule's failing case, accepted variants of each, and
config shapes seen in real repositories. `tests/test_validate_agreement.py` loads each case in the real
server and compares; `tests/test_validate.py` proves that validating this corpus (plus the artifact
cases of `tests/test_artifacts.py`) emits exactly the rule ids of the registry.

Cases with `server=False` need a backend this server does not have (libtorch, ONNX Runtime, TensorRT:
the wheel has only the Python backend), so only the rule-set test uses them.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from validate_support import MODEL_PY, X_IN, Y_OUT, cfg


@dataclass(frozen=True)
class Case:
    """One model folder: files (relative path -> text or bytes), the server's verdict, the rules it shows."""

    files: dict[str, str | bytes]
    loads: bool
    rules: tuple[str, ...] = ()
    server: bool = True


def py(
    name: str,
    *,
    mbs: int = 0,
    inputs: str = X_IN,
    outputs: str = Y_OUT,
    extra: str = "",
    backend: str | None = "python",
    platform: str | None = None,
    model_py: str | None = MODEL_PY,
    versions: tuple[int, ...] = (1,),
) -> dict[str, str | bytes]:
    """A Python-backend model's files; `model_py=None` leaves the version folders empty."""
    files: dict[str, str | bytes] = {
        "config.pbtxt": cfg(
            name, backend=backend, platform=platform, mbs=mbs, inputs=inputs, outputs=outputs, extra=extra
        )
    }
    for v in versions:
        files[f"{v}/model.py" if model_py is not None else f"{v}/"] = model_py or ""
    return files


def db(body: str) -> str:
    return f"dynamic_batching {{ {body} }}"


def x_input(body: str) -> str:
    return f'input [ {{ name: "x" {body} }} ]'


def seq(*controls: str, extra: str = "") -> str:
    return "sequence_batching { control_input [ " + ", ".join(controls) + f" ] {extra} }}"


def control(name: str, body: str) -> str:
    return f'{{ name: "{name}" control [ {{ {body} }} ] }}'


START = control("START", "kind: CONTROL_SEQUENCE_START int32_false_true: [ 0, 1 ]")


def step(model: str, inputs: dict[str, str], outputs: dict[str, str], version: int = -1) -> str:
    maps = [f'input_map {{ key: "{k}" value: "{v}" }}' for k, v in inputs.items()]
    maps += [f'output_map {{ key: "{k}" value: "{v}" }}' for k, v in outputs.items()]
    return f'{{ model_name: "{model}" model_version: {version} {" ".join(maps)} }}'


def ens(
    name: str,
    steps: list[str],
    *,
    mbs: int = 0,
    extra: str = "",
    inputs: str = "",
    outputs: str = Y_OUT,
    dtype: str = "TYPE_FP32",
) -> dict[str, str | bytes]:
    scheduling = "ensemble_scheduling { step [ " + ", ".join(steps) + " ] }" if steps else ""
    text = cfg(
        name, backend=None, platform="ensemble", mbs=mbs,
        inputs=inputs or f'input [ {{ name: "x" data_type: {dtype} dims: [ 4 ] }} ]', outputs=outputs,
        extra=scheduling + "\n" + extra,
    )  # fmt: skip
    return {"config.pbtxt": text, "1/": ""}


OK_STEP = step("ok_plain", {"x": "x"}, {"y": "y"})
BATCHING_STEP = step("ok_batching", {"x": "x"}, {"y": "y"})
BLS = """import triton_python_backend_utils as pb_utils


class TritonPythonModel:
    def execute(self, requests):
        request = pb_utils.InferenceRequest(model_name="{target}", requested_output_names=["y"], inputs=[])
        return [request.exec() for _ in requests]
"""
PT_IN = 'input [ { name: "INPUT__0" data_type: TYPE_FP32 dims: [ 4 ] } ]'
PT_OUT = 'output [ { name: "OUTPUT__0" data_type: TYPE_FP32 dims: [ 4 ] } ]'


def pt(name: str, inputs: str = PT_IN, outputs: str = PT_OUT, **kw: object) -> dict[str, str | bytes]:
    return py(name, backend=None, platform="pytorch_libtorch", inputs=inputs, outputs=outputs,
              model_py=None, **kw)  # type: ignore[arg-type]  # fmt: skip


def ok(files: dict[str, str | bytes], *rules: str) -> Case:
    return Case(files, True, rules)


def bad(files: dict[str, str | bytes], *rules: str, server: bool = True) -> Case:
    return Case(files, False, rules, server)


CASES: dict[str, Case] = {
    # ----------------------------------------------------------------------------------- accepted shapes
    "ok_plain": ok(py("ok_plain")),
    "ok_batching": ok(py("ok_batching", mbs=8, extra=db("preferred_batch_size: [ 2, 4 ] max_queue_delay_microseconds: 100"))),
    "ok_duplicate_input": ok(py("ok_duplicate_input", inputs='input [ { name: "x" data_type: TYPE_FP32 dims: [ 4 ] }, { name: "x" data_type: TYPE_FP32 dims: [ 4 ] } ]'), "io.duplicate-name"),
    "ok_negative_count": ok(py("ok_negative_count", extra="instance_group [ { kind: KIND_CPU count: -1 } ]"), "instances.bad-count"),
    "ok_no_batch_dynamic": ok(py("ok_no_batch_dynamic", extra=db("")), "batching.dynamic-without-batching"),
    "ok_policy_partly_missing": ok(py("ok_policy_partly_missing", extra="version_policy: { specific: { versions: [ 1, 3 ] } }"), "layout.missing-policy-version"),
    "ok_ensemble": ok(ens("ok_ensemble", [OK_STEP])),
    "ok_ensemble_over_nonbatching": ok(ens("ok_ensemble_over_nonbatching", [OK_STEP], mbs=4), "ensemble.member-not-batching"),
    "ok_sequence_state_no_output": ok(py("ok_sequence_state_no_output", mbs=4, extra='sequence_batching { state [ { input_name: "s_in" data_type: TYPE_FP32 dims: [ 4 ] } ] }'), "batching.sequence-state"),
    "ok_sequence_state_no_dims": ok(py("ok_sequence_state_no_dims", mbs=4, extra='sequence_batching { state [ { input_name: "s_in" output_name: "s_out" data_type: TYPE_FP32 } ] }'), "batching.sequence-state"),
    "ok_sequence_state": ok(py("ok_sequence_state", mbs=4, extra='sequence_batching { state [ { input_name: "s_in" output_name: "s_out" data_type: TYPE_FP32 dims: [ 4 ] } ] }')),
    "ok_sequence_state_is_input": ok(py("ok_sequence_state_is_input", mbs=4, extra='sequence_batching { state [ { input_name: "x" output_name: "s_out" data_type: TYPE_FP32 dims: [ 4 ] } ] }'), "batching.sequence-state"),
    "ok_priority_unused": ok(py("ok_priority_unused", mbs=4, extra=db("default_priority_level: 1")), "batching.priority-unused"),
    "ok_control_data_type": ok(py("ok_control_data_type", mbs=4, extra=seq(control("S", "kind: CONTROL_SEQUENCE_START int32_false_true: [ 0, 1 ] data_type: TYPE_INT32")))),
    "ok_control_is_input": ok(py("ok_control_is_input", mbs=4, extra=seq(control("x", "kind: CONTROL_SEQUENCE_START int32_false_true: [ 0, 1 ]"))), "batching.sequence-control-input"),
    "ok_batch_input_collision": ok(py("ok_batch_input_collision", mbs=4, extra='batch_input [ { kind: BATCH_ELEMENT_COUNT target_name: "x" data_type: TYPE_INT32 source_input: "x" } ]'), "io.batch-input-target-collision"),
    "ok_instance_names_twice": ok(py("ok_instance_names_twice", extra='instance_group [ { name: "g" kind: KIND_CPU }, { name: "g" kind: KIND_CPU } ]'), "instances.duplicate-name"),
    "ok_odd+name": ok(py("ok_odd+name"), "layout.odd-model-name"),
    "ok_inner_config_ignored": ok({**py("ok_inner_config_ignored"), "1/config.pbtxt": "garbage {{{"}, "layout.ignored-version-config"),
    "ok_non_numeric_folder": ok({**py("ok_non_numeric_folder"), "v2/": ""}, "layout.non-numeric-version"),
    "ok_build_folder": ok({**py("ok_build_folder"), "build2/": ""}, "layout.non-numeric-version"),
    "ok_leading_zero_extra": ok({**py("ok_leading_zero_extra"), "01/": ""}, "layout.version-leading-zero"),
    "ok_missing_config_python": ok({"1/model.py": MODEL_PY}, "layout.auto-complete-config"),
    "ok_no_execute": ok(py("ok_no_execute", model_py="class TritonPythonModel:\n    def initialize(self, args):\n        pass\n"), "python.no-execute"),
    "ok_bls_self": ok(py("ok_bls_self", model_py=BLS.format(target="ok_bls_self")), "python.bls-self"),
    "ok_bls_elsewhere": ok(py("ok_bls_elsewhere", model_py=BLS.format(target="in_another_repository")), "python.bls-unknown-model"),
    # It loads; its first request fails ("unexpected inference output/input"): an error validate reports
    # before serving, so not a case for the load-verdict comparison (server=False).
    "bls_wrong_names": Case(py("bls_wrong_names", model_py=BLS.replace('["y"], inputs=[]', '["y", "OUTPUT1"], inputs=[pb_utils.Tensor("X", None)]').format(target="ok_plain")), True, ("bls.unknown-output", "bls.unknown-input"), server=False),
    "ok_unknown_platform_with_backend": ok(py("ok_unknown_platform_with_backend", platform="my_platform"), "schema.unknown-platform"),
    # ----------------------------------------------------------------------------------- layout
    "name_mismatch": bad(py("other_name"), "layout.name-mismatch"),
    "no_version": bad({"config.pbtxt": cfg("no_version")}, "layout.no-version"),
    "leading_zero_only": bad({"config.pbtxt": cfg("leading_zero_only"), "01/model.py": MODEL_PY}, "layout.version-leading-zero", "layout.no-version"),
    "config_in_version": bad({"1/config.pbtxt": cfg("config_in_version")}, "layout.config-in-version"),
    "missing_config": bad({"1/data.txt": "x"}, "layout.missing-config"),
    ".ipynb_checkpoints": bad({"untitled-checkpoint.ipynb": "{}"}, "layout.missing-config", "layout.odd-model-name"),
    ".hidden_model": ok(py(".hidden_model"), "layout.odd-model-name"),
    "policy_all_missing": bad(py("policy_all_missing", extra="version_policy: { specific: { versions: [ 3 ] } }"), "layout.no-policy-version"),
    "onnx_no_model_file": bad(py("onnx_no_model_file", backend=None, platform="onnxruntime_onnx", model_py=None), "layout.missing-model-file", server=False),
    # ----------------------------------------------------------------------------------- schema
    "no_backend": bad(py("no_backend", backend=None, model_py=None), "schema.no-platform"),
    "platform_backend_pair": bad(py("platform_backend_pair", backend="onnxruntime", platform="pytorch_libtorch"), "schema.platform-backend"),
    "ensemble_with_backend": bad(py("ensemble_with_backend", platform="ensemble", extra=f"ensemble_scheduling {{ step [ {OK_STEP} ] }}"), "schema.platform-backend"),
    "platform_typo": bad(py("platform_typo", backend=None, platform="pytorch", model_py=None), "schema.unknown-platform"),
    "unknown_field": bad(py("unknown_field", extra="max_batch: 4"), "schema.unknown-field"),
    "unknown_enum": bad(py("unknown_enum", inputs=x_input("data_type: TYPE_INT dims: [ 4 ]")), "schema.unknown-value"),
    "parse_error": bad({"config.pbtxt": 'name: "parse_error"\ninput [ { name: "x" ]\n', "1/model.py": MODEL_PY}, "schema.parse-error"),
    "binary_config": bad({"config.pbtxt": b'\n\x0cbinary_config\x00\x00', "1/model.py": MODEL_PY}, "schema.binary"),
    "not_utf8": bad({"config.pbtxt": b'name: "not_utf8\xff"\nbackend: "python"\n', "1/model.py": MODEL_PY}, "schema.not-utf8"),
    "negative_batch": bad(py("negative_batch", mbs=-1), "schema.max-batch-size"),
    # ----------------------------------------------------------------------------------- io
    "no_name": bad(py("no_name", inputs="input [ { data_type: TYPE_FP32 dims: [ 4 ] } ]"), "io.missing-name"),
    "no_data_type": bad(py("no_data_type", inputs=x_input("dims: [ 4 ]")), "io.missing-data-type"),
    "ok_data_type_number": ok(py("ok_data_type_number", inputs=x_input("data_type: 99 dims: [ 4 ]")), "io.bad-data-type"),
    "no_dims": bad(py("no_dims", inputs=x_input("data_type: TYPE_FP32")), "io.missing-dims"),
    "dim_zero": bad(py("dim_zero", inputs=x_input("data_type: TYPE_FP32 dims: [ 0 ]")), "io.bad-dim"),
    "dim_minus_two": bad(py("dim_minus_two", inputs=x_input("data_type: TYPE_FP32 dims: [ -2 ]")), "io.bad-dim"),
    "reshape_count": bad(py("reshape_count", inputs=x_input("data_type: TYPE_FP32 dims: [ 4 ] reshape: { shape: [ 3 ] }")), "io.reshape-count"),
    "reshape_bad_dim": bad(py("reshape_bad_dim", inputs=x_input("data_type: TYPE_FP32 dims: [ 4 ] reshape: { shape: [ 0 ] }")), "io.bad-dim"),
    "reshape_variable": bad(py("reshape_variable", inputs=x_input("data_type: TYPE_FP32 dims: [ -1, 4 ] reshape: { shape: [ -1, -1 ] }")), "io.reshape-variable-dims"),
    "empty_reshape": bad(py("empty_reshape", inputs=x_input("data_type: TYPE_FP32 dims: [ 1 ] reshape: { shape: [ ] }")), "io.empty-reshape"),
    "format_dims": bad(py("format_dims", inputs=x_input("data_type: TYPE_FP32 format: FORMAT_NCHW dims: [ 4 ]")), "io.format-dims"),
    "shape_tensor": bad(py("shape_tensor", inputs=x_input("data_type: TYPE_INT32 dims: [ 2 ] is_shape_tensor: true")), "io.shape-tensor"),
    "batch_input_kind": bad(py("batch_input_kind", mbs=4, extra='batch_input [ { kind: 42 target_name: "n" data_type: TYPE_INT32 source_input: "x" } ]'), "io.batch-input-kind"),
    "batch_input_source": bad(py("batch_input_source", mbs=4, extra='batch_input [ { kind: BATCH_ELEMENT_COUNT target_name: "n" data_type: TYPE_INT32 source_input: "nope" } ]'), "io.batch-input-source"),
    "batch_input_two_sources": bad(py("batch_input_two_sources", mbs=4, extra='batch_input [ { kind: BATCH_ELEMENT_COUNT target_name: "n" data_type: TYPE_INT32 source_input: [ "x", "x" ] } ]'), "io.batch-input-source"),
    "ok_batch_input_no_target": ok(py("ok_batch_input_no_target", mbs=4, extra='batch_input [ { kind: BATCH_ELEMENT_COUNT data_type: TYPE_INT32 source_input: "x" } ]'), "io.batch-input-target"),
    "batch_input_type": bad(py("batch_input_type", mbs=4, extra='batch_input [ { kind: BATCH_ELEMENT_COUNT target_name: "n" data_type: TYPE_INT64 source_input: "x" } ]'), "io.batch-input-type"),
    "batch_output_kind": bad(py("batch_output_kind", mbs=4, extra='batch_output [ { kind: 7 target_name: "y" source_input: "x" } ]'), "io.batch-output-kind"),
    "batch_output_source": bad(py("batch_output_source", mbs=4, extra='batch_output [ { kind: BATCH_SCATTER_WITH_INPUT_SHAPE target_name: "y" source_input: "nope" } ]'), "io.batch-output-source"),
    "batch_output_target": bad(py("batch_output_target", mbs=4, extra='batch_output [ { kind: BATCH_SCATTER_WITH_INPUT_SHAPE target_name: "z" source_input: "x" } ]'), "io.batch-output-target"),
    # ----------------------------------------------------------------------------------- batching
    "preferred_size": bad(py("preferred_size", mbs=4, extra=db("preferred_batch_size: [ 8 ]")), "batching.preferred-size"),
    "priority_default": bad(py("priority_default", mbs=4, extra=db("priority_levels: 2 default_priority_level: 3")), "batching.priority-level"),
    "priority_policy": bad(py("priority_policy", mbs=4, extra=db("priority_levels: 2 default_priority_level: 1 priority_queue_policy { key: 5 value: { max_queue_size: 1 } }")), "batching.priority-queue-policy"),
    "preserve_priorities": bad(py("preserve_priorities", mbs=4, extra=db("preserve_ordering: true priority_levels: 2 default_priority_level: 1")), "batching.preserve-ordering"),
    "preserve_delay": bad(py("preserve_delay", mbs=4, extra=db("preserve_ordering: true default_queue_policy { timeout_action: DELAY default_timeout_microseconds: 100 }")), "batching.preserve-ordering"),
    "sequence_false_true": bad(py("sequence_false_true", mbs=4, extra=seq(control("S", "kind: CONTROL_SEQUENCE_START int32_false_true: [ 0, 1, 1 ]"))), "batching.sequence-control-false-true"),
    "sequence_no_false_true": bad(py("sequence_no_false_true", mbs=4, extra=seq(control("S", "kind: CONTROL_SEQUENCE_START"))), "batching.sequence-control-false-true"),
    "sequence_corrid_type": bad(py("sequence_corrid_type", mbs=4, extra=seq(control("C", "kind: CONTROL_SEQUENCE_CORRID data_type: TYPE_FP32"))), "batching.sequence-corrid-type"),
    "sequence_no_name": bad(py("sequence_no_name", mbs=4, extra="sequence_batching { control_input [ { control [ { kind: CONTROL_SEQUENCE_START bool_false_true: [ false, true ] } ] } ] }"), "batching.sequence-control-name"),
    "sequence_kind_twice": bad(py("sequence_kind_twice", mbs=4, extra=seq(START, control("START2", "kind: CONTROL_SEQUENCE_START int32_false_true: [ 0, 1 ]"))), "batching.sequence-control-duplicate"),
    "ok_sequence_no_control": ok(py("ok_sequence_no_control", mbs=4, extra=seq('{ name: "S" }')), "batching.sequence-control-empty"),
    "ok_sequence_unknown_kind": ok(py("ok_sequence_unknown_kind", mbs=4, extra=seq(control("S", "kind: 9 int32_false_true: [ 0, 1 ]"))), "batching.sequence-control-kind"),
    "sequence_oldest_size": bad(py("sequence_oldest_size", mbs=4, extra="sequence_batching { oldest { preferred_batch_size: [ 16 ] } }"), "batching.preferred-size"),
    # ----------------------------------------------------------------------------------- instances
    "bad_kind": bad(py("bad_kind", extra="instance_group [ { kind: 9 } ]"), "instances.bad-kind"),
    "gpus_on_cpu": bad(py("gpus_on_cpu", extra="instance_group [ { kind: KIND_CPU gpus: [ 0 ] } ]"), "instances.gpus-on-cpu"),
    "gpu_negative": bad(py("gpu_negative", extra="instance_group [ { kind: KIND_GPU gpus: [ -1 ] } ]"), "instances.bad-gpu"),
    "gpu_twice": bad(py("gpu_twice", extra="instance_group [ { kind: KIND_GPU gpus: [ 0, 0 ] } ]"), "instances.duplicate-gpu"),
    # ----------------------------------------------------------------------------------- ensemble
    "scheduling_not_ensemble": bad(py("scheduling_not_ensemble", extra=f"ensemble_scheduling {{ step [ {OK_STEP} ] }}"), "ensemble.scheduling-not-ensemble"),
    "ens_no_steps": bad(ens("ens_no_steps", []), "ensemble.no-steps"),
    "ens_step_no_model": bad(ens("ens_step_no_model", ['{ model_version: -1 input_map { key: "x" value: "x" } output_map { key: "y" value: "y" } }']), "ensemble.step-model"),
    "ens_step_no_output_map": bad(ens("ens_step_no_output_map", ['{ model_name: "ok_plain" model_version: -1 input_map { key: "x" value: "x" } }']), "ensemble.step-map"),
    "ens_unknown_model": bad(ens("ens_unknown_model", [step("ghost", {"x": "x"}, {"y": "y"})]), "ensemble.unknown-model"),
    "ens_unused_input": bad(ens("ens_unused_input", [OK_STEP], inputs='input [ { name: "x" data_type: TYPE_FP32 dims: [ 4 ] }, { name: "x2" data_type: TYPE_FP32 dims: [ 4 ] } ]'), "ensemble.unused-input"),
    "ens_output_not_produced": bad(ens("ens_output_not_produced", [step("ok_plain", {"x": "x"}, {"y": "z"})]), "ensemble.output-not-produced"),
    "ens_tensor_not_produced": bad(ens("ens_tensor_not_produced", [step("ok_plain", {"x": "nowhere"}, {"y": "y"})], inputs='input [ { name: "x" data_type: TYPE_FP32 dims: [ 4 ] } ]'), "ensemble.tensor-not-produced"),
    "ens_produced_twice": bad(ens("ens_produced_twice", [OK_STEP, OK_STEP]), "ensemble.tensor-produced-twice"),
    "ens_unknown_member_tensor": bad(ens("ens_unknown_member_tensor", [step("ok_plain", {"x": "x", "q": "x"}, {"y": "y"})]), "ensemble.unknown-member-tensor"),
    "ens_member_input_unmapped": bad(ens("ens_member_input_unmapped", [step("ok_duplicate_input", {}, {"y": "y"})], inputs="", extra=""), "ensemble.member-input-unmapped"),
    "ens_type_mismatch": bad(ens("ens_type_mismatch", [OK_STEP], dtype="TYPE_INT32"), "ensemble.type-mismatch"),
    "ens_shape_mismatch": bad(ens("ens_shape_mismatch", [OK_STEP], inputs='input [ { name: "x" data_type: TYPE_FP32 dims: [ 5 ] } ]'), "ensemble.shape-mismatch"),
    "ens_batch_above_member": bad(ens("ens_batch_above_member", [BATCHING_STEP], mbs=16), "ensemble.max-batch-size"),
    "ens_instance_group": bad(ens("ens_instance_group", [OK_STEP], extra="instance_group [ { kind: KIND_CPU } ]"), "ensemble.instance-group"),
    "ens_version_3": bad(ens("ens_version_3", [step("ok_plain", {"x": "x"}, {"y": "y"}, version=3)]), "ensemble.missing-version"),
    "ens_version_unset": bad(ens("ens_version_unset", ['{ model_name: "ok_plain" input_map { key: "x" value: "x" } output_map { key: "y" value: "y" } }']), "ensemble.missing-version"),
    "ens_cycle_a": bad(ens("ens_cycle_a", [step("ens_cycle_b", {"x": "x"}, {"y": "y"})]), "ensemble.cycle"),
    "ens_cycle_b": bad(ens("ens_cycle_b", [step("ens_cycle_a", {"x": "x"}, {"y": "y"})]), "ensemble.cycle"),
    # ----------------------------------------------------------------------------------- python
    "python_syntax_error": bad(py("python_syntax_error", model_py="class TritonPythonModel:\n    def execute(self, requests)\n"), "python.syntax-error"),
    "python_no_model_class": bad(py("python_no_model_class", model_py="class Model:\n    pass\n"), "python.no-model-class"),
    # its stub dies and the load hangs forever (PLATFORM.md): not something to ask the shared server
    "python_no_model_py": bad(py("python_no_model_py", model_py=None), "python.missing-model-file", server=False),
    # ----------------------------------------------------------------------------------- pytorch (no libtorch here)
    "pt_input_name": bad(pt("pt_input_name", inputs='input [ { name: "input-0" data_type: TYPE_FP32 dims: [ 4 ] } ]'), "pytorch.input-name", server=False),
    "pt_duplicate_index": bad(pt("pt_duplicate_index", inputs='input [ { name: "A__0" data_type: TYPE_FP32 dims: [ 4 ] }, { name: "B__0" data_type: TYPE_FP32 dims: [ 4 ] } ]'), "pytorch.duplicate-index", server=False),
    "pt_index_range": Case(pt("pt_index_range", inputs='input [ { name: "INPUT__0" data_type: TYPE_FP32 dims: [ 4 ] }, { name: "INPUT__5" data_type: TYPE_FP32 dims: [ 4 ] } ]'), True, ("pytorch.index-range",), server=False),
    "pt_mixed_names": Case(pt("pt_mixed_names", inputs='input [ { name: "INPUT__0" data_type: TYPE_FP32 dims: [ 4 ] }, { name: "tokens" data_type: TYPE_FP32 dims: [ 4 ] } ]'), True, ("pytorch.mixed-input-names",), server=False),
    "pt_output_name": Case(pt("pt_output_name", outputs='output [ { name: "logits" data_type: TYPE_FP32 dims: [ 4 ] } ]'), True, ("pytorch.output-name",), server=False),

    # ----------------------------------------------------------------------------------- issue 11: backend detection
    "ok_inferred_python": ok(py("ok_inferred_python", backend=None)),
    "ok_dmf_python": ok(py("ok_dmf_python", backend=None, extra='default_model_filename: "model.py"')),
    "ok_dmf_other_py": ok({**py("ok_dmf_other_py", extra='default_model_filename: "other.py"', model_py=None), "1/other.py": MODEL_PY}),
    "no_platform_empty_version": bad(py("no_platform_empty_version", backend=None, model_py=None), "schema.no-platform"),
    "dmf_unknown_no_backend": bad({**py("dmf_unknown_no_backend", backend=None, extra='default_model_filename: "model.bin"', model_py=None), "1/model.bin": "x"}, "schema.no-platform"),
    "tf_backend_no_platform": bad(py("tf_backend_no_platform", backend="tensorflow", model_py=None), "schema.platform-backend"),
    "custom.dali": Case({"config.pbtxt": cfg("custom.dali", backend=None), "1/model.dali": "x"}, False, (), server=False),
    # ----------------------------------------------------------------------------------- issue 11: target release
    "model_metrics_new": bad(py("model_metrics_new", extra='model_metrics { metric_control [ { metric_identifier { family: "nv_inference_request_duration_us" } histogram_options { buckets: [ 1, 10 ] } } ] }'), "schema.not-in-target"),
    "ens_inflight_new": bad(ens("ens_inflight_new", [OK_STEP]).__or__({"config.pbtxt": ens("ens_inflight_new", [OK_STEP])["config.pbtxt"].replace("ensemble_scheduling { ", "ensemble_scheduling { max_inflight_requests: 4 ")}), "schema.not-in-target"),
    "aoti_before_26_03": bad(pt("aoti_before_26_03").__or__({"config.pbtxt": cfg("aoti_before_26_03", backend="pytorch", platform="torch_aoti", inputs=PT_IN, outputs=PT_OUT)}), "schema.not-in-target"),
    # ----------------------------------------------------------------------------------- issue 11: more of ValidateModelConfig
    "cache_with_sequence": bad(py("cache_with_sequence", mbs=4, extra="response_cache { enable: true }\n" + seq(START)), "schema.response-cache"),
    "cache_with_decoupled": bad(py("cache_with_decoupled", extra="response_cache { enable: true }\nmodel_transaction_policy { decoupled: true }"), "schema.response-cache"),
    "slot_utilization": bad(py("slot_utilization", mbs=4, extra="sequence_batching { direct { minimum_slot_utilization: 1.5 } }"), "schema.slot-utilization"),
    "batch_output_target_twice": bad(py("batch_output_target_twice", mbs=4, extra='batch_output [ { kind: BATCH_SCATTER_WITH_INPUT_SHAPE target_name: [ "y", "y" ] source_input: "x" } ]'), "io.batch-output-target"),
    "profile_not_trt": bad(py("profile_not_trt", extra='instance_group [ { kind: KIND_CPU profile: [ "0" ] } ]'), "instances.profile"),
    "gpu_kind_no_gpu": bad(py("gpu_kind_no_gpu", extra="instance_group [ { kind: KIND_GPU } ]"), "instances.gpu-unavailable"),
    "gpu_id_missing": bad(py("gpu_id_missing", extra="instance_group [ { kind: KIND_GPU gpus: [ 3 ] } ]"), "instances.gpu-unavailable"),
    "ens_optimization": bad(ens("ens_optimization", [OK_STEP], extra="optimization { priority: PRIORITY_MAX }"), "ensemble.not-for-ensemble"),
    "missing_label_file": bad(py("missing_label_file", outputs='output [ { name: "y" data_type: TYPE_FP32 dims: [ 4 ] label_filename: "labels.txt" } ]'), "layout.missing-label-file"),
    "config_is_a_folder": Case({"config.pbtxt/": "", "1/model.py": MODEL_PY}, False, ("layout.config-not-file",), server=False),
    # ----------------------------------------------------------------------------------- issue 11: ensembles
    "ok_plain_var": ok(py("ok_plain_var", inputs='input [ { name: "x" data_type: TYPE_FP32 dims: [ -1, 4 ] } ]', outputs='output [ { name: "y" data_type: TYPE_FP32 dims: [ -1, 4 ] } ]')),
    "ok_ens_full_dims": ok(ens("ok_ens_full_dims", [BATCHING_STEP], inputs='input [ { name: "x" data_type: TYPE_FP32 dims: [ -1, 4 ] } ]', outputs='output [ { name: "y" data_type: TYPE_FP32 dims: [ -1, 4 ] } ]')),
    "ok_ens_batching_over_var": ok(ens("ok_ens_batching_over_var", [step("ok_plain_var", {"x": "x"}, {"y": "y"})], mbs=8), "ensemble.member-not-batching"),
    "ens_full_dims_mismatch": bad(ens("ens_full_dims_mismatch", [BATCHING_STEP], inputs='input [ { name: "x" data_type: TYPE_FP32 dims: [ -1, 5 ] } ]', outputs='output [ { name: "y" data_type: TYPE_FP32 dims: [ -1, 4 ] } ]'), "ensemble.shape-mismatch"),
    "ok_ens_reshape": ok(ens("ok_ens_reshape", [OK_STEP], inputs='input [ { name: "x" data_type: TYPE_FP32 dims: [ 2, 2 ] reshape: { shape: [ 4 ] } } ]')),
    "ok_decoupled_a": ok(py("ok_decoupled_a", extra="model_transaction_policy { decoupled: true }")),
    "ok_decoupled_b": ok(py("ok_decoupled_b", extra="model_transaction_policy { decoupled: true }")),
    "ok_two_in": ok(py("ok_two_in", inputs='input [ { name: "a" data_type: TYPE_FP32 dims: [ 4 ] }, { name: "b" data_type: TYPE_FP32 dims: [ 4 ] } ]')),
    "ok_ens_one_decoupled": ok(ens("ok_ens_one_decoupled", [step("ok_decoupled_a", {"x": "x"}, {"y": "mid"}), step("ok_plain", {"x": "mid"}, {"y": "y"})])),
    "ens_mixed_decoupled": bad(ens("ens_mixed_decoupled", [step("ok_decoupled_a", {"x": "x"}, {"y": "a"}), step("ok_decoupled_b", {"x": "x"}, {"y": "b"}), step("ok_two_in", {"a": "a", "b": "b"}, {"y": "y"})]), "ensemble.mixed-decoupled"),
    "ens_outputs_mixed_decoupled": bad(ens("ens_outputs_mixed_decoupled", [step("ok_decoupled_a", {"x": "x"}, {"y": "y"}), step("ok_decoupled_b", {"x": "x"}, {"y": "z"})], outputs='output [ { name: "y" data_type: TYPE_FP32 dims: [ 4 ] }, { name: "z" data_type: TYPE_FP32 dims: [ 4 ] } ]'), "ensemble.mixed-decoupled"),
    "ok_ens_chain": ok(ens("ok_ens_chain", [step("ok_plain", {"x": "x"}, {"y": "mid"}), step("ok_plain", {"x": "mid"}, {"y": "y"})])),
    "ok_ens_nested": ok(ens("ok_ens_nested", [step("ok_ensemble", {"x": "x"}, {"y": "y"})])),
    "ok_ens_two_outputs": ok(ens("ok_ens_two_outputs", [step("ok_plain", {"x": "x"}, {"y": "y"}), step("ok_plain", {"x": "x"}, {"y": "z"})], outputs='output [ { name: "y" data_type: TYPE_FP32 dims: [ 4 ] }, { name: "z" data_type: TYPE_FP32 dims: [ -1 ] } ]')),
    "ok_ens_optional_member_input": ok(ens("ok_ens_optional_member_input", [step("ok_optional_input", {"x": "x"}, {"y": "y"})])),
    # ----------------------------------------------------------------------------------- issue 11: model.py at import time
    "stub_name_annotation": bad(py("stub_name_annotation", model_py="import triton_python_backend_utils as pb_utils\n\n\nclass TritonPythonModel:\n    def execute(self, requests) -> pb_utils.InferenceResponse:\n        return []\n"), "python.stub-name-at-import"),
    "stub_name_default": bad(py("stub_name_default", model_py="import triton_python_backend_utils as pb_utils\n\n\ndef make(cls=pb_utils.Tensor):\n    return cls\n\n\nclass TritonPythonModel:\n    def execute(self, requests):\n        return []\n"), "python.stub-name-at-import"),
    "stub_name_class_body": bad(py("stub_name_class_body", model_py="import triton_python_backend_utils as pb_utils\n\n\nclass TritonPythonModel:\n    error = pb_utils.TritonError\n\n    def execute(self, requests):\n        return []\n"), "python.stub-name-at-import"),
    "stub_name_from_import": bad(py("stub_name_from_import", model_py="from triton_python_backend_utils import InferenceResponse\n\n\nclass TritonPythonModel:\n    def execute(self, requests):\n        return [InferenceResponse(output_tensors=[]) for _ in requests]\n"), "python.stub-name-at-import"),
    "ok_stub_name_future": ok(py("ok_stub_name_future", model_py="from __future__ import annotations\n\nimport triton_python_backend_utils as pb_utils\n\n\nclass TritonPythonModel:\n    def execute(self, requests) -> list[pb_utils.InferenceResponse]:\n        return [pb_utils.InferenceResponse(output_tensors=[]) for _ in requests]\n")),
    "ok_stub_name_in_method": ok(py("ok_stub_name_in_method", model_py="import triton_python_backend_utils as pb_utils\n\n\nclass TritonPythonModel:\n    def initialize(self, args):\n        self.error = pb_utils.TritonError\n        self.make = lambda: pb_utils.Tensor\n\n    def execute(self, requests):\n        return []\n")),
    "ok_utils_helper_at_import": ok(py("ok_utils_helper_at_import", model_py="import triton_python_backend_utils as pb_utils\n\nTO_NUMPY = pb_utils.triton_string_to_numpy\n\n\nclass TritonPythonModel:\n    def execute(self, requests):\n        return []\n")),
    # ----------------------------------------------------------------------------------- real-world config shapes
    "ok_string_io": ok(py("ok_string_io", mbs=8, inputs='input [ { name: "text" data_type: TYPE_STRING dims: [ 1 ] } ]', outputs='output [ { name: "ids" data_type: TYPE_INT64 dims: [ -1 ] } ]')),
    "ok_reshape_scalar": ok(py("ok_reshape_scalar", mbs=8, inputs='input [ { name: "x" data_type: TYPE_FP32 dims: [ 1 ] reshape: { shape: [ ] } } ]')),
    "ok_nchw": ok(py("ok_nchw", mbs=4, inputs='input [ { name: "image" data_type: TYPE_UINT8 format: FORMAT_NCHW dims: [ 3, 224, 224 ] } ]', outputs='output [ { name: "probs" data_type: TYPE_FP32 dims: [ 1000 ] label_filename: "labels.txt" } ]').__or__({"labels.txt": "cat\ndog\n"})),
    "ok_variable_dims": ok(py("ok_variable_dims", mbs=16, inputs='input [ { name: "input_ids" data_type: TYPE_INT64 dims: [ -1 ] }, { name: "attention_mask" data_type: TYPE_INT64 dims: [ -1 ] } ]', outputs='output [ { name: "last_hidden_state" data_type: TYPE_FP32 dims: [ -1, 768 ] } ]', extra=db("preferred_batch_size: [ 4, 8, 16 ] max_queue_delay_microseconds: 5000"))),
    "ok_priorities": ok(py("ok_priorities", mbs=8, extra=db("priority_levels: 2 default_priority_level: 1 default_queue_policy { timeout_action: REJECT default_timeout_microseconds: 1000 max_queue_size: 16 } priority_queue_policy { key: 2 value: { max_queue_size: 4 } }"))),
    "ok_preserve_ordering": ok(py("ok_preserve_ordering", mbs=8, extra=db("preserve_ordering: true"))),
    "ok_sequence_direct": ok(py("ok_sequence_direct", mbs=4, extra=seq(START, control("READY", "kind: CONTROL_SEQUENCE_READY fp32_false_true: [ 0, 1 ]"), control("END", "kind: CONTROL_SEQUENCE_END bool_false_true: [ false, true ]"), control("CORRID", "kind: CONTROL_SEQUENCE_CORRID data_type: TYPE_UINT64"), extra="direct { minimum_slot_utilization: 0.5 } max_sequence_idle_microseconds: 5000000"))),
    "ok_sequence_oldest": ok(py("ok_sequence_oldest", mbs=4, extra=seq(START, extra="oldest { max_candidate_sequences: 4 preferred_batch_size: [ 2, 4 ] }"))),
    "ok_versions_all": ok(py("ok_versions_all", extra="version_policy: { all: {} }", versions=(1, 2))),
    "ok_versions_latest_2": ok(py("ok_versions_latest_2", extra="version_policy: { latest: { num_versions: 2 } }", versions=(1, 2, 3))),
    "ok_versions_specific": ok(py("ok_versions_specific", extra="version_policy: { specific: { versions: [ 2 ] } }", versions=(1, 2))),
    "ok_versions_gap": ok(py("ok_versions_gap", versions=(1, 3))),
    "ok_instances_multi": ok(py("ok_instances_multi", extra="instance_group [ { count: 2 kind: KIND_CPU }, { kind: KIND_AUTO } ]")),
    "ok_kind_model": ok(py("ok_kind_model", extra="instance_group [ { kind: KIND_MODEL } ]")),
    "ok_optional_input": ok(py("ok_optional_input", inputs='input [ { name: "x" data_type: TYPE_FP32 dims: [ 4 ] }, { name: "bias" data_type: TYPE_FP32 dims: [ 4 ] optional: true } ]')),
    "ok_batch_input": ok(py("ok_batch_input", mbs=4, extra='batch_input [ { kind: BATCH_ELEMENT_COUNT target_name: "n" data_type: TYPE_INT32 source_input: "x" }, { kind: BATCH_ACCUMULATED_ELEMENT_COUNT target_name: "acc" data_type: TYPE_FP32 source_input: "x" } ]')),
    "ok_batch_output": ok(py("ok_batch_output", mbs=4, extra='batch_output [ { kind: BATCH_SCATTER_WITH_INPUT_SHAPE target_name: "y" source_input: "x" } ]')),
    "ok_parameters": ok(py("ok_parameters", extra='parameters: { key: "MODE" value: { string_value: "fast" } }\nparameters: { key: "threads" value: { string_value: "2" } }')),
    "ok_many_io": ok(py("ok_many_io", mbs=2, inputs='input [ { name: "a" data_type: TYPE_INT32 dims: [ 2 ] }, { name: "b" data_type: TYPE_BOOL dims: [ 1 ] }, { name: "c" data_type: TYPE_FP16 dims: [ 3, -1 ] } ]', outputs='output [ { name: "d" data_type: TYPE_BF16 dims: [ 2 ] }, { name: "e" data_type: TYPE_FP64 dims: [ 1 ] } ]')),
    "ok_response_cache": ok(py("ok_response_cache", extra="response_cache { enable: true }")),
    "ok_decoupled_plain": ok(py("ok_decoupled_plain", mbs=0, extra="model_transaction_policy { decoupled: true }")),
    "ok_dims_minus_one_reshape": ok(py("ok_dims_minus_one_reshape", inputs='input [ { name: "x" data_type: TYPE_FP32 dims: [ -1, 6 ] reshape: { shape: [ -1, 2, 3 ] } } ]')),
    "ok_named_instance_groups": ok(py("ok_named_instance_groups", extra='instance_group [ { name: "cpu_a" kind: KIND_CPU count: 1 }, { name: "cpu_b" kind: KIND_CPU count: 1 } ]')),
    "ok_unknown_platform_custom": ok(py("ok_unknown_platform_custom", platform="my_platform"), "schema.unknown-platform"),
    "ok_ignore_comment": ok({**py("ok_ignore_comment", extra=db("")), "config.pbtxt": "# tritonkit: ignore=batching.dynamic-without-batching\n" + cfg("ok_ignore_comment", extra=db(""))}),
    "ok_max_batch_large": ok(py("ok_max_batch_large", mbs=1024, extra=db("max_queue_delay_microseconds: 0"))),
    "reshape_string_count": bad(py("reshape_string_count", inputs='input [ { name: "x" data_type: TYPE_STRING dims: [ 2, 2 ] reshape: { shape: [ 3 ] } } ]'), "io.reshape-count"),
    "output_dim_zero": bad(py("output_dim_zero", outputs='output [ { name: "y" data_type: TYPE_FP32 dims: [ 4, 0 ] } ]'), "io.bad-dim"),
    "output_no_name": bad(py("output_no_name", outputs='output [ { data_type: TYPE_FP32 dims: [ 4 ] } ]'), "io.missing-name"),
    "preferred_zero": bad(py("preferred_zero", mbs=4, extra=db("preferred_batch_size: [ 0 ]")), "batching.preferred-size"),
    "preferred_without_batching": bad(py("preferred_without_batching", extra=db("preferred_batch_size: [ 2 ]")), "batching.preferred-size"),
    "priority_zero_default": bad(py("priority_zero_default", mbs=4, extra=db("priority_levels: 3")), "batching.priority-level"),
    "corrid_bool": bad(py("corrid_bool", mbs=4, extra=seq(control("C", "kind: CONTROL_SEQUENCE_CORRID data_type: TYPE_BOOL"))), "batching.sequence-corrid-type"),
    "ready_two_pairs": bad(py("ready_two_pairs", mbs=4, extra=seq(control("R", "kind: CONTROL_SEQUENCE_READY int32_false_true: [ 0, 1 ] fp32_false_true: [ 0, 1 ]"))), "batching.sequence-control-false-true"),
    "ens_batch_above_member_2": bad(ens("ens_batch_above_member_2", [step("ok_preserve_ordering", {"x": "x"}, {"y": "y"})], mbs=9), "ensemble.max-batch-size"),
    "ens_output_type": bad(ens("ens_output_type", [OK_STEP], outputs='output [ { name: "y" data_type: TYPE_INT32 dims: [ 4 ] } ]'), "ensemble.type-mismatch"),
    "python_syntax_tabs": bad(py("python_syntax_tabs", model_py="class TritonPythonModel:\n\tdef execute(self, requests):\n        return []\n"), "python.syntax-error"),
    "versions_only_leading_zero_and_text": bad({"config.pbtxt": cfg("versions_only_leading_zero_and_text"), "001/model.py": MODEL_PY, "one/model.py": MODEL_PY}, "layout.no-version"),
}  # fmt: skip

# Entries of the repository folder itself that are not model folders.
DANGLING_LINK = "dangling_link"


def build(repo: Path, *, server_only: bool = False) -> Path:
    """Write every case into `repo` (created), or only those the server can judge; returns it."""
    for name, case in CASES.items():
        if server_only and not case.server:
            continue
        folder = repo / name
        folder.mkdir(parents=True)
        for rel, content in case.files.items():
            target = folder / rel
            if rel.endswith("/"):
                target.mkdir(parents=True, exist_ok=True)
                continue
            target.parent.mkdir(parents=True, exist_ok=True)
            if isinstance(content, bytes):
                target.write_bytes(content)
            else:
                target.write_text(content, encoding="utf-8")
    if not server_only:
        os.symlink("nowhere", repo / DANGLING_LINK)
    return repo
