"""Training augmentations on batches of uint8 crops, in plain torch (no torchvision).

:func:`augment_batch` takes ``(N, H, W, 3)`` uint8 BGR crops (numpy) and returns
``(N, 3, H, W)`` float32 BGR 0..255 tensors with, per image and drawn from ``generator``:

- horizontal flip with probability ``flip_prob``;
- pad-and-crop: zero-pad ``pad`` pixels on every side, crop back to ``H x W`` at a random
  offset (a random translation of up to ``pad`` pixels);
- random erasing (Zhong et al., AAAI 2020): with probability ``erase_prob`` a rectangle of
  area fraction in ``[0.02, 0.4]`` and aspect ratio in ``[0.3, 3.3]`` is filled with uniform
  random values in 0..255;
- colour jitter (off by default): brightness, contrast and saturation factors drawn
  uniformly in ``[1 - color_jitter, 1 + color_jitter]``; then, with probability
  ``gray_prob``, conversion to gray (three equal channels). Camera colour casts differ
  between cameras and datasets, so this helps cross-camera and cross-dataset matching.

No random number is drawn for an augmentation that is switched off, so switching one on
does not change the draws of the others only if it comes later in this order.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import torch
from numpy.typing import NDArray
from torch import Tensor

__all__ = ["AugmentConfig", "augment_batch"]


@dataclass(frozen=True)
class AugmentConfig:
    """Augmentation settings (probabilities in [0, 1], pad in pixels)."""

    flip_prob: float = 0.5
    pad: int = 10
    erase_prob: float = 0.5
    erase_area: tuple[float, float] = (0.02, 0.4)
    erase_aspect: tuple[float, float] = (0.3, 3.3)
    color_jitter: float = 0.0
    gray_prob: float = 0.0


def _rand(gen: torch.Generator) -> float:
    return float(torch.rand((), generator=gen))


def _gray(img: Tensor) -> Tensor:
    """``(1, H, W)`` luma of a BGR image (ITU-R BT.601 weights)."""
    return 0.114 * img[0:1] + 0.587 * img[1:2] + 0.299 * img[2:3]


def _colour(img: Tensor, cfg: AugmentConfig, gen: torch.Generator) -> Tensor:
    j = cfg.color_jitter
    if j > 0:
        bright, contrast, sat = (1.0 - j + 2.0 * j * _rand(gen) for _ in range(3))
        img = img * bright
        img = (img - _gray(img).mean()) * contrast + _gray(img).mean()
        gray = _gray(img)
        img = (img - gray) * sat + gray
    if cfg.gray_prob > 0 and _rand(gen) < cfg.gray_prob:
        img = _gray(img).expand(3, -1, -1)
    return img.clamp(0.0, 255.0)


def augment_batch(
    crops: NDArray[np.uint8], cfg: AugmentConfig, generator: torch.Generator
) -> Tensor:
    """Augmented ``(N, 3, H, W)`` float32 BGR 0..255 batch (see the module docstring)."""
    x = torch.from_numpy(np.ascontiguousarray(crops)).permute(0, 3, 1, 2).float()
    n, _, h, w = x.shape
    if cfg.pad > 0:
        padded = torch.nn.functional.pad(x, (cfg.pad, cfg.pad, cfg.pad, cfg.pad))
    out = torch.empty_like(x)
    for i in range(n):
        img = x[i]
        if cfg.pad > 0:
            oy = int(torch.randint(0, 2 * cfg.pad + 1, (), generator=generator))
            ox = int(torch.randint(0, 2 * cfg.pad + 1, (), generator=generator))
            img = padded[i, :, oy : oy + h, ox : ox + w]
        if _rand(generator) < cfg.flip_prob:
            img = img.flip(2)
        img = img.clone()
        if cfg.color_jitter > 0 or cfg.gray_prob > 0:
            img = _colour(img, cfg, generator)
        if _rand(generator) < cfg.erase_prob:
            for _ in range(10):
                area = (
                    h
                    * w
                    * (
                        cfg.erase_area[0]
                        + _rand(generator) * (cfg.erase_area[1] - cfg.erase_area[0])
                    )
                )
                log_lo, log_hi = math.log(cfg.erase_aspect[0]), math.log(cfg.erase_aspect[1])
                aspect = math.exp(log_lo + _rand(generator) * (log_hi - log_lo))
                eh = int(round(math.sqrt(area * aspect)))
                ew = int(round(math.sqrt(area / aspect)))
                if 0 < eh < h and 0 < ew < w:
                    y0 = int(torch.randint(0, h - eh + 1, (), generator=generator))
                    x0 = int(torch.randint(0, w - ew + 1, (), generator=generator))
                    img[:, y0 : y0 + eh, x0 : x0 + ew] = (
                        torch.rand((3, eh, ew), generator=generator) * 255.0
                    )
                    break
        out[i] = img
    return out
