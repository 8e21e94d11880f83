"""Example inputs: parsed from `--example-input fp32:1,16`, loaded from a file, matched to forward().

A model's example inputs become a positional tuple in forward-argument order, with the argument
names kept for naming the config's tensors. Random values are seeded, so an export is repeatable.
"""

from __future__ import annotations

import inspect
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from tritonkit.errors import UsageError
from tritonkit.model.dtypes import parse_dtype
from tritonkit.model.spec import parse_dims

SEED = 0


@dataclass
class Examples:
    """Positional example tensors and the forward-argument name of each (None where unknown)."""

    tensors: tuple[Any, ...]
    arg_names: list[str | None]
    by_keyword: bool = False  # a dict of examples: forward() is called with keyword arguments


def parse_example_input(text: str, *, generator: Any = None) -> Any:
    """`DTYPE:SHAPE[:LOW..HIGH]` -> a random tensor (ints in [LOW, HIGH), default [0, 10); bools 0/1)."""
    import torch

    parts = text.split(":")
    if len(parts) not in (2, 3) or not parts[0] or not parts[1]:
        raise UsageError(
            f"bad --example-input {text!r}", hint="write DTYPE:SHAPE, e.g. fp32:1,16 or int64:2,8:0..1000"
        )
    dtype = parse_dtype(parts[0])
    if dtype.torch is None:
        raise UsageError(f"--example-input {text!r}: {dtype.wire} tensors cannot be made for a torch model")
    shape = parse_dims(parts[1])
    if any(d < 1 for d in shape):
        raise UsageError(f"--example-input {text!r}: an example shape has concrete sizes (no -1)")
    low, high = 0, 10
    if len(parts) == 3:
        try:
            low_text, high_text = parts[2].split("..")
            low, high = int(low_text), int(high_text)
        except ValueError as exc:
            raise UsageError(f"bad value range {parts[2]!r}", hint="write LOW..HIGH, e.g. 0..1000") from exc
        if high <= low:
            raise UsageError(f"empty value range {parts[2]!r}: HIGH must be above LOW")
    torch_dtype = getattr(torch, dtype.torch)
    gen = generator or torch.Generator().manual_seed(SEED)
    if torch_dtype == torch.bool:
        return torch.randint(0, 2, shape, generator=gen).bool()
    if torch_dtype.is_floating_point:
        return torch.randn(shape, generator=gen).to(torch_dtype)
    return torch.randint(low, high, shape, generator=gen, dtype=torch_dtype)


def parse_example_inputs(texts: list[str]) -> tuple[Any, ...]:
    """Several `--example-input` flags, one per forward argument, from one seeded generator."""
    import torch

    gen = torch.Generator().manual_seed(SEED)
    return tuple(parse_example_input(t, generator=gen) for t in texts)


def load_example_file(path: Path) -> Any:
    """A tensor, tuple/list or dict of tensors saved with torch.save."""
    import torch

    if not path.is_file():
        raise UsageError(f"no such file: {path}", hint="--example-inputs takes a file saved with torch.save")
    try:
        return torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:
        raise UsageError(f"cannot load example inputs from {path}: {type(exc).__name__}: {exc}") from exc


def forward_parameters(model: Any) -> list[inspect.Parameter] | None:
    """All of forward()'s parameters; None when it cannot be inspected."""
    try:
        return list(inspect.signature(model.forward).parameters.values())
    except (TypeError, ValueError):
        return None


def _positional(params: list[inspect.Parameter] | None) -> list[inspect.Parameter]:
    """The named parameters an example tuple fills in order (no *args/**kwargs); empty when unknown."""
    kinds = (inspect.Parameter.POSITIONAL_ONLY, inspect.Parameter.POSITIONAL_OR_KEYWORD)
    return [p for p in params or [] if p.kind in kinds]


def _by_keyword(params: list[inspect.Parameter] | None) -> tuple[list[inspect.Parameter], bool]:
    """The parameters callable by name (keyword-only included), and whether forward() takes **kwargs."""
    if params is None:
        return [], True
    named = (inspect.Parameter.POSITIONAL_OR_KEYWORD, inspect.Parameter.KEYWORD_ONLY)
    return [p for p in params if p.kind in named], any(p.kind == p.VAR_KEYWORD for p in params)


def normalize_examples(model: Any, examples: Any) -> Examples:
    """A tensor, a tuple/list of tensors, or a dict keyed by forward-argument names -> `Examples`.

    A dict calls forward() by keyword (keyword-only arguments included), in forward()'s order; keys
    forward() takes only through **kwargs follow in the dict's order.
    """
    import torch

    signature = forward_parameters(model)  # read once: inspect.signature is a slow call
    params = _positional(signature)
    names = [p.name for p in params]
    if isinstance(examples, torch.Tensor):
        examples = (examples,)
    if isinstance(examples, dict):
        by_name, var_keyword = _by_keyword(signature)
        known = [p.name for p in by_name]
        unknown = [k for k in examples if k not in known]
        if unknown and not var_keyword:
            raise UsageError(
                f"example inputs {unknown} are not arguments of forward({', '.join(known)})",
                hint="key the example dict by forward-argument names",
            )
        missing = [p.name for p in by_name if p.name not in examples and p.default is inspect.Parameter.empty]
        if missing:
            raise UsageError(f"no example input for forward argument(s) {missing}")
        given = [n for n in known if n in examples] + unknown
        tensors = tuple(examples[n] for n in given)
        arg_names: list[str | None] = list(given)
        by_keyword = True
    elif isinstance(examples, tuple | list):
        tensors = tuple(examples)
        arg_names = [names[i] if i < len(names) else None for i in range(len(tensors))]
        by_keyword = False
        if params and len(tensors) > len(params):
            raise UsageError(f"{len(tensors)} example inputs for forward({', '.join(names)})")
        required = [p for p in params if p.default is inspect.Parameter.empty]
        if len(tensors) < len(required):
            raise UsageError(
                f"{len(tensors)} example(s) for forward({', '.join(names)}): it needs {len(required)}",
                hint="give one --example-input per forward argument, in order",
            )
    else:
        raise UsageError(
            f"example inputs must be tensors (a tensor, tuple/list or dict), not {type(examples).__name__}"
        )
    if not tensors:
        raise UsageError(
            "no example inputs", hint="give --example-input DTYPE:SHAPE (one per forward argument)"
        )
    for i, t in enumerate(tensors):
        if not isinstance(t, torch.Tensor):
            raise UsageError(f"example input {arg_names[i] or i} is a {type(t).__name__}, not a tensor")
    return Examples(tensors=tensors, arg_names=arg_names, by_keyword=by_keyword)
