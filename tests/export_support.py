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
HAS_HF = HAS_TORCH and importlib.util.find_spec("transformers") is not None
HF_HOW = "pip install 'tritonkit[hf]' torch==2.13.0"
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

    class GRUClassifier(torch.nn.Module):
        """Token ids (N, T) int64, T variable -> class scores (N, 4) from the last GRU state."""

        def __init__(self) -> None:
            super().__init__()
            torch.manual_seed(4)
            self.embed = torch.nn.Embedding(100, 16)
            self.gru = torch.nn.GRU(16, 32, batch_first=True)
            self.head = torch.nn.Linear(32, 4)

        def forward(self, ids: torch.Tensor) -> torch.Tensor:
            _, last = self.gru(self.embed(ids))
            return self.head(last[-1])

    class BatchNormNet(torch.nn.Module):
        """Images (N, 3, 16, 16) -> scores (N, 5): conv, BatchNorm (running stats), pool, linear."""

        def __init__(self) -> None:
            super().__init__()
            torch.manual_seed(5)
            self.conv = torch.nn.Conv2d(3, 8, 3, padding=1)
            self.norm = torch.nn.BatchNorm2d(8)
            self.head = torch.nn.Linear(8, 5)
            with torch.no_grad():  # non-trivial running statistics, as after training
                self.norm.running_mean.uniform_(-0.5, 0.5)
                self.norm.running_var.uniform_(0.5, 2.0)

        def forward(self, image: torch.Tensor) -> torch.Tensor:
            pooled = torch.relu(self.norm(self.conv(image))).mean(dim=(2, 3))
            return self.head(pooled)

    class KwargsDict(torch.nn.Module):
        """A keyword-only forward with a dict output."""

        def __init__(self) -> None:
            super().__init__()
            torch.manual_seed(6)
            self.proj = torch.nn.Linear(4, 3)

        def forward(self, *, features: torch.Tensor, mask: torch.Tensor) -> dict[str, torch.Tensor]:
            return {"score": self.proj(features * mask), "total": (features * mask).sum(dim=1, keepdim=True)}

    class HalfMLP(torch.nn.Module):
        """An FP16 model: fp16 weights, fp16 inputs and outputs."""

        def __init__(self) -> None:
            super().__init__()
            torch.manual_seed(7)
            self.net = torch.nn.Sequential(torch.nn.Linear(16, 32), torch.nn.ReLU(), torch.nn.Linear(32, 4))
            self.half()

        def forward(self, x: torch.Tensor) -> torch.Tensor:
            return self.net(x)


def hf_zoo() -> dict[str, Any]:
    """name -> a tiny transformers model with random weights (hidden 32, 2 layers, vocab 100)."""
    import transformers as tf

    torch.manual_seed(8)
    small = {"hidden_size": 32, "num_hidden_layers": 2, "num_attention_heads": 2, "intermediate_size": 37}
    return {
        "bert": tf.BertForSequenceClassification(
            tf.BertConfig(vocab_size=100, max_position_embeddings=64, num_labels=3, **small)
        ),
        "distilbert": tf.DistilBertModel(
            tf.DistilBertConfig(
                vocab_size=100, dim=32, n_layers=2, n_heads=2, hidden_dim=37, max_position_embeddings=64
            )
        ),
        "gpt2": tf.GPT2LMHeadModel(
            tf.GPT2Config(vocab_size=100, n_embd=32, n_layer=2, n_head=2, n_positions=64)
        ),
        "vit": tf.ViTForImageClassification(
            tf.ViTConfig(image_size=16, patch_size=8, num_channels=3, num_labels=5, **small)
        ),
    }


def module_zoo() -> dict[str, tuple[Any, Any, dict[str, Any]]]:
    """name -> (module, example inputs, export options) of the zoo's plain torch.nn models."""
    return {
        "gru": (GRUClassifier(), torch.randint(0, 100, (2, 7)), {"max_batch_size": 4, "dynamic_dims": "all"}),
        "bnconv": (BatchNormNet().eval(), torch.randn(2, 3, 16, 16), {"max_batch_size": 4}),
        "kwargs": (
            KwargsDict(),
            {"features": torch.randn(2, 4), "mask": torch.ones(2, 4)},
            {"max_batch_size": 4},
        ),
        "fp16": (HalfMLP(), torch.randn(2, 16).half(), {"max_batch_size": 4}),
    }


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
