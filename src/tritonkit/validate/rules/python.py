"""Python-backend rules: model.py exists, defines TritonPythonModel.execute, and BLS calls name models
of the repository. A static `ast` check: the file is never imported or run."""

from __future__ import annotations

import ast
import difflib
from pathlib import Path
from typing import TYPE_CHECKING

from tritonkit.model.backends import model_file_for
from tritonkit.validate.findings import Family
from tritonkit.validate.rules.layout import selected_versions

if TYPE_CHECKING:
    from tritonkit.validate.context import ModelContext, RepositoryContext
    from tritonkit.validate.findings import Finding

FAMILY = Family("python", "Python-backend model.py, read statically (never imported)")
_STUB = "the stub's Initialize importing model.py (python_backend/src/pb_stub.cc)"
MISSING_MODEL_FILE = FAMILY.rule(
    "missing-model-file",
    "error",
    "a loaded version folder without model.py",
    mirrors="the stub failing to find <version>/model.py (python_backend/src/pb_stub.cc)",
)
SYNTAX_ERROR = FAMILY.rule("syntax-error", "error", "model.py does not compile", mirrors=_STUB)
NO_MODEL_CLASS = FAMILY.rule(
    "no-model-class", "error", "model.py defines no class TritonPythonModel", mirrors=_STUB
)
NO_EXECUTE = FAMILY.rule(
    "no-execute",
    "warning",
    "TritonPythonModel has no execute method",
    mirrors="none at load: the stub looks execute up per request (python_backend/src/pb_stub.cc)",
)
STUB_NAME_AT_IMPORT = FAMILY.rule(
    "stub-name-at-import",
    "error",
    "pb_utils.InferenceRequest/Tensor/... used at import time (annotation, default, class body)",
    mirrors="ModelContext::StubSetup imports model.py, then Stub::StubSetup sets them (pb_stub.cc)",
)
BLS_SELF = FAMILY.rule(
    "bls-self",
    "warning",
    "a BLS request to the model itself",
    mirrors="none: a run-time recursion, not a load failure",
)
BLS_UNKNOWN_MODEL = FAMILY.rule(
    "bls-unknown-model",
    "warning",
    "a BLS request to a model not in this repository",
    mirrors="none at load: the target is resolved per request, possibly in another --model-repository",
)


def check(model: ModelContext, repo: RepositoryContext) -> list[Finding]:
    config = model.config
    if config is None or model.backend != "python" or not repo.artifacts:
        return []  # --no-artifacts: model files (model.py too) are not looked at: configs and layout only
    filename = model_file_for(model.platform, model.backend, str(config.default_model_filename))
    if filename is None:
        return []
    findings: list[Finding] = []
    versions, _missing = selected_versions(model)
    for version in versions:
        path = model.versions[version] / filename
        if not path.is_file():
            findings.append(
                model.finding(
                    MISSING_MODEL_FILE,
                    f"version {version} has no {filename}; the Python backend would hang or fail loading it",
                    "default_model_filename",
                    "backend",
                    hint=f"add {model.versions[version] / filename} "
                    f"(tritonkit add {model.name} --backend python --force writes one)",
                )
            )
            continue
        findings.extend(check_source(model, path, repo))
    return findings


