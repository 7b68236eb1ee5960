"""The convolutional regression layer of DSLT (Lu et al. ECCV 2018) and its gradient steps.

A deep regression tracker maps the features ``X`` of a search window to a response map that
should equal a Gaussian label ``Y`` peaking on the target: ``min_W L(W * X, Y)``, solved by
gradient descent (not in closed form as a correlation filter is). DSLT reduces the channels of
its feature maps with a 1x1 convolution (512 -> 128 on VGG-16) and regresses the response with
one convolution whose kernel covers the target (:class:`RegressionHead`).

Shapes: features ``(B, C, H, W)`` float32, labels and responses ``(B, 1, H, W)`` float32
(``'same'`` padding: the response has the features' grid). torch is needed.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import torch
from torch import nn

__all__ = ["RegressionHead", "fit_steps"]


class RegressionHead(nn.Module):
    """1x1 channel reduction, then one ``kernel``-sized convolution to one response channel.

    Args:
        in_channels: channels ``C`` of the (concatenated) features.
        reduce_channels: channels after the 1x1 reduction.
        kernel: ``(kh, kw)`` odd kernel of the regression convolution, in grid cells (about
            the target's size).
        seed: seed of the (deterministic) initialisation: the reduction is He-normal, the
            regression kernel is normal with a small standard deviation, so that the first
            response is close to zero everywhere (the label's background).
    """

    def __init__(
        self, in_channels: int, reduce_channels: int, kernel: tuple[int, int], seed: int = 0
    ) -> None:
        super().__init__()
        kh, kw = int(kernel[0]), int(kernel[1])
        if kh % 2 == 0 or kw % 2 == 0 or kh < 1 or kw < 1:
            raise ValueError(f"kernel {kernel}: need odd sides >= 1")
        self.kernel = (kh, kw)
        self.reduce = nn.Conv2d(in_channels, reduce_channels, 1)
        self.regress = nn.Conv2d(reduce_channels, 1, (kh, kw), padding=(kh // 2, kw // 2))
        gen = torch.Generator().manual_seed(int(seed))
        with torch.no_grad():
            for conv in (self.reduce, self.regress):
                if conv.bias is not None:
                    conv.bias.zero_()
            std = (2.0 / in_channels) ** 0.5
            self.reduce.weight.copy_(torch.randn(self.reduce.weight.shape, generator=gen) * std)
            std = 1e-2 / (reduce_channels * kh * kw) ** 0.5
            self.regress.weight.copy_(torch.randn(self.regress.weight.shape, generator=gen) * std)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """``(B, C, H, W)`` features -> ``(B, 1, H, W)`` response."""
        return self.regress(self.reduce(x))  # type: ignore[no-any-return]


def fit_steps(
    head: RegressionHead,
    optimizer: torch.optim.Optimizer,
    features: torch.Tensor,
    labels: torch.Tensor,
    loss_fn: Callable[[Any, Any], Any],
    iterations: int,
    callback: Callable[[int, float], None] | None = None,
) -> float:
    """``iterations`` gradient steps of ``head`` on one batch; returns the last loss.

    Args:
        head: the regression layer (trained in place).
        optimizer: an optimiser over ``head``'s parameters.
        features: ``(B, C, H, W)`` float32 (not modified).
        labels: ``(B, 1, H, W)`` float32 targets.
        loss_fn: ``(response, labels) -> 0-d tensor`` (e.g. a mean-reduced
            :mod:`trackkit.training.losses` loss with its parameters bound).
        iterations: number of steps (0: nothing is done, returns ``nan``).
        callback: called after each step with ``(step, loss)`` (1-based step).
    """
    value = float("nan")
    head.train()
    for step in range(1, int(iterations) + 1):
        optimizer.zero_grad(set_to_none=True)
        loss = loss_fn(head(features), labels)
        loss.backward()
        optimizer.step()
        value = float(loss.detach())
        if callback is not None:
            callback(step, value)
    head.eval()
    return value
