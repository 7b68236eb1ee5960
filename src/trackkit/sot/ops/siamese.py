"""The search step of the Siamese trackers (SiamFC, Bertinetto et al. ECCV-W 2016; used by
``siamfc``, ``memtrack`` and ``tadt``).

The exemplar is correlated with the search region at ``S`` scales, giving ``(S, n, n)``
responses. The scale is the one with the highest peak after the off-centre scales are
penalised; that scale's response is upsampled (bicubic) by ``response_up``, normalised to sum
1, mixed with a cosine (Hann) window, and its maximum is the displacement. The size follows the
chosen scale with damping ``scale_lr``. Every option is read from the tracker's config
(``scale_penalty``, ``scale_lr``, ``window_influence``, ``response_up``, ``min_size``).
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from typing import Any, ClassVar

import cv2
import numpy as np
from numpy.typing import NDArray

from trackkit.config import Config, require

__all__ = ["SiameseSearchConfig", "hann_window", "search_scales", "siamese_step"]


@dataclass(frozen=True)
class SiameseSearchConfig(Config):
    """The options of :func:`siamese_step` (defaults: the SiamFC paper's values), a base of
    every Siamese tracker's configuration.

    Attributes:
        num_scales, scale_step, scale_penalty, scale_lr: the multi-scale search (odd number
            of scales ``scale_step ** k``; off-centre peaks times ``scale_penalty``; size
            damping ``scale_lr``).
        window_influence: weight of the Hann window on the normalised response.
        response_up: upsampling factor of the response.
        context: context amount of the exemplar region.
        min_size: smallest box side in pixels.
    """

    RANGES: ClassVar[str] = (
        "scale_step >= 1; scale_penalty in (0, 1]; scale_lr in [0, 1]; "
        "window_influence in [0, 1]; response_up >= 1; min_size > 0"
    )

    num_scales: int = 3
    scale_step: float = 1.0375
    scale_penalty: float = 0.9745
    scale_lr: float = 0.59
    window_influence: float = 0.176
    response_up: int = 16
    context: float = 0.5
    min_size: float = 4.0

    def validate(self) -> None:
        require(self.num_scales >= 1 and self.num_scales % 2 == 1, "num_scales must be odd")


def search_scales(num_scales: int, scale_step: float) -> NDArray[np.float64]:
    """``(S,)`` scale factors ``step ** (-(S // 2) .. S // 2)``."""
    return np.asarray(scale_step ** (np.arange(num_scales) - num_scales // 2), dtype=np.float64)


@lru_cache(maxsize=8)
def hann_window(size: int) -> NDArray[np.float64]:
    """``(size, size)`` outer product of Hann windows, normalised to sum 1 (read-only)."""
    h = np.hanning(size)
    win = np.outer(h, h)
    win = win / win.sum()
    win.setflags(write=False)
    return win


def siamese_step(
    cfg: Any,
    resp: NDArray[np.float64],
    scores: NDArray[np.float64],
    scales: NDArray[np.float64],
    center: NDArray[np.float64],
    size: NDArray[np.float64],
    search_side: float,
    instance_size: int,
    stride: float,
    frame_hw: tuple[int, int],
) -> tuple[NDArray[np.float64], NDArray[np.float64], int]:
    """One SiamFC localisation.

    Args:
        cfg: the tracker's config (the options named in the module docstring).
        resp: ``(S, n, n)`` float64 responses, one per scale.
        scores: ``(S,)`` peak scores compared across scales (the penalty multiplies the
            off-centre ones; SiamFC: sigmoid of the peaks, TADT: the raw peaks).
        scales: ``(S,)`` the scale factors of the search regions.
        center, size: ``(2,)`` the target's centre ``(x, y)`` and size ``(w, h)`` in pixels.
        search_side: side of the unscaled search region in frame pixels.
        instance_size: side of the search crop in network pixels.
        stride: network pixels per response cell.
        frame_hw: the frame's ``(height, width)`` (centre and size are clipped to it).

    Returns:
        ``(new centre, new size, index of the chosen scale)``.
    """
    s = len(resp)
    mid = s // 2
    penalised = scores * np.where(np.arange(s) == mid, 1.0, cfg.scale_penalty)
    k = int(np.argmax(penalised))
    up = resp.shape[-1] * cfg.response_up
    r = cv2.resize(resp[k], (up, up), interpolation=cv2.INTER_CUBIC)
    r -= r.min()
    r /= max(r.sum(), 1e-12)
    r = (1 - cfg.window_influence) * r + cfg.window_influence * hann_window(up)
    py, px = np.unravel_index(int(np.argmax(r)), r.shape)
    disp = (np.array([px, py], dtype=np.float64) - (up - 1) / 2) * stride / cfg.response_up
    center = center + disp * search_side * scales[k] / instance_size
    factor = (1 - cfg.scale_lr) + cfg.scale_lr * scales[k]
    hh, ww = frame_hw
    size = np.clip(size * factor, cfg.min_size, [ww, hh])
    center = np.clip(center, 0, [ww, hh])
    return center, size, k
