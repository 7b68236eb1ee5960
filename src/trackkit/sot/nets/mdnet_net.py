"""MDNet's network (Nam & Han, CVPR 2016), CPU-sized.

Shared layers: a small VGG-M-like conv tower on ``size x size`` candidate crops (default 64;
the paper: 107 and VGG-M's conv1-3) — ``conv5x5/2 - ReLU - LRN-free BN - pool/2 - conv3x3 -
ReLU - pool/2 - conv3x3 - ReLU - pool/2`` — then ``fc4`` and ``fc5`` (ReLU, dropout); one binary
``fc6`` head per training sequence (*multi-domain* learning). Tracking replaces the domain heads
by one new head and fine-tunes ``fc4-fc6`` online.

Input: ``(B, 3, size, size)`` float32 BGR 0..255. ``features`` -> ``(B, D)``;
``classify(features, k)`` -> ``(B, 2)`` logits (background, target) of head ``k``.
"""

from __future__ import annotations

from pathlib import Path

import torch
from torch import nn

__all__ = ["MDNet"]


class MDNet(nn.Module):
    """Shared conv + fc4/fc5 layers and ``domains`` binary heads."""

    def __init__(self, domains: int = 1, size: int = 64, width: int = 24, fc: int = 256) -> None:
        super().__init__()
        if size % 16:
            raise ValueError("size must be a multiple of 16")
        self.size = size
        self.width = width
        self.fc_width = fc
        w = width
        self.conv = nn.Sequential(
            nn.Conv2d(3, w, 5, 2, 2),
            nn.BatchNorm2d(w),
            nn.ReLU(inplace=True),
            nn.MaxPool2d(2),
            nn.Conv2d(w, 2 * w, 3, 1, 1),
            nn.BatchNorm2d(2 * w),
            nn.ReLU(inplace=True),
            nn.MaxPool2d(2),
            nn.Conv2d(2 * w, 3 * w, 3, 1, 1),
            nn.ReLU(inplace=True),
            nn.MaxPool2d(2),
        )
        self.feat_dim = 3 * w * (size // 16) ** 2
        self.fc = nn.Sequential(
            nn.Dropout(0.5),
            nn.Linear(self.feat_dim, fc),
            nn.ReLU(inplace=True),
            nn.Dropout(0.5),
            nn.Linear(fc, fc),
            nn.ReLU(inplace=True),
        )
        self.heads = nn.ModuleList([nn.Linear(fc, 2) for _ in range(domains)])

    @property
    def feat_shape(self) -> tuple[int, int, int]:
        """``(C, h, w)`` of the conv map that :meth:`features` flattens."""
        return (3 * self.width, self.size // 16, self.size // 16)

    def features(self, x: torch.Tensor) -> torch.Tensor:
        """Conv features ``(B, feat_dim)`` of crops ``(B, 3, size, size)``."""
        return self.conv(x / 255.0 - 0.5).flatten(1)

    def classify(self, feats: torch.Tensor, k: int = 0) -> torch.Tensor:
        """Logits ``(B, 2)`` of head ``k`` on conv features."""
        return self.heads[k](self.fc(feats))

    def forward(self, x: torch.Tensor, k: int = 0) -> torch.Tensor:
        return self.classify(self.features(x), k)

    def reset_heads(self, domains: int = 1) -> None:
        """Replace the domain heads by ``domains`` new ones (online tracking uses one)."""
        self.heads = nn.ModuleList([nn.Linear(self.fc_width, 2) for _ in range(domains)])


def load_mdnet(path: str | Path) -> MDNet:
    """The shared layers of an :class:`~trackkit.sot.nets.mdnet_net.MDNet` from a weights file.

    Raises:
        DataNotFoundError: the file does not exist.
        FormatError: it does not hold MDNet weights that fit the architecture.
    """
    from trackkit.sot.nets import load_network

    return load_network(path, "mdnet", MDNet, domains=1, size=64, width=24, fc=256)
