"""GOTURN's two-crop regression network (Held, Thrun, Savarese, ECCV 2016), CPU-sized.

A shared convolutional tower embeds the previous frame's target crop and the current frame's
search region (both ``size x size``, default 128; the paper uses 227 and CaffeNet's conv
layers): ``conv5x5/2 - BN - ReLU - pool/2 - conv3x3 - BN - ReLU - pool/2 - conv3x3 - BN - ReLU -
pool/2 - conv3x3 - BN - ReLU`` (stride 16), then a 1x1 reduction; the two feature maps are
flattened and concatenated, and three fully-connected layers (ReLU, dropout) regress the box
``(x1, y1, x2, y2)`` in search-crop coordinates scaled to ``[0, 10]`` (the paper's scaling).

Input: ``(B, 3, size, size)`` float32 BGR 0..255 each. Output: ``(B, 4)``.
"""

from __future__ import annotations

from pathlib import Path

import torch
from torch import nn

__all__ = ["GoturnNet"]


def _block(cin: int, cout: int, k: int, stride: int = 1, pool: bool = True) -> list[nn.Module]:
    layers: list[nn.Module] = [
        nn.Conv2d(cin, cout, k, stride, k // 2, bias=False),
        nn.BatchNorm2d(cout),
        nn.ReLU(inplace=True),
    ]
    if pool:
        layers.append(nn.MaxPool2d(2))
    return layers


class GoturnNet(nn.Module):
    """Two-crop box regression: ``(prev_crop, search_crop) -> (B, 4)`` box in [0, 10] units."""

    def __init__(self, size: int = 128, width: int = 32, reduced: int = 24, fc: int = 512) -> None:
        super().__init__()
        if size % 16:
            raise ValueError("size must be a multiple of 16")
        self.size = size
        self.width = width
        self.reduced = reduced
        self.fc_width = fc
        w = width
        self.features = nn.Sequential(
            *_block(3, w, 5, 2),
            *_block(w, 2 * w, 3),
            *_block(2 * w, 3 * w, 3),
            *_block(3 * w, 3 * w, 3, pool=False),
            nn.Conv2d(3 * w, reduced, 1),
            nn.ReLU(inplace=True),
        )
        cells = (size // 16) ** 2
        self.regressor = nn.Sequential(
            nn.Linear(2 * reduced * cells, fc),
            nn.ReLU(inplace=True),
            nn.Dropout(0.3),
            nn.Linear(fc, fc),
            nn.ReLU(inplace=True),
            nn.Dropout(0.3),
            nn.Linear(fc, 4),
        )

    def embed(self, x: torch.Tensor) -> torch.Tensor:
        """Flattened features of ``(B, 3, size, size)`` crops."""
        return self.features(x / 255.0 - 0.5).flatten(1)

    def forward(self, prev: torch.Tensor, search: torch.Tensor) -> torch.Tensor:
        return self.regressor(torch.cat([self.embed(prev), self.embed(search)], dim=1))


def load_goturn(path: str | Path) -> GoturnNet:
    """A :class:`~trackkit.sot.nets.goturn_net.GoturnNet` loaded from a trackkit weights file.

    Raises:
        DataNotFoundError: the file does not exist.
        FormatError: it does not hold GOTURN weights that fit the architecture.
    """
    from trackkit.sot.nets import load_network

    return load_network(path, "goturn", GoturnNet, size=128, width=32, reduced=24, fc=512).eval()
