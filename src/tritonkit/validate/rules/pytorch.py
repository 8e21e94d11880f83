"""PyTorch (libtorch) naming rules: inputs `NAME__INDEX` or forward-argument names, outputs `NAME__INDEX`.

The libtorch backend maps config tensors to TorchScript arguments by the index in `NAME__INDEX`,
or by forward-argument name; mixing the two falls back to config order, which is easy to get wrong.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING

from tritonkit.validate.findings import Family

if TYPE_CHECKING:
    from tritonkit.validate.context import ModelContext, RepositoryContext
    from tritonkit.validate.findings import Finding

FAMILY = Family("pytorch", "libtorch tensor naming: NAME__INDEX or forward() argument names")
_NAMING = (
    "ModelState / ModelInstanceState::ValidateInputs and ValidateOutputs (pytorch_backend/src/libtorch.cc)"
)
DUPLICATE_INDEX = FAMILY.rule(
    "duplicate-index", "error", "two inputs or outputs claim the same __INDEX", mirrors=_NAMING
)
INDEX_RANGE = FAMILY.rule(
    "index-range", "warning", "an __INDEX at or beyond the number of inputs or outputs", mirrors=_NAMING
)
OUTPUT_NAME = FAMILY.rule(
    "output-name", "warning", "an output not named NAME__INDEX (mapped by config order)", mirrors=_NAMING
)
INPUT_NAME = FAMILY.rule(
    "input-name", "error", "an input neither NAME__INDEX nor a forward() argument name", mirrors=_NAMING
)
MIXED_INPUT_NAMES = FAMILY.rule(
    "mixed-input-names", "warning", "inputs mixing NAME__INDEX and argument names", mirrors=_NAMING
)

_INDEXED = re.compile(r"^(.+)__(\d+)$")
_IDENTIFIER = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")


def is_pytorch(model: ModelContext) -> bool:
    return model.platform == "pytorch_libtorch" or (model.backend == "pytorch" and not model.platform)


def check(model: ModelContext, repo: RepositoryContext) -> list[Finding]:
    if not is_pytorch(model):
        return []
    findings: list[Finding] = []
    for kind, tensors in (("input", model.inputs), ("output", model.outputs)):
        indexed: dict[int, str] = {}
        plain: list[str] = []
        for position, tensor in enumerate(tensors):
            name = tensor.name
            if not name:
                continue  # io.missing-name says so
            match = _INDEXED.match(name)
            if match:
                number = int(match.group(2))
                if number < len(tensors) and number not in indexed:  # the common case: nothing to say
                    indexed[number] = name
                    continue
                path = f"{kind}[{position}]"
                if number in indexed:
                    findings.append(
                        model.finding(
                            DUPLICATE_INDEX,
                            f"{kind}s {indexed[number]!r} and {name!r} both claim index {number}",
                            f"{path}.name",
                            path,
                            hint=f"number the {kind}s {kind.upper()}__0, {kind.upper()}__1, ... once each",
                        )
                    )
                elif number >= len(tensors):
                    findings.append(
                        model.finding(
                            INDEX_RANGE,
                            f"{kind} {name!r} has index {number} but the model has {len(tensors)} {kind}(s)",
                            f"{path}.name",
                            path,
                            hint=f"indexes count from 0 in the order of the TorchScript {kind}s",
                        )
                    )
                indexed.setdefault(number, name)
                continue
            if kind == "input" and _IDENTIFIER.match(name):
                plain.append(name)
                continue
            path = f"{kind}[{position}]"
            if kind == "output":
                findings.append(
                    model.finding(
                        OUTPUT_NAME,
                        f"output {name!r} does not follow the NAME__INDEX convention; libtorch then maps "
                        "outputs by their order in the config",
                        f"{path}.name",
                        path,
                        hint=f"name it OUTPUT__{position}",
                    )
                )
            else:
                findings.append(
                    model.finding(
                        INPUT_NAME,
                        f"input {name!r} is neither NAME__INDEX nor a forward() argument name",
                        f"{path}.name",
                        path,
                        hint=f"name it INPUT__{position} or after the forward() argument it feeds",
                    )
                )
        if kind == "input" and indexed and plain:
            findings.append(
                model.finding(
                    MIXED_INPUT_NAMES,
                    f"inputs mix NAME__INDEX names ({', '.join(sorted(indexed.values()))}) with "
                    f"argument names ({', '.join(plain)}); libtorch then falls back to config order",
                    "input",
                    hint="use one convention for all inputs",
                )
            )
    return findings
