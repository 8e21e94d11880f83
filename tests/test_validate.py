# ruff: noqa: E501  (tables of CLI arguments and tokens read best on one line each)
"""validate: the API's report, the CLI's exit codes and formats, scaffolded repositories, light imports."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

import tritonkit
import validate_corpus
from tritonkit.cli import run
from tritonkit.errors import RepositoryError
from tritonkit.validate.engine import ValidationReport, validate_repository
from tritonkit.validate.findings import Finding
from tritonkit.validate.rules import RULES
from validate_support import cfg, rules, write_model

FINDING_KEYS = {"severity", "model", "file", "line", "column", "rule", "message", "hint"}


def broken_repo(tmp_path: Path) -> Path:
    repo = tmp_path / "repo"
    write_model(repo, "good", cfg("good"))
    write_model(repo, "bad", cfg("bad", inputs='input [ { name: "x" data_type: TYPE_FP32 dims: [ 0 ] } ]'))
    write_model(repo, "typo", cfg("typo", inputs='input [ { name: "x" data_type: TYPE_FLOAT dims: [ 1 ] } ]'))
    return repo


def test_public_api_report(tmp_path: Path) -> None:
    report = tritonkit.validate_repository(broken_repo(tmp_path), artifacts=False)
    assert isinstance(report, tritonkit.ValidationReport)
    assert report.models == ["bad", "good", "typo"]
    assert not report.ok
    assert {"io.bad-dim", "schema.unknown-value"} <= rules(report, "error")
    data = report.to_dict()
    assert set(data) == {"ok", "models", "findings"}
    assert data["ok"] is False and data["models"] == ["bad", "good", "typo"]
    assert all(set(f) == FINDING_KEYS for f in data["findings"])
    json.dumps(data)  # JSON-serialisable as is


def test_missing_repository_is_a_repository_error(tmp_path: Path) -> None:
    with pytest.raises(RepositoryError, match="does not exist"):
        validate_repository(tmp_path / "nope")
    (tmp_path / "file").write_text("x")
    with pytest.raises(RepositoryError, match="not a folder"):
        validate_repository(tmp_path / "file")


def test_cli_exit_codes(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    repo = broken_repo(tmp_path)
    assert run(["validate", str(repo)]) == 1
    out = capsys.readouterr().out
    assert "bad/config.pbtxt:4: error [io.bad-dim] bad:" in out
    assert "typo/config.pbtxt:4:32: error [schema.unknown-value]" in out
    assert "did you mean TYPE_FP32?" in out
    assert out.rstrip().splitlines()[-1].startswith("failed: 2 errors, 0 warnings in 3 models")

    clean = tmp_path / "clean"
    write_model(clean, "good", cfg("good"))
    assert run(["validate", str(clean)]) == 0
    assert capsys.readouterr().out.startswith("ok: 0 errors")
    assert run(["validate", "--repo", str(clean)]) == 0
    capsys.readouterr()


def test_cli_usage_errors_exit_2(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert run(["validate", str(tmp_path / "missing")]) == 2
    err = capsys.readouterr().err
    assert f"error: repository {tmp_path / 'missing'} does not exist" in err and "Traceback" not in err
    (tmp_path / "r").mkdir()
    assert run(["validate", str(tmp_path / "r"), "--format", "xml"]) == 2
    capsys.readouterr()
    assert run(["validate", str(tmp_path / "r"), "--repo", str(tmp_path / "other")]) == 2
    assert "two repositories" in capsys.readouterr().err
    assert run(["validate", "--bogus"]) == 2


def test_cli_json_format(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert run(["validate", str(broken_repo(tmp_path)), "--format", "json"]) == 1
    data = json.loads(capsys.readouterr().out)
    assert set(data) == {"ok", "models", "findings"} and data["ok"] is False
    finding = next(f for f in data["findings"] if f["rule"] == "schema.unknown-value")
    assert finding["severity"] == "error" and finding["model"] == "typo"
    assert finding["line"] == 4 and finding["column"] == 32 and finding["file"].endswith("typo/config.pbtxt")


def test_cli_github_format(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert run(["validate", str(broken_repo(tmp_path)), "-f", "github"]) == 1
    lines = capsys.readouterr().out.splitlines()
    annotation = next(line for line in lines if "io.bad-dim" in line)
    assert annotation.startswith("::error file=")
    assert ",line=4," in annotation and "title=io.bad-dim (bad)::" in annotation
    assert "%0Ahint: " in annotation  # the hint rides along on an escaped newline
    assert lines[-1].startswith("failed:")


def test_github_escaping() -> None:
    from tritonkit.validate.engine import ValidationReport
    from tritonkit.validate.findings import Finding
    from tritonkit.validate.report import format_github

    finding = Finding("warning", "r.x", "100% bad\nreally", model="m", file="a,b:c.pbtxt", line=3, column=2)
    text = format_github(ValidationReport("repo", ["m"], [finding]))
    assert (
        text.splitlines()[0]
        == "::warning file=a%2Cb%3Ac.pbtxt,line=3,col=2,title=r.x (m)::100%25 bad%0Areally"
    )


def test_no_artifacts_flag(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    repo = tmp_path / "repo"
    write_model(
        repo,
        "pt",
        cfg("pt", backend=None, platform="pytorch_libtorch")
        .replace('"x"', '"INPUT__0"')
        .replace('"y"', '"OUTPUT__0"'),
    )
    assert run(["validate", str(repo)]) == 1
    assert "layout.missing-model-file" in capsys.readouterr().out
    assert run(["validate", str(repo), "--no-artifacts"]) == 0


def test_default_repository_comes_from_tritonkit_yaml(capsys: pytest.CaptureFixture[str]) -> None:
    assert run(["init", "models"]) == 0
    assert run(["add", "m", "--backend", "python", "--input", "x:fp32:4", "--output", "y:fp32:4"]) == 0
    capsys.readouterr()
    os.chdir("models")  # the spec file is found in a parent folder
    assert run(["validate"]) == 0
    assert "in 1 model (" in capsys.readouterr().out


ADD_COMMANDS = {
    "pytorch": ["--backend", "pytorch", "--input", "INPUT__0:fp32:16", "--output", "OUTPUT__0:fp32:4",
                "--max-batch-size", "8", "--dynamic-batching", "--preferred-batch-size", "4"],
    "onnx": ["--backend", "onnx", "--input", "x:fp32:3,224,224", "--output", "y:fp32:1000", "--instances", "2"],
    "python": ["--backend", "python", "--input", "a:int32:-1", "--output", "b:int32:-1", "--kind", "gpu",
               "--gpus", "0"],
    "bls": ["--backend", "python", "--bls-target", "python", "--input", "a:int32:-1", "--output", "b:int32:-1"],
    "tensorrt": ["--backend", "tensorrt", "--input", "x:fp16:8", "--output", "y:fp16:8", "--max-batch-size", "4"],
    "custom": ["--backend", "my_backend", "--input", "s:bytes:1", "--output", "t:bytes:1"],
    "ensemble": ["--backend", "ensemble", "--step", "python", "--step", "bls"],
}  # fmt: skip


def test_a_repository_scaffolded_by_add_validates_clean(capsys: pytest.CaptureFixture[str]) -> None:
    assert run(["init"]) == 0
    for name, args in ADD_COMMANDS.items():
        assert run(["add", name, *args]) == 0, capsys.readouterr().err
    capsys.readouterr()
    report = validate_repository(Path("model_repository"), artifacts=False)
    assert report.findings == [] and report.models == sorted(ADD_COMMANDS)
    # With artifacts, only the model files that export would write are missing.
    report = validate_repository(Path("model_repository"), artifacts=True)
    missing = {f.model for f in report.findings if f.rule == "layout.missing-model-file"}
    assert missing == {"pytorch", "onnx", "tensorrt"}
    assert {f.rule for f in report.findings} == {"layout.missing-model-file"}


def test_garbage_never_crashes(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    repo = tmp_path / "repo"
    write_model(repo, "random", os.urandom(4096))
    write_model(repo, "text", "}}}{{{ ::: \n\t\x7f")
    write_model(repo, "deep", "dynamic_batching { " * 200)
    write_model(repo, "bigint", 'name: "bigint" max_batch_size: 99999999999999999999\n')
    write_model(repo, "empty", "")
    os.symlink("loop", repo / "loop")
    (repo / "dir_as_config").mkdir()
    (repo / "dir_as_config" / "config.pbtxt").mkdir()
    assert run(["validate", str(repo), "-f", "json"]) == 1
    data = json.loads(capsys.readouterr().out)
    by_model = {f["model"]: f["rule"] for f in data["findings"]}
    assert by_model["random"] in ("schema.binary", "schema.not-utf8")
    assert by_model["text"] == "schema.parse-error" and by_model["deep"].startswith("schema.")
    assert by_model["loop"] == "layout.broken-link"
    assert by_model["dir_as_config"] == "layout.config-not-file"


def _imported_modules(code: str, cwd: Path) -> set[str]:
    script = textwrap.dedent(code) + "\nimport sys, json\nprint(json.dumps(sorted(sys.modules)))\n"
    result = subprocess.run(
        [sys.executable, "-c", script], cwd=cwd, capture_output=True, text=True, timeout=120, check=True
    )
    return set(json.loads(result.stdout.splitlines()[-1]))


HEAVY = (
    "torch",
    "docker",
    "tritonclient.http",
    "tritonclient.grpc",
    "grpc",
    "requests",
    "numpy",
    "jinja2",
    "onnx",
)


@pytest.mark.parametrize(
    "argv",
    [
        ["--help"],
        ["validate", "repo", "--no-artifacts"],
        ["validate", "repo"],
        ["describe", "m", "--repo", "repo"],
    ],
)
def test_light_commands_import_nothing_heavy(tmp_path: Path, argv: list[str]) -> None:
    write_model(tmp_path / "repo", "m", cfg())
    modules = _imported_modules(
        f"""
        from tritonkit.cli import run
        import contextlib, io
        with contextlib.redirect_stdout(io.StringIO()):
            code = run({argv!r})
        assert code == 0, code
        """,
        tmp_path,
    )
    # The schema module is loaded from tritonclient's files without importing tritonclient.grpc itself.
    heavy = sorted(m for m in modules if m.startswith(HEAVY) and m != "tritonclient.grpc.model_config_pb2")
    if argv == ["--help"]:
        heavy = [m for m in heavy if m.split(".")[0] != "numpy"]
    assert heavy == [], heavy


# Rules without a failing case in the corpus, and why.
UNTESTED = {"schema.unreadable": "needs a config.pbtxt that root cannot read"}


def test_every_registered_rule_has_a_test() -> None:
    """Every rule of the registry is named (as `"id"`) by some test or the corpus."""
    tests = "".join(p.read_text() for p in Path(__file__).parent.glob("test_*.py"))
    tests += (Path(__file__).parent / "validate_corpus.py").read_text()
    missing = sorted(i for i in RULES if f'"{i}"' not in tests and i not in UNTESTED)
    assert missing == [], f"rules without a test: {missing}"


@pytest.fixture(scope="module")
def corpus(tmp_path_factory: pytest.TempPathFactory) -> ValidationReport:
    repo = validate_corpus.build(tmp_path_factory.mktemp("corpus") / "repo")
    return validate_repository(repo, artifacts=True, gpus=0)  # the server's machine: no GPU


def test_the_corpus_shows_each_case_s_rules_and_verdict(corpus: ValidationReport) -> None:
    by_model: dict[str, list[Finding]] = {}
    for finding in corpus.findings:
        by_model.setdefault(finding.model or "", []).append(finding)
    wrong = []
    for name, case in validate_corpus.CASES.items():
        found = by_model.get(name, [])
        missing = set(case.rules) - {f.rule for f in found}
        errors = [f.rule for f in found if f.severity == "error"]
        if missing or (case.server and case.loads == bool(errors)):
            wrong.append((name, sorted(missing), errors))
    assert wrong == []


def test_the_registry_lists_exactly_the_rules_validate_emits(corpus: ValidationReport) -> None:
    """Set equality: the corpus (every rule's failing case) emits every non-artifact rule of the registry
    and nothing else; the artifact family is proven the same way in test_artifacts.py."""
    emitted = {f.rule for f in corpus.findings}
    declared = {r for r in RULES if not r.startswith("artifact.")} - set(UNTESTED)
    assert emitted == declared
    result = subprocess.run(
        [sys.executable, "-m", "tritonkit", "validate", "--list-rules", "--format", "json"],
        capture_output=True, text=True, timeout=60, check=True,
    )  # fmt: skip
    listed = json.loads(result.stdout)
    assert [r["id"] for r in listed] == list(RULES)
    assert all(set(r) == {"id", "family", "severity", "summary", "mirrors"} for r in listed)
    assert all(r["id"].startswith(r["family"] + ".") and r["summary"] and r["mirrors"] for r in listed)


def test_list_rules_text(capsys: pytest.CaptureFixture[str]) -> None:
    assert run(["validate", "--list-rules"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert len(lines) == len(RULES)
    first = next(iter(RULES.values()))
    assert lines[0].split()[:2] == [first.id, first.severity] and lines[0].endswith(first.summary)
    assert run(["validate", "--list-rules", "--format", "github"]) == 2
    assert "--list-rules prints text or json" in capsys.readouterr().err


def test_a_model_folder_given_as_repository_is_a_usage_error(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    repo = tmp_path / "repo"
    write_model(repo, "m", cfg())
    assert run(["validate", str(repo / "m")]) == 2
    err = capsys.readouterr().err
    assert "is a model folder, not a model repository" in err and f"tritonkit validate {repo}" in err


EXAMPLES = sorted((Path(__file__).resolve().parents[1] / "examples").glob("**/model_repository"))


@pytest.mark.parametrize("repository", EXAMPLES, ids=[str(p.parent.name) for p in EXAMPLES])
def test_example_repositories_validate_clean(repository: Path) -> None:
    report = validate_repository(repository, artifacts=False)
    assert report.findings == [] and report.models, report.findings


def test_configs_are_kept_for_later_rules_only_when_a_model_can_read_them(tmp_path: Path) -> None:
    """After its own rules a parsed config is dropped unless an ensemble (named in its config text) or,
    with model files looked at, a BLS caller may read it later."""
    from tritonkit.repository.scan import scan_model_folder
    from tritonkit.validate.context import ModelContext
    from tritonkit.validate.engine import _read_by_others, model_context, read_config

    def models(**texts: str) -> list[ModelContext]:
        found: list[ModelContext] = []
        for name, text in texts.items():
            found.append(model_context(scan_model_folder(write_model(tmp_path, name, text))))
            assert read_config(found[-1]) == []
        return found

    plain = models(m=cfg("m"), n=cfg("n", backend="onnxruntime"))
    assert not _read_by_others(plain, artifacts=False)
    assert _read_by_others(plain, artifacts=True)
    assert _read_by_others(plain + models(e=cfg("e", backend=None, platform="ensemble")), artifacts=False)