def check_source(model: ModelContext, path: Path, repo: RepositoryContext) -> list[Finding]:
    """The static checks of one model.py."""
    file = str(path)
    try:
        source = path.read_bytes()
        tree = ast.parse(source, filename=file)
    except SyntaxError as exc:
        return [
            model.finding(
                SYNTAX_ERROR,
                f"{path.name} does not compile: {exc.msg}",
                file=file,
                line=exc.lineno,
                hint="fix the syntax; the Python backend would fail to load this model",
            )
        ]
    except (OSError, ValueError, RecursionError, MemoryError) as exc:  # unreadable, NUL bytes, too deep
        return [model.finding(SYNTAX_ERROR, f"{path.name} cannot be read as Python: {exc}", file=file)]
    findings: list[Finding] = []
    model_class = _find_class(tree, "TritonPythonModel")
    if model_class is None:
        findings.append(
            model.finding(
                NO_MODEL_CLASS,
                f"{path.name} defines no class TritonPythonModel",
                file=file,
                line=1,
                hint="the Python backend instantiates a class named exactly TritonPythonModel",
            )
        )
    elif not _has_method(model_class, "execute"):
        inherited = any(not (isinstance(b, ast.Name) and b.id == "object") for b in model_class.bases)
        findings.append(
            model.finding(
                NO_EXECUTE,
                "TritonPythonModel has no execute method"
                + (" (unless a base class provides it)" if inherited else ""),
                file=file,
                line=model_class.lineno,
                hint="define execute(self, requests) returning one InferenceResponse per request",
            )
        )
    if b"InferenceRequest" in source:  # walking the whole tree is the costly part: only for BLS code
        findings.extend(_bls_targets(model, tree, file, repo))
    if any(name.encode() in source for name in STUB_NAMES):
        findings.extend(_import_time_stub_names(model, tree, file))
    return findings


# What the stub sets on triton_python_backend_utils (Stub::StubSetup in python_backend/src/pb_stub.cc), which
# the module imported by model.py does not define itself.
STUB_NAMES = frozenset(
    {
        "TritonError", "TritonModelException", "Tensor", "InferenceRequest", "InferenceResponse", "Logger",
        "PreferredMemory", "TRITONSERVER_MEMORY_GPU", "TRITONSERVER_MEMORY_CPU", "MetricFamily", "load_model",
        "unload_model", "is_model_ready",
    }
)  # fmt: skip
_UTILS = "triton_python_backend_utils"


def _import_time_stub_names(model: ModelContext, tree: ast.Module, file: str) -> list[Finding]:
    """Uses of the stub's names that run while model.py is imported: module and class bodies, decorators,
    default values, annotations (unless `from __future__ import annotations`), `from ... import Name`."""
    aliases: set[str] = set()
    found: list[tuple[int, str]] = []
    deferred = any(
        isinstance(stmt, ast.ImportFrom)
        and stmt.module == "__future__"
        and any(a.name == "annotations" for a in stmt.names)
        for stmt in tree.body
    )

    def expression(expr: ast.AST | None) -> None:
        if expr is None:
            return
        stack = [expr]
        while stack:
            node = stack.pop()
            if isinstance(node, ast.Lambda):
                stack.extend([*node.args.defaults, *(d for d in node.args.kw_defaults if d)])
                continue
            if (
                isinstance(node, ast.Attribute)
                and isinstance(node.value, ast.Name)
                and node.value.id in aliases
                and node.attr in STUB_NAMES
            ):
                found.append((node.lineno, node.attr))
            stack.extend(ast.iter_child_nodes(node))

    def statements(body: list[ast.stmt]) -> None:
        for stmt in body:
            if isinstance(stmt, (ast.FunctionDef, ast.AsyncFunctionDef)):
                for expr in [*stmt.decorator_list, *stmt.args.defaults, *stmt.args.kw_defaults]:
                    expression(expr)
                if not deferred:
                    arguments = [*stmt.args.posonlyargs, *stmt.args.args, *stmt.args.kwonlyargs]
                    arguments += [a for a in (stmt.args.vararg, stmt.args.kwarg) if a]
                    for expr in [stmt.returns, *(a.annotation for a in arguments)]:
                        expression(expr)
            elif isinstance(stmt, ast.ClassDef):
                for expr in [*stmt.decorator_list, *stmt.bases, *(k.value for k in stmt.keywords)]:
                    expression(expr)
                statements(stmt.body)
            elif isinstance(stmt, ast.Import):  # only the imports that run at import time matter here
                aliases.update(a.asname or a.name for a in stmt.names if a.name == _UTILS)
            elif isinstance(stmt, ast.ImportFrom) and stmt.module == _UTILS:
                # `from triton_python_backend_utils import Tensor` fails itself: the name is not there yet
                found.extend((stmt.lineno, a.name) for a in stmt.names if a.name in STUB_NAMES)
            elif isinstance(stmt, ast.AnnAssign):
                expression(stmt.value)
                if not deferred:
                    expression(stmt.annotation)
            else:
                for child in ast.iter_child_nodes(stmt):
                    if isinstance(child, ast.stmt):
                        statements([child])
                    else:
                        expression(child)

    statements(tree.body)
    if not found:
        return []
    return [
        model.finding(
            STUB_NAME_AT_IMPORT,
            f"pb_utils.{name} is used while model.py is imported; the Python backend adds it to "
            f"{_UTILS} only after that, so the load fails",
            file=file,
            line=line,
            hint="use it inside a method (initialize/execute), or add `from __future__ import annotations` "
            "for annotations",
        )
        for line, name in sorted(set(found))
    ]


