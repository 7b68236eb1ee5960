"""Reciprocative learning's attention regulariser (Pu, Song, Ma, Zhang, Yang, "Deep Attentive
Tracking via Reciprocative Learning", NeurIPS 2018).

An attention map is the first-order Taylor weight of the input: the partial derivative of the
classifier's *target* score with respect to the sample, taken in a backward pass during
training (:func:`attention_maps`, kept in the graph so the regulariser trains the classifier).
Here the sample is the conv feature map ``(C, h, w)`` that MDNet's online fine-tuning takes as
input (the paper differentiates w.r.t. the image crop; with frozen conv layers the map at the
feature level is the same quantity pushed through the fixed conv tower, at a CPU cost of one
extra fc backward). The magnitude is summed over channels: ``A (B, h, w) >= 0``.

The regulariser (:func:`reciprocative_loss`) asks a positive's attention to cover the whole
target evenly and strongly, ``sigma(A) / mu(A)`` small (coefficient of variation over the
map), and a negative's attention towards the target class to be weak, ``mu(A)`` small; it is
added with a weight to the classification loss. No attention is computed at test time.
"""

from __future__ import annotations

from collections.abc import Callable

import torch

__all__ = ["attention_maps", "reciprocative_loss"]


def attention_maps(
    classify: Callable[[torch.Tensor], torch.Tensor],
    feats: torch.Tensor,
    shape: tuple[int, int, int],
) -> tuple[torch.Tensor, torch.Tensor]:
    """``(logits (B, 2), A (B, h, w))`` of features ``feats (B, C*h*w)`` (a leaf or not).

    ``A = sum_c |d logits[:, 1] / d feats|`` over the channels of the ``(C, h, w)`` map, with
    ``create_graph=True`` (differentiable w.r.t. the classifier's parameters).
    """
    x = feats if feats.requires_grad else feats.detach().requires_grad_(True)
    logits = classify(x)
    (grad,) = torch.autograd.grad(logits[:, 1].sum(), x, create_graph=True)
    return logits, grad.view(-1, *shape).abs().sum(dim=1)


def reciprocative_loss(att: torch.Tensor, labels: torch.Tensor, eps: float = 1e-8) -> torch.Tensor:
    """Mean over positives of ``sigma(A)/mu(A)`` plus mean over negatives of ``mu(A)``.

    Args:
        att: attention maps ``(B, h, w)`` (non-negative).
        labels: ``(B,)`` int, 1 = target, 0 = background.
        eps: added to ``mu`` in the ratio (an all-zero map).

    ``sigma`` is the population standard deviation over the ``h*w`` cells; an empty class
    contributes 0.
    """
    flat = att.flatten(1)
    mu = flat.mean(dim=1)
    # sqrt(var + tiny): the gradient of a plain std is NaN on a constant map
    sigma = (flat.var(dim=1, unbiased=False) + 1e-16).sqrt()
    pos, neg = labels == 1, labels == 0
    zero = att.new_zeros(())
    lp = (sigma[pos] / (mu[pos] + eps)).mean() if bool(pos.any()) else zero
    ln = mu[neg].mean() if bool(neg.any()) else zero
    return lp + ln
