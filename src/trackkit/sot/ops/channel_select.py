"""Gradient-based channel selection of TADT (Li, Wang, Ma, Yang: "Target-Aware Deep Tracking",
CVPR 2019), as pure torch functions.

TADT keeps the channels of a frozen pretrained network that matter for *this* target, judged in
the first frame by the gradients of two losses with respect to the features:

- **target-active** channels: a one-layer regression (a convolution ``W`` with the target's size
  in cells, and a bias ``b``) maps the search-region features ``X`` (``(C, H, W)``) to a
  Gaussian label ``Y`` peaking on the target; the ridge loss (paper eq. 1)

      L_reg = || Y - (W * X + b) ||^2 + lambda || W ||^2

  is fitted (closed form, :func:`fit_ridge`) and then differentiated with respect to the
  features;
- **scale-sensitive** channels: samples of the target at several scales ``r_k`` are scored by a
  one-layer model of the target's size, ``f(x) = <z, x> / <z, z>`` (``z``: the exemplar, the
  model the tracker scores its scales with), and the smooth ranking loss (eq. 3)

      L_rank = log(1 + sum_{(i, j)} exp(-(f(x_i) - f(x_j))))

  over the pairs where sample ``i``'s scale is closer to the target's than sample ``j``'s is
  differentiated with respect to the samples' features.

Pooling. The paper ranks channel ``c`` by the global average pooling of ``dL/dX_c``. For both
losses that pooled value is degenerate: it is the loss's response to adding a constant to the
whole channel, which for the ranking loss is exactly zero (every pair term depends on a score
difference and all samples share the channel) and for the ridge loss is
``-2 sum(R) sum(W_c)`` (borders aside; ``R`` the residual), whose sign follows the global
residual -- exactly zero with a bias, and without one it flipped on 2 of the 13 shared first
frames. The gradient is therefore pooled against the activations: the importance is
``Delta_c = -sum_q dL/dX_c(q) X_c(q) = -dL/dg_c``, the derivative with respect to a gain ``g_c``
on the channel at ``g = 1`` (the loss decrease per relative raise of the channel), computed by
autograd. At the ridge solution it equals ``2 lambda ||W_c||^2`` (how much the fitted target
model relies on the channel); for the ranking loss it is positive when the channel's own score
orders the scales correctly.

Shapes: features are float32 tensors ``(C, H, W)`` (one layer) or ``(K, C, h, w)`` (K scale
samples); importances are ``(C,)`` float32 tensors.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import numpy as np
from numpy.typing import NDArray

__all__ = [
    "fit_ridge",
    "gaussian_map",
    "kernel_size",
    "rank_pairs",
    "ranking_loss",
    "ridge_loss",
    "scale_sensitive_importance",
    "select_top",
    "target_active_importance",
]


def gaussian_map(
    shape: tuple[int, int], center: tuple[float, float], sigma: tuple[float, float]
) -> Any:
    """``(H, W)`` float32 tensor ``exp(-((y - cy)^2 / sy^2 + (x - cx)^2 / sx^2) / 2)``;
    ``center = (cy, cx)`` and ``sigma = (sy, sx)`` in cells."""
    import torch

    ys = torch.arange(shape[0], dtype=torch.float32)[:, None]
    xs = torch.arange(shape[1], dtype=torch.float32)[None, :]
    d = ((ys - center[0]) / sigma[0]) ** 2 + ((xs - center[1]) / sigma[1]) ** 2
    return torch.exp(-0.5 * d)


def kernel_size(target_cells: tuple[float, float], limit: tuple[int, int]) -> tuple[int, int]:
    """Odd kernel ``(kh, kw)`` covering a target of ``(h, w)`` cells, ``2 ceil(t / 2) + 1``
    (the authors' choice), at most the odd size that fits ``limit``."""
    out = []
    for t, lim in zip(target_cells, limit, strict=True):
        k = 2 * math.ceil(max(t, 1.0) / 2) + 1
        top = lim if lim % 2 else lim - 1
        out.append(max(1, min(k, top)))
    return out[0], out[1]


def ridge_loss(features: Any, weights: Any, bias: Any, label: Any, lam: float) -> Any:
    """``|| label - (weights * features + bias) ||^2 + lam || weights ||^2`` (paper eq. 1).

    Args:
        features: ``(C, H, W)`` tensor.
        weights: ``(1, C, kh, kw)`` tensor, odd kernel, applied with "same" zero padding.
        bias: scalar (float or 0-d tensor), not penalised.
        label: ``(H, W)`` tensor.
        lam: ridge coefficient.
    """
    import torch.nn.functional as F

    kh, kw = weights.shape[-2:]
    pred = F.conv2d(features[None], weights, padding=(kh // 2, kw // 2))[0, 0] + bias
    return ((label - pred) ** 2).sum() + lam * (weights**2).sum()


def fit_ridge(
    features: Any, label: Any, kernel: tuple[int, int], reg: float
) -> tuple[Any, float, float]:
    """Closed-form minimiser of :func:`ridge_loss` (dual form on centred patches, float64).

    ``lambda = reg * trace(K)`` with ``K`` the Gram matrix of the ``N = H W`` centred
    kernel-sized patches: ``reg`` is relative to the total patch energy, an upper bound of
    ``K``'s largest eigenvalue. The regression has ``C kh kw`` unknowns for ``H W`` equations
    (2400 vs 256 for 96 channels, a 5x5 kernel and a 16x16 map); a weak ridge (``lambda`` of the
    order of the mean patch energy, ``trace(K) / N``) interpolates the label with noise channels
    (``tests/sot/test_tadt.py`` shows it picking pure-noise channels), ``reg = 1`` keeps the fit
    in the smooth regime of the authors' early-stopped regression (weights close to the
    label-feature correlation).

    Returns:
        ``(weights (1, C, kh, kw) float32, bias, lambda)``.
    """
    import torch
    import torch.nn.functional as F

    c = features.shape[0]
    kh, kw = kernel
    a = F.unfold(features[None].double(), (kh, kw), padding=(kh // 2, kw // 2))[0].T  # (N, D)
    y = label.double().reshape(-1)
    a_mean, y_mean = a.mean(dim=0), y.mean()
    ac = a - a_mean
    k = ac @ ac.T
    n = k.shape[0]
    lam = float(reg) * float(torch.trace(k)) + 1e-12
    alpha = torch.linalg.solve(k + lam * torch.eye(n, dtype=k.dtype), y - y_mean)
    w = ac.T @ alpha
    bias = float(y_mean - a_mean @ w)
    return w.reshape(1, c, kh, kw).float(), bias, lam


def target_active_importance(features: Any, label: Any, kernel: tuple[int, int], reg: float) -> Any:
    """``Delta_c = -dL_reg / dg_c`` at the ridge solution (see the module docstring).

    Args:
        features: ``(C, H, W)`` search-region features (not modified).
        label: ``(H, W)`` Gaussian label on the target.
        kernel: odd ``(kh, kw)``, the target's size in cells (:func:`kernel_size`).
        reg: relative ridge coefficient (:func:`fit_ridge`).

    Returns:
        ``(C,)`` float32 tensor; larger = more target-active.
    """
    import torch

    x = features.detach().float()
    weights, bias, lam = fit_ridge(x, label, kernel, reg)
    gain = torch.ones(x.shape[0], dtype=x.dtype, requires_grad=True)
    loss = ridge_loss(x * gain[:, None, None], weights, bias, label, lam)
    (grad,) = torch.autograd.grad(loss, gain)
    return -grad


def rank_pairs(ratios: Sequence[float]) -> NDArray[np.int64]:
    """Pairs ``(i, j)`` of scale samples where ``i`` should rank above ``j``: on the same side of
    scale 1 (or at it), ``|log r_i| < |log r_j|``. Returns ``(P, 2)`` int64."""
    lr = np.log(np.asarray(ratios, dtype=np.float64))
    out = [
        (i, j)
        for i in range(len(lr))
        for j in range(len(lr))
        if lr[i] * lr[j] >= 0 and abs(lr[i]) < abs(lr[j]) - 1e-12
    ]
    return np.array(out, dtype=np.int64).reshape(-1, 2)


def ranking_loss(scores: Any, pairs: Any) -> Any:
    """Smooth ranking loss ``log(1 + sum_{(i, j) in pairs} exp(-(s_i - s_j)))`` (paper eq. 3).

    Args:
        scores: ``(K,)`` tensor of sample scores.
        pairs: ``(P, 2)`` integer array/tensor, ``i`` should score above ``j``.
    """
    import torch

    p = torch.as_tensor(np.asarray(pairs), dtype=torch.long).reshape(-1, 2)
    diff = scores[p[:, 0]] - scores[p[:, 1]]
    zero = torch.zeros(1, dtype=scores.dtype)
    # log(1 + sum exp(-d)) = logsumexp([0, -d_1, ..., -d_P]), stable for large |d|
    return torch.logsumexp(torch.cat([zero, -diff]), dim=0)


def scale_sensitive_importance(exemplar: Any, samples: Any, ratios: Sequence[float]) -> Any:
    """Pooled gradient of :func:`ranking_loss` per channel (see the module docstring).

    Args:
        exemplar: ``(C, h, w)`` features of the target at its own scale (the model ``z``).
        samples: ``(K, C, h, w)`` features of the target region at the scales ``ratios``.
        ratios: ``K`` positive scale factors of the samples (1 = the target's scale).

    Returns:
        ``(C,)`` float32 tensor ``-dL_rank / dg_c``; positive = the channel's own score orders
        the scales correctly.
    """
    import torch

    if samples.shape[0] != len(ratios):
        raise ValueError(f"{samples.shape[0]} samples for {len(ratios)} ratios")
    z = exemplar.detach()
    norm = (z * z).sum().clamp_min(1e-12)
    gain = torch.ones(z.shape[0], dtype=z.dtype, requires_grad=True)
    x = samples.detach() * gain[None, :, None, None]
    scores = (x * z[None]).sum(dim=(1, 2, 3)) / norm
    (grad,) = torch.autograd.grad(ranking_loss(scores, rank_pairs(ratios)), gain)
    return -grad


def select_top(importance: Any, keep: int, mask: Any = None) -> NDArray[np.int64]:
    """Indices (ascending) of the ``keep`` channels of largest importance among those with a
    positive importance (and ``mask`` true, when given: the candidates are the top ``keep``
    by importance, then filtered, as the authors do)."""
    imp = np.asarray(importance.detach() if hasattr(importance, "detach") else importance)
    order = np.argsort(-imp, kind="stable")[: max(int(keep), 0)]
    ok = imp[order] > 0
    if mask is not None:
        ok &= np.asarray(mask, dtype=bool)[order]
    return np.sort(order[ok]).astype(np.int64)
