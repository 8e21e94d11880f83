"""The spec holds a whole ModelConfig: import -> tritonkit.yaml -> render gives back equal messages.

Random configs are generated from the official descriptor itself (every field, oneofs, maps, enums),
so a field no template names, or one added to the schema later, is covered too.
"""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

import pytest
from google.protobuf import text_format
from google.protobuf.descriptor import Descriptor, FieldDescriptor
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tritonkit.model.messages import _INT_RANGES, is_map, is_repeated
from tritonkit.model.schema import parse_config, pb2
from tritonkit.repository.adopt import import_repository, read_config_spec
from tritonkit.repository.project import Project, load_project, parse_project
from tritonkit.repository.render import render_config
from tritonkit.repository.scaffold import render_repository

EXAMPLES = Path(__file__).parents[1] / "examples"
GOLDEN = Path(__file__).parent / "golden"


def scalar(field: FieldDescriptor) -> st.SearchStrategy[Any]:
    if field.type == FieldDescriptor.TYPE_ENUM:
        named = st.sampled_from([v.number for v in field.enum_type.values])
        return st.one_of(named, st.integers(-(2**31), 2**31 - 1))  # proto3 enums are open
    if field.type == FieldDescriptor.TYPE_BOOL:
        return st.booleans()
    if field.type in _INT_RANGES:
        low, high = _INT_RANGES[field.type]
        return st.one_of(st.integers(-2, 16).filter(lambda v: low <= v <= high), st.integers(low, high))
    if field.type == FieldDescriptor.TYPE_FLOAT:
        return st.floats(width=32, allow_nan=False)
    if field.type == FieldDescriptor.TYPE_DOUBLE:
        return st.floats(allow_nan=False)
    return st.text(max_size=8)


def message_strategy(descriptor: Descriptor, depth: int = 0) -> st.SearchStrategy[dict[str, Any]]:
    """Field name -> value dicts for `descriptor` (at most one member of each oneof)."""
    fields = [f for f in descriptor.fields if depth < 4 or f.message_type is None]
    parts: dict[str, st.SearchStrategy[Any]] = {}
    for f in fields:
        if is_map(f):
            key, value = f.message_type.fields_by_name["key"], f.message_type.fields_by_name["value"]
            inner = message_strategy(value.message_type, depth + 1) if value.message_type else scalar(value)
            parts[f.name] = st.dictionaries(scalar(key), inner, max_size=2)
        elif f.message_type is not None:
            sub = message_strategy(f.message_type, depth + 1)
            parts[f.name] = st.lists(sub, max_size=2) if is_repeated(f) else sub
        else:
            parts[f.name] = st.lists(scalar(f), max_size=3) if is_repeated(f) else scalar(f)

    @st.composite
    def build(draw: st.DrawFn) -> dict[str, Any]:
        chosen = draw(st.sets(st.sampled_from(sorted(parts)), max_size=4 if depth else 8)) if parts else set()
        out: dict[str, Any] = {}
        used_oneofs: set[str] = set()
        for name in sorted(chosen):
            oneof = descriptor.fields_by_name[name].containing_oneof
            if oneof is not None:
                if oneof.name in used_oneofs:
                    continue
                used_oneofs.add(oneof.name)
            out[name] = draw(parts[name])
        return out

    return build()


def to_message(data: dict[str, Any], message: Any) -> Any:
    for name, value in data.items():
        f = message.DESCRIPTOR.fields_by_name[name]
        target = getattr(message, name)
        if is_map(f):
            for k, v in value.items():
                if f.message_type.fields_by_name["value"].message_type is not None:
                    to_message(v, target[k])
                else:
                    target[k] = v
        elif is_repeated(f):
            for v in value:
                if f.message_type is not None:
                    to_message(v, target.add())
                else:
                    target.append(v)
        elif f.message_type is not None:
            target.SetInParent()
            to_message(value, target)
        else:
            setattr(message, name, value)
    return message


def round_trip(config: Any, tmp: Path) -> Any:
    """import (the config file) -> tritonkit.yaml text -> read back -> render -> parse."""
    name = config.name
    (tmp / name).mkdir(parents=True, exist_ok=True)
    path = tmp / name / "config.pbtxt"
    path.write_text(text_format.MessageToString(config), encoding="utf-8")
    spec = read_config_spec(path, name)
    project = Project(spec_path=tmp / "tritonkit.yaml", repository=tmp / "repo", models=[spec])
    [again] = parse_project(project.to_yaml(), project.spec_path).models
    return parse_config(render_config(again))


