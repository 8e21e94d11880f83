"""Validation rules, one module per family; each rule has a stable id `<family>.<name>`.

Per-model families run on one `ModelContext` at a time; `check_repository` runs the rules that
need every model at once (ensemble cycles). Rules never raise on odd input: a config that parsed
may still hold any value the schema allows.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from tritonkit.validate.rules import batching, ensemble, instances, io, layout, python, pytorch, schema

if TYPE_CHECKING:
    from tritonkit.validate.engine import ModelContext, RepositoryContext
    from tritonkit.validate.findings import Finding

# Families that need a parsed config, in report order.
_CONFIG_FAMILIES = (schema, io, batching, instances, ensemble, pytorch)


def check_model(model: ModelContext, repo: RepositoryContext) -> list[Finding]:
    """Every per-model rule: layout always, the config families when the config parsed."""
    findings = layout.check(model, repo)
    if model.config is not None:
        for family in _CONFIG_FAMILIES:
            findings.extend(family.check(model, repo))
    findings.extend(python.check(model, repo))
    return findings


def check_repository(repo: RepositoryContext) -> list[Finding]:
    """Rules across models (cycles between ensembles)."""
    return ensemble.check_cycles(repo)


RULE_FAMILIES = ("layout", "schema", "io", "batching", "instances", "ensemble", "pytorch", "python")
