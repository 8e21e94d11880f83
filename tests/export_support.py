"""Small real models for the export tests, and helpers to snapshot a repository.

The models are made here, by the tests: an MLP, a conv net on images, a model with two inputs and a
dict output, a token-id embedding model (int64 input), and a model with data-dependent control flow.
"""

from __future__ import annotations

import hashlib
import importlib.util
from pathlib import Path
from typing import Any

HAS_TORCH = importlib.util.find_spec("torch") is not None
HAS_ORT = importlib.util.find_spec("onnxruntime") is not None and importlib.util.find_spec("onnx") is not None
TORCH_HOW = "pip install 'tritonkit[torch]' torch==2.13.0"

if HAS_TORCH:
    import torch

    class MLP(torch.nn.Module):
        def __init__(self) -> None:
            super().__init__()
            torch.manual_seed(0)
            self.net = torch.nn.Sequential(torch.nn.Linear(16, 32), torch.nn.ReLU(), torch.nn.Linear(32, 4))

        def forward(self, x: torch.Tensor) -> torch.Tensor:
            return self.net(x)

    class ConvNet(torch.nn.Module):
        """Images (N, 3, 32, 32) -> class scores (N, 10)."""

        def __init__(self) -> None:
            super().__init__()
            torch.manual_seed(1)
            self.conv = torch.nn.Conv2d(3, 8, 3, padding=1)
            self.pool = torch.nn.AdaptiveAvgPool2d(4)
            self.head = torch.nn.Linear(8 * 4 * 4, 10)

        def forward(self, image: torch.Tensor) -> torch.Tensor:
            return self.head(torch.flatten(self.pool(torch.relu(self.conv(image))), 1))

    class TwoInDictOut(torch.nn.Module):
        def __init__(self) -> None:
            super().__init__()
            torch.manual_seed(2)
            self.proj = torch.nn.Linear(4, 3)

        def forward(self, features: torch.Tensor, bias: torch.Tensor) -> dict[str, torch.Tensor]:
            return {"score": self.proj(features) + bias, "doubled": features * 2}

    class TokenEmbedding(torch.nn.Module):
        """Token ids (N, T) int64 -> mean embedding (N, 8)."""

        def __init__(self) -> None:
            super().__init__()
            torch.manual_seed(3)
            self.embed = torch.nn.Embedding(100, 8)

        def forward(self, ids: torch.Tensor) -> torch.Tensor:
            return self.embed(ids).mean(dim=1)

    class DataDependent(torch.nn.Module):
        """Control flow on values: tracing freezes one branch."""

        def forward(self, x: torch.Tensor) -> torch.Tensor:
            if x.sum() > 0:
                return x * 2
            return x - 1

    class ComplexOut(torch.nn.Module):
        def forward(self, x: torch.Tensor) -> torch.Tensor:
            return torch.fft.fft(x)

    class Raises(torch.nn.Module):
        def forward(self, x: torch.Tensor) -> torch.Tensor:
            raise ValueError("this model refuses every input")

    class Wide(torch.nn.Module):
        """Big enough (about 1 MB of weights) to fill a tiny filesystem."""

        def __init__(self) -> None:
            super().__init__()
            self.lin = torch.nn.Linear(512, 512)

        def forward(self, x: torch.Tensor) -> torch.Tensor:
            return self.lin(x)

    class HeavyMLP(MLP):
        """The MLP's inputs and outputs, with 1 MB of extra weights: a new version that cannot fit."""

        def __init__(self) -> None:
            super().__init__()
            self.unused = torch.nn.Parameter(torch.zeros(512, 512))


def model_cases() -> dict[str, tuple[Any, Any, dict[str, Any]]]:
    """name -> (model, example inputs, export options) for the four models the tests serve."""
    return {
        "mlp": (MLP(), torch.randn(2, 16), {"max_batch_size": 8}),
        "conv": (ConvNet(), torch.randn(2, 3, 32, 32), {"max_batch_size": 4}),
        "twoin": (
            TwoInDictOut(),
            {"features": torch.randn(3, 4), "bias": torch.randn(3, 3)},
            {"max_batch_size": 4},
        ),
        "tokens": (
            TokenEmbedding(),
            torch.randint(0, 100, (2, 7)),
            {"max_batch_size": 4, "dynamic_dims": "all"},
        ),
    }


def snapshot(root: Path) -> dict[str, str]:
    """Every path under `root` (hidden ones included) -> content hash ('dir' for folders)."""
    out: dict[str, str] = {}
    for path in sorted(root.rglob("*")):
        rel = str(path.relative_to(root))
        out[rel] = "dir" if path.is_dir() else hashlib.sha256(path.read_bytes()).hexdigest()
    return out
