"""Loading the model to export from a TARGET: `pkg.module:attr`, `path/file.py:attr`, or a torch.save file.

The attribute may be a module instance, a module class (built with no arguments) or a factory function
returning a module. Import and build failures become ExportError with the cause, never a traceback.
"""

from __future__ import annotations

import contextlib
import importlib
import importlib.util
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from tritonkit.errors import ExportError, UsageError


@contextlib.contextmanager
def _on_sys_path(folder: Path) -> Iterator[None]:
    """Let the target import its neighbours, as `python file.py` would, for the import only."""
    entry = str(folder)
    sys.path.insert(0, entry)
    try:
        yield
    finally:
        with contextlib.suppress(ValueError):
            sys.path.remove(entry)


def _split(target: str) -> tuple[str, str | None]:
    """`a.b:attr` / `dir/f.py:attr` -> (module part, attr); a plain path -> (path, None)."""
    if ":" in target:
        head, _, attr = target.rpartition(":")
        # A Windows drive letter (C:\\x.pt) is not an attribute separator.
        if head and attr and not (len(head) == 1 and attr.startswith(("\\", "/"))):
            return head, attr
    return target, None


def _import_file(path: Path) -> Any:
    if not path.is_file():
        raise UsageError(
            f"no such file: {path}", hint="TARGET is path/to/file.py:attr or package.module:attr"
        )
    name = f"_tritonkit_target_{abs(hash(str(path.resolve())))}"
    spec = importlib.util.spec_from_file_location(name, path)
    if spec is None or spec.loader is None:
        raise UsageError(f"cannot import {path}: not a Python file")
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    try:
        with _on_sys_path(path.parent.resolve()):
            spec.loader.exec_module(module)
    except BaseException as exc:
        sys.modules.pop(name, None)
        if isinstance(exc, KeyboardInterrupt | SystemExit):
            raise
        raise ExportError(
            f"cannot import {path}: {type(exc).__name__}: {exc}",
            hint="fix the error above, then run export again",
        ) from exc
    return module


def _import_module(name: str) -> Any:
    try:
        with _on_sys_path(Path.cwd()):
            return importlib.import_module(name)
    except ModuleNotFoundError as exc:
        if exc.name and name.startswith(exc.name):
            raise ExportError(
                f"cannot import {name!r}: no module named {exc.name!r}",
                hint="run from the folder holding the package, install it, or use path/to/file.py:attr",
            ) from exc
        raise ExportError(f"cannot import {name!r}: {type(exc).__name__}: {exc}") from exc
    except Exception as exc:
        raise ExportError(f"cannot import {name!r}: {type(exc).__name__}: {exc}") from exc


def _resolve(obj: Any, attr: str, where: str) -> Any:
    for part in attr.split("."):
        if not hasattr(obj, part):
            raise UsageError(
                f"{where} has no attribute {attr!r}", hint="TARGET is module:attr with attr defined there"
            )
        obj = getattr(obj, part)
    return obj


def build_module(obj: Any, where: str) -> Any:
    """A module instance as is; a class or factory called with no arguments; anything else refused."""
    import torch

    if isinstance(obj, torch.nn.Module):
        return obj
    if callable(obj):
        try:
            built = obj()
        except Exception as exc:
            raise ExportError(
                f"building the model from {where} failed: {type(exc).__name__}: {exc}",
                hint="the class or factory must work without arguments; or point TARGET at an instance",
            ) from exc
        if isinstance(built, torch.nn.Module):
            return built
        raise UsageError(f"{where}() returned {type(built).__name__}, not a torch.nn.Module")
    raise UsageError(f"{where} is a {type(obj).__name__}, not a torch.nn.Module, a module class or a factory")


def _load_saved(path: Path) -> Any:
    import torch

    try:
        obj = torch.load(path, map_location="cpu", weights_only=False)
    except Exception as first:
        try:  # a TorchScript archive (torch.jit.save) is not a pickle
            obj = torch.jit.load(str(path), map_location="cpu")  # type: ignore[no-untyped-call]
        except Exception:
            raise ExportError(
                f"cannot load {path} with torch.load: {type(first).__name__}: {first}"
            ) from first
    if isinstance(obj, dict) and not isinstance(obj, torch.nn.Module):
        raise UsageError(
            f"{path} holds a state dict, not a model",
            hint="point TARGET at the model class (file.py:MyModel) and load the weights in a factory",
        )
    return build_module(obj, str(path))


def load_target(target: str) -> Any:
    """The torch.nn.Module named by TARGET (see the module docstring)."""
    head, attr = _split(target)
    if attr is None:
        path = Path(head)
        if not path.is_file():
            raise UsageError(
                f"bad TARGET {target!r}: not a file and no ':attr'",
                hint="use package.module:attr, path/to/file.py:attr or a file saved with torch.save",
            )
        return _load_saved(path)
    if head.endswith(".py") or "/" in head or "\\" in head:
        module = _import_file(Path(head))
        where = head
    else:
        module = _import_module(head)
        where = head
    return build_module(_resolve(module, attr, where), f"{where}:{attr}")
