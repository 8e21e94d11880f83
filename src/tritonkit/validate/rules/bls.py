"""BLS requests checked against the target's config: the tensor names a Python model.py passes to
`pb_utils.InferenceRequest(model_name=..., requested_output_names=[...], inputs=[Tensor(NAME, ...)])`.

Read statically with `ast` (nothing imported or run): string constants, module- or function-level names
bound to them once, list/tuple/dict literals, `list(D)` / `D.keys()` / `D.values()`, `D[k]` and
comprehensions over those. A name computed any other way is not known offline and is not reported.
"""

from __future__ import annotations

import ast
import difflib
from collections.abc import Iterable
from typing import TYPE_CHECKING

from tritonkit.validate.findings import Family

if TYPE_CHECKING:
    from tritonkit.validate.context import ModelContext
    from tritonkit.validate.findings import Finding

FAMILY = Family("bls", "tensor names of BLS requests, read statically, against the target model's config")
_NORMALIZE = "the core's InferenceRequest::Normalize (core/src/infer_request.cc), at the first request"
UNKNOWN_OUTPUT = FAMILY.rule(
    "unknown-output",
    "error",
    "a BLS request asks for an output the target's config does not have",
    mirrors=f"'unexpected inference output' from {_NORMALIZE}",
)
UNKNOWN_INPUT = FAMILY.rule(
    "unknown-input",
    "error",
    "a BLS request sends an input the target's config does not have",
    mirrors=f"'unexpected inference input' from {_NORMALIZE}",
)
_FANOUT = 64  # more candidate names than this: give up (not a list of names any more)

Strings = frozenset[str] | None  # None: not known offline
Env = dict[str, list[tuple[str, ast.expr]]]  # name -> bindings: ("value", expr) or ("elements", iterable)


def bindings(tree: ast.Module) -> Env:
    """Every simple binding in the file: `NAME = expr`, `for NAME in expr`, `NAME: T = expr`."""
    env: Env = {}
    for node in ast.walk(tree):
        if isinstance(node, ast.Assign):
            for target in node.targets:
                if isinstance(target, ast.Name):
                    env.setdefault(target.id, []).append(("value", node.value))
        elif isinstance(node, ast.AnnAssign) and isinstance(node.target, ast.Name) and node.value is not None:
            env.setdefault(node.target.id, []).append(("value", node.value))
        elif isinstance(node, (ast.For, ast.comprehension)) and isinstance(node.target, ast.Name):
            env.setdefault(node.target.id, []).append(("elements", node.iter))
    return env


class _Resolver:
    def __init__(self, env: Env) -> None:
        self.env = env
        self.depth = 0

    def _bound(self, name: str, local: Env) -> list[tuple[str, ast.expr]] | None:
        found = local.get(name) or self.env.get(name)
        return found if found and len(found) == 1 else None  # bound twice: which one is not known

    def strings(self, node: ast.expr, local: Env) -> Strings:
        """The strings `node` may evaluate to."""
        if self.depth > 20:
            return None
        self.depth += 1
        try:
            return self._strings(node, local)
        finally:
            self.depth -= 1

    def _strings(self, node: ast.expr, local: Env) -> Strings:
        if isinstance(node, ast.Constant):
            return frozenset([node.value]) if isinstance(node.value, str) else None
        if isinstance(node, ast.Name):
            bound = self._bound(node.id, local)
            if bound is None:
                return None
            kind, value = bound[0]
            return self.strings(value, local) if kind == "value" else self.elements(value, local)
        if isinstance(node, ast.Subscript):
            mapping = self.mapping(node.value, local)
            if mapping is None:
                return None
            keys = self.strings(node.slice, local)
            chosen = mapping.values() if keys is None else [mapping[k] for k in keys if k in mapping]
            return _union(chosen)
        return None

    def elements(self, node: ast.expr, local: Env) -> Strings:
        """The strings iterating over `node` yields."""
        if self.depth > 20:
            return None
        self.depth += 1
        try:
            return self._elements(node, local)
        finally:
            self.depth -= 1

    def _elements(self, node: ast.expr, local: Env) -> Strings:
        if isinstance(node, (ast.List, ast.Tuple, ast.Set)):
            parts = [
                self.elements(e.value, local) if isinstance(e, ast.Starred) else self.strings(e, local)
                for e in node.elts
            ]
            return _union(parts)
        if isinstance(node, ast.Dict):
            return _union(self.strings(k, local) if k is not None else None for k in node.keys)
        if isinstance(node, ast.Name):
            bound = self._bound(node.id, local)
            if bound is None:
                return None
            kind, value = bound[0]
            return self.elements(value, local) if kind == "value" else None
        if isinstance(node, ast.Call) and not node.keywords:
            func = node.func
            if (
                isinstance(func, ast.Name)
                and func.id in ("list", "tuple", "sorted", "set")
                and len(node.args) == 1
            ):
                return self.elements(node.args[0], local)
            if isinstance(func, ast.Attribute) and not node.args and func.attr in ("keys", "values"):
                mapping = self.mapping(func.value, local)
                if mapping is None:
                    return None
                return frozenset(mapping) if func.attr == "keys" else _union(mapping.values())
        if isinstance(node, (ast.ListComp, ast.GeneratorExp, ast.SetComp)):
            scope = dict(local)
            for generator in node.generators:
                if not isinstance(generator.target, ast.Name) or generator.ifs:
                    return None
                scope[generator.target.id] = [("elements", generator.iter)]
            return self.strings(node.elt, scope)
        return None

    def mapping(self, node: ast.expr, local: Env) -> dict[str, frozenset[str]] | None:
        """A dict of string keys to the strings each value may be."""
        if isinstance(node, ast.Name):
            bound = self._bound(node.id, local)
            return self.mapping(bound[0][1], local) if bound and bound[0][0] == "value" else None
        if not isinstance(node, ast.Dict):
            return None
        out: dict[str, frozenset[str]] = {}
        for key, value in zip(node.keys, node.values, strict=True):
            names = self.strings(key, local) if key is not None else None
            values = self.strings(value, local)
            if names is None or values is None or len(names) != 1:
                return None
            out[next(iter(names))] = values
        return out


