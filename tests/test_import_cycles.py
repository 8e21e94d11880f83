"""No import cycle in src/tritonkit, read statically from the source with `ast`.

The rule: module A depends on module B when A's import statements that run while A is imported name B:
those at module level, also inside a module-level `if`/`try`/`with`, but not under `if TYPE_CHECKING:`
(never run) and not inside a function (deferred to a call). `import a.b` and `from a.b import c` name `a.b`;
`from a import b` names `a.b` when that is a module, else `a`. A parent package is not implied: Python
initialises it first, and a submodule importing a sibling through its package (`from tritonkit.export
import convert` inside `tritonkit.export.run`) is no cycle. The dependency graph of the whole package must
have no cycle. A second, stricter check counts the imports inside functions too, package-wide: a lazy
import is still a dependency, and two modules that reach each other lazily have one job split in two.
"""

from __future__ import annotations

import ast
from pathlib import Path

PACKAGE = Path(__file__).resolve().parents[1] / "src" / "tritonkit"


def _modules() -> dict[str, Path]:
    modules = {}
    for path in PACKAGE.rglob("*.py"):
        parts = list(path.relative_to(PACKAGE.parent).with_suffix("").parts)
        if parts[-1] == "__init__":
            parts.pop()
        modules[".".join(parts)] = path
    return modules


def _type_checking_nodes(tree: ast.Module) -> set[int]:
    skipped: set[int] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test):
            skipped.update(id(n) for child in node.body for n in ast.walk(child))
    return skipped


def _run_at_import(tree: ast.Module) -> list[ast.AST]:
    """The statements that run when the module is imported: module level, into if/try/with/for bodies."""
    found: list[ast.AST] = []
    stack: list[ast.AST] = list(tree.body)
    while stack:
        node = stack.pop()
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda)):
            continue
        if isinstance(node, ast.ClassDef):
            stack.extend(node.body)
            continue
        found.append(node)
        stack.extend(
            child for child in ast.iter_child_nodes(node) if isinstance(child, ast.stmt | ast.excepthandler)
        )
    return found


def _imports(name: str, path: Path, modules: dict[str, Path], *, deferred: bool = False) -> set[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    skipped = _type_checking_nodes(tree)
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    named: set[str] = set()
    for node in ast.walk(tree) if deferred else _run_at_import(tree):
        if id(node) in skipped:
            continue
        if isinstance(node, ast.Import):
            named.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")[: len(package.split(".")) - (node.level - 1)]
                source = ".".join([*base, *([node.module] if node.module else [])])
            else:
                source = node.module or ""
            for alias in node.names:
                sub = f"{source}.{alias.name}"
                named.add(sub if sub in modules else source)
    return {m for m in named if m in modules and m != name}


def _cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components with more than one module (Tarjan, iterative)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []
    for root in sorted(graph):
        if root in index:
            continue
        work = [(root, iter(sorted(graph[root])))]
        index[root] = low[root] = len(index)
        stack.append(root)
        on_stack.add(root)
        while work:
            node, children = work[-1]
            child = next(children, None)
            if child is not None:
                if child not in index:
                    index[child] = low[child] = len(index)
                    stack.append(child)
                    on_stack.add(child)
                    work.append((child, iter(sorted(graph[child]))))
                elif child in on_stack:
                    low[node] = min(low[node], index[child])
                continue
            work.pop()
            if work:
                low[work[-1][0]] = min(low[work[-1][0]], low[node])
            if low[node] == index[node]:
                component = []
                while True:
                    member = stack.pop()
                    on_stack.discard(member)
                    component.append(member)
                    if member == node:
                        break
                if len(component) > 1:
                    found.append(sorted(component))
    return found


def test_no_import_cycle_in_the_package() -> None:
    modules = _modules()
    graph = {name: _imports(name, path, modules) for name, path in modules.items()}
    assert len(graph) > 50 and "tritonkit.validate.findings" in graph["tritonkit.validate.rules.io"]
    assert _cycles(graph) == []


def test_no_import_cycle_even_through_deferred_imports() -> None:
    modules = _modules()
    graph = {name: _imports(name, path, modules, deferred=True) for name, path in modules.items()}
    assert "tritonkit.validate.rules" in graph["tritonkit.validate.engine"]
    assert "tritonkit.repository.layout" in graph["tritonkit.repository.project"]  # imported in a function
    assert _cycles(graph) == []


def test_the_check_finds_a_cycle() -> None:
    assert _cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]
    assert _cycles({"a": {"b"}, "b": set()}) == []
