"""Layout rules: folder/config names, version folders, config placement, model files, links."""

from __future__ import annotations

import os
from pathlib import Path

from validate_support import MODEL_PY, cfg, only, rules, validate, write_model

PT = {"backend": None, "platform": "pytorch_libtorch"}


def test_name_mismatch(tmp_path: Path) -> None:
    repo = tmp_path / "repo"
    write_model(repo, "folder", cfg("other"))
    [finding] = only(validate(repo), "layout.name-mismatch")
    assert finding.severity == "error" and finding.line == 1 and finding.model == "folder"
    write_model(repo, "folder", cfg("folder"))
    assert validate(repo).ok


def test_config_without_name_takes_the_folder_name(tmp_path: Path) -> None:
    repo = tmp_path / "repo"
    write_model(repo, "m", cfg("m").replace('name: "m"\n', ""))
    assert validate(repo).findings == []


def test_no_version_folder(tmp_path: Path) -> None:
    repo = tmp_path / "repo"
    write_model(repo, "m", cfg(), versions=())
    assert "layout.no-version" in rules(validate(repo), "error")
    write_model(repo, "m", cfg(), versions=(1,))
    assert "layout.no-version" not in rules(validate(repo))


def test_leading_zero_versions(tmp_path: Path) -> None:
    # Triton ignores "01" ("ignore version directory '01' which contains leading zeros").
    repo = tmp_path / "repo"
    write_model(repo, "m", cfg(), versions=(1,))
    os.rename(repo / "m" / "1", repo / "m" / "01")
    report = validate(repo)
    assert rules(report, "warning") == {"layout.version-leading-zero"}
    assert rules(report, "error") == {"layout.no-version"}
    (repo / "m" / "1").mkdir()
    (repo / "m" / "1" / "model.py").write_text(MODEL_PY)
    report = validate(repo)
    assert report.ok and rules(report) == {"layout.version-leading-zero"}
    (repo / "m" / "01" / "model.py").unlink()
    (repo / "m" / "01").rmdir()
    assert validate(repo).findings == []


def test_non_numeric_version_folder_is_flagged(tmp_path: Path) -> None:
    repo = tmp_path / "repo"
    write_model(
        repo, "m", cfg(), files={"v2/model.py": MODEL_PY, "1/model.py": MODEL_PY, "assets/x.txt": "x"}
    )
    report = validate(repo)
    assert [f.file for f in only(report, "layout.non-numeric-version")] == [str(repo / "m" / "v2")]
    assert report.ok


def test_config_inside_version_folder(tmp_path: Path) -> None:
    repo = tmp_path / "repo"
    write_model(repo, "m", None, files={"1/config.pbtxt": cfg(), "1/model.py": MODEL_PY})
    [finding] = only(validate(repo), "layout.config-in-version")
    assert finding.severity == "error" and "mv m/1/config.pbtxt m/" in (finding.hint or "")
    write_model(repo, "m", cfg())  # both: the inner one is ignored
    assert "layout.ignored-version-config" in rules(validate(repo), "warning")
    (repo / "m" / "1" / "config.pbtxt").unlink()
    assert validate(repo).findings == []


def test_missing_config(tmp_path: Path) -> None:
    repo = tmp_path / "repo"
    write_model(repo, "m", None, files={"1/data.txt": "x"})
    assert "layout.missing-config" in rules(validate(repo), "error")
    # The real server loads a Python model without config.pbtxt (it guesses the backend from model.py).
    write_model(repo, "p", None, files={"1/model.py": MODEL_PY})
    [finding] = [f for f in only(validate(repo), "layout.auto-complete-config") if f.model == "p"]
    assert finding.severity == "warning" and "no auto_complete_config" in finding.message
    write_model(repo, "o", None, files={"1/model.onnx": "onnx bytes"})
    # Triton can auto-complete an ONNX model's config: a warning, not an error.
    assert [f.severity for f in only(validate(repo), "layout.auto-complete-config") if f.model == "o"] == [
        "warning"
    ]


def test_missing_model_file_only_with_artifacts(tmp_path: Path) -> None:
    repo = tmp_path / "repo"
    write_model(repo, "m", cfg(**PT))  # type: ignore[arg-type]
    [finding] = only(validate(repo, artifacts=True), "layout.missing-model-file")
    assert "model.pt" in finding.message
    assert validate(repo, artifacts=False).ok
    (repo / "m" / "1" / "model.pt").write_bytes(b"")
    assert "layout.missing-model-file" not in rules(validate(repo, artifacts=True))


