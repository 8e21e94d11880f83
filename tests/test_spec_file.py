# ruff: noqa: E501  (the table of bad specs reads best with one case per line)
"""tritonkit.yaml as a whole ModelConfig: strict reading (file:line, did-you-mean), the commands
around it (import, remove, schema, --instance-group), and the fields each command does not own kept."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml

from tritonkit.cli import run
from tritonkit.model.schema import parse_config
from tritonkit.repository.project import load_project

REPO = Path("model_repository")
PY = ["--backend", "python", "--input", "x:fp32:4", "--output", "y:fp32:4"]
ENTRY = """repository: model_repository
models:
  - name: m
    backend: python
    max_batch_size: 4
    input: [{name: x, data_type: TYPE_FP32, dims: [4]}]
    output: [{name: y, data_type: TYPE_FP32, dims: [4]}]
"""


def snapshot(root: Path) -> dict[str, bytes]:
    return {str(p.relative_to(root)): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}


@pytest.mark.parametrize(
    ("text", "line", "message", "hint"),
    [
        (ENTRY.replace("max_batch_size", "max_batch_sise"), 5, "unknown field 'max_batch_sise'", "did you mean max_batch_size?"),
        (ENTRY.replace("max_batch_size: 4", "max_batch_size: four"), 5, "must be an integer", None),
        (ENTRY.replace("TYPE_FP32, dims: [4]}]\n    output", "TYPE_FP23, dims: [4]}]\n    output"), 6, "unknown DataType value 'TYPE_FP23'", "did you mean TYPE_FP32?"),
        (ENTRY + "  - name: m\n    backend: python\n", 8, "duplicate model 'm'", "one entry per model"),
        (ENTRY.replace("    backend: python\n", "    backend: python\n    backend: onnx\n"), 5, "duplicate key 'backend'", "keep one"),
        (ENTRY.replace("max_batch_size: 4", "maxBatchSize: 4"), 5, "unknown field 'maxBatchSize'", "write max_batch_size"),
        (ENTRY + "    version: 2\n", 8, "unknown field 'version'", "under `tritonkit:`"),
        (ENTRY + "    tritonkit: {verison: 2}\n", 8, "unknown tritonkit key 'verison'", "did you mean version?"),
        (ENTRY + "    dynamic_batching: {}\n    sequence_batching: {}\n", 9, "cannot both be set", "keep one"),
        (ENTRY + "    response_cache: {enable: yes please}\n", 8, "must be true or false", None),
        (ENTRY.replace("name: m", "name: 'a/b'"), 3, "invalid model name 'a/b'", None),
        (ENTRY.replace("name: m", "name: '..'"), 3, "invalid model name '..'", None),
    ],
)  # fmt: skip
def test_bad_spec_exits_2_with_file_line_and_hint_and_writes_nothing(
    text: str, line: int, message: str, hint: str | None, capsys: pytest.CaptureFixture[str]
) -> None:
    REPO.mkdir()
    Path("tritonkit.yaml").write_text(text)
    before = snapshot(Path.cwd())
    for argv in (["render"], ["validate"], ["add", "n", *PY], ["init", "--force"]):
        assert run(argv) == 2, argv
        err = capsys.readouterr().err
        first = err.splitlines()[0]
        assert first.startswith(f"error: {Path.cwd() / 'tritonkit.yaml'}:{line}: ") and message in first, err
        if hint:
            assert hint in err
        assert "Traceback" not in err
    assert snapshot(Path.cwd()) == before


def test_every_modelconfig_field_round_trips_through_the_spec(capsys: pytest.CaptureFixture[str]) -> None:
    extra = """    version_policy: {specific: {versions: [1, 3]}}
    response_cache: {enable: true}
    model_warmup:
      - name: w
        batch_size: 1
        inputs: {x: {data_type: TYPE_FP32, dims: [4], zero_data: true}}
    dynamic_batching: {max_queue_delay_microseconds: 50, priority_levels: 2, default_priority_level: 1}
    instance_group: [{count: 2, kind: KIND_GPU, gpus: [0, 1]}, {count: 1, kind: KIND_CPU, name: cpu}]
    parameters: {a: b, c: {string_value: d}}
    tritonkit: {version: 3}
