"""Run the real Triton server on a repository: in Docker through the SDK, or as a local process."""

from __future__ import annotations

from tritonkit.serve.local import LocalOptions, LocalServer, ModelsNotReadyError, start_local_server

__all__ = ["LocalOptions", "LocalServer", "ModelsNotReadyError", "start_local_server"]