def test_default_model_filename_and_backends(tmp_path: Path) -> None:
    repo = tmp_path / "repo"
    write_model(repo, "o", cfg("o", backend="onnxruntime", extra='default_model_filename: "net.onnx"'))
    write_model(repo, "t", cfg("t", backend=None, platform="tensorrt_plan"))
    report = validate(repo, artifacts=True)
    messages = {f.model: f.message for f in only(report, "layout.missing-model-file")}
    assert "net.onnx" in messages["o"] and "model.plan" in messages["t"]
    (repo / "o" / "1" / "net.onnx").write_text("x")
    (repo / "t" / "1" / "model.plan").write_text("x")
    assert "layout.missing-model-file" not in rules(validate(repo, artifacts=True))


def test_version_policy_versions_must_exist(tmp_path: Path) -> None:
    repo = tmp_path / "repo"
    policy = "version_policy: { specific: { versions: [ 1, 3 ] } }"
    write_model(repo, "m", cfg(extra=policy), versions=(1, 2))
    [finding] = only(validate(repo), "layout.missing-policy-version")
    # Triton loads version 1 and skips 3: a warning; with none of them present, an error.
    assert "3" in finding.message and finding.line == 6 and finding.severity == "warning"
    write_model(repo, "n", cfg("n", extra="version_policy: { specific: { versions: [ 3 ] } }"), versions=(1,))
    assert [f.severity for f in only(validate(repo), "layout.no-policy-version") if f.model == "n"] == [
        "error"
    ]
    write_model(repo, "m", cfg(extra=policy), versions=(1, 2, 3))
    write_model(repo, "n", cfg("n", extra="version_policy: { specific: { versions: [ 3 ] } }"), versions=(3,))
    assert validate(repo).findings == []


def test_latest_policy_checks_only_loaded_versions(tmp_path: Path) -> None:
    repo = tmp_path / "repo"
    write_model(repo, "m", cfg(**PT), versions=(1, 2))  # type: ignore[arg-type]
    (repo / "m" / "2" / "model.pt").write_bytes(b"")
    assert "layout.missing-model-file" not in rules(validate(repo, artifacts=True))  # latest 1 -> only 2
    write_model(repo, "m", cfg(**PT, extra="version_policy: { all: {} }"), versions=(1, 2))  # type: ignore[arg-type]
    assert "layout.missing-model-file" in rules(validate(repo, artifacts=True))
    # latest { num_versions: 2 } loads 2 and 3: a missing 2/model.pt counts, a missing 1/model.pt does not
    latest = "version_policy: { latest: { num_versions: 2 } }"
    write_model(repo, "m", cfg(**PT, extra=latest), versions=(1, 2, 3))  # type: ignore[arg-type]
    (repo / "m" / "2" / "model.pt").unlink()
    for version in (1, 3):
        (repo / "m" / str(version) / "model.pt").write_bytes(b"")
    [finding] = only(validate(repo, artifacts=True), "layout.missing-model-file")
    assert finding.message == "version 2 has no model.pt"
    (repo / "m" / "1" / "model.pt").rename(repo / "m" / "2" / "model.pt")
    assert "layout.missing-model-file" not in rules(validate(repo, artifacts=True))


def test_symlink_loops_and_dangling_links(tmp_path: Path) -> None:
    repo = tmp_path / "repo"
    write_model(repo, "m", cfg())
    os.symlink("loop", repo / "loop")
    os.symlink("nowhere", repo / "m" / "dangling")
    report = validate(repo)
    assert {f.model for f in only(report, "layout.broken-link")} == {"loop", "m"}
    (repo / "loop").unlink()
    (repo / "m" / "dangling").unlink()
    assert validate(repo).ok


def test_odd_folder_names_and_files_in_the_repository(tmp_path: Path) -> None:
    repo = tmp_path / "repo"
    write_model(repo, "my model", cfg("my model"))
    (repo / "README.md").write_text("not a model")
    (repo / ".git").mkdir()
    (repo / ".env").write_text("a hidden file: not a model")
    report = validate(repo)
    # the server takes every sub-folder for a model, hidden ones too (its table says ".git: Not loaded")
    assert report.models == [".git", "my model"]
    assert "layout.odd-model-name" in rules(report, "warning")
    [hidden] = [f for f in report.errors if f.model == ".git"]
    assert hidden.rule == "layout.missing-config" and hidden.hint == "move .git/ out of the model repository"


def test_a_model_named_dot_dot_x_is_a_mismatch_not_a_crash(tmp_path: Path) -> None:
    repo = tmp_path / "repo"
    write_model(repo, "x", cfg("../x"))
    [finding] = only(validate(repo), "layout.name-mismatch")
    assert finding.hint == 'set name: "x"'


def test_empty_repository_is_ok(tmp_path: Path) -> None:
    (tmp_path / "repo").mkdir()
    report = validate(tmp_path / "repo")
    assert report.ok and report.models == []
