"""VITAL's adversarial feature-mask generator (Song et al., "VITAL: VIsual Tracking via
Adversarial Learning", CVPR 2018), on MDNet's conv features.

The generator ``G`` sees the conv features of a positive sample (``(B, C, h, w)`` flattened to
``(B, C*h*w)``) and predicts a single-channel spatial mask ``(B, 1, h, w)`` in ``[0, 1]`` that is
multiplied into every channel. Training is the paper's min-max game made concrete (as the
authors' release does): among the ``h*w`` candidate masks that drop one cell of the feature
map, the one under which the classifier ``D``'s loss on that positive is the *highest* is the
target (:func:`adversarial_targets`), and ``G`` regresses it (mean squared error,
:func:`generator_step`). ``D`` is then trained on positives masked by ``G`` (:func:`apply_mask`):
it cannot rely on the few most discriminative cells, which a target often loses to occlusion
or deformation. ``G`` is used only in training; tracking scores unmasked features.
"""

from __future__ import annotations

from collections.abc import Callable

import torch
import torch.nn.functional as F
from torch import nn

__all__ = ["MaskGenerator", "adversarial_targets", "apply_mask", "generator_step"]

Classifier = Callable[[torch.Tensor], torch.Tensor]


class MaskGenerator(nn.Module):
    """``G``: conv features ``(B, C*h*w)`` -> mask ``(B, 1, h, w)`` in ``[0, 1]``.

    Two fully connected layers (the paper's G on VGG-M conv3: ``512*3*3 -> 256 -> 9``); the last
    bias starts at +3 so a new ``G`` masks almost nothing (sigmoid 0.95) until it has learned.
    """

    def __init__(self, shape: tuple[int, int, int], hidden: int = 64) -> None:
        super().__init__()
        c, h, w = shape
        self.shape = (c, h, w)
        self.net = nn.Sequential(
            nn.Linear(c * h * w, hidden), nn.ReLU(inplace=True), nn.Linear(hidden, h * w)
        )
        last = self.net[2]
        assert isinstance(last, nn.Linear)
        nn.init.constant_(last.bias, 3.0)

    def forward(self, feats: torch.Tensor) -> torch.Tensor:
        _, h, w = self.shape
        return torch.sigmoid(self.net(feats)).view(-1, 1, h, w)


def apply_mask(
    feats: torch.Tensor, mask: torch.Tensor, shape: tuple[int, int, int]
) -> torch.Tensor:
    """Features ``(B, C*h*w)`` times a spatial mask ``(B, 1, h, w)`` (every channel), flattened
    back to ``(B, C*h*w)``."""
    return (feats.view(-1, *shape) * mask).flatten(1)


def adversarial_targets(
    classify: Classifier, pos: torch.Tensor, shape: tuple[int, int, int]
) -> torch.Tensor:
    """The hardest one-cell-dropped mask of each positive, ``(P, 1, h, w)`` float32 0/1.

    For each of the ``h*w`` masks that zero one cell of the ``(h, w)`` feature map, the
    classifier's cross-entropy on the masked positives ``pos (P, C*h*w)`` (label 1) is computed
    without gradients; each positive's target is the mask with the highest loss (first on ties).
    """
    _, h, w = shape
    n = h * w
    masks = 1.0 - torch.eye(n, dtype=pos.dtype).view(n, 1, h, w)
    with torch.no_grad():
        losses = []
        for m in masks:
            logits = classify(apply_mask(pos, m.expand(len(pos), 1, h, w), shape))
            target = torch.ones(len(pos), dtype=torch.long)
            losses.append(F.cross_entropy(logits, target, reduction="none"))
        worst = torch.stack(losses, dim=1).argmax(dim=1)
    return masks[worst]


def generator_step(
    gen: MaskGenerator, opt: torch.optim.Optimizer, classify: Classifier, pos: torch.Tensor
) -> float:
    """One update of ``G`` towards the masks that hurt ``classify`` most on ``pos (P, D)``
    (mean squared error); returns the loss before the step."""
    target = adversarial_targets(classify, pos, gen.shape)
    loss = F.mse_loss(gen(pos), target)
    opt.zero_grad()
    loss.backward()
    opt.step()
    return float(loss.detach())
