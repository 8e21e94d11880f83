"""The tutorial's small fully connected model: 16 features in, 4 scores out.

Exported by tritonkit to TorchScript (see README.md):
    tritonkit export examples/fc_model_pt/fc_model.py:build --name fc_model_pt \
        --example-input fp32:1,16 --max-batch-size 8
"""

from __future__ import annotations

import torch
from torch import nn


class FCModel(nn.Module):
    """Linear(16, 32) -> ReLU -> Linear(32, 4)."""

    def __init__(self, in_features: int = 16, hidden: int = 32, out_features: int = 4) -> None:
        super().__init__()
        self.fc1 = nn.Linear(in_features, hidden)
        self.relu = nn.ReLU()
        self.fc2 = nn.Linear(hidden, out_features)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.fc2(self.relu(self.fc1(x)))


def build() -> FCModel:
    """The model with fixed weights (seeded), in eval mode: every export gives the same model.pt."""
    torch.manual_seed(0)
    return FCModel().eval()
