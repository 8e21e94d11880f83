"""Artifact checks of an AOTInductor `model.pt2` (platform torch_aoti): the package loads, and a dry run on
zero tensors of the configured shapes gives the config's outputs. The inputs go positionally in config
order (or by NAME__INDEX), as the pytorch backend's AOTI path and tritonkit's pytorch runtime pass them.
torch is imported only here, only when such a file exists."""

from __future__ import annotations

from pathlib import Path

from tritonkit.validate.rules.artifact.common import (
    INPUT_MISMATCH,
    UNLOADABLE,
    Checks,
    first_line,
    indexed_positions,
)
from tritonkit.validate.rules.artifact.torchscript import dry_run

# torch.export specialises sizes 0 and 1, so a dynamic dim of a package accepts 2 and up: the dry run
# puts 2 where the config has -1 (TorchScript's check puts 1).
_VARIABLE = 2


def check_pt2(ctx: Checks, path: Path, shown: str) -> None:
    import warnings

    from torch._inductor import aoti_load_package

    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            model = aoti_load_package(str(path))
    except Exception as exc:
        ctx.add(
            UNLOADABLE,
            f"{path.name} does not load with torch._inductor.aoti_load_package: {first_line(exc)}",
            hint="build it with torch._inductor.aoti_compile_and_package (tritonkit export -f aoti does)",
            file=shown,
        )
        return
    names = [t.name for t in ctx.inputs]
    positions = indexed_positions(names) or list(range(len(names)))
    if sorted(positions) != list(range(len(positions))):
        ctx.add(
            INPUT_MISMATCH,
            f"inputs {names} do not number the package's arguments 0..{len(names) - 1}",
            hint="name inputs INPUT__0, INPUT__1, ... or after forward()'s arguments",
            path=("input",),
        )
        return
    dry_run(ctx, model, positions, shown, variable=_VARIABLE)
