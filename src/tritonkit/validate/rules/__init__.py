"""Validation rules, one module per family (after yamllint's `rules/`): each module declares its
`FAMILY` and its rules (`FAMILY.rule(...)`: id, severity, summary, the server code it mirrors) beside
the checks that make findings from them. `RULES` is the registry: every rule validate can emit.

Per-model families run on one `ModelContext` at a time; `check_repository` runs the rules that
need every model at once (ensemble cycles). Rules never raise on odd input: a config that parsed
may still hold any value the schema allows.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from tritonkit.validate.rules import (
    artifact,
    batching,
    bls,
    ensemble,
    instances,
    io,
    layout,
    python,
    pytorch,
    schema,
)

if TYPE_CHECKING:
    from tritonkit.validate.context import ModelContext, RepositoryContext
    from tritonkit.validate.findings import Family, Finding, Rule

# Every family, in the order the registry lists them.
FAMILIES: tuple[Family, ...] = tuple(
    m.FAMILY for m in (layout, schema, io, batching, instances, ensemble, pytorch, python, bls, artifact)
)
RULES: dict[str, Rule] = {rule.id: rule for family in FAMILIES for rule in family.rules}

# Families that need a parsed config, in report order.
_CONFIG_FAMILIES = (schema, io, batching, instances, ensemble, pytorch)


def reads_other_models(model: ModelContext, repo: RepositoryContext) -> bool:
    """Whether this model's rules read other models' configs: an ensemble's (its members', in `ensemble`)
    and, when model files are looked at, a Python model's (its BLS targets', in `python` / `bls`)."""
    return model.platform == "ensemble" or (repo.artifacts and model.backend == "python")


def check_model(model: ModelContext, repo: RepositoryContext) -> list[Finding]:
    """Every per-model rule: layout always, the config families when the config parsed."""
    findings = layout.check(model, repo)
    if model.config is not None:
        for family in _CONFIG_FAMILIES:
            findings.extend(family.check(model, repo))
    findings.extend(python.check(model, repo))
    if repo.artifacts and model.config is not None:
        findings.extend(artifact.check(model, repo))
    return findings


def check_repository(repo: RepositoryContext) -> list[Finding]:
    """Rules across models (cycles between ensembles)."""
    return ensemble.check_cycles(repo)
