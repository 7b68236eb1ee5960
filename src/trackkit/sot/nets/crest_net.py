"""CREST's online regression network: the correlation filter as one convolution, plus two
residual branches (Song, Ma, Gong, Zhang, Lau, Yang: "CREST: Convolutional Residual Learning
for Visual Tracking", ICCV 2017).

CREST reformulates the discriminative correlation filter as a single convolutional layer
whose kernel covers the target (in feature cells) and which regresses a Gaussian label from
the (PCA-reduced) deep features of the search window; the ridge-regression objective becomes
the L2 loss plus weight decay, minimised by gradient descent instead of in the Fourier domain.
Two residual branches add what one linear layer misses:

- the **spatial residual** (:attr:`CRESTNet.spatial`): a deeper branch beside the base layer,
  ``1x1 conv C->C, ReLU, 1x1 conv C->C, ReLU, 1x1 conv C->1`` (the layers of the authors'
  release), whose map is added to the base layer's response; updated online;
- the **temporal residual** (:attr:`CRESTNet.temporal`): a branch of the same structure
  trained in the first frame only and frozen afterwards (:meth:`CRESTNet.freeze_temporal`),
  so the first frame's appearance keeps a voice when the online updates drift.

Shapes: input ``(B, C, H, W)`` float32 features (any ``H, W``; ``same`` padding), output
``(B, 1, H, W)`` float32 response; the label is ``(B, 1, H, W)`` with a peak of 1 at the
target centre. torch is imported inside the functions (importing this module does not).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

__all__ = ["build_crest_net", "kernel_size", "pca_basis", "regression_loss", "train_steps"]


def kernel_size(target_cells: tuple[float, float]) -> tuple[int, int]:
    """Odd kernel ``(kh, kw)`` of the base layer for a target of ``(h, w)`` feature cells:
    ``2 * ceil(t / 2) + 1`` per axis (the target plus a cell of margin, as CREST's release)."""
    import math

    kh, kw = (2 * max(1, math.ceil(float(t) / 2.0)) + 1 for t in target_cells)
    return kh, kw


def build_crest_net(channels: int, kernel: tuple[int, int], seed: int = 0) -> Any:
    """A :class:`CRESTNet` for ``channels`` input channels and an odd base ``kernel``
    ``(kh, kw)``, initialised from a ``torch.Generator`` seeded with ``seed``
    (deterministic: the global torch generator is never used)."""
    import torch
    from torch import nn

    kh, kw = int(kernel[0]), int(kernel[1])
    if kh < 1 or kw < 1 or kh % 2 == 0 or kw % 2 == 0 or channels < 1:
        raise ValueError(f"need channels >= 1 and an odd kernel, got {channels}, {kernel}")

    def branch() -> nn.Sequential:
        return nn.Sequential(
            nn.Conv2d(channels, channels, 1),
            nn.ReLU(),
            nn.Conv2d(channels, channels, 1),
            nn.ReLU(),
            nn.Conv2d(channels, 1, 1),
        )

    class CRESTNet(nn.Module):
        """Base layer + spatial residual + temporal residual; see the module docstring.

        Attributes:
            base: ``Conv2d(C, 1, (kh, kw), padding=(kh // 2, kw // 2))``: the filter.
            spatial: the spatial residual branch (trained in every update).
            temporal: the temporal residual branch (first frame only).
        """

        def __init__(self) -> None:
            super().__init__()
            self.base = nn.Conv2d(channels, 1, (kh, kw), padding=(kh // 2, kw // 2))
            self.spatial = branch()
            self.temporal = branch()

        def forward(self, x: torch.Tensor) -> torch.Tensor:
            """``(B, C, H, W)`` -> ``(B, 1, H, W)``: the sum of the three maps."""
            return self.base(x) + self.spatial(x) + self.temporal(x)

        def maps(self, x: torch.Tensor) -> dict[str, torch.Tensor]:
            """The three maps separately (``base``, ``spatial``, ``temporal``)."""
            return {"base": self.base(x), "spatial": self.spatial(x), "temporal": self.temporal(x)}

        def online_parameters(self) -> list[nn.Parameter]:
            """The parameters updated after the first frame (base + spatial residual)."""
            return [*self.base.parameters(), *self.spatial.parameters()]

        def freeze_temporal(self) -> None:
            """Keep the temporal residual fixed from now on."""
            for p in self.temporal.parameters():
                p.requires_grad_(False)

    net = CRESTNet()
    gen = torch.Generator().manual_seed(int(seed))
    with torch.no_grad():
        # The base filter starts at zero (gradient descent from zero heads for the
        # minimum-norm filter); the hidden layers of the residual branches are He-initialised
        # and their last layer starts at zero, so every map starts at zero (the usual residual
        # initialisation) and the residuals grow only as far as the base layer leaves an error.
        net.base.weight.zero_()
        net.base.bias.zero_()  # type: ignore[union-attr]
        for seq in (net.spatial, net.temporal):
            for i, layer in enumerate(seq):
                if not isinstance(layer, nn.Conv2d):
                    continue
                if i == len(seq) - 1:
                    layer.weight.zero_()
                else:
                    std = (2.0 / layer.in_channels) ** 0.5
                    layer.weight.copy_(torch.randn(layer.weight.shape, generator=gen) * std)
                layer.bias.zero_()  # type: ignore[union-attr]
    return net


def regression_loss(pred: Any, label: Any) -> Any:
    """CREST's L2 loss: the mean squared difference of ``pred`` and ``label`` (the weight
    decay is the optimiser's ``weight_decay``)."""
    return ((pred - label) ** 2).mean()


def train_steps(
    net: Any,
    optimizer: Any,
    feats: Any,
    labels: Any,
    steps: int,
    batch: Sequence[int] | None = None,
) -> list[float]:
    """``steps`` gradient steps of :func:`regression_loss` on features ``(N, C, H, W)`` and
    labels ``(N, 1, H, W)`` (the whole stack each step, or the rows in ``batch``); returns
    each step's loss (before the step)."""
    losses = []
    x, y = (feats, labels) if batch is None else (feats[list(batch)], labels[list(batch)])
    for _ in range(int(steps)):
        optimizer.zero_grad()
        loss = regression_loss(net(x), y)
        loss.backward()
        optimizer.step()
        losses.append(float(loss.detach()))
    return losses


def pca_basis(feat: Any, k: int) -> Any:
    """The first ``k`` principal axes of the cells of ``feat`` ``(C, H, W)`` as a ``(k, C)``
    float32 matrix (``k <= C``), computed in float64; each axis' sign makes its largest
    component positive (a deterministic choice). As CREST, features are projected without
    centring: ``reduced = basis @ feat.reshape(C, -1)``."""
    import torch

    c = feat.shape[0]
    if not 1 <= k <= c:
        raise ValueError(f"pca: need 1 <= k <= {c}, got {k}")
    x = feat.reshape(c, -1).to(torch.float64)
    x = x - x.mean(dim=1, keepdim=True)
    cov = x @ x.T / max(1, x.shape[1] - 1)
    _, vecs = torch.linalg.eigh(cov)  # ascending eigenvalues
    axes = vecs[:, -k:].flip(1).T.contiguous()  # (k, C), largest first
    idx = axes.abs().argmax(dim=1)
    signs = torch.sign(axes[torch.arange(k), idx])
    signs[signs == 0] = 1.0
    return (axes * signs[:, None]).to(torch.float32)
