# ruff: noqa: E501  (tables of config fragments read best on one line each)
"""Ensemble rules: scheduling, members in the repository, the tensor graph, types, shapes, batch sizes, cycles."""

from __future__ import annotations

from pathlib import Path

import pytest

from validate_support import cfg, only, rules, validate, write_model


def member(name: str, mbs: int = 8, in_type: str = "TYPE_FP32", out_dims: str = "4") -> str:
    return cfg(
        name,
        mbs=mbs,
        inputs=f'input [ {{ name: "a" data_type: {in_type} dims: [ 4 ] }} ]',
        outputs=f'output [ {{ name: "b" data_type: TYPE_FP32 dims: [ {out_dims} ] }} ]',
    )


def step(model: str, inputs: dict[str, str], outputs: dict[str, str], version: int = -1) -> str:
    maps = [f'input_map {{ key: "{k}" value: "{v}" }}' for k, v in inputs.items()]
    maps += [f'output_map {{ key: "{k}" value: "{v}" }}' for k, v in outputs.items()]
    return f'{{ model_name: "{model}" model_version: {version} {" ".join(maps)} }}'


CHAIN = [step("p", {"a": "IN"}, {"b": "mid"}), step("q", {"a": "mid"}, {"b": "OUT"})]


def ensemble(
    name: str = "e", steps: list[str] | None = None, mbs: int = 8, extra: str = "", out: str = "OUT"
) -> str:
    steps = CHAIN if steps is None else steps
    scheduling = "ensemble_scheduling { step [ " + ", ".join(steps) + " ] }" if steps else ""
    return cfg(
        name,
        backend=None,
        platform="ensemble",
        mbs=mbs,
        inputs='input [ { name: "IN" data_type: TYPE_FP32 dims: [ 4 ] } ]',
        outputs=f'output [ {{ name: "{out}" data_type: TYPE_FP32 dims: [ 4 ] }} ]',
        extra=scheduling + "\n" + extra,
    )


def repo_with(tmp_path: Path, ens: str, **members: str) -> Path:
    repo = tmp_path / "repo"
    for name, text in ({"p": member("p"), "q": member("q")} | members).items():
        write_model(repo, name, text)
    write_model(repo, "e", ens)
    return repo


def test_a_valid_chain_is_clean(tmp_path: Path) -> None:
    assert validate(repo_with(tmp_path, ensemble())).findings == []


BAD = [
    ("ensemble.instance-group", ensemble(extra="instance_group [ { kind: KIND_CPU } ]"), {}),
    ("ensemble.no-steps", ensemble(steps=[]), {}),
    ("ensemble.unknown-model", ensemble(steps=[step("nope", {"a": "IN"}, {"b": "OUT"})]), {}),
    ("ensemble.missing-version", ensemble(steps=[step("p", {"a": "IN"}, {"b": "OUT"}, version=3)]), {}),
    ("ensemble.missing-version", ensemble(steps=[step("p", {"a": "IN"}, {"b": "OUT"}, version=0)]), {}),
    ("ensemble.step-map", ensemble(steps=['{ model_name: "p" output_map { key: "b" value: "OUT" } }']), {}),
    ("ensemble.unused-input", ensemble(steps=[step("p", {"a": "mid2"}, {"b": "OUT"})]), {}),
    ("ensemble.tensor-not-produced", ensemble(steps=[step("p", {"a": "ghost"}, {"b": "OUT"})]), {}),
    ("ensemble.output-not-produced", ensemble(steps=[step("p", {"a": "IN"}, {"b": "other"})]), {}),
    ("ensemble.tensor-produced-twice",
     ensemble(steps=[step("p", {"a": "IN"}, {"b": "OUT"}), step("q", {"a": "IN"}, {"b": "OUT"})]), {}),
    ("ensemble.unknown-member-tensor", ensemble(steps=[step("p", {"a": "IN", "zz": "IN"}, {"b": "OUT"})]), {}),
    ("ensemble.unknown-member-tensor", ensemble(steps=[step("p", {"a": "IN"}, {"b": "OUT", "c": "x"})]), {}),
    ("ensemble.member-input-unmapped", ensemble(steps=[step("p", {}, {"b": "OUT"}), step("q", {"a": "IN"}, {"b": "x"})]), {}),
    ("ensemble.type-mismatch", ensemble(), {"q": member("q", in_type="TYPE_INT32")}),
    ("ensemble.shape-mismatch", ensemble(), {"q": member("q", out_dims="5")}),
    ("ensemble.max-batch-size", ensemble(mbs=16), {}),
]  # fmt: skip


@pytest.mark.parametrize(("rule", "ens", "members"), BAD, ids=[f"{r}-{i}" for i, (r, *_) in enumerate(BAD)])
def test_ensemble_rule_fails(tmp_path: Path, rule: str, ens: str, members: dict[str, str]) -> None:
    report = validate(repo_with(tmp_path, ens, **members))
    found = only(report, rule)
    assert found and found[0].severity == "error" and found[0].model == "e", report.findings
    assert found[0].line is not None


