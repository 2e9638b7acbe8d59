"""Policy encoders that envs can supply through ``make_encoder(hidden)``."""

import torch
from torch import nn


class TileEncoder(nn.Module):
    """One-hot tile classes of an integer grid observation, then Linear + GELU.

    ``embedding_bag`` with one row per (cell, class) sums exactly what a Linear over the
    flattened one-hot would compute, without materializing the one-hot.
    """

    def __init__(self, cells: int, num_classes: int, hidden: int):
        super().__init__()
        self.cells, self.num_classes = cells, num_classes
        self.weight = nn.Parameter(torch.randn(cells * num_classes, hidden) / cells**0.5)
        self.bias = nn.Parameter(torch.zeros(hidden))
        self.register_buffer("offsets", torch.arange(cells) * num_classes, persistent=False)

    def forward(self, obs: torch.Tensor) -> torch.Tensor:
        idx = obs.reshape(obs.shape[0], -1).long() + self.offsets
        x = nn.functional.embedding_bag(idx, self.weight, mode="sum")
        return nn.functional.gelu(x + self.bias)
