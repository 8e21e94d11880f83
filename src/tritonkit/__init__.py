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
    MissingDependencyError,
    RepositoryError,
    RepositoryWriteError,
    ServerNotReadyError,
    TritonkitError,
    UsageError,
)

if TYPE_CHECKING:  # the lazy names below, for type checkers and IDEs
    from tritonkit.bench.run import BenchOptions, run_bench, run_sweep
    from tritonkit.client.client import Client
    from tritonkit.client.replay import check_models
    from tritonkit.deploy.push import prepare_push, run_push
    from tritonkit.deploy.render import plan_deploy, write_deploy
    from tritonkit.export import ExportResult, export_model
    from tritonkit.model.spec import (
        DynamicBatchingSpec,
        EnsembleStepSpec,
        InstanceGroupSpec,
        ModelSpec,
        TensorSpec,
    )
    from tritonkit.repository.describe import describe_model
    from tritonkit.repository.fetch import validate_remote
    from tritonkit.repository.golden import GoldenSample, load_golden, save_golden
    from tritonkit.repository.project import Project, load_project, resolve_repository
    from tritonkit.repository.render import render_config, render_python_model
    from tritonkit.repository.scaffold import add_model, init_repository, plan_model, render_repository
    from tritonkit.serve import start_server
    from tritonkit.validate.engine import ValidationReport, validate_repository
    from tritonkit.validate.findings import Finding

__version__ = "0.1.0"


# Everything but the errors loads on first use, so `import tritonkit` (and every CLI start) stays
# light. Function names differ from their modules' names, which would shadow them once imported.
_LAZY = {
    "Project": "tritonkit.repository.project",
    "load_project": "tritonkit.repository.project",
    "resolve_repository": "tritonkit.repository.project",
    "render_config": "tritonkit.repository.render",
    "render_python_model": "tritonkit.repository.render",
    "add_model": "tritonkit.repository.scaffold",
    "init_repository": "tritonkit.repository.scaffold",
    "plan_model": "tritonkit.repository.scaffold",
    "render_repository": "tritonkit.repository.scaffold",
    "DynamicBatchingSpec": "tritonkit.model.spec",
    "EnsembleStepSpec": "tritonkit.model.spec",
    "InstanceGroupSpec": "tritonkit.model.spec",
    "ModelSpec": "tritonkit.model.spec",
    "TensorSpec": "tritonkit.model.spec",
    "Finding": "tritonkit.validate.findings",
    "validate_repository": "tritonkit.validate.engine",  # (repository, *, artifacts=True) -> ValidationReport
    "ValidationReport": "tritonkit.validate.engine",
    "describe_model": "tritonkit.repository.describe",  # (repository, model) -> ModelDescription
    "export_model": "tritonkit.export",  # (model, example_inputs, *, repo, name, ...) -> ExportResult
    "ExportResult": "tritonkit.export",
    "start_server": "tritonkit.serve",  # (repository, options) -> RunningServer
    "Client": "tritonkit.client.client",  # Client(url).infer(model, inputs) -> dict[str, ndarray]
    "run_bench": "tritonkit.bench.run",  # (client, model, BenchOptions) -> BenchResult
    "run_sweep": "tritonkit.bench.run",  # variants loaded through the load API, measured, original restored
    "BenchOptions": "tritonkit.bench.run",
    "prepare_push": "tritonkit.deploy.push",  # (repository, uri) -> (PushPlan, store): validated, planned
    "run_push": "tritonkit.deploy.push",  # (plan, store, on_event=None) -> PushResult
    "plan_deploy": "tritonkit.deploy.render",  # (target, uri, DeployOptions, RepositorySummary) -> DeployPlan
    "write_deploy": "tritonkit.deploy.render",
    "validate_remote": "tritonkit.repository.fetch",  # (uri, *, artifacts=True) -> ValidationReport
    "check_models": "tritonkit.client.replay",  # golden samples against the server (`tritonkit test`)
    "GoldenSample": "tritonkit.repository.golden",
    "save_golden": "tritonkit.repository.golden",
    "load_golden": "tritonkit.repository.golden",
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
    "MissingDependencyError",
    "ModelSpec",
    "Project",
    "RepositoryError",
    "RepositoryWriteError",
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
    "plan_deploy",
    "plan_model",
    "prepare_push",
    "render_config",
    "render_python_model",
    "render_repository",
    "resolve_repository",
    "run_bench",
    "run_push",
    "run_sweep",
    "save_golden",
    "start_server",
    "validate_remote",
    "validate_repository",
    "write_deploy",
]


def __getattr__(name: str) -> object:
    module_name = _LAZY.get(name)
    if module_name is None:
        raise AttributeError(f"module 'tritonkit' has no attribute {name!r}")
    import importlib

    return getattr(importlib.import_module(module_name), name)