def test_batching_ensemble_over_a_non_batching_member_is_a_warning(tmp_path: Path) -> None:
    # The real server loads it; requests with a batch above 1 then fail in that step.
    report = validate(repo_with(tmp_path, ensemble(), q=member("q", mbs=0)))
    assert rules(report) == {"ensemble.member-not-batching"}
    assert rules(report, "warning") == {"ensemble.member-not-batching"}


def test_unset_model_version_means_version_0(tmp_path: Path) -> None:
    steps = ['{ model_name: "p" input_map { key: "a" value: "IN" } output_map { key: "b" value: "OUT" } }']
    [finding] = only(validate(repo_with(tmp_path, ensemble(steps=steps))), "ensemble.missing-version")
    assert "left unset is 0" in finding.message and "-1" in (finding.hint or "")


def test_scheduling_on_a_non_ensemble(tmp_path: Path) -> None:
    repo = repo_with(tmp_path, ensemble())
    write_model(repo, "p", member("p") + "ensemble_scheduling { step [ ] }\n")
    assert "ensemble.scheduling-not-ensemble" in rules(validate(repo), "error")


def test_variable_dims_match_fixed_ones(tmp_path: Path) -> None:
    report = validate(repo_with(tmp_path, ensemble(), q=member("q", out_dims="-1")))
    assert report.findings == []
    # -1 on the side seen first (the ensemble's own input) matches the member's fixed 4 as well
    variable_in = ensemble().replace(
        'name: "IN" data_type: TYPE_FP32 dims: [ 4 ]', 'name: "IN" data_type: TYPE_FP32 dims: [ -1 ]'
    )
    assert "dims: [ -1 ]" in variable_in
    assert validate(repo_with(tmp_path, variable_in)).findings == []


def test_non_batching_ensemble_over_batching_members(tmp_path: Path) -> None:
    repo = tmp_path / "repo"
    write_model(repo, "p", member("p", mbs=0))
    write_model(repo, "q", member("q", mbs=0))
    write_model(repo, "e", ensemble(mbs=0))
    assert validate(repo).findings == []


def test_cycles_between_ensembles(tmp_path: Path) -> None:
    repo = tmp_path / "repo"
    write_model(repo, "p", member("p"))
    write_model(repo, "e1", ensemble("e1", steps=[step("e2", {"IN": "IN"}, {"OUT": "OUT"})]))
    write_model(repo, "e2", ensemble("e2", steps=[step("e1", {"IN": "IN"}, {"OUT": "OUT"})]))
    write_model(repo, "self", ensemble("self", steps=[step("self", {"IN": "IN"}, {"OUT": "OUT"})]))
    cycles = only(validate(repo), "ensemble.cycle")
    assert sorted(f.message.split(": ")[1] for f in cycles) == [
        "e1 -> e2 -> e1",
        "e2 -> e1 -> e2",
        "self -> self",
    ]
    write_model(repo, "e2", ensemble("e2", steps=[step("p", {"a": "IN"}, {"b": "OUT"})]))
    write_model(repo, "self", ensemble("self", steps=[step("e2", {"IN": "IN"}, {"OUT": "OUT"})]))
    assert validate(repo).findings == []


def test_step_without_model_name(tmp_path: Path) -> None:
    steps = ['{ model_version: -1 input_map { key: "a" value: "IN" } output_map { key: "b" value: "OUT" } }']
    assert "ensemble.step-model" in rules(validate(repo_with(tmp_path, ensemble(steps=steps))), "error")


def test_validate_leaves_no_reference_cycle(tmp_path: Path) -> None:
    """Validate's parsed repository is freed when it returns, not at the next cyclic GC pass (the cycle
    rule's recursive closure once held every model alive)."""
    import gc

    from tritonkit.validate.context import ModelContext

    repo = repo_with(tmp_path, ensemble())
    write_model(repo, "e2", ensemble("e2", steps=[step("e2", {"IN": "IN"}, {"OUT": "OUT"})]))
    gc.collect()
    was_enabled = gc.isenabled()
    gc.disable()
    gc.set_debug(gc.DEBUG_SAVEALL)
    try:
        assert only(validate(repo), "ensemble.cycle")  # the rule ran, its closure with it
        gc.collect()
        left = [o for o in gc.garbage if isinstance(o, ModelContext)]
    finally:
        gc.set_debug(0)
        gc.garbage.clear()
        if was_enabled:
            gc.enable()
    assert left == []


def test_members_checked_before_their_ensemble_are_still_read(tmp_path: Path) -> None:
    """Members that sort before the ensemble ran their own rules first: their configs must still be there
    for the ensemble's (validate drops a parsed config after its rules only when no model is an ensemble)."""
    repo = tmp_path / "repo"
    write_model(repo, "a", member("a"))
    write_model(repo, "b", member("b", in_type="TYPE_INT32"))
    chain = [step("a", {"a": "IN"}, {"b": "mid"}), step("b", {"a": "mid"}, {"b": "OUT"})]
    write_model(repo, "z", ensemble("z", steps=chain))
    assert only(validate(repo), "ensemble.type-mismatch")
