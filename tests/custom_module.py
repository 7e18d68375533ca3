"""A user's own model, data and loss, as a researcher would write them (tests copy this file to a
temporary folder and put it on PYTHONPATH under the name ``mylab``)."""

import torch
import torch.nn as nn
import torch.nn.functional as F
from torch.utils.data import TensorDataset


class MLP(nn.Module):
    """A classifier whose size knob is its hidden width."""

    def __init__(self, width: int, depth: int = 2, n_in: int = 8, n_out: int = 4):
        super().__init__()
        layers, d = [], n_in
        for _ in range(depth):
            layers += [nn.Linear(d, width), nn.GELU()]
            d = width
        self.net = nn.Sequential(*layers, nn.Linear(d, n_out))

    def forward(self, x):
        return self.net(x)  # logits (B, n_out)

    def num_params(self) -> int:
        return sum(p.numel() for p in self.parameters())


class NoCount(nn.Module):
    def __init__(self, width: int, depth: int = 1):
        super().__init__()
        self.lin = nn.Linear(8, width)

    def forward(self, x):
        return self.lin(x)


def load(split: str, n: int = 512, n_in: int = 8, n_out: int = 4):
    """Gaussian points labelled by the argmax of a fixed linear map."""
    gen = torch.Generator().manual_seed(0 if split == "train" else 1)
    x = torch.randn(n if split == "train" else n // 4, n_in, generator=gen)
    w = torch.randn(n_in, n_out, generator=torch.Generator().manual_seed(123))
    return TensorDataset(x, (x @ w).argmax(-1))


def load_wrong(split: str, n: int = 64):
    """Inputs of 5 features for a model that expects 8."""
    return TensorDataset(torch.randn(n, 5), torch.zeros(n, dtype=torch.long))


def smooth_loss(output, batch):
    return F.cross_entropy(output, batch[1], label_smoothing=0.1)
