"""Commands of this area (being written). Registers on the shared app from tritonkit.cli._app."""

from __future__ import annotations
