"""tritonkit: from a PyTorch model to a running, validated Triton model repository.

The public API; the `tritonkit` command is a thin layer over it. Heavy parts (torch, docker,
tritonclient) load only when the functions that need them are called.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

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

if TYPE_CHECKING:  # the lazy names below, for type checkers and IDEs
    from tritonkit.bench import BenchOptions, run_bench, run_sweep
    from tritonkit.client import Client
    from tritonkit.describe import describe_model
    from tritonkit.export import ExportResult, export_model
    from tritonkit.findings import Finding
    from tritonkit.golden import GoldenSample, load_golden, save_golden
    from tritonkit.goldencheck import check_models
    from tritonkit.project import Project, load_project, resolve_repository
    from tritonkit.render import render_config, render_python_model
    from tritonkit.scaffold import add_model, init_repository, plan_model, render_repository
    from tritonkit.serve import start_server
    from tritonkit.spec import (
        DynamicBatchingSpec,
        EnsembleStepSpec,
        InstanceGroupSpec,
        ModelSpec,
        TensorSpec,
    )
    from tritonkit.validate import ValidationReport, validate_repository

__version__ = "0.1.0"


# Everything but the errors loads on first use, so `import tritonkit` (and every CLI start) stays
# light. Function names differ from their modules' names, which would shadow them once imported.
_LAZY = {
    "Project": "tritonkit.project",
    "load_project": "tritonkit.project",
    "resolve_repository": "tritonkit.project",
    "render_config": "tritonkit.render",
    "render_python_model": "tritonkit.render",
    "add_model": "tritonkit.scaffold",
    "init_repository": "tritonkit.scaffold",
    "plan_model": "tritonkit.scaffold",
    "render_repository": "tritonkit.scaffold",
    "DynamicBatchingSpec": "tritonkit.spec",
    "EnsembleStepSpec": "tritonkit.spec",
    "InstanceGroupSpec": "tritonkit.spec",
    "ModelSpec": "tritonkit.spec",
    "TensorSpec": "tritonkit.spec",
    "Finding": "tritonkit.findings",
    "validate_repository": "tritonkit.validate",  # (repository, *, artifacts=True) -> ValidationReport
    "ValidationReport": "tritonkit.validate",
    "describe_model": "tritonkit.describe",  # (repository, model) -> ModelDescription
    "export_model": "tritonkit.export",  # (model, example_inputs, *, repo, name, ...) -> ExportResult
    "ExportResult": "tritonkit.export",
    "start_server": "tritonkit.serve",  # (repository, options) -> RunningServer
    "Client": "tritonkit.client",  # Client(url, protocol="http").infer(model, inputs) -> dict[str, ndarray]
    "run_bench": "tritonkit.bench",  # (url, model, BenchOptions) -> BenchResult
    "run_sweep": "tritonkit.bench",  # variants loaded through the load API, measured, original restored
    "BenchOptions": "tritonkit.bench",
    "check_models": "tritonkit.goldencheck",  # golden samples against the server (`tritonkit test`)
    "GoldenSample": "tritonkit.golden",
    "save_golden": "tritonkit.golden",
    "load_golden": "tritonkit.golden",
}

__all__ = [
    "BenchOptions",
    "Client",
    "DynamicBatchingSpec",
    "EngineUnavailableError",
    "EnsembleStepSpec",
    "ExitCode",
    "ExportError",
    "ExportResult",
    "Finding",
    "FindingsError",
    "GoldenSample",
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
    "ValidationReport",
    "__version__",
    "add_model",
    "check_models",
    "describe_model",
    "export_model",
    "init_repository",
    "load_golden",
    "load_project",
    "plan_model",
    "render_config",
    "render_python_model",
    "render_repository",
    "resolve_repository",
    "run_bench",
    "run_sweep",
    "save_golden",
    "start_server",
    "validate_repository",
]


def __getattr__(name: str) -> object:
    module_name = _LAZY.get(name)
    if module_name is None:
        raise AttributeError(f"module 'tritonkit' has no attribute {name!r}")
    import importlib

    return getattr(importlib.import_module(module_name), name)