"""
    REPO.mkdir()
    Path("tritonkit.yaml").write_text(ENTRY + extra)
    assert run(["render"]) == 0
    config = parse_config((REPO / "m" / "config.pbtxt").read_text())
    assert list(config.version_policy.specific.versions) == [1, 3] and config.response_cache.enable
    assert config.model_warmup[0].inputs["x"].zero_data and config.dynamic_batching.priority_levels == 2
    assert [(g.count, g.name) for g in config.instance_group] == [(2, ""), (1, "cpu")]
    assert {k: v.string_value for k, v in config.parameters.items()} == {"a": "b", "c": "d"}
    [spec] = load_project(REPO).models
    assert spec.version == 3 and spec.to_message() == config


def test_render_keeps_hand_edits_until_forced(capsys: pytest.CaptureFixture[str]) -> None:
    assert run(["init"]) == 0 and run(["add", "m", *PY]) == 0
    config = REPO / "m" / "config.pbtxt"
    config.write_text(config.read_text() + "model_warmup [ { name: 'w' batch_size: 1 } ]\n")
    capsys.readouterr()
    assert run(["render"]) == 2
    err = capsys.readouterr().err
    assert "edited by hand" in err and "-model_warmup" in err and "import --force" in err
    assert "model_warmup" in config.read_text()
    # Adopting the edit keeps it: import puts it in the spec, render then has nothing to change.
    assert run(["import", "--force", "-m", "m"]) == 0
    assert "comments in config.pbtxt are not" in capsys.readouterr().out
    assert run(["render"]) == 0
    assert parse_config(config.read_text()).model_warmup[0].name == "w"
    # A comment-only edit is not a change of content: render rewrites it without asking.
    config.write_text("# mine\n" + config.read_text())
    assert run(["render"]) == 0 and "# mine" not in config.read_text()


def test_import_cli_new_spec_and_refusals(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    repo = Path("repo")
    (repo / "a" / "1").mkdir(parents=True)
    (repo / "a" / "config.pbtxt").write_text('# hand written\nbackend: "python"\nmax_batch_size: 2\n')
    (repo / "nocfg").mkdir()
    assert run(["import", "repo"]) == 0
    out = capsys.readouterr().out
    assert "imported a" in out and "skipped nocfg" in out
    data = yaml.safe_load(Path("tritonkit.yaml").read_text())
    assert data["models"] == [{"name": "a", "backend": "python", "max_batch_size": 2}]
    assert (
        Path("tritonkit.yaml").read_text().startswith("# yaml-language-server: $schema=tritonkit.schema.json")
    )
    assert json.loads(Path("tritonkit.schema.json").read_text())["title"] == "tritonkit.yaml"
    assert run(["import", "repo"]) == 2
    assert "already in" in capsys.readouterr().err
    (repo / "b").mkdir()
    (repo / "b" / "config.pbtxt").write_text('name: "c"\n')
    assert run(["import", "repo", "--force"]) == 2
    assert "its folder is 'b'" in capsys.readouterr().err


def test_remove_entry_and_files(capsys: pytest.CaptureFixture[str]) -> None:
    assert run(["init"]) == 0 and run(["add", "m", *PY]) == 0 and run(["add", "n", *PY]) == 0
    assert run(["remove", "m"]) == 0
    assert [s.name for s in load_project(REPO).models] == ["n"] and (REPO / "m").is_dir()
    assert run(["remove", "m"]) == 2
    assert "not in" in capsys.readouterr().err
    assert run(["remove", "m", "--files"]) == 0 and not (REPO / "m").exists()
    assert run(["remove", "n", "--files"]) == 0
    assert not (REPO / "n").exists() and load_project(REPO).models == []
    assert sorted(p.name for p in REPO.iterdir()) == []


def test_instance_group_flag_and_schema(capsys: pytest.CaptureFixture[str]) -> None:
    assert run(["init"]) == 0
    groups = ["--instance-group", "kind=gpu,count=2,gpus=0:1", "--instance-group", "kind=cpu"]
    assert run(["add", "m", *PY, *groups]) == 0
    config = parse_config((REPO / "m" / "config.pbtxt").read_text())
    assert [(g.kind, g.count, list(g.gpus)) for g in config.instance_group] == [(1, 2, [0, 1]), (2, 1, [])]
    for bad in ("kind=gpu,count=x", "kind=tpu", "size=2", "gpus=0:0"):
        assert run(["add", "z", *PY, "--instance-group", bad]) == 2
    assert run(["add", "z", *PY, "--instance-group", "kind=cpu", "--instances", "2"]) == 2
    capsys.readouterr()
    assert run(["schema"]) == 0
    schema = json.loads(capsys.readouterr().out)
    entry = schema["properties"]["models"]["items"]
    assert {"model_warmup", "response_cache", "tritonkit"} <= set(entry["properties"])
    kinds = schema["$defs"]["inference.ModelInstanceGroup"]["properties"]["kind"]["enum"]
    assert kinds == ["KIND_AUTO", "KIND_GPU", "KIND_CPU", "KIND_MODEL"]


def test_add_force_keeps_what_add_does_not_own(capsys: pytest.CaptureFixture[str]) -> None:
    assert run(["init"]) == 0 and run(["add", "m", *PY, "--max-batch-size", "4", "--instances", "3"]) == 0
    spec_file = Path("tritonkit.yaml")
    data = yaml.safe_load(spec_file.read_text())
    data["models"][0]["response_cache"] = {"enable": True}
    spec_file.write_text(yaml.safe_dump(data))
    argv = ["add", "m", "--backend", "python", "--input", "x:fp32:8", "--output", "y:fp32:8"]
    assert run([*argv, "--max-batch-size", "4", "--force"]) == 0
    config = parse_config((REPO / "m" / "config.pbtxt").read_text())
    assert list(config.input[0].dims) == [8]  # owned: replaced
    assert config.response_cache.enable and config.instance_group[0].count == 3  # not given: kept
    assert run([*argv, "--instances", "1", "--force"]) == 0
    assert parse_config((REPO / "m" / "config.pbtxt").read_text()).instance_group[0].count == 1


def test_apply_keeps_the_kind_and_the_rest(tmp_path: Path) -> None:
    from tritonkit.bench.apply import apply_variant
    from tritonkit.bench.result import Variant

    assert run(["init"]) == 0 and run(["add", "m", *PY, "--max-batch-size", "4"]) == 0
    data = yaml.safe_load(Path("tritonkit.yaml").read_text())
    data["models"][0]["model_warmup"] = [{"name": "w", "batch_size": 1}]
    Path("tritonkit.yaml").write_text(yaml.safe_dump(data))
    apply_variant(REPO, "m", Variant(2, True))
    config = parse_config((REPO / "m" / "config.pbtxt").read_text())
    assert config.instance_group[0].kind == 0 and config.instance_group[0].count == 2  # KIND_AUTO
    assert config.model_warmup[0].name == "w" and config.HasField("dynamic_batching")
    # A config not in tritonkit.yaml: its kind and every other field stay too.
    (REPO / "h").mkdir()
    (REPO / "h" / "config.pbtxt").write_text(
        'name: "h"\nbackend: "python"\ninstance_group [ { kind: KIND_GPU count: 1 gpus: [ 0 ] } ]\n'
        "response_cache { enable: true }\n"
    )
    apply_variant(REPO, "h", Variant(4, None))
    config = parse_config((REPO / "h" / "config.pbtxt").read_text())
    assert [(g.kind, g.count, list(g.gpus)) for g in config.instance_group] == [(1, 4, [0])]
    assert config.response_cache.enable


def test_export_merge_keeps_non_io_fields() -> None:
    from tritonkit.model.spec import EXPORT_FIELDS, ModelSpec, TensorSpec
    from tritonkit.repository.adopt import keep_unowned

    assert run(["init"]) == 0 and run(["add", "m", "--backend", "pytorch", "-i", "a:fp32:2", "-o", "b:fp32:2",
                                       "--max-batch-size", "4", "--dynamic-batching", "--instances", "2"]) == 0  # fmt: skip
    project = load_project(REPO)
    project.models[0].extra["model_warmup"] = [{"name": "w"}]
    fresh = ModelSpec(
        "m", "pytorch", [TensorSpec.parse("INPUT__0:fp32:3")], [TensorSpec.parse("OUTPUT__0:fp32:1")]
    )
    merged = keep_unowned(project, fresh, EXPORT_FIELDS)
    assert [t.name for t in merged.inputs] == ["INPUT__0"] and merged.max_batch_size == 0
    assert merged.dynamic_batching is not None and merged.instance_groups[0].count == 2
    assert merged.extra["model_warmup"] == [{"name": "w"}]


@pytest.mark.torch
def test_export_next_after_apply_keeps_batching_groups_and_warmup(tmp_path: Path) -> None:
    """The issue's case: `bench --sweep --apply` then `export --next` lost dynamic_batching and instance_group."""
    from conftest import require
    from export_support import HAS_TORCH, TORCH_HOW

    require(HAS_TORCH, "torch", TORCH_HOW)
    import torch

    from export_support import MLP
    from tritonkit.bench.apply import apply_variant
    from tritonkit.bench.result import Variant
    from tritonkit.export import export_model

    assert run(["init"]) == 0
    export_model(MLP(), torch.randn(2, 16), repo=REPO, name="mlp", max_batch_size=8)
    data = yaml.safe_load(Path("tritonkit.yaml").read_text())
    data["models"][0]["model_warmup"] = [{"name": "w", "batch_size": 1}]
    Path("tritonkit.yaml").write_text(yaml.safe_dump(data))
    apply_variant(REPO, "mlp", Variant(3, True), queue_delay_us=200)
    export_model(MLP(), torch.randn(2, 16), repo=REPO, name="mlp", max_batch_size=8, next=True)
    config = parse_config((REPO / "mlp" / "config.pbtxt").read_text())
    assert config.dynamic_batching.max_queue_delay_microseconds == 200
    assert [(g.count, g.kind) for g in config.instance_group] == [(3, 0)]  # KIND_AUTO kept, not pinned to CPU
    assert config.model_warmup[0].name == "w" and (REPO / "mlp" / "2" / "model.pt").is_file()
    assert load_project(REPO).model("mlp").to_message() == config  # type: ignore[union-attr]