@settings(
    max_examples=150,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)
@given(message_strategy(pb2().ModelConfig.DESCRIPTOR))
def test_random_configs_survive_import_spec_and_render(tmp_path: Path, data: dict[str, Any]) -> None:
    config = to_message(data, pb2().ModelConfig())
    config.name = "m"
    parsed = parse_config(text_format.MessageToString(config))  # the file as the server would read it
    assert round_trip(parsed, tmp_path) == parsed


def corpus() -> dict[str, str]:
    from validate_corpus import CASES  # the agreement test's cases live there too

    texts = {
        f"corpus/{k}": str(c.files["config.pbtxt"]) for k, c in CASES.items() if "config.pbtxt" in c.files
    }
    texts |= {f"golden/{p.name}": p.read_text() for p in sorted(GOLDEN.glob("*.config.pbtxt"))}
    texts |= {str(p.relative_to(EXAMPLES)): p.read_text() for p in sorted(EXAMPLES.rglob("config.pbtxt"))}
    return texts


def test_every_example_and_corpus_config_survives(tmp_path: Path) -> None:
    from tritonkit.model.schema import parse_config_safely

    parsed = {label: parse_config_safely(text)[0] for label, text in corpus().items()}
    configs = {label: config for label, config in parsed.items() if config is not None}
    assert len(configs) > 30  # the few left out are the corpus's schema errors
    for label, config in configs.items():
        config.name = config.name or "unnamed"
        assert round_trip(config, tmp_path / label.replace("/", "_")) == config, label


def test_import_then_render_on_disk_keeps_every_message(tmp_path: Path) -> None:
    repo = tmp_path / "model_repository"
    shutil.copytree(EXAMPLES / "python_pipeline" / "model_repository", repo)
    originals = {p.parent.name: parse_config(p.read_text()) for p in repo.glob("*/config.pbtxt")}
    result = import_repository(repo)
    assert sorted(result.imported) == sorted(originals)
    assert render_repository(repo).hand_edited == {}  # same messages: only comments/layout change
    assert {p.parent.name: parse_config(p.read_text()) for p in repo.glob("*/config.pbtxt")} == originals
    assert render_repository(repo, check=True).changed == {}
    assert [m.name for m in load_project(repo).models] == sorted(originals)


@pytest.mark.parametrize(
    ("bad", "where"),
    [("input [ { name: 'x' data_typ: TYPE_FP32 } ]", ":2:"), ("max_batch_size: 4\n}\n", ":3:")],
)
def test_import_refuses_a_config_that_does_not_parse(tmp_path: Path, bad: str, where: str) -> None:
    from tritonkit.errors import RepositoryError

    repo = tmp_path / "repo"
    (repo / "a").mkdir(parents=True)
    (repo / "a" / "config.pbtxt").write_text('name: "a"\nbackend: "python"\n')
    (repo / "b").mkdir()
    (repo / "b" / "config.pbtxt").write_text('name: "b"\n' + bad)
    with pytest.raises(RepositoryError) as info:
        import_repository(repo)
    assert f"b/config.pbtxt{where}" in info.value.message
    assert not (tmp_path / "tritonkit.yaml").exists()  # nothing imported


def test_render_keeps_an_aoti_models_local_config_in_step(tmp_path: Path) -> None:
    """configs/tritonkit-local.pbtxt (what the bundled 24.10 server loads for torch_aoti) follows render."""
    from tritonkit.repository.render import LOCAL_CONFIG, local_aoti_config

    repo = tmp_path / "model_repository"
    shutil.copytree(EXAMPLES / "python_pipeline" / "model_repository", repo)
    import_repository(repo)
    render_repository(repo)
    local = repo / "add_sub" / LOCAL_CONFIG
    local.parent.mkdir()
    local.write_text("# stale\n")
    result = render_repository(repo)
    config = (repo / "add_sub" / "config.pbtxt").read_text()
    assert local in result.changed and local.read_text() == local_aoti_config(config)
    assert local in render_repository(repo).unchanged
    assert render_repository(repo, check=True).changed == {}
