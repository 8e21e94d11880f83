"""The core value types: data type names, tensor/model specs, the spec file, safe writes, golden samples."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from tritonkit.errors import RepositoryError, UsageError
from tritonkit.model.backends import model_file_for
from tritonkit.model.dtypes import (
    BY_CONFIG,
    config_type_name,
    config_type_names,
    from_numpy,
    from_torch,
    parse_dtype,
)
from tritonkit.model.spec import (
    DynamicBatchingSpec,
    InstanceGroupSpec,
    ModelSpec,
    TensorSpec,
    parse_dims,
    scheduling_from_flags,
)
from tritonkit.repository.golden import GoldenSample, load_golden, save_golden
from tritonkit.repository.layout import staged_dir
from tritonkit.repository.project import load_project, resolve_repository, spec_path_for
from tritonkit.repository.scaffold import add_model, init_repository
from tritonkit.repository.scan import list_model_dirs, next_version, scan_repository


@pytest.mark.parametrize(
    ("text", "config", "wire"),
    [
        ("fp32", "TYPE_FP32", "FP32"),
        ("float32", "TYPE_FP32", "FP32"),
        ("FP32", "TYPE_FP32", "FP32"),
        ("TYPE_FP32", "TYPE_FP32", "FP32"),
        ("bytes", "TYPE_STRING", "BYTES"),
        ("string", "TYPE_STRING", "BYTES"),
        ("BYTES", "TYPE_STRING", "BYTES"),
        ("bool", "TYPE_BOOL", "BOOL"),
        ("int64", "TYPE_INT64", "INT64"),
        ("torch.int64", "TYPE_INT64", "INT64"),
        ("bf16", "TYPE_BF16", "BF16"),
        ("half", "TYPE_FP16", "FP16"),
    ],
)
def test_parse_dtype_accepts_every_common_spelling(text: str, config: str, wire: str) -> None:
    dtype = parse_dtype(text)
    assert (dtype.config, dtype.wire) == (config, wire)


def test_parse_dtype_rejects_unknown_with_hint() -> None:
    with pytest.raises(UsageError) as info:
        parse_dtype("fq32")
    assert "fq32" in info.value.message and info.value.hint and "fp32" in info.value.hint


def test_numpy_and_torch_names_map_to_triton_types() -> None:
    assert from_numpy("float32").wire == "FP32"
    assert from_numpy("object").wire == "BYTES"
    assert from_torch("torch.float16").wire == "FP16"
    assert from_torch("torch.bfloat16").wire == "BF16"
    with pytest.raises(UsageError, match="complex"):
        from_torch("torch.complex64")


def test_tensor_spec_parse() -> None:
    t = TensorSpec.parse("INPUT__0:fp32:3,224,224")
    assert (t.name, t.data_type, t.dims) == ("INPUT__0", "TYPE_FP32", [3, 224, 224])
    assert TensorSpec.parse("ids:int64:-1").dims == [-1]
    # A name may itself contain colons: the last two fields are the type and dims.
    assert TensorSpec.parse("a:b:fp32:1").name == "a:b"
    for bad in ("x:fp32", "x:fp32:0", "x:fp32:a,b", ":fp32:1"):
        with pytest.raises(UsageError):
            TensorSpec.parse(bad)
    assert parse_dims("[1, 2]") == [1, 2]


def test_model_spec_rejects_unsafe_names_and_bad_batching() -> None:
    for name in ("../x", "a/b", "..", "", " x", "x\n"):
        with pytest.raises(UsageError):
            ModelSpec(name=name, backend="python")
    with pytest.raises(UsageError, match="preferred batch sizes"):
        ModelSpec(name="m", backend="pytorch", max_batch_size=4, dynamic_batching=DynamicBatchingSpec([8]))
    with pytest.raises(UsageError, match="--kind gpu"):
        InstanceGroupSpec(count=1, kind="cpu", gpus=[0])
    with pytest.raises(UsageError, match="duplicate"):
        InstanceGroupSpec(count=1, kind="gpu", gpus=[0, 0])


def test_model_spec_round_trips_through_dict() -> None:
    spec = ModelSpec(
        name="m",
        backend="torch",
        inputs=[TensorSpec.parse("INPUT__0:fp32:16")],
        outputs=[TensorSpec.parse("OUTPUT__0:fp32:4")],
        max_batch_size=8,
        dynamic_batching=DynamicBatchingSpec([4, 8], 100),
        instance_groups=[InstanceGroupSpec(2, "gpu", [0, 1])],
    )
    assert spec.backend == "pytorch" and spec.platform == "pytorch_libtorch"
    again = ModelSpec.from_dict(spec.to_dict())
    assert again == spec


def test_init_and_add_record_models_in_spec_file(tmp_path: Path) -> None:
    repo = tmp_path / "model_repository"
    result = init_repository(repo)
    assert result.spec_path == spec_path_for(repo) and result.spec_path.is_file()
    spec = ModelSpec(
        name="add_sub",
        backend="python",
        inputs=[TensorSpec.parse("INPUT0:fp32:4")],
        outputs=[TensorSpec.parse("OUTPUT0:fp32:4")],
    )
    add_model(repo, spec)
    assert (repo / "add_sub" / "config.pbtxt").is_file()
    assert (repo / "add_sub" / "1" / "model.py").is_file()
    project = load_project(repo)
    assert [m.name for m in project.models] == ["add_sub"]
    with pytest.raises(RepositoryError, match="already exists"):
        add_model(repo, spec)
    with pytest.raises(RepositoryError, match="not empty"):
        init_repository(repo)


def test_resolve_repository_uses_nearest_spec_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    init_repository(tmp_path / "proj" / "repo")
    nested = tmp_path / "proj" / "a" / "b"
    nested.mkdir(parents=True)
    monkeypatch.chdir(nested)
    assert resolve_repository(None).resolve() == (tmp_path / "proj" / "repo").resolve()
    assert resolve_repository("elsewhere") == Path("elsewhere")


def test_staged_dir_leaves_nothing_on_failure(tmp_path: Path) -> None:
    target = tmp_path / "m" / "1"
    with pytest.raises(RuntimeError), staged_dir(target) as staging:
        (staging / "model.pt").write_bytes(b"half")
        raise RuntimeError("boom")
    assert not target.exists()
    assert list((tmp_path / "m").iterdir()) == []


def test_staged_dir_replace_keeps_old_until_new_is_complete(tmp_path: Path) -> None:
    tmp_path = tmp_path / "area"
    tmp_path.mkdir()
    target = tmp_path / "v"
    target.mkdir()
    (target / "old").write_text("old")
    with staged_dir(target, replace=True) as staging:
        (staging / "new").write_text("new")
    assert sorted(p.name for p in target.iterdir()) == ["new"]
    assert [p.name for p in tmp_path.iterdir()] == ["v"]


def test_list_model_dirs_and_next_version(tmp_path: Path) -> None:
    tmp_path = tmp_path / "repo"
    (tmp_path / "m" / "1").mkdir(parents=True)
    (tmp_path / "m" / "3").mkdir()
    (tmp_path / "m" / "golden").mkdir()
    (tmp_path / ".hidden").mkdir()
    (tmp_path / "README").write_text("x")
    models = list_model_dirs(tmp_path)
    assert [m.name for m in models] == [".hidden", "m"]  # the server loads hidden folders too; not files
    models = models[1:]
    assert sorted(models[0].versions) == [1, 3] and models[0].other_dirs == ["golden"]
    assert next_version(tmp_path / "m") == 4
    assert next_version(tmp_path / "absent") == 1


def test_scan_mirrors_the_servers_version_folders(tmp_path: Path) -> None:
    """VersionsToLoad ignores "01"; a dangling link is reported, not followed; config presence is seen."""
    model = tmp_path / "repo" / "m"
    for name in ("2", "01", "v3", ".cache"):
        (model / name).mkdir(parents=True)
    (model / "config.pbtxt").write_text("")
    (model / "gone").symlink_to(tmp_path / "nowhere")
    (tmp_path / "repo" / "dangling").symlink_to(tmp_path / "nowhere")
    (model / "2" / "model.onnx").write_text("x")
    scan = scan_repository(tmp_path / "repo")
    assert scan.names == ["m"] and scan.broken_links == [tmp_path / "repo" / "dangling"]
    folder = scan.models[0]
    assert folder.has_config and folder.config_path == model / "config.pbtxt"
    assert folder.versions == {2: model / "2"} and folder.leading_zero_dirs == ["01"]
    assert folder.other_dirs == ["v3"] and folder.broken_links == ["gone"]
    assert folder.model_files("model.onnx") == {2: model / "2" / "model.onnx"}
    assert folder.model_files("model.pt") == {}
    assert next_version(model) == 3
    assert not scan.is_model_folder and scan_repository(model).is_model_folder


@pytest.mark.parametrize(
    ("platform", "backend", "default", "expected"),
    [
        ("pytorch_libtorch", "", "", "model.pt"),
        ("", "pytorch", "", "model.pt"),
        ("torch_aoti", "pytorch", "", "model.pt2"),
        ("onnxruntime_onnx", "", "", "model.onnx"),
        ("", "onnxruntime", "", "model.onnx"),
        ("tensorrt_plan", "", "", "model.plan"),
        ("tensorflow_graphdef", "tensorflow", "", "model.graphdef"),
        ("", "tensorflow", "", "model.savedmodel"),
        ("", "openvino", "", "model.xml"),
        ("", "python", "", "model.py"),
        ("onnxruntime_onnx", "python", "", "model.py"),  # a set backend wins over the platform
        ("", "python", "other.py", "other.py"),
        ("ensemble", "", "", None),
        ("", "identity", "", None),  # a custom backend picks its own file
    ],
)
def test_model_file_for_mirrors_the_core(
    platform: str, backend: str, default: str, expected: str | None
) -> None:
    assert model_file_for(platform, backend, default) == expected


def test_spec_model_filename_uses_the_one_table() -> None:
    assert ModelSpec(name="m", backend="pytorch").model_filename == "model.pt"
    assert ModelSpec(name="m", backend="onnx", default_model_filename="x.onnx").model_filename == "x.onnx"
    assert ModelSpec(name="m", backend="python").model_filename == "model.py"


def test_config_type_names_come_from_the_schema() -> None:
    assert config_type_name(11) == "TYPE_FP32" and config_type_name(999) == "999"
    assert set(config_type_names().values()) - {"TYPE_INVALID"} == {t.config for t in BY_CONFIG.values()}


def test_golden_sample_round_trip(tmp_path: Path) -> None:
    sample = GoldenSample(
        inputs={
            "INPUT__0": np.arange(6, dtype=np.float32).reshape(2, 3),
            "text": np.array([b"a", b"bc"], dtype=object),
        },
        outputs={"OUTPUT__0": np.ones((2, 4), dtype=np.float16)},
        rtol=1e-3,
        atol=1e-3,
        meta={"batch": True},
    )
    save_golden(tmp_path, sample)
    loaded = load_golden(tmp_path)
    np.testing.assert_array_equal(loaded.inputs["INPUT__0"], sample.inputs["INPUT__0"])
    assert list(loaded.inputs["text"]) == [b"a", b"bc"]
    assert loaded.outputs["OUTPUT__0"].dtype == np.float16
    assert (loaded.rtol, loaded.atol, loaded.meta) == (1e-3, 1e-3, {"batch": True})
    with pytest.raises(UsageError, match="no golden sample"):
        load_golden(tmp_path / "nowhere")


def test_scheduling_from_flags() -> None:
    assert scheduling_from_flags() == (None, [])
    batching, groups = scheduling_from_flags(preferred_batch_sizes=[4], instances=2)
    assert batching == DynamicBatchingSpec([4], 0) and groups == [InstanceGroupSpec(2, "KIND_CPU")]
    assert scheduling_from_flags(max_queue_delay_us=100)[0] == DynamicBatchingSpec([], 100)
    assert scheduling_from_flags(kind="gpu", gpus="0,1")[1] == [InstanceGroupSpec(1, "KIND_GPU", [0, 1])]
    with pytest.raises(UsageError, match="--gpus"):
        scheduling_from_flags(kind="gpu", gpus="0,x")
    with pytest.raises(UsageError, match="count must be >= 1"):
        scheduling_from_flags(instances=0)


def test_every_public_name_resolves_and_import_stays_light() -> None:
    import importlib
    import inspect
    import subprocess
    import sys

    import tritonkit
    from tritonkit import errors

    lazy: dict[str, str] = tritonkit._LAZY
    assert set(lazy) <= set(tritonkit.__all__)
    for name in tritonkit.__all__:
        value = getattr(tritonkit, name)
        if name == "__version__":
            assert isinstance(value, str) and value[0].isdigit()
            continue
        # the name is the very object of the module that defines it, documented
        home = importlib.import_module(lazy[name]) if name in lazy else errors
        assert value is getattr(home, name), name
        assert inspect.isclass(value) or inspect.isfunction(value), name
        assert value.__doc__, name
    with pytest.raises(AttributeError):
        _ = tritonkit.no_such_name  # type: ignore[attr-defined]
    heavy = "('torch', 'docker', 'jinja2', 'yaml')"
    code = f"import sys, tritonkit; print(sorted(m for m in {heavy} if m in sys.modules))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"