def _find_class(tree: ast.Module, name: str) -> ast.ClassDef | None:
    """The class at module level (the usual place), else anywhere (under an `if`, a `try`...)."""
    for node in tree.body:
        if isinstance(node, ast.ClassDef) and node.name == name:
            return node
    return next((n for n in ast.walk(tree) if isinstance(n, ast.ClassDef) and n.name == name), None)


def _has_method(node: ast.ClassDef, name: str) -> bool:
    for item in node.body:
        if isinstance(item, (ast.FunctionDef, ast.AsyncFunctionDef)) and item.name == name:
            return True
        if isinstance(item, ast.Assign) and any(
            isinstance(t, ast.Name) and t.id == name for t in item.targets
        ):
            return True
    return False


def _module_strings(tree: ast.Module) -> dict[str, str]:
    """Module-level `NAME = "text"` constants (what a BLS call may name its target by)."""
    constants: dict[str, str] = {}
    for node in tree.body:
        if isinstance(node, ast.Assign) and isinstance(node.value, ast.Constant):
            for target in node.targets:
                if isinstance(target, ast.Name) and isinstance(node.value.value, str):
                    constants[target.id] = node.value.value
        elif (
            isinstance(node, ast.AnnAssign)
            and isinstance(node.target, ast.Name)
            and isinstance(node.value, ast.Constant)
            and isinstance(node.value.value, str)
        ):
            constants[node.target.id] = node.value.value
    return constants


def _bls_targets(model: ModelContext, tree: ast.Module, file: str, repo: RepositoryContext) -> list[Finding]:
    from tritonkit.validate.rules import bls

    findings: list[Finding] = []
    constants: dict[str, str] | None = None
    env: bls.Env | None = None
    for node in ast.walk(tree):
        if not isinstance(node, ast.Call):
            continue
        func = node.func
        called = (
            func.attr if isinstance(func, ast.Attribute) else func.id if isinstance(func, ast.Name) else ""
        )
        if called != "InferenceRequest":
            continue
        value = next((k.value for k in node.keywords if k.arg == "model_name"), None)
        if value is None and node.args:
            value = node.args[0]
        target: str | None = None
        if isinstance(value, ast.Constant) and isinstance(value.value, str):
            target = value.value
        elif isinstance(value, ast.Name):
            if constants is None:
                constants = _module_strings(tree)
            target = constants.get(value.id)
        if target is None:
            continue  # computed at run time: nothing to check offline
        if target == model.name:
            findings.append(
                model.finding(
                    BLS_SELF,
                    f"the BLS request calls this model itself ({target!r}); that recurses until it times out",
                    file=file,
                    line=node.lineno,
                )
            )
        elif target not in repo.models:
            close = difflib.get_close_matches(target, list(repo.models), n=1)
            findings.append(
                model.finding(
                    BLS_UNKNOWN_MODEL,
                    f"BLS InferenceRequest calls model {target!r}, which is not in the repository",
                    file=file,
                    line=node.lineno,
                    hint=(f"did you mean {close[0]!r}? " if close else f"add {target!r} to the repository ")
                    + "(a model from another --model-repository of the same server is not seen here)",
                )
            )
        else:  # the tensor names it sends and asks for, against the target's config
            env = bls.bindings(tree) if env is None else env
            findings.extend(bls.check_request(model, node, repo.models[target], env, file))
    return findings
