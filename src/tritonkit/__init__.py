"""tritonkit: from a PyTorch model to a running, validated Triton model repository.

The public API; the `tritonkit` command is a thin layer over it. Heavy parts (torch, docker,
tritonclient) load only when the functions that need them are called.
"""

from __future__ import annotations

from tritonkit.errors import (
    EngineUnavailableError,
    ExitCode,
    ExportError,
    FindingsError,
    InferenceError,
    InterruptedByUser,
    RepositoryError,
    ServerNotReadyError,
    TritonkitError,
    UsageError,
)
from tritonkit.project import Project, load_project, resolve_repository
from tritonkit.render import render_config, render_python_model
from tritonkit.scaffold import add_model, init_repository, plan_model, render_repository
from tritonkit.spec import (
    DynamicBatchingSpec,
    EnsembleStepSpec,
    InstanceGroupSpec,
    ModelSpec,
    TensorSpec,
)

__version__ = "0.1.0"

__all__ = [
    "DynamicBatchingSpec",
    "EngineUnavailableError",
    "EnsembleStepSpec",
    "ExitCode",
    "ExportError",
    "FindingsError",
    "InferenceError",
    "InstanceGroupSpec",
    "InterruptedByUser",
    "ModelSpec",
    "Project",
    "RepositoryError",
    "ServerNotReadyError",
    "TensorSpec",
    "TritonkitError",
    "UsageError",
    "__version__",
    "add_model",
    "init_repository",
    "load_project",
    "plan_model",
    "render_config",
    "render_python_model",
    "render_repository",
    "resolve_repository",
]

# Public API of the other areas, loaded on first use so that `import tritonkit` stays light.
# (Function names differ from their modules' names, which would shadow them once imported.)
_LAZY = {
    "Finding": "tritonkit.findings",
    "validate_repository": "tritonkit.validate",  # (repository, *, artifacts=True) -> ValidationReport
    "ValidationReport": "tritonkit.validate",
    "describe_model": "tritonkit.describe",  # (repository, model) -> ModelDescription
    "export_model": "tritonkit.export",  # (model, example_inputs, *, repo, name, ...) -> ExportResult
    "ExportResult": "tritonkit.export",
    "start_server": "tritonkit.serve",  # (repository, options) -> RunningServer
    "Client": "tritonkit.client",  # Client(url, protocol="http").infer(model, inputs) -> dict[str, ndarray]
    "run_bench": "tritonkit.bench",
    "GoldenSample": "tritonkit.golden",
    "save_golden": "tritonkit.golden",
    "load_golden": "tritonkit.golden",
}


def __getattr__(name: str) -> object:
    module_name = _LAZY.get(name)
    if module_name is None:
        raise AttributeError(f"module 'tritonkit' has no attribute {name!r}")
    import importlib

    return getattr(importlib.import_module(module_name), name)