def _union(parts: Iterable[Strings]) -> Strings:
    out: set[str] = set()
    for part in parts:
        if part is None:
            return None
        out |= part
    return frozenset(out) if len(out) <= _FANOUT else None


def _keyword(call: ast.Call, name: str) -> ast.expr | None:
    return next((k.value for k in call.keywords if k.arg == name), None)


def _tensor_names(node: ast.expr, resolver: _Resolver, local: Env) -> tuple[list[tuple[int, str]], bool]:
    """(line, name) of each `Tensor(NAME, ...)` built in `node` (a Name is followed to its value), and
    whether every one was resolved."""
    if isinstance(node, ast.Name):
        bound = resolver._bound(node.id, local)
        if bound is None or bound[0][0] != "value":
            return [], False
        node = bound[0][1]
    found: list[tuple[int, str]] = []
    complete = True
    for sub in ast.walk(node):
        if not isinstance(sub, ast.Call):
            continue
        func = sub.func
        called = (
            func.attr if isinstance(func, ast.Attribute) else func.id if isinstance(func, ast.Name) else ""
        )
        if called != "Tensor":
            continue
        arg = sub.args[0] if sub.args else _keyword(sub, "name")
        names = None if arg is None else _comprehension_strings(node, arg, resolver, local)
        if names is None:
            complete = False
            continue
        found.extend((sub.lineno, n) for n in sorted(names))
    return found, complete


def _comprehension_strings(root: ast.expr, arg: ast.expr, resolver: _Resolver, local: Env) -> Strings:
    """`arg`'s strings, with the targets of the comprehensions around it in `root` bound."""
    scope = dict(local)
    for node in ast.walk(root):
        if isinstance(node, (ast.ListComp, ast.GeneratorExp, ast.SetComp)):
            for generator in node.generators:
                if isinstance(generator.target, ast.Name):
                    scope[generator.target.id] = [("elements", generator.iter)]
    return resolver.strings(arg, scope)


def check_request(
    model: ModelContext, call: ast.Call, target: ModelContext, env: Env, file: str
) -> list[Finding]:
    """Findings for one `InferenceRequest(...)` call to `target` (whose config parsed)."""
    config = target.config
    if config is None:
        return []
    resolver = _Resolver(env)
    findings: list[Finding] = []
    checks = (
        (UNKNOWN_OUTPUT, "output", [o.name for o in config.output], _keyword(call, "requested_output_names")),
        (UNKNOWN_INPUT, "input", [i.name for i in config.input], _keyword(call, "inputs")),
    )
    for rule, kind, known, expr in checks:
        if expr is None or not known:  # nothing asked, or a config relying on auto-complete
            continue
        if kind == "output":
            names = resolver.elements(expr, {})
            asked = [(call.lineno, n) for n in sorted(names or ())]
        else:
            asked, _ = _tensor_names(expr, resolver, {})
        for line, name in asked:
            if name in known:
                continue
            close = difflib.get_close_matches(name, known, n=1)
            findings.append(
                model.finding(
                    rule,
                    f"the BLS request {'asks model' if kind == 'output' else 'sends model'} {target.name!r}"
                    f" {'for ' if kind == 'output' else ''}{kind} {name!r}, which its config does not"
                    f" have ({kind}s: {', '.join(known)}); the first request fails with 'unexpected inference"
                    f" {kind} {name!r}'",
                    file=file,
                    line=line,
                    hint=f"did you mean {close[0]!r}?" if close else f"use one of {', '.join(known)}",
                )
            )
    return findings
